//! The syntax errors of Go's `encoding/json`, worded as its scanner words
//! them (`invalid character 'x' looking for beginning of value`,
//! `unexpected end of JSON input`): Helm's `--set-json` and sprig's
//! `mustFromJson` report them verbatim.

/// Go's `quoteChar`.
fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        c => {
            let q = crate::gofmt::quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

struct Scan<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    at_eof: bool,
}

type R = Result<(), String>;

impl Scan<'_> {
    fn ch(&self) -> Option<char> {
        self.text.get(self.i..).and_then(|t| t.chars().next())
    }
    /// The error at the current character. At the end of the input Go's
    /// scanner steps one space: inside a literal, a number or an escape
    /// that space is itself the invalid character.
    fn invalid(&mut self, context: &str) -> String {
        match self.ch() {
            Some(c) => format!("invalid character {} {context}", quote_char(c)),
            None => {
                self.at_eof = true;
                let space_invalid = context.starts_with("in literal")
                    || context.contains("numeric literal")
                    || context.contains("escape");
                if space_invalid {
                    format!("invalid character ' ' {context}")
                } else {
                    "unexpected end of JSON input".into()
                }
            }
        }
    }
    fn skip_space(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn value(&mut self, depth: usize) -> R {
        if depth > 10_000 {
            return Err("exceeded max depth".into());
        }
        self.skip_space();
        match self.ch() {
            None => {
                self.at_eof = true;
                Err("unexpected end of JSON input".into())
            }
            Some('{') => {
                self.i += 1;
                self.skip_space();
                if self.ch() == Some('}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip_space();
                    if self.ch() != Some('"') {
                        return Err(self.invalid("looking for beginning of object key string"));
                    }
                    self.string()?;
                    self.skip_space();
                    if self.ch() != Some(':') {
                        return Err(self.invalid("after object key"));
                    }
                    self.i += 1;
                    self.value(depth + 1)?;
                    self.skip_space();
                    match self.ch() {
                        Some(',') => self.i += 1,
                        Some('}') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(self.invalid("after object key:value pair")),
                    }
                }
            }
            Some('[') => {
                self.i += 1;
                self.skip_space();
                if self.ch() == Some(']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.value(depth + 1)?;
                    self.skip_space();
                    match self.ch() {
                        Some(',') => self.i += 1,
                        Some(']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(self.invalid("after array element")),
                    }
                }
            }
            Some('"') => self.string(),
            Some('t') => self.literal("true"),
            Some('f') => self.literal("false"),
            Some('n') => self.literal("null"),
            Some('-' | '0'..='9') => self.number(),
            Some(_) => Err(self.invalid("looking for beginning of value")),
        }
    }
    fn literal(&mut self, word: &str) -> R {
        self.i += 1;
        for expect in word.chars().skip(1) {
            if self.ch() != Some(expect) {
                return Err(self.invalid(&format!(
                    "in literal {word} (expecting {})",
                    quote_char(expect)
                )));
            }
            self.i += 1;
        }
        Ok(())
    }
    fn string(&mut self) -> R {
        self.i += 1;
        loop {
            match self.ch() {
                None => {
                    self.at_eof = true;
                    return Err("unexpected end of JSON input".into());
                }
                Some('"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some('\\') => {
                    self.i += 1;
                    match self.ch() {
                        Some('b' | 'f' | 'n' | 'r' | 't' | '\\' | '/' | '"') => self.i += 1,
                        Some('u') => {
                            self.i += 1;
                            for _ in 0..4 {
                                match self.ch() {
                                    Some(c) if c.is_ascii_hexdigit() => self.i += 1,
                                    _ => {
                                        return Err(
                                            self.invalid("in \\u hexadecimal character escape")
                                        );
                                    }
                                }
                            }
                        }
                        _ => return Err(self.invalid("in string escape code")),
                    }
                }
                Some(c) if (c as u32) < 0x20 => return Err(self.invalid("in string literal")),
                Some(c) => self.i += c.len_utf8(),
            }
        }
    }
    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        self.i - start
    }
    fn number(&mut self) -> R {
        if self.ch() == Some('-') {
            self.i += 1;
            if !matches!(self.ch(), Some('0'..='9')) {
                return Err(self.invalid("in numeric literal"));
            }
        }
        if self.ch() == Some('0') {
            self.i += 1;
        } else {
            self.digits();
        }
        if self.ch() == Some('.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.invalid("after decimal point in numeric literal"));
            }
        }
        if matches!(self.ch(), Some('e' | 'E')) {
            self.i += 1;
            if matches!(self.ch(), Some('+' | '-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.invalid("in exponent of numeric literal"));
            }
        }
        Ok(())
    }
}

/// The error `json.Unmarshal` reports for `text`, or `None` when it is
/// valid JSON (one value, surrounded by spaces only).
pub fn unmarshal_error(text: &str) -> Option<String> {
    let mut s = Scan {
        s: text.as_bytes(),
        text,
        i: 0,
        at_eof: false,
    };
    if let Err(e) = s.value(0) {
        return Some(e);
    }
    s.skip_space();
    if s.i < text.len() {
        return Some(s.invalid("after top-level value"));
    }
    None
}

/// The error a `json.Decoder` reports for the first value of `text`
/// (`EOF` on empty input, `unexpected EOF` for a value cut short).
pub fn decode_error(text: &str) -> Option<String> {
    let mut s = Scan {
        s: text.as_bytes(),
        text,
        i: 0,
        at_eof: false,
    };
    s.skip_space();
    if s.i >= text.len() {
        return Some("EOF".into());
    }
    match s.value(0) {
        Ok(()) => None,
        Err(_) if s.at_eof => Some("unexpected EOF".into()),
        Err(e) => Some(e),
    }
}

//! `.helmignore`, as Helm reads it: one glob per line (Go's
//! `filepath.Match` syntax), `#` comments, `!` negation, a trailing `/`
//! for directories, a leading `/` or an inner `/` to match the whole path
//! (otherwise the base name), `**` refused. Helm's negation is kept as it
//! behaves: a `!pattern` that does not match a path ignores it.

/// Go's `filepath.ErrBadPattern`.
pub const BAD_PATTERN: &str = "syntax error in pattern";

#[derive(Clone, Debug)]
enum Scope {
    /// `/x`: the whole path, the slash dropped.
    Rooted,
    /// `a/b`: the whole path.
    Path,
    /// `x`: the base name.
    Base,
}

#[derive(Clone, Debug)]
struct Pattern {
    glob: String,
    scope: Scope,
    negate: bool,
    must_dir: bool,
}

/// Parsed `.helmignore` rules.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

impl Rules {
    /// Parses the text of a `.helmignore` file.
    pub fn parse(text: &str) -> Result<Rules, crate::PatternError> {
        let mut r = Rules::default();
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        for line in text.split('\n') {
            r.parse_rule(line.strip_suffix('\r').unwrap_or(line))?;
        }
        Ok(r)
    }

    /// Helm's default rule: dotfiles under `templates/`.
    pub fn add_defaults(&mut self) {
        let _ = self.parse_rule("templates/.?*");
    }

    fn parse_rule(&mut self, rule: &str) -> Result<(), String> {
        let rule = rule.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err("double-star (**) syntax is not supported".into());
        }
        glob_match(rule, "abc")?;
        let (negate, rule) = match rule.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, rule),
        };
        let (must_dir, rule) = match rule.strip_suffix('/') {
            Some(r) => (true, r),
            None => (false, rule),
        };
        let (scope, glob) = if let Some(r) = rule.strip_prefix('/') {
            (Scope::Rooted, r)
        } else if rule.contains('/') {
            (Scope::Path, rule)
        } else {
            (Scope::Base, rule)
        };
        self.patterns.push(Pattern {
            glob: glob.to_string(),
            scope,
            negate,
            must_dir,
        });
        Ok(())
    }

    /// Whether `path` (slash-separated, relative to the chart) is ignored.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let matches = || {
                let name = match p.scope {
                    Scope::Base => path.rsplit('/').next().unwrap_or(path),
                    Scope::Rooted | Scope::Path => path,
                };
                glob_match(&p.glob, name).unwrap_or(false)
            };
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !matches() {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if matches() {
                return true;
            }
        }
        false
    }
}

/// Go's `filepath.Match` (Unix): `*` (not across `/`), `?`, `[a-z]`,
/// `[^…]`, `\` escapes; `Err` for a malformed pattern. Works on bytes as
/// Go does, decoding UTF-8 only where Go decodes runes.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, crate::PatternError> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // The rest of the pattern must still be well-formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut p = pattern;
    let mut star = false;
    while let [b'*', rest @ ..] = p {
        p = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' if i + 1 < p.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &p[..i], &p[i..])
}

/// `utf8.DecodeRune`: the rune and its length; (U+FFFD, 1) when invalid.
fn decode_rune(s: &[u8]) -> (char, usize) {
    for n in 1..=4.min(s.len()) {
        if let Ok(t) = std::str::from_utf8(&s[..n])
            && let Some(c) = t.chars().next()
        {
            return (c, n);
        }
    }
    ('\u{FFFD}', usize::from(!s.is_empty()))
}

fn get_esc(chunk: &[u8]) -> Result<(char, &[u8]), String> {
    let mut c = chunk;
    if c.is_empty() || c[0] == b'-' || c[0] == b']' {
        return Err(BAD_PATTERN.into());
    }
    if c[0] == b'\\' {
        c = &c[1..];
        if c.is_empty() {
            return Err(BAD_PATTERN.into());
        }
    }
    let (r, n) = decode_rune(c);
    if r == '\u{FFFD}' && n == 1 {
        return Err(BAD_PATTERN.into());
    }
    let rest = &c[n..];
    if rest.is_empty() {
        return Err(BAD_PATTERN.into());
    }
    Ok((r, rest))
}

fn match_chunk<'a>(chunk: &[u8], s: &'a [u8]) -> Result<(&'a [u8], bool), String> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (ch, n) = decode_rune(s);
                    r = ch;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if let [b'^', rest @ ..] = chunk {
                    negated = true;
                    chunk = rest;
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if nrange > 0
                        && let [b']', rest @ ..] = chunk
                    {
                        chunk = rest;
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let [b'-', rest @ ..] = chunk {
                        let (h, rest) = get_esc(rest)?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            c => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BAD_PATTERN.into());
                    }
                }
                if !failed {
                    if chunk[0] != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        return Ok((b"", false));
    }
    Ok((s, true))
}

//! Go's regular expressions (`regexp`, RE2 syntax with Go's Perl flags)
//! for the `regex` crate: [`translate`] rewrites a Go pattern into one the
//! `regex` crate reads the same way, or fails with Go's own error.
//!
//! The two syntaxes agree on most patterns but differ on enough that real
//! charts hit them. Go reads, and the translation spells out:
//!
//! - `\d`, `\s`, `\w`, `\b` as ASCII classes (the `regex` crate's are
//!   Unicode-aware);
//! - character classes as Go parses them: a `-` after a class escape is a
//!   literal (`[\w-.]`), `[` is a literal (no nested classes), `&&`, `--`
//!   and `~~` are literals (no set operations); each class is written out
//!   as its ranges;
//! - `\Q…\E` literal text, octal escapes (`\101`, `\0`), escaped
//!   punctuation (`\<` is `<`, not a word boundary);
//! - `{` that does not start a valid repetition is a literal (`a{,3}`,
//!   `{x}`); repetition counts above 1000 are refused;
//! - only the flags `i`, `m`, `s`, `U`; `(?)` is an empty group.
//!
//! And refuses what Go refuses, with Go's message (`missing closing ]:
//! `[a``, `invalid nested repetition operator: `**``, `invalid escape
//! sequence: `\C``, `invalid or unsupported Perl syntax: `(?=``…).

use std::fmt::Write as _;

/// A pattern Go's `regexp/syntax` refuses: its message, as
/// `regexp.Compile`'s error prints it after `error parsing regexp: `.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: `{expr}`")]
pub struct SyntaxError {
    /// Go's error code text (`missing closing ]`).
    pub code: &'static str,
    /// The part of the pattern it is about.
    pub expr: String,
}

fn err<T>(code: &'static str, expr: &str) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        code,
        expr: expr.to_string(),
    })
}

const MAX_REPEAT: i64 = 1000;
const MAX_RUNE: u32 = 0x10FFFF;

/// What precedes a repetition operator.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    /// Nothing to repeat: the start, `(` or `|`.
    Nothing,
    /// An atom.
    Atom,
    /// A repetition that started at this byte offset of the pattern.
    Repeat(usize),
}

/// The `regex`-crate pattern that matches what the Go pattern `pattern`
/// matches.
pub fn translate(pattern: &str) -> Result<String, SyntaxError> {
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut depth = 0usize;
    let mut prev = Prev::Nothing;
    let mut i = 0;
    while i < pattern.len() {
        let t = &pattern[i..];
        let Some(c) = t.chars().next() else { break };
        let start = i;
        let mut next = Prev::Atom;
        match c {
            '(' => {
                if t.starts_with("(?") {
                    let (text, rest, opens) = perl_flags(t)?;
                    out.push_str(&text);
                    i = pattern.len() - rest.len();
                    if opens {
                        depth += 1;
                        prev = Prev::Nothing;
                    }
                    // A flag change leaves the previous atom repeatable in
                    // Go; nothing is written that would change that.
                    continue;
                }
                out.push('(');
                depth += 1;
                i += 1;
                next = Prev::Nothing;
            }
            '|' => {
                out.push('|');
                i += 1;
                next = Prev::Nothing;
            }
            ')' => {
                if depth == 0 {
                    return err("unexpected )", pattern);
                }
                depth -= 1;
                out.push(')');
                i += 1;
            }
            '^' | '$' | '.' => {
                out.push(c);
                i += 1;
            }
            '[' => {
                let (class, rest) = parse_class(t)?;
                out.push_str(&class);
                i = pattern.len() - rest.len();
            }
            '*' | '+' | '?' => {
                i = repeat(pattern, &mut out, prev, start, 1)?;
                next = Prev::Repeat(start);
            }
            '{' => match parse_repeat(t) {
                None => {
                    push_literal(&mut out, '{');
                    i += 1;
                }
                Some((min, max, len)) => {
                    let text = &t[..len];
                    if !(0..=MAX_REPEAT).contains(&min)
                        || max > MAX_REPEAT
                        || (max >= 0 && min > max)
                    {
                        return err("invalid repeat count", text);
                    }
                    i = repeat(pattern, &mut out, prev, start, len)?;
                    next = Prev::Repeat(start);
                }
            },
            '\\' => {
                let (text, len) = escape(t)?;
                out.push_str(&text);
                i += len;
            }
            c => {
                push_literal(&mut out, c);
                i += c.len_utf8();
            }
        }
        prev = next;
    }
    if depth > 0 {
        return err("missing closing )", pattern);
    }
    Ok(out)
}

/// A repetition operator `len` bytes long at `start` (with its `?` for
/// non-greedy), checked and written; returns where the pattern goes on.
fn repeat(
    pattern: &str,
    out: &mut String,
    prev: Prev,
    start: usize,
    len: usize,
) -> Result<usize, SyntaxError> {
    let mut end = start + len;
    if pattern[end..].starts_with('?') {
        end += 1;
    }
    check_repeat(pattern, prev, start, end)?;
    out.push_str(&pattern[start..end]);
    Ok(end)
}

/// Go refuses a repetition of nothing, and of a repetition.
fn check_repeat(pattern: &str, prev: Prev, start: usize, end: usize) -> Result<(), SyntaxError> {
    match prev {
        Prev::Repeat(first) => err("invalid nested repetition operator", &pattern[first..end]),
        Prev::Nothing => err(
            "missing argument to repetition operator",
            &pattern[start..end],
        ),
        Prev::Atom => Ok(()),
    }
}

/// `{n}`, `{n,}`, `{n,m}`: (min, max or -1, length); `None`: not a
/// repetition (the `{` is a literal). Numbers too large are -1.
fn parse_repeat(t: &str) -> Option<(i64, i64, usize)> {
    let b = t.as_bytes();
    let mut i = 1;
    let min = parse_int(b, &mut i)?;
    let max;
    match b.get(i)? {
        b',' => {
            i += 1;
            if *b.get(i)? == b'}' {
                max = -1;
            } else {
                max = parse_int(b, &mut i)?;
                if max < 0 {
                    // Go marks the whole repetition invalid.
                    return (*b.get(i)? == b'}').then_some((-1, max, i + 1));
                }
            }
        }
        _ => max = min,
    }
    (*b.get(i)? == b'}').then_some((min, max, i + 1))
}

/// Go's `parseInt`: decimal digits, no leading zero, -1 when over 8 digits.
fn parse_int(b: &[u8], i: &mut usize) -> Option<i64> {
    let start = *i;
    while b.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    let digits = &b[start..*i];
    if digits.is_empty() || (digits.len() >= 2 && digits[0] == b'0') {
        return None;
    }
    if digits.len() > 8 {
        return Some(-1);
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

/// `(?flags)`, `(?flags:`, `(?P<name>`, `(?<name>`: the text to write, the
/// rest of the pattern, and whether it opens a group.
fn perl_flags(s: &str) -> Result<(String, &str, bool), SyntaxError> {
    let named = if s.starts_with("(?P<") {
        Some(4)
    } else if s.starts_with("(?<") {
        Some(3)
    } else {
        None
    };
    if let Some(skip) = named {
        let Some(end) = s.find('>') else {
            return err("invalid named capture", s);
        };
        let name = &s[skip..end];
        if name.is_empty() || !name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric()) {
            return err("invalid named capture", &s[..=end]);
        }
        // The regex crate wants a name to start with a letter or `_`; Go's
        // may start with a digit (only `${name}` expansion would miss it).
        let text = if name.starts_with(|c: char| c.is_ascii_digit()) {
            "(".to_string()
        } else {
            format!("(?P<{name}>")
        };
        return Ok((text, &s[end + 1..], true));
    }
    let mut flags = String::new();
    let mut negative = false;
    let mut saw_flag = false;
    for (offset, c) in s[2..].char_indices() {
        let consumed = 2 + offset + c.len_utf8();
        match c {
            'i' | 'm' | 's' | 'U' => {
                flags.push(c);
                saw_flag = true;
            }
            '-' if !negative => {
                flags.push('-');
                negative = true;
                saw_flag = false;
            }
            ':' | ')' if !negative || saw_flag => {
                let rest = &s[consumed..];
                return Ok(match (c, flags.is_empty()) {
                    (':', true) => ("(?:".to_string(), rest, true),
                    (':', false) => (format!("(?{flags}:"), rest, true),
                    (_, true) => (String::new(), rest, false),
                    (_, false) => (format!("(?{flags})"), rest, false),
                });
            }
            _ => return err("invalid or unsupported Perl syntax", &s[..consumed]),
        }
    }
    err("invalid or unsupported Perl syntax", s)
}

/// An escape outside a class: the text to write and its length.
fn escape(t: &str) -> Result<(String, usize), SyntaxError> {
    let b = t.as_bytes();
    match b.get(1) {
        Some(b'A') => return Ok(("\\A".to_string(), 2)),
        Some(b'z') => return Ok(("\\z".to_string(), 2)),
        Some(b'b') => return Ok(("(?-u:\\b)".to_string(), 2)),
        Some(b'B') => return Ok(("(?-u:\\B)".to_string(), 2)),
        Some(b'C') => return err("invalid escape sequence", &t[..2]),
        Some(b'Q') => {
            let body = &t[2..];
            let (literal, len) = match body.find("\\E") {
                Some(end) => (&body[..end], 2 + end + 2),
                None => (body, t.len()),
            };
            let mut out = String::new();
            for c in literal.chars() {
                push_literal(&mut out, c);
            }
            // An empty \Q\E is nothing to repeat in Go either; keep the
            // structure with an empty group.
            if out.is_empty() {
                out.push_str("(?:)");
            }
            return Ok((out, len));
        }
        _ => {}
    }
    let mut items = Vec::new();
    if let Some(len) = class_escape(t, &mut items)? {
        let mut out = String::new();
        write_class(&mut out, false, &items);
        return Ok((out, len));
    }
    let (c, len) = single_escape(t)?;
    let mut out = String::new();
    push_rune(&mut out, c);
    Ok((out, len))
}

/// One item of a character class.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Range(u32, u32),
    /// `\p{Name}` (or `\P{Name}` when negated).
    Unicode(bool, String),
}

/// `\pN`, `\p{Name}`, `\d`, `\s`, `\w` and their negations at the start of
/// `t`: adds their items and returns the length read.
fn class_escape(t: &str, items: &mut Vec<Item>) -> Result<Option<usize>, SyntaxError> {
    let b = t.as_bytes();
    if b.len() < 2 || b[0] != b'\\' {
        return Ok(None);
    }
    match b[1] {
        b'p' | b'P' => {
            let mut negated = b[1] == b'P';
            let rest = &t[2..];
            let Some(c) = rest.chars().next() else {
                return err("invalid character class range", t);
            };
            let (mut name, len) = if c == '{' {
                let Some(end) = t.find('}') else {
                    return err("invalid character class range", t);
                };
                (&t[3..end], end + 1)
            } else {
                (&rest[..c.len_utf8()], 2 + c.len_utf8())
            };
            if let Some(n) = name.strip_prefix('^') {
                negated = !negated;
                name = n;
            }
            if !is_unicode_class(name) {
                return err("invalid character class range", &t[..len]);
            }
            if name == "Any" {
                if !negated {
                    items.push(Item::Range(0, MAX_RUNE));
                }
            } else {
                items.push(Item::Unicode(negated, name.to_string()));
            }
            Ok(Some(len))
        }
        b'd' | b'D' | b's' | b'S' | b'w' | b'W' => {
            let ranges: &[(u32, u32)] = match b[1].to_ascii_lowercase() {
                b'd' => &[(0x30, 0x39)],
                b's' => &[(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)],
                _ => &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
            };
            push_group(items, ranges, b[1].is_ascii_uppercase());
            Ok(Some(2))
        }
        _ => Ok(None),
    }
}

/// Go looks Unicode general categories and scripts up by name (`L`,
/// `Greek`, `greek`), and knows `Any`; a name the `regex` crate does not
/// know either fails when the translation is compiled.
fn is_unicode_class(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b == b'_' || b == b' ' || b == b'-' || b.is_ascii_alphanumeric())
}

fn push_group(items: &mut Vec<Item>, ranges: &[(u32, u32)], negated: bool) {
    let ranges = if negated {
        negate(ranges)
    } else {
        ranges.to_vec()
    };
    items.extend(ranges.into_iter().map(|(lo, hi)| Item::Range(lo, hi)));
}

/// The complement of sorted, disjoint ranges over every rune.
fn negate(ranges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for &(lo, hi) in ranges {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi + 1;
    }
    if next <= MAX_RUNE {
        out.push((next, MAX_RUNE));
    }
    out
}

/// A single-character escape (`\n`, `\x41`, `\x{1F600}`, `\101`, `\.`):
/// the rune and the length read.
fn single_escape(t: &str) -> Result<(u32, usize), SyntaxError> {
    let rest = &t[1..];
    let Some(c) = rest.chars().next() else {
        return err("trailing backslash at end of expression", "");
    };
    let invalid = |len: usize| err("invalid escape sequence", &t[..len.min(t.len())]);
    let b = t.as_bytes();
    let octal = |i: usize| b.get(i).is_some_and(|d| (b'0'..=b'7').contains(d));
    match c {
        '1'..='7' if !octal(2) => invalid(2),
        '0'..='7' => {
            let mut r = u32::from(b[1] - b'0');
            let mut len = 2;
            while len < 4 && octal(len) {
                r = r * 8 + u32::from(b[len] - b'0');
                len += 1;
            }
            Ok((r, len))
        }
        'x' => {
            let Some(c) = t[2..].chars().next() else {
                return invalid(2);
            };
            if c == '{' {
                let mut r = 0u32;
                for (digits, (offset, c)) in t[3..].char_indices().enumerate() {
                    if c == '}' {
                        if digits == 0 {
                            return invalid(3 + offset + 1);
                        }
                        return Ok((r, 3 + offset + 1));
                    }
                    let Some(v) = c.to_digit(16) else {
                        return invalid(3 + offset + c.len_utf8());
                    };
                    r = r * 16 + v;
                    if r > MAX_RUNE {
                        return invalid(3 + offset + c.len_utf8());
                    }
                }
                return invalid(t.len());
            }
            let x = c.to_digit(16);
            let Some(d) = t[2 + c.len_utf8()..].chars().next() else {
                return invalid(2 + c.len_utf8());
            };
            match (x, d.to_digit(16)) {
                (Some(x), Some(y)) => Ok((x * 16 + y, 4)),
                _ => invalid(2 + c.len_utf8() + d.len_utf8()),
            }
        }
        'a' => Ok((7, 2)),
        'f' => Ok((12, 2)),
        'n' => Ok((10, 2)),
        'r' => Ok((13, 2)),
        't' => Ok((9, 2)),
        'v' => Ok((11, 2)),
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c as u32, 2)),
        c => invalid(1 + c.len_utf8()),
    }
}

/// A class at the start of `s` (which begins with `[`), written out; and
/// the rest of the pattern.
fn parse_class(s: &str) -> Result<(String, &str), SyntaxError> {
    let mut t = &s[1..];
    let negated = t.starts_with('^');
    if negated {
        t = &t[1..];
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        if t.is_empty() {
            return err("missing closing ]", s);
        }
        if t.starts_with(']') && !first {
            break;
        }
        first = false;
        if t.len() > 2
            && t.starts_with("[:")
            && let Some(end) = t[2..].find(":]")
        {
            let name = &t[..end + 4];
            let Some((ranges, neg)) = posix_class(name) else {
                return err("invalid character class range", name);
            };
            push_group(&mut items, ranges, neg);
            t = &t[end + 4..];
            continue;
        }
        if let Some(len) = class_escape(t, &mut items)? {
            t = &t[len..];
            continue;
        }
        let range_start = t;
        let (lo, len) = class_char(t, s)?;
        t = &t[len..];
        let mut hi = lo;
        if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
            let (h, len) = class_char(&t[1..], s)?;
            t = &t[1 + len..];
            hi = h;
            if hi < lo {
                let text = &range_start[..range_start.len() - t.len()];
                return err("invalid character class range", text);
            }
        }
        items.push(Item::Range(lo, hi));
    }
    let mut out = String::new();
    write_class(&mut out, negated, &items);
    Ok((out, &t[1..]))
}

fn class_char(t: &str, whole: &str) -> Result<(u32, usize), SyntaxError> {
    match t.chars().next() {
        None => err("missing closing ]", whole),
        Some('\\') => single_escape(t),
        Some(c) => Ok((c as u32, c.len_utf8())),
    }
}

/// Go's POSIX classes (ASCII): their ranges, and whether negated.
fn posix_class(name: &str) -> Option<(&'static [(u32, u32)], bool)> {
    let (inner, negated) = match name.strip_prefix("[:^") {
        Some(rest) => (rest.strip_suffix(":]")?, true),
        None => (name.strip_prefix("[:")?.strip_suffix(":]")?, false),
    };
    let ranges: &'static [(u32, u32)] = match inner {
        "alnum" => &[(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
        "alpha" => &[(0x41, 0x5A), (0x61, 0x7A)],
        "ascii" => &[(0x00, 0x7F)],
        "blank" => &[(0x09, 0x09), (0x20, 0x20)],
        "cntrl" => &[(0x00, 0x1F), (0x7F, 0x7F)],
        "digit" => &[(0x30, 0x39)],
        "graph" => &[(0x21, 0x7E)],
        "lower" => &[(0x61, 0x7A)],
        "print" => &[(0x20, 0x7E)],
        "punct" => &[(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
        "space" => &[(0x09, 0x0D), (0x20, 0x20)],
        "upper" => &[(0x41, 0x5A)],
        "word" => &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
        "xdigit" => &[(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
        _ => return None,
    };
    Some((ranges, negated))
}

/// A class as the `regex` crate reads it: every range spelled `\x{…}`
/// (surrogates, which no text holds, left out).
fn write_class(out: &mut String, negated: bool, items: &[Item]) {
    out.push('[');
    if negated {
        out.push('^');
    }
    let mut wrote = false;
    for item in items {
        match item {
            Item::Range(lo, hi) => {
                let (mut lo, mut hi) = (*lo, *hi);
                if (0xD800..=0xDFFF).contains(&lo) {
                    lo = 0xE000;
                }
                if (0xD800..=0xDFFF).contains(&hi) {
                    hi = 0xD7FF;
                }
                if lo > hi {
                    continue;
                }
                if lo == hi {
                    let _ = write!(out, "\\x{{{lo:X}}}");
                } else {
                    let _ = write!(out, "\\x{{{lo:X}}}-\\x{{{hi:X}}}");
                }
            }
            Item::Unicode(neg, name) => {
                let _ = write!(out, "\\{}{{{name}}}", if *neg { 'P' } else { 'p' });
            }
        }
        wrote = true;
    }
    if !wrote {
        // Matches nothing (or, negated, anything).
        out.push_str("\\x{0}&&\\x{1}");
    }
    out.push(']');
}

fn push_rune(out: &mut String, r: u32) {
    match char::from_u32(r) {
        Some(c) => push_literal(out, c),
        // A surrogate: no text holds one.
        None => out.push_str("[\\x{0}&&\\x{1}]"),
    }
}

fn push_literal(out: &mut String, c: char) {
    if c.is_alphanumeric() || c == '_' || (!c.is_ascii() && !c.is_whitespace()) {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(p: &str) -> String {
        translate(p).unwrap()
    }

    fn e(p: &str) -> String {
        translate(p).unwrap_err().to_string()
    }

    #[test]
    fn classes_are_written_as_go_reads_them() {
        assert_eq!(
            t(r"[\w-\.]"),
            r"[\x{30}-\x{39}\x{41}-\x{5A}\x{5F}\x{61}-\x{7A}\x{2D}\x{2E}]"
        );
        assert_eq!(t("[[a]"), r"[\x{5B}\x{61}]");
        assert_eq!(t("[a&&b]"), r"[\x{61}\x{26}\x{26}\x{62}]");
        assert_eq!(t("[]a]"), r"[\x{5D}\x{61}]");
        assert_eq!(t("[a-]"), r"[\x{61}\x{2D}]");
        assert_eq!(t("[[:^digit:]]"), r"[\x{0}-\x{2F}\x{3A}-\x{10FFFF}]");
        assert_eq!(t(r"\d+"), r"[\x{30}-\x{39}]+");
        assert_eq!(t(r"[^\pL]"), r"[^\p{L}]");
    }

    #[test]
    fn escapes_and_repetitions() {
        assert_eq!(t(r"\Qa.b\E+"), r"a\x{2E}b+");
        assert_eq!(t(r"\101\0"), r"A\x{0}");
        assert_eq!(t(r"\<x\>"), r"\x{3C}x\x{3E}");
        assert_eq!(t("a{,3}"), r"a\x{7B}\x{2C}3\x{7D}");
        assert_eq!(t("a{2,3}?b{01}"), r"a{2,3}?b\x{7B}01\x{7D}");
        assert_eq!(
            t("(?i)a(?)b(?P<n>c)(?<m>d)(?s-m:e)"),
            "(?i)ab(?P<n>c)(?P<m>d)(?s-m:e)"
        );
        assert_eq!(t(r"\bx\B"), r"(?-u:\b)x(?-u:\B)");
    }

    #[test]
    fn go_errors() {
        assert_eq!(e("a**"), "invalid nested repetition operator: `**`");
        assert_eq!(e("a*??"), "invalid nested repetition operator: `*??`");
        assert_eq!(e("*a"), "missing argument to repetition operator: `*`");
        assert_eq!(e("(|+)"), "missing argument to repetition operator: `+`");
        assert_eq!(e("a{1001}"), "invalid repeat count: `{1001}`");
        assert_eq!(e("a{2,1}"), "invalid repeat count: `{2,1}`");
        assert_eq!(e("[a"), "missing closing ]: `[a`");
        assert_eq!(e("[z-a]"), "invalid character class range: `z-a`");
        assert_eq!(e("[[:foo:]]"), "invalid character class range: `[:foo:]`");
        assert_eq!(e("(a"), "missing closing ): `(a`");
        assert_eq!(e("a)"), "unexpected ): `a)`");
        assert_eq!(e(r"\C"), r"invalid escape sequence: `\C`");
        assert_eq!(e(r"\1"), r"invalid escape sequence: `\1`");
        assert_eq!(e(r"\8"), r"invalid escape sequence: `\8`");
        assert_eq!(e("(?=a)"), "invalid or unsupported Perl syntax: `(?=`");
        assert_eq!(e("(?i-)"), "invalid or unsupported Perl syntax: `(?i-)`");
        assert_eq!(e("(?P<1-x>a)"), "invalid named capture: `(?P<1-x>`");
        assert_eq!(e("a\\"), "trailing backslash at end of expression: ``");
        assert_eq!(e(r"\p{Foo+}"), r"invalid character class range: `\p{Foo+}`");
    }
}

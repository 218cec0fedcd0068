//! Plain-scalar resolution: go-yaml v3's (how kustomize reads documents)
//! and go-yaml v2's (whether the emitter must quote a string).

use crate::Value;

/// What go-yaml v3 makes of a plain scalar decoded into `interface{}`.
pub fn resolve_v3(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match s.as_bytes()[0] {
        b'.' => match s.parse::<f64>() {
            Ok(f) if is_go_float(s) => Value::Float(f),
            _ => Value::String(s.to_string()),
        },
        b'0'..=b'9' | b'+' | b'-' => {
            if let Some(t) = timestamp(s) {
                return Value::String(t);
            }
            number(s).unwrap_or_else(|| Value::String(s.to_string()))
        }
        _ => Value::String(s.to_string()),
    }
}

/// What go-yaml v2 makes of a plain scalar decoded into `interface{}`:
/// YAML 1.1 booleans (`yes`, `on`, `y`…), timestamps left as written.
pub fn resolve_v2(s: &str) -> Value {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Value::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Value::Bool(false),
        _ if timestamp(s).is_some() => Value::String(s.to_string()),
        _ => resolve_v3(s),
    }
}

/// Whether go-yaml v2 would read the plain scalar `s` as anything but a
/// string (then the emitter double-quotes it).
pub fn resolves_non_string_v2(s: &str) -> bool {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No" | "NO" | "true" | "True"
        | "TRUE" | "false" | "False" | "FALSE" | "on" | "On" | "ON" | "off" | "Off" | "OFF"
        | "" | "~" | "null" | "Null" | "NULL" | ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf"
        | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" => {
            return true;
        }
        _ => {}
    }
    match s.as_bytes()[0] {
        b'.' => is_go_float(s) && s.parse::<f64>().is_ok(),
        b'0'..=b'9' | b'+' | b'-' => {
            timestamp(s).is_some() || number(s).is_some() || is_base60_float(s)
        }
        _ => false,
    }
}

/// Integers in Go's base-0 syntax (underscores removed first), then
/// YAML-style floats.
fn number(s: &str) -> Option<Value> {
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(i) = go_parse_int(&plain) {
        return Some(Value::Int(i));
    }
    if let Some(u) = go_parse_uint(&plain) {
        return Some(Value::Uint(u));
    }
    if is_yaml_style_float(&plain) {
        return plain.parse::<f64>().ok().map(Value::Float);
    }
    None
}

/// The magnitude and radix of a Go base-0 integer literal without sign.
fn go_digits(s: &str) -> Option<(u64, bool)> {
    let (radix, digits) = if let Some(rest) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (8, rest)
    } else if let Some(rest) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (2, rest)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok().map(|v| (v, true))
}

fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (magnitude, _) = go_digits(body)?;
    if neg {
        if magnitude <= i64::MAX as u64 + 1 {
            Some((magnitude as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

fn go_parse_uint(s: &str) -> Option<u64> {
    let body = s.strip_prefix('+').unwrap_or(s);
    if body.starts_with('-') {
        return None;
    }
    go_digits(body).map(|(v, _)| v)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// What Go's `strconv.ParseFloat` accepts for scalars starting with `.`.
fn is_go_float(s: &str) -> bool {
    is_yaml_style_float(s)
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$` (YAML 1.1 sexagesimal).
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let group = &s[start..i];
        let ok = match group.len() {
            1 => true,
            2 => group.as_bytes()[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// A YAML timestamp (`2001-12-14`, `2001-12-14t21:59:43.10-05:00`,
/// `2001-12-14 21:59:43.10`) as Go's `time.Time` prints in JSON (RFC 3339
/// with nanoseconds, `Z` for UTC).
pub fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut p = Cursor { s: b, i: 5 };
    let year: u32 = s[..4].parse().ok()?;
    let month = p.num(2)?;
    p.expect(b'-')?;
    let day = p.num(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if p.done() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let separator = p.next()?;
    let zoned = match separator {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    let hour = p.num(2)?;
    p.expect(b':')?;
    let minute = p.num(2)?;
    p.expect(b':')?;
    let second = p.num(2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut nanos = String::new();
    if p.peek() == Some(b'.') {
        p.i += 1;
        let start = p.i;
        while p.peek().is_some_and(|c| c.is_ascii_digit()) {
            p.i += 1;
        }
        if p.i == start || p.i - start > 9 {
            return None;
        }
        nanos = s[start..p.i].trim_end_matches('0').to_string();
    }
    let zone = if zoned {
        match p.next()? {
            b'Z' => "Z".to_string(),
            sign @ (b'+' | b'-') => {
                let hh = p.fixed(2)?;
                p.expect(b':')?;
                let mm = p.fixed(2)?;
                if hh == 0 && mm == 0 {
                    "Z".to_string()
                } else {
                    format!("{}{hh:02}:{mm:02}", sign as char)
                }
            }
            _ => return None,
        }
    } else {
        "Z".to_string()
    };
    if !p.done() {
        return None;
    }
    let fraction = if nanos.is_empty() {
        String::new()
    } else {
        format!(".{nanos}")
    };
    Some(format!(
        "{date}T{hour:02}:{minute:02}:{second:02}{fraction}{zone}"
    ))
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn done(&self) -> bool {
        self.i == self.s.len()
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    /// One or up to `max` digits.
    fn num(&mut self, max: usize) -> Option<u32> {
        let start = self.i;
        while self.i - start < max && self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()
    }
    /// Exactly `n` digits.
    fn fixed(&mut self, n: usize) -> Option<u32> {
        let start = self.i;
        let v = self.num(n)?;
        (self.i - start == n).then_some(v)
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_resolution_matches_go_yaml() {
        assert_eq!(resolve_v3("0755"), Value::Int(493));
        assert_eq!(resolve_v3("0o17"), Value::Int(15));
        assert_eq!(resolve_v3("0x1F"), Value::Int(31));
        assert_eq!(resolve_v3("1_000"), Value::Int(1000));
        assert_eq!(resolve_v3("+12"), Value::Int(12));
        assert_eq!(resolve_v3("-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(
            resolve_v3("12345678901234567890"),
            Value::Uint(12345678901234567890)
        );
        assert_eq!(resolve_v3("1e3"), Value::Float(1000.0));
        assert_eq!(resolve_v3(".5"), Value::Float(0.5));
        assert_eq!(resolve_v3("yes"), Value::String("yes".into()));
        assert_eq!(resolve_v3("True"), Value::Bool(true));
        assert_eq!(resolve_v3("~"), Value::Null);
        assert_eq!(resolve_v3("08"), Value::Float(8.0));
        assert_eq!(resolve_v3("1.2.3"), Value::String("1.2.3".into()));
        assert_eq!(
            resolve_v3("2026-01-01"),
            Value::String("2026-01-01T00:00:00Z".into())
        );
        assert_eq!(
            resolve_v3("2001-12-14t21:59:43.10-05:00"),
            Value::String("2001-12-14T21:59:43.1-05:00".into())
        );
    }

    #[test]
    fn v2_quoting_decisions() {
        for s in [
            "yes",
            "on",
            "n",
            "1",
            "012",
            "1e3",
            "2026-01-01",
            "1:30",
            "",
            "~",
            ".5",
        ] {
            assert!(resolves_non_string_v2(s), "{s}");
        }
        // `<`: no resolution hint in go-yaml v2, so `<<` is a plain string.
        for s in ["hello", "1.2.3", "v1", "1a", "-", "+", ".", "08x", "<<"] {
            assert!(!resolves_non_string_v2(s), "{s}");
        }
    }
}

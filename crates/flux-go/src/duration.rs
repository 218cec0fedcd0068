//! Go's `time.Duration` text: `time.ParseDuration` and
//! `Duration.String()`, in signed nanoseconds.

use std::fmt;

/// Why a duration does not parse, worded as Go's `time` package words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration (or out of range).
    #[error("time: invalid duration {}", Quoted(.0))]
    Invalid(String),
    /// A number without a unit.
    #[error("time: missing unit in duration {}", Quoted(.0))]
    MissingUnit(String),
    /// A unit Go does not know.
    #[error("time: unknown unit {} in duration {}", Quoted(.unit), Quoted(.duration))]
    UnknownUnit {
        /// The unit.
        unit: String,
        /// The whole text.
        duration: String,
    },
}

/// A string quoted as Go's `%q`/`strconv.Quote` for the printable ASCII
/// that durations hold (other characters escaped as `\u{…}`).
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if c.is_ascii_graphic() || c == ' ' || (!c.is_control() && !c.is_ascii()) => {
                    write!(f, "{c}")?
                }
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                c => write!(f, "\\x{:02x}", c as u32)?,
            }
        }
        f.write_str("\"")
    }
}

const UNITS: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// `time.ParseDuration`: a signed sequence of decimal numbers, each with
/// an optional fraction and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`),
/// as nanoseconds. Integer arithmetic as Go's, so `1.1s` is exactly
/// 1,100,000,000 ns; out of the `int64` range is invalid.
pub fn parse(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(text.to_string());
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let mut whole: u64 = 0;
        for b in rest[..digits].bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .filter(|v| *v <= LIMIT)
                .ok_or_else(invalid)?;
        }
        rest = &rest[digits..];
        let mut fraction: u64 = 0;
        let mut scale = 1f64;
        let mut fraction_digits = 0;
        if let Some(after) = rest.strip_prefix('.') {
            rest = after;
            fraction_digits =
                rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let mut overflow = false;
            for b in rest[..fraction_digits].bytes() {
                if overflow {
                    continue;
                }
                if fraction > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(b - b'0');
                if next > LIMIT {
                    overflow = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            rest = &rest[fraction_digits..];
        }
        if digits == 0 && fraction_digits == 0 {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(text.to_string()));
        }
        let unit_text = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit = UNITS
            .iter()
            .find(|(name, _)| *name == unit_text)
            .map(|(_, nanos)| *nanos)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit_text.to_string(),
                duration: text.to_string(),
            })?;
        if whole > LIMIT / unit {
            return Err(invalid());
        }
        let mut value = whole * unit;
        if fraction > 0 {
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(value)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// `time.Duration.String()`: `0s`, `1.5µs`, `500ms`, `2.5s`, `1m0s`,
/// `1h30m0s`, `-2s`.
pub fn format(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let value = nanos.unsigned_abs();
    let fraction = |value: u64, digits: u32| -> String {
        let scale = 10u64.pow(digits);
        let (whole, rest) = (value / scale, value % scale);
        if rest == 0 {
            return whole.to_string();
        }
        let text = format!("{whole}.{rest:0width$}", width = digits as usize);
        text.trim_end_matches('0').to_string()
    };
    if value < 1_000 {
        return format!("{sign}{value}ns");
    }
    if value < 1_000_000 {
        return format!("{sign}{}µs", fraction(value, 3));
    }
    if value < 1_000_000_000 {
        return format!("{sign}{}ms", fraction(value, 6));
    }
    let seconds = value / 1_000_000_000;
    let (hours, minutes) = (seconds / 3600, (seconds / 60) % 60);
    let second_part = fraction(value % 60_000_000_000, 9);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{second_part}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{second_part}s")
    } else {
        format!("{sign}{second_part}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_go_does() {
        for (text, nanos) in [
            ("0", 0),
            ("+0", 0),
            ("-0", 0),
            ("1m0s", 60_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("500ms", 500_000_000),
            ("2.5s", 2_500_000_000),
            ("1.1s", 1_100_000_000),
            (".5s", 500_000_000),
            ("5.s", 5_000_000_000),
            ("-1.5h", -5_400_000_000_000),
            ("1µs", 1_000),
            ("1us", 1_000),
            ("3ns", 3),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("0.3333333333333333333h", 1_200_000_000_000),
        ] {
            assert_eq!(parse(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn errors_are_worded_as_go_words_them() {
        let message = |text: &str| parse(text).unwrap_err().to_string();
        assert_eq!(message(""), "time: invalid duration \"\"");
        assert_eq!(message("."), "time: invalid duration \".\"");
        assert_eq!(message("s"), "time: invalid duration \"s\"");
        assert_eq!(message("5"), "time: missing unit in duration \"5\"");
        assert_eq!(message("5d"), "time: unknown unit \"d\" in duration \"5d\"");
        assert_eq!(
            message("9223372036854775808ns"),
            "time: invalid duration \"9223372036854775808ns\""
        );
        assert_eq!(message("3000000h"), "time: invalid duration \"3000000h\"");
    }

    #[test]
    fn formats_as_go_does() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (500_000_000, "500ms"),
            (2_500_000_000, "2.5s"),
            (60_000_000_000, "1m0s"),
            (5_430_500_000_000, "1h30m30.5s"),
            (-2_000_000_000, "-2s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(format(nanos), text);
        }
    }
}

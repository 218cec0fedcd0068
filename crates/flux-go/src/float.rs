//! Go's float text: `strconv.FormatFloat` with the shortest precision and
//! `fmt`'s `%g`/`%v` — how Go programs (text/template, encoding/json,
//! go-yaml) print a float64.

/// The decimal digits of `f` (no leading or trailing zeros) and the
/// decimal point position: `f = 0.DIGITS × 10^dp`. `sig` = significant
/// digits wanted, `None` = shortest representation that round-trips.
pub fn digits(f: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        None => format!("{:e}", f.abs()),
        Some(n) => format!("{:.*e}", n.saturating_sub(1), f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: String = mant.chars().filter(char::is_ascii_digit).collect();
    while d.len() > 1 && d.ends_with('0') {
        d.pop();
    }
    if d == "0" {
        return (String::new(), 0);
    }
    (d, exp + 1)
}

/// `fmt`'s spelling of the special values: `NaN`, `+Inf`, `-Inf`.
pub fn special(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        })
    } else {
        None
    }
}

/// `%g` / `%v`: shortest (or `prec` significant digits), `%e` form when
/// the exponent is < -4 or ≥ the precision (6 when shortest; Go's rule);
/// `sharp` (`%#g`) keeps the point and the trailing zeros as `fmt` does.
pub fn format_g(f: f64, prec: Option<usize>, sharp: bool) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let neg = f.is_sign_negative();
    let shortest = prec.is_none();
    let prec = prec.map(|p| p.max(1));
    let (d, dp) = digits(f, prec);
    let nd = d.len() as i32;
    // strconv's `%g`: zero has no digits and its point at 0, so its
    // exponent is -1 (the plain form).
    let mut eprec = prec.map_or(6, |p| p as i32);
    if !shortest && eprec > nd && nd >= dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = dp - 1;
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let digit = |i: usize| d.as_bytes().get(i).map_or('0', |&b| b as char);
    if exp < -4 || exp >= eprec {
        // %e with the digits there are (strconv's precision is at most
        // their number).
        let frac = (nd - 1).max(0);
        s.push(digit(0));
        if frac > 0 {
            s.push('.');
            for i in 1..=frac as usize {
                s.push(digit(i));
            }
        }
        s.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    } else {
        // %f with precision max(nd - dp, 0).
        let frac = (nd - dp).max(0);
        if dp <= 0 {
            s.push('0');
        } else {
            for i in 0..dp as usize {
                s.push(digit(i));
            }
        }
        if frac > 0 {
            s.push('.');
            for i in 0..frac {
                let at = dp + i;
                s.push(if at < 0 { '0' } else { digit(at as usize) });
            }
        }
    }
    if sharp {
        s = sharpen(&s, prec.map_or(6, |p| p as i32));
    }
    s
}

/// `fmt`'s `#` flag on a `%g` text: a point always, and trailing zeros up
/// to `digits` significant digits (the exponent kept at the end).
fn sharpen(num: &str, mut digits: i32) -> String {
    let (body, tail) = match num.find(['e', 'E']) {
        Some(i) => (&num[..i], &num[i..]),
        None => (num, ""),
    };
    let unsigned = body.strip_prefix('-').unwrap_or(body);
    let mut has_point = false;
    let mut saw_nonzero = false;
    for c in unsigned.chars() {
        match c {
            '.' => has_point = true,
            _ => {
                if c != '0' {
                    saw_nonzero = true;
                }
                if saw_nonzero {
                    digits -= 1;
                }
            }
        }
    }
    let mut out = body.to_string();
    if !has_point {
        if unsigned == "0" {
            digits -= 1;
        }
        out.push('.');
    }
    while digits > 0 {
        out.push('0');
        digits -= 1;
    }
    out.push_str(tail);
    out
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`: shortest, never exponent.
pub fn format_plain(f: f64) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let (d, dp) = digits(f, None);
    let neg = if f.is_sign_negative() { "-" } else { "" };
    if d.is_empty() {
        return format!("{neg}0");
    }
    if dp <= 0 {
        format!("{neg}0.{}{d}", "0".repeat((-dp) as usize))
    } else if d.len() as i32 <= dp {
        format!("{neg}{d}{}", "0".repeat((dp - d.len() as i32) as usize))
    } else {
        format!("{neg}{}.{}", &d[..dp as usize], &d[dp as usize..])
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal text: `None` where Go
/// returns an error, out-of-range values (`1e400`) included. Hexadecimal
/// floats (`0x1p4`) are not read.
pub fn parse_float(s: &str) -> Option<f64> {
    let value: f64 = s.parse().ok()?;
    if value.is_infinite() {
        let word = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if word != "inf" && word != "infinity" {
            return None;
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_go_does() {
        for (f, g) in [
            (0.0, "0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_g(f, None, false), g, "{f}");
        }
        assert_eq!(format_g(1234.5678, Some(3), false), "1.23e+03");
        assert_eq!(format_g(1e6, Some(5), false), "1e+06");
        assert_eq!(format_g(0.0, Some(3), false), "0");
        assert_eq!(format_g(-0.0, Some(3), false), "-0");
        assert_eq!(format_g(0.0, Some(3), true), "0.00");
        assert_eq!(format_g(1.5, None, true), "1.50000");
        assert_eq!(format_g(1e6, Some(2), true), "1.0e+06");
        assert_eq!(format_g(0.0001, None, false), "0.0001");
        assert_eq!(format_plain(1e21), "1000000000000000000000");
        assert_eq!(format_plain(0.000001), "0.000001");
        assert_eq!(digits(1500.0, None), ("15".to_string(), 4));
        assert_eq!(digits(0.0, None), (String::new(), 0));
    }

    #[test]
    fn parse_float_refuses_what_go_refuses() {
        assert_eq!(super::parse_float("1e1"), Some(10.0));
        assert_eq!(super::parse_float("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(super::parse_float("1e400"), None);
        assert_eq!(super::parse_float("1_000"), None);
        assert_eq!(super::parse_float("v1"), None);
    }
}

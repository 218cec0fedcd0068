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
/// the exponent is < -4 or ≥ the precision (6 when shortest; Go's rule).
pub fn format_g(f: f64, prec: Option<usize>, sharp: bool) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let neg = f.is_sign_negative();
    let prec = prec.map(|p| p.max(1));
    let (d, dp) = digits(f, prec);
    let nd = d.len() as i32;
    let mut eprec = match prec {
        Some(p) => p as i32,
        None => 6,
    };
    if prec.is_some() && eprec > nd && nd >= dp {
        eprec = nd;
    }
    if prec.is_none() {
        eprec = 6;
    }
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let d = if d.is_empty() { "0".to_string() } else { d };
    let mut d = d;
    if sharp {
        // '#': keep trailing zeros up to the precision.
        let want = prec.unwrap_or(6);
        while d.len() < want {
            d.push('0');
        }
    }
    if exp < -4 || exp >= eprec {
        s.push_str(&d[..1]);
        if d.len() > 1 {
            s.push('.');
            s.push_str(&d[1..]);
        } else if sharp {
            s.push('.');
        }
        s.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    } else if exp < 0 {
        s.push_str("0.");
        for _ in 0..(-exp - 1) {
            s.push('0');
        }
        s.push_str(&d);
    } else {
        let int_len = (exp + 1) as usize;
        if d.len() <= int_len {
            s.push_str(&d);
            for _ in d.len()..int_len {
                s.push('0');
            }
            if sharp {
                s.push('.');
            }
        } else {
            s.push_str(&d[..int_len]);
            s.push('.');
            s.push_str(&d[int_len..]);
        }
    }
    s
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
        assert_eq!(format_plain(1e21), "1000000000000000000000");
        assert_eq!(format_plain(0.000001), "0.000001");
        assert_eq!(digits(1500.0, None), ("15".to_string(), 4));
        assert_eq!(digits(0.0, None), (String::new(), 0));
    }
}

//! Go's float formatting (`strconv.FormatFloat` with the shortest
//! precision), as `encoding/json` and go-yaml v2 use it.

use crate::{Error, Value};

/// Shortest decimal digits of `|f|` (no leading/trailing zeros) and the
/// position of the decimal point: `|f| = 0.DIGITS × 10^dp`. Zero is `("0", 1)`.
fn shortest(f: f64) -> (String, i32) {
    match flux_go::float::digits(f, None) {
        (digits, _) if digits.is_empty() => ("0".to_string(), 1),
        found => found,
    }
}

/// `%f` with exactly the shortest digits.
fn fmt_f(neg: bool, digits: &str, dp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let nd = digits.len() as i32;
    if dp <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-dp) as usize));
        out.push_str(digits);
    } else if dp >= nd {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (dp - nd) as usize));
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

/// `%e` with exactly the shortest digits and a two-digit-minimum exponent.
fn fmt_e(neg: bool, digits: &str, dp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let exp = if digits == "0" { 0 } else { dp - 1 };
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let abs = exp.unsigned_abs();
    if abs < 10 {
        out.push('0');
    }
    out.push_str(&abs.to_string());
    out
}

/// `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest text that reads
/// back as the same `float32` (how `sigs.k8s.io/yaml` spells float keys).
pub fn format_g32(f: f32) -> String {
    let neg = f.is_sign_negative() && f != 0.0;
    let (digits, dp) = if f == 0.0 {
        ("0".to_string(), 1)
    } else {
        let text = format!("{:e}", f.abs());
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        (digits, exp + 1)
    };
    let exp = dp - 1;
    if digits != "0" && !(-4..6).contains(&exp) {
        fmt_e(neg, &digits, dp)
    } else {
        fmt_f(neg, &digits, dp)
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)` as go-yaml v2 writes floats
/// (`.inf`, `-.inf`, `.nan` for the specials).
pub fn format_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    if f == 0.0 {
        // Negative zero too, as the emitter always wrote it.
        return "0".to_string();
    }
    flux_go::float::format_g(f, None, false)
}

/// `encoding/json`'s float text: `%f` unless the magnitude is below 1e-6 or
/// at least 1e21 (then `%e`, with `e-07` shortened to `e-7`).
fn json_float(f: f64) -> String {
    let neg = f.is_sign_negative() && f != 0.0;
    let (digits, dp) = shortest(f);
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let mut text = fmt_e(neg, &digits, dp);
        let n = text.len();
        if n >= 4 && text.as_bytes()[n - 4] == b'e' && &text[n - 3..n - 1] == "-0" {
            text.remove(n - 2);
        }
        text
    } else {
        // Go prints negative zero as "-0".
        let mut text = fmt_f(neg, &digits, dp);
        if f == 0.0 && f.is_sign_negative() {
            text = "-0".to_string();
        }
        text
    }
}

/// A float after `json.Marshal` and go-yaml v2's `Unmarshal` of the JSON
/// text: integral texts come back as integers.
pub fn json_float_round_trip(f: f64) -> Result<Value, Error> {
    if f.is_nan() {
        return Err(Error::Json("NaN".to_string()));
    }
    if f.is_infinite() {
        return Err(Error::Json(
            if f > 0.0 { "+Inf" } else { "-Inf" }.to_string(),
        ));
    }
    let text = json_float(f);
    if text.contains(['.', 'e']) {
        return Ok(Value::Float(f));
    }
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    if let Ok(u) = text.parse::<u64>() {
        return Ok(Value::Uint(u));
    }
    Ok(Value::Float(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_matches_go() {
        for (f, go) in [
            (0.0, "0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (1000000.0, "1e+06"),
            (123456.0, "123456"),
            (1234567.5, "1.2345675e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (3.14e-10, "3.14e-10"),
            (1e21, "1e+21"),
            (-2.5, "-2.5"),
            (1e100, "1e+100"),
        ] {
            assert_eq!(format_g(f), go, "{f}");
        }
    }

    #[test]
    fn json_texts_match_go() {
        for (f, go) in [
            (1000.0, "1000"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (3.14e-10, "3.14e-10"),
            (-0.0, "-0"),
        ] {
            assert_eq!(json_float(f), go, "{f}");
        }
        assert_eq!(json_float_round_trip(1000.0), Ok(Value::Int(1000)));
        assert_eq!(
            json_float_round_trip(1e19),
            Ok(Value::Uint(10_000_000_000_000_000_000))
        );
        assert_eq!(json_float_round_trip(1.5), Ok(Value::Float(1.5)));
        assert!(json_float_round_trip(f64::INFINITY).is_err());
    }
}

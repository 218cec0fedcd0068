//! Integer and float arithmetic with sprig's conversions (cast).

use super::{F, arg, n, to_float64, to_int64};
use crate::value::Value;

fn i(v: i64) -> crate::value::FuncResult {
    Ok(Value::Int64(v))
}

fn f(v: f64) -> crate::value::FuncResult {
    Ok(Value::Float(v))
}

pub(super) fn register(add: &mut impl FnMut(&str, &str, &str, F)) {
    add("add1", "interface {}", "int64", |_, a| i(to_int64(arg(&a, 0)).wrapping_add(1)));
    add("add", "...interface {}", "int64", |_, a| i(a.iter().fold(0i64, |s, v| s.wrapping_add(to_int64(v)))));
    add("sub", "interface {},interface {}", "int64", |_, a| i(to_int64(arg(&a, 0)).wrapping_sub(to_int64(arg(&a, 1)))));
    add("div", "interface {},interface {}", "int64", |_, a| {
        let d = to_int64(arg(&a, 1));
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        i(to_int64(arg(&a, 0)).wrapping_div(d))
    });
    add("mod", "interface {},interface {}", "int64", |_, a| {
        let d = to_int64(arg(&a, 1));
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        i(to_int64(arg(&a, 0)).wrapping_rem(d))
    });
    add("mul", "interface {},...interface {}", "int64", |_, a| i(a.iter().fold(1i64, |s, v| s.wrapping_mul(to_int64(v)))));
    add("max", "interface {},...interface {}", "int64", |_, a| i(a.iter().map(to_int64).max().unwrap_or(0)));
    add("biggest", "interface {},...interface {}", "int64", |_, a| i(a.iter().map(to_int64).max().unwrap_or(0)));
    add("min", "interface {},...interface {}", "int64", |_, a| i(a.iter().map(to_int64).min().unwrap_or(0)));
    add("add1f", "interface {}", "float64", |_, a| f(to_float64(arg(&a, 0)) + 1.0));
    add("addf", "...interface {}", "float64", |_, a| f(a.iter().fold(0.0, |s, v| s + to_float64(v))));
    add("subf", "interface {},...interface {}", "float64", |_, a| f(a[1..].iter().fold(to_float64(arg(&a, 0)), |s, v| s - to_float64(v))));
    add("mulf", "interface {},...interface {}", "float64", |_, a| f(a[1..].iter().fold(to_float64(arg(&a, 0)), |s, v| s * to_float64(v))));
    add("divf", "interface {},...interface {}", "float64", |_, a| f(a[1..].iter().fold(to_float64(arg(&a, 0)), |s, v| s / to_float64(v))));
    add("maxf", "interface {},...interface {}", "float64", |_, a| f(a[1..].iter().fold(to_float64(arg(&a, 0)), |s, v| go_max(s, to_float64(v)))));
    add("minf", "interface {},...interface {}", "float64", |_, a| f(a[1..].iter().fold(to_float64(arg(&a, 0)), |s, v| go_min(s, to_float64(v)))));
    add("floor", "interface {}", "float64", |_, a| f(to_float64(arg(&a, 0)).floor()));
    add("ceil", "interface {}", "float64", |_, a| f(to_float64(arg(&a, 0)).ceil()));
    add("round", "interface {},int,...float64", "float64", |_, a| {
        let round_on = match a.get(2) {
            Some(Value::Float(r)) => *r,
            _ => 0.5,
        };
        let val = to_float64(arg(&a, 0));
        let pow = 10f64.powf(n(&a, 1) as f64);
        let digit = pow * val;
        let frac = digit - digit.trunc();
        let r = if frac >= round_on { digit.ceil() } else { digit.floor() };
        f(r / pow)
    });
    add("int", "interface {}", "int", |_, a| Ok(Value::Int(to_int64(arg(&a, 0)))));
    add("int64", "interface {}", "int64", |_, a| i(to_int64(arg(&a, 0))));
    add("float64", "interface {}", "float64", |_, a| f(to_float64(arg(&a, 0))));
    add("toDecimal", "interface {}", "int64", |_, a| {
        let s = crate::gofmt::sprint(std::slice::from_ref(arg(&a, 0)));
        let (neg, t) = match s.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, s.strip_prefix('+').unwrap_or(&s)),
        };
        let v = i64::from_str_radix(t, 8).ok().filter(|_| !t.is_empty() && !t.starts_with(['+', '-'])).unwrap_or(0);
        i(if neg { -v } else { v })
    });
    add("randInt", "int,int", "int", |_, a| {
        let (lo, hi) = (n(&a, 0), n(&a, 1));
        if hi <= lo {
            return Err("invalid argument to Intn".into());
        }
        let b = super::random_bytes(8)?;
        let r = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        Ok(Value::Int(lo + (r % (hi - lo) as u64) as i64))
    });
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

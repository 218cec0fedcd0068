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
    add("add1", "interface {}", "int64", |_, a| {
        i(to_int64(arg(&a, 0)).wrapping_add(1))
    });
    add("add", "...interface {}", "int64", |_, a| {
        i(a.iter().fold(0i64, |s, v| s.wrapping_add(to_int64(v))))
    });
    add("sub", "interface {},interface {}", "int64", |_, a| {
        i(to_int64(arg(&a, 0)).wrapping_sub(to_int64(arg(&a, 1))))
    });
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
    add("mul", "interface {},...interface {}", "int64", |_, a| {
        i(a.iter().fold(1i64, |s, v| s.wrapping_mul(to_int64(v))))
    });
    add("max", "interface {},...interface {}", "int64", |_, a| {
        i(a.iter().map(to_int64).max().unwrap_or(0))
    });
    add(
        "biggest",
        "interface {},...interface {}",
        "int64",
        |_, a| i(a.iter().map(to_int64).max().unwrap_or(0)),
    );
    add("min", "interface {},...interface {}", "int64", |_, a| {
        i(a.iter().map(to_int64).min().unwrap_or(0))
    });
    add("add1f", "interface {}", "float64", |_, a| {
        dec_op(
            &Value::Float(to_float64(arg(&a, 0))),
            &[Value::Int(1)],
            Op::Add,
        )
    });
    add("addf", "...interface {}", "float64", |_, a| {
        dec_op(&Value::Float(0.0), &a, Op::Add)
    });
    add("subf", "interface {},...interface {}", "float64", |_, a| {
        dec_op(arg(&a, 0), &a[1..], Op::Sub)
    });
    add("mulf", "interface {},...interface {}", "float64", |_, a| {
        dec_op(arg(&a, 0), &a[1..], Op::Mul)
    });
    add("divf", "interface {},...interface {}", "float64", |_, a| {
        dec_op(arg(&a, 0), &a[1..], Op::Div)
    });
    add("maxf", "interface {},...interface {}", "float64", |_, a| {
        f(a[1..]
            .iter()
            .fold(to_float64(arg(&a, 0)), |s, v| go_max(s, to_float64(v))))
    });
    add("minf", "interface {},...interface {}", "float64", |_, a| {
        f(a[1..]
            .iter()
            .fold(to_float64(arg(&a, 0)), |s, v| go_min(s, to_float64(v))))
    });
    add("floor", "interface {}", "float64", |_, a| {
        f(to_float64(arg(&a, 0)).floor())
    });
    add("ceil", "interface {}", "float64", |_, a| {
        f(to_float64(arg(&a, 0)).ceil())
    });
    add("round", "interface {},int,...float64", "float64", |_, a| {
        let round_on = match a.get(2) {
            Some(Value::Float(r)) => *r,
            _ => 0.5,
        };
        let val = to_float64(arg(&a, 0));
        let pow = 10f64.powf(n(&a, 1) as f64);
        let digit = pow * val;
        let frac = digit - digit.trunc();
        let r = if frac >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        f(r / pow)
    });
    add("int", "interface {}", "int", |_, a| {
        Ok(Value::Int(to_int64(arg(&a, 0))))
    });
    add("int64", "interface {}", "int64", |_, a| {
        i(to_int64(arg(&a, 0)))
    });
    add("float64", "interface {}", "float64", |_, a| {
        f(to_float64(arg(&a, 0)))
    });
    add("toDecimal", "interface {}", "int64", |_, a| {
        let s = crate::gofmt::sprint(std::slice::from_ref(arg(&a, 0)));
        let (neg, t) = match s.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, s.strip_prefix('+').unwrap_or(&s)),
        };
        let v = i64::from_str_radix(t, 8)
            .ok()
            .filter(|_| !t.is_empty() && !t.starts_with(['+', '-']))
            .unwrap_or(0);
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

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// A decimal `m × 10^e` (shopspring/decimal, which sprig's float math uses).
#[derive(Clone, Copy)]
struct Dec {
    m: i128,
    e: i32,
}

impl Dec {
    /// `decimal.NewFromFloat`: the shortest decimal that round-trips.
    fn from_f64(f: f64) -> Option<Dec> {
        if !f.is_finite() {
            return None;
        }
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let neg = mant.starts_with('-');
        let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
        let frac_len = mant.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
        let m: i128 = digits.parse().ok()?;
        Some(Dec {
            m: if neg { -m } else { m },
            e: exp - frac_len,
        })
    }
    fn to_f64(self) -> f64 {
        format!("{}e{}", self.m, self.e).parse().unwrap_or(f64::NAN)
    }
    fn align(a: Dec, b: Dec) -> Option<(i128, i128, i32)> {
        let e = a.e.min(b.e);
        let sa = 10i128.checked_pow(u32::try_from(a.e - e).ok()?)?;
        let sb = 10i128.checked_pow(u32::try_from(b.e - e).ok()?)?;
        Some((a.m.checked_mul(sa)?, b.m.checked_mul(sb)?, e))
    }
    fn apply(a: Dec, b: Dec, op: Op) -> Result<Option<Dec>, String> {
        Ok(match op {
            Op::Add => Dec::align(a, b).and_then(|(x, y, e)| {
                Some(Dec {
                    m: x.checked_add(y)?,
                    e,
                })
            }),
            Op::Sub => Dec::align(a, b).and_then(|(x, y, e)| {
                Some(Dec {
                    m: x.checked_sub(y)?,
                    e,
                })
            }),
            Op::Mul => a.m.checked_mul(b.m).map(|m| Dec { m, e: a.e + b.e }),
            Op::Div => {
                if b.m == 0 {
                    return Err("decimal division by 0".into());
                }
                // Rounded half away from zero to 16 decimal places.
                let shift = a.e - b.e + 17;
                let num = if shift >= 0 {
                    10i128
                        .checked_pow(shift as u32)
                        .and_then(|p| a.m.checked_mul(p))
                } else {
                    Some(a.m / 10i128.pow((-shift).min(38) as u32))
                };
                num.map(|num| {
                    let t = num / b.m; // 17 places, truncated toward zero
                    let (q, r) = (t / 10, t % 10);
                    let away = if (num < 0) != (b.m < 0) { -1 } else { 1 };
                    Dec {
                        m: if r.abs() >= 5 { q + away } else { q },
                        e: -16,
                    }
                })
            }
        })
    }
}

/// shopspring/decimal's `NewFromFloat` refuses what is not a number.
fn decimal_from(f: f64) -> Result<f64, String> {
    if f.is_nan() || f.is_infinite() {
        return Err(format!(
            "Cannot create a Decimal from {}",
            flux_go::float::special(f).unwrap_or_default()
        ));
    }
    Ok(f)
}

fn dec_op(first: &Value, rest: &[Value], op: Op) -> crate::value::FuncResult {
    let mut acc = decimal_from(to_float64(first))?;
    let mut dec = Dec::from_f64(acc);
    for v in rest {
        let x = decimal_from(to_float64(v))?;
        match (dec, Dec::from_f64(x)) {
            (Some(a), Some(b)) => match Dec::apply(a, b, op)? {
                Some(r) => {
                    dec = Some(r);
                    acc = r.to_f64();
                }
                None => {
                    acc = float_op(acc, x, op);
                    dec = Dec::from_f64(acc);
                }
            },
            _ => {
                acc = float_op(acc, x, op);
                dec = Dec::from_f64(acc);
            }
        }
    }
    Ok(Value::Float(dec.map_or(acc, Dec::to_f64)))
}

fn float_op(a: f64, b: f64, op: Op) -> f64 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        Op::Div => a / b,
    }
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

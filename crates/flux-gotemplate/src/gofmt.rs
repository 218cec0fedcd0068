//! Go's `fmt` verbs as templates use them (`print`, `printf`, `println`,
//! the printing of an action's value): `%v` of slices, maps and nil,
//! shortest float formatting (`1e+06`), `%q`, `%x`, widths, flags,
//! argument indexes and the `%!d(string=x)` diagnostics.

use crate::value::Value;
use flux_go::float::special;
pub use flux_go::float::{format_g, format_plain as format_float_plain};

/// `fmt.Sprint`: operands separated by a space when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        format_value(&mut out, a, 'v', &Spec::default(), 0);
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands always separated by a space, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        format_value(&mut out, a, 'v', &Spec::default(), 0);
    }
    out.push('\n');
    out
}

#[derive(Clone, Default)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let b = format.as_bytes();
    let mut i = 0;
    let mut argn = 0usize;
    let mut reordered = false;
    let mut good_argnum = true;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= b.len() {
            break;
        }
        i += 1; // '%'
        let mut spec = Spec::default();
        // Flags.
        while i < b.len() {
            match b[i] {
                b'#' => spec.sharp = true,
                b'0' => spec.zero = true,
                b'+' => spec.plus = true,
                b'-' => spec.minus = true,
                b' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        // Argument index, width.
        (argn, i) = take_index(b, i, argn, args.len(), &mut reordered, &mut good_argnum);
        if i < b.len() && b[i] == b'*' {
            i += 1;
            match args.get(argn).and_then(int_of) {
                Some(w) => {
                    if w < 0 {
                        spec.minus = true;
                        spec.width = Some(w.unsigned_abs() as usize);
                    } else {
                        spec.width = Some(w as usize);
                    }
                    if spec.width.is_some_and(|w| w > 1_000_000) {
                        out.push_str("%!(BADWIDTH)");
                        spec.width = None;
                    }
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
            argn += 1;
            reordered = false;
        } else {
            let (n, ni) = parse_num(b, i);
            if let Some(n) = n {
                if reordered {
                    good_argnum = false;
                }
                spec.width = Some(n);
            }
            i = ni;
        }
        // Precision.
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if reordered {
                good_argnum = false;
            }
            (argn, i) = take_index(b, i, argn, args.len(), &mut reordered, &mut good_argnum);
            if i < b.len() && b[i] == b'*' {
                i += 1;
                match args.get(argn).and_then(int_of) {
                    Some(p) if p >= 0 => spec.prec = Some(p as usize),
                    Some(_) => spec.prec = None,
                    None => out.push_str("%!(BADPREC)"),
                }
                argn += 1;
                reordered = false;
            } else {
                let (n, ni) = parse_num(b, i);
                spec.prec = Some(n.unwrap_or(0));
                i = ni;
            }
        }
        if !reordered {
            (argn, i) = take_index(b, i, argn, args.len(), &mut reordered, &mut good_argnum);
        }
        if i >= b.len() {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('?');
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !good_argnum {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            good_argnum = true;
            continue;
        }
        if argn >= args.len() {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        }
        if spec.minus {
            spec.zero = false;
        }
        if verb == 'v' {
            // %+v only means field names; %#v is Go syntax.
            spec.plus = false;
        }
        let arg = &args[argn];
        if verb == 'v'
            && spec.sharp
            && let Some(text) = go_syntax(arg, true)
        {
            argn += 1;
            pad(&mut out, &text, &spec);
            continue;
        }
        argn += 1;
        if verb == 'w' {
            out.push_str(&format!("%!w({}=", arg.type_name()));
            format_value(&mut out, arg, 'v', &Spec::default(), 0);
            out.push(')');
            continue;
        }
        format_value(&mut out, arg, verb, &spec, 0);
    }
    if !reordered && argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[argn..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            if a.is_nil() {
                out.push_str("<nil>");
            } else {
                out.push_str(&a.type_name());
                out.push('=');
                format_value(&mut out, a, 'v', &Spec::default(), 0);
            }
        }
        out.push(')');
    }
    out
}

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) | Value::Int64(i) => Some(*i),
        Value::Uint32(i) => Some(i64::from(*i)),
        Value::Uint8(i) => Some(i64::from(*i)),
        _ => None,
    }
}

fn parse_num(b: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n: usize = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        if n > 1_000_000 {
            return (None, b.len());
        }
        n = n * 10 + usize::from(b[i] - b'0');
        i += 1;
    }
    if i == start { (None, i) } else { (Some(n), i) }
}

/// Applies an optional `[n]` at `i`: the argument number and position
/// after it; records that arguments were reordered, or a bad index.
fn take_index(
    b: &[u8],
    i: usize,
    argn: usize,
    nargs: usize,
    reordered: &mut bool,
    good: &mut bool,
) -> (usize, usize) {
    let (idx, ni, ok) = arg_index(b, i, argn, nargs);
    if ok.is_some() {
        *reordered = true;
    }
    if ok == Some(false) {
        *good = false;
    }
    (idx, ni)
}

/// `[n]` argument index: (new arg number, position, Some(ok) if present).
fn arg_index(b: &[u8], i: usize, argn: usize, nargs: usize) -> (usize, usize, Option<bool>) {
    if i >= b.len() || b[i] != b'[' {
        return (argn, i, None);
    }
    let mut j = i + 1;
    while j < b.len() && b[j] != b']' {
        j += 1;
    }
    if j >= b.len() {
        return (argn, i + 1, Some(false));
    }
    let (n, end) = parse_num(b, i + 1);
    match n {
        Some(n) if end == j && n >= 1 && n <= nargs => (n - 1, j + 1, Some(true)),
        _ => (argn, j + 1, Some(false)),
    }
}

fn pad(out: &mut String, s: &str, spec: &Spec) {
    let w = spec.width.unwrap_or(0);
    let n = s.chars().count();
    if n >= w {
        out.push_str(s);
        return;
    }
    let fill = w - n;
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero {
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(s);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(s);
    }
}

/// Pads a number: zero padding goes after the sign.
fn pad_number(out: &mut String, s: &str, spec: &Spec) {
    let w = spec.width.unwrap_or(0);
    let n = s.chars().count();
    if spec.zero && !spec.minus && n < w {
        let (sign, digits) = match s.as_bytes().first() {
            Some(b'+' | b'-' | b' ') => s.split_at(1),
            _ => ("", s),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', w - n));
        out.push_str(digits);
    } else {
        let spec = Spec {
            zero: false,
            ..spec.clone()
        };
        pad(out, s, &spec);
    }
}

/// `%#v`: the value in Go syntax (`map[string]interface {}{"k":1}`,
/// `[]interface {}{"a", 2}`); `None` where `%v` prints the same.
fn go_syntax(v: &Value, top: bool) -> Option<String> {
    use crate::value::{list_ty_name, map_ty_name};
    Some(match v {
        Value::Str(s) => quote(s),
        // `%#v` of a float is its shortest `%g` (no `#` padding).
        Value::Float(_) => sprint(std::slice::from_ref(v)),
        Value::Missing | Value::Nil if top => return None,
        Value::Missing | Value::Nil => "interface {}(nil)".to_string(),
        Value::Bytes(b) => {
            let items: Vec<String> = b.iter().map(|x| format!("{x:#x}")).collect();
            format!("[]byte{{{}}}", items.join(", "))
        }
        Value::List(l) => {
            let items: Vec<String> = l
                .items
                .iter()
                .map(|x| go_syntax(x, false).unwrap_or_else(|| sprint(std::slice::from_ref(x))))
                .collect();
            format!("{}{{{}}}", list_ty_name(l.ty), items.join(", "))
        }
        Value::Map(m) => {
            let m = m.borrow();
            if m.nil {
                return Some(format!("{}(nil)", map_ty_name(m.ty)));
            }
            let items: Vec<String> = m
                .entries
                .iter()
                .map(|(k, x)| {
                    let value =
                        go_syntax(x, false).unwrap_or_else(|| sprint(std::slice::from_ref(x)));
                    format!("{}:{value}", quote(k))
                })
                .collect();
            format!("{}{{{}}}", map_ty_name(m.ty), items.join(", "))
        }
        _ => return None,
    })
}

fn bad_verb(out: &mut String, v: &Value, verb: char, spec: &Spec) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if v.is_nil() {
        out.push_str("<nil>");
    } else {
        out.push_str(&v.type_name());
        out.push('=');
        format_value(out, v, 'v', spec, 1);
    }
    out.push(')');
}

fn format_value(out: &mut String, v: &Value, verb: char, spec: &Spec, depth: usize) {
    if verb == 'T' {
        pad(out, &v.type_name(), spec);
        return;
    }
    match v {
        Value::Missing if depth == 0 && verb == 'v' => pad(out, "<no value>", spec),
        Value::Missing | Value::Nil if depth > 0 => out.push_str("<nil>"),
        Value::Missing | Value::Nil => match verb {
            'v' => pad(out, "<nil>", spec),
            _ => bad_verb(out, v, verb, spec),
        },
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, spec),
            _ => bad_verb(out, v, verb, spec),
        },
        Value::Int(i) | Value::Int64(i) => fmt_int(out, v, i128::from(*i), verb, spec),
        Value::Uint32(i) => fmt_int(out, v, i128::from(*i), verb, spec),
        Value::Uint8(i) => fmt_int(out, v, i128::from(*i), verb, spec),
        Value::Float(f) => fmt_float_verb(out, v, *f, verb, spec),
        Value::Complex(re, im) => match verb {
            'v' | 'g' | 'G' | 'e' | 'E' | 'f' | 'F' | 'x' | 'X' => {
                // Go: "(" real, imaginary with its sign, "i)"; the width
                // applies to each part.
                out.push('(');
                fmt_float_verb(out, v, *re, verb, spec);
                fmt_float_verb(
                    out,
                    v,
                    *im,
                    verb,
                    &Spec {
                        plus: true,
                        ..spec.clone()
                    },
                );
                out.push_str("i)");
            }
            _ => bad_verb(out, v, verb, spec),
        },
        Value::Str(s) => fmt_str(out, v, &crate::gostr::to_bytes(s), verb, spec),
        Value::Bytes(b) => match verb {
            's' | 'q' | 'x' | 'X' => fmt_str(out, v, b, verb, spec),
            _ => {
                out.push('[');
                for (k, x) in b.iter().enumerate() {
                    if k > 0 {
                        out.push(' ');
                    }
                    fmt_int(out, &Value::Int(i64::from(*x)), i128::from(*x), verb, spec);
                }
                out.push(']');
            }
        },
        Value::List(l) => {
            if depth > 100 {
                out.push_str("[...]");
                return;
            }
            out.push('[');
            for (k, x) in l.items.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                format_value(out, x, verb, spec, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            if depth > 100 {
                out.push_str("map[...]");
                return;
            }
            out.push_str("map[");
            let m = m.borrow();
            for (k, (key, x)) in m.entries.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                fmt_str(out, &Value::str(key), key.as_bytes(), verb, spec);
                out.push(':');
                format_value(out, x, verb, spec, depth + 1);
            }
            out.push(']');
        }
        Value::Object(o) => match verb {
            'v' | 's' => pad(out, &o.display(), spec),
            _ => bad_verb(out, v, verb, spec),
        },
        Value::Func(_) => pad(out, "0x0", spec),
    }
}

fn fmt_str(out: &mut String, v: &Value, s: &[u8], verb: char, spec: &Spec) {
    match verb {
        // The bytes as they are (a raw byte stays one: see gostr).
        'v' | 's' if spec.prec.is_none() && spec.width.is_none() => {
            out.push_str(&crate::gostr::from_bytes(s));
        }
        'v' | 's' => {
            let text = crate::gostr::from_bytes(s);
            match spec.prec {
                Some(p) => pad(out, &text.chars().take(p).collect::<String>(), spec),
                None => pad(out, &text, spec),
            }
        }
        'q' => {
            let text = crate::gostr::from_bytes(s);
            let text: String = match spec.prec {
                Some(p) => text.chars().take(p).collect(),
                None => text,
            };
            if spec.sharp
                && !text.contains('`')
                && text.chars().all(|c| {
                    c == '\t'
                        || (!c.is_control()
                            && c != '\u{FEFF}'
                            && crate::gostr::raw_byte(c).is_none())
                })
            {
                pad(out, &format!("`{text}`"), spec);
            } else {
                pad(out, &quote_with(&text, spec.plus), spec);
            }
        }
        'x' | 'X' => {
            let bytes = match spec.prec {
                Some(p) => &s[..p.min(s.len())],
                None => s,
            };
            let mut h = String::new();
            for (k, byte) in bytes.iter().enumerate() {
                if spec.space && k > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || k == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    h.push_str(&format!("{byte:02x}"));
                } else {
                    h.push_str(&format!("{byte:02X}"));
                }
            }
            pad(out, &h, spec);
        }
        _ => bad_verb(out, v, verb, spec),
    }
}

fn fmt_int(out: &mut String, v: &Value, i: i128, verb: char, spec: &Spec) {
    let neg = i < 0;
    let u = i.unsigned_abs();
    let mut digits = match verb {
        'v' | 'd' => u.to_string(),
        'b' => format!("{u:b}"),
        'o' | 'O' => format!("{u:o}"),
        'x' => format!("{u:x}"),
        'X' => format!("{u:X}"),
        'c' => {
            let c = char::from_u32(u32::try_from(i).unwrap_or(0xFFFD)).unwrap_or('\u{FFFD}');
            pad(out, &c.to_string(), spec);
            return;
        }
        'q' => {
            let c = char::from_u32(u32::try_from(i).unwrap_or(0xFFFD)).unwrap_or('\u{FFFD}');
            pad(out, &quote_rune(c), spec);
            return;
        }
        'U' => {
            let mut s = format!("U+{u:04X}");
            if spec.sharp
                && let Some(c) = char::from_u32(u32::try_from(i).unwrap_or(0xFFFD))
                && !c.is_control()
            {
                s.push_str(&format!(" '{c}'"));
            }
            pad(out, &s, spec);
            return;
        }
        _ => {
            bad_verb(out, v, verb, spec);
            return;
        }
    };
    if let Some(p) = spec.prec {
        if p == 0 && u == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let prefix = match verb {
        'b' if spec.sharp => "0b",
        'o' if spec.sharp && !digits.starts_with('0') => "0",
        'O' => "0o",
        'x' if spec.sharp => "0x",
        'X' if spec.sharp => "0X",
        _ => "",
    };
    let sign = if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let spec2 = Spec {
        zero: spec.zero && spec.prec.is_none(),
        ..spec.clone()
    };
    if spec2.zero && !spec2.minus {
        let w = spec2.width.unwrap_or(0);
        let len = sign.len() + prefix.len() + digits.len();
        out.push_str(sign);
        out.push_str(prefix);
        if len < w {
            out.extend(std::iter::repeat_n('0', w - len));
        }
        out.push_str(&digits);
    } else {
        pad(out, &format!("{sign}{prefix}{digits}"), &spec2);
    }
}

/// `strconv.FormatFloat(f, 'b', -1, 64)`: decimal mantissa, binary
/// exponent (`5629499534213120p-51`).
fn binary_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let bits = f.to_bits();
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let biased = ((bits >> 52) & 0x7FF) as i64;
    let mut mantissa = bits & ((1u64 << 52) - 1);
    let exp = if biased == 0 {
        -1074
    } else {
        mantissa |= 1u64 << 52;
        biased - 1075
    };
    let exp_sign = if exp >= 0 { "+" } else { "" };
    format!("{sign}{mantissa}p{exp_sign}{exp}")
}

fn fmt_float_verb(out: &mut String, v: &Value, f: f64, verb: char, spec: &Spec) {
    let s = match verb {
        'v' | 'g' | 'G' => {
            // `%#v` is Go syntax, not the `#` flag of `%g`.
            let mut s = format_g(f, spec.prec, spec.sharp && verb != 'v');
            if verb == 'G' {
                s = s.to_uppercase();
            }
            s
        }
        'e' | 'E' => {
            let s = format_e(f, spec.prec.unwrap_or(6));
            if verb == 'E' { s.to_uppercase() } else { s }
        }
        'f' | 'F' => format_fixed(f, spec.prec.unwrap_or(6)),
        'x' | 'X' => {
            let s = hex_float(f);
            if verb == 'X' { s.to_uppercase() } else { s }
        }
        'b' => binary_float(f),
        _ => {
            bad_verb(out, v, verb, spec);
            return;
        }
    };
    let mut s = s;
    if f.is_nan() {
        s = "NaN".into();
        if spec.plus {
            s = "+NaN".into();
        } else if spec.space {
            s = " NaN".into();
        }
        let spec = Spec {
            zero: false,
            ..spec.clone()
        };
        pad(out, &s, &spec);
        return;
    }
    if spec.plus && !s.starts_with('-') {
        s.insert(0, '+');
    } else if spec.space && !s.starts_with('-') {
        s.insert(0, ' ');
    }
    if f.is_infinite() {
        let spec = Spec {
            zero: false,
            ..spec.clone()
        };
        pad(out, &s, &spec);
        return;
    }
    pad_number(out, &s, spec);
}

/// `%x` of a float: `0x1.cp+01`.
fn hex_float(f: f64) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0x0p+00");
    }
    let bits = f.abs().to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        // Subnormal: normalise.
        let shift = mant.leading_zeros() as i64 - 11;
        mant = (mant << shift) & ((1u64 << 52) - 1);
        exp = 1 - shift;
    }
    let e = exp - 1023;
    let mut h = format!("{mant:013x}");
    while h.ends_with('0') {
        h.pop();
    }
    let frac = if h.is_empty() {
        String::new()
    } else {
        format!(".{h}")
    };
    format!(
        "{sign}0x1{frac}p{}{:02}",
        if e < 0 { '-' } else { '+' },
        e.abs()
    )
}

/// `%e` with `prec` digits after the point.
pub fn format_e(f: f64, prec: usize) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let s = format!("{:.*e}", prec, f);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mant = if f == 0.0 && f.is_sign_negative() && !mant.starts_with('-') {
        format!("-{mant}")
    } else {
        mant.to_string()
    };
    format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// `%f` with `prec` digits after the point.
pub fn format_fixed(f: f64, prec: usize) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    format!("{:.*}", prec, f)
}

/// `strconv.Quote`.
pub fn quote(s: &str) -> String {
    quote_with(s, false)
}

fn quote_with(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_char(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    escape_char(&mut out, c, '\'', false);
    out.push('\'');
    out
}

fn escape_char(out: &mut String, c: char, q: char, ascii_only: bool) {
    // A raw byte of a Go string (see gostr), as strconv.Quote writes it.
    if let Some(b) = crate::gostr::raw_byte(c) {
        out.push_str(&format!("\\x{b:02x}"));
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == q => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if ascii_only && !c.is_ascii() || !is_go_printable(c) => {
            let n = c as u32;
            if n < 0x10000 {
                out.push_str(&format!("\\u{n:04x}"));
            } else {
                out.push_str(&format!("\\U{n:08x}"));
            }
        }
        c => out.push(c),
    }
}

/// Approximates `strconv.IsPrint`: letters, marks, numbers, punctuation,
/// symbols and the ASCII space.
pub(crate) fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_ascii() {
        return c.is_ascii_graphic();
    }
    // unicode.IsPrint: letters, marks, numbers, punctuation and symbols
    // (not spaces, controls, formats, private use or unassigned).
    use std::sync::OnceLock;
    static PRINT: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let Some(print) = PRINT
        .get_or_init(|| regex::Regex::new(r"^[\p{L}\p{M}\p{N}\p{P}\p{S}]$").ok())
        .as_ref()
    else {
        return !c.is_control() && !c.is_whitespace();
    };
    let mut buf = [0u8; 4];
    print.is_match(c.encode_utf8(&mut buf))
}

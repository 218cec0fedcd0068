//! Times and durations: Go layouts (`2006-01-02T15:04:05Z07:00`), Unix
//! seconds, `time.Duration` spelling. Zones: UTC; `Local` is UTC (the
//! controllers run in UTC); other zone names fall back to UTC as sprig
//! does for unknown ones.

use super::{F, arg, s};
use crate::value::{Object, Value};

/// Go's `time.Time` (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl GoTime {
    /// The current time.
    pub fn now() -> GoTime {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        GoTime {
            secs: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
        }
    }

    fn civil(&self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let days = self.secs.div_euclid(86400);
        let rem = self.secs.rem_euclid(86400);
        let (y, m, d) = civil_from_days(days);
        let wday = ((days + 4).rem_euclid(7)) as u32; // 1970-01-01 was a Thursday
        (
            y,
            m,
            d,
            (rem / 3600) as u32,
            ((rem % 3600) / 60) as u32,
            (rem % 60) as u32,
            wday,
        )
    }

    /// Formats with a Go layout.
    pub fn format(&self, layout: &str) -> String {
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        const DAYS: [&str; 7] = [
            "Sunday",
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
        ];
        let (y, mo, d, h, mi, sec, wd) = self.civil();
        let yday = {
            let start = days_from_civil(y, 1, 1);
            (self.secs.div_euclid(86400) - start + 1) as u32
        };
        let mut out = String::new();
        let mut l = layout;
        while !l.is_empty() {
            let tok: &[Token<'_>] = &[
                ("January", &|o: &mut String| {
                    o.push_str(MONTHS[(mo - 1) as usize])
                }),
                ("Jan", &|o: &mut String| {
                    o.push_str(&MONTHS[(mo - 1) as usize][..3])
                }),
                ("Monday", &|o: &mut String| o.push_str(DAYS[wd as usize])),
                ("Mon", &|o: &mut String| o.push_str(&DAYS[wd as usize][..3])),
                ("MST", &|o: &mut String| o.push_str("UTC")),
                ("2006", &|o: &mut String| o.push_str(&format!("{y:04}"))),
                ("-07:00:00", &|o: &mut String| o.push_str("+00:00:00")),
                ("-0700", &|o: &mut String| o.push_str("+0000")),
                ("-07:00", &|o: &mut String| o.push_str("+00:00")),
                ("-07", &|o: &mut String| o.push_str("+00")),
                ("Z07:00:00", &|o: &mut String| o.push('Z')),
                ("Z0700", &|o: &mut String| o.push('Z')),
                ("Z07:00", &|o: &mut String| o.push('Z')),
                ("Z07", &|o: &mut String| o.push('Z')),
                ("002", &|o: &mut String| o.push_str(&format!("{yday:03}"))),
                ("__2", &|o: &mut String| o.push_str(&format!("{yday:>3}"))),
                ("01", &|o: &mut String| o.push_str(&format!("{mo:02}"))),
                ("02", &|o: &mut String| o.push_str(&format!("{d:02}"))),
                ("03", &|o: &mut String| {
                    o.push_str(&format!("{:02}", if h % 12 == 0 { 12 } else { h % 12 }))
                }),
                ("04", &|o: &mut String| o.push_str(&format!("{mi:02}"))),
                ("05", &|o: &mut String| o.push_str(&format!("{sec:02}"))),
                ("06", &|o: &mut String| {
                    o.push_str(&format!("{:02}", y.rem_euclid(100)))
                }),
                ("15", &|o: &mut String| o.push_str(&format!("{h:02}"))),
                ("_2", &|o: &mut String| o.push_str(&format!("{d:>2}"))),
                ("PM", &|o: &mut String| {
                    o.push_str(if h >= 12 { "PM" } else { "AM" })
                }),
                ("pm", &|o: &mut String| {
                    o.push_str(if h >= 12 { "pm" } else { "am" })
                }),
                ("1", &|o: &mut String| o.push_str(&mo.to_string())),
                ("2", &|o: &mut String| o.push_str(&d.to_string())),
                ("3", &|o: &mut String| {
                    o.push_str(&(if h % 12 == 0 { 12 } else { h % 12 }).to_string())
                }),
                ("4", &|o: &mut String| o.push_str(&mi.to_string())),
                ("5", &|o: &mut String| o.push_str(&sec.to_string())),
            ];
            // Fractional seconds: .000 / ,000 (fixed) and .999 (trimmed).
            let b = l.as_bytes();
            if (b[0] == b'.' || b[0] == b',') && b.len() > 1 && (b[1] == b'0' || b[1] == b'9') {
                let digit = b[1];
                let n = b[1..].iter().take_while(|c| **c == digit).count();
                let after = b.get(1 + n);
                if !after.is_some_and(u8::is_ascii_digit) {
                    let frac = format!("{:09}", self.nanos);
                    let frac = &frac[..n.min(9)];
                    if digit == b'0' {
                        out.push(char::from(b[0]));
                        out.push_str(frac);
                    } else {
                        let t = frac.trim_end_matches('0');
                        if !t.is_empty() {
                            out.push(char::from(b[0]));
                            out.push_str(t);
                        }
                    }
                    l = &l[1 + n..];
                    continue;
                }
            }
            let mut matched = false;
            for (t, f) in tok {
                if l.starts_with(t) {
                    f(&mut out);
                    l = &l[t.len()..];
                    matched = true;
                    break;
                }
            }
            if !matched {
                let c = l.chars().next().unwrap_or(' ');
                out.push(c);
                l = &l[c.len_utf8()..];
            }
        }
        out
    }
}

impl Object for GoTime {
    fn type_name(&self) -> String {
        "time.Time".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Unix" => Some(Value::Int64(self.secs)),
            "Year" => Some(Value::Int(self.civil().0)),
            _ => None,
        }
    }
    fn display(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

type Token<'a> = (&'a str, &'a dyn Fn(&mut String));

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn time_arg(v: &Value) -> GoTime {
    match v {
        Value::Object(o) => o
            .as_any()
            .downcast_ref::<GoTime>()
            .copied()
            .unwrap_or_else(GoTime::now),
        Value::Int(s) | Value::Int64(s) => GoTime { secs: *s, nanos: 0 },
        _ => GoTime::now(),
    }
}

fn obj(t: GoTime) -> Value {
    Value::Object(std::rc::Rc::new(t))
}

/// `time.Duration.String()`.
pub fn duration_string(d: i128) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1u128)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac_str(u, div));
        out.push_str(unit);
    } else {
        let h = u / 3_600_000_000_000;
        let rem = u % 3_600_000_000_000;
        let m = rem / 60_000_000_000;
        let s = rem % 60_000_000_000;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac_str(s, 1_000_000_000));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

fn frac_str(v: u128, div: u128) -> String {
    let int = v / div;
    let frac = v % div;
    if frac == 0 {
        return int.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// `time.ParseDuration`.
pub fn parse_duration(s: &str) -> Option<i128> {
    let (neg, mut t) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if t == "0" {
        return Some(0);
    }
    if t.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !t.is_empty() {
        let num_end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        if num_end == 0 {
            return None;
        }
        let num: f64 = t[..num_end].parse().ok()?;
        t = &t[num_end..];
        let unit_end = t
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(t.len());
        let mult = match &t[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        t = &t[unit_end..];
        total += num * mult;
    }
    let v = total.round() as i128;
    Some(if neg { -v } else { v })
}

pub(super) fn register(add: &mut impl FnMut(&str, &str, &str, F)) {
    add("now", "", "time.Time", |_, _| Ok(obj(GoTime::now())));
    add("date", "string,interface {}", "string", |_, a| {
        Ok(Value::string(time_arg(arg(&a, 1)).format(s(&a, 0))))
    });
    for name in ["dateInZone", "date_in_zone"] {
        add(name, "string,interface {},string", "string", |_, a| {
            Ok(Value::string(time_arg(arg(&a, 1)).format(s(&a, 0))))
        });
    }
    add("htmlDate", "interface {}", "string", |_, a| {
        Ok(Value::string(time_arg(arg(&a, 0)).format("2006-01-02")))
    });
    add("htmlDateInZone", "interface {},string", "string", |_, a| {
        Ok(Value::string(time_arg(arg(&a, 0)).format("2006-01-02")))
    });
    add("unixEpoch", "time.Time", "string", |_, a| {
        Ok(Value::string(time_arg(arg(&a, 0)).secs.to_string()))
    });
    for (name, must) in [
        ("dateModify", false),
        ("date_modify", false),
        ("mustDateModify", true),
        ("must_date_modify", true),
    ] {
        let f: F = if must {
            |_, a| {
                let d = parse_duration(s(&a, 0)).ok_or_else(|| {
                    format!("time: invalid duration {}", crate::gofmt::quote(s(&a, 0)))
                })?;
                Ok(obj(add_dur(time_arg(arg(&a, 1)), d)))
            }
        } else {
            |_, a| {
                let t = time_arg(arg(&a, 1));
                Ok(obj(parse_duration(s(&a, 0)).map_or(t, |d| add_dur(t, d))))
            }
        };
        add(
            name,
            "string,time.Time",
            if must { "time.Time,error" } else { "time.Time" },
            f,
        );
    }
    add("duration", "interface {}", "string", |_, a| {
        let n: i128 = match arg(&a, 0) {
            Value::Str(s) => s.parse::<i64>().map(i128::from).unwrap_or(0),
            Value::Int64(v) => i128::from(*v),
            _ => 0,
        };
        Ok(Value::string(duration_string(n * 1_000_000_000)))
    });
    add("durationRound", "interface {}", "string", |_, a| {
        let d: i128 = match arg(&a, 0) {
            Value::Str(s) => parse_duration(s).unwrap_or(0),
            Value::Int64(v) => i128::from(*v),
            Value::Object(o) => o.as_any().downcast_ref::<GoTime>().map_or(0, |t| {
                let now = GoTime::now();
                (i128::from(now.secs) - i128::from(t.secs)) * 1_000_000_000 + i128::from(now.nanos)
                    - i128::from(t.nanos)
            }),
            _ => 0,
        };
        Ok(Value::string(duration_round(d)))
    });
    add("ago", "interface {}", "string", |_, a| {
        let t = time_arg(arg(&a, 0));
        let now = GoTime::now();
        let secs = now.secs - t.secs;
        Ok(Value::string(duration_string(
            i128::from(secs) * 1_000_000_000,
        )))
    });
    add("toDate", "string,string", "time.Time", |_, a| {
        Ok(obj(parse_time(s(&a, 0), s(&a, 1)).unwrap_or(GoTime {
            secs: -62_135_596_800,
            nanos: 0,
        })))
    });
    add("mustToDate", "string,string", "time.Time,error", |_, a| {
        parse_time(s(&a, 0), s(&a, 1)).map(obj).ok_or_else(|| {
            format!(
                "parsing time {} as {}: cannot parse",
                crate::gofmt::quote(s(&a, 1)),
                crate::gofmt::quote(s(&a, 0))
            )
        })
    });
}

fn add_dur(t: GoTime, d: i128) -> GoTime {
    let total = i128::from(t.secs) * 1_000_000_000 + i128::from(t.nanos) + d;
    GoTime {
        secs: total.div_euclid(1_000_000_000) as i64,
        nanos: total.rem_euclid(1_000_000_000) as u32,
    }
}

fn duration_round(d: i128) -> String {
    let u = d.unsigned_abs();
    let neg = if d < 0 { "-" } else { "" };
    let hour: u128 = 3_600_000_000_000;
    let (year, month, day, minute, second) = (
        hour * 24 * 365,
        hour * 24 * 30,
        hour * 24,
        60_000_000_000u128,
        1_000_000_000u128,
    );
    if u > year {
        format!("{neg}{}y", u / year)
    } else if u > month {
        format!("{neg}{}mo", u / month)
    } else if u > day {
        format!("{neg}{}d", u / day)
    } else if u > hour {
        format!("{neg}{}h", u / hour)
    } else if u > minute {
        format!("{neg}{}m", u / minute)
    } else if u > second {
        format!("{neg}{}s", u / second)
    } else {
        "0s".into()
    }
}

/// Parses the numeric Go layouts (`2006-01-02`, `2006-01-02T15:04:05Z07:00`,
/// `15:04`, …) in UTC.
fn parse_time(layout: &str, value: &str) -> Option<GoTime> {
    let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut nanos, mut off) =
        (1i64, 1u32, 1u32, 0u32, 0u32, 0u32, 0u32, 0i64);
    let mut l = layout;
    let mut v = value;
    fn num(v: &mut &str, n: usize) -> Option<i64> {
        let t = v.get(..n)?;
        if !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *v = &v[n..];
        t.parse().ok()
    }
    while !l.is_empty() {
        if let Some(r) = l.strip_prefix("2006") {
            y = num(&mut v, 4)?;
            l = r;
        } else if let Some(r) = l.strip_prefix("01") {
            mo = num(&mut v, 2)? as u32;
            l = r;
        } else if let Some(r) = l.strip_prefix("02") {
            d = num(&mut v, 2)? as u32;
            l = r;
        } else if let Some(r) = l.strip_prefix("15") {
            h = num(&mut v, 2)? as u32;
            l = r;
        } else if let Some(r) = l.strip_prefix("04") {
            mi = num(&mut v, 2)? as u32;
            l = r;
        } else if let Some(r) = l.strip_prefix("05") {
            s = num(&mut v, 2)? as u32;
            l = r;
            if let Some(rest) = v.strip_prefix('.') {
                let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                let digits = &rest[..n];
                nanos = format!("{digits:0<9}")[..9].parse().ok()?;
                v = &rest[n..];
                if let Some(r2) = l
                    .strip_prefix(".000000000")
                    .or_else(|| l.strip_prefix(".999999999"))
                {
                    l = r2;
                }
            }
        } else if let Some(r) = l.strip_prefix("Z07:00") {
            if let Some(rest) = v.strip_prefix('Z') {
                v = rest;
            } else {
                let sign = if v.starts_with('-') { -1 } else { 1 };
                v = v.get(1..)?;
                let oh = num(&mut v, 2)?;
                v = v.strip_prefix(':')?;
                let om = num(&mut v, 2)?;
                off = sign * (oh * 3600 + om * 60);
            }
            l = r;
        } else {
            let c = l.chars().next()?;
            v = v.strip_prefix(c)?;
            l = &l[c.len_utf8()..];
        }
    }
    if !v.is_empty()
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || s > 59
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(GoTime {
        secs: days * 86400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s) - off,
        nanos,
    })
}

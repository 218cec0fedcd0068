//! Times and durations: Go layouts (`2006-01-02T15:04:05Z07:00`), Unix
//! seconds, `time.Duration` spelling, zones from the system's zone
//! database. `Local` is UTC: the controllers run in UTC (documented).

use super::{F, arg, s};
use crate::value::{Object, Value};

/// Go's `time.Time`: an instant and the zone it is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Offset of the zone from UTC, in seconds.
    pub offset: i32,
    abbr: [u8; 8],
    abbr_len: u8,
}

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

impl GoTime {
    /// An instant in UTC.
    pub fn utc(secs: i64, nanos: u32) -> GoTime {
        GoTime {
            secs,
            nanos,
            offset: 0,
            abbr: *b"UTC\0\0\0\0\0",
            abbr_len: 3,
        }
    }

    /// The current time.
    pub fn now() -> GoTime {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        GoTime::utc(d.as_secs() as i64, d.subsec_nanos())
    }

    /// The same instant shown with an offset and an abbreviation ("" for
    /// a zone without a name: Go then prints the offset).
    pub fn with_zone(self, offset: i32, abbr: &str) -> GoTime {
        let mut a = [0u8; 8];
        let b = abbr.as_bytes();
        let n = b.len().min(8);
        a[..n].copy_from_slice(&b[..n]);
        GoTime {
            offset,
            abbr: a,
            abbr_len: n as u8,
            ..self
        }
    }

    fn zone_name(&self) -> String {
        let a = String::from_utf8_lossy(&self.abbr[..usize::from(self.abbr_len)]).into_owned();
        if !a.is_empty() {
            return a;
        }
        let o = self.offset;
        let (h, m) = (o.abs() / 3600, (o.abs() % 3600) / 60);
        let sign = if o < 0 { '-' } else { '+' };
        if m == 0 {
            format!("{sign}{h:02}")
        } else {
            format!("{sign}{h:02}{m:02}")
        }
    }

    /// `-0700`, `-07:00`, `-07:00:00` and `-07`; `z` = ISO forms (`Z` at UTC).
    fn offset_str(&self, colon: bool, secs: bool, hours_only: bool, z: bool) -> String {
        let o = self.offset;
        if z && o == 0 {
            return "Z".into();
        }
        let sign = if o < 0 { '-' } else { '+' };
        let (h, m, s) = (o.abs() / 3600, (o.abs() % 3600) / 60, o.abs() % 60);
        let sep = if colon { ":" } else { "" };
        if hours_only {
            format!("{sign}{h:02}")
        } else if secs {
            format!("{sign}{h:02}{sep}{m:02}{sep}{s:02}")
        } else {
            format!("{sign}{h:02}{sep}{m:02}")
        }
    }

    /// Year, month, day, hour, minute, second, weekday, day of year, in
    /// the time's zone.
    fn civil(&self) -> (i64, u32, u32, u32, u32, u32, u32, u32) {
        let local = self.secs + i64::from(self.offset);
        let days = local.div_euclid(86400);
        let rem = local.rem_euclid(86400);
        let (y, m, d) = civil_from_days(days);
        let wday = ((days + 4).rem_euclid(7)) as u32; // 1970-01-01 was a Thursday
        let yday = (days - days_from_civil(y, 1, 1) + 1) as u32;
        (
            y,
            m,
            d,
            (rem / 3600) as u32,
            ((rem % 3600) / 60) as u32,
            (rem % 60) as u32,
            wday,
            yday,
        )
    }

    /// `format("2006-01-02T15:04:05.999999999Z07:00")` (RFC 3339 with
    /// nanoseconds, as Go marshals a time to JSON) without reading a
    /// layout: a large Helm index holds tens of thousands.
    pub fn format_rfc3339_nano(&self) -> String {
        use std::fmt::Write as _;
        const LAYOUT: &str = "2006-01-02T15:04:05.999999999Z07:00";
        let (y, mo, d, h, mi, s, _, _) = self.civil();
        if !(0..=9999).contains(&y) {
            return self.format(LAYOUT);
        }
        let mut out = String::with_capacity(36);
        let _ = write!(out, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
        if self.nanos > 0 {
            let digits = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        out.push_str(&self.offset_str(true, false, false, true));
        out
    }

    /// Formats with a Go layout.
    pub fn format(&self, layout: &str) -> String {
        let (y, mo, d, h, mi, sec, wd, yday) = self.civil();
        let h12 = if h % 12 == 0 { 12 } else { h % 12 };
        let mut out = String::new();
        let mut l = layout;
        while !l.is_empty() {
            let b = l.as_bytes();
            // Fractional seconds: .000 / ,000 (fixed) and .999 (trimmed).
            if (b[0] == b'.' || b[0] == b',') && b.len() > 1 && (b[1] == b'0' || b[1] == b'9') {
                let digit = b[1];
                let n = b[1..].iter().take_while(|c| **c == digit).count();
                if !b.get(1 + n).is_some_and(u8::is_ascii_digit) {
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
            let tokens: [(&str, String); 31] = [
                ("January", MONTHS[(mo - 1) as usize].to_string()),
                ("Jan", MONTHS[(mo - 1) as usize][..3].to_string()),
                ("Monday", DAYS[wd as usize].to_string()),
                ("Mon", DAYS[wd as usize][..3].to_string()),
                ("MST", self.zone_name()),
                ("2006", format!("{y:04}")),
                ("-07:00:00", self.offset_str(true, true, false, false)),
                ("-0700", self.offset_str(false, false, false, false)),
                ("-07:00", self.offset_str(true, false, false, false)),
                ("-07", self.offset_str(false, false, true, false)),
                ("Z07:00:00", self.offset_str(true, true, false, true)),
                ("Z0700", self.offset_str(false, false, false, true)),
                ("Z07:00", self.offset_str(true, false, false, true)),
                ("Z07", self.offset_str(false, false, true, true)),
                ("002", format!("{yday:03}")),
                ("__2", format!("{yday:>3}")),
                ("01", format!("{mo:02}")),
                ("02", format!("{d:02}")),
                ("03", format!("{h12:02}")),
                ("04", format!("{mi:02}")),
                ("05", format!("{sec:02}")),
                ("06", format!("{:02}", y.rem_euclid(100))),
                ("15", format!("{h:02}")),
                ("_2", format!("{d:>2}")),
                ("PM", (if h >= 12 { "PM" } else { "AM" }).to_string()),
                ("pm", (if h >= 12 { "pm" } else { "am" }).to_string()),
                ("1", mo.to_string()),
                ("2", d.to_string()),
                ("3", h12.to_string()),
                ("4", mi.to_string()),
                ("5", sec.to_string()),
            ];
            match tokens.iter().find(|(t, _)| l.starts_with(t)) {
                Some((t, v)) => {
                    out.push_str(v);
                    l = &l[t.len()..];
                }
                None => {
                    let c = l.chars().next().unwrap_or(' ');
                    out.push(c);
                    l = &l[c.len_utf8()..];
                }
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

fn time_arg(v: &Value) -> GoTime {
    match v {
        Value::Object(o) => o
            .as_any()
            .downcast_ref::<GoTime>()
            .copied()
            .unwrap_or_else(GoTime::now),
        Value::Int(s) | Value::Int64(s) => GoTime::utc(*s, 0),
        _ => GoTime::now(),
    }
}

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

fn obj(t: GoTime) -> Value {
    Value::Object(std::rc::Rc::new(t))
}

/// `time.Duration.String()` of `d` nanoseconds, wrapped to `int64` as
/// Go's duration arithmetic wraps.
pub fn duration_string(d: i128) -> String {
    flux_go::duration::format(d as i64)
}

/// `time.ParseDuration`, in nanoseconds.
pub fn parse_duration(s: &str) -> Option<i128> {
    flux_go::duration::parse(s).ok().map(i128::from)
}

pub(super) fn register(add: &mut impl FnMut(&str, &str, &str, F)) {
    add("now", "", "time.Time", |_, _| Ok(obj(GoTime::now())));
    add("date", "string,interface {}", "string", |_, a| {
        Ok(Value::string(
            in_zone(time_arg(arg(&a, 1)), "Local").format(s(&a, 0)),
        ))
    });
    for name in ["dateInZone", "date_in_zone"] {
        add(name, "string,interface {},string", "string", |_, a| {
            Ok(Value::string(
                in_zone(time_arg(arg(&a, 1)), s(&a, 2)).format(s(&a, 0)),
            ))
        });
    }
    add("htmlDate", "interface {}", "string", |_, a| {
        Ok(Value::string(
            in_zone(time_arg(arg(&a, 0)), "Local").format("2006-01-02"),
        ))
    });
    add("htmlDateInZone", "interface {},string", "string", |_, a| {
        Ok(Value::string(
            in_zone(time_arg(arg(&a, 0)), s(&a, 1)).format("2006-01-02"),
        ))
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
                let d = flux_go::duration::parse(s(&a, 0)).map_err(|e| e.to_string())?;
                let d = i128::from(d);
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
        let secs = GoTime::now().secs - t.secs;
        Ok(Value::string(duration_string(
            i128::from(secs) * 1_000_000_000,
        )))
    });
    add("toDate", "string,string", "time.Time", |_, a| {
        Ok(obj(
            parse_time(s(&a, 0), s(&a, 1)).unwrap_or(GoTime::utc(-62_135_596_800, 0))
        ))
    });
    add("mustToDate", "string,string", "time.Time,error", |_, a| {
        parse_time(s(&a, 0), s(&a, 1)).map(obj)
    });
}

fn add_dur(t: GoTime, d: i128) -> GoTime {
    let total = i128::from(t.secs) * 1_000_000_000 + i128::from(t.nanos) + d;
    GoTime {
        secs: total.div_euclid(1_000_000_000) as i64,
        nanos: total.rem_euclid(1_000_000_000) as u32,
        ..t
    }
}

/// sprig's durationRound: the largest whole unit, without the sign.
fn duration_round(d: i128) -> String {
    let u = d.unsigned_abs();
    let hour: u128 = 3_600_000_000_000;
    let (year, month, day, minute, second) = (
        hour * 24 * 365,
        hour * 24 * 30,
        hour * 24,
        60_000_000_000u128,
        1_000_000_000u128,
    );
    if u > year {
        format!("{}y", u / year)
    } else if u > month {
        format!("{}mo", u / month)
    } else if u > day {
        format!("{}d", u / day)
    } else if u > hour {
        format!("{}h", u / hour)
    } else if u > minute {
        format!("{}m", u / minute)
    } else if u > second {
        format!("{}s", u / second)
    } else {
        "0s".into()
    }
}

const LAYOUT_ELEMS: [&str; 7] = ["2006", "01", "02", "15", "04", "05", "Z07:00"];

/// Parses the numeric Go layouts (`2006-01-02`, `2006-01-02T15:04:05Z07:00`,
/// `15:04`, …) as UTC, with Go's error messages.
fn parse_time(layout: &str, value: &str) -> Result<GoTime, String> {
    let q = crate::gofmt::quote;
    let bad = |rest: &str, elem: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            q(value),
            q(layout),
            q(rest),
            q(elem)
        )
    };
    let num = |v: &mut &str, n: usize, elem: &str| -> Result<i64, String> {
        let t = v
            .get(..n)
            .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad(v, elem))?;
        *v = &v[n..];
        t.parse().map_err(|_| bad(t, elem))
    };
    let (mut y, mut mo, mut d, mut h, mut mi, mut sec) = (1i64, 1i64, 1i64, 0i64, 0i64, 0i64);
    let (mut nanos, mut off) = (0u32, None::<i64>);
    let mut l = layout;
    let mut v = value;
    while !l.is_empty() {
        let Some(elem) = LAYOUT_ELEMS.iter().find(|e| l.starts_with(**e)) else {
            // Literal text up to the next element must match as is.
            let end = (1..=l.len())
                .find(|i| {
                    l.is_char_boundary(*i) && LAYOUT_ELEMS.iter().any(|e| l[*i..].starts_with(e))
                })
                .unwrap_or(l.len());
            let lit = &l[..end];
            v = v.strip_prefix(lit).ok_or_else(|| bad(v, lit))?;
            l = &l[end..];
            continue;
        };
        l = &l[elem.len()..];
        match *elem {
            "2006" => y = num(&mut v, 4, elem)?,
            "01" => mo = num(&mut v, 2, elem)?,
            "02" => d = num(&mut v, 2, elem)?,
            "15" => h = num(&mut v, 2, elem)?,
            "04" => mi = num(&mut v, 2, elem)?,
            "05" => {
                sec = num(&mut v, 2, elem)?;
                // A fractional-second element (.000 / .999) in the layout.
                let lb = l.as_bytes();
                if lb.len() > 1
                    && (lb[0] == b'.' || lb[0] == b',')
                    && (lb[1] == b'0' || lb[1] == b'9')
                {
                    let n = lb[1..].iter().take_while(|c| **c == lb[1]).count();
                    l = &l[1 + n..];
                }
                if let Some(rest) = v.strip_prefix('.') {
                    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                    nanos = format!("{:0<9}", &rest[..n])
                        .get(..9)
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(0);
                    v = &rest[n..];
                }
            }
            _ => {
                if let Some(rest) = v.strip_prefix('Z') {
                    v = rest;
                    off = Some(0);
                } else {
                    let sign = match v.as_bytes().first() {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return Err(bad(v, elem)),
                    };
                    let mut w = &v[1..];
                    let oh = num(&mut w, 2, elem).map_err(|_| bad(v, elem))?;
                    w = w.strip_prefix(':').ok_or_else(|| bad(v, elem))?;
                    let om = num(&mut w, 2, elem).map_err(|_| bad(v, elem))?;
                    v = w;
                    off = Some(sign * (oh * 3600 + om * 60));
                }
            }
        }
    }
    if !v.is_empty() {
        return Err(format!("parsing time {}: extra text: {}", q(value), q(v)));
    }
    let range = |what: &str| format!("parsing time {}: {what} out of range", q(value));
    if !(1..=12).contains(&mo) {
        return Err(range("month"));
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d < 1 || d > dim[(mo - 1) as usize] {
        return Err(range("day"));
    }
    if h > 23 {
        return Err(range("hour"));
    }
    if mi > 59 {
        return Err(range("minute"));
    }
    if sec > 59 {
        return Err(range("second"));
    }
    let local = days_from_civil(y, mo as u32, d as u32) * 86400 + h * 3600 + mi * 60 + sec;
    Ok(match off {
        None | Some(0) => GoTime::utc(local, nanos),
        Some(o) => GoTime::utc(local - o, nanos).with_zone(o as i32, ""),
    })
}

/// The instant shown in a named zone (the system's zone database);
/// unknown zones are UTC, as sprig falls back; `Local` is UTC.
fn in_zone(t: GoTime, zone: &str) -> GoTime {
    let utc = GoTime::utc(t.secs, t.nanos);
    if zone.is_empty() || zone == "UTC" || zone == "Local" {
        return utc;
    }
    match zone_at(zone, t.secs) {
        Some((offset, abbr)) => utc.with_zone(offset, &abbr),
        None => utc,
    }
}

fn be32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// The six counts of a TZif header.
fn tzif_header(b: &[u8]) -> Option<[usize; 6]> {
    if b.get(..4)? != b"TZif" {
        return None;
    }
    let mut c = [0usize; 6];
    for (k, x) in c.iter_mut().enumerate() {
        *x = be32(b, 20 + k * 4)? as usize;
    }
    Some(c)
}

/// The offset and abbreviation of `zone` at `secs`, from the TZif file
/// (64-bit data of version 2+ files).
fn zone_at(zone: &str, secs: i64) -> Option<(i32, String)> {
    if zone.starts_with('/')
        || zone.split('/').any(|p| p == ".." || p.is_empty())
        || zone.len() > 64
    {
        return None;
    }
    let dir = std::env::var_os("ZONEINFO").map_or_else(
        || std::path::PathBuf::from("/usr/share/zoneinfo"),
        std::path::PathBuf::from,
    );
    let data = std::fs::read(dir.join(zone)).ok()?;
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = tzif_header(&data)?;
    let v1_len = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    let (b, tsize) = if data.get(4).is_some_and(|v| *v >= b'2') {
        (data.get(v1_len..)?, 8)
    } else {
        (&data[..], 4)
    };
    let [_, _, _, timecnt, typecnt, charcnt] = tzif_header(b)?;
    let mut p = 44;
    let mut times = Vec::with_capacity(timecnt);
    for i in 0..timecnt {
        times.push(if tsize == 8 {
            i64::from_be_bytes(b.get(p + i * 8..p + i * 8 + 8)?.try_into().ok()?)
        } else {
            i64::from(be32(b, p + i * 4)? as i32)
        });
    }
    p += timecnt * tsize;
    let idx = b.get(p..p + timecnt)?;
    p += timecnt;
    let mut types = Vec::with_capacity(typecnt);
    for i in 0..typecnt {
        types.push((
            be32(b, p + i * 6)? as i32,
            usize::from(*b.get(p + i * 6 + 5)?),
        ));
    }
    p += typecnt * 6;
    let chars = b.get(p..p + charcnt)?;
    let which = times
        .iter()
        .rposition(|t| *t <= secs)
        .map_or(0, |i| usize::from(idx[i]));
    let (off, ai) = *types.get(which)?;
    let abbr: String = chars
        .get(ai..)?
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| char::from(*c))
        .collect();
    Some((off, abbr))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_nano_is_the_layout_formatted() {
        const LAYOUT: &str = "2006-01-02T15:04:05.999999999Z07:00";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let offsets = [0, 3600, -3600, 19800, -34200, 45296, -1, 59, 86399, -86399];
        let nanos = [0, 1, 10, 100_000_000, 123_456_789, 999_999_999, 500];
        for i in 0..20_000u64 {
            // From before year 0 to after 9999 (the layout's fallback).
            let secs = (next() % 700_000_000_000) as i64 - 350_000_000_000;
            let t = super::GoTime::utc(secs, nanos[(i % 7) as usize])
                .with_zone(offsets[(next() % 10) as usize], "");
            assert_eq!(t.format_rfc3339_nano(), t.format(LAYOUT), "{secs} {i}");
        }
    }
}

//! String functions: case, trimming, quoting, splitting and joining,
//! wrapping, abbreviation, paths, encodings, hashes, regular expressions,
//! random strings, UUIDs, URLs and semantic versions.

use std::collections::BTreeMap;

use base64::Engine as _;
use sha1::Digest as _;
use sha2::Digest as _;

use super::{F, arg, iface_list, items, n, random_bytes, s, str_list, strval};
use crate::gofmt;
use crate::gostr::{from_bytes, go_len, to_bytes, to_text};
use crate::value::{ListTy, MapTy, Value};

fn ok_s(v: String) -> crate::value::FuncResult {
    Ok(Value::string(v))
}

pub(super) fn register(add: &mut impl FnMut(&str, &str, &str, F)) {
    add("hello", "", "string", |_, _| ok_s("Hello!".into()));
    // Case mappings decode runes: a raw byte becomes U+FFFD, as in Go.
    add("upper", "string", "string", |_, a| {
        ok_s(to_text(s(&a, 0)).chars().map(upper_rune).collect())
    });
    add("lower", "string", "string", |_, a| {
        ok_s(to_text(s(&a, 0)).chars().map(lower_rune).collect())
    });
    add("title", "string", "string", |_, a| {
        ok_s(title(&to_text(s(&a, 0))))
    });
    add("untitle", "string", "string", |_, a| {
        let mut gap = true;
        ok_s(
            to_text(s(&a, 0))
                .chars()
                .map(|c| {
                    let r = if gap { lower_rune(c) } else { c };
                    gap = c.is_whitespace();
                    r
                })
                .collect(),
        )
    });
    add("trim", "string", "string", |_, a| {
        ok_s(s(&a, 0).trim_matches(char::is_whitespace).to_string())
    });
    for name in ["trimAll", "trimall"] {
        add(name, "string,string", "string", |_, a| {
            let cut: Vec<char> = s(&a, 0).chars().collect();
            ok_s(s(&a, 1).trim_matches(|c| cut.contains(&c)).to_string())
        });
    }
    add("trimSuffix", "string,string", "string", |_, a| {
        ok_s(
            s(&a, 1)
                .strip_suffix(s(&a, 0))
                .unwrap_or(s(&a, 1))
                .to_string(),
        )
    });
    add("trimPrefix", "string,string", "string", |_, a| {
        ok_s(
            s(&a, 1)
                .strip_prefix(s(&a, 0))
                .unwrap_or(s(&a, 1))
                .to_string(),
        )
    });
    // goutils.DeleteWhiteSpace walks bytes, each taken as a Latin-1 rune:
    // when it removes anything, a multi-byte character comes out as its
    // bytes' Latin-1 characters (and a 0x85 or 0xA0 byte is removed).
    add("nospace", "string", "string", |_, a| {
        let bytes = to_bytes(s(&a, 0));
        let kept: String = bytes
            .iter()
            .map(|b| char::from(*b))
            .filter(|c| !go_is_space(*c))
            .collect();
        if kept.chars().count() == bytes.len() {
            return ok_s(s(&a, 0).to_string());
        }
        ok_s(kept)
    });
    add("contains", "string,string", "bool", |_, a| {
        Ok(Value::Bool(s(&a, 1).contains(s(&a, 0))))
    });
    add("hasPrefix", "string,string", "bool", |_, a| {
        Ok(Value::Bool(s(&a, 1).starts_with(s(&a, 0))))
    });
    add("hasSuffix", "string,string", "bool", |_, a| {
        Ok(Value::Bool(s(&a, 1).ends_with(s(&a, 0))))
    });
    add("repeat", "int,string", "string", |_, a| {
        let c = n(&a, 0);
        if c < 0 {
            return Err("strings: negative Repeat count".into());
        }
        let t = s(&a, 1);
        if (t.len() as u128) * (c as u128) > 64 << 20 {
            return Err("strings: Repeat output length overflow".into());
        }
        ok_s(t.repeat(c as usize))
    });
    add("replace", "string,string,string", "string", |_, a| {
        ok_s(go_replace(s(&a, 2), s(&a, 0), s(&a, 1)))
    });
    add("plural", "string,string,int", "string", |_, a| {
        ok_s(if n(&a, 2) == 1 { s(&a, 0) } else { s(&a, 1) }.to_string())
    });
    add("indent", "int,string", "string", |_, a| {
        indent(n(&a, 0), s(&a, 1)).map(Value::string)
    });
    add("nindent", "int,string", "string", |_, a| {
        indent(n(&a, 0), s(&a, 1)).map(|i| Value::string(format!("\n{i}")))
    });
    // Go's trunc and substr cut bytes, and may cut a character.
    add("trunc", "int,string", "string", |_, a| {
        let (c, t) = (n(&a, 0), s(&a, 1));
        let len = go_len(t) as i64;
        let r = if c < 0 && len + c > 0 {
            byte_slice(t, (len + c) as usize, len as usize)
        } else if c >= 0 && len > c {
            byte_slice(t, 0, c as usize)
        } else {
            t.to_string()
        };
        ok_s(r)
    });
    add("substr", "int,int,string", "string", |_, a| {
        let (start, end, t) = (n(&a, 0), n(&a, 1), s(&a, 2));
        let len = go_len(t) as i64;
        if start < 0 {
            if end < 0 {
                return Err(format!("runtime error: slice bounds out of range [:{end}]"));
            }
            if end > len {
                return Err(format!(
                    "runtime error: slice bounds out of range [:{end}] with length {len}"
                ));
            }
            return ok_s(byte_slice(t, 0, end as usize));
        }
        if end < 0 || end > len {
            if start > len {
                return Err(format!(
                    "runtime error: slice bounds out of range [{start}:{len}]"
                ));
            }
            return ok_s(byte_slice(t, start as usize, len as usize));
        }
        if start > end {
            return Err(format!(
                "runtime error: slice bounds out of range [{start}:{end}]"
            ));
        }
        ok_s(byte_slice(t, start as usize, end as usize))
    });
    add("abbrev", "int,string", "string", |_, a| {
        let w = n(&a, 0);
        if w < 4 {
            return ok_s(s(&a, 1).to_string());
        }
        ok_s(abbreviate_full(s(&a, 1), 0, w))
    });
    add("abbrevboth", "int,int,string", "string", |_, a| {
        let (l, r) = (n(&a, 0), n(&a, 1));
        if r < 4 || l > 0 && r < 7 {
            return ok_s(s(&a, 2).to_string());
        }
        ok_s(abbreviate_full(s(&a, 2), l, r))
    });
    add("initials", "string", "string", |_, a| {
        // goutils' Initials: byte by byte, each byte a Latin-1 rune (Go's
        // bytes, not our text's UTF-8: a raw byte is one byte).
        let mut out = String::new();
        let mut gap = true;
        for &b in to_bytes(s(&a, 0)).iter() {
            let c = char::from(b);
            if go_is_space(c) {
                gap = true;
            } else if gap {
                out.push(c);
                gap = false;
            }
        }
        ok_s(out)
    });
    add("swapcase", "string", "string", |_, a| {
        ok_s(
            to_text(s(&a, 0))
                .chars()
                .flat_map(|c| -> Vec<char> {
                    // Go's one-rune case mappings (ß stays ß).
                    if c.is_uppercase() {
                        vec![lower_rune(c)]
                    } else if c.is_lowercase() {
                        vec![upper_rune(c)]
                    } else {
                        vec![c]
                    }
                })
                .collect(),
        )
    });
    add("camelcase", "string", "string", |_, a| {
        ok_s(pascal_case(&to_text(s(&a, 0))))
    });
    add("snakecase", "string", "string", |_, a| {
        ok_s(lower_case_words(s(&a, 0), '_'))
    });
    add("kebabcase", "string", "string", |_, a| {
        ok_s(lower_case_words(s(&a, 0), '-'))
    });
    add("shuffle", "string", "string", |_, a| {
        let mut c: Vec<char> = s(&a, 0).chars().collect();
        let r = random_bytes(c.len() * 4)?;
        for i in (1..c.len()).rev() {
            let x = u32::from_le_bytes([r[i * 4], r[i * 4 + 1], r[i * 4 + 2], r[i * 4 + 3]])
                as usize
                % (i + 1);
            c.swap(i, x);
        }
        ok_s(c.into_iter().collect())
    });
    add("wrap", "int,string", "string", |_, a| {
        ok_s(wrap(s(&a, 1), n(&a, 0), "\n", false))
    });
    add("wrapWith", "int,string,string", "string", |_, a| {
        ok_s(wrap(s(&a, 2), n(&a, 0), s(&a, 1), true))
    });
    add("quote", "...interface {}", "string", |_, a| {
        ok_s(
            a.iter()
                .filter(|v| !v.is_nil())
                .map(|v| gofmt::quote(&strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        )
    });
    add("squote", "...interface {}", "string", |_, a| {
        ok_s(
            a.iter()
                .filter(|v| !v.is_nil())
                .map(|v| format!("'{}'", gofmt::sprint(std::slice::from_ref(v))))
                .collect::<Vec<_>>()
                .join(" "),
        )
    });
    add("cat", "...interface {}", "string", |_, a| {
        let v: Vec<Value> = a.into_iter().filter(|v| !v.is_nil()).collect();
        let parts: Vec<String> = v
            .iter()
            .map(|x| gofmt::sprintf("%v", std::slice::from_ref(x)))
            .collect();
        ok_s(parts.join(" "))
    });
    add("toString", "interface {}", "string", |_, a| {
        ok_s(strval(arg(&a, 0)))
    });
    add("atoi", "string", "int", |_, a| {
        Ok(Value::Int(s(&a, 0).parse::<i64>().unwrap_or(0)))
    });
    add("split", "string,string", "map[string]string", |_, a| {
        Ok(parts_map(go_split(s(&a, 1), s(&a, 0), -1)))
    });
    add(
        "splitn",
        "string,int,string",
        "map[string]string",
        |_, a| Ok(parts_map(go_split(s(&a, 2), s(&a, 0), n(&a, 1)))),
    );
    add("splitList", "string,string", "[]string", |_, a| {
        Ok(str_list(go_split(s(&a, 1), s(&a, 0), -1)))
    });
    add("toStrings", "interface {}", "[]string", |_, a| {
        Ok(str_list(strslice(arg(&a, 0))))
    });
    add("join", "string,interface {}", "string", |_, a| {
        ok_s(strslice(arg(&a, 1)).join(s(&a, 0)))
    });
    add("sortAlpha", "interface {}", "[]string", |_, a| {
        let v = arg(&a, 0);
        let mut l = match v {
            Value::List(_) | Value::Bytes(_) => strslice(v),
            other => vec![strval(other)],
        };
        l.sort();
        Ok(str_list(l))
    });
    add("base", "string", "string", |_, a| ok_s(path_base(s(&a, 0))));
    add("dir", "string", "string", |_, a| ok_s(path_dir(s(&a, 0))));
    add("clean", "string", "string", |_, a| {
        ok_s(flux_go::path::clean(s(&a, 0)))
    });
    add("ext", "string", "string", |_, a| ok_s(path_ext(s(&a, 0))));
    add("isAbs", "string", "bool", |_, a| {
        Ok(Value::Bool(s(&a, 0).starts_with('/')))
    });
    add("osBase", "string", "string", |_, a| {
        ok_s(path_base(s(&a, 0)))
    });
    add("osDir", "string", "string", |_, a| ok_s(path_dir(s(&a, 0))));
    add("osClean", "string", "string", |_, a| {
        ok_s(flux_go::path::clean(s(&a, 0)))
    });
    add("osExt", "string", "string", |_, a| ok_s(path_ext(s(&a, 0))));
    add("osIsAbs", "string", "bool", |_, a| {
        Ok(Value::Bool(s(&a, 0).starts_with('/')))
    });
    add("b64enc", "string", "string", |_, a| {
        ok_s(base64::engine::general_purpose::STANDARD.encode(to_bytes(s(&a, 0))))
    });
    add("b64dec", "string", "string", |_, a| {
        ok_s(match base64_decode(s(&a, 0)) {
            Ok(b) => from_bytes(&b),
            Err(e) => e,
        })
    });
    add("b32enc", "string", "string", |_, a| {
        ok_s(base32_encode(&to_bytes(s(&a, 0))))
    });
    add("b32dec", "string", "string", |_, a| {
        ok_s(match base32_decode(&to_bytes(s(&a, 0))) {
            Ok(b) => from_bytes(&b),
            Err(e) => e,
        })
    });
    add("sha1sum", "string", "string", |_, a| {
        ok_s(hex(&sha1::Sha1::digest(to_bytes(s(&a, 0)))))
    });
    add("sha256sum", "string", "string", |_, a| {
        ok_s(hex(&sha2::Sha256::digest(to_bytes(s(&a, 0)))))
    });
    add("sha512sum", "string", "string", |_, a| {
        ok_s(hex(&sha2::Sha512::digest(to_bytes(s(&a, 0)))))
    });
    add("adler32sum", "string", "string", |_, a| {
        let (mut x, mut y) = (1u32, 0u32);
        for b in to_bytes(s(&a, 0)).iter() {
            x = (x + u32::from(*b)) % 65521;
            y = (y + x) % 65521;
        }
        ok_s(((y << 16) | x).to_string())
    });
    add("uuidv4", "", "string", |_, _| {
        let mut b = random_bytes(16)?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex(&b);
        ok_s(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        ))
    });
    add("randAlphaNum", "int", "string", |_, a| {
        random_string(
            n(&a, 0),
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        )
    });
    add("randAlpha", "int", "string", |_, a| {
        random_string(
            n(&a, 0),
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        )
    });
    add("randNumeric", "int", "string", |_, a| {
        random_string(n(&a, 0), "0123456789")
    });
    add("randAscii", "int", "string", |_, a| {
        let chars: String = (32u8..=126).map(char::from).collect();
        random_string(n(&a, 0), &chars)
    });
    add("randBytes", "int", "string,error", |_, a| {
        let c = usize::try_from(n(&a, 0)).map_err(|_| "negative count".to_string())?;
        ok_s(base64::engine::general_purpose::STANDARD.encode(random_bytes(c.min(64 << 20))?))
    });
    add("fail", "string", "string,error", |_, a| {
        Err(s(&a, 0).to_string())
    });
    // Regular expressions: Go's syntax, translated (flux_go::regexp). The
    // functions without `must` panic on a bad pattern (MustCompile), except
    // regexMatch, which is false.
    add("regexMatch", "string,string", "bool", |_, a| {
        Ok(Value::Bool(
            re(s(&a, 0)).map(|r| r.is_match(s(&a, 1))).unwrap_or(false),
        ))
    });
    add("mustRegexMatch", "string,string", "bool,error", |_, a| {
        Ok(Value::Bool(re(s(&a, 0))?.is_match(s(&a, 1))))
    });
    add("regexFind", "string,string", "string", |_, a| {
        ok_s(
            must_re(s(&a, 0))?
                .find(s(&a, 1))
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        )
    });
    add("mustRegexFind", "string,string", "string,error", |_, a| {
        ok_s(
            re(s(&a, 0))?
                .find(s(&a, 1))
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        )
    });
    add("regexFindAll", "string,string,int", "[]string", |_, a| {
        Ok(go_slice(find_all(&must_re(s(&a, 0))?, s(&a, 1), n(&a, 2))))
    });
    add(
        "mustRegexFindAll",
        "string,string,int",
        "[]string,error",
        |_, a| Ok(go_slice(find_all(&re(s(&a, 0))?, s(&a, 1), n(&a, 2)))),
    );
    add(
        "regexReplaceAll",
        "string,string,string",
        "string",
        |_, a| ok_s(replace_all(&must_re(s(&a, 0))?, s(&a, 1), s(&a, 2))),
    );
    add(
        "mustRegexReplaceAll",
        "string,string,string",
        "string,error",
        |_, a| ok_s(replace_all(&re(s(&a, 0))?, s(&a, 1), s(&a, 2))),
    );
    add(
        "regexReplaceAllLiteral",
        "string,string,string",
        "string",
        |_, a| {
            ok_s(
                must_re(s(&a, 0))?
                    .replace_all(s(&a, 1), regex::NoExpand(s(&a, 2)))
                    .into_owned(),
            )
        },
    );
    add(
        "mustRegexReplaceAllLiteral",
        "string,string,string",
        "string,error",
        |_, a| {
            ok_s(
                re(s(&a, 0))?
                    .replace_all(s(&a, 1), regex::NoExpand(s(&a, 2)))
                    .into_owned(),
            )
        },
    );
    add("regexSplit", "string,string,int", "[]string", |_, a| {
        let r = must_re(s(&a, 0))?;
        // Go's Split returns nil for n == 0.
        if n(&a, 2) == 0 {
            return Ok(Value::nil_list(ListTy::Str));
        }
        Ok(str_list(re_split(&r, s(&a, 0), s(&a, 1), n(&a, 2))))
    });
    add(
        "mustRegexSplit",
        "string,string,int",
        "[]string,error",
        |_, a| {
            let r = re(s(&a, 0))?;
            if n(&a, 2) == 0 {
                return Ok(Value::nil_list(ListTy::Str));
            }
            Ok(str_list(re_split(&r, s(&a, 0), s(&a, 1), n(&a, 2))))
        },
    );
    add("regexQuoteMeta", "string", "string", |_, a| {
        ok_s(quote_meta(s(&a, 0)))
    });
    add("semver", "string", "*semver.Version,error", |_, a| {
        let v: flux_semver::Version = s(&a, 0).parse().map_err(semver_error)?;
        Ok(Value::Object(std::rc::Rc::new(SemverObj(v))))
    });
    add("semverCompare", "string,string", "bool,error", |_, a| {
        let c: flux_semver::Constraints = s(&a, 0).parse().map_err(|e| match e {
            flux_semver::Error::InvalidConstraint(segment) => {
                format!("improper constraint: {}", gofmt::quote(&segment))
            }
            other => other.to_string(),
        })?;
        let v: flux_semver::Version = s(&a, 1).parse().map_err(semver_error)?;
        Ok(Value::Bool(c.check(&v)))
    });
    add("urlParse", "string", "map[string]interface {}", |_, a| {
        url_parse(s(&a, 0))
    });
    add("urlJoin", "map[string]interface {}", "string", |_, a| {
        url_join(arg(&a, 0))
    });
}

/// Masterminds' error for a version that does not parse: its length limit
/// says so (`version string is too long (max 256 bytes)`), anything else
/// is `invalid semantic version`.
fn semver_error(e: flux_semver::Error) -> String {
    match e {
        flux_semver::Error::TooLong(message) => message,
        _ => "invalid semantic version".to_string(),
    }
}

/// Go's `unicode.ToUpper`: one rune to one rune (ß stays ß).
fn upper_rune(c: char) -> char {
    let mut u = c.to_uppercase();
    match (u.next(), u.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// Go's `unicode.ToLower`.
fn lower_rune(c: char) -> char {
    let mut u = c.to_lowercase();
    match (u.next(), u.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

fn byte_slice(t: &str, a: usize, b: usize) -> String {
    crate::gostr::byte_slice(t, a, b)
}

fn go_replace(src: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        // Go inserts `new` before every rune and at the end.
        let mut out = String::new();
        for c in src.chars() {
            out.push_str(new);
            out.push(c);
        }
        out.push_str(new);
        return out;
    }
    src.replace(old, new)
}

/// `strings.Split` / `SplitN` (n < 0: all).
pub(crate) fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let mut v: Vec<String> = s.chars().map(String::from).collect();
        if n > 0 && v.len() > n as usize {
            let rest: String = v[n as usize - 1..].concat();
            v.truncate(n as usize - 1);
            v.push(rest);
        }
        return v;
    }
    if n < 0 {
        s.split(sep).map(String::from).collect()
    } else {
        s.splitn(n as usize, sep).map(String::from).collect()
    }
}

fn parts_map(parts: Vec<String>) -> Value {
    let m: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::string(p)))
        .collect();
    Value::map(MapTy::Str, m)
}

/// sprig's `strslice`: a list's non-nil items as strings; a scalar as a
/// one-item list; nil as an empty list.
pub(crate) fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::Missing | Value::Nil => Vec::new(),
        other => match items(other) {
            Some(l) => l.iter().filter(|x| !x.is_nil()).map(strval).collect(),
            None => vec![strval(other)],
        },
    }
}

fn indent(spaces: i64, v: &str) -> Result<String, String> {
    if spaces < 0 {
        return Err("strings: negative Repeat count".into());
    }
    // Exactly as Go, up to the bound `repeat` has (64 MiB of output).
    let lines = v.matches('\n').count() as u128 + 1;
    if (spaces as u128) * lines + v.len() as u128 > 64 << 20 {
        return Err("strings: Repeat output length overflow".into());
    }
    let pad = " ".repeat(spaces as usize);
    Ok(format!("{pad}{}", v.replace('\n', &format!("\n{pad}"))))
}

/// Go's deprecated `strings.Title`: the first letter of every word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        let sep = if prev.is_ascii() {
            !(prev.is_ascii_alphanumeric() || prev == '_')
        } else {
            !(prev.is_alphabetic() || prev.is_numeric()) && prev.is_whitespace()
        };
        if sep {
            out.push(upper_rune(c));
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn abbreviate_full(s: &str, offset: i64, max: i64) -> String {
    // goutils measures and cuts bytes.
    let len = go_len(s) as i64;
    if s.is_empty() {
        return String::new();
    }
    if len <= max {
        return s.to_string();
    }
    let mut offset = offset.min(len);
    if len - offset < max - 3 {
        offset = len - (max - 3);
    }
    if offset <= 4 {
        return format!("{}...", byte_slice(s, 0, (max - 3) as usize));
    }
    if max < 7 {
        return String::new();
    }
    if offset + max - 3 < len {
        let rest = byte_slice(s, offset as usize, len as usize);
        return format!("...{}", abbreviate_full(&rest, 0, max - 3));
    }
    format!(
        "...{}",
        byte_slice(s, (len - (max - 3)) as usize, len as usize)
    )
}

/// goutils' `WrapCustom`, on Go's bytes (it cuts and searches bytes, so
/// a cut may fall inside a character, as in Go).
fn wrap(s: &str, len: i64, newline: &str, long_words: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let newline = if newline.is_empty() { "\n" } else { newline };
    let newline = to_bytes(newline);
    let w = len.max(1) as usize;
    let b = to_bytes(s);
    let b = b.as_ref();
    let find = |hay: &[u8], last: bool| {
        if last {
            hay.iter().rposition(|c| *c == b' ')
        } else {
            hay.iter().position(|c| *c == b' ')
        }
    };
    let mut offset = 0usize;
    let mut out: Vec<u8> = Vec::new();
    while b.len() - offset > w {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (w + offset + 1).min(b.len());
        match find(&b[offset..end], true).map(|i| i + offset) {
            Some(sp) => {
                out.extend_from_slice(&b[offset..sp]);
                out.extend_from_slice(&newline);
                offset = sp + 1;
            }
            None if long_words => {
                out.extend_from_slice(&b[offset..offset + w]);
                out.extend_from_slice(&newline);
                offset += w;
            }
            None => {
                let end = offset + w;
                match find(&b[end..], false) {
                    None => {
                        out.extend_from_slice(&b[offset..]);
                        offset = b.len();
                    }
                    Some(i) => {
                        let sp = i + end;
                        out.extend_from_slice(&b[offset..sp]);
                        out.extend_from_slice(&newline);
                        offset = sp + 1;
                    }
                }
            }
        }
    }
    out.extend_from_slice(&b[offset..]);
    from_bytes(&out)
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// xstrings.ToPascalCase.
fn pascal_case(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    let mut r0 = '\0';
    let mut first_upper = false;
    for c in chars.by_ref() {
        if !is_connector(c) {
            first_upper = c.is_uppercase();
            r0 = upper_rune(c);
            break;
        }
        // The last rune read stays in r0: a string of connectors only
        // ends with its last one twice (xstrings writes it again).
        r0 = c;
        out.push(c);
    }
    let rest: Vec<char> = chars.collect();
    if rest.is_empty() {
        if !s.is_empty() {
            out.push(r0);
        }
        return out;
    }
    for c in rest {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = r0.is_uppercase();
            r0 = upper_rune(r0);
        } else {
            if first_upper {
                if r0.is_uppercase() {
                    r0 = lower_rune(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

/// Unicode general categories as Go's `unicode` package tests them.
fn category(c: char, class: &str) -> bool {
    use std::sync::OnceLock;
    static TABLES: OnceLock<Vec<Option<regex::Regex>>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        [r"^\p{L}$", r"^\p{Lu}$", r"^\p{P}$"]
            .iter()
            .map(|p| regex::Regex::new(p).ok())
            .collect()
    });
    let index = match class {
        "L" => 0,
        "Lu" => 1,
        _ => 2,
    };
    let mut buf = [0u8; 4];
    tables
        .get(index)
        .and_then(Option::as_ref)
        .is_some_and(|t| t.is_match(c.encode_utf8(&mut buf)))
}

fn go_is_upper(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_uppercase();
    }
    category(c, "Lu")
}

fn go_is_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c);
    }
    category(c, "P")
}

/// Go's `unicode.IsSpace`.
fn go_is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{85}' | '\u{A0}'
    ) || (!c.is_ascii() && c.is_whitespace())
}

/// xstrings' letter test: letters, except the common CJK ideographs.
fn is_alphabet(c: char) -> bool {
    let letter = if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        category(c, "L")
    };
    letter
        && !matches!(c, '\u{4E00}'..='\u{9FCC}' | '\u{3400}'..='\u{4D85}' | '\u{20000}'..='\u{2B81D}')
}

fn xs_connector(c: char) -> bool {
    c == '-' || c == '_' || go_is_space(c)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// The next rune that is not a raw byte (see gostr), and how many bytes
/// were read for it; `prev` when there is none.
fn next_valid_rune(s: &str, prev: char) -> (char, usize) {
    let mut size = 0;
    for c in s.chars() {
        size += c.len_utf8();
        if crate::gostr::raw_byte(c).is_none() {
            return (c, size);
        }
    }
    (prev, size)
}

/// xstrings' `nextWord`: the type of the next word, the word and the rest.
fn next_word(s: &str) -> (Word, &str, &str) {
    if s.is_empty() {
        return (Word::Invalid, "", "");
    }
    let (r, size) = next_valid_rune(s, '\u{FFFD}');
    if crate::gostr::raw_byte(r).is_some()
        || s[..size]
            .chars()
            .all(|c| crate::gostr::raw_byte(c).is_some())
    {
        return (Word::Invalid, &s[..size], &s[size..]);
    }
    let mut offset = size;
    let mut remaining = &s[size..];
    let run =
        |remaining: &mut &str, offset: &mut usize, prev: char, keep: &dyn Fn(char) -> bool| {
            let mut prev = prev;
            while !remaining.is_empty() {
                let (r, size) = next_valid_rune(remaining, prev);
                if !keep(r) {
                    break;
                }
                prev = r;
                *offset += size;
                *remaining = &remaining[size..];
            }
        };
    let wt = if xs_connector(r) {
        run(&mut remaining, &mut offset, r, &xs_connector);
        Word::Connector
    } else if go_is_punct(r) {
        run(&mut remaining, &mut offset, r, &go_is_punct);
        Word::Punct
    } else if go_is_upper(r) {
        if !remaining.is_empty() {
            let (r2, size2) = next_valid_rune(remaining, r);
            if go_is_upper(r2) {
                let mut prev_size = size2;
                offset += size2;
                remaining = &remaining[size2..];
                let mut last = r2;
                while !remaining.is_empty() {
                    let (r3, size3) = next_valid_rune(remaining, last);
                    last = r3;
                    if !go_is_upper(r3) {
                        break;
                    }
                    prev_size = size3;
                    offset += size3;
                    remaining = &remaining[size3..];
                }
                // "HTTPStatus": the S starts the next word.
                if !remaining.is_empty() && is_alphabet(last) {
                    offset -= prev_size;
                    remaining = &s[offset..];
                }
            } else if is_alphabet(r2) {
                offset += size2;
                remaining = &remaining[size2..];
                run(&mut remaining, &mut offset, r2, &|c| {
                    is_alphabet(c) && !go_is_upper(c)
                });
            }
        }
        Word::Upper
    } else if is_alphabet(r) {
        run(&mut remaining, &mut offset, r, &|c| {
            is_alphabet(c) && !go_is_upper(c)
        });
        Word::Alphabet
    } else if r.is_numeric() {
        run(&mut remaining, &mut offset, r, &char::is_numeric);
        Word::Number
    } else {
        run(&mut remaining, &mut offset, r, &|c| {
            !(xs_connector(c) || is_alphabet(c) || c.is_numeric() || go_is_punct(c))
        });
        Word::Other
    };
    (wt, &s[..offset], remaining)
}

/// xstrings' `toLower` of one word.
fn word_lower(out: &mut String, wt: Word, word: &str, sep: char) {
    if wt != Word::Upper && wt != Word::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if xs_connector(c) {
            out.push(sep);
        } else if go_is_upper(c) {
            out.push(lower_rune(c));
        } else {
            out.push(c);
        }
    }
}

/// xstrings' `camelCaseToLowerCase` (`snakecase`, `kebabcase`).
fn lower_case_words(s: &str, sep: char) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let (mut wt, mut word, mut remaining) = next_word(s);
    while !remaining.is_empty() {
        if wt != Word::Connector {
            word_lower(&mut out, wt, word, sep);
        }
        let prev = wt;
        let last = word;
        (wt, word, remaining) = next_word(remaining);
        match prev {
            Word::Number => {
                while wt == Word::Alphabet || wt == Word::Number {
                    word_lower(&mut out, wt, word, sep);
                    (wt, word, remaining) = next_word(remaining);
                }
                if !matches!(wt, Word::Invalid | Word::Punct | Word::Connector) {
                    out.push(sep);
                }
            }
            Word::Connector => word_lower(&mut out, prev, last, sep),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(sep);
                    }
                    continue;
                }
                if remaining.is_empty() {
                    continue;
                }
                let number = word;
                (wt, word, remaining) = next_word(remaining);
                if wt != Word::Alphabet {
                    word_lower(&mut out, Word::Number, number, sep);
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(sep);
                    }
                    continue;
                }
                out.push(sep);
                word_lower(&mut out, Word::Number, number, sep);
                while wt == Word::Alphabet || wt == Word::Number {
                    word_lower(&mut out, wt, word, sep);
                    (wt, word, remaining) = next_word(remaining);
                }
                if !matches!(wt, Word::Invalid | Word::Connector | Word::Punct) {
                    out.push(sep);
                }
            }
        }
    }
    word_lower(&mut out, wt, word, sep);
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Go's `base64.StdEncoding.DecodeString`, errors included: quantum by
/// quantum, line breaks skipped, the first bad byte (or padding problem)
/// reported where Go reports it.
fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let src = s.as_bytes();
    let corrupt = |at: usize| format!("illegal base64 data at input byte {at}");
    let value = |c: u8| ALPHABET.iter().position(|x| *x == c).map(|v| v as u32);
    let skip_newlines = |mut si: usize| {
        while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
            si += 1;
        }
        si
    };
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    while si < src.len() {
        let mut dbuf = [0u32; 4];
        let mut dlen = 4;
        let mut trailing = None;
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(corrupt(si - j));
            }
            let c = src[si];
            si += 1;
            if let Some(v) = value(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(corrupt(si - 1));
            }
            match j {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    si = skip_newlines(si);
                    if si == src.len() {
                        return Err(corrupt(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            si = skip_newlines(si);
            if si < src.len() {
                trailing = Some(si);
            }
            dlen = j;
            break;
        }
        let val = dbuf[0] << 18 | dbuf[1] << 12 | dbuf[2] << 6 | dbuf[3];
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(at) = trailing {
            return Err(corrupt(at));
        }
        if dlen < 4 {
            break;
        }
    }
    Ok(out)
}

const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
        let nchars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < nchars {
                out.push(char::from(B32[((v >> (35 - i * 5)) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `base32.StdEncoding.DecodeString`, errors included (the first
/// bad character, or where padding goes wrong, in input order).
fn base32_decode(s: &[u8]) -> Result<Vec<u8>, String> {
    let src: Vec<u8> = s
        .iter()
        .copied()
        .filter(|b| *b != b'\n' && *b != b'\r')
        .collect();
    let corrupt = |at: usize| format!("illegal base32 data at input byte {at}");
    let olen = src.len();
    let mut rest = &src[..];
    let mut out = Vec::new();
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            let Some((&c, tail)) = rest.split_first() else {
                return Err(corrupt(olen - j));
            };
            rest = tail;
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(corrupt(olen));
                }
                for k in 0..7 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(corrupt(olen - rest.len() + k - 1));
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(corrupt(olen - rest.len() - 1));
                }
                break;
            }
            let Some(d) = B32.iter().position(|x| *x == c) else {
                return Err(corrupt(olen - rest.len() - 1));
            };
            dbuf[j] = d as u8;
            j += 1;
        }
        let d = dbuf;
        let bytes = [
            d[0] << 3 | d[1] >> 2,
            d[1] << 6 | d[2] << 1 | d[3] >> 4,
            d[3] << 4 | d[4] >> 1,
            d[4] << 7 | d[5] << 2 | d[6] >> 3,
            d[6] << 5 | d[7],
        ];
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

fn random_string(count: i64, chars: &str) -> crate::value::FuncResult {
    let count = usize::try_from(count).unwrap_or(0).min(64 << 20);
    let set: Vec<char> = chars.chars().collect();
    let bytes = random_bytes(count)?;
    Ok(Value::string(
        bytes
            .iter()
            .map(|b| set[usize::from(*b) % set.len()])
            .collect(),
    ))
}

/// A Go regular expression (RE2 syntax read as Go reads it), or Go's
/// error for it.
fn re(p: &str) -> Result<regex::Regex, String> {
    // Go checks the pattern is UTF-8 before anything else: the error
    // shows the pattern from its first invalid byte.
    if let Some((at, _)) = p
        .char_indices()
        .find(|(_, c)| crate::gostr::raw_byte(*c).is_some())
    {
        return Err(format!(
            "error parsing regexp: invalid UTF-8: `{}`",
            &p[at..]
        ));
    }
    let translated =
        flux_go::regexp::translate(p).map_err(|e| format!("error parsing regexp: {e}"))?;
    regex::Regex::new(&translated).map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => {
            format!("error parsing regexp: expression too large: `{p}`")
        }
        // The translation is valid syntax: only a Unicode class name Go
        // may know and the regex crate does not fails here.
        _ => format!(
            "error parsing regexp: invalid character class range: `{}`",
            unknown_unicode_class(p).unwrap_or(p)
        ),
    })
}

/// The first `\p{Name}` (or `\pN`) of `p` the regex crate does not know.
fn unknown_unicode_class(p: &str) -> Option<&str> {
    let mut rest = p;
    while let Some(i) = rest
        .match_indices('\\')
        .map(|(i, _)| i)
        .find(|&i| matches!(rest.as_bytes().get(i + 1), Some(b'p' | b'P')))
    {
        let tail = &rest[i..];
        let len = if tail[2..].starts_with('{') {
            tail.find('}').map_or(tail.len(), |e| e + 1)
        } else {
            2 + tail[2..].chars().next().map_or(0, char::len_utf8)
        };
        let class = &tail[..len];
        if regex::Regex::new(class).is_err() {
            return Some(class);
        }
        rest = &tail[len..];
    }
    None
}

/// [`re`], failing as `regexp.MustCompile` panics.
fn must_re(p: &str) -> Result<regex::Regex, String> {
    re(p).map_err(|e| {
        // strconv.CanBackquote, else strconv.Quote.
        let quoted = if !crate::gostr::has_raw(p)
            && p.chars()
                .all(|c| c == '\t' || !(c.is_control() || c == '`' || c == '\u{FEFF}'))
        {
            format!("`{p}`")
        } else {
            crate::gofmt::quote(p)
        };
        format!("regexp: Compile({quoted}): {e}")
    })
}

/// Go's `FindAllString` result: nil when nothing matched (or `n == 0`).
fn go_slice(found: Vec<String>) -> Value {
    if found.is_empty() {
        Value::nil_list(ListTy::Str)
    } else {
        str_list(found)
    }
}

fn find_all(r: &regex::Regex, s: &str, n: i64) -> Vec<String> {
    let it = r.find_iter(s).map(|m| m.as_str().to_string());
    if n < 0 {
        it.collect()
    } else {
        it.take(n as usize).collect()
    }
}

/// Go's `ReplaceAllString`: `$1`, `${name}` expand; `$name` takes the
/// longest run of word characters.
fn replace_all(r: &regex::Regex, s: &str, repl: &str) -> String {
    r.replace_all(s, |caps: &regex::Captures<'_>| {
        let mut out = String::new();
        let b = repl.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' || i + 1 >= b.len() {
                out.push(char::from(b[i]));
                if b[i] >= 0x80 {
                    // Copy the whole UTF-8 sequence.
                    out.pop();
                    let ch = repl[i..].chars().next().unwrap_or('\u{FFFD}');
                    out.push(ch);
                    i += ch.len_utf8();
                    continue;
                }
                i += 1;
                continue;
            }
            if b[i + 1] == b'$' {
                out.push('$');
                i += 2;
                continue;
            }
            let (name, next) = if b[i + 1] == b'{' {
                match repl[i + 2..].find('}') {
                    Some(e) => (&repl[i + 2..i + 2 + e], i + 3 + e),
                    None => {
                        out.push('$');
                        i += 1;
                        continue;
                    }
                }
            } else {
                let e = repl[i + 1..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(repl.len(), |e| i + 1 + e);
                (&repl[i + 1..e], e)
            };
            if name.is_empty() {
                out.push('$');
                i += 1;
                continue;
            }
            let m = match name.parse::<usize>() {
                Ok(k) => caps.get(k),
                Err(_) => caps.name(name),
            };
            if let Some(m) = m {
                out.push_str(m.as_str());
            }
            i = next;
        }
        out
    })
    .into_owned()
}

/// Go's `Regexp.Split`.
/// Go's `Regexp.Split` (`pattern`: the Go pattern `r` was made from).
fn re_split(r: &regex::Regex, pattern: &str, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !pattern.is_empty() && s.is_empty() {
        return vec![String::new()];
    }
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    let matches: Vec<(usize, usize)> = r.find_iter(s).map(|m| (m.start(), m.end())).collect();
    let matches = if n > 0 {
        &matches[..matches.len().min(n as usize)]
    } else {
        &matches[..]
    };
    for &(ms, me) in matches {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = ms;
        if me != 0 {
            out.push(s[beg..end].to_string());
        }
        beg = me;
    }
    if end != s.len() {
        out.push(s[beg..].to_string());
    }
    out
}

fn quote_meta(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn path_dir(p: &str) -> String {
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    flux_go::path::clean(dir)
}

fn path_ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

fn url_parse(s: &str) -> crate::value::FuncResult {
    let mut m = BTreeMap::new();
    let (scheme, rest) = match s.find(':') {
        Some(i)
            if i > 0
                && s[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && s.as_bytes()[0].is_ascii_alphabetic() =>
        {
            (&s[..i], &s[i + 1..])
        }
        _ => ("", s),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = if let Some(r) = rest.strip_prefix("//") {
        match r.find('/') {
            Some(i) => (&r[..i], &r[i..]),
            None => (r, ""),
        }
    } else {
        ("", rest)
    };
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (&authority[..i], &authority[i + 1..]),
        None => ("", authority),
    };
    let put = |m: &mut BTreeMap<String, Value>, k: &str, v: &str| {
        m.insert(k.to_string(), Value::str(v));
    };
    put(&mut m, "scheme", &scheme.to_ascii_lowercase());
    put(&mut m, "host", host);
    put(
        &mut m,
        "hostname",
        host.rsplit_once(':')
            .map_or(host, |(h, p)| {
                if p.chars().all(|c| c.is_ascii_digit()) {
                    h
                } else {
                    host
                }
            })
            .trim_start_matches('[')
            .trim_end_matches(']'),
    );
    put(&mut m, "path", path);
    put(&mut m, "query", query);
    put(&mut m, "opaque", "");
    put(&mut m, "fragment", fragment);
    put(&mut m, "userinfo", userinfo);
    Ok(Value::dict(m))
}

fn url_join(d: &Value) -> crate::value::FuncResult {
    let m = super::map_entries(d);
    let get = |k: &str| -> Result<String, String> {
        match m.get(k) {
            None => Ok(String::new()),
            Some(Value::Str(s)) => Ok(s.to_string()),
            Some(other) => Err(format!(
                "unable to parse {k} key, must be of type string, but {} found",
                other.type_name()
            )),
        }
    };
    let scheme = get("scheme")?;
    let host = get("host")?;
    let path = get("path")?;
    let query = get("query")?;
    let fragment = get("fragment")?;
    let userinfo = get("userinfo")?;
    let opaque = get("opaque")?;
    let mut out = String::new();
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    if !opaque.is_empty() {
        out.push_str(&opaque);
    } else {
        if !scheme.is_empty() || !host.is_empty() || !userinfo.is_empty() {
            if !host.is_empty() || !path.is_empty() || !userinfo.is_empty() {
                out.push_str("//");
            }
            if !userinfo.is_empty() {
                out.push_str(&userinfo);
                out.push('@');
            }
            out.push_str(&host);
        }
        if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
            out.push('/');
        }
        out.push_str(&path);
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(&fragment);
    }
    Ok(Value::string(out))
}

/// `*semver.Version` as a template sees it.
#[derive(Debug)]
struct SemverObj(flux_semver::Version);

impl crate::value::Object for SemverObj {
    fn type_name(&self) -> String {
        "*semver.Version".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let v = &self.0;
        Some(match name {
            "Major" => Value::Int64(v.major() as i64),
            "Minor" => Value::Int64(v.minor() as i64),
            "Patch" => Value::Int64(v.patch() as i64),
            "Prerelease" => Value::str(v.prerelease()),
            "Metadata" => Value::str(v.metadata()),
            "Original" => Value::str(v.original()),
            "String" => Value::string(v.to_string()),
            _ => return None,
        })
    }
    fn display(&self) -> String {
        self.0.to_string()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[allow(dead_code)]
fn _unused() -> Value {
    iface_list(Vec::new())
}

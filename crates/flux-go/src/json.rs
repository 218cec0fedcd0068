//! String literals as Go's `encoding/json` writes them (`json.Marshal`,
//! HTML escaping on): `<`, `>`, `&`, U+2028 and U+2029 as `\u00XX`,
//! `\b` `\f` `\n` `\r` `\t` short, other control characters `\u00XX`.

/// `s` as a Go JSON string literal, quotes included.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_quoted(s, &mut out);
    out
}

/// Appends `s` as a Go JSON string literal to `out`.
pub fn write_quoted(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Go 1.22 and later.
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_go() {
        assert_eq!(
            quote("<a> & \"b\"\u{8}\u{c}\u{1}\u{2028}é"),
            r#""\u003ca\u003e \u0026 \"b\"\b\f\u0001\u2028é""#
        );
    }
}

//! Go strings are byte strings; ours are Rust strings. A Go string that is
//! not valid UTF-8 (`.Files.Get` of a binary file, `b64dec`, `trunc` cutting
//! a character) is held in a Rust string with each byte that is not part of
//! a valid UTF-8 sequence written as one character of the last private-use
//! block, U+10FF80 + (byte − 0x80) (the idea of Python's
//! "surrogateescape"). Text functions pass those characters through as Go
//! passes the bytes; what counts or cuts bytes, encodes bytes or prints
//! strings goes through this module:
//!
//! - [`from_bytes`] / [`to_bytes`]: Go string ⇄ our string (lossless);
//! - [`go_len`]: Go's `len`;
//! - [`to_text`]: the text as Go's `encoding/json` or a UTF-8 decoder sees
//!   it (each raw byte is U+FFFD).
//!
//! A real U+10FF80–U+10FFFF character in input (private use, never seen in
//! charts) is read as a raw byte.

use std::borrow::Cow;

const BASE: u32 = 0x10FF00;

/// The character standing for raw byte `b` (0x80..=0xFF).
fn escape(b: u8) -> char {
    char::from_u32(BASE + u32::from(b)).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// The raw byte a character stands for, if it is an escape.
pub fn raw_byte(c: char) -> Option<u8> {
    let v = c as u32;
    (BASE + 0x80..=BASE + 0xFF)
        .contains(&v)
        .then(|| (v - BASE) as u8)
}

/// Whether `s` holds any raw byte.
pub fn has_raw(s: &str) -> bool {
    // Every escape is encoded as F4 8F BE/BF xx in UTF-8.
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == 0xF4 && w[1] == 0x8F && (w[2] == 0xBE || w[2] == 0xBF))
}

/// A Go string of arbitrary bytes, as our string.
pub fn from_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                out.extend(chunk.invalid().iter().map(|b| escape(*b)));
            }
            out
        }
    }
}

/// The bytes of the Go string `s` stands for.
pub fn to_bytes(s: &str) -> Cow<'_, [u8]> {
    if !has_raw(s) {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match raw_byte(c) {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Cow::Owned(out)
}

/// Go's `len` of the string `s` stands for.
pub fn go_len(s: &str) -> usize {
    if !has_raw(s) {
        return s.len();
    }
    s.chars()
        .map(|c| {
            if raw_byte(c).is_some() {
                1
            } else {
                c.len_utf8()
            }
        })
        .sum()
}

/// `s[a:b]` in Go's bytes, as our string.
pub fn byte_slice(s: &str, a: usize, b: usize) -> String {
    let bytes = to_bytes(s);
    let (a, b) = (a.min(bytes.len()), b.min(bytes.len()));
    from_bytes(&bytes[a..b.max(a)])
}

/// The text of `s` with each raw byte as U+FFFD (what decoding the Go
/// string as UTF-8 gives).
pub fn to_text(s: &str) -> Cow<'_, str> {
    if !has_raw(s) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| {
                if raw_byte(c).is_some() {
                    char::REPLACEMENT_CHARACTER
                } else {
                    c
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_measure_as_go() {
        let bytes = [0xFF, 0xFE, 0x00, 0x01, b'B', 0xC3, 0xA9, 0xC3];
        let s = from_bytes(&bytes);
        assert_eq!(to_bytes(&s).as_ref(), &bytes);
        assert_eq!(go_len(&s), bytes.len());
        assert!(has_raw(&s));
        assert_eq!(to_text(&s), "\u{FFFD}\u{FFFD}\u{0}\u{1}Bé\u{FFFD}");
        assert_eq!(byte_slice("é", 0, 1), from_bytes(&[0xC3]));
        assert_eq!(to_bytes(&byte_slice("é", 0, 1)).as_ref(), &[0xC3]);
        assert!(!has_raw("plain ✓ text"));
        assert_eq!(go_len("✓"), 3);
    }
}

//! Glob patterns as `github.com/gobwas/glob` compiles them with `/` as the
//! separator (Helm's `.Files.Glob`): `*` matches within one path segment,
//! `**` across segments, `?` one character other than `/`, `[abc]`,
//! `[a-z]`, `[!abc]`, `{alt1,alt2}` alternatives, `\` escapes.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Lit(char),
    Any,
    Super,
    Single,
    Class {
        neg: bool,
        ranges: Vec<(char, char)>,
    },
    Alt(Vec<Vec<Token>>),
}

/// A compiled pattern.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Glob(Vec<Token>);

impl Glob {
    /// Compiles `pattern`; `None` for a malformed one (unclosed `[` or `{`,
    /// a trailing `\`).
    pub fn compile(pattern: &str) -> Option<Glob> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let tokens = parse(&chars, &mut pos, false)?;
        (pos == chars.len()).then_some(Glob(tokens))
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let chars: Vec<char> = name.chars().collect();
        let mut budget = 1_000_000usize;
        matches(&self.0, &chars, &mut budget)
    }
}

fn parse(chars: &[char], pos: &mut usize, in_alt: bool) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    while *pos < chars.len() {
        let c = chars[*pos];
        match c {
            ',' | '}' if in_alt => return Some(out),
            '*' => {
                if chars.get(*pos + 1) == Some(&'*') {
                    *pos += 2;
                    out.push(Token::Super);
                } else {
                    *pos += 1;
                    out.push(Token::Any);
                }
            }
            '?' => {
                *pos += 1;
                out.push(Token::Single);
            }
            '\\' => {
                let next = *chars.get(*pos + 1)?;
                *pos += 2;
                out.push(Token::Lit(next));
            }
            '[' => {
                *pos += 1;
                let neg = chars.get(*pos) == Some(&'!');
                if neg {
                    *pos += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let lo = *chars.get(*pos)?;
                    if lo == ']' {
                        *pos += 1;
                        break;
                    }
                    if chars.get(*pos + 1) == Some(&'-')
                        && chars.get(*pos + 2).is_some_and(|c| *c != ']')
                    {
                        let hi = chars[*pos + 2];
                        ranges.push((lo, hi));
                        *pos += 3;
                    } else {
                        ranges.push((lo, lo));
                        *pos += 1;
                    }
                }
                out.push(Token::Class { neg, ranges });
            }
            '{' => {
                *pos += 1;
                let mut alts = Vec::new();
                loop {
                    alts.push(parse(chars, pos, true)?);
                    match chars.get(*pos)? {
                        ',' => *pos += 1,
                        _ => {
                            *pos += 1;
                            break;
                        }
                    }
                }
                out.push(Token::Alt(alts));
            }
            _ => {
                *pos += 1;
                out.push(Token::Lit(c));
            }
        }
    }
    if in_alt {
        return None;
    }
    Some(out)
}

fn matches(p: &[Token], s: &[char], budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let Some((first, rest)) = p.split_first() else {
        return s.is_empty();
    };
    match first {
        Token::Lit(c) => s.first() == Some(c) && matches(rest, &s[1..], budget),
        Token::Single => s.first().is_some_and(|c| *c != '/') && matches(rest, &s[1..], budget),
        Token::Class { neg, ranges } => {
            s.first().is_some_and(|c| {
                *c != '/' && ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *neg
            }) && matches(rest, &s[1..], budget)
        }
        Token::Any => {
            for i in 0..=s.len() {
                if matches(rest, &s[i..], budget) {
                    return true;
                }
                if i < s.len() && s[i] == '/' {
                    return false;
                }
            }
            false
        }
        Token::Super => (0..=s.len()).any(|i| matches(rest, &s[i..], budget)),
        Token::Alt(alts) => alts.iter().any(|alt| {
            let mut joined = alt.clone();
            joined.extend_from_slice(rest);
            matches(&joined, s, budget)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, s: &str) -> bool {
        Glob::compile(p).is_some_and(|g| g.matches(s))
    }

    #[test]
    fn separators_and_classes() {
        assert!(m("files/*", "files/a.txt"));
        assert!(!m("files/*", "files/sub/a.txt"));
        assert!(m("files/**", "files/sub/a.txt"));
        assert!(m("**.yaml", "a/b/c.yaml"));
        assert!(m("files/{a,b}.txt", "files/b.txt"));
        assert!(m("f?les/[a-c].txt", "files/b.txt"));
        assert!(!m("files/[!a-c].txt", "files/b.txt"));
        assert!(Glob::compile("[abc").is_none());
    }
}

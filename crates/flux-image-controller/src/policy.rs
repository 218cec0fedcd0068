//! ImagePolicy selection, as upstream's image-reflector-controller
//! (`internal/policy`): `semver` (three-part versions, Masterminds
//! ranges), `alphabetical`, `numerical`, and the `filterTags` regular
//! expression with Go's `Regexp.Expand` for `extract`.

use flux_api::image::v1::{ImagePolicyChoice, Order, TagFilter};
use flux_semver::{Constraints, Version};

/// A policy that could not be built (`InvalidPolicy`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPolicy(pub String);

/// No tag satisfied the policy, or a tag could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoLatest(pub String);

/// How the newest tag is picked.
#[derive(Clone, Debug)]
pub enum Policer {
    /// The highest version in the range.
    SemVer(Constraints),
    /// The greatest string (`asc`, the default) or the smallest (`desc`).
    Alphabetical {
        /// `desc`.
        descending: bool,
    },
    /// The largest number (`asc`, the default) or the smallest (`desc`).
    Numerical {
        /// `desc`.
        descending: bool,
    },
}

impl Policer {
    /// The policer of `spec.policy`, or upstream's error ("invalid
    /// policy: …").
    pub fn from_spec(choice: &ImagePolicyChoice) -> Result<Policer, InvalidPolicy> {
        let invalid = |e: String| InvalidPolicy(format!("invalid policy: {e}"));
        if let Some(semver) = &choice.semver {
            let constraints: Constraints = semver
                .range
                .parse()
                .map_err(|e: flux_semver::Error| invalid(e.to_string()))?;
            return Ok(Policer::SemVer(constraints));
        }
        if let Some(a) = &choice.alphabetical {
            return Ok(Policer::Alphabetical {
                descending: matches!(a.order, Some(Order::Desc)),
            });
        }
        if let Some(n) = &choice.numerical {
            return Ok(Policer::Numerical {
                descending: matches!(n.order, Some(Order::Desc)),
            });
        }
        Err(invalid(
            "given ImagePolicyChoice object is invalid".to_string(),
        ))
    }

    /// The newest of `versions` (in the order given; where upstream's
    /// choice among equals depends on a Go map's order, ours is the first
    /// given).
    pub fn latest<'a>(&self, versions: &[&'a str]) -> Result<&'a str, NoLatest> {
        if versions.is_empty() {
            return Err(NoLatest(
                "version list argument cannot be empty".to_string(),
            ));
        }
        match self {
            Policer::SemVer(constraints) => {
                let mut best: Option<(&str, Version)> = None;
                for tag in versions {
                    let Ok(v) = Version::parse_flux(tag) else {
                        continue;
                    };
                    if !constraints.check(&v) {
                        continue;
                    }
                    if best.as_ref().is_none_or(|(_, b)| v > *b) {
                        best = Some((tag, v));
                    }
                }
                best.map(|(t, _)| t).ok_or_else(|| {
                    NoLatest("unable to determine latest version from provided list".to_string())
                })
            }
            Policer::Alphabetical { descending } => {
                let pick = if *descending {
                    versions.iter().min()
                } else {
                    versions.iter().max()
                };
                pick.copied().ok_or_else(|| NoLatest(String::new()))
            }
            Policer::Numerical { descending } => {
                let mut best: Option<(&str, f64)> = None;
                for tag in versions {
                    let value = flux_go::float::parse_float(tag).ok_or_else(|| {
                        NoLatest(format!("failed to parse invalid numeric value '{tag}'"))
                    })?;
                    let keep_old =
                        best.is_some_and(|(_, b)| if *descending { value > b } else { value < b });
                    if !keep_old {
                        best = Some((tag, value));
                    }
                }
                best.map(|(t, _)| t).ok_or_else(|| NoLatest(String::new()))
            }
        }
    }
}

/// `filterTags`: the tags the pattern matches (anywhere), each with the
/// value the policy orders (`extract` expanded, else the tag itself).
#[derive(Clone, Debug)]
pub struct TagFilterRegex {
    regex: regex::Regex,
    extract: String,
}

impl TagFilterRegex {
    /// Compiles `filter` as Go's `regexp.Compile` would, with upstream's
    /// error ("failed to filter tags: invalid regular expression pattern
    /// '<p>': …").
    pub fn new(filter: &TagFilter) -> Result<TagFilterRegex, InvalidPolicy> {
        let pattern = filter.pattern.clone().unwrap_or_default();
        let invalid = |e: String| {
            InvalidPolicy(format!(
                "failed to filter tags: invalid regular expression pattern '{pattern}': error parsing regexp: {e}"
            ))
        };
        let translated =
            flux_go::regexp::translate(&pattern).map_err(|e| invalid(e.to_string()))?;
        let regex = regex::Regex::new(&translated).map_err(|e| invalid(e.to_string()))?;
        Ok(TagFilterRegex {
            regex,
            extract: filter.extract.clone().unwrap_or_default(),
        })
    }

    /// The (value, original tag) pairs of `tags`; two tags extracting the
    /// same value: the later one wins, as upstream's map does.
    pub fn apply<'a>(&self, tags: &'a [String]) -> Vec<(String, &'a str)> {
        let mut out: Vec<(String, &'a str)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for tag in tags {
            let Some(captures) = self.regex.captures(tag) else {
                continue;
            };
            let value = if self.extract.is_empty() {
                tag.clone()
            } else {
                expand(&self.regex, &captures, &self.extract)
            };
            match index.get(&value) {
                Some(&i) => out[i].1 = tag,
                None => {
                    index.insert(value.clone(), out.len());
                    out.push((value, tag));
                }
            }
        }
        out
    }
}

/// Go's `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}` (a name is the
/// longest run of letters, digits and `_`; unknown groups are empty),
/// `$$` is `$`; a `$` not followed by a valid reference is dropped with
/// what follows it left as is.
pub fn expand(regex: &regex::Regex, captures: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (name, after) = match rest.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) if end > 0 && is_name(&braced[..end]) => {
                    (&braced[..end], &braced[end + 1..])
                }
                _ => {
                    // Not a valid reference: Go drops the `$` only.
                    continue;
                }
            },
            None => {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                if end == 0 {
                    continue;
                }
                (&rest[..end], &rest[end..])
            }
        };
        rest = after;
        let group = match name.parse::<usize>() {
            Ok(n) => captures.get(n),
            Err(_) => regex
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| captures.get(i)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
    out
}

fn is_name(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;
    use flux_api::image::v1::{OrderPolicy, SemVerPolicy};

    fn semver(range: &str) -> Policer {
        Policer::from_spec(&ImagePolicyChoice {
            semver: Some(SemVerPolicy {
                range: range.to_string(),
            }),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn semver_takes_three_part_versions_only() {
        let p = semver(">=1.0.0");
        let tags = ["1.2", "latest", "v1.4.0", "1.3.9", "1.5.0-rc.1", "1.2.3.4"];
        assert_eq!(p.latest(&tags).unwrap(), "v1.4.0");
        let p = semver(">=1.0.0-0");
        assert_eq!(p.latest(&tags).unwrap(), "1.5.0-rc.1");
        assert_eq!(
            semver("<1.0.0").latest(&tags).unwrap_err().0,
            "unable to determine latest version from provided list"
        );
        assert_eq!(
            p.latest(&[]).unwrap_err().0,
            "version list argument cannot be empty"
        );
    }

    #[test]
    fn alphabetical_and_numerical_orders() {
        let asc = Policer::from_spec(&ImagePolicyChoice {
            alphabetical: Some(OrderPolicy { order: None }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(asc.latest(&["b", "a", "c"]).unwrap(), "c");
        let desc = Policer::Alphabetical { descending: true };
        assert_eq!(desc.latest(&["b", "a", "c"]).unwrap(), "a");
        let num = Policer::Numerical { descending: false };
        assert_eq!(num.latest(&["9", "10", "1e1", "2"]).unwrap(), "1e1");
        assert_eq!(
            num.latest(&["9", "x"]).unwrap_err().0,
            "failed to parse invalid numeric value 'x'"
        );
        let num = Policer::Numerical { descending: true };
        assert_eq!(num.latest(&["9", "10", "-1.5"]).unwrap(), "-1.5");
    }

    #[test]
    fn extract_expands_as_go() {
        let filter = TagFilterRegex::new(&TagFilter {
            pattern: Some("^main-(?P<sha>[a-f0-9]+)-(?P<ts>[0-9]+)$".into()),
            extract: Some("$ts".into()),
        })
        .unwrap();
        let tags: Vec<String> = [
            "main-abc-100",
            "main-def-200",
            "dev-aaa-300",
            "main-fff-200",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = filter.apply(&tags);
        assert_eq!(
            out,
            vec![
                ("100".to_string(), "main-abc-100"),
                ("200".to_string(), "main-fff-200")
            ]
        );
        let re = regex::Regex::new("(?P<a>x)(y)").unwrap();
        let caps = re.captures("xy").unwrap();
        assert_eq!(
            expand(&re, &caps, "$1-${2}-$a-${a}b-$ab-$$-$"),
            "x-y-x-xb--$-"
        );
        assert_eq!(expand(&re, &caps, "${a"), "{a");
        let bad = TagFilterRegex::new(&TagFilter {
            pattern: Some("(".into()),
            extract: None,
        })
        .unwrap_err();
        assert_eq!(
            bad.0,
            "failed to filter tags: invalid regular expression pattern '(': error parsing regexp: missing closing ): `(`"
        );
    }
}

//! Semantic versions and version constraints with the semantics of
//! Masterminds/semver v3, the library behind Helm chart versions and Flux's
//! `semver` fields (GitRepository `ref.semver`, HelmChart `version`,
//! ImagePolicy `semver.range`, OCIRepository `ref.semver`).
//!
//! Constraints: comparisons `=`, `!=`, `>`, `<`, `>=`, `<=` (also `=>`,
//! `=<`), tilde `~1.2` (`~>`), caret `^1.2`, wildcards `1.x`, `1.2.*`, `*`,
//! hyphen ranges `1.2 - 1.4.5`, AND by space or comma, OR by `||`. As
//! Masterminds does, a prerelease version only satisfies an AND group in
//! which some constraint itself names a prerelease. Versions are parsed
//! loosely (`v1`, `1.2`, leading zeros). Behaviour is checked against the
//! real library by `tests/oracle.rs`.
//!
//! ```
//! use flux_semver::{Constraints, Version};
//!
//! let range: Constraints = ">=1.0.0 <2.0.0".parse().unwrap();
//! assert!(range.check(&"1.4.2".parse::<Version>().unwrap()));
//! assert!(!range.check(&"2.0.0".parse::<Version>().unwrap()));
//! assert!(!range.check(&"1.5.0-rc.1".parse::<Version>().unwrap()));
//! let latest = Version::highest(["v1.2.0", "v1.10.0", "not-a-version"], &"~1".parse().unwrap());
//! assert_eq!(latest.map(|(tag, _)| tag), Some("v1.10.0"));
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use regex::Regex;

/// Longest version string accepted.
pub const MAX_VERSION_LEN: usize = 256;
/// Longest constraint string accepted.
pub const MAX_CONSTRAINT_LEN: usize = 512;
/// Most `||` groups accepted.
pub const MAX_CONSTRAINT_GROUPS: usize = 32;

/// Why a version or constraint was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not a semantic version.
    #[error("invalid semantic version {0:?}")]
    InvalidVersion(String),
    /// Not a constraint.
    #[error("improper constraint: {0:?}")]
    InvalidConstraint(String),
    /// A constraint whose version part is not a version once its
    /// wildcards are filled in (`0x1-f`).
    #[error("constraint parser error")]
    ConstraintParser,
    /// Too long or too many groups.
    #[error("{0}")]
    TooLong(String),
    /// Build metadata that is not dot-separated `[0-9A-Za-z-]` groups.
    #[error("Invalid Metadata string")]
    InvalidMetadata,
}

/// A semantic version.
#[derive(Clone, Debug)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

const SPACE: &str = "[\t\n\x0c\r ]";

fn loose_version_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$",
        )
        .unwrap_or_else(|_| unreachable_regex())
    })
}

/// The regexes are constants; failing to compile one is a bug caught by
/// every test, never an input-dependent condition.
#[allow(clippy::panic)]
fn unreachable_regex() -> Regex {
    panic!("flux-semver: invalid built-in regex")
}

impl Version {
    /// The major number.
    pub fn major(&self) -> u64 {
        self.major
    }
    /// The minor number.
    pub fn minor(&self) -> u64 {
        self.minor
    }
    /// The patch number.
    pub fn patch(&self) -> u64 {
        self.patch
    }
    /// The prerelease (`rc.1`), empty for a release.
    pub fn prerelease(&self) -> &str {
        &self.pre
    }
    /// The build metadata, ignored in comparisons.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }
    /// The text it was parsed from.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// This version with build metadata `metadata` in place of its own
    /// (Masterminds' `SetMetadata`: dot-separated non-empty groups of
    /// `[0-9A-Za-z-]`, else `Invalid Metadata string`).
    pub fn with_metadata(&self, metadata: &str) -> Result<Version, Error> {
        let valid = metadata
            .split('.')
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !valid {
            return Err(Error::InvalidMetadata);
        }
        let mut v = self.clone();
        v.metadata = metadata.to_string();
        v.original = v.to_string();
        Ok(v)
    }

    /// Parses `text` as Flux does (`fluxcd/pkg/version.ParseVersion`): at
    /// least three dot-separated parts (`1.2` is not a version), then as
    /// [`Version::from_str`].
    pub fn parse_flux(text: &str) -> Result<Version, Error> {
        if text.split('.').count() < 3 {
            return Err(Error::InvalidVersion(format!(
                "{text}: missing dot separators"
            )));
        }
        text.parse()
    }

    /// The highest of `candidates` (tags, chart versions) that parse as
    /// versions and satisfy `constraints`, with its original text.
    pub fn highest<'a, I>(candidates: I, constraints: &Constraints) -> Option<(&'a str, Version)>
    where
        I: IntoIterator<Item = &'a str>,
    {
        candidates
            .into_iter()
            .filter_map(|c| c.parse::<Version>().ok().map(|v| (c, v)))
            .filter(|(_, v)| constraints.check(v))
            .max_by(|a, b| a.1.cmp(&b.1))
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidVersion(s.to_string());
        if s.len() > MAX_VERSION_LEN {
            return Err(Error::TooLong(format!(
                "version string is too long (max {MAX_VERSION_LEN} bytes)"
            )));
        }
        let caps = loose_version_regex().captures(s).ok_or_else(invalid)?;
        let number = |i: usize| -> Result<u64, Error> {
            match caps.get(i) {
                None => Ok(0),
                Some(m) => m
                    .as_str()
                    .trim_start_matches('.')
                    .parse::<u64>()
                    .map_err(|_| invalid()),
            }
        };
        let pre = caps.get(5).map(|m| m.as_str()).unwrap_or_default();
        let metadata = caps.get(8).map(|m| m.as_str()).unwrap_or_default();
        for part in pre.split('.').filter(|_| !pre.is_empty()) {
            let numeric = part.bytes().all(|b| b.is_ascii_digit());
            if part.is_empty() || (numeric && part.len() > 1 && part.starts_with('0')) {
                return Err(invalid());
            }
        }
        if !metadata.is_empty() && metadata.split('.').any(str::is_empty) {
            return Err(invalid());
        }
        Ok(Self {
            major: number(1)?,
            minor: number(2)?,
            patch: number(3)?,
            pre: pre.to_string(),
            metadata: metadata.to_string(),
            original: s.to_string(),
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    /// Semver precedence; build metadata is ignored.
    fn cmp(&self, other: &Self) -> Ordering {
        self.major
            .cmp(&other.major)
            .then(self.minor.cmp(&other.minor))
            .then(self.patch.cmp(&other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &other.pre),
            })
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let a: Vec<&str> = a.split('.').collect();
    let b: Vec<&str> = b.split('.').collect();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or("");
        let y = b.get(i).copied().unwrap_or("");
        let order = compare_prerelease_part(x, y);
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// One dot-separated prerelease identifier: missing sorts first, numbers
/// before words, numbers numerically, words by bytes.
fn compare_prerelease_part(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    if a.is_empty() {
        return Ordering::Less;
    }
    if b.is_empty() {
        return Ordering::Greater;
    }
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Err(_), Err(_)) => a.cmp(b),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(x), Ok(y)) => {
            if x > y {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `=` or nothing: equal, or a tilde range when wildcards are involved.
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

impl Op {
    fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "" | "=" => Op::TildeOrEqual,
            "!=" => Op::NotEqual,
            ">" => Op::Greater,
            "<" => Op::Less,
            ">=" | "=>" => Op::GreaterEqual,
            "<=" | "=<" => Op::LessEqual,
            "~" | "~>" => Op::Tilde,
            "^" => Op::Caret,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
struct Constraint {
    op: Op,
    version: Version,
    /// Any of major, minor, patch was a wildcard or missing.
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
const CONSTRAINT_VERSION: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";

struct Grammar {
    single: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn grammar() -> &'static Grammar {
    static G: OnceLock<Grammar> = OnceLock::new();
    G.get_or_init(|| {
        let compile = |s: String| Regex::new(&s).unwrap_or_else(|_| unreachable_regex());
        let (s, ops, cv) = (SPACE, OPS, CONSTRAINT_VERSION);
        Grammar {
            single: compile(format!("^{s}*({ops}){s}*({cv}){s}*$")),
            range: compile(format!("{s}*({cv}){s}+-{s}+({cv}){s}*")),
            find: compile(format!("({ops}){s}*({cv})")),
            valid: compile(format!(
                "^({s}*({ops}){s}*({cv}){s}*)((?:{s}+|,{s}*)({ops}){s}*({cv}){s}*)*$"
            )),
        }
    })
}

fn is_wildcard(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

impl Constraint {
    fn parse(text: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidConstraint(text.to_string());
        let caps = grammar().single.captures(text).ok_or_else(invalid)?;
        let group = |i: usize| caps.get(i).map(|m| m.as_str()).unwrap_or_default();
        let op = Op::parse(group(1)).ok_or_else(invalid)?;
        let (major, minor, patch, pre) = (group(3), group(4), group(5), group(6));
        let minor = minor.trim_start_matches('.');
        let patch = patch.trim_start_matches('.');
        let (text_version, dirty, minor_dirty, patch_dirty) = if is_wildcard(major) {
            (format!("0.0.0{pre}"), true, false, false)
        } else if minor.is_empty() || is_wildcard(minor) {
            (format!("{major}.0.0{pre}"), true, true, false)
        } else if patch.is_empty() || is_wildcard(patch) {
            (format!("{major}.{minor}.0{pre}"), true, false, true)
        } else {
            (group(2).to_string(), false, false, false)
        };
        let version = text_version
            .parse::<Version>()
            .map_err(|_| Error::ConstraintParser)?;
        Ok(Self {
            op,
            version,
            dirty,
            minor_dirty,
            patch_dirty,
        })
    }

    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.version;
        match self.op {
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                v != c
            }
            Op::Greater => {
                if !self.dirty {
                    return v > c;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                v > c
            }
            Op::Less => v < c,
            Op::GreaterEqual => v >= c,
            Op::LessEqual => {
                if !self.dirty {
                    return v <= c;
                }
                if v.major > c.major {
                    return false;
                }
                !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
            }
            Op::Tilde => self.tilde(v),
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v == c
                }
            }
            Op::Caret => {
                if v < c {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v < c {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

/// One or more constraints: AND groups joined by `||`.
#[derive(Clone, Debug)]
pub struct Constraints {
    groups: Vec<Vec<Constraint>>,
    contains_pre: Vec<bool>,
    original: String,
}

impl Constraints {
    /// True when `version` satisfies any AND group.
    pub fn check(&self, version: &Version) -> bool {
        self.groups
            .iter()
            .zip(&self.contains_pre)
            .any(|(group, &pre)| group.iter().all(|c| c.check(version, pre)))
    }

    /// The text it was parsed from.
    pub fn original(&self) -> &str {
        &self.original
    }
}

impl FromStr for Constraints {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        if s.len() > MAX_CONSTRAINT_LEN {
            return Err(Error::TooLong(format!(
                "constraint string is too long (max {MAX_CONSTRAINT_LEN} bytes)"
            )));
        }
        let g = grammar();
        // Hyphen ranges become `>= a, <= b`, one occurrence at a time.
        let mut text = s.to_string();
        let ranges: Vec<(String, String, String)> = g
            .range
            .captures_iter(s)
            .map(|c| {
                let whole = c.get(0).map(|m| m.as_str()).unwrap_or_default();
                let from = c.get(1).map(|m| m.as_str()).unwrap_or_default();
                let to = c.get(11).map(|m| m.as_str()).unwrap_or_default();
                (whole.to_string(), from.to_string(), to.to_string())
            })
            .collect();
        for (whole, from, to) in ranges {
            text = text.replacen(&whole, &format!(">= {from}, <= {to} "), 1);
        }
        let segments: Vec<&str> = text.split("||").collect();
        if segments.len() > MAX_CONSTRAINT_GROUPS {
            return Err(Error::TooLong(format!(
                "too many constraint groups (max {MAX_CONSTRAINT_GROUPS})"
            )));
        }
        let mut groups = Vec::new();
        let mut contains_pre = Vec::new();
        for segment in segments {
            if !g.valid.is_match(segment) {
                return Err(Error::InvalidConstraint(segment.to_string()));
            }
            let mut found: Vec<&str> = g.find.find_iter(segment).map(|m| m.as_str()).collect();
            if found.is_empty() {
                found.push(segment);
            }
            let group = found
                .into_iter()
                .map(Constraint::parse)
                .collect::<Result<Vec<_>, _>>()?;
            contains_pre.push(group.iter().any(|c| !c.version.pre.is_empty()));
            groups.push(group);
        }
        Ok(Self {
            groups,
            contains_pre,
            original: s.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_errors_name_their_cause_as_go_does() {
        for (c, e) in [
            ("0x1-f", "constraint parser error"),
            ("0x1", "constraint parser error"),
            ("a", "improper constraint: \"a\""),
        ] {
            assert_eq!(c.parse::<Constraints>().unwrap_err().to_string(), e, "{c}");
        }
        assert!("1.x-f".parse::<Constraints>().is_ok());
    }

    fn check(constraint: &str, version: &str) -> bool {
        constraint
            .parse::<Constraints>()
            .unwrap()
            .check(&version.parse().unwrap())
    }

    #[test]
    fn documented_examples() {
        assert!(check(">= 1.2, < 3.0.0 || >= 4.2.3", "2.9.0"));
        assert!(check(">= 1.2, < 3.0.0 || >= 4.2.3", "4.2.3"));
        assert!(!check(">= 1.2, < 3.0.0 || >= 4.2.3", "3.5.0"));
        assert!(check("1.2 - 1.4.5", "1.4.5"));
        assert!(!check("1.2 - 1.4.5", "1.4.6"));
        assert!(check("1.2.x", "1.2.9") && !check("1.2.x", "1.3.0"));
        assert!(check("~1.2.3", "1.2.9") && !check("~1.2.3", "1.3.0"));
        assert!(check("~1", "1.9.0") && !check("~1", "2.0.0"));
        assert!(check("^1.2.3", "1.9.9") && !check("^1.2.3", "2.0.0"));
        assert!(check("^0.2.3", "0.2.9") && !check("^0.2.3", "0.3.0"));
        assert!(check("^0.0.3", "0.0.3") && !check("^0.0.3", "0.0.4"));
        assert!(check("*", "7.0.0"));
        assert!(
            !check(">=1.2.3", "1.2.4-beta.1"),
            "prereleases need a prerelease constraint"
        );
        assert!(check(">=1.2.3-0", "1.2.4-beta.1"));
    }

    #[test]
    fn ordering_and_parsing() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
        assert!(v("1.0.0-alpha.beta") < v("1.0.0-beta"));
        assert!(v("1.0.0-beta.2") < v("1.0.0-beta.11"));
        assert!(v("1.0.0-rc.1") < v("1.0.0"));
        assert_eq!(v("v1.2"), v("1.2.0"));
        assert_eq!(v("1.2.3+build.5"), v("1.2.3"));
        assert_eq!(v("1.2.3-rc.1+b").to_string(), "1.2.3-rc.1+b");
        for bad in ["", "1.2.3.4", "a.b.c", "1.2.3-01", "1.2.3+", "1.2.3-"] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
        assert!("".parse::<Constraints>().is_err());
        assert!(">= nope".parse::<Constraints>().is_err());
    }
}

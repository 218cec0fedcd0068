//! The `Setters` update strategy: scalars marked with an `$imagepolicy`
//! comment get the image reference their ImagePolicy resolved.
//!
//! Which scalars are marked, and with which value, follows upstream's
//! image-automation-controller (kyaml's setters underneath): a scalar's
//! line comment, or when it has none its head comment, read as a JSON
//! object of strings whose `$imagepolicy` key names `<namespace>:<policy>`
//! optionally followed by `:tag`, `:name` or `:digest`; the legacy
//! `{"$ref": "#/definitions/io.k8s.cli.setters.<namespace>:<policy>"}`
//! form too. Files are read only when their bytes hold `"$imagepolicy"`.
//!
//! How the file is written does not: upstream re-serialises every changed
//! file through kyaml (comments moved, indentation and quoting normalised,
//! block scalars folded). Here the new value replaces the bytes of the
//! marked scalar and nothing else; the scalar keeps its quoting unless the
//! new value needs quotes (a plain `1.10` would read as a number: it is
//! double-quoted, as upstream does).

use std::collections::{BTreeMap, HashMap};

use granit_parser::{Event, Parser, ScalarStyle as ParsedStyle};
use serde::Serialize;

/// The marker's key.
pub const SHORTHAND: &str = "$imagepolicy";
const LEGACY_PREFIX: &str = "#/definitions/io.k8s.cli.setters.";

/// What an ImagePolicy resolved, as the setters use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRef {
    /// The policy's namespace.
    pub namespace: String,
    /// The policy's name.
    pub name: String,
    /// `latestRef.name`: the image name.
    pub image: String,
    /// `latestRef.tag`.
    pub tag: String,
    /// `latestRef.digest` (empty when not reflected).
    pub digest: String,
}

impl PolicyRef {
    /// `latestRef` as a reference: `<name>:<tag>`, `@<digest>` appended
    /// when there is one.
    pub fn reference(&self) -> String {
        if self.digest.is_empty() {
            format!("{}:{}", self.image, self.tag)
        } else {
            format!("{}:{}@{}", self.image, self.tag, self.digest)
        }
    }
}

/// The setters of `policies`: `<ns>:<name>` and its `:tag`, `:name` and
/// `:digest` forms, each with its value.
pub fn setters(policies: &[PolicyRef]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for p in policies {
        let base = format!("{}:{}", p.namespace, p.name);
        out.insert(format!("{base}:tag"), p.tag.clone());
        out.insert(format!("{base}:name"), p.image.clone());
        out.insert(format!("{base}:digest"), p.digest.clone());
        out.insert(base, p.reference());
    }
    out
}

/// The object a change was made in (kyaml's `ResourceIdentifier`; ordered
/// as Go orders its fields: API version, kind, name, namespace).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectId {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
}

/// One value changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The value before.
    pub old_value: String,
    /// The value after.
    pub new_value: String,
    /// The setter (`<ns>:<policy>[:tag|:name|:digest]`).
    pub setter: String,
}

/// The changes made to one file's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileUpdate {
    /// The new text.
    pub text: String,
    /// The changes, per object, in document order.
    pub changes: Vec<(ObjectId, Change)>,
}

/// The setter a comment names, when it is a marker (the JSON object
/// kyaml reads after stripping the leading `#`s). `None` for any other
/// comment.
pub fn marker(comment: &str) -> Option<Marker> {
    let text = comment.trim_start_matches('#');
    // The shorthand: a JSON object whose values are all strings.
    if let Ok(map) = serde_json::from_str::<BTreeMap<String, String>>(text)
        && let Some(name) = map.get(SHORTHAND).filter(|n| !n.is_empty())
    {
        return Some(Marker::Shorthand(name.clone()));
    }
    // The legacy form: an OpenAPI schema whose `$ref` names a setter.
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let reference = value.get("$ref")?.as_str()?;
    reference
        .strip_prefix(LEGACY_PREFIX)
        .map(|name| Marker::Legacy(name.to_string()))
}

/// A marker comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    /// `{"$imagepolicy": "<setter>"}`; or, when that setter does not
    /// exist, nothing (kyaml then reads the comment as a schema without a
    /// reference).
    Shorthand(String),
    /// `{"$ref": "#/definitions/io.k8s.cli.setters.<setter>"}`.
    Legacy(String),
}

impl Marker {
    fn setter(&self) -> &str {
        match self {
            Marker::Shorthand(s) | Marker::Legacy(s) => s,
        }
    }
}

/// A scalar node of the file, where it is, and what kyaml would see of
/// its comments.
#[derive(Debug)]
struct Scalar {
    start: usize,
    end: usize,
    style: ParsedStyle,
    value: String,
    document: usize,
}

#[derive(Debug)]
enum Frame {
    Map {
        /// The next scalar is a key.
        expect_key: bool,
        /// The key of the value being read.
        key: Option<String>,
    },
    Seq,
}

/// Whether a file's bytes ask for the setters at all (upstream reads only
/// files holding `"$imagepolicy"`, quotes included).
pub fn has_token(bytes: &[u8]) -> bool {
    let token = b"\"$imagepolicy\"";
    bytes.windows(token.len()).any(|w| w == token)
}

/// The parse failed: upstream skips such files silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

/// Applies `setters` to the marked scalars of `text`. `None` when no
/// value changed (the file is left as it is).
pub fn update_text(
    text: &str,
    setters: &HashMap<String, String>,
) -> Result<Option<FileUpdate>, ParseError> {
    // kyaml's reader does not read files with directives (`%YAML 1.1`):
    // upstream skips them, and so do we.
    if text
        .lines()
        .any(|l| l.starts_with("%YAML") || l.starts_with("%TAG"))
    {
        return Err(ParseError("YAML directives are not read".to_string()));
    }
    let (scalars, objects) = scan(text)?;
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut changes = Vec::new();
    for scalar in &scalars {
        let Some(setter) = comment_of(text, scalar)
            .and_then(marker)
            .map(|m| m.setter().to_string())
        else {
            continue;
        };
        let Some(new_value) = setters.get(&setter) else {
            continue;
        };
        if *new_value == scalar.value {
            continue;
        }
        let (start, end) = replaced_range(text, scalar);
        edits.push((start, end, render(text, scalar, new_value)));
        changes.push((
            objects.get(scalar.document).cloned().unwrap_or_default(),
            Change {
                old_value: scalar.value.clone(),
                new_value: new_value.clone(),
                setter,
            },
        ));
    }
    if edits.is_empty() {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, replacement) in edits {
        out.push_str(&text[at..start]);
        out.push_str(&replacement);
        at = end;
    }
    out.push_str(&text[at..]);
    Ok(Some(FileUpdate { text: out, changes }))
}

/// The scalars kyaml visits (mapping values, sequence items, document
/// roots — not keys) and each document's identity.
fn scan(text: &str) -> Result<(Vec<Scalar>, Vec<ObjectId>), ParseError> {
    let mut scalars = Vec::new();
    let mut objects: Vec<ObjectId> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut document = 0usize;
    let mut in_document = false;
    for next in Parser::new_from_str(text) {
        let (event, span) = next.map_err(|e| ParseError(e.to_string()))?;
        match event {
            Event::DocumentStart(..) => {
                in_document = true;
                objects.push(ObjectId::default());
                stack.clear();
            }
            Event::DocumentEnd => {
                if in_document {
                    document += 1;
                }
                in_document = false;
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                value_taken(&mut stack);
                stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map {
                        expect_key: true,
                        key: None,
                    }
                } else {
                    Frame::Seq
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                // The collection was the value of its parent's key.
                if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                    *key = None;
                }
            }
            Event::Alias(_) => value_taken(&mut stack),
            Event::Scalar(value, style, _, _) => {
                let is_key = matches!(
                    stack.last(),
                    Some(Frame::Map {
                        expect_key: true,
                        ..
                    })
                );
                if is_key {
                    if let Some(Frame::Map { expect_key, key }) = stack.last_mut() {
                        *expect_key = false;
                        *key = Some(value.to_string());
                    }
                    continue;
                }
                let path = key_path(&stack);
                if let Some(object) = objects.last_mut() {
                    identify(object, &path, &value);
                }
                value_taken(&mut stack);
                let (Some(start), Some(end)) = (span.start.byte_offset(), span.end.byte_offset())
                else {
                    return Err(ParseError("no byte offsets".to_string()));
                };
                // An absent value (`key:`) has an empty span.
                if start >= end || end > text.len() {
                    continue;
                }
                scalars.push(Scalar {
                    start,
                    end,
                    style,
                    value: value.to_string(),
                    document,
                });
            }
            _ => {}
        }
    }
    Ok((scalars, objects))
}

/// The keys leading to the value being read (`None` for sequence items).
fn key_path(stack: &[Frame]) -> Vec<Option<&str>> {
    stack
        .iter()
        .map(|f| match f {
            Frame::Map { key, .. } => key.as_deref(),
            Frame::Seq => None,
        })
        .collect()
}

fn identify(object: &mut ObjectId, path: &[Option<&str>], value: &str) {
    match path {
        [Some("kind")] => object.kind = value.to_string(),
        [Some("apiVersion")] => object.api_version = value.to_string(),
        [Some("metadata"), Some("name")] => object.name = value.to_string(),
        [Some("metadata"), Some("namespace")] => object.namespace = value.to_string(),
        _ => {}
    }
}

/// A value was read in the innermost collection: a mapping expects a key
/// again.
fn value_taken(stack: &mut [Frame]) {
    if let Some(Frame::Map { expect_key, .. }) = stack.last_mut() {
        *expect_key = true;
    }
}

/// The start of the line holding byte `at`.
fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The end of the line holding byte `at` (before its line break).
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i)
}

/// The comment kyaml reads for `scalar`: its line comment, else its head
/// comment.
fn comment_of<'a>(text: &'a str, scalar: &Scalar) -> Option<&'a str> {
    // The line comment: after the scalar, on the same line (a block
    // scalar: after its header).
    let after_from = match scalar.style {
        ParsedStyle::Literal | ParsedStyle::Folded => match block_header(text, scalar) {
            Some((indicator, header_end)) => {
                let header = &text[indicator..header_end];
                indicator + header.find('#').unwrap_or(header.len())
            }
            None => return None,
        },
        _ => scalar.end,
    };
    let rest = &text[after_from..line_end(text, after_from)];
    let trimmed = rest.trim_start_matches([' ', '\t']);
    if trimmed.starts_with('#') {
        return Some(trimmed.trim_end());
    }
    if !trimmed.is_empty() {
        return None;
    }
    // The head comment: the comment line right above, when the scalar is
    // the first node of its line (a sequence item `- value` included); the
    // comment may follow a `-` of its own (`- # {…}` with the item on the
    // next line). A block of several comment lines, or a blank line
    // before the scalar, is no marker.
    let start = line_start(text, scalar.start);
    if !is_indicators(&text[start..scalar.start]) || start == 0 {
        return None;
    }
    let above_start = line_start(text, start - 1);
    let above = text[above_start..start - 1]
        .trim_start_matches([' ', '\t', '-'])
        .trim_end();
    if !above.starts_with('#') {
        return None;
    }
    if above_start > 0 {
        let prev_start = line_start(text, above_start - 1);
        if text[prev_start..above_start - 1]
            .trim_start_matches([' ', '\t', '-'])
            .starts_with('#')
        {
            return None;
        }
    }
    Some(above)
}

/// Only indentation and sequence indicators.
fn is_indicators(text: &str) -> bool {
    text.chars().all(|c| matches!(c, ' ' | '\t' | '-'))
}

/// The new bytes of `scalar` holding `value`, in its style.
fn render(text: &str, scalar: &Scalar, value: &str) -> String {
    use flux_yaml::ScalarStyle as S;
    let requested = match scalar.style {
        ParsedStyle::SingleQuoted => S::SingleQuoted,
        ParsedStyle::DoubleQuoted => S::DoubleQuoted,
        ParsedStyle::Plain
            if flux_yaml::resolves_non_string_v2(value)
                || !matches!(flux_yaml::resolve_plain(value), flux_yaml::Value::String(_)) =>
        {
            S::DoubleQuoted
        }
        ParsedStyle::Plain => S::Plain,
        ParsedStyle::Literal | ParsedStyle::Folded => return block(text, scalar, value),
    };
    flux_yaml::scalar_text(value, requested).0
}

/// Where a block scalar's header (`|`, `>-`, `|2+`…) starts and its line
/// ends. The parser's span of a block scalar starts at its content.
fn block_header(text: &str, scalar: &Scalar) -> Option<(usize, usize)> {
    let content_line = line_start(text, scalar.start);
    if content_line == 0 {
        return None;
    }
    let header_end = content_line - 1;
    let header_line = line_start(text, header_end);
    let line = &text[header_line..header_end];
    let before_comment = line.find(" #").map_or(line.len(), |i| i);
    let indicator = line[..before_comment].rfind(['|', '>'])?;
    Some((header_line + indicator, header_end))
}

/// The bytes replaced for `scalar`: a block scalar from its header to the
/// end of its content.
fn replaced_range(text: &str, scalar: &Scalar) -> (usize, usize) {
    match scalar.style {
        ParsedStyle::Literal | ParsedStyle::Folded => {
            let content_end = scalar.start + text[scalar.start..scalar.end].trim_end().len();
            let start = block_header(text, scalar).map_or(scalar.start, |(i, _)| i);
            (start, content_end)
        }
        _ => (scalar.start, scalar.end),
    }
}

/// A block scalar keeps its style, its line comment and its indentation;
/// its chomping becomes `-` (the value has no final line break).
fn block(text: &str, scalar: &Scalar, value: &str) -> String {
    let Some((indicator, header_end)) = block_header(text, scalar) else {
        return flux_yaml::scalar_text(value, flux_yaml::ScalarStyle::DoubleQuoted).0;
    };
    let header = &text[indicator..header_end];
    let (indicators, comment) = match header.find('#') {
        Some(i) => (header[..i].trim_end(), header[i..].trim_end()),
        None => (header.trim_end(), ""),
    };
    let style: String = indicators.chars().take(1).collect();
    let indent = &text[line_start(text, scalar.start)..scalar.start];
    let comment = if comment.is_empty() {
        String::new()
    } else {
        format!(" {comment}")
    };
    format!("{style}-{comment}\n{indent}{value}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    fn policies() -> HashMap<String, String> {
        setters(&[PolicyRef {
            namespace: "flux-system".into(),
            name: "app".into(),
            image: "ghcr.io/org/app".into(),
            tag: "1.4.2".into(),
            digest: String::new(),
        }])
    }

    #[test]
    fn only_the_marked_scalar_changes() {
        let text = "# keep me\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web   # odd spacing\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: 'ghcr.io/org/app:1.0.0' # {\"$imagepolicy\": \"flux-system:app\"}\n          args: [ \"--x\",   y ]\n";
        let update = update_text(text, &policies()).unwrap().unwrap();
        assert_eq!(
            update.text,
            text.replace("'ghcr.io/org/app:1.0.0'", "'ghcr.io/org/app:1.4.2'")
        );
        assert_eq!(update.changes.len(), 1);
        assert_eq!(update.changes[0].0.kind, "Deployment");
        assert_eq!(update.changes[0].0.name, "web");
        assert_eq!(update.changes[0].1.old_value, "ghcr.io/org/app:1.0.0");
    }

    #[test]
    fn tag_and_name_setters_and_numbers_quoted() {
        let mut setters = policies();
        setters.insert("flux-system:app:tag".into(), "1.10".into());
        let text = "images:\n- name: app # {\"$imagepolicy\": \"flux-system:app:name\"}\n  newTag: 1.0.0 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n";
        let update = update_text(text, &setters).unwrap().unwrap();
        assert_eq!(
            update.text,
            "images:\n- name: ghcr.io/org/app # {\"$imagepolicy\": \"flux-system:app:name\"}\n  newTag: \"1.10\" # {\"$imagepolicy\": \"flux-system:app:tag\"}\n"
        );
    }

    #[test]
    fn unknown_policies_and_other_comments_are_ignored() {
        let text = "a: x # {\"$imagepolicy\": \"other:app\"}\nb: y # not json\nc: z # {\"$imagepolicy\": 1}\n";
        assert_eq!(update_text(text, &policies()).unwrap(), None);
    }

    #[test]
    fn markers() {
        assert_eq!(
            marker("# {\"$imagepolicy\": \"ns:p:tag\"}"),
            Some(Marker::Shorthand("ns:p:tag".into()))
        );
        assert_eq!(
            marker("# {\"$ref\": \"#/definitions/io.k8s.cli.setters.ns:p\"}"),
            Some(Marker::Legacy("ns:p".into()))
        );
        assert_eq!(marker("# {\"$imagepolicy\": \"\"}"), None);
        assert_eq!(marker("# image"), None);
    }
}

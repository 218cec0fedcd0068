//! Multi-document YAML → [`Value`]s, as go-yaml v3 decodes into
//! `interface{}`: plain scalars resolved, quoted and block scalars are
//! strings, anchors and aliases expanded, `<<` merge keys applied,
//! duplicate keys refused.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

use crate::resolve::{resolve_v2, resolve_v3};
use crate::{Error, Value};

/// Largest number of nodes a document may expand to through aliases
/// (a billion-laughs document is refused, not expanded).
const MAX_NODES: usize = 1_000_000;

enum Frame {
    Seq(Vec<Value>, usize),
    Map {
        entries: Vec<(String, Value)>,
        key: Option<(Value, usize)>,
        anchor: usize,
        merged: Vec<(String, Value)>,
    },
}

/// Which Go decoder's rules apply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// go-yaml v3 into `interface{}` (kustomize): duplicate keys refused,
    /// keys must be strings.
    V3,
    /// go-yaml v3's node tree as kyaml reads it (kustomize's patches): a
    /// repeated key is ignored, the first one is found.
    V3FirstKeyWins,
    /// `sigs.k8s.io/yaml.Unmarshal` (Helm): go-yaml v2 non-strict (YAML 1.1
    /// booleans `yes`/`on`/`y`, timestamps kept as written, a repeated key
    /// replaces the earlier value), non-string keys turned into strings.
    Sigs,
}

/// Every document of `text`, in order (an empty document is [`Value::Null`]).
pub fn parse(text: &str) -> Result<Vec<Value>, Error> {
    Ok(parse_dialect(text, Dialect::V3, None)?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// One step of a path from a document's root: a mapping key or a
/// sequence index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A mapping field whose null value was written as nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmptyField {
    /// Where.
    pub path: Vec<Step>,
    /// Inside a flow collection (`{a: }`): go-yaml writes such a scalar
    /// back as `''`, which reads as an empty string.
    pub in_flow: bool,
}

/// A document as [`parse`] reads it, with what decoding into `interface{}`
/// loses but kyaml's node tree keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The value.
    pub value: Value,
    /// Mapping fields whose value is a null written as nothing (`a:`,
    /// `a: !!null`), as opposed to `~` or `null`: kyaml's merge walker
    /// clears the first kind and keeps the second.
    pub empty_fields: Vec<EmptyField>,
    /// The text of each plain scalar that does not resolve to a string,
    /// at the paths `keep_text` selects (`1.50`, `0755`, `~`, `True`).
    pub texts: Vec<(Vec<Step>, String)>,
}

/// Every document of `text` as [`parse`] reads it, with the empty fields
/// and the texts of the scalars at paths `keep_text` selects. Paths inside
/// alias expansions and `<<` merges are not reported.
pub fn parse_documents(
    text: &str,
    keep_text: &dyn Fn(&[Step]) -> bool,
) -> Result<Vec<Document>, Error> {
    parse_dialect(text, Dialect::V3, Some(keep_text))
}

/// Every document of `text` as `sigs.k8s.io/yaml.Unmarshal` reads it
/// before its JSON step (what Helm reads values, `Chart.yaml` and
/// `fromYaml` with): go-yaml v2's YAML 1.1 resolution (`yes`, `on`, `y`
/// are booleans; timestamps stay strings), a repeated key replaces the
/// earlier one, and keys that are not strings become their text (`1`,
/// `true`).
pub fn parse_sigs(text: &str) -> Result<Vec<Value>, Error> {
    Ok(parse_dialect(text, Dialect::Sigs, None)?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// The path of the node about to be added to `stack`'s innermost
/// collection; `None` for a mapping key (or anything inside one).
fn node_path(stack: &[Frame]) -> Option<Vec<Step>> {
    stack
        .iter()
        .map(|frame| match frame {
            Frame::Seq(items, _) => Some(Step::Index(items.len())),
            Frame::Map {
                key: Some((Value::String(k), _)),
                ..
            } => Some(Step::Key(k.clone())),
            Frame::Map { .. } => None,
        })
        .collect()
}

/// [`parse_documents`] as kyaml reads a patch: a repeated mapping key is
/// ignored (kyaml's field lookups find the first), where decoding into Go
/// values refuses it.
pub fn parse_documents_first_key_wins(
    text: &str,
    keep_text: &dyn Fn(&[Step]) -> bool,
) -> Result<Vec<Document>, Error> {
    parse_dialect(text, Dialect::V3FirstKeyWins, Some(keep_text))
}

/// Selects the paths whose scalar texts [`parse_documents`] keeps.
type KeepText<'a> = dyn Fn(&[Step]) -> bool + 'a;

fn parse_dialect(
    text: &str,
    dialect: Dialect,
    keep_text: Option<&KeepText<'_>>,
) -> Result<Vec<Document>, Error> {
    let mut docs = Vec::new();
    let mut empty_fields = Vec::new();
    let mut texts = Vec::new();
    // How many flow collections enclose the next node.
    let mut flow = 0usize;
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut root: Option<Value> = None;
    let mut nodes = 0usize;
    // go-yaml is a port of libyaml: a block scalar whose last line ends the
    // input without a line break gets no line feed (`a: |\n  x` is "x").
    let options = granit_parser::options! { block_scalar_eof_without_line_feed: true };
    for next in Parser::new_from_str_with_options(text, options) {
        let (event, span) = next.map_err(|e| match dialect {
            Dialect::V3 | Dialect::V3FirstKeyWins => Error::Syntax {
                line: e.marker().line(),
                message: e.info(),
            },
            // An unclosed quote is noticed at the end of the input:
            // libyaml reports the line there, not the quote's.
            Dialect::Sigs if e.info() == "unclosed quote" => {
                libyaml_error(line_breaks(text) + 1, &e.info())
            }
            Dialect::Sigs => libyaml_error(e.marker().line(), &e.info()),
        })?;
        let line = span.start.line();
        // The parser spells an absent node `~`, with an empty span.
        let written_empty = span.start.index() == span.end.index();
        if matches!(event, Event::SequenceEnd | Event::MappingEnd) {
            flow = flow.saturating_sub(1);
        }
        let value = match event {
            Event::DocumentStart(..) => {
                root = None;
                anchors.clear();
                nodes = 0;
                continue;
            }
            Event::DocumentEnd => {
                docs.push(Document {
                    value: root.take().unwrap_or(Value::Null),
                    empty_fields: std::mem::take(&mut empty_fields),
                    texts: std::mem::take(&mut texts),
                });
                continue;
            }
            Event::SequenceStart(style, anchor, _) => {
                if flow > 0 || style == StructureStyle::Flow {
                    flow += 1;
                }
                stack.push(Frame::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart(style, anchor, _) => {
                if flow > 0 || style == StructureStyle::Flow {
                    flow += 1;
                }
                stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    anchor,
                    merged: Vec::new(),
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => {
                    let value = Value::Seq(items);
                    if anchor != 0 {
                        anchors.insert(anchor, value.clone());
                    }
                    value
                }
                _ => return Err(Error::Decode("unbalanced sequence".to_string())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    mut entries,
                    anchor,
                    merged,
                    ..
                }) => {
                    // Explicit keys win over merged ones.
                    for (k, v) in merged {
                        if !entries.iter().any(|(e, _)| *e == k) {
                            entries.push((k, v));
                        }
                    }
                    let value = Value::Map(entries);
                    if anchor != 0 {
                        anchors.insert(anchor, value.clone());
                    }
                    value
                }
                _ => return Err(Error::Decode("unbalanced mapping".to_string())),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref(), line, dialect)?;
                if let Some(keep_text) = keep_text
                    && !matches!(value, Value::String(_))
                    && let Some(path) = node_path(&stack)
                {
                    let field = matches!(path.last(), Some(Step::Key(_)));
                    if matches!(value, Value::Null) && (text.is_empty() || written_empty) {
                        if field {
                            empty_fields.push(EmptyField {
                                path,
                                in_flow: flow > 0,
                            });
                        }
                    } else if keep_text(&path) {
                        texts.push((path, text.to_string()));
                    }
                }
                if anchor != 0 {
                    anchors.insert(anchor, value.clone());
                }
                value
            }
            Event::Alias(id) => {
                let value = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| Error::Decode(format!("line {line}: unknown anchor")))?;
                nodes += count(&value);
                if nodes > MAX_NODES {
                    return Err(Error::Decode(
                        "document is too large after expanding aliases".to_string(),
                    ));
                }
                value
            }
            _ => continue,
        };
        nodes += 1;
        push(&mut stack, &mut root, value, line, dialect)?;
    }
    Ok(docs)
}

fn count(value: &Value) -> usize {
    match value {
        Value::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| count(v)).sum::<usize>(),
        _ => 1,
    }
}

/// Adds a finished node to its parent (or makes it the document root).
fn push(
    stack: &mut [Frame],
    root: &mut Option<Value>,
    value: Value,
    line: usize,
    dialect: Dialect,
) -> Result<(), Error> {
    let Some(parent) = stack.last_mut() else {
        *root = Some(value);
        return Ok(());
    };
    match parent {
        Frame::Seq(items, _) => items.push(value),
        Frame::Map {
            entries,
            key,
            merged,
            ..
        } => match key.take() {
            None => *key = Some((value, line)),
            Some((Value::String(k), _)) if k == "<<" => merge(merged, value)?,
            Some((k, key_line)) => {
                let k = match (k, dialect) {
                    (Value::String(k), _) => k,
                    (k, Dialect::Sigs) => sigs_key(k)?,
                    (_, Dialect::V3 | Dialect::V3FirstKeyWins) => {
                        return Err(Error::Json(
                            "unsupported type: map[interface {}]interface {}".to_string(),
                        ));
                    }
                };
                if dialect == Dialect::Sigs {
                    if let Some(slot) = entries.iter_mut().find(|(e, _)| *e == k) {
                        slot.1 = value;
                        return Ok(());
                    }
                } else if entries.iter().any(|(e, _)| *e == k) {
                    if dialect == Dialect::V3FirstKeyWins {
                        return Ok(());
                    }
                    return Err(Error::Decode(format!(
                        "unmarshal errors:\n  line {key_line}: mapping key \"{k}\" already defined"
                    )));
                }
                entries.push((k, value));
            }
        },
    }
    Ok(())
}

/// `<<: *base` or `<<: [*a, *b]` (earlier mappings win).
fn merge(merged: &mut Vec<(String, Value)>, value: Value) -> Result<(), Error> {
    let sources = match value {
        Value::Map(_) => vec![value],
        Value::Seq(items) => items,
        _ => {
            return Err(Error::Decode(
                "map merge requires map or sequence of maps as the value".to_string(),
            ));
        }
    };
    for source in sources {
        let Value::Map(entries) = source else {
            return Err(Error::Decode(
                "map merge requires map or sequence of maps as the value".to_string(),
            ));
        };
        for (k, v) in entries {
            if !merged.iter().any(|(e, _)| *e == k) {
                merged.push((k, v));
            }
        }
    }
    Ok(())
}

/// go-yaml v2's error for the parser errors users meet most: libyaml's
/// words, and its line (a parser error reports the 0-based line of the
/// problem, none on the first line; a scanner error the 1-based line where
/// the scanner noticed).
fn libyaml_error(line: usize, msg: &str) -> Error {
    let (message, line) = match msg {
        "unclosed bracket '['" | "mismatched bracket '[' closed by '}'" => {
            ("did not find expected ',' or ']'", line)
        }
        "unclosed bracket '{'" | "mismatched bracket '{' closed by ']'" => {
            ("did not find expected ',' or '}'", line)
        }
        // Scanner errors: go-yaml v2 shows the problem's 0-based line + 1,
        // and no line at all for a problem on the first line.
        "unclosed quote" => ("found unexpected end of stream", scanner_line(line)),
        "tab cannot be used as indentation"
        | "tabs disallowed within this context (block indentation)" => (
            "found character that cannot start any token",
            scanner_line(line),
        ),
        "while parsing a block collection, did not find expected '-' indicator" => (
            "did not find expected '-' indicator",
            line.saturating_sub(1),
        ),
        "while parsing a block mapping, did not find expected key" => {
            ("did not find expected key", line.saturating_sub(1))
        }
        "simple key expected ':'" => ("could not find expected ':'", line + 1),
        "\"-\" is only valid inside a block" => {
            ("did not find expected node content", line.saturating_sub(1))
        }
        other => {
            return Error::Syntax {
                line,
                message: other.to_string(),
            };
        }
    };
    if line == 0 {
        Error::Decode(message.to_string())
    } else {
        Error::Syntax {
            line,
            message: message.to_string(),
        }
    }
}

/// The line breaks of `text` as libyaml counts them (`\r\n` is one).
fn line_breaks(text: &str) -> usize {
    text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count()
}

/// The line go-yaml v2 reports for a scanner error noticed on 1-based
/// `line`: none (0) on the first line.
fn scanner_line(line: usize) -> usize {
    if line <= 1 { 0 } else { line }
}

/// A non-string mapping key as `sigs.k8s.io/yaml` spells it in JSON.
fn sigs_key(k: Value) -> Result<String, Error> {
    Ok(match k {
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Bool(b) => b.to_string(),
        // strconv.FormatFloat(f, 'g', -1, 32)
        Value::Float(f) if f.is_nan() => ".nan".to_string(),
        Value::Float(f) if f.is_infinite() => if f > 0.0 { ".inf" } else { "-.inf" }.to_string(),
        Value::Float(f) => crate::gofmt::format_g32(f as f32),
        Value::Null => {
            return Err(Error::Json(
                "unsupported map key of type: %!s(<nil>), key: <nil>".to_string(),
            ));
        }
        Value::String(s) => s,
        Value::Seq(_) | Value::Map(_) => {
            return Err(Error::Decode(
                "invalid map key: a mapping or sequence cannot be a key".to_string(),
            ));
        }
    })
}

fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&granit_parser::Tag>,
    line: usize,
    dialect: Dialect,
) -> Result<Value, Error> {
    let resolve_v3 = |t: &str| match dialect {
        Dialect::V3 | Dialect::V3FirstKeyWins => resolve_v3(t),
        Dialect::Sigs => resolve_v2(t),
    };
    let core = tag.and_then(|t| {
        t.core_suffix()
            .or_else(|| (t.handle() == "tag:yaml.org,2002:").then(|| t.suffix()))
    });
    // A local or unknown tag (`!ref 12`): the text, unresolved.
    let plain = style == ScalarStyle::Plain && (tag.is_none() || core.is_some());
    let resolved = || {
        if plain {
            resolve_v3(text)
        } else {
            Value::String(text.to_string())
        }
    };
    Ok(match core {
        Some("str") => Value::String(text.to_string()),
        Some("null") => Value::Null,
        Some("binary") => {
            use base64::Engine;
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|e| {
                    Error::Decode(format!(
                        "line {line}: !!binary value contains invalid base64 data: {e}"
                    ))
                })?;
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        }
        Some("bool") => match resolve_v3(text) {
            b @ Value::Bool(_) => b,
            _ => return Err(cannot_decode(text, "bool", line)),
        },
        Some("int") => match resolve_v3(text) {
            i @ (Value::Int(_) | Value::Uint(_)) => i,
            _ => return Err(cannot_decode(text, "int", line)),
        },
        Some("float") => match resolve_v3(text) {
            Value::Int(i) => Value::Float(i as f64),
            Value::Uint(u) => Value::Float(u as f64),
            f @ Value::Float(_) => f,
            _ => return Err(cannot_decode(text, "float", line)),
        },
        _ => resolved(),
    })
}

fn cannot_decode(text: &str, tag: &str, line: usize) -> Error {
    Error::Decode(format!(
        "unmarshal errors:\n  line {line}: cannot decode !!str `{text}` as a !!{tag}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_report_empty_fields_and_kept_texts() {
        let text = "a:\nb: ~\nc: !!null\nd:\n  e:\n  f: [null, {g: }]\n  h: 1.50\n  i: 0755\n  j: 'x'\n? k\nl:\n---\nz: True\n";
        let keep =
            |path: &[Step]| matches!(path.first(), Some(Step::Key(k)) if k == "d" || k == "z");
        let docs = parse_documents(text, &keep).unwrap();
        let key = |k: &str| Step::Key(k.to_string());
        let empty = |path: Vec<Step>, in_flow| EmptyField { path, in_flow };
        assert_eq!(
            docs[0].empty_fields,
            vec![
                empty(vec![key("a")], false),
                empty(vec![key("c")], false),
                empty(vec![key("d"), key("e")], false),
                empty(vec![key("d"), key("f"), Step::Index(1), key("g")], true),
                empty(vec![key("k")], false),
                empty(vec![key("l")], false),
            ]
        );
        assert_eq!(
            docs[0].texts,
            vec![
                (vec![key("d"), key("f"), Step::Index(0)], "null".to_string()),
                (vec![key("d"), key("h")], "1.50".to_string()),
                (vec![key("d"), key("i")], "0755".to_string()),
            ]
        );
        assert_eq!(docs[1].texts, vec![(vec![key("z")], "True".to_string())]);
        assert_eq!(docs[1].value, parse("z: true").unwrap()[0]);
    }

    #[test]
    fn documents_anchors_and_merges() {
        let docs = parse(
            "base: &b {x: 1, y: two}\nderived:\n  <<: *b\n  y: 3\nlist: [*b]\n---\n---\nplain: 'quoted: yes'\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 3);
        let d = &docs[0];
        let derived = d.get("derived").unwrap();
        assert_eq!(derived.get("y"), Some(&Value::Int(3)));
        assert_eq!(derived.get("x"), Some(&Value::Int(1)));
        assert_eq!(docs[1], Value::Null);
        assert_eq!(
            docs[2].get("plain"),
            Some(&Value::String("quoted: yes".into()))
        );
    }

    #[test]
    fn errors_are_reported_not_panicked() {
        assert!(matches!(parse("a: [1, 2"), Err(Error::Syntax { .. })));
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("mapping key \"a\" already defined"),
            "{err}"
        );
        assert!(parse("a: !!int abc\n").is_err());
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
        assert!(parse(bomb).is_err());
        // Hostile nesting is an error, not a stack overflow.
        let deep = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(&deep).unwrap_err();
        assert!(
            err.to_string().contains("recursion limit exceeded"),
            "{err}"
        );
    }
}

//! The layout of a block-style `index.yaml`, as `helm repo index` and every
//! repository generator write it, found by scanning lines: the top-level
//! fields other than `entries`, and for each chart the line ranges of its
//! versions. Each version is then parsed on its own, so a large index is
//! never held as one YAML tree (a 40 MB index is a tree of hundreds of MB).
//!
//! Only what can be split without changing meaning is split: anything
//! else — flow style, quoted or repeated chart names, document markers,
//! directives, tabs, CR line ends, an `entries` written another way —
//! gives `None`, and the caller parses the whole document as before. A
//! version that does not parse on its own (an alias to an anchor of
//! another version, a syntax error) makes the caller fall back too, so
//! results and error messages are the whole-document parse's.

/// The pieces of an index.
pub(crate) struct Layout<'a> {
    /// The document without its `entries` block.
    pub head: String,
    /// Each chart: its name and its versions.
    pub charts: Vec<(&'a str, Vec<Item<'a>>)>,
}

/// One version: its lines, and the indentation of its `- `.
pub(crate) struct Item<'a> {
    lines: Vec<&'a str>,
    indent: usize,
}

impl Item<'_> {
    /// The version as a document of its own: a one-element sequence,
    /// dedented.
    pub fn document(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let spaces = line.len() - line.trim_start_matches(' ').len();
            out.push_str(&line[spaces.min(self.indent)..]);
            out.push('\n');
        }
        out
    }
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blank or comment-only: belongs to whatever block it is in.
fn filler(line: &str) -> bool {
    let t = line.trim_start_matches(' ');
    t.is_empty() || t.starts_with('#')
}

/// A plain key that needs no quoting: `[A-Za-z0-9._/-]` and not starting
/// with a YAML indicator.
fn plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        && !key.starts_with(['-', '.'])
}

/// The layout of `text`, when it is the simple block layout.
pub(crate) fn split(text: &str) -> Option<Layout<'_>> {
    if text.contains('\t') || text.contains('\r') {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut head = String::new();
    let mut entries: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if filler(line) {
            head.push_str(line);
            head.push('\n');
            i += 1;
            continue;
        }
        if indentation(line) > 0 {
            // A continuation of a top-level field of the head.
            head.push_str(line);
            head.push('\n');
            i += 1;
            continue;
        }
        // A top-level line: `key:` with or without a value; nothing else.
        let (key, rest) = line.split_once(':')?;
        if !plain_key(key) || !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        if key.eq_ignore_ascii_case("entries") {
            if entries.is_some() || key != "entries" || !rest.trim().is_empty() {
                return None;
            }
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && (filler(lines[end]) || indentation(lines[end]) > 0) {
                end += 1;
            }
            entries = Some((start, end));
            i = end;
            continue;
        }
        head.push_str(line);
        head.push('\n');
        i += 1;
    }
    let (start, end) = entries?;
    let block = &lines[start..end];
    let Some(first) = block.iter().find(|l| !filler(l)) else {
        // `entries:` with nothing under it: null.
        return Some(Layout {
            head,
            charts: Vec::new(),
        });
    };
    let chart_indent = indentation(first);
    let mut charts: Vec<(&str, Vec<Item<'_>>)> = Vec::new();
    let mut j = 0;
    while j < block.len() {
        let line = block[j];
        if filler(line) {
            j += 1;
            continue;
        }
        if indentation(line) != chart_indent {
            return None;
        }
        let (key, rest) = line[chart_indent..].split_once(':')?;
        if !plain_key(key) || !rest.trim().is_empty() || charts.iter().any(|(n, _)| *n == key) {
            return None;
        }
        // The chart's lines: until the next line at its key's indentation
        // that is not a sequence item.
        let body_start = j + 1;
        let mut body_end = body_start;
        while body_end < block.len() {
            let l = block[body_end];
            if !filler(l) && indentation(l) <= chart_indent && !is_item(l, chart_indent) {
                break;
            }
            body_end += 1;
        }
        let items = split_items(&block[body_start..body_end], chart_indent)?;
        charts.push((key, items));
        j = body_end;
    }
    Some(Layout { head, charts })
}

fn is_item(line: &str, indent: usize) -> bool {
    indentation(line) == indent && (line[indent..].starts_with("- ") || &line[indent..] == "-")
}

/// The versions of one chart's block: items at the indentation of the
/// first (the chart key's, as Helm writes it, or deeper).
fn split_items<'a>(body: &[&'a str], chart_indent: usize) -> Option<Vec<Item<'a>>> {
    let Some(first) = body.iter().find(|l| !filler(l)) else {
        // `chart:` with nothing under it: null, which this layout does not
        // distinguish from an empty list.
        return None;
    };
    let indent = indentation(first);
    if indent < chart_indent || !is_item(first, indent) {
        return None;
    }
    let mut items: Vec<Item<'a>> = Vec::new();
    for line in body {
        if is_item(line, indent) {
            items.push(Item {
                lines: vec![line],
                indent,
            });
        } else if filler(line) || indentation(line) > indent {
            if let Some(item) = items.last_mut() {
                item.lines.push(line);
            }
        } else {
            return None;
        }
    }
    Some(items)
}

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

/// The pieces of an index: offsets into its text, nothing copied but the
/// head (a 40 MB index splits into a few hundred kB of offsets).
pub(crate) struct Layout<'a> {
    /// The document without its `entries` block.
    pub head: String,
    /// Each chart: its name and its versions, in document order.
    pub charts: Vec<(&'a str, Vec<Item<'a>>)>,
}

/// One version: its lines (the text from its `- ` line up to the next
/// item), and the indentation of its `- `.
pub(crate) struct Item<'a> {
    text: &'a str,
    indent: usize,
}

impl Item<'_> {
    /// The version as a document of its own: a one-element sequence,
    /// dedented.
    pub fn document(&self) -> String {
        let mut out = String::with_capacity(self.text.len());
        for line in self.text.lines() {
            let spaces = indentation(line);
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

/// The lines of a text with their offsets, read one at a time (`str::lines`
/// without collecting them: `\r` is refused before any of this runs).
#[derive(Clone)]
struct Lines<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Lines<'a> {
    /// The next line without moving past it.
    fn peek(&self) -> Option<&'a str> {
        let rest = self.text.get(self.at..).filter(|r| !r.is_empty())?;
        Some(rest.split_once('\n').map_or(rest, |(line, _)| line))
    }

    /// Moves past the next line.
    fn advance(&mut self) {
        if let Some(line) = self.peek() {
            self.at = (self.at + line.len() + 1).min(self.text.len());
        }
    }
}

/// The layout of `text`, when it is the simple block layout.
pub(crate) fn split(text: &str) -> Option<Layout<'_>> {
    if text.contains('\t') || text.contains('\r') {
        return None;
    }
    let mut lines = Lines { text, at: 0 };
    let mut head = String::new();
    let mut entries: Option<(usize, usize)> = None;
    while let Some(line) = lines.peek() {
        if filler(line) || indentation(line) > 0 {
            // Blank, a comment, or a continuation of a top-level field of
            // the head.
            head.push_str(line);
            head.push('\n');
            lines.advance();
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
            lines.advance();
            let start = lines.at;
            while lines
                .peek()
                .is_some_and(|l| filler(l) || indentation(l) > 0)
            {
                lines.advance();
            }
            entries = Some((start, lines.at));
            continue;
        }
        head.push_str(line);
        head.push('\n');
        lines.advance();
    }
    let (start, end) = entries?;
    let block = Lines {
        text: &text[..end],
        at: start,
    };
    let Some(first) = block_first(&block) else {
        // `entries:` with nothing under it: null.
        return Some(Layout {
            head,
            charts: Vec::new(),
        });
    };
    let chart_indent = indentation(first);
    let mut charts: Vec<(&str, Vec<Item<'_>>)> = Vec::new();
    let mut names = std::collections::HashSet::new();
    let mut lines = block;
    while let Some(line) = lines.peek() {
        if filler(line) {
            lines.advance();
            continue;
        }
        if indentation(line) != chart_indent {
            return None;
        }
        let (key, rest) = line[chart_indent..].split_once(':')?;
        if !plain_key(key) || !rest.trim().is_empty() || !names.insert(key) {
            return None;
        }
        lines.advance();
        // The chart's lines: until the next line at its key's indentation
        // that is not a sequence item.
        let body_start = lines.at;
        while lines
            .peek()
            .is_some_and(|l| filler(l) || indentation(l) > chart_indent || is_item(l, chart_indent))
        {
            lines.advance();
        }
        let body = Lines {
            text: &lines.text[..lines.at],
            at: body_start,
        };
        charts.push((key, split_items(body, chart_indent)?));
    }
    Some(Layout { head, charts })
}

/// The first line of `lines` that is not filler.
fn block_first<'a>(lines: &Lines<'a>) -> Option<&'a str> {
    let mut lines = lines.clone();
    while let Some(line) = lines.peek() {
        if !filler(line) {
            return Some(line);
        }
        lines.advance();
    }
    None
}

fn is_item(line: &str, indent: usize) -> bool {
    indentation(line) == indent && (line[indent..].starts_with("- ") || &line[indent..] == "-")
}

/// The versions of one chart's block: items at the indentation of the
/// first (the chart key's, as Helm writes it, or deeper).
fn split_items<'a>(mut body: Lines<'a>, chart_indent: usize) -> Option<Vec<Item<'a>>> {
    let Some(first) = block_first(&body) else {
        // `chart:` with nothing under it: null, which this layout does not
        // distinguish from an empty list.
        return None;
    };
    let indent = indentation(first);
    if indent < chart_indent || !is_item(first, indent) {
        return None;
    }
    // Filler before the first item belongs to no version.
    while body.peek().is_some_and(filler) {
        body.advance();
    }
    let mut items: Vec<Item<'a>> = Vec::new();
    let mut item_start = body.at;
    while let Some(line) = body.peek() {
        if is_item(line, indent) {
            if body.at > item_start {
                items.push(Item {
                    text: &body.text[item_start..body.at],
                    indent,
                });
            }
            item_start = body.at;
        } else if !(filler(line) || indentation(line) > indent) {
            return None;
        }
        body.advance();
    }
    if body.at > item_start {
        items.push(Item {
            text: &body.text[item_start..body.at],
            indent,
        });
    }
    Some(items)
}

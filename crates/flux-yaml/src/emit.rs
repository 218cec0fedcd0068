//! go-yaml v2's `Marshal` of a decoded value, as `sigs.k8s.io/yaml`
//! writes it: block style, two-space indent, sequences not indented under
//! their key, keys in go-yaml v2's natural order, and libyaml's choice of
//! scalar style and line folding (80 columns).

use std::cmp::Ordering;

use crate::Value;
use crate::gofmt::format_g;
use crate::resolve::resolves_non_string_v2;

/// libyaml's preferred line width.
const BEST_WIDTH: usize = 80;
/// libyaml's indentation step.
const BEST_INDENT: usize = 2;
/// Longest key written as a simple key.
const MAX_SIMPLE_KEY: usize = 128;

/// The YAML go-yaml v2 writes for `value` (one document, ending in a newline).
pub fn emit(value: &Value) -> String {
    emit_with(value, false)
}

/// The YAML go-yaml v3's `Encoder` with `SetIndent(2)` writes for `value`
/// (Helm's `toYamlPretty`): sequences indented under their key, no line
/// folding; the rest as [`emit`].
pub fn emit_v3_indent2(value: &Value) -> String {
    emit_with(value, true)
}

/// go-yaml v2's `Marshal` of a `yaml.MapSlice` tree: [`emit`] with every
/// mapping's keys in the order given (Flux hashes Helm values this way,
/// after sorting the keys itself).
pub fn emit_in_order(value: &Value) -> String {
    let mut e = Emitter::new(false);
    e.keep_order = true;
    e.document(value)
}

/// The style a scalar was written in, or is asked to be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarStyle {
    /// No quotes.
    Plain,
    /// `'…'`.
    SingleQuoted,
    /// `"…"`.
    DoubleQuoted,
}

/// How libyaml's emitter (go-yaml v3, as kyaml writes a node it changed)
/// writes the single-line scalar `s` asked for in `requested` style in
/// block context, without folding: a plain scalar the emitter may not
/// write plain becomes single-quoted, a single-quoted one it may not write
/// that way double-quoted. Returns the text and the style used.
pub fn scalar_text(s: &str, requested: ScalarStyle) -> (String, ScalarStyle) {
    let analysis = analyze(s);
    let mut style = requested;
    if style == ScalarStyle::Plain && (!analysis.block_plain_allowed || s.is_empty()) {
        style = ScalarStyle::SingleQuoted;
    }
    if style == ScalarStyle::SingleQuoted && !analysis.single_quoted_allowed {
        style = ScalarStyle::DoubleQuoted;
    }
    let mut e = Emitter::new(true);
    e.whitespace = true;
    match style {
        ScalarStyle::Plain => e.plain(s, 0, false),
        ScalarStyle::SingleQuoted => e.single_quoted(s, 0, false),
        ScalarStyle::DoubleQuoted => e.double_quoted(s, 0, false),
    }
    (e.out, style)
}

fn emit_with(value: &Value, v3: bool) -> String {
    Emitter::new(v3).document(value)
}

impl Emitter {
    fn new(v3: bool) -> Emitter {
        Emitter {
            out: String::new(),
            column: 0,
            whitespace: true,
            indention: true,
            width: if v3 { usize::MAX } else { BEST_WIDTH },
            indent_sequences: v3,
            keep_order: false,
        }
    }

    fn document(mut self, value: &Value) -> String {
        let e = &mut self;
        match value {
            Value::Map(entries) if !entries.is_empty() => e.mapping(entries, 0),
            Value::Seq(items) if !items.is_empty() => e.sequence(items, 0),
            // An empty collection is a flow one: `{}`, `[]`.
            Value::Map(_) => e.put_str("{}"),
            Value::Seq(_) => e.put_str("[]"),
            other => e.value_scalar(other, BEST_INDENT),
        }
        if e.column != 0 {
            e.put_break();
        }
        self.out
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Emitter {
    width: usize,
    indent_sequences: bool,
    /// Mapping keys as given (a `MapSlice`), not in natural order.
    keep_order: bool,
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    /// An indicator such as `-`, `:`, `|`: preceded by a space when needed.
    fn indicator(
        &mut self,
        text: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        self.put_str(text);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    /// A block mapping at `indent`; after `- ` its first key stays on the
    /// dash's line (`write_indent` only pads there).
    fn mapping(&mut self, entries: &[(String, Value)], indent: usize) {
        let mut sorted: Vec<&(String, Value)> = entries.iter().collect();
        if !self.keep_order {
            go_sort(&mut sorted, |a, b| {
                natural_order(&a.0, &b.0) == Ordering::Less
            });
        }
        for (key, value) in sorted {
            self.write_indent(indent);
            let simple = key.chars().count() <= MAX_SIMPLE_KEY && !key.contains('\n');
            if simple {
                self.key_scalar(key, indent);
                self.indicator(":", false, false, false);
            } else {
                self.indicator("?", true, false, true);
                self.string_scalar(key, indent + BEST_INDENT, false);
                self.write_indent(indent);
                self.indicator(":", true, false, true);
            }
            self.node_after_indicator(value, indent, true);
        }
    }

    fn sequence(&mut self, items: &[Value], indent: usize) {
        for item in items {
            self.write_indent(indent);
            self.indicator("-", true, false, true);
            self.node_after_indicator(item, indent, false);
        }
    }

    /// The node after `key:` (mapping context) or `-`.
    fn node_after_indicator(&mut self, value: &Value, indent: usize, mapping_value: bool) {
        match value {
            Value::Map(entries) if !entries.is_empty() => {
                self.mapping(entries, indent + BEST_INDENT);
            }
            Value::Seq(items) if !items.is_empty() => {
                // Sequences under a key are not indented; nested ones are.
                let inner = if mapping_value && !self.indent_sequences {
                    indent
                } else {
                    indent + BEST_INDENT
                };
                self.sequence(items, inner);
            }
            Value::Map(_) => self.indicator("{}", true, false, false),
            Value::Seq(_) => self.indicator("[]", true, false, false),
            scalar => self.value_scalar(scalar, indent + BEST_INDENT),
        }
    }

    fn value_scalar(&mut self, value: &Value, indent: usize) {
        match value {
            Value::Null => self.plain("null", indent, true),
            Value::Bool(b) => self.plain(if *b { "true" } else { "false" }, indent, true),
            Value::Int(i) => self.plain(&i.to_string(), indent, true),
            Value::Uint(u) => self.plain(&u.to_string(), indent, true),
            Value::Float(f) => self.plain(&format_g(*f), indent, true),
            Value::String(s) => self.string_scalar(s, indent, false),
            Value::Seq(_) | Value::Map(_) => {}
        }
    }

    fn key_scalar(&mut self, key: &str, indent: usize) {
        self.string_scalar(key, indent + BEST_INDENT, true);
    }

    fn string_scalar(&mut self, s: &str, indent: usize, simple_key: bool) {
        let requested = if s.contains('\n') {
            Style::Literal
        } else if !resolves_non_string_v2(s) {
            Style::Plain
        } else {
            Style::Double
        };
        let analysis = analyze(s);
        let mut style = requested;
        if simple_key && analysis.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if !analysis.block_plain_allowed {
                style = Style::Single;
            }
            if s.is_empty() && simple_key {
                style = Style::Single;
            }
        }
        if style == Style::Single && !analysis.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!analysis.block_allowed || simple_key) {
            style = Style::Double;
        }
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.plain(s, indent, allow_breaks),
            Style::Single => self.single_quoted(s, indent, allow_breaks),
            Style::Double => self.double_quoted(s, indent, allow_breaks),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > self.width && !next_space {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
            i += 1;
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn single_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.indicator("'", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks
                    && !spaces
                    && self.column > self.width
                    && i > 0
                    && i < chars.len() - 1
                    && !next_space
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.indicator("\"", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\u{07}' => self.put('a'),
                    '\u{08}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{0B}' => self.put('v'),
                    '\u{0C}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1B}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{A0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    other => {
                        let v = other as u32;
                        let (prefix, width) = if v <= 0xFF {
                            ('x', 2)
                        } else if v <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(prefix);
                        self.put_str(&format!("{v:0width$X}"));
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.width
                    && i > 0
                    && i < chars.len() - 1
                {
                    self.write_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.indicator("|", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.indicator(&BEST_INDENT.to_string(), false, false, false);
        }
        let chomp = match chars.len() {
            0 => Some('-'),
            n if !is_break(chars[n - 1]) => Some('-'),
            1 => Some('+'),
            n if is_break(chars[n - 2]) => Some('+'),
            _ => None,
        };
        if let Some(c) = chomp {
            self.indicator(&c.to_string(), false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's printable set (its byte test excludes 4-byte characters).
fn is_printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{FEFF}'
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// libyaml's `yaml_emitter_analyze_scalar`, block context.
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let n = chars.len();
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = i + 1 >= n || matches!(chars[i + 1], ' ' | '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == n {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == n {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t') || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// Go's `sort.Sort` for the key counts of real documents: insertion sort
/// up to 12 elements, as Go's pdqsort does. The order matters because
/// go-yaml v2's comparison is not transitive (`a010 < a0b`, `a0b > a10`,
/// `a10 < a010`): another algorithm gives another order. Longer lists use
/// a stable sort (identical whenever the keys compare consistently).
fn go_sort<T>(items: &mut [T], less: impl Fn(&T, &T) -> bool) {
    if items.len() <= 12 {
        for i in 1..items.len() {
            let mut j = i;
            while j > 0 && less(&items[j], &items[j - 1]) {
                items.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        items.sort_by(|a, b| {
            if less(a, b) {
                Ordering::Less
            } else if less(b, a) {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        });
    }
}

/// go-yaml v2's key order: letters by code point, runs of digits by value.
pub fn natural_order(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn s(text: &str) -> Value {
        Value::String(text.to_string())
    }

    #[test]
    fn block_layout_and_quoting() {
        let doc = map(&[
            ("kind", s("ConfigMap")),
            (
                "data",
                map(&[
                    ("on", s("yes")),
                    ("num", s("1")),
                    ("hash", s("#x")),
                    ("lead", s(" lead")),
                    ("colon", s("a: b")),
                    ("multi", s("line1\nline2\n")),
                    ("strip", s("no newline\nat end")),
                    ("empty", s("")),
                    ("tab", s("a\tb")),
                ]),
            ),
            (
                "list",
                Value::Seq(vec![
                    Value::Int(1),
                    map(&[("a", Value::Null), ("b", Value::Bool(true))]),
                    Value::Seq(vec![s("x"), s("y")]),
                ]),
            ),
            ("none", Value::Map(vec![])),
        ]);
        assert_eq!(
            emit(&doc),
            "data:\n  colon: 'a: b'\n  empty: \"\"\n  hash: '#x'\n  lead: ' lead'\n  multi: |\n    line1\n    line2\n  num: \"1\"\n  \"on\": \"yes\"\n  strip: |-\n    no newline\n    at end\n  tab: \"a\\tb\"\nkind: ConfigMap\nlist:\n- 1\n- a: null\n  b: true\n- - x\n  - \"y\"\nnone: {}\n"
        );
    }

    #[test]
    fn long_plain_strings_fold_after_column_80() {
        let text = "word ".repeat(30).trim_end().to_string();
        let out = emit(&map(&[("description", s(&text))]));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 1, "{out}");
        assert!(lines[1].starts_with("  word"), "{out}");
    }

    #[test]
    fn natural_key_order() {
        let mut keys = vec!["a10", "a9", "b", "A", "a", "1", "_x"];
        keys.sort_by(|a, b| natural_order(a, b));
        // Go: "_" and "1" are both non-letters, so digit runs compare (none < 1).
        assert_eq!(keys, vec!["_x", "1", "A", "a", "a9", "a10", "b"]);
    }
}

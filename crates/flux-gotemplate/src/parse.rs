//! Lexer and parser of Go's template language, with Go's node shapes,
//! positions and error messages (`template: NAME:LINE: …`).

use std::fmt;
use std::rc::Rc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum It {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl It {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            It::Block
                | It::Break
                | It::Continue
                | It::Dot
                | It::Define
                | It::Else
                | It::End
                | It::If
                | It::Nil
                | It::Range
                | It::Template
                | It::With
        )
    }
}

#[derive(Clone, Debug)]
struct Item<'a> {
    typ: It,
    pos: usize,
    /// The token's text: a slice of the template (errors own theirs).
    val: std::borrow::Cow<'a, str>,
    line: usize,
}

impl fmt::Display for Item<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.typ {
            It::Eof => f.write_str("EOF"),
            It::Error => f.write_str(&self.val),
            t if t.is_keyword() => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let short: String = self.val.chars().take(10).collect();
                write!(f, "{}...", crate::gofmt::quote(&short))
            }
            _ => f.write_str(&crate::gofmt::quote(&self.val)),
        }
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_'
        || c.is_alphabetic()
        || c.is_numeric() && !matches!(c, '²' | '³' | '¹' | '¼' | '½' | '¾')
}

const SPACE_CHARS: &[char] = &[' ', '\t', '\r', '\n'];

struct Lexer<'a> {
    input: &'a str,
    left: &'a str,
    right: &'a str,
    pos: usize,
    start: usize,
    line: usize,
    start_line: usize,
    paren_depth: i32,
    items: Vec<Item<'a>>,
}

fn has_left_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1] as char)
}

fn has_right_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-'
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }
    fn backup(&mut self, c: Option<char>) {
        if let Some(c) = c {
            self.pos -= c.len_utf8();
            if c == '\n' {
                self.line -= 1;
            }
        }
    }
    fn emit(&mut self, typ: It) {
        let val = &self.input[self.start..self.pos];
        self.items.push(Item {
            typ,
            pos: self.start,
            val: std::borrow::Cow::Borrowed(val),
            line: self.start_line,
        });
        self.start = self.pos;
        self.start_line = self.line;
    }
    fn ignore(&mut self) {
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.start = self.pos;
        self.start_line = self.line;
    }
    fn error(&mut self, msg: String) -> bool {
        self.items.push(Item {
            typ: It::Error,
            pos: self.start,
            val: std::borrow::Cow::Owned(msg.to_string()),
            line: self.start_line,
        });
        false
    }
    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.next();
                true
            }
            _ => false,
        }
    }
    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }
    fn at_right_delim(&self) -> (bool, bool) {
        let r = self.rest();
        if has_right_trim(r) && r[2..].starts_with(self.right) {
            return (true, true);
        }
        (r.starts_with(self.right), false)
    }
    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) || ".,|:)(".contains(c) => true,
            _ => self.rest().starts_with(self.right),
        }
    }

    /// Lexes everything; stops after the first error item.
    fn run(&mut self) {
        loop {
            // Text.
            if let Some(x) = self.rest().find(self.left) {
                if x > 0 {
                    self.pos += x;
                    let delim_end = self.pos + self.left.len();
                    let mut trim = 0;
                    if has_left_trim(&self.input[delim_end..]) {
                        let text = &self.input[self.start..self.pos];
                        trim = text.len() - text.trim_end_matches(SPACE_CHARS).len();
                    }
                    self.pos -= trim;
                    self.line += self.input[self.start..self.pos].matches('\n').count();
                    let item = Item {
                        typ: It::Text,
                        pos: self.start,
                        val: std::borrow::Cow::Borrowed(&self.input[self.start..self.pos]),
                        line: self.start_line,
                    };
                    self.start = self.pos;
                    self.start_line = self.line;
                    self.pos += trim;
                    self.ignore();
                    if !item.val.is_empty() {
                        self.items.push(item);
                    }
                }
                if !self.left_delim() {
                    return;
                }
            } else {
                self.pos = self.input.len();
                if self.pos > self.start {
                    self.line += self.input[self.start..self.pos].matches('\n').count();
                    self.emit(It::Text);
                }
                self.emit(It::Eof);
                return;
            }
        }
    }

    fn left_delim(&mut self) -> bool {
        self.pos += self.left.len();
        let trim = has_left_trim(self.rest());
        let after = if trim { 2 } else { 0 };
        if self.rest()[after..].starts_with("/*") {
            self.pos += after;
            self.ignore();
            return self.comment();
        }
        let item = Item {
            typ: It::LeftDelim,
            pos: self.start,
            val: std::borrow::Cow::Borrowed(&self.input[self.start..self.pos]),
            line: self.start_line,
        };
        self.items.push(item);
        self.pos += after;
        self.ignore();
        self.paren_depth = 0;
        self.inside_action()
    }

    fn comment(&mut self) -> bool {
        self.pos += 2;
        let Some(x) = self.rest().find("*/") else {
            return self.error("unclosed comment".into());
        };
        self.pos += x + 2;
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".into());
        }
        self.line += self.input[self.start..self.pos].matches('\n').count();
        if trim {
            self.pos += 2;
        }
        self.pos += self.right.len();
        if trim {
            let r = self.rest();
            self.pos += r.len() - r.trim_start_matches(SPACE_CHARS).len();
        }
        self.ignore();
        true
    }

    fn right_delim(&mut self) -> bool {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += 2;
            self.ignore();
        }
        self.pos += self.right.len();
        self.emit(It::RightDelim);
        if trim {
            let r = self.rest();
            self.pos += r.len() - r.trim_start_matches(SPACE_CHARS).len();
            self.ignore();
        }
        true
    }

    fn inside_action(&mut self) -> bool {
        loop {
            let (delim, _) = self.at_right_delim();
            if delim {
                if self.paren_depth == 0 {
                    return self.right_delim();
                }
                return self.error("unclosed left paren".into());
            }
            let Some(c) = self.next() else {
                return self.error("unclosed action".into());
            };
            let ok = match c {
                c if is_space(c) => {
                    self.backup(Some(c));
                    let mut n = 0;
                    while let Some(c) = self.peek() {
                        if !is_space(c) {
                            break;
                        }
                        self.next();
                        n += 1;
                    }
                    let r = &self.input[self.pos - 1..];
                    if has_right_trim(r) && r[2..].starts_with(self.right) {
                        self.backup(self.input[..self.pos].chars().next_back());
                        if n == 1 {
                            // On the delimiter: the space is part of it.
                            continue;
                        }
                    }
                    self.emit(It::Space);
                    true
                }
                '=' => {
                    self.emit(It::Assign);
                    true
                }
                ':' => {
                    if self.next() != Some('=') {
                        return self.error("expected :=".into());
                    }
                    self.emit(It::Declare);
                    true
                }
                '|' => {
                    self.emit(It::Pipe);
                    true
                }
                '"' => self.quote(),
                '`' => self.raw_quote(),
                '$' => self.variable(),
                '\'' => self.char_const(),
                '.' if self.peek().is_some_and(|n| !n.is_ascii_digit()) => {
                    self.field_or_var(It::Field)
                }
                '.' | '+' | '-' | '0'..='9' => {
                    self.backup(Some(c));
                    self.number()
                }
                c if is_alnum(c) => {
                    self.backup(Some(c));
                    self.identifier()
                }
                '(' => {
                    self.paren_depth += 1;
                    self.emit(It::LeftParen);
                    true
                }
                ')' => {
                    self.paren_depth -= 1;
                    if self.paren_depth < 0 {
                        return self.error("unexpected right paren".into());
                    }
                    self.emit(It::RightParen);
                    true
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.emit(It::Char);
                    true
                }
                c => {
                    return self.error(format!("unrecognized character in action: {}", go_rune(c)));
                }
            };
            if !ok {
                return false;
            }
        }
    }

    fn identifier(&mut self) -> bool {
        loop {
            let c = self.next();
            if c.is_some_and(is_alnum) {
                continue;
            }
            self.backup(c);
            let word = &self.input[self.start..self.pos];
            if !self.at_terminator() {
                return self.error(format!("bad character {}", go_rune(c.unwrap_or('\0'))));
            }
            let typ = match word {
                "block" => It::Block,
                "break" => It::Break,
                "continue" => It::Continue,
                "define" => It::Define,
                "else" => It::Else,
                "end" => It::End,
                "if" => It::If,
                "range" => It::Range,
                "nil" => It::Nil,
                "template" => It::Template,
                "with" => It::With,
                "true" | "false" => It::Bool,
                _ => It::Identifier,
            };
            self.emit(typ);
            return true;
        }
    }

    fn variable(&mut self) -> bool {
        if self.at_terminator() {
            self.emit(It::Variable);
            return true;
        }
        self.field_or_var(It::Variable)
    }

    fn field_or_var(&mut self, typ: It) -> bool {
        if self.at_terminator() {
            self.emit(if typ == It::Variable {
                It::Variable
            } else {
                It::Dot
            });
            return true;
        }
        let mut c;
        loop {
            c = self.next();
            if !c.is_some_and(is_alnum) {
                self.backup(c);
                break;
            }
        }
        if !self.at_terminator() {
            return self.error(format!("bad character {}", go_rune(c.unwrap_or('\0'))));
        }
        self.emit(typ);
        true
    }

    fn char_const(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some('\n') | None => {
                        return self.error("unterminated character constant".into());
                    }
                    _ => {}
                },
                None | Some('\n') => return self.error("unterminated character constant".into()),
                Some('\'') => break,
                _ => {}
            }
        }
        self.emit(It::CharConstant);
        true
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alnum) {
            self.next();
            return false;
        }
        true
    }

    fn number(&mut self) -> bool {
        if !self.scan_number() {
            let t = self.input[self.start..self.pos].to_string();
            return self.error(format!("bad number syntax: {}", crate::gofmt::quote(&t)));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let t = self.input[self.start..self.pos].to_string();
                return self.error(format!("bad number syntax: {}", crate::gofmt::quote(&t)));
            }
            self.emit(It::Complex);
            return true;
        }
        self.emit(It::Number);
        true
    }

    fn quote(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some('\n') | None => return self.error("unterminated quoted string".into()),
                    _ => {}
                },
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some('"') => break,
                _ => {}
            }
        }
        self.emit(It::String);
        true
    }

    fn raw_quote(&mut self) -> bool {
        loop {
            match self.next() {
                None => return self.error("unterminated raw quoted string".into()),
                Some('`') => break,
                _ => {}
            }
        }
        self.emit(It::RawString);
        true
    }
}

/// Go's `%#U` of a rune: `U+0023 '#'`.
fn go_rune(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{c}'", c as u32)
    }
}

// ----- Nodes -----

/// A parsed number constant (Go's `parse.NumberNode`).
#[derive(Clone, Debug)]
pub struct Number {
    pub text: String,
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub is_complex: bool,
    pub int: i64,
    pub float: f64,
    /// Real and imaginary parts of a complex constant.
    pub complex: (f64, f64),
}

impl Number {
    /// Go's `simplifyComplex`: a complex constant with no imaginary part
    /// is also a float (and an integer when integral).
    fn simplify_complex(&mut self) {
        let (re, im) = self.complex;
        if im == 0.0 {
            self.is_float = true;
            self.float = re;
            if re.is_finite()
                && re.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&re)
            {
                self.is_int = true;
                self.int = re as i64;
            }
            if re.is_finite()
                && re.fract() == 0.0
                && (0.0..1.844_674_407_370_955_2e19).contains(&re)
            {
                self.is_uint = true;
            }
        }
    }
}

#[derive(Clone, Debug)]
pub enum Arg {
    Field {
        pos: usize,
        idents: Vec<Rc<str>>,
    },
    Variable {
        pos: usize,
        idents: Vec<Rc<str>>,
    },
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<Rc<str>>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Bool {
        pos: usize,
        value: bool,
    },
    Number {
        pos: usize,
        num: Rc<Number>,
    },
    String {
        pos: usize,
        quoted: String,
        text: Rc<str>,
    },
    Pipe(Rc<Pipe>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => f.write_str(&idents.join(".")),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = node.as_ref() {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot { .. } => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Bool { value, .. } => write!(f, "{value}"),
            Arg::Number { num, .. } => f.write_str(&num.text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "{p}"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(p) = a {
                write!(f, "({p})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<Rc<str>>,
    pub cmds: Vec<Command>,
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct Branch {
    pub pipe: Rc<Pipe>,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Clone, Debug)]
pub enum Node {
    Text {
        text: Rc<str>,
    },
    Action {
        pos: usize,
        pipe: Rc<Pipe>,
    },
    If {
        pos: usize,
        b: Rc<Branch>,
    },
    Range {
        pos: usize,
        b: Rc<Branch>,
    },
    With {
        pos: usize,
        b: Rc<Branch>,
    },
    Template {
        pos: usize,
        name: String,
        pipe: Option<Rc<Pipe>>,
    },
    Break {
        pos: usize,
    },
    Continue {
        pos: usize,
    },
}

impl Node {
    pub fn pos(&self) -> usize {
        match self {
            Node::Text { .. } => 0,
            Node::Action { pos, .. }
            | Node::If { pos, .. }
            | Node::Range { pos, .. }
            | Node::With { pos, .. }
            | Node::Template { pos, .. }
            | Node::Break { pos }
            | Node::Continue { pos } => *pos,
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, l: &[Node]) -> fmt::Result {
    for n in l {
        write!(f, "{n}")?;
    }
    Ok(())
}

fn write_branch(f: &mut fmt::Formatter<'_>, name: &str, b: &Branch) -> fmt::Result {
    write!(f, "{{{{{name} {}}}}}", b.pipe)?;
    write_list(f, &b.list)?;
    if let Some(e) = &b.else_list {
        f.write_str("{{else}}")?;
        write_list(f, e)?;
    }
    f.write_str("{{end}}")
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Text { text } => f.write_str(text),
            Node::Action { pipe, .. } => write!(f, "{{{{{pipe}}}}}"),
            Node::If { b, .. } => write_branch(f, "if", b),
            Node::Range { b, .. } => write_branch(f, "range", b),
            Node::With { b, .. } => write_branch(f, "with", b),
            Node::Template { name, pipe, .. } => match pipe {
                Some(p) => write!(f, "{{{{template {} {p}}}}}", crate::gofmt::quote(name)),
                None => write!(f, "{{{{template {}}}}}", crate::gofmt::quote(name)),
            },
            Node::Break { .. } => f.write_str("{{break}}"),
            Node::Continue { .. } => f.write_str("{{continue}}"),
        }
    }
}

/// One named template: its nodes and the text it was parsed from (for
/// error positions).
#[derive(Debug)]
pub struct Tree {
    pub name: String,
    pub parse_name: String,
    pub text: Rc<str>,
    pub root: Vec<Node>,
}

impl Tree {
    /// `NAME:LINE:COL` and the node text, as Go's `ErrorContext`.
    pub fn error_context(&self, pos: usize, node: &str) -> (String, String) {
        let pos = pos.min(self.text.len());
        let before = self.text.get(..pos).unwrap_or("");
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(i) => pos - i - 1,
            None => pos,
        };
        (
            format!("{}:{line}:{col}", self.parse_name),
            node.to_string(),
        )
    }
}

/// Whether a tree is empty in Go's sense (only whitespace text).
pub fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text { text } => text.trim().is_empty(),
        _ => false,
    })
}

const MAX_STACK_DEPTH: usize = 10_000;
/// Native stack the parser may use: deeper input is refused with an
/// error (Go grows its stacks; ours are 2 MiB on worker threads).
const MAX_PARSE_STACK: usize = 1 << 20;

struct Parser<'a> {
    items: Vec<Item<'a>>,
    i: usize,
    furthest: usize,
    name: String,
    parse_name: String,
    funcs: &'a dyn Fn(&str) -> bool,
    vars: Vec<String>,
    range_depth: usize,
    action_line: usize,
    stack_depth: usize,
    stack_base: usize,
    trees: Vec<(String, Vec<Node>)>,
    /// Identifiers seen so far, shared by every node that names them.
    names: std::collections::HashMap<String, Rc<str>>,
}

type PResult<T> = Result<T, String>;

impl<'a> Parser<'a> {
    fn intern(&mut self, name: &str) -> Rc<str> {
        if let Some(r) = self.names.get(name) {
            return r.clone();
        }
        let r: Rc<str> = Rc::from(name);
        self.names.insert(name.to_string(), r.clone());
        r
    }

    fn err<T>(&self, msg: String) -> PResult<T> {
        // Go reports the line of the most recently lexed token.
        let line = self
            .items
            .get(self.furthest.saturating_sub(1))
            .map_or(1, |t| t.line);
        Err(format!("template: {}:{}: {}", self.parse_name, line, msg))
    }
    fn next(&mut self) -> Item<'a> {
        let t = self.items.get(self.i).cloned().unwrap_or(Item {
            typ: It::Eof,
            pos: 0,
            val: std::borrow::Cow::Borrowed(""),
            line: 0,
        });
        if self.i < self.items.len() {
            self.i += 1;
        }
        self.furthest = self.furthest.max(self.i);
        t
    }
    fn backup(&mut self) {
        self.i = self.i.saturating_sub(1);
    }
    fn peek(&self) -> Item<'a> {
        self.items.get(self.i).cloned().unwrap_or(Item {
            typ: It::Eof,
            pos: 0,
            val: std::borrow::Cow::Borrowed(""),
            line: 0,
        })
    }
    fn next_non_space(&mut self) -> Item<'a> {
        loop {
            let t = self.next();
            if t.typ != It::Space {
                return t;
            }
        }
    }
    fn peek_non_space(&mut self) -> Item<'a> {
        let t = self.next_non_space();
        self.backup();
        t
    }
    fn unexpected<T>(&self, t: &Item, context: &str) -> PResult<T> {
        if t.typ == It::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != t.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.action_line
                );
                if t.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.err(format!("{t}{extra}"));
        }
        self.err(format!("unexpected {t} in {context}"))
    }
    fn expect(&mut self, typ: It, context: &str) -> PResult<Item<'a>> {
        let t = self.next_non_space();
        if t.typ != typ {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn parse(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().typ != It::Eof {
            if self.peek().typ == It::LeftDelim {
                let mark = self.i;
                self.next();
                if self.next_non_space().typ == It::Define {
                    self.definition()?;
                    continue;
                }
                self.i = mark;
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.push(n),
                Parsed::End => return self.err("unexpected {{end}}".into()),
                Parsed::Else(..) => return self.err("unexpected {{else}}".into()),
            }
        }
        Ok(root)
    }

    fn definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let t = self.next_non_space();
        if t.typ != It::String && t.typ != It::RawString {
            return self.unexpected(&t, context);
        }
        let name = unquote(&t.val)
            .map_err(|e| format!("template: {}:{}: {e}", self.parse_name, t.line))?;
        self.expect(It::RightDelim, context)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        match end {
            Parsed::End => {}
            other => return self.err(format!("unexpected {} in {context}", other.describe())),
        }
        self.add_tree(name, list)
    }

    fn add_tree(&mut self, name: String, list: Vec<Node>) -> PResult<()> {
        if let Some(i) = self.trees.iter().position(|(n, _)| *n == name) {
            if is_empty_tree(&self.trees[i].1) {
                self.trees[i].1 = list;
            } else if !is_empty_tree(&list) {
                return self.err(format!(
                    "template: multiple definition of template {}",
                    crate::gofmt::quote(&name)
                ));
            }
            return Ok(());
        }
        self.trees.push((name, list));
        Ok(())
    }

    fn too_deep(&self) -> bool {
        self.stack_base.abs_diff(crate::exec::stack_position()) > MAX_PARSE_STACK
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Parsed)> {
        if self.too_deep() {
            return self.err("max nesting depth exceeded".into());
        }
        let mut list = Vec::new();
        while self.peek_non_space().typ != It::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                other => return Ok((list, other)),
            }
        }
        self.err("unexpected EOF".into())
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let t = self.next_non_space();
        match t.typ {
            It::Text => Ok(Parsed::Node(Node::Text {
                text: Rc::from(&*t.val),
            })),
            It::LeftDelim => {
                self.action_line = t.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let t = self.next_non_space();
        match t.typ {
            It::Block => return self.block().map(Parsed::Node),
            It::Break | It::Continue => {
                let what = if t.typ == It::Break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let n = self.next_non_space();
                if n.typ != It::RightDelim {
                    return self.unexpected(&n, what);
                }
                if self.range_depth == 0 {
                    return self.err(format!("{what} outside {{{{range}}}}"));
                }
                return Ok(Parsed::Node(if t.typ == It::Break {
                    Node::Break { pos: t.pos }
                } else {
                    Node::Continue { pos: t.pos }
                }));
            }
            It::Else => {
                let p = self.peek_non_space();
                if p.typ == It::If || p.typ == It::With {
                    return Ok(Parsed::Else(true));
                }
                self.expect(It::RightDelim, "else")?;
                return Ok(Parsed::Else(false));
            }
            It::End => {
                self.expect(It::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            It::If => return self.control("if", t.pos).map(Parsed::Node),
            It::Range => return self.control("range", t.pos).map(Parsed::Node),
            It::With => return self.control("with", t.pos).map(Parsed::Node),
            It::Template => return self.template_control().map(Parsed::Node),
            _ => {}
        }
        self.backup();
        let t = self.peek();
        let pipe = self.pipeline("command", It::RightDelim)?;
        Ok(Parsed::Node(Node::Action {
            pos: t.pos,
            pipe: Rc::new(pipe),
        }))
    }

    fn control(&mut self, context: &str, _pos: usize) -> PResult<Node> {
        let nvars = self.vars.len();
        let pipe = self.pipeline(context, It::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        match next {
            Parsed::End => {}
            Parsed::Else(chained) => {
                let p = self.peek().typ;
                if chained && context == "if" && p == It::If {
                    let t = self.next();
                    else_list = Some(vec![self.control("if", t.pos)?]);
                } else if chained && context == "with" && p == It::With {
                    let t = self.next();
                    else_list = Some(vec![self.control("with", t.pos)?]);
                } else {
                    let (l, next) = self.item_list()?;
                    if !matches!(next, Parsed::End) {
                        return self.err(format!("expected end; found {}", next.describe()));
                    }
                    else_list = Some(l);
                }
            }
            Parsed::Node(_) => {}
        }
        self.vars.truncate(nvars);
        let pos = pipe.pos;
        let b = Rc::new(Branch {
            pipe: Rc::new(pipe),
            list,
            else_list,
        });
        Ok(match context {
            "if" => Node::If { pos, b },
            "range" => Node::Range { pos, b },
            _ => Node::With { pos, b },
        })
    }

    fn template_name(&self, t: &Item, context: &str) -> PResult<String> {
        match t.typ {
            It::String | It::RawString => unquote(&t.val)
                .map_err(|e| format!("template: {}:{}: {e}", self.parse_name, t.line)),
            _ => self.unexpected(t, context),
        }
    }

    fn block(&mut self) -> PResult<Node> {
        let context = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, context)?;
        let pipe = self.pipeline(context, It::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        if !matches!(end, Parsed::End) {
            return self.err(format!("unexpected {} in {context}", end.describe()));
        }
        self.add_tree(name.clone(), list)?;
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe: Some(Rc::new(pipe)),
        })
    }

    fn template_control(&mut self) -> PResult<Node> {
        let context = "template clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, context)?;
        let mut pipe = None;
        if self.next_non_space().typ != It::RightDelim {
            self.backup();
            pipe = Some(Rc::new(self.pipeline(context, It::RightDelim)?));
        }
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe,
        })
    }

    fn pipeline(&mut self, context: &str, end: It) -> PResult<Pipe> {
        let t = self.peek_non_space();
        let mut pipe = Pipe {
            pos: t.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            let v = self.peek_non_space();
            if v.typ == It::Variable {
                self.next_non_space();
                let v_idx = self.i - 1;
                let after = self.peek();
                let next = self.peek_non_space();
                if next.typ == It::Assign || next.typ == It::Declare {
                    pipe.is_assign = next.typ == It::Assign;
                    self.next_non_space();
                    pipe.decl.push(Rc::from(&*v.val));
                    self.vars.push(v.val.to_string());
                } else if next.typ == It::Char && &*next.val == "," {
                    self.next_non_space();
                    pipe.decl.push(Rc::from(&*v.val));
                    self.vars.push(v.val.to_string());
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            It::Variable | It::RightDelim | It::RightParen => continue 'decls,
                            _ => return self.err("range can only initialize variables".into()),
                        }
                    }
                    return self.err(format!("too many declarations in {context}"));
                } else {
                    let _ = after;
                    self.i = v_idx;
                }
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            match t.typ {
                x if x == end => {
                    if pipe.cmds.is_empty() {
                        return self.err(format!("missing value for {context}"));
                    }
                    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                        if matches!(
                            c.args.first(),
                            Some(
                                Arg::Bool { .. }
                                    | Arg::Dot { .. }
                                    | Arg::Nil { .. }
                                    | Arg::Number { .. }
                                    | Arg::String { .. }
                            )
                        ) {
                            return self.err(format!(
                                "non executable command in pipeline stage {}",
                                i + 1
                            ));
                        }
                    }
                    return Ok(pipe);
                }
                It::Bool
                | It::CharConstant
                | It::Complex
                | It::Dot
                | It::Field
                | It::Identifier
                | It::Number
                | It::Nil
                | It::RawString
                | It::String
                | It::Variable
                | It::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let t = self.next();
            match t.typ {
                It::Space => continue,
                It::RightDelim | It::RightParen => self.backup(),
                It::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.err("empty command".into());
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ == It::Field {
            let pos = self.peek().pos;
            let mut fields = Vec::new();
            while self.peek().typ == It::Field {
                let f = self.next().val;
                fields.push(self.intern(&f[1..]));
            }
            return Ok(Some(match node {
                Arg::Field { idents, .. } => {
                    let mut i = idents;
                    i.extend(fields);
                    Arg::Field { pos, idents: i }
                }
                Arg::Variable { idents, .. } => {
                    let mut i = idents;
                    i.extend(fields);
                    Arg::Variable { pos, idents: i }
                }
                Arg::Bool { .. }
                | Arg::String { .. }
                | Arg::Number { .. }
                | Arg::Nil { .. }
                | Arg::Dot { .. } => {
                    return self.err(format!(
                        "unexpected . after term {}",
                        crate::gofmt::quote(&node.to_string())
                    ));
                }
                other => Arg::Chain {
                    pos,
                    node: Box::new(other),
                    fields,
                },
            }));
        }
        Ok(Some(node))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        Ok(Some(match t.typ {
            It::Identifier => {
                if !(self.funcs)(&t.val) {
                    return self.err(format!(
                        "function {} not defined",
                        crate::gofmt::quote(&t.val)
                    ));
                }
                Arg::Identifier {
                    pos: t.pos,
                    name: t.val.to_string(),
                }
            }
            It::Dot => Arg::Dot { pos: t.pos },
            It::Nil => Arg::Nil { pos: t.pos },
            It::Variable => {
                let idents: Vec<Rc<str>> = t.val.split('.').map(|p| self.intern(p)).collect();
                if !self.vars.iter().any(|v| **v == *idents[0]) {
                    return self.err(format!(
                        "undefined variable {}",
                        crate::gofmt::quote(&idents[0])
                    ));
                }
                Arg::Variable { pos: t.pos, idents }
            }
            It::Field => Arg::Field {
                pos: t.pos,
                idents: t.val[1..].split('.').map(|p| self.intern(p)).collect(),
            },
            It::Bool => Arg::Bool {
                pos: t.pos,
                value: &*t.val == "true",
            },
            It::CharConstant | It::Complex | It::Number => {
                let num = new_number(&t.val, t.typ)
                    .map_err(|e| format!("template: {}:{}: {e}", self.parse_name, t.line))?;
                Arg::Number {
                    pos: t.pos,
                    num: Rc::new(num),
                }
            }
            It::LeftParen => {
                if self.stack_depth >= MAX_STACK_DEPTH || self.too_deep() {
                    return self.err("max expression depth exceeded".into());
                }
                self.stack_depth += 1;
                let p = self.pipeline("parenthesized pipeline", It::RightParen);
                self.stack_depth -= 1;
                Arg::Pipe(Rc::new(p?))
            }
            It::String | It::RawString => {
                let s = unquote(&t.val)
                    .map_err(|e| format!("template: {}:{}: {e}", self.parse_name, t.line))?;
                Arg::String {
                    pos: t.pos,
                    quoted: t.val.to_string(),
                    text: Rc::from(s.as_str()),
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

enum Parsed {
    Node(Node),
    End,
    Else(bool),
}

impl Parsed {
    fn describe(&self) -> String {
        match self {
            Parsed::Node(n) => n.to_string(),
            Parsed::End => "{{end}}".into(),
            Parsed::Else(_) => "{{else}}".into(),
        }
    }
}

/// Go's `strconv.Unquote` for the literals the lexer produces.
pub fn unquote(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    if b.len() < 2 {
        return Err("invalid syntax".into());
    }
    let q = b[0];
    if b[b.len() - 1] != q {
        return Err("invalid syntax".into());
    }
    let inner = &s[1..s.len() - 1];
    if q == b'`' {
        return Ok(inner.replace('\r', ""));
    }
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            if c == q as char && q == b'"' {
                return Err("invalid syntax".into());
            }
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            return Err("invalid syntax".into());
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '\'' if q == b'\'' => out.push('\''),
            '"' if q == b'"' => out.push('"'),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..n).filter_map(|_| chars.next()).collect();
                let v = u32::from_str_radix(&hex, 16).map_err(|_| "invalid syntax".to_string())?;
                if hex.len() != n {
                    return Err("invalid syntax".into());
                }
                if e == 'x' {
                    // A byte; only valid UTF-8 sequences survive in a Rust string.
                    out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                } else {
                    out.push(char::from_u32(v).ok_or_else(|| "invalid syntax".to_string())?);
                }
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let d = chars
                        .next()
                        .and_then(|c| c.to_digit(8))
                        .ok_or_else(|| "invalid syntax".to_string())?;
                    v = v * 8 + d;
                }
                if v > 255 {
                    return Err("invalid syntax".into());
                }
                out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
            }
            _ => return Err("invalid syntax".into()),
        }
    }
    if q == b'\'' && out.chars().count() != 1 {
        return Err("invalid syntax".into());
    }
    Ok(out)
}

fn parse_go_int(text: &str) -> Option<i128> {
    let (neg, t) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits, prefixed) =
        if let Some(r) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            (16, r, true)
        } else if let Some(r) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
            (8, r, true)
        } else if let Some(r) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
            (2, r, true)
        } else if t.len() > 1 && t.starts_with('0') {
            (8, &t[1..], true)
        } else {
            (10, t, false)
        };
    if digits.is_empty()
        || digits.contains("__")
        || digits.ends_with('_')
        || (!prefixed && digits.starts_with('_'))
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let v = i128::from_str_radix(&clean, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// Go's rule for `_` in numbers read with base prefixes allowed
/// (`strconv.ParseInt(s, 0, …)`, `ParseFloat`): each one follows a digit
/// or the base prefix, and precedes a digit.
pub(crate) fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let b = match b.first() {
        Some(b'-' | b'+') => &b[1..],
        _ => b,
    };
    // '^' start, '0' digit or base prefix, '_' underscore, '!' other.
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c.is_ascii_digit() || hex && c.to_ascii_lowercase().is_ascii_hexdigit() {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// `strconv.ParseFloat` for the spellings the lexer lets through.
pub(crate) fn parse_float_text(t: &str) -> Option<f64> {
    if !underscore_ok(t) {
        return None;
    }
    let clean: String = t.chars().filter(|c| *c != '_').collect();
    let parsed = if clean
        .to_ascii_lowercase()
        .trim_start_matches(['+', '-'])
        .starts_with("0x")
    {
        parse_hex_float(&clean)
    } else {
        clean.parse::<f64>().ok()
    };
    // Out of range is an error (`ErrRange`), not an infinity; `Inf` and
    // `NaN` spelled out are values.
    let spelled = clean.to_ascii_lowercase();
    let spelled_infinity = spelled.trim_start_matches(['+', '-']).starts_with("inf");
    parsed.filter(|f| !f.is_infinite() || spelled_infinity)
}

/// A hexadecimal float such as `0x1.8p3`.
fn parse_hex_float(text: &str) -> Option<f64> {
    let (neg, t) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let t = t.get(2..)?;
    let (mant, exp) = t.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    Some(if neg { -v } else { v })
}

fn new_number(text: &str, typ: It) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_string(),
        is_int: false,
        is_uint: false,
        is_float: false,
        is_complex: false,
        int: 0,
        float: 0.0,
        complex: (0.0, 0.0),
    };
    if typ == It::CharConstant {
        let s = unquote(text).map_err(|_| format!("malformed character constant: {text}"))?;
        let c = s.chars().next().map_or(0, |c| c as i64);
        n.int = c;
        n.is_int = true;
        n.is_uint = true;
        n.is_float = true;
        n.float = c as f64;
        return Ok(n);
    }
    if typ == It::Complex {
        // REAL±IMAGi
        let body = text.strip_suffix('i').unwrap_or(text);
        let split = body
            .char_indices()
            .skip(1)
            .filter(|(i, c)| {
                (*c == '+' || *c == '-')
                    && !matches!(body.as_bytes()[i - 1], b'e' | b'E' | b'p' | b'P')
            })
            .map(|(i, _)| i)
            .last();
        let parsed = split
            .and_then(|i| Some((parse_float_text(&body[..i])?, parse_float_text(&body[i..])?)));
        let Some((re, im)) = parsed else {
            return Err(format!(
                "illegal number syntax: {}",
                crate::gofmt::quote(text)
            ));
        };
        n.is_complex = true;
        n.complex = (re, im);
        n.simplify_complex();
        return Ok(n);
    }
    // Imaginary constants can only be complex unless they are zero.
    if let Some(imag) = text.strip_suffix('i')
        && let Some(f) = parse_float_text(imag)
    {
        n.is_complex = true;
        n.complex = (0.0, f);
        n.simplify_complex();
        return Ok(n);
    }
    if let Some(v) = parse_go_int(text) {
        if v >= 0 && v <= i128::from(u64::MAX) {
            n.is_uint = true;
        }
        if v >= i128::from(i64::MIN) && v <= i128::from(i64::MAX) {
            n.is_int = true;
            n.int = v as i64;
        }
        if n.is_int || n.is_uint {
            n.is_float = true;
            n.float = v as f64;
        }
    }
    if !n.is_int && !n.is_uint {
        let parsed = parse_float_text(text);
        if let Some(f) = parsed {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Err(format!("integer overflow: {}", crate::gofmt::quote(text)));
            }
            n.is_float = true;
            n.float = f;
            if f.is_finite()
                && f.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
            {
                n.is_int = true;
                n.int = f as i64;
            }
            if f.is_finite() && f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) {
                n.is_uint = true;
            }
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!(
            "illegal number syntax: {}",
            crate::gofmt::quote(text)
        ));
    }
    Ok(n)
}

/// Parses `text` as template `name`; returns the trees it defines (the
/// named one first). `has_func` answers whether a function exists.
pub fn parse(
    name: &str,
    text: &str,
    left: &str,
    right: &str,
    has_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Tree>, String> {
    let left = if left.is_empty() { "{{" } else { left };
    let right = if right.is_empty() { "}}" } else { right };
    let mut lx = Lexer {
        input: text,
        left,
        right,
        pos: 0,
        start: 0,
        line: 1,
        start_line: 1,
        paren_depth: 0,
        items: Vec::new(),
    };
    lx.run();
    let mut p = Parser {
        items: lx.items,
        i: 0,
        furthest: 0,
        name: name.to_string(),
        parse_name: name.to_string(),
        funcs: has_func,
        vars: vec!["$".into()],
        range_depth: 0,
        action_line: 0,
        stack_depth: 0,
        stack_base: crate::exec::stack_position(),
        trees: Vec::new(),
        names: std::collections::HashMap::new(),
    };
    let root = p.parse()?;
    let main_name = p.name.clone();
    p.add_tree(main_name, root)?;
    let src: Rc<str> = Rc::from(text);
    let mut trees: Vec<Tree> = p
        .trees
        .into_iter()
        .map(|(n, root)| Tree {
            name: n,
            parse_name: name.to_string(),
            text: src.clone(),
            root,
        })
        .collect();
    if let Some(i) = trees.iter().position(|t| t.name == name) {
        let t = trees.remove(i);
        trees.insert(0, t);
    }
    Ok(trees)
}

//! The executor: Go's `text/template` evaluation rules — field chains on
//! maps and host objects, pipelines, argument conversion with Go's type
//! errors, variables and scopes, `range`/`with`/`if`, template calls — and
//! the `template: NAME:LINE:COL: executing "NAME" at <NODE>: …` errors.

use std::collections::HashMap;
use std::rc::Rc;

use crate::parse::{self, Arg, Branch, Command, Node, Number, Pipe, Tree};
use crate::value::{Func, ListTy, MapTy, Ty, Value};

/// What a missing map key evaluates to (`missingkey=` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// `<no value>` (Go's default, `missingkey=default`/`invalid`).
    #[default]
    Invalid,
    /// The zero value of the map's element type.
    Zero,
    /// An error.
    Error,
}

/// A template error (parse or execution), with Go's wording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// A set of named templates sharing functions and options (Go's
/// `*template.Template`). Cheap to clone: trees are shared.
#[derive(Clone)]
pub struct Template {
    name: String,
    trees: HashMap<String, Rc<Tree>>,
    funcs: Rc<HashMap<String, Func>>,
    missing: MissingKey,
    left: String,
    right: String,
    /// Nesting limit of `template`/`include` calls.
    pub max_depth: usize,
    /// Output size limit in bytes.
    pub max_output: usize,
    /// Native stack the executor may use for nested template calls; a
    /// deeper recursion ends with the depth error instead of a crash.
    pub max_stack: usize,
    /// Commands and loop iterations one execution may run (includes and
    /// `tpl` count against their caller's budget).
    pub max_steps: u64,
    steps: Rc<std::cell::Cell<u64>>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.trees.keys().collect();
        names.sort();
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("templates", &names)
            .finish()
    }
}

/// Go's `maxExecDepth` is 100000; ours is lower so that a runaway
/// recursion ends with an error long before the native stack does.
pub const DEFAULT_MAX_DEPTH: usize = 1000;
/// Stack budget of one execution: safe on a 2 MiB thread.
pub const DEFAULT_MAX_STACK: usize = 1 << 20;
/// A hundred million commands and loop iterations per execution.
pub const DEFAULT_MAX_STEPS: u64 = 100_000_000;
/// 256 MiB of output at most.
pub const DEFAULT_MAX_OUTPUT: usize = 256 << 20;

impl Template {
    /// A template set named `name` with the builtins and `funcs`.
    pub fn new(name: &str, funcs: HashMap<String, Func>) -> Template {
        let mut all = crate::builtins::builtins();
        all.extend(funcs);
        Template {
            name: name.to_string(),
            trees: HashMap::new(),
            funcs: Rc::new(all),
            missing: MissingKey::Invalid,
            left: String::new(),
            right: String::new(),
            max_depth: DEFAULT_MAX_DEPTH,
            max_output: DEFAULT_MAX_OUTPUT,
            max_stack: DEFAULT_MAX_STACK,
            max_steps: DEFAULT_MAX_STEPS,
            steps: Rc::new(std::cell::Cell::new(0)),
        }
    }

    /// The name given to `new`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the action delimiters (empty = default `{{` `}}`).
    pub fn delims(&mut self, left: &str, right: &str) -> &mut Self {
        self.left = left.to_string();
        self.right = right.to_string();
        self
    }

    /// Sets the `missingkey` option.
    pub fn missing_key(&mut self, m: MissingKey) -> &mut Self {
        self.missing = m;
        self
    }

    /// Adds or replaces functions.
    pub fn add_funcs(&mut self, funcs: impl IntoIterator<Item = (String, Func)>) -> &mut Self {
        let f = Rc::make_mut(&mut self.funcs);
        f.extend(funcs);
        self
    }

    /// Whether a function is known (builtin or added).
    pub fn has_func(&self, name: &str) -> bool {
        self.funcs.contains_key(name)
    }

    /// Parses `text` as the template `name` (and the templates it
    /// `define`s), as Go's `t.New(name).Parse(text)`.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), Error> {
        self.parse_new(name, text).map(|_| ())
    }

    /// [`Template::parse`], returning the name under which the new
    /// template's own body executes. In Go, an empty body (only spaces and
    /// comments) never replaces a non-empty definition of the same name in
    /// the set, but the template object `Parse` returns still has the empty
    /// body — and that is what Helm's `tpl` executes. So when the set keeps
    /// the old definition, the new body is kept under a private name,
    /// returned here.
    pub fn parse_new(&mut self, name: &str, text: &str) -> Result<String, Error> {
        let funcs = self.funcs.clone();
        let has = move |n: &str| funcs.contains_key(n);
        let trees = parse::parse(name, text, &self.left, &self.right, &has).map_err(Error)?;
        let mut body = name.to_string();
        for t in trees {
            // An empty definition never replaces a non-empty one.
            if let Some(old) = self.trees.get(&t.name)
                && parse::is_empty_tree(&t.root)
                && !parse::is_empty_tree(&old.root)
            {
                if t.name == name {
                    body = format!("{name}\u{0}new");
                    self.trees.insert(body.clone(), Rc::new(t));
                }
                continue;
            }
            self.trees.insert(t.name.clone(), Rc::new(t));
        }
        Ok(body)
    }

    /// Whether a template of that name is defined.
    pub fn has(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// The names of all templates, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.trees.keys().cloned().collect();
        v.sort();
        v
    }

    /// Executes the template `name` with `data` as dot. The output is
    /// text: a byte of a Go string that is not UTF-8 is U+FFFD here (see
    /// [`Template::execute_go`]).
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, Error> {
        let out = self.execute_go(name, data)?;
        Ok(match crate::gostr::to_text(&out) {
            std::borrow::Cow::Borrowed(_) => out,
            std::borrow::Cow::Owned(text) => text,
        })
    }

    /// Executes the template `name` with `data` as dot; the output keeps
    /// the bytes of Go strings that are not UTF-8, escaped as
    /// [`crate::gostr`] describes (`gostr::to_bytes` gives Go's output).
    pub fn execute_go(&self, name: &str, data: &Value) -> Result<String, Error> {
        let mut out = String::new();
        self.steps.set(0);
        self.execute_into(name, data, 0, stack_position(), &mut out)?;
        Ok(out)
    }

    /// Executes into `out` at nesting `depth`; `stack_base` is the stack
    /// position of the outermost execution (callbacks pass theirs on).
    pub fn execute_into(
        &self,
        name: &str,
        data: &Value,
        depth: usize,
        stack_base: usize,
        out: &mut String,
    ) -> Result<(), Error> {
        let Some(tree) = self.trees.get(name).cloned() else {
            return Err(Error(if self.trees.is_empty() || name == self.name {
                format!(
                    "template: {name}: {} is an incomplete or empty template",
                    crate::gofmt::quote(name)
                )
            } else {
                format!(
                    "template: no template {} associated with template {}",
                    crate::gofmt::quote(name),
                    crate::gofmt::quote(&self.name)
                )
            }));
        };
        let mut st = State {
            t: self,
            tree: tree.clone(),
            vars: vec![("$".into(), Dot::plain(data.clone()))],
            depth,
            stack_base,
            out,
            cur: None,
        };
        let dot = Dot::plain(data.clone());
        match st.walk_list(&dot, &tree.root) {
            Ok(()) => Ok(()),
            Err(Ctl::Err(e)) => Err(Error(e)),
            Err(Ctl::Break | Ctl::Continue) => Ok(()),
        }
    }
}

/// What a function sees of the running template: enough to execute other
/// templates (`include`) or parse new ones (`tpl`).
pub struct Ctx<'a> {
    pub(crate) t: &'a Template,
    pub(crate) depth: usize,
    pub(crate) stack_base: usize,
}

/// An address on the current stack (the stacks grow down on every
/// platform we build for); differences measure the stack in use.
#[inline(never)]
pub(crate) fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

impl Ctx<'_> {
    /// The template set being executed.
    pub fn template(&self) -> &Template {
        self.t
    }

    /// The current nesting depth of template calls.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Executes another template of the set with `data` (one level deeper).
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, Error> {
        self.check_depth()?;
        let mut out = String::new();
        self.t
            .execute_into(name, data, self.depth + 1, self.stack_base, &mut out)?;
        Ok(out)
    }

    /// Executes `text` parsed as a new template of a copy of this set
    /// (Helm's `tpl`), one level deeper.
    pub fn execute_text(&self, name: &str, text: &str, data: &Value) -> Result<String, Error> {
        self.check_depth()?;
        let mut t = self.t.clone();
        t.parse(name, text)?;
        let mut out = String::new();
        t.execute_into(name, data, self.depth + 1, self.stack_base, &mut out)?;
        Ok(out)
    }

    /// Executes the template `name` of another set `t` (typically a clone
    /// of this one with a new template parsed into it, as Helm's `tpl`
    /// does) one level deeper, sharing this execution's limits.
    pub fn execute_in(&self, t: &Template, name: &str, data: &Value) -> Result<String, Error> {
        self.check_depth()?;
        let mut out = String::new();
        t.execute_into(name, data, self.depth + 1, self.stack_base, &mut out)?;
        Ok(out)
    }

    fn check_depth(&self) -> Result<(), Error> {
        if self.depth + 1 >= self.t.max_depth
            || self.stack_base.abs_diff(stack_position()) > self.t.max_stack
        {
            return Err(Error(format!(
                "exceeded maximum template depth ({})",
                self.t.max_depth
            )));
        }
        Ok(())
    }
}

/// A value with its static type: `boxed` when it came out of an
/// `interface {}` container (Go reports such receivers as `interface {}`).
#[derive(Clone, Debug)]
struct Dot {
    v: Value,
    boxed: bool,
}

impl Dot {
    fn plain(v: Value) -> Dot {
        Dot { v, boxed: false }
    }
    fn static_type(&self) -> String {
        if self.boxed {
            "interface {}".into()
        } else {
            self.v.type_name()
        }
    }
}

enum Ctl {
    Err(String),
    Break,
    Continue,
}

type R<T> = Result<T, Ctl>;

/// The node an error is reported at (Go's `state.at`).
#[derive(Clone, Copy)]
enum At<'n> {
    Node(&'n Node),
    Arg(&'n Arg),
    Pipe(&'n Pipe),
    Cmd(&'n Command),
}

const K_NODE: u8 = 0;
const K_ARG: u8 = 1;
const K_PIPE: u8 = 2;
const K_CMD: u8 = 3;

impl At<'_> {
    fn key(&self) -> (usize, u8) {
        match self {
            At::Node(n) => (n.pos(), K_NODE),
            At::Arg(a) => (a.pos(), K_ARG),
            At::Pipe(p) => (p.pos, K_PIPE),
            At::Cmd(c) => (c.pos, K_CMD),
        }
    }
}

/// Finds the text of the node recorded by `at` (only needed for errors,
/// so the hot path records a position and a kind, nothing more).
fn node_text(nodes: &[Node], key: (usize, u8)) -> Option<String> {
    fn in_pipe(p: &Pipe, key: (usize, u8)) -> Option<String> {
        if key == (p.pos, K_PIPE) {
            return Some(p.to_string());
        }
        for c in &p.cmds {
            if key == (c.pos, K_CMD) {
                return Some(c.to_string());
            }
            for a in &c.args {
                if let Some(t) = in_arg(a, key) {
                    return Some(t);
                }
            }
        }
        None
    }
    fn in_arg(a: &Arg, key: (usize, u8)) -> Option<String> {
        if let Arg::Pipe(p) = a {
            return in_pipe(p, key);
        }
        if key == (a.pos(), K_ARG) {
            return Some(a.to_string());
        }
        if let Arg::Chain { node, .. } = a {
            return in_arg(node, key);
        }
        None
    }
    for n in nodes {
        if key == (n.pos(), K_NODE) && !matches!(n, Node::Text { .. }) {
            return Some(n.to_string());
        }
        let found = match n {
            Node::Action { pipe, .. } => in_pipe(pipe, key),
            Node::If { b, .. } | Node::Range { b, .. } | Node::With { b, .. } => {
                in_pipe(&b.pipe, key)
                    .or_else(|| node_text(&b.list, key))
                    .or_else(|| b.else_list.as_deref().and_then(|e| node_text(e, key)))
            }
            Node::Template { pipe: Some(p), .. } => in_pipe(p, key),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

struct State<'a, 'o> {
    t: &'a Template,
    tree: Rc<Tree>,
    vars: Vec<(Rc<str>, Dot)>,
    depth: usize,
    stack_base: usize,
    out: &'o mut String,
    cur: Option<(usize, u8)>,
}

impl State<'_, '_> {
    fn at(&mut self, a: At<'_>) {
        self.cur = Some(a.key());
    }

    fn fail<T>(&self, msg: String) -> R<T> {
        // A raw byte of a Go string (not UTF-8) in the message reads as
        // U+FFFD, as Go's error text does once decoded.
        let msg = crate::gostr::to_text(&msg).into_owned();
        let name = &self.tree.name;
        let text = self.cur.and_then(|k| {
            let all: Vec<Rc<Tree>> = std::iter::once(self.tree.clone())
                .chain(self.t.trees.values().cloned())
                .collect();
            all.iter()
                .find_map(|t| node_text(&t.root, k).map(|s| (k.0, s)))
        });
        Err(Ctl::Err(match text {
            None => format!("template: {name}: {msg}"),
            Some((pos, node)) => {
                let (loc, ctx) = self.tree.error_context(pos, &node);
                format!(
                    "template: {loc}: executing {} at <{ctx}>: {msg}",
                    crate::gofmt::quote(name)
                )
            }
        }))
    }

    fn write(&mut self, s: &str) -> R<()> {
        if self.out.len() + s.len() > self.t.max_output {
            return self.fail(format!(
                "template output exceeds the limit of {} bytes",
                self.t.max_output
            ));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Dot, list: &[Node]) -> R<()> {
        for n in list {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Dot, node: &Node) -> R<()> {
        match node {
            Node::Text { text } => self.write(text),
            Node::Action { pipe, .. } => {
                self.at(At::Node(node));
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at(At::Node(node));
                    match &v {
                        Value::Missing => self.write("<no value>")?,
                        Value::Str(s) => self.write(s)?,
                        v => self.write(&crate::gofmt::sprint(std::slice::from_ref(v)))?,
                    }
                }
                Ok(())
            }
            Node::Break { .. } => Err(Ctl::Break),
            Node::Continue { .. } => Err(Ctl::Continue),
            Node::If { b, .. } => {
                self.at(At::Node(node));
                self.walk_if_with(false, dot, b)
            }
            Node::With { b, .. } => {
                self.at(At::Node(node));
                self.walk_if_with(true, dot, b)
            }
            Node::Range { b, .. } => {
                self.at(At::Node(node));
                self.walk_range(dot, b)
            }
            Node::Template { name, pipe, .. } => {
                self.at(At::Node(node));
                let Some(tree) = self.t.trees.get(name).cloned() else {
                    return self.fail(format!(
                        "template {} not defined",
                        crate::gofmt::quote(name)
                    ));
                };
                if self.depth + 1 >= self.t.max_depth
                    || self.stack_base.abs_diff(stack_position()) > self.t.max_stack
                {
                    return self.fail(format!(
                        "exceeded maximum template depth ({})",
                        self.t.max_depth
                    ));
                }
                let v = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Missing,
                };
                let new_dot = Dot::plain(v);
                let saved_tree = std::mem::replace(&mut self.tree, tree.clone());
                let saved_vars =
                    std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
                self.depth += 1;
                let r = self.walk_list(&new_dot, &tree.root);
                self.depth -= 1;
                self.tree = saved_tree;
                self.vars = saved_vars;
                r
            }
        }
    }

    /// Deep nesting ends with an error before the native stack does.
    fn check_stack(&self) -> R<()> {
        // A little beyond the template-call check, so that a recursive
        // template is reported at its {{template}} node, as Go does.
        if self.stack_base.abs_diff(stack_position()) > self.t.max_stack + self.t.max_stack / 8 {
            return self.fail(format!(
                "exceeded maximum template depth ({})",
                self.t.max_depth
            ));
        }
        Ok(())
    }

    fn walk_if_with(&mut self, with: bool, dot: &Dot, b: &Branch) -> R<()> {
        let mark = self.vars.len();
        let r = (|| {
            let v = self.eval_pipeline(dot, &b.pipe)?;
            if v.truth() {
                if with {
                    self.walk_list(&Dot::plain(v), &b.list)
                } else {
                    self.walk_list(dot, &b.list)
                }
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &Dot, b: &Branch) -> R<()> {
        let mark = self.vars.len();
        let r = self.walk_range_inner(dot, b);
        self.vars.truncate(mark);
        match r {
            Err(Ctl::Break) => Ok(()),
            other => other,
        }
    }

    fn walk_range_inner(&mut self, dot: &Dot, b: &Branch) -> R<()> {
        let mut val = self.eval_pipeline(dot, &b.pipe)?;
        let mut keyed: Option<Vec<(Value, Value)>> = None;
        if let Value::Object(o) = &val {
            if let Some(entries) = o.map_entries() {
                keyed = Some(entries);
            } else if let Some(m) = o.as_map() {
                val = Value::Map(m);
            } else if let Some(l) = o.as_list() {
                val = Value::List(l);
            }
        }
        let pipe = &b.pipe;
        let mark = self.vars.len();
        // Integers are iterated lazily (`range 1000000000` must not
        // allocate); collections are snapshotted (a body may change a map).
        let mut items: Box<dyn Iterator<Item = (Value, Dot)>> = match &val {
            _ if keyed.is_some() => Box::new(
                keyed
                    .take()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, Dot::plain(v))),
            ),
            Value::Int(_) | Value::Int64(_) | Value::Uint32(_) | Value::Uint8(_)
                if pipe.decl.len() > 1 =>
            {
                return self.fail(format!(
                    "can't use {val} to iterate over more than one variable"
                ));
            }
            Value::Int(n) => {
                Box::new((0..(*n).max(0)).map(|i| (Value::Missing, Dot::plain(Value::Int(i)))))
            }
            Value::Int64(n) => {
                Box::new((0..(*n).max(0)).map(|i| (Value::Missing, Dot::plain(Value::Int64(i)))))
            }
            Value::Uint32(n) => {
                Box::new((0..*n).map(|i| (Value::Missing, Dot::plain(Value::Uint32(i)))))
            }
            Value::Uint8(n) => {
                Box::new((0..*n).map(|i| (Value::Missing, Dot::plain(Value::Uint8(i)))))
            }
            Value::List(l) => {
                let boxed = matches!(l.ty, ListTy::Iface);
                let l = l.clone();
                Box::new((0..l.items.len()).map(move |i| {
                    (
                        Value::Int(i as i64),
                        Dot {
                            v: l.items[i].clone(),
                            boxed,
                        },
                    )
                }))
            }
            Value::Bytes(bs) => {
                let bs = bs.clone();
                Box::new((0..bs.len()).map(move |i| {
                    (
                        Value::Int(i as i64),
                        Dot::plain(Value::Int(i64::from(bs[i]))),
                    )
                }))
            }
            Value::Map(m) => {
                let m = m.borrow();
                let boxed = m.ty == MapTy::Iface;
                let entries: Vec<(Value, Dot)> = m
                    .entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            Value::str(k),
                            Dot {
                                v: v.clone(),
                                boxed,
                            },
                        )
                    })
                    .collect();
                Box::new(entries.into_iter())
            }
            Value::Missing => Box::new(std::iter::empty()),
            _ => return self.fail(format!("range can't iterate over {val}")),
        };
        let Some(first) = items.next() else {
            if let Some(e) = &b.else_list {
                return self.walk_list(dot, e);
            }
            return Ok(());
        };
        for (index, elem) in std::iter::once(first).chain(items) {
            if !pipe.decl.is_empty() {
                let n = self.vars.len();
                if pipe.is_assign {
                    if pipe.decl.len() > 1 {
                        self.set_var(&pipe.decl[0], Dot::plain(index))?;
                        self.set_var(&pipe.decl[1], elem.clone())?;
                    } else {
                        self.set_var(&pipe.decl[0], elem.clone())?;
                    }
                } else if pipe.decl.len() > 1 && n >= 2 {
                    self.vars[n - 2].1 = Dot::plain(index);
                    self.vars[n - 1].1 = elem.clone();
                } else if n >= 1 {
                    self.vars[n - 1].1 = elem.clone();
                }
            }
            self.step()?;
            let r = self.walk_list(&elem, &b.list);
            self.vars.truncate(mark);
            match r {
                Ok(()) | Err(Ctl::Continue) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn set_var(&mut self, name: &str, v: Dot) -> R<()> {
        for slot in self.vars.iter_mut().rev() {
            if &*slot.0 == name {
                slot.1 = v;
                return Ok(());
            }
        }
        self.fail(format!("undefined variable: {name}"))
    }

    fn var_value(&self, name: &str) -> R<Dot> {
        for slot in self.vars.iter().rev() {
            if &*slot.0 == name {
                return Ok(slot.1.clone());
            }
        }
        self.fail(format!("undefined variable: {name}"))
    }

    fn eval_pipeline(&mut self, dot: &Dot, pipe: &Pipe) -> R<Value> {
        self.at(At::Pipe(pipe));
        self.check_stack()?;
        let mut value: Option<Dot> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // An interface result is unwrapped: a nil one becomes nothing.
            value = Some(Dot::plain(match v.v {
                Value::Nil => Value::Missing,
                other => other,
            }));
        }
        let value = value.map(|d| d.v).unwrap_or_default();
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, Dot::plain(value.clone()))?;
            } else {
                self.vars.push((name.clone(), Dot::plain(value.clone())));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], final_: &Option<Dot>) -> R<()> {
        if args.len() > 1 || final_.is_some() {
            return self.fail(format!("can't give argument to non-function {}", args[0]));
        }
        Ok(())
    }

    /// Counts one command or loop iteration against the step budget.
    fn step(&self) -> R<()> {
        let n = self.t.steps.get() + 1;
        self.t.steps.set(n);
        if n > self.t.max_steps {
            return self.fail(format!(
                "template execution exceeds the limit of {} steps",
                self.t.max_steps
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Dot, cmd: &Command, final_: Option<Dot>) -> R<Dot> {
        self.step()?;
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at(At::Arg(first));
                return self.eval_field_chain(dot, dot.clone(), first, idents, &cmd.args, final_);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, &cmd.args, final_),
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, name, At::Cmd(cmd), &cmd.args, final_);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &final_)?;
                return self.eval_pipeline(dot, p).map(Dot::plain);
            }
            Arg::Variable { idents, .. } => {
                return self.eval_variable(dot, first, idents, &cmd.args, final_);
            }
            _ => {}
        }
        self.at(At::Arg(first));
        self.not_a_function(&cmd.args, &final_)?;
        match first {
            Arg::Bool { value, .. } => Ok(Dot::plain(Value::Bool(*value))),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => self.fail("nil is not a command".into()),
            Arg::Number { num, .. } => self.ideal_constant(num, first).map(Dot::plain),
            Arg::String { text, .. } => Ok(Dot::plain(Value::Str(text.clone()))),
            _ => self.fail(format!(
                "can't evaluate command {}",
                crate::gofmt::quote(&first.to_string())
            )),
        }
    }

    fn eval_chain(&mut self, dot: &Dot, chain: &Arg, args: &[Arg], final_: Option<Dot>) -> R<Dot> {
        self.at(At::Arg(chain));
        let Arg::Chain { node, fields, .. } = chain else {
            return self.fail("internal error: no fields in evalChainNode".into());
        };
        if matches!(node.as_ref(), Arg::Nil { .. }) {
            return self.fail(format!("indirection through explicit nil in {chain}"));
        }
        let base = self.eval_arg(dot, None, node)?;
        self.eval_field_chain(dot, base, chain, fields, args, final_)
    }

    fn ideal_constant(&mut self, n: &Number, at: &Arg) -> R<Value> {
        self.at(At::Arg(at));
        let hex_int = n.text.len() > 2
            && n.text.starts_with('0')
            && matches!(n.text.as_bytes()[1], b'x' | b'X')
            && !n.text.contains(['p', 'P']);
        let rune = n.text.starts_with('\'');
        if n.is_complex {
            return Ok(Value::Complex(n.complex.0, n.complex.1));
        }
        if n.is_float && !hex_int && !rune && n.text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Value::Float(n.float));
        }
        if n.is_int {
            return Ok(Value::Int(n.int));
        }
        if n.is_uint {
            return self.fail(format!("{} overflows int", n.text));
        }
        Ok(Value::Missing)
    }

    fn eval_variable(
        &mut self,
        dot: &Dot,
        node: &Arg,
        idents: &[Rc<str>],
        args: &[Arg],
        final_: Option<Dot>,
    ) -> R<Dot> {
        self.at(At::Arg(node));
        let v = self.var_value(&idents[0])?;
        if idents.len() == 1 {
            self.not_a_function(args, &final_)?;
            return Ok(v);
        }
        self.eval_field_chain(dot, v, node, &idents[1..], args, final_)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Dot,
        mut receiver: Dot,
        node: &Arg,
        idents: &[Rc<str>],
        args: &[Arg],
        final_: Option<Dot>,
    ) -> R<Dot> {
        let n = idents.len();
        for ident in &idents[..n - 1] {
            receiver = self.eval_field(dot, ident, node, &[], None, receiver)?;
        }
        self.eval_field(dot, &idents[n - 1], node, args, final_, receiver)
    }

    fn eval_field(
        &mut self,
        dot: &Dot,
        name: &str,
        node: &Arg,
        args: &[Arg],
        final_: Option<Dot>,
        receiver: Dot,
    ) -> R<Dot> {
        if matches!(receiver.v, Value::Missing) {
            if self.t.missing == MissingKey::Error {
                return self.fail(format!(
                    "nil data; no entry for key {}",
                    crate::gofmt::quote(name)
                ));
            }
            return Ok(Dot::plain(Value::Missing));
        }
        let typ = receiver.static_type();
        if matches!(receiver.v, Value::Nil) {
            return self.fail(format!("nil pointer evaluating {typ}.{name}"));
        }
        let has_args = args.len() > 1 || final_.is_some();
        match &receiver.v {
            Value::Object(o) => {
                if let Some(m) = o.method(name) {
                    return self.eval_call(dot, &m, false, At::Arg(node), name, args, final_);
                }
                if let Some(v) = o.field(name) {
                    if has_args {
                        return self.fail(format!(
                            "{name} has arguments but cannot be invoked as function"
                        ));
                    }
                    return Ok(Dot::plain(v));
                }
                if let Some(m) = o.as_map() {
                    if has_args {
                        return self.fail(format!("{name} is not a method but has arguments"));
                    }
                    let v = m.borrow().entries.get(name).cloned();
                    return Ok(Dot::plain(v.unwrap_or(Value::Missing)));
                }
            }
            Value::Map(m) => {
                if has_args {
                    return self.fail(format!("{name} is not a method but has arguments"));
                }
                let m = m.borrow();
                let boxed = m.ty == MapTy::Iface;
                return match m.entries.get(name) {
                    Some(v) => Ok(Dot {
                        v: v.clone(),
                        boxed,
                    }),
                    None => match self.t.missing {
                        MissingKey::Invalid => Ok(Dot::plain(Value::Missing)),
                        MissingKey::Zero => Ok(Dot {
                            v: if boxed { Value::Nil } else { Value::str("") },
                            boxed,
                        }),
                        MissingKey::Error => self.fail(format!(
                            "map has no entry for key {}",
                            crate::gofmt::quote(name)
                        )),
                    },
                };
            }
            _ => {}
        }
        self.fail(format!("can't evaluate field {name} in type {typ}"))
    }

    fn eval_function(
        &mut self,
        dot: &Dot,
        node: &Arg,
        name: &str,
        call_at: At<'_>,
        args: &[Arg],
        final_: Option<Dot>,
    ) -> R<Dot> {
        self.at(At::Arg(node));
        let t = self.t;
        let Some(f) = t.funcs.get(name) else {
            return self.fail(format!(
                "{} is not a defined function",
                crate::gofmt::quote(name)
            ));
        };
        let builtin = f.builtin;
        self.eval_call(dot, f, builtin, call_at, name, args, final_)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_call(
        &mut self,
        dot: &Dot,
        f: &Func,
        builtin: bool,
        at: At<'_>,
        name: &str,
        args: &[Arg],
        final_: Option<Dot>,
    ) -> R<Dot> {
        let args = if args.is_empty() { args } else { &args[1..] };
        let num_in = args.len() + usize::from(final_.is_some());
        let nparams = f.params.len();
        let num_fixed = if f.variadic.is_some() {
            nparams
        } else {
            args.len()
        };
        if f.variadic.is_some() {
            if num_in < nparams {
                return self.fail(format!(
                    "wrong number of args for {name}: want at least {nparams} got {}",
                    args.len()
                ));
            }
        } else if num_in != nparams {
            return self.fail(format!(
                "wrong number of args for {name}: want {nparams} got {num_in}"
            ));
        }
        if builtin && (name == "and" || name == "or") {
            let mut v = Value::Missing;
            for a in args {
                v = self.eval_arg(dot, Some(&Ty::Reflect), a)?.v;
                if v.truth() == (name == "or") {
                    return Ok(Dot::plain(v));
                }
            }
            if let Some(fin) = final_ {
                v = self.validate_type(fin, Some(&Ty::Reflect))?.v;
            }
            return Ok(Dot::plain(v));
        }
        let mut argv = Vec::with_capacity(num_in + 1);
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            argv.push(self.eval_arg(dot, Some(&f.params[i]), &args[i])?.v);
            i += 1;
        }
        if let Some(vt) = &f.variadic {
            while i < args.len() {
                argv.push(self.eval_arg(dot, Some(vt), &args[i])?.v);
                i += 1;
            }
        }
        if let Some(fin) = final_ {
            let t = if f.variadic.is_some() && num_in > nparams {
                f.variadic.clone().unwrap_or(Ty::Iface)
            } else {
                f.params.get(num_in - 1).cloned().unwrap_or(Ty::Iface)
            };
            let fin_text = if builtin && name == "call" && args.is_empty() {
                Some(fin.v.to_string())
            } else {
                None
            };
            argv.push(self.validate_type(fin, Some(&t))?.v);
            if let Some(t) = fin_text {
                argv.insert(0, Value::string(t));
            }
        }
        if builtin && name == "call" && !args.is_empty() {
            argv.insert(0, Value::string(args[0].to_string()));
        }
        let result = {
            let mut ctx = Ctx {
                t: self.t,
                depth: self.depth,
                stack_base: self.stack_base,
            };
            (f.f)(&mut ctx, argv)
        };
        match result {
            Ok(v) => {
                let boxed = f.result == Ty::Iface;
                Ok(Dot { v, boxed })
            }
            Err(e) => {
                self.at(at);
                self.fail(format!("error calling {name}: {e}"))
            }
        }
    }

    fn validate_type(&self, value: Dot, ty: Option<&Ty>) -> R<Dot> {
        let Some(ty) = ty else {
            return Ok(value);
        };
        if *ty == Ty::Reflect {
            return Ok(value);
        }
        if matches!(value.v, Value::Missing) {
            if ty.can_be_nil() {
                return Ok(Dot::plain(ty.zero()));
            }
            return self.fail(format!("invalid value; expected {}", ty.go_name()));
        }
        if matches!(value.v, Value::Nil) {
            if *ty == Ty::Iface {
                return Ok(value);
            }
            return self.fail(format!(
                "wrong type for value; expected {}; got interface {{}}",
                ty.go_name()
            ));
        }
        if !value.v.assignable_to(ty) {
            return self.fail(format!(
                "wrong type for value; expected {}; got {}",
                ty.go_name(),
                value.v.type_name()
            ));
        }
        Ok(value)
    }

    fn eval_arg(&mut self, dot: &Dot, ty: Option<&Ty>, n: &Arg) -> R<Dot> {
        self.at(At::Arg(n));
        match n {
            Arg::Dot { .. } => return self.validate_type(dot.clone(), ty),
            Arg::Nil { .. } => {
                return match ty {
                    Some(Ty::Reflect) | None => Ok(Dot::plain(Value::Missing)),
                    Some(t) if t.can_be_nil() => Ok(Dot::plain(t.zero())),
                    Some(t) => self.fail(format!("cannot assign nil to {}", t.go_name())),
                };
            }
            Arg::Field { idents, .. } => {
                self.at(At::Arg(n));
                let v = self.eval_field_chain(
                    dot,
                    dot.clone(),
                    n,
                    idents,
                    std::slice::from_ref(n),
                    None,
                )?;
                return self.validate_type(v, ty);
            }
            Arg::Variable { idents, .. } => {
                let v = self.eval_variable(dot, n, idents, &[], None)?;
                return self.validate_type(v, ty);
            }
            Arg::Pipe(p) => {
                let v = self.eval_pipeline(dot, p)?;
                return self.validate_type(Dot::plain(v), ty);
            }
            Arg::Identifier { name, .. } => {
                let v = self.eval_function(dot, n, name, At::Arg(n), &[], None)?;
                return self.validate_type(v, ty);
            }
            Arg::Chain { .. } => {
                let v = self.eval_chain(dot, n, &[], None)?;
                return self.validate_type(v, ty);
            }
            _ => {}
        }
        let ty = ty.cloned().unwrap_or(Ty::Iface);
        let v = match (&ty, n) {
            (Ty::Bool, Arg::Bool { value, .. }) => Value::Bool(*value),
            (Ty::Bool, _) => return self.fail(format!("expected bool; found {n}")),
            (Ty::Float, Arg::Number { num, .. }) if num.is_float => Value::Float(num.float),
            (Ty::Float, _) => return self.fail(format!("expected float; found {n}")),
            (Ty::Int, Arg::Number { num, .. }) if num.is_int => Value::Int(num.int),
            (Ty::Int64, Arg::Number { num, .. }) if num.is_int => Value::Int64(num.int),
            (Ty::Int | Ty::Int64, _) => return self.fail(format!("expected integer; found {n}")),
            (Ty::Uint32, Arg::Number { num, .. }) if num.is_uint => match u32::try_from(num.int) {
                Ok(u) => Value::Uint32(u),
                Err(_) => return self.fail(format!("expected unsigned integer; found {n}")),
            },
            (Ty::Uint32, _) => return self.fail(format!("expected unsigned integer; found {n}")),
            (Ty::Str, Arg::String { text, .. }) => Value::Str(text.clone()),
            (Ty::Str, _) => return self.fail(format!("expected string; found {n}")),
            (Ty::Iface | Ty::Reflect, Arg::Bool { value, .. }) => Value::Bool(*value),
            (Ty::Iface | Ty::Reflect, Arg::Number { num, .. }) => self.ideal_constant(num, n)?,
            (Ty::Iface | Ty::Reflect, Arg::String { text, .. }) => Value::Str(text.clone()),
            (t, _) => {
                return self.fail(format!("can't handle {n} for arg of type {}", t.go_name()));
            }
        };
        Ok(Dot::plain(v))
    }
}

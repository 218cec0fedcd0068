//! Random Go templates with sprig over random values, run by
//! flux-gotemplate and by Go's text/template + sprig (the oracle's corpus
//! mode), compared output for output and error for error.

use std::fmt::Write as _;
use std::process::Command;

use flux_gotemplate::{Template, Value, sprig};

use super::{Difference, Rng};

/// Functions with their parameter and result types: `s` string, `i` int,
/// `f` float64, `b` bool, `l` list, `m` map, `a` anything, `r` regular
/// expression (a string from the pool), `p` printf format; a trailing `*`
/// repeats the type before it 0–3 times.
const FUNCS: &[(&str, &str, char)] = &[
    ("upper", "s", 's'),
    ("lower", "s", 's'),
    ("title", "s", 's'),
    ("untitle", "s", 's'),
    ("trim", "s", 's'),
    ("trimAll", "ss", 's'),
    ("trimPrefix", "ss", 's'),
    ("trimSuffix", "ss", 's'),
    ("nospace", "s", 's'),
    ("repeat", "is", 's'),
    ("substr", "iis", 's'),
    ("trunc", "is", 's'),
    ("abbrev", "is", 's'),
    ("abbrevboth", "iis", 's'),
    ("initials", "s", 's'),
    ("quote", "a*", 's'),
    ("squote", "a*", 's'),
    ("cat", "a*", 's'),
    ("indent", "is", 's'),
    ("nindent", "is", 's'),
    ("replace", "sss", 's'),
    ("plural", "ssi", 's'),
    ("snakecase", "s", 's'),
    ("camelcase", "s", 's'),
    ("kebabcase", "s", 's'),
    ("swapcase", "s", 's'),
    ("wrap", "is", 's'),
    ("wrapWith", "iss", 's'),
    ("contains", "ss", 'b'),
    ("hasPrefix", "ss", 'b'),
    ("hasSuffix", "ss", 'b'),
    ("splitList", "ss", 'l'),
    ("split", "ss", 'm'),
    ("splitn", "sis", 'm'),
    ("join", "sl", 's'),
    ("sortAlpha", "l", 'l'),
    ("toString", "a", 's'),
    ("toStrings", "l", 'l'),
    ("atoi", "s", 'i'),
    ("int", "a", 'i'),
    ("int64", "a", 'a'),
    ("float64", "a", 'f'),
    ("toDecimal", "a", 'a'),
    ("toJson", "a", 's'),
    ("toPrettyJson", "a", 's'),
    ("toRawJson", "a", 's'),
    ("b64enc", "s", 's'),
    ("b64dec", "s", 's'),
    ("b32enc", "s", 's'),
    ("b32dec", "s", 's'),
    ("sha1sum", "s", 's'),
    ("sha256sum", "s", 's'),
    ("adler32sum", "s", 's'),
    ("regexMatch", "rs", 'b'),
    ("regexFind", "rs", 's'),
    ("regexFindAll", "rsi", 'l'),
    ("regexReplaceAll", "rss", 's'),
    ("regexReplaceAllLiteral", "rss", 's'),
    ("regexSplit", "rsi", 'l'),
    ("regexQuoteMeta", "s", 's'),
    ("add", "a*", 'i'),
    ("add1", "a", 'i'),
    ("sub", "aa", 'i'),
    ("mul", "a*", 'i'),
    ("div", "ai", 'i'),
    ("mod", "ai", 'i'),
    ("max", "aa*", 'i'),
    ("min", "aa*", 'i'),
    ("floor", "a", 'f'),
    ("ceil", "a", 'f'),
    ("round", "ai", 'f'),
    ("addf", "a*", 'f'),
    ("subf", "aa*", 'f'),
    ("mulf", "a*", 'f'),
    ("divf", "aa*", 'f'),
    ("maxf", "aa*", 'f'),
    ("minf", "aa*", 'f'),
    ("until", "i", 'l'),
    ("untilStep", "iii", 'l'),
    ("seq", "i*", 's'),
    ("list", "a*", 'l'),
    ("first", "l", 'a'),
    ("rest", "l", 'l'),
    ("last", "l", 'a'),
    ("initial", "l", 'l'),
    ("append", "la", 'l'),
    ("prepend", "la", 'l'),
    ("concat", "l*", 'l'),
    ("reverse", "l", 'l'),
    ("uniq", "l", 'l'),
    ("without", "la*", 'l'),
    ("has", "al", 'b'),
    ("compact", "l", 'l'),
    ("dict", "sa*", 'm'),
    ("get", "ms", 'a'),
    ("set", "msa", 'm'),
    ("unset", "ms", 'm'),
    ("hasKey", "ms", 'b'),
    // keys and values follow Go's random map order: sorted, or not at all.
    ("sortAlpha", "l", 'l'),
    ("pluck", "sm", 'l'),
    ("merge", "mm", 'm'),
    ("mergeOverwrite", "mm", 'm'),
    ("deepCopy", "a", 'a'),
    ("dig", "ssam", 'a'),
    ("default", "aa", 'a'),
    ("empty", "a", 'b'),
    ("coalesce", "a*", 'a'),
    ("ternary", "aab", 'a'),
    ("typeOf", "a", 's'),
    ("kindOf", "a", 's'),
    ("typeIs", "sa", 'b'),
    ("kindIs", "sa", 'b'),
    ("deepEqual", "aa", 'b'),
    ("semverCompare", "ss", 'b'),
    ("eq", "aa", 'b'),
    ("ne", "aa", 'b'),
    ("lt", "aa", 'b'),
    ("le", "ii", 'b'),
    ("gt", "ss", 'b'),
    ("ge", "aa", 'b'),
    ("and", "aa*", 'a'),
    ("or", "aa*", 'a'),
    ("not", "a", 'b'),
    ("len", "a", 'i'),
    ("index", "la*", 'a'),
    ("slice", "la*", 'a'),
    ("print", "a*", 's'),
    ("printf", "pa*", 's'),
    ("println", "a*", 's'),
    ("html", "a*", 's'),
    ("js", "a*", 's'),
    ("urlquery", "a*", 's'),
];

/// Data keys that always hold a value of one type (typed expressions use
/// them), and keys that hold anything.
const TYPED_KEYS: &[(&str, char)] = &[("str", 's'), ("list", 'l'), ("map", 'm'), ("flag", 'b')];

const STRINGS: &[&str] = &[
    "",
    "a",
    "Hello World",
    "héllo wörld",
    "ßtraße",
    "  padded  ",
    "a,b,,c",
    "1",
    "-2",
    "1.5",
    "1e3",
    "0x1F",
    "true",
    "null",
    "~",
    "a-b_c d",
    "CamelCase",
    "snake_case_here",
    "line1\\nline2",
    "tab\\there",
    "quote\\\"d",
    "back\\\\slash",
    "<b>&amp;</b>",
    "漢字かな",
    "🙂 emoji",
    "//4AAUJaaA==",
    "aGVsbG8=",
    "NBSWY3DP",
    "1.2.3",
    ">=1.0.0 <2.0.0",
    "v1.22.3-rc.1+build",
    "$1-${1}",
    "ab",
    "x",
];

const REGEXES: &[&str] = &[
    "a",
    "[a-z]+",
    "^[\\\\w-\\\\.]+$",
    "\\\\d+",
    "(\\\\w+)\\\\s(\\\\w+)",
    "[[:upper:]]",
    "(?i)hello",
    "l+",
    "^$",
    "",
    ".",
    "[",
    "(a|b)*",
    "\\\\bW",
    "[^a-z]",
    "é|ö",
    "x{2,}",
    "a{,2}",
    "\\\\pL+",
    "(?P<first>\\\\w)",
];

const FORMATS: &[&str] = &[
    "%v",
    "%s",
    "%d",
    "%q",
    "%x",
    "%X",
    "%5.2f",
    "%-5s|",
    "%T",
    "%%",
    "%#v",
    "%+v",
    "%e",
    "%g",
    "%08.3f",
    "%c",
    "%U",
    "%t",
    "%o",
    "%b",
    "%v %v",
    "%[2]v %[1]v",
    "%!",
    "%s-%d",
    "%6.3v",
    "%x %X",
    "% x",
    "%+d",
    "%.2s",
    "%10q",
];

const KEYS: &[&str] = &[
    "a", "b", "name", "list", "n", "f", "s", "m", "e", "t", "nil", "x",
];

/// Random JSON data for one case.
fn data(rng: &mut Rng, depth: usize) -> serde_json::Value {
    use serde_json::Value as J;
    let choice = if depth > 2 {
        rng.below(6)
    } else {
        rng.below(9)
    };
    match choice {
        0 => J::Null,
        1 => J::Bool(rng.chance(50)),
        2 => J::from(rng.range(-5, 1_000_001)),
        3 => serde_json::Number::from_f64(*rng.pick(&[0.5, 1.5, -2.25, 1e6, 3.0, 0.1, 1e21]))
            .map_or(J::Null, J::Number),
        4 | 5 => {
            let text: &&str = rng.pick(STRINGS);
            J::String(unescape(text))
        }
        6 | 7 => {
            let mut m = serde_json::Map::new();
            for _ in 0..rng.below(5) {
                m.insert(rng.pick(KEYS).to_string(), data(rng, depth + 1));
            }
            J::Object(m)
        }
        _ => J::Array((0..rng.below(5)).map(|_| data(rng, depth + 1)).collect()),
    }
}

/// The text a Go string literal in this file's pools stands for.
fn unescape(s: &str) -> String {
    s.replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\\"", "\"")
        .replace("\\\\", "\\")
}

pub(super) struct Gen<'r> {
    rng: &'r mut Rng,
    /// Where the data is (`.` for a template, `.Values.` for a chart).
    root: &'static str,
    /// No wild arguments (charts: one failing pipeline fails the chart).
    tame: bool,
    /// Variables in scope, with their types.
    vars: Vec<(String, char)>,
    defines: Vec<String>,
    depth: usize,
}

impl Gen<'_> {
    /// An expression of type `t` (most of the time: a tenth are anything,
    /// so that errors are fuzzed too).
    fn expr(&mut self, t: char) -> String {
        if !self.tame && self.rng.chance(8) {
            return self.wild();
        }
        let nest = self.depth < 3 && self.rng.chance(35);
        if nest {
            self.depth += 1;
            let p = self.typed_pipeline(t);
            self.depth -= 1;
            return format!("({p})");
        }
        if let Some((v, _)) = self
            .vars
            .iter()
            .filter(|(_, vt)| *vt == t || t == 'a')
            .nth(self.rng.below(4))
        {
            return v.clone();
        }
        self.literal(t)
    }

    fn literal(&mut self, t: char) -> String {
        let r = &mut *self.rng;
        match t {
            'i' => r.range(-2, 12).to_string(),
            'f' => r.pick(&["0.5", "1.5", "-2.25", "3.0", "1e3"]).to_string(),
            'b' if r.chance(30) => format!("{}flag", self.root),
            'b' => r.pick(&["true", "false"]).to_string(),
            'r' => format!("\"{}\"", r.pick(REGEXES)),
            'p' => format!("\"{}\"", r.pick(FORMATS)),
            's' if r.chance(20) => format!("{}str", self.root),
            's' => format!("\"{}\"", r.pick(STRINGS)),
            'l' if r.chance(50) => format!("{}list", self.root),
            'l' => "(list 1 \"b\" 2.5 nil)".to_string(),
            'm' if r.chance(50) => format!("{}map", self.root),
            'm' => "(dict \"k\" 1 \"b\" (list 2))".to_string(),
            _ => {
                let t = *r.pick(&['s', 'i', 'f', 'b', 'l', 'm']);
                if r.chance(30) {
                    return self.field();
                }
                self.literal(t)
            }
        }
    }

    /// Anything: a field of random data, a literal of a random type, nil.
    fn wild(&mut self) -> String {
        match self.rng.below(5) {
            0 => self.field(),
            1 => self
                .rng
                .pick(&["nil", "$", ".", "'a'", "0x10", "1e2"])
                .to_string(),
            _ => {
                let t = *self.rng.pick(&['s', 'i', 'f', 'b', 'l', 'm']);
                self.literal(t)
            }
        }
    }

    fn field(&mut self) -> String {
        let mut f = self.root.trim_end_matches('.').to_string();
        for _ in 0..1 + self.rng.below(2) {
            f.push('.');
            let key: &&str = self.rng.pick(KEYS);
            f.push_str(key);
        }
        f
    }

    /// A call of a function whose result is `t` (any function for `a`),
    /// with arguments of its parameter types; `piped` leaves the last
    /// argument out (a pipeline supplies it).
    fn call(&mut self, t: char, piped: bool) -> String {
        let candidates: Vec<&(&str, &str, char)> = FUNCS
            .iter()
            .filter(|(_, _, r)| t == 'a' || *r == t || (*r == 'a' && self.rng.chance(30)))
            .collect();
        let Some(&&(name, params, _)) = candidates.get(self.rng.below(candidates.len())) else {
            return self.literal(t);
        };
        let mut kinds: Vec<char> = Vec::new();
        let chars: Vec<char> = params.chars().collect();
        for (k, c) in chars.iter().enumerate() {
            if *c == '*' {
                let rep = chars[k - 1];
                for _ in 0..self.rng.below(4) {
                    kinds.push(rep);
                }
            } else {
                kinds.push(*c);
            }
        }
        if piped {
            kinds.pop();
        }
        let mut out = name.to_string();
        for k in kinds {
            out.push(' ');
            out.push_str(&self.expr(k));
        }
        out
    }

    /// A pipeline whose value is `t`.
    fn typed_pipeline(&mut self, t: char) -> String {
        if self.rng.chance(30) {
            // value | f args (the value is f's last argument).
            let ft = *self.rng.pick(&['s', 'i', 'l', 'm', 'a']);
            let first = self.expr(ft);
            let cmd = self.call(t, true);
            return format!("{first} | {cmd}");
        }
        self.call(t, false)
    }

    fn action(&mut self) -> String {
        let (l, r) = match self.rng.below(6) {
            0 => ("{{- ", " -}}"),
            1 => ("{{- ", " }}"),
            _ => ("{{ ", " }}"),
        };
        let t = *self.rng.pick(&['s', 's', 'i', 'f', 'b', 'l', 'm', 'a']);
        format!("{l}{}{r}", self.typed_pipeline(t))
    }

    fn text(&mut self) -> String {
        self.rng
            .pick(&["", " ", "x", " | ", "\n", "  é  ", "-"])
            .to_string()
    }

    /// A block body: the variables it declares go out of scope at its end.
    fn scoped(&mut self) -> String {
        let mark = self.vars.len();
        let b = self.body();
        self.vars.truncate(mark);
        b
    }

    fn node(&mut self) -> String {
        if self.depth > 2 {
            return self.action();
        }
        self.depth += 1;
        let out = match self.rng.below(12) {
            0 => {
                let c = self.typed_pipeline('b');
                let (a, b) = (self.scoped(), self.scoped());
                if self.rng.chance(50) {
                    format!("{{{{ if {c} }}}}{a}{{{{ else }}}}{b}{{{{ end }}}}")
                } else {
                    let c2 = self.typed_pipeline('a');
                    format!("{{{{ if {c} }}}}{a}{{{{ else if {c2} }}}}{b}{{{{ end }}}}")
                }
            }
            1 => {
                let over = *self.rng.pick(&['l', 'm', 'i']);
                let c = self.typed_pipeline(over);
                let mark = self.vars.len();
                let v = format!("$v{mark}");
                let i = format!("$i{mark}");
                self.vars.push((v.clone(), 'a'));
                self.vars
                    .push((i.clone(), if over == 'm' { 's' } else { 'i' }));
                let mut b = self.body();
                if self.rng.chance(15) {
                    let stop: &&str = self.rng.pick(&["{{ break }}", "{{ continue }}"]);
                    b.push_str(stop);
                }
                self.vars.truncate(mark);
                let e = if self.rng.chance(30) {
                    format!("{{{{ else }}}}{}", self.scoped())
                } else {
                    String::new()
                };
                format!("{{{{ range {i}, {v} := {c} }}}}{b}{e}{{{{ end }}}}")
            }
            2 => {
                let c = self.typed_pipeline('a');
                let b = self.scoped();
                format!("{{{{ with {c} }}}}{b}{{{{ end }}}}")
            }
            3 => {
                let t = *self.rng.pick(&['s', 'i', 'l', 'm', 'b']);
                let v = format!("$x{}", self.vars.len());
                let p = self.typed_pipeline(t);
                self.vars.push((v.clone(), t));
                format!("{{{{ {v} := {p} }}}}")
            }
            4 if !self.defines.is_empty() => {
                let name = self.rng.pick(&self.defines.clone()).clone();
                let arg = self.expr('a');
                format!("{{{{ template \"{name}\" {arg} }}}}")
            }
            5 => format!("{{{{/* comment */}}}}{}", self.text()),
            _ => self.action(),
        };
        self.depth -= 1;
        out
    }

    fn body(&mut self) -> String {
        let mut out = String::new();
        for _ in 0..1 + self.rng.below(3) {
            out.push_str(&self.text());
            out.push_str(&self.node());
        }
        out
    }

    fn template(&mut self) -> String {
        let mut out = String::new();
        if self.rng.chance(20) {
            let name = format!("d{}", self.rng.below(3));
            let saved = std::mem::take(&mut self.vars);
            let body = self.body();
            self.vars = saved;
            let _ = write!(out, "{{{{ define \"{name}\" }}}}{body}{{{{ end }}}}");
            self.defines.push(name);
        }
        out.push_str(&self.body());
        out
    }
}

impl<'r> Gen<'r> {
    /// A generator of chart expressions over `.Values`.
    pub(super) fn for_values(rng: &'r mut Rng) -> Self {
        Gen {
            rng,
            root: ".Values.",
            tame: true,
            vars: Vec::new(),
            defines: Vec::new(),
            depth: 0,
        }
    }

    /// A pipeline of type `t` (`s`, `i`, `l`, `m`, `b`, `a`).
    pub(super) fn pipeline_of(&mut self, t: char) -> String {
        self.typed_pipeline(t)
    }
}

/// Random data (JSON) for a template or a chart's values: random keys of
/// any shape, and keys of one type each that typed expressions use.
pub(super) fn random_data(rng: &mut Rng) -> serde_json::Map<String, serde_json::Value> {
    let mut data = serde_json::Map::new();
    for k in KEYS {
        if rng.chance(70) {
            data.insert((*k).to_string(), self::data(rng, 0));
        }
    }
    for (k, t) in TYPED_KEYS {
        let v = loop {
            let v = self::data(rng, 1);
            let ok = match t {
                's' => v.is_string(),
                'l' => v.is_array(),
                'm' => v.is_object(),
                _ => v.is_boolean(),
            };
            if ok {
                break v;
            }
        };
        data.insert((*k).to_string(), v);
    }
    data
}

/// One case: a template on one line and its data.
fn case(seed: u64, i: usize) -> (String, serde_json::Value) {
    let mut rng = Rng::fork(seed, i);
    let data = random_data(&mut rng);
    let mut g = Gen {
        rng: &mut rng,
        root: ".",
        tame: false,
        vars: Vec::new(),
        defines: Vec::new(),
        depth: 0,
    };
    // A template is one corpus line: line breaks in text become spaces
    // (string literals keep their `\n` escapes).
    let t = g.template().replace('\n', " ");
    (t, serde_json::Value::Object(data))
}

fn ours(template: &str, data: &serde_json::Value) -> Result<String, String> {
    let mut t = Template::new("t", sprig::functions());
    t.parse("t", template).map_err(|e| e.0)?;
    t.execute("t", &Value::from_json(data)).map_err(|e| e.0)
}

/// Go's results for these cases (one oracle run).
fn theirs(cases: &[(String, serde_json::Value)]) -> Result<Vec<Result<String, String>>, String> {
    let oracle = flux_testenv::tool("gotemplate-oracle").map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("cases.txt");
    let mut text = String::new();
    for (t, d) in cases {
        let _ = writeln!(text, "@data {d}\n{t}");
    }
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    // Go has no limits: a template may run for ever (or until memory runs
    // out). Past the deadline the batch is killed and split like a crash.
    let stdout_path = dir.path().join("out.jsonl");
    let stdout = std::fs::File::create(&stdout_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(&oracle)
        .arg("corpus")
        .arg(&file)
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {}: {e}", oracle.display()))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("gotemplate-oracle ran past its deadline".to_string());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let out = std::process::Output {
        status,
        stdout: std::fs::read(&stdout_path).map_err(|e| e.to_string())?,
        stderr: child
            .stderr
            .take()
            .map(|mut e| {
                let mut buf = Vec::new();
                let _ = std::io::Read::read_to_end(&mut e, &mut buf);
                buf
            })
            .unwrap_or_default(),
    };
    if !out.status.success() {
        return Err(format!(
            "gotemplate-oracle failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut results = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let r: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let text = |k: &str| {
            r.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        results.push(match (text("output"), text("error")) {
            (Some(o), _) => Ok(o),
            (None, Some(e)) => Err(e),
            (None, None) => Err(format!("no result for {line}")),
        });
    }
    if results.len() != cases.len() {
        return Err(format!(
            "the oracle answered {} of {} cases",
            results.len(),
            cases.len()
        ));
    }
    Ok(results)
}

/// Go's results, a crashed oracle run split in halves until the case that
/// crashes Go is found (`None`: Go died on it, e.g. printing a map that
/// holds itself, which Go cannot survive).
fn theirs_isolating(
    cases: &[(String, serde_json::Value)],
) -> Result<Vec<Option<Result<String, String>>>, String> {
    match theirs(cases) {
        Ok(results) => Ok(results.into_iter().map(Some).collect()),
        Err(_) if cases.len() == 1 => Ok(vec![None]),
        Err(_) => {
            let (a, b) = cases.split_at(cases.len() / 2);
            let mut out = theirs_isolating(a)?;
            out.extend(theirs_isolating(b)?);
            Ok(out)
        }
    }
}

/// The hermetic functions only (the oracle's sprig has the same), and
/// outputs Go writes as JSON text (invalid UTF-8 is U+FFFD on both sides).
pub fn run(cases: usize, seed: u64) -> Result<Vec<Difference>, String> {
    let mut differences = Vec::new();
    let mut skipped = 0usize;
    let batch = 2_000;
    let mut start = 0;
    while start < cases {
        let end = (start + batch).min(cases);
        let generated: Vec<(String, serde_json::Value)> =
            (start..end).map(|i| case(seed, i)).collect();
        let go = theirs_isolating(&generated)?;
        let show = std::env::var_os("FUZZ_DIFF_SHOW").is_some();
        for (k, ((t, d), want)) in generated.iter().zip(go).enumerate() {
            // A case Go itself could not run (a fatal stack overflow on a
            // self-referential map): not comparable.
            let Some(want) = want else {
                skipped += 1;
                continue;
            };
            let got = ours(t, d);
            if show {
                println!("{}: {t}\n  data: {d}\n  go: {want:?}", start + k);
            }
            if got != want {
                // Shrinking asks the oracle again and again: the first
                // differences only.
                differences.push(if differences.len() < 20 {
                    shrunk(start + k, t, d, want, got)
                } else {
                    report(start + k, t, d, &want, &got)
                });
            }
        }
        start = end;
    }
    if skipped > 0 {
        println!(
            "{skipped} case(s) Go could not run (a fatal crash or past the deadline): not compared"
        );
    }
    Ok(differences)
}

/// Shrinks a differing template by dropping `{{ … }}` actions while the
/// difference stays, then reports it.
fn shrunk(
    case: usize,
    template: &str,
    data: &serde_json::Value,
    want: Result<String, String>,
    got: Result<String, String>,
) -> Difference {
    let mut t = template.to_string();
    let mut budget = 60;
    'outer: while budget > 0 {
        let spans = action_spans(&t);
        for (a, b) in spans {
            budget -= 1;
            if budget == 0 {
                break 'outer;
            }
            let candidate = format!("{}{}", &t[..a], &t[b..]);
            let single = [(candidate.clone(), data.clone())];
            if let Ok(go) = theirs(&single)
                && let Some(go) = go.into_iter().next()
                && go != ours(&candidate, data)
            {
                t = candidate;
                continue 'outer;
            }
        }
        break;
    }
    let (want, got) = match theirs(&[(t.clone(), data.clone())]) {
        Ok(mut go) => (go.pop().unwrap_or(want), ours(&t, data)),
        Err(_) => (want, got),
    };
    report(case, &t, data, &want, &got)
}

fn report(
    case: usize,
    t: &str,
    data: &serde_json::Value,
    want: &Result<String, String>,
    got: &Result<String, String>,
) -> Difference {
    let show = |r: &Result<String, String>| match r {
        Ok(o) => format!("output: {o}"),
        Err(e) => format!("error: {e}"),
    };
    Difference {
        case,
        files: vec![(
            "case.txt".to_string(),
            format!("@data {data}\n{t}\n").into_bytes(),
        )],
        theirs: show(want),
        ours: show(got),
    }
}

/// The byte ranges of the top-level `{{ … }}` actions of `t`.
fn action_spans(t: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(a) = t[i..].find("{{") {
        let a = i + a;
        let Some(b) = t[a..].find("}}") else { break };
        let b = a + b + 2;
        out.push((a, b));
        i = b;
    }
    out
}

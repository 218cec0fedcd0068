//! Mutation fuzzing on stable Rust: every corpus template, mutated many
//! times (cuts, duplications, splices, hostile tokens), must parse and
//! execute to a result or an error — never a panic, never a hang (step,
//! output and stack limits). Inputs that once broke the engine are kept in
//! `tests/fuzz-regressions/` (also found by `cargo fuzz`, see `fuzz/`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use std::collections::HashMap;
use std::path::Path;

use flux_gotemplate::{Func, Template, Value, sprig};

/// sprig without the functions that are slow by design (key generation,
/// scrypt, bcrypt) or reach the network: they are not what is fuzzed.
fn funcs() -> HashMap<String, Func> {
    let mut f = sprig::functions();
    for slow in [
        "genPrivateKey",
        "genCA",
        "genCAWithKey",
        "genSelfSignedCert",
        "genSelfSignedCertWithKey",
        "genSignedCert",
        "genSignedCertWithKey",
        "derivePassword",
        "bcrypt",
        "htpasswd",
        "getHostByName",
    ] {
        f.remove(slow);
    }
    f
}

/// Runs one input on a 2 MiB thread: `None` when the engine panicked (a
/// stack overflow aborts the whole test, which fails it too).
fn run(text: String, data: &Value) -> Option<Result<String, String>> {
    let json = serde_json::to_string(&value_json(data)).unwrap();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let data = Value::from_json(&serde_json::from_str(&json).unwrap());
            let mut t = Template::new("t", funcs());
            t.max_steps = 200_000;
            t.max_output = 1 << 20;
            t.parse("t", &text).map_err(|e| e.0)?;
            t.execute("t", &data).map_err(|e| e.0)
        })
        .unwrap()
        .join()
        .ok()
}

fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Map(m) => serde_json::Value::Object(
            m.borrow()
                .entries
                .iter()
                .map(|(k, v)| (k.clone(), value_json(v)))
                .collect(),
        ),
        Value::List(l) => serde_json::Value::Array(l.items.iter().map(value_json).collect()),
        Value::Str(s) => serde_json::Value::String(s.to_string()),
        Value::Float(f) => serde_json::json!(f),
        Value::Bool(b) => serde_json::Value::Bool(*b),
        _ => serde_json::Value::Null,
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    "(",
    ")",
    "|",
    "$",
    "$x",
    ":=",
    "=",
    ",",
    ".",
    "..",
    ".a.b",
    "\"",
    "`",
    "'",
    "'\\n'",
    "nil",
    "true",
    "1e400",
    "0x",
    "-9223372036854775808",
    "99999999999999999999",
    "range",
    "end",
    "else",
    "if",
    "with",
    "break",
    "continue",
    "define \"d\"",
    "template \"d\" .",
    "block \"b\" .",
    "/*",
    "*/",
    "{{/* c */}}",
    "printf \"%v %[3]*.*f\"",
    "index",
    "slice",
    "dict",
    "list",
    "set",
    "merge",
    "until 100000",
    "repeat 100000",
    "tpl",
    "include",
    "\u{1F600}",
    "\0",
    "\r\n",
    "{{ . }}",
];

fn mutate(rng: &mut Rng, s: &str, other: &str) -> String {
    let mut b: Vec<u8> = s.as_bytes().to_vec();
    for _ in 0..=rng.below(3) {
        match rng.below(6) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                let j = (i + rng.below(8) + 1).min(b.len());
                b.drain(i..j);
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                let j = (i + rng.below(16) + 1).min(b.len());
                let chunk = b[i..j].to_vec();
                let at = rng.below(b.len() + 1);
                b.splice(at..at, chunk);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let at = rng.below(b.len() + 1);
                b.splice(at..at, t.iter().copied());
            }
            3 => {
                let o = other.as_bytes();
                let at = rng.below(b.len() + 1);
                let from = rng.below(o.len() + 1);
                b.truncate(at);
                b.extend_from_slice(&o[from..]);
            }
            4 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = (rng.next() & 0x7f) as u8;
            }
            _ => b.truncate(rng.below(b.len() + 1)),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn mutated_templates_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let expected = std::fs::read_to_string(dir.join("expected.jsonl")).unwrap();
    let cases: Vec<(String, Value)> = expected
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|c| {
            !c["template"].as_str().unwrap_or("").contains("gen")
                && !c["template"]
                    .as_str()
                    .unwrap_or("")
                    .contains("derivePassword")
        })
        .map(|c| {
            (
                c["template"].as_str().unwrap().to_string(),
                Value::from_json(&c["data"]),
            )
        })
        .collect();
    let iterations: usize = std::env::var("FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut err) = (0, 0);
    for i in 0..iterations {
        let (a, data) = &cases[rng.below(cases.len())];
        let (b, _) = &cases[rng.below(cases.len())];
        let input = mutate(&mut rng, a, b);
        match run(input.clone(), data) {
            Some(Ok(_)) => ok += 1,
            Some(Err(_)) => err += 1,
            None => panic!("iteration {i}: the engine panicked on {input:?}"),
        }
    }
    println!(
        "fuzz: {iterations} mutated templates, {ok} rendered, {err} refused with an error, 0 panics"
    );
}

#[test]
fn kept_regressions_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let data = Value::from_json(
            &serde_json::json!({"a": "x", "n": 3, "l": [1, "b"], "m": {"k": "v"}}),
        );
        assert!(
            run(text, &data).is_some(),
            "{}: the engine panicked",
            path.display()
        );
        n += 1;
    }
    assert!(n > 0, "no regression inputs in {}", dir.display());
}

//! Differential corpus: every case of `tests/corpus/*.txt` executed by us
//! must give exactly what Go's text/template + sprig gave
//! (`tests/corpus/expected.jsonl`, written only by
//! `cargo run -p flux-dev -- corpus gotemplate` running `tools/gotemplate-oracle`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use std::path::Path;

use flux_gotemplate::{MissingKey, Template, Value, sprig};

#[derive(serde::Deserialize)]
struct Case {
    file: String,
    line: usize,
    template: String,
    data: serde_json::Value,
    #[serde(default)]
    missingkey: String,
    #[serde(default)]
    delims: Vec<String>,
    #[serde(default)]
    nosprig: bool,
    output: Option<String>,
    error: Option<String>,
}

fn run(c: &Case) -> Result<String, String> {
    let funcs = if c.nosprig {
        Default::default()
    } else {
        sprig::functions()
    };
    let mut t = Template::new("t", funcs);
    match c.missingkey.as_str() {
        "zero" => {
            t.missing_key(MissingKey::Zero);
        }
        "error" => {
            t.missing_key(MissingKey::Error);
        }
        _ => {}
    }
    if c.delims.len() == 2 {
        t.delims(&c.delims[0], &c.delims[1]);
    }
    t.parse("t", &c.template).map_err(|e| e.0)?;
    t.execute("t", &Value::from_json(&c.data)).map_err(|e| e.0)
}

/// The case files' templates, in order, as the oracle reads them.
fn case_templates(dir: &Path) -> Vec<(String, usize, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let lines: Vec<&str> = text.split('\n').collect();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            let start = i + 1;
            if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
                i += 1;
                continue;
            }
            let mut tpl = line.to_string();
            if line == "<<<" {
                let mut body = Vec::new();
                i += 1;
                while i < lines.len() && lines[i] != ">>>" {
                    body.push(lines[i]);
                    i += 1;
                }
                tpl = body.join("\n");
            }
            out.push((name.clone(), start, tpl));
            i += 1;
        }
    }
    out
}

/// On a thread with a render thread's stack (Helm renders on one): a
/// template that nests a map in itself recurses a thousand levels before
/// Go's JSON encoder gives up, which a test thread's 2 MiB does not hold
/// in a debug build.
#[test]
fn corpus_matches_go() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(corpus_cases)
        .unwrap()
        .join()
        .unwrap();
}

fn corpus_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let expected = std::fs::read_to_string(dir.join("expected.jsonl"))
        .expect("tests/corpus/expected.jsonl (cargo run -p flux-dev -- corpus gotemplate)");
    let cases: Vec<Case> = expected
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The expected file must be regenerated whenever a case changes.
    let sources = case_templates(&dir);
    let keys: Vec<(String, usize, String)> = cases
        .iter()
        .map(|c| (c.file.clone(), c.line, c.template.clone()))
        .collect();
    assert_eq!(
        sources, keys,
        "tests/corpus/expected.jsonl is stale: run cargo run -p flux-dev -- corpus gotemplate"
    );
    let mut failed = Vec::new();
    for c in &cases {
        let got = run(c);
        let want = match (&c.output, &c.error) {
            (Some(o), _) => Ok(o.clone()),
            (None, Some(e)) => Err(e.clone()),
            _ => panic!("{}:{}: neither output nor error", c.file, c.line),
        };
        if got != want {
            failed.push(format!(
                "{}:{}: {}\n    go:   {:?}\n    ours: {:?}",
                c.file, c.line, c.template, want, got
            ));
        }
    }
    let total = cases.len();
    let ok = total - failed.len();
    println!(
        "gotemplate corpus: {ok}/{total} identical to Go ({:.1}%)",
        100.0 * ok as f64 / total as f64
    );
    for f in &failed {
        println!("{f}");
    }
    assert!(
        total >= 600,
        "the corpus must hold at least 600 cases, has {total}"
    );
    assert!(
        failed.is_empty(),
        "{} of {total} cases differ from Go",
        failed.len()
    );
}

/// Every sprig function Go has exists here with the same Go signature
/// (so argument conversion and its errors are Go's).
#[test]
fn signatures_match_go() {
    let oracle = flux_testenv::tool("gotemplate-oracle").expect("run scripts/install-deps.sh");
    let out = std::process::Command::new(oracle)
        .arg("signatures")
        .output()
        .unwrap();
    assert!(out.status.success());
    let ours = sprig::functions();
    let mut diffs = Vec::new();
    let go = String::from_utf8(out.stdout).unwrap();
    for line in go.lines() {
        let (name, sig) = line.split_once('\t').unwrap();
        match ours.get(name) {
            None => diffs.push(format!("{name}: missing (Go: {sig})")),
            Some(f) if f.signature() != sig => {
                diffs.push(format!("{name}: ours {:?}, Go {sig:?}", f.signature()))
            }
            Some(_) => {}
        }
    }
    for name in ours.keys() {
        if !go
            .lines()
            .any(|l| l.split('\t').next() == Some(name.as_str()))
        {
            diffs.push(format!("{name}: not a sprig function"));
        }
    }
    diffs.sort();
    assert!(
        diffs.is_empty(),
        "{} signature differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

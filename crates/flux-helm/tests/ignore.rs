//! Differential test: `.helmignore` rule sets against paths, answered by us
//! and by Helm's own `pkg/ignore` (`tools/helm-oracle ignore`), including
//! Helm's negation behaviour and Go's `filepath.Match` syntax errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use flux_helm::ignore::Rules;

const RULE_SETS: &[&str] = &[
    "",
    "# only a comment\n\n",
    "*.txt",
    "*.txt\n!keep.txt",
    "!keep.txt",
    "/root.md",
    "docs/",
    "docs",
    "!docs/",
    "templates/tests/*",
    "templates/*.tpl",
    "[a-c]?.yaml",
    "[^a-c]*.yaml",
    "[!a]*",
    "\\*.md",
    "file\\?",
    "*",
    "*/",
    "?",
    "*.y?ml\n.git/\n.DS_Store\n*.swp\n*.bak\n*.tmp\n*.orig\n*~\n.project\n.idea/\n*.tmproj\n.vscode/",
    "a/*/c",
    "a*b*c",
    "*a*",
    "é*",
    "[é-ü]x",
    "  spaced.txt  ",
    "\u{FEFF}bom.txt",
    "with\r\ncrlf.txt\r\n",
    "a**b",
    "[",
    "[]",
    "[a-]",
    "\\",
    "x[",
    "ok.txt\nbad[",
    "[z-a]",
    "[\\]]",
];

const PATHS: &[(&str, bool)] = &[
    ("a.txt", false),
    ("keep.txt", false),
    ("sub/a.txt", false),
    ("root.md", false),
    ("sub/root.md", false),
    ("docs", true),
    ("docs", false),
    ("sub/docs", true),
    ("templates/tests/t.yaml", false),
    ("templates/tests", true),
    ("templates/_helpers.tpl", false),
    ("templates/sub/x.tpl", false),
    ("a1.yaml", false),
    ("d1.yaml", false),
    ("ab.yaml", false),
    ("*.md", false),
    ("x.md", false),
    ("file?", false),
    ("fileX", false),
    ("values.yaml", false),
    ("Chart.yaml", false),
    ("charts/sub/values.yml", false),
    (".git", true),
    (".DS_Store", false),
    ("x.swp", false),
    ("a/b/c", false),
    ("a/b/d/c", false),
    ("aXbYc", false),
    ("abc", false),
    ("élan", false),
    ("ðx", false),
    ("spaced.txt", false),
    ("bom.txt", false),
    ("crlf.txt", false),
    ("templates/.hidden", false),
    ("templates/.", false),
    ("]", false),
    ("", false),
    (".", true),
];

#[test]
fn helmignore_matches_helm() {
    let mut requests = Vec::new();
    for rules in RULE_SETS {
        for defaults in [false, true] {
            requests.push((rules, defaults, serde_json::json!({"rules": rules, "defaults": defaults, "paths": PATHS.iter().map(|(p, d)| serde_json::json!([p, d])).collect::<Vec<_>>()}).to_string()));
        }
    }
    let lines: Vec<String> = requests.iter().map(|(_, _, r)| r.clone()).collect();
    let go =
        flux_testenv::oracle_lines("helm-oracle", &["ignore"], &lines).expect("helm-oracle ignore");
    assert_eq!(go.len(), requests.len());
    let (mut total, mut diffs) = (0, Vec::new());
    for ((rules, defaults, _), want) in requests.iter().zip(&go) {
        let ours = match Rules::parse(rules) {
            Err(e) => format!("ERR {e}"),
            Ok(mut r) => {
                if *defaults {
                    r.add_defaults();
                }
                PATHS
                    .iter()
                    .map(|(p, d)| r.ignore(p, *d).to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        total += if want.starts_with("ERR") {
            1
        } else {
            PATHS.len()
        };
        if &ours != want {
            diffs.push(format!(
                "rules {rules:?} defaults {defaults}\n    helm: {want}\n    ours: {ours}"
            ));
        }
    }
    println!(
        "helmignore: {} rule sets × {} paths ({total} answers), {} rule sets differ",
        requests.len(),
        PATHS.len(),
        diffs.len()
    );
    for d in &diffs {
        println!("{d}");
    }
    assert!(diffs.is_empty());
}

//! Differential test: every constraint × version pair of a corpus, checked
//! by us and by the real Masterminds/semver (`tools/semver-oracle`, built by
//! `scripts/install-deps.sh`). The oracle's answers are the expected ones.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use std::io::Write;
use std::process::{Command, Stdio};

use flux_semver::{Constraints, Version};

const CONSTRAINTS: &[&str] = &[
    "1.2.3",
    "=1.2.3",
    "v1.2.3",
    "!=1.2.3",
    ">1.2.3",
    "<1.2.3",
    ">=1.2.3",
    "<=1.2.3",
    "=>1.2.3",
    "=<1.2.3",
    ">= 1.2.3",
    "> 1.2",
    "< 1.2",
    ">= 1.2",
    "<= 1.2",
    "> 1",
    "< 1",
    ">= 1",
    "<= 1",
    "~1.2.3",
    "~1.2",
    "~1",
    "~>1.2.3",
    "~0",
    "~0.0",
    "~0.0.1",
    "~1.2.x",
    "~1.x",
    "^1.2.3",
    "^1.2",
    "^1",
    "^0.2.3",
    "^0.2",
    "^0.0.3",
    "^0.0",
    "^0",
    "^1.x",
    "^0.x",
    "^0.0.x",
    "1.x",
    "1.2.x",
    "1.2.*",
    "1.*",
    "*",
    "x",
    "X",
    "2.x.x",
    "!=1.x",
    "!=1.2.x",
    ">1.x",
    ">1.2.x",
    "<1.x",
    "<=1.x",
    "<=1.2.x",
    ">=1.x",
    "1.2 - 1.4.5",
    "2.3.4 - 4.5",
    "1.2.3 - 2",
    ">=1.0.0 <2.0.0",
    ">= 1.0.0, < 2.0.0",
    ">=1.0.0,<2.0.0",
    ">= 1.2, < 3.0.0 || >= 4.2.3",
    "<1 || >=2 <3 || ^5",
    ">=1.2.3-0",
    ">=1.2.3-beta",
    "<2.0.0-0",
    "^1.2.3-rc.1",
    "~1.2.3-alpha",
    "1.2.3-beta.2",
    "!=1.2.3-beta",
    ">=1.2.3-alpha.1 <1.2.3",
    "1.x-beta",
    ">=0.0.0",
    ">=0.0.0-0",
    "<0.0.1",
    "^0.0.1-0",
    " >=1.0.0 ",
    ">=1.0.0  <2.0.0",
    "=1.2.3+build",
    ">1.2.3+meta",
    "v1.x",
    "=v2",
    "",
    "1.2.3.4",
    ">=a.b.c",
    "~>",
    "1.2.3 -2.0.0",
    ">=1.0.0 || ",
    "1 - ",
    "||",
    ">==1.0.0",
];

const VERSIONS: &[&str] = &[
    "0.0.0",
    "0.0.1",
    "0.0.3",
    "0.0.4",
    "0.1.0",
    "0.2.0",
    "0.2.3",
    "0.2.9",
    "0.3.0",
    "1.0.0",
    "1.0.0-0",
    "1.0.0-alpha",
    "1.1.0",
    "1.2.0",
    "1.2.2",
    "1.2.3",
    "1.2.3-alpha",
    "1.2.3-alpha.1",
    "1.2.3-beta",
    "1.2.3-beta.2",
    "1.2.3-beta.11",
    "1.2.3-rc.1",
    "1.2.3+build",
    "1.2.4",
    "1.2.4-beta.1",
    "1.2.9",
    "1.3.0",
    "1.4.5",
    "1.4.6",
    "1.9.9",
    "1.99.0",
    "2.0.0",
    "2.0.0-rc.1",
    "2.1.0",
    "2.5.0",
    "3.0.0",
    "4.2.3",
    "4.5.0",
    "4.5.1",
    "5.0.0",
    "5.9.9",
    "6.0.0",
    "v1.2.3",
    "1.2",
    "v2",
    "01.2.3",
    "1.2.3-01",
    "x.y.z",
    "",
];

#[test]
fn constraints_match_masterminds_semver() {
    let oracle = flux_testenv::tool("semver-oracle").expect("run scripts/install-deps.sh");
    let mut pairs = Vec::new();
    for c in CONSTRAINTS {
        for v in VERSIONS {
            pairs.push((*c, *v));
        }
    }
    let input: String = pairs.iter().map(|(c, v)| format!("{c}\t{v}\n")).collect();
    let mut child = Command::new(oracle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let expected: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .collect();
    assert_eq!(expected.len(), pairs.len());

    let mut mismatches = Vec::new();
    for ((c, v), want) in pairs.iter().zip(&expected) {
        let got = match c.parse::<Constraints>() {
            Err(_) => "ERR constraint".to_string(),
            Ok(constraints) => match v.parse::<Version>() {
                Err(_) => "ERR version".to_string(),
                Ok(version) => constraints.check(&version).to_string(),
            },
        };
        if got != *want {
            mismatches.push(format!("{c:?} {v:?}: ours {got}, Masterminds {want}"));
        }
    }
    let total = pairs.len();
    let matched = total - mismatches.len();
    println!(
        "flux-semver vs Masterminds/semver: {matched}/{total} match ({:.2}%)",
        100.0 * matched as f64 / total as f64
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

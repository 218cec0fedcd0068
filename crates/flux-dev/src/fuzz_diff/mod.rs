//! `flux-dev fuzz-diff kustomize|gotemplate|helm --cases N --seed S`:
//! differential fuzzing against the real tools. A seeded generator writes
//! random *valid-looking* inputs from a grammar of what real repositories
//! hold (kustomization trees, Go templates over random values, charts with
//! subcharts); ours and the real tool (`kustomize build`, Go's
//! text/template + sprig through `tools/gotemplate-oracle`, `helm template`)
//! run each; every difference is shrunk (lines removed while the
//! difference stays) and written under `--out` (default
//! `target/fuzz-diff/ENGINE-SEED/`) for replay and for the corpus. The same
//! seed gives the same cases.

mod gotemplate;
mod helm;
mod kustomize;

use std::path::{Path, PathBuf};

pub use flux_testenv::Rng;

/// A case's input files: path → content.
pub type Files = Vec<(String, Vec<u8>)>;

/// One input that the two sides treated differently.
pub struct Difference {
    /// Which case of the run (0-based).
    pub case: usize,
    /// The (shrunk) input, as files: path → content.
    pub files: Vec<(String, Vec<u8>)>,
    /// What the real tool gave.
    pub theirs: String,
    /// What ours gave.
    pub ours: String,
}

/// Runs `cases` cases of `engine` from `seed`; differences are written
/// under `out`. Fails when there is any.
pub fn run(engine: &str, cases: usize, seed: u64, out: Option<PathBuf>) -> Result<(), String> {
    let started = std::time::Instant::now();
    let differences = match engine {
        "gotemplate" => gotemplate::run(cases, seed)?,
        "kustomize" => kustomize::run(cases, seed)?,
        "helm" => helm::run(cases, seed)?,
        other => return Err(format!("no fuzzer for {other}")),
    };
    let out = out.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/fuzz-diff")
            .join(format!("{engine}-{seed}"))
    });
    for d in &differences {
        write_difference(&out, d)?;
    }
    println!(
        "fuzz-diff {engine} --seed {seed}: {cases} cases, {} identical, {} different ({:.1} s)",
        cases - differences.len(),
        differences.len(),
        started.elapsed().as_secs_f64()
    );
    if differences.is_empty() {
        return Ok(());
    }
    for d in differences.iter().take(5) {
        println!("--- case {} ---", d.case);
        for (path, content) in &d.files {
            println!("## {path}\n{}", String::from_utf8_lossy(content));
        }
        println!("## theirs\n{}\n## ours\n{}", clip(&d.theirs), clip(&d.ours));
    }
    Err(format!(
        "{} difference(s); the shrunk inputs are in {} (replay: flux-dev fuzz-diff {engine} --cases {cases} --seed {seed})",
        differences.len(),
        out.display()
    ))
}

fn clip(s: &str) -> &str {
    let mut end = s.len().min(4000);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn write_difference(out: &Path, d: &Difference) -> Result<(), String> {
    let dir = out.join(format!("case-{}", d.case));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, content) in &d.files {
        let full = dir.join("input").join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&full, content).map_err(|e| e.to_string())?;
    }
    std::fs::write(dir.join("theirs.txt"), &d.theirs).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("ours.txt"), &d.ours).map_err(|e| e.to_string())?;
    Ok(())
}

/// Shrinks `files` by removing lines (one at a time, in every file, until
/// no removal keeps `differs` true). `differs` runs both sides.
pub fn shrink(mut files: Files, differs: &mut dyn FnMut(&Files) -> bool) -> Files {
    let mut budget = 400usize;
    loop {
        let mut progressed = false;
        for f in 0..files.len() {
            let mut line = 0;
            loop {
                let lines: Vec<&[u8]> = files[f].1.split_inclusive(|b| *b == b'\n').collect();
                if line >= lines.len() || budget == 0 {
                    break;
                }
                let candidate: Vec<u8> = lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != line)
                    .flat_map(|(_, l)| l.iter().copied())
                    .collect();
                let mut trial = files.clone();
                trial[f].1 = candidate;
                budget -= 1;
                if differs(&trial) {
                    files = trial;
                    progressed = true;
                } else {
                    line += 1;
                }
            }
        }
        if !progressed || budget == 0 {
            return files;
        }
    }
}

/// A real tool's or our result: the output, or why the input was refused.
pub type Outcome = Result<String, String>;

/// Runs both sides on the tree in a folder: the real tool's outcome, ours.
pub type BothSides = dyn Fn(&Path) -> Result<(Outcome, Outcome), String>;

/// Outputs must be identical; a refusal must be a refusal on both sides
/// (the wording is not compared: it names files differently).
pub fn same(theirs: &Outcome, ours: &Outcome) -> bool {
    match (theirs, ours) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

/// The loop of the file-tree fuzzers (kustomize, Helm): each generated
/// tree is written to a scratch folder and given to `both` (the real
/// tool's outcome, then ours); the first `max_shrunk` differences are
/// shrunk.
pub fn run_trees(
    tool: &str,
    cases: usize,
    seed: u64,
    generate: &dyn Fn(u64, usize) -> Files,
    both: &BothSides,
    max_shrunk: usize,
) -> Result<Vec<Difference>, String> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = work.path().join("case");
    let mut differences = Vec::new();
    let mut refused = 0;
    let mut crashed = 0;
    for i in 0..cases {
        let files = generate(seed, i);
        materialize(&dir, &files)?;
        let (theirs, ours) = both(&dir)?;
        // A case the Go tool itself could not run (a fatal stack overflow
        // of its runtime, not an error of the tool) has no reference
        // output: not compared.
        if let Err(e) = &theirs
            && go_crashed(e)
        {
            crashed += 1;
            continue;
        }
        if let Err(e) = &theirs {
            refused += 1;
            if std::env::var_os("FUZZ_DIFF_SHOW").is_some() {
                println!("{i}: refused: {}", e.lines().last().unwrap_or_default());
            }
        }
        if same(&theirs, &ours) {
            continue;
        }
        let mut differs = |trial: &Files| {
            materialize(&dir, trial).is_ok() && both(&dir).is_ok_and(|(t, o)| !same(&t, &o))
        };
        let files = if differences.len() < max_shrunk {
            shrink(files, &mut differs)
        } else {
            files
        };
        let (theirs, ours) = match materialize(&dir, &files).and_then(|()| both(&dir)) {
            Ok(outcomes) => outcomes,
            Err(_) => (theirs, ours),
        };
        let show = |r: Outcome| r.unwrap_or_else(|e| format!("refused: {e}"));
        differences.push(Difference {
            case: i,
            files,
            theirs: show(theirs),
            ours: show(ours),
        });
    }
    println!("{tool} refused {refused} of {cases} inputs (and so did we, unless listed)");
    if crashed > 0 {
        println!(
            "{crashed} case(s) {tool} could not run (a fatal crash of the Go runtime): not compared"
        );
    }
    Ok(differences)
}

/// True when the Go program died of a runtime fatal error rather than
/// answering (its stack overflowed).
fn go_crashed(stderr: &str) -> bool {
    stderr.contains("fatal error: stack overflow") || stderr.contains("goroutine stack exceeds")
}

/// Writes `files` under `dir` (created fresh).
pub fn materialize(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for (path, content) in files {
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&full, content).map_err(|e| e.to_string())?;
    }
    Ok(())
}

//! Mutation fuzzing on stable Rust: the charts of the corpus with one file
//! mutated (Chart.yaml, values, a template, a schema, requirements — cut,
//! duplicated, spliced, hostile tokens inserted) must load and render to a
//! result or an error: never a panic, never a hang.
//! `FLUX_HELM_FUZZ_ITERATIONS` sets the number of mutants (default 1,500).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use std::path::Path;

use flux_helm::{Chart, TemplateOptions};

const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    "{{ include \"x\" . }}",
    "{{ tpl .Values.a . }}",
    "{{ template \"t\" }}",
    "{{ define \"t\" }}{{ template \"t\" }}{{ end }}",
    "---\n",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "&a",
    "*a",
    "<<: *a",
    "!!binary",
    "null",
    "~",
    "yes",
    "\t",
    "\n  ",
    "'",
    "\"",
    "\\",
    "{{ .Values }}",
    "{{ toYaml . }}",
    "{{ fromYaml \"a: [\" }}",
    "{{ required \"r\" .Values.nothing }}",
    "{{ fail \"f\" }}",
    "helm.sh/hook: pre-install",
    "dependencies:\n  - name: x\n",
    "condition: a.b",
    "import-values: [z]",
    "$ref",
    "\"type\": \"integer\"",
    "apiVersion: v1\nkind: List\n",
    "version: ''",
    "type: library",
    "{{ range until 50 }}x{{ end }}",
    "\u{feff}",
    "\u{0}",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut out = s.to_string();
    for _ in 0..=rng.below(3) {
        let a = boundary(&out, rng.below(out.len() + 1));
        let b = boundary(&out, a + rng.below(40));
        match rng.below(4) {
            0 => out.replace_range(a..b, ""),
            1 => {
                let piece = out[a..b].to_string();
                out.insert_str(a, &piece);
            }
            2 => out.insert_str(a, TOKENS[rng.below(TOKENS.len())]),
            _ => {
                let c = boundary(&out, rng.below(out.len() + 1));
                let d = boundary(&out, c + rng.below(40));
                let piece = out[c..d].to_string();
                out.replace_range(a..b, &piece);
            }
        }
    }
    out
}

/// A bundle's files and the arguments of its first run.
type Bundle = (Vec<(String, String)>, Vec<String>);

/// Chart bundles of the corpus.
fn bundles() -> Vec<Bundle> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension().is_some_and(|x| x == "txtar")).then_some(p)
        })
        .collect();
    names.sort();
    let mut out = Vec::new();
    for p in names {
        let text = std::fs::read_to_string(&p).unwrap();
        let mut files: Vec<(String, String)> = Vec::new();
        let mut args = None;
        let mut tgz = false;
        for line in text.split_inclusive('\n') {
            let l = line.trim_end_matches('\n');
            if l.starts_with("-- ") && l.ends_with(" --") && l.len() > 6 {
                files.push((l[3..l.len() - 3].trim().to_string(), String::new()));
            } else if let Some((_, c)) = files.last_mut() {
                c.push_str(line);
            } else if let Some(a) = l.strip_prefix("args:") {
                args.get_or_insert_with(|| {
                    a.split_whitespace().map(str::to_string).collect::<Vec<_>>()
                });
            } else if l.starts_with("tgz:") {
                tgz = true;
            }
        }
        if let (Some(args), false) = (args, tgz)
            && args.len() >= 2
            && !args[2..].iter().any(|a| a.starts_with('-'))
        {
            out.push((files, args));
        }
    }
    out
}

#[test]
fn mutated_charts_end_in_results_or_errors() {
    let iterations: usize = std::env::var("FLUX_HELM_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500);
    let bundles = bundles();
    assert!(bundles.len() > 40, "{} bundles", bundles.len());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut errors) = (0, 0);
    for n in 0..iterations {
        let (files, args) = &bundles[rng.below(bundles.len())];
        let mut files = files.clone();
        let target = rng.below(files.len());
        files[target].1 = mutate(&mut rng, &files[target].1);
        let tmp = tempfile::tempdir().unwrap();
        for (path, content) in &files {
            let full = tmp.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
        let chart_path = tmp.path().join(&args[1]);
        let name = args[0].clone();
        let joined = std::thread::Builder::new()
            .stack_size(flux_helm::RENDER_STACK)
            .spawn(move || {
                let chart = Chart::load(&chart_path).map_err(|e| e.0)?;
                let opts = TemplateOptions {
                    release_name: name,
                    ..TemplateOptions::default()
                };
                let r = flux_helm::render_release(&chart, &opts, &Default::default())
                    .map_err(|e| e.message)?;
                flux_helm::action::template_output(&r, &opts).map_err(|e| e.message)
            })
            .unwrap()
            .join();
        match joined {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(_)) => errors += 1,
            Err(_) => panic!(
                "mutant {n} panicked: {} → {:?}",
                files[target].0, files[target].1
            ),
        }
    }
    println!("helm fuzz: {iterations} mutants, {ok} rendered, {errors} errors, 0 panics");
}

//! `flux-dev`: developer tasks that keep generated files in step with the code.
//!
//! - `flux-dev crds [DIR]` writes one CRD manifest per kind into DIR
//!   (default `manifests/crds`), generated from `flux-api`'s types, and
//!   removes stale ones. The `flux-api` tests fail when the committed files
//!   differ from what this writes.
//! - `flux-dev bench git [FILES] [MEGABYTES]`: a generated repository
//!   (default 20,000 files, 200 MB) served by `git http-backend`; a shallow
//!   checkout with `flux-git` against `git clone --depth 1`, and the
//!   "has the remote moved?" check against `git ls-remote`, each in its own
//!   process under `/usr/bin/time` for wall time and peak memory.
//! - `flux-dev bench yaml [RESOURCES]`: a kustomization of one generated
//!   file of 4,000 resources built by `kustomize build` and by
//!   `flux-kustomize`, wall time, peak memory, identical output.
//! - `flux-dev kustomize build DIR`: `kustomize build DIR` with
//!   `flux-kustomize` (YAML on stdout, the error on stderr, exit 1).
//! - `flux-dev corpus yaml|kustomize|gotemplate|helm [CASE…]`: the one
//!   entry point that rewrites a corpus' expected outputs with the real
//!   tool (`kustomize`, Go's text/template + sprig, `helm` v3 and v4).
//! - `flux-dev bench overlays [N]`: 500 overlays (namespace, labels,
//!   annotations, images, JSON 6902 and strategic-merge patches) over one
//!   base, `kustomize build` against `flux-kustomize`, outputs compared.
//! - `flux-dev bench helm [SUBCHARTS] [TEMPLATES]`: an umbrella chart and a
//!   large chart rendered by flux-helm and by `helm template` (identical
//!   outputs), time and peak memory of each.
//! - `flux-dev bench gotemplate [ITEMS] [ITERATIONS]`: a Helm-like chart
//!   (helper library with deep `include` chains, 2,000 services) rendered
//!   by flux-gotemplate and by Go's text/template + sprig in the same run;
//!   outputs compared, parse and render times and their ratio.
//! - `flux-dev git-checkout URL DIR` / `flux-dev git-remote-commit URL`:
//!   the single operations the benchmark measures.
//! - `flux-dev layering`: checks the crate layering of `shared/DESIGN.md`
//!   on `cargo metadata` (engines reach no Kubernetes client, no tokio, no
//!   controller; controllers depend on no other controller).
//! - `flux-dev up FLEET_DIR ENV_FILE`: the demo's environment (control
//!   plane and a git server serving FLEET_DIR) until Ctrl-C; see
//!   `scripts/demo.sh`.

#![allow(clippy::print_stdout)] // a command-line tool: stdout is its output

/// The allocator of our binaries (see `flux`), so benchmarks measure them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod bench_gotemplate;
mod bench_helm;
mod bench_kustomizations;
mod corpus;
mod layering;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("crds") => write_crds(args.get(1).map(PathBuf::from)),
        Some("layering") => layering::check(),
        Some("bench") if args.get(1).map(String::as_str) == Some("git") => bench::git(
            args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20_000),
            args.get(3).and_then(|a| a.parse().ok()).unwrap_or(200),
        ),
        Some("git-checkout") if args.len() == 3 => bench::checkout(&args[1], &args[2]),
        Some("git-remote-commit") if args.len() == 2 => bench::remote_commit(&args[1]),
        Some("corpus") if args.len() >= 2 => corpus::run(&args[1], &args[2..]),
        Some("kustomize") if args.get(1).map(String::as_str) == Some("build") && args.len() == 3 => {
            kustomize_build(&args[2])
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("yaml") => {
            bench::yaml(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4_000))
        }
        Some("yaml-build") if args.len() == 2 => bench::yaml_build(&args[1]),
        Some("bench") if args.get(1).map(String::as_str) == Some("kustomizations") => {
            bench_kustomizations::kustomizations(
                args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100),
            )
        }
        Some("up") if args.len() == 3 => up::up(
            std::path::Path::new(&args[1]),
            std::path::Path::new(&args[2]),
        ),
        Some("bench") if args.get(1).map(String::as_str) == Some("gotemplate") => {
            bench_gotemplate::gotemplate(
                args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2_000),
                args.get(3).and_then(|a| a.parse().ok()).unwrap_or(20),
            )
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("helm") => bench_helm::helm(
            args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50),
            args.get(3).and_then(|a| a.parse().ok()).unwrap_or(20),
        ),
        Some("helm-template") if args.len() == 3 => bench_helm::helm_template(&args[1], &args[2]),
        Some("bench") if args.get(1).map(String::as_str) == Some("overlays") => {
            bench::overlays(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(500))
        }
        _ => Err(
            "usage: flux-dev crds [DIR] | bench git [FILES] [MEGABYTES] | bench yaml [RESOURCES] | bench overlays [N] | bench kustomizations [N] | bench gotemplate [ITEMS] [ITERATIONS] | corpus yaml|kustomize|gotemplate|helm [CASE...] | layering | yaml-build FILE | kustomize build DIR | up FLEET_DIR ENV_FILE"
                .to_string(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("flux-dev: {message}");
            ExitCode::FAILURE
        }
    }
}

fn kustomize_build(dir: &str) -> Result<(), String> {
    use std::io::Write;
    let resources = flux_kustomize::build(
        &flux_kustomize::DiskFs,
        std::path::Path::new(dir),
        &flux_kustomize::Options::default(),
    )
    .map_err(|e| e.to_string())?;
    let yaml = resources.to_yaml().map_err(|e| e.to_string())?;
    std::io::stdout()
        .lock()
        .write_all(yaml.as_bytes())
        .map_err(|e| e.to_string())
}

fn write_crds(dir: Option<PathBuf>) -> Result<(), String> {
    let dir = dir
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for crd in flux_api::crds() {
        let file = flux_api::crd::manifest_file_name(&crd);
        let yaml = crd.to_yaml().map_err(|e| format!("{}: {e}", crd.name()))?;
        std::fs::write(dir.join(&file), yaml).map_err(|e| format!("writing {file}: {e}"))?;
        written.push(file);
    }
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") && !written.contains(&name) {
            std::fs::remove_file(entry.path()).map_err(|e| format!("removing {name}: {e}"))?;
        }
    }
    eprintln!("wrote {} CRDs to {}", written.len(), dir.display());
    Ok(())
}

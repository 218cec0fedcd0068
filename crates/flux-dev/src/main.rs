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
//! - `flux-dev bench helmreleases [N]`: N HelmReleases (3 ConfigMaps
//!   each) from one HelmRepository, `fluxd --controllers=helm` against
//!   upstream's helm-controller (time to Ready, memory, API requests and
//!   release Secrets written when nothing changed).
//! - `flux-dev bench webhook [PUSHES]`: push → GitHub webhook → Receiver
//!   → GitRepository → Kustomization → commit status, latency p50/p99 of
//!   `fluxd` against upstream's source, kustomize and notification
//!   controllers.
//! - `flux-dev bench helmrepository [VERSIONS] [CHARTS]`: a HelmRepository
//!   with a large index and HelmCharts on it, fluxd against upstream's
//!   source-controller (time to Ready, memory).
//! - `flux-dev bench images [REPOSITORIES] [TAGS] [FILES]`: 200
//!   ImageRepositories × 500 tags, their semver policies and one
//!   automation over 2,000 files; fluxd against upstream's two image
//!   controllers (see `bench_images`).
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
mod bench_helmreleases;
mod bench_helmrepository;
mod bench_images;
mod bench_kustomizations;
mod bench_webhook;
mod corpus;
mod fuzz_diff;
mod layering;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

/// Developer tasks: CRDs, corpora, benchmarks against upstream, the
/// layering check, the demo's environment.
#[derive(clap::Parser)]
#[command(name = "flux-dev")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Writes one CRD manifest per kind from flux-api's types (default
    /// manifests/crds) and removes stale ones.
    Crds {
        /// Where to write them.
        dir: Option<PathBuf>,
    },
    /// Checks the crate layering of shared/DESIGN.md on `cargo metadata`.
    Layering,
    /// Rewrites a corpus' expected outputs with the real tool.
    Corpus {
        /// Which corpus.
        #[arg(value_parser = ["yaml", "kustomize", "gotemplate", "helm"])]
        name: String,
        /// Only these cases (helm).
        cases: Vec<String>,
    },
    /// Ours against the upstream tool, in the same run.
    #[command(subcommand)]
    Bench(Bench),
    /// Differential fuzzing: random inputs built by ours and by the real
    /// tool; differences are shrunk and written out.
    FuzzDiff {
        /// Which engine.
        #[arg(value_parser = ["kustomize", "gotemplate", "helm"])]
        engine: String,
        /// How many cases.
        #[arg(long, default_value_t = 1_000)]
        cases: usize,
        /// The seed (the same seed gives the same cases).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the differences (default
        /// target/fuzz-diff/ENGINE-SEED).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// `kustomize build` with flux-kustomize.
    #[command(subcommand)]
    Kustomize(KustomizeCommand),
    /// The demo's environment (a single-node cluster, the fluxd image, a git
    /// server) until Ctrl-C. Needs root (the node).
    Up {
        /// The fleet repository's folder.
        fleet: PathBuf,
        /// Where to write the environment's variables.
        env_file: PathBuf,
    },
    /// Builds the node's images (pause, web, coredns) and the `fluxd` image
    /// (from the `fluxd` next to this program, tagged as `flux install`
    /// expects) and pushes them to a registry on plain HTTP.
    Images {
        /// The registry, `HOST:PORT`.
        registry: String,
    },
    /// One shallow checkout (the git benchmark's single operation).
    #[command(hide = true)]
    GitCheckout { url: String, dir: String },
    /// One "has the remote moved?" check (the git benchmark's).
    #[command(hide = true)]
    GitRemoteCommit { url: String },
    /// One kustomization of one file built (the YAML benchmark's).
    #[command(hide = true)]
    YamlBuild { file: String },
    /// One chart rendered (the Helm benchmark's).
    #[command(hide = true)]
    HelmTemplate { name: String, chart: String },
}

#[derive(clap::Subcommand)]
enum Bench {
    /// A generated repository: flux-git against the git CLI.
    Git {
        #[arg(default_value_t = 20_000)]
        files: usize,
        #[arg(default_value_t = 200)]
        megabytes: usize,
    },
    /// One generated file of resources: flux-kustomize against kustomize.
    Yaml {
        #[arg(default_value_t = 4_000)]
        resources: usize,
    },
    /// Overlays over one base: flux-kustomize against kustomize.
    Overlays {
        #[arg(default_value_t = 500)]
        count: usize,
    },
    /// Kustomizations from one GitRepository: fluxd against upstream's
    /// kustomize-controller.
    Kustomizations {
        #[arg(default_value_t = 100)]
        count: usize,
    },
    /// N HelmReleases from one HelmRepository: fluxd against upstream's
    /// helm-controller.
    Helmreleases {
        #[arg(default_value_t = 100)]
        count: usize,
    },
    /// One HelmRepository with a large index and HelmCharts on it: fluxd
    /// against upstream's source-controller.
    Helmrepository {
        #[arg(default_value_t = 10_000)]
        versions: usize,
        #[arg(default_value_t = 100)]
        charts: usize,
    },
    /// Push → GitHub webhook → Receiver → GitRepository → Kustomization →
    /// commit status: fluxd against upstream's three controllers.
    Webhook {
        #[arg(default_value_t = 100)]
        pushes: usize,
    },
    /// ImageRepositories, ImagePolicies and an ImageUpdateAutomation:
    /// fluxd against upstream's image-reflector and image-automation
    /// controllers.
    Images {
        #[arg(default_value_t = 200)]
        repositories: usize,
        #[arg(default_value_t = 500)]
        tags: usize,
        #[arg(default_value_t = 2_000)]
        files: usize,
    },
    /// A Helm-like chart: flux-gotemplate against Go's text/template.
    Gotemplate {
        #[arg(default_value_t = 2_000)]
        items: usize,
        #[arg(default_value_t = 20)]
        iterations: usize,
    },
    /// An umbrella and a large chart: flux-helm against `helm template`.
    Helm {
        #[arg(default_value_t = 50)]
        subcharts: usize,
        #[arg(default_value_t = 20)]
        templates: usize,
    },
}

#[derive(clap::Subcommand)]
enum KustomizeCommand {
    /// Builds DIR as `kustomize build DIR` does.
    Build { dir: String },
}

fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    let result = match cli.command {
        Command::Crds { dir } => write_crds(dir),
        Command::Layering => layering::check(),
        Command::Corpus { name, cases } => corpus::run(&name, &cases),
        Command::FuzzDiff {
            engine,
            cases,
            seed,
            out,
        } => fuzz_diff::run(&engine, cases, seed, out),
        Command::Bench(Bench::Git { files, megabytes }) => bench::git(files, megabytes),
        Command::Bench(Bench::Yaml { resources }) => bench::yaml(resources),
        Command::Bench(Bench::Overlays { count }) => bench::overlays(count),
        Command::Bench(Bench::Kustomizations { count }) => {
            bench_kustomizations::kustomizations(count)
        }
        Command::Bench(Bench::Helmreleases { count }) => bench_helmreleases::helmreleases(count),
        Command::Bench(Bench::Webhook { pushes }) => bench_webhook::webhook(pushes),
        Command::Bench(Bench::Images {
            repositories,
            tags,
            files,
        }) => bench_images::images(repositories, tags, files),
        Command::Bench(Bench::Helmrepository { versions, charts }) => {
            bench_helmrepository::helmrepository(versions, charts)
        }
        Command::Bench(Bench::Gotemplate { items, iterations }) => {
            bench_gotemplate::gotemplate(items, iterations)
        }
        Command::Bench(Bench::Helm {
            subcharts,
            templates,
        }) => bench_helm::helm(subcharts, templates),
        Command::Kustomize(KustomizeCommand::Build { dir }) => kustomize_build(&dir),
        Command::Up { fleet, env_file } => up::up(&fleet, &env_file),
        Command::Images { registry } => up::images(&registry),
        Command::GitCheckout { url, dir } => bench::checkout(&url, &dir),
        Command::GitRemoteCommit { url } => bench::remote_commit(&url),
        Command::YamlBuild { file } => bench::yaml_build(&file),
        Command::HelmTemplate { name, chart } => bench_helm::helm_template(&name, &chart),
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
    for crd in flux_api::all_crds() {
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

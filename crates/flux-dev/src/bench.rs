//! Benchmarks that run ours and the upstream tool in the same run.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use flux_git::{Auth, CheckoutOptions, Reference};
use flux_testenv::GitHttpServer;

/// One measured command: wall seconds and peak RSS in MiB.
pub(crate) struct Measure {
    pub(crate) seconds: f64,
    pub(crate) peak_mib: f64,
}

/// Runs `command` under `/usr/bin/time -f %M` (peak RSS in KiB).
pub(crate) fn measure(program: &str, args: &[&str]) -> Result<Measure, String> {
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", program])
        .args(args)
        .output()
        .map_err(|e| format!("running {program}: {e}"))?;
    let seconds = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib: f64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("no peak RSS in {stderr:?}"))?;
    Ok(Measure {
        seconds,
        peak_mib: kib / 1024.0,
    })
}

/// Deterministic pseudo-random bytes (incompressible content).
fn fill(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 26) as u8 + b'a'
        })
        .collect()
}

/// `flux-dev bench git FILES MEGABYTES`.
pub fn git(files: usize, megabytes: usize) -> Result<(), String> {
    let server = GitHttpServer::start().map_err(|e| e.to_string())?;
    let repo = server.create_repo("bench").map_err(|e| e.to_string())?;
    let per_file = (megabytes << 20) / files.max(1);
    eprintln!("generating {files} files of {per_file} bytes…");
    for i in 0..files {
        let path = format!("dir{:03}/sub{:02}/file{i}.yaml", i % 500, i % 37);
        repo.write(&path, fill(i as u64, per_file))
            .map_err(|e| e.to_string())?;
    }
    repo.commit("generated").map_err(|e| e.to_string())?;
    let url = repo.url().to_string();
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let me = me.to_string_lossy().into_owned();
    let scratch = std::env::temp_dir().join(format!("flux-dev-bench-{}", std::process::id()));
    let dir = |name: &str| scratch.join(name).to_string_lossy().into_owned();

    let ours = measure(&me, &["git-checkout", &url, &dir("ours")])?;
    let theirs = measure(
        "git",
        &["clone", "--quiet", "--depth", "1", &url, &dir("git")],
    )?;
    let ours_check = measure(&me, &["git-remote-commit", &url])?;
    let theirs_check = measure("git", &["ls-remote", &url, "refs/heads/main"])?;
    let _ = std::fs::remove_dir_all(&scratch);

    println!("git: {files} files, {megabytes} MB, shallow checkout over smart HTTP");
    println!("| operation | flux-git | git CLI | ratio (git / ours) |");
    println!("|---|---|---|---|");
    let row = |what: &str, a: &Measure, b: &Measure| {
        println!(
            "| {what} | {:.2} s, {:.0} MiB | {:.2} s, {:.0} MiB | {:.2}× time, {:.2}× memory |",
            a.seconds,
            a.peak_mib,
            b.seconds,
            b.peak_mib,
            b.seconds / a.seconds,
            b.peak_mib / a.peak_mib
        );
    };
    row("shallow clone + checkout", &ours, &theirs);
    row("remote moved? (ls-remote)", &ours_check, &theirs_check);
    Ok(())
}

/// `flux-dev git-checkout URL DIR`.
pub fn checkout(url: &str, dir: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    flux_git::checkout(
        url,
        &Reference::Branch("main".to_string()),
        &Auth::None,
        Path::new(dir),
        &CheckoutOptions::default(),
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// `flux-dev git-remote-commit URL`.
pub fn remote_commit(url: &str) -> Result<(), String> {
    flux_git::remote_commit(url, &Reference::Branch("main".to_string()), &Auth::None)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `flux-dev bench yaml [RESOURCES]`: one file of generated ConfigMaps
/// (long and multi-line strings) as the only resource of a kustomization,
/// built by `kustomize build` and by `flux-dev kustomize build`, each in
/// its own process; the outputs are compared byte for byte.
pub fn yaml(resources: usize) -> Result<(), String> {
    let kustomize = flux_testenv::tool("kustomize").map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("flux-dev-bench-yaml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut text = String::new();
    for i in 0..resources {
        text.push_str(&generated_resource(i));
    }
    let file = dir.join("all.yaml");
    std::fs::write(&file, &text).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("kustomization.yaml"), "resources:\n- all.yaml\n")
        .map_err(|e| e.to_string())?;
    let (ours, theirs, identical) = compare_builds(&kustomize, &dir)?;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "yaml: {resources} resources, {} KiB; outputs identical: {}",
        text.len() / 1024,
        identical
    );
    println!("| operation | flux-kustomize | kustomize build | ratio (kustomize / ours) |");
    println!("|---|---|---|---|");
    println!(
        "| build of {resources} resources (one file) | {:.2} s, {:.0} MiB | {:.2} s, {:.0} MiB | {:.1}× time, {:.1}× memory |",
        ours.seconds,
        ours.peak_mib,
        theirs.seconds,
        theirs.peak_mib,
        theirs.seconds / ours.seconds,
        theirs.peak_mib / ours.peak_mib
    );
    Ok(())
}

/// `kustomize build DIR` and `flux-dev kustomize build DIR`, each measured
/// in its own process, then run again to compare their outputs.
fn compare_builds(kustomize: &Path, dir: &Path) -> Result<(Measure, Measure, bool), String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let me = me.to_string_lossy().into_owned();
    let kustomize = kustomize.to_string_lossy().into_owned();
    let dir = dir.to_string_lossy().into_owned();
    let ours = measure(&me, &["kustomize", "build", &dir])?;
    let theirs = measure(&kustomize, &["build", &dir])?;
    let output = |program: &str, args: &[&str]| -> Result<Vec<u8>, String> {
        Command::new(program)
            .args(args)
            .output()
            .map(|o| o.stdout)
            .map_err(|e| format!("running {program}: {e}"))
    };
    let identical =
        output(&me, &["kustomize", "build", &dir])? == output(&kustomize, &["build", &dir])?;
    Ok((ours, theirs, identical))
}

/// One generated resource (kinds in kustomize's legacy order so that the
/// file's order is the output order).
fn generated_resource(i: usize) -> String {
    format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{i:05}\n  labels:\n    app: app-{i}\n    tier: backend\n  annotations:\n    description: generated configuration number {i} with a description long enough to be folded by the emitter at eighty columns\ndata:\n  replicas: \"3\"\n  enabled: \"true\"\n  ratio: \"0.5\"\n  script.sh: |\n    #!/bin/sh\n    echo \"starting {i}\"\n    exec /app --port=8080\n  settings.json: '{{\"a\": {i}, \"b\": [1, 2, 3]}}'\n"
    )
}

/// `flux-dev yaml-build FILE`: what `kustomize build` prints for a
/// kustomization whose only resource is FILE (no sorting: callers keep one
/// kind per file, or kinds in legacy order).
pub fn yaml_build(file: &str) -> Result<(), String> {
    use std::io::Write;
    let text = std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?;
    let docs = flux_yaml::parse(&text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for doc in docs {
        if doc == flux_yaml::Value::Null {
            continue;
        }
        out.push(flux_yaml::emit(
            &doc.json_round_trip().map_err(|e| e.to_string())?,
        ));
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.join("---\n").as_bytes())
        .map_err(|e| e.to_string())
}

/// `flux-dev bench overlays [OVERLAYS]`: one base (Deployment, Service,
/// ConfigMap) and OVERLAYS overlays over it, each with its own namespace,
/// labels, annotations, image tag, a JSON 6902 patch and a strategic-merge
/// patch; a root kustomization lists every overlay. Built by `kustomize
/// build` and by `flux-dev kustomize build`, outputs compared.
pub fn overlays(count: usize) -> Result<(), String> {
    let kustomize = flux_testenv::tool("kustomize").map_err(|e| e.to_string())?;
    let root = std::env::temp_dir().join(format!("flux-dev-bench-overlays-{}", std::process::id()));
    let write = |path: &str, text: &str| -> Result<(), String> {
        let full = root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(full, text).map_err(|e| e.to_string())
    };
    write(
        "base/kustomization.yaml",
        "resources:\n- app.yaml\ncommonLabels:\n  app: web\nconfigMapGenerator:\n- name: web-config\n  literals:\n  - LOG_LEVEL=info\nsecretGenerator:\n- name: web-secret\n  literals:\n  - TOKEN=s3cr3t\n",
    )?;
    write(
        "base/app.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    metadata:\n      annotations:\n        prometheus.io/scrape: \"true\"\n    spec:\n      containers:\n      - name: web\n        image: ghcr.io/example/web:1.0.0\n        args: [\"--port=8080\"]\n        envFrom:\n        - configMapRef:\n            name: web-config\n        env:\n        - name: TOKEN\n          valueFrom:\n            secretKeyRef:\n              name: web-secret\n              key: TOKEN\n        resources:\n          requests:\n            cpu: 100m\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n    targetPort: 8080\n",
    )?;
    let mut list = String::from("resources:\n");
    for i in 0..count {
        list.push_str(&format!("- overlays/o{i:04}\n"));
        write(
            &format!("overlays/o{i:04}/kustomization.yaml"),
            &format!(
                "namespace: team-{i:04}\nnamePrefix: t{i}-\nresources:\n- ../../base\ncommonLabels:\n  team: t{i}\ncommonAnnotations:\n  owner: team-{i}@example.com\nimages:\n- name: ghcr.io/example/web\n  newTag: 1.0.{i}\nconfigMapGenerator:\n- name: web-config\n  behavior: merge\n  literals:\n  - LOG_LEVEL=debug\n  - INSTANCE={i}\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: {}\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: web\n    spec:\n      template:\n        spec:\n          containers:\n          - name: web\n            env:\n            - name: INSTANCE\n              value: \"{i}\"\n",
                1 + i % 5
            ),
        )?;
    }
    write("kustomization.yaml", &list)?;
    let (ours, theirs, identical) = compare_builds(&kustomize, &root)?;
    let _ = std::fs::remove_dir_all(&root);
    println!(
        "overlays: {count} overlays (prefix, namespace, labels, annotations, images, generators merged, JSON and strategic-merge patches) over one base ({} resources); outputs identical: {}",
        count * 4,
        identical
    );
    println!("| operation | flux-kustomize | kustomize build | ratio (kustomize / ours) |");
    println!("|---|---|---|---|");
    println!(
        "| {count} overlays | {:.2} s, {:.0} MiB | {:.2} s, {:.0} MiB | {:.1}× time, {:.1}× memory |",
        ours.seconds,
        ours.peak_mib,
        theirs.seconds,
        theirs.peak_mib,
        theirs.seconds / ours.seconds,
        theirs.peak_mib / ours.peak_mib
    );
    Ok(())
}

/// Prints a comparison as a Markdown table: one row per label with ours,
/// and when upstream ran, upstream's column (headed `upstream`) and the
/// ratio.
pub(crate) fn print_comparison(
    upstream: &str,
    labels: &[&str],
    ours: &[String],
    theirs: Option<(&[String], &[String])>,
) {
    match theirs {
        Some((columns, ratios)) => {
            println!("| measure | flux-rs | {upstream} | ratio |");
            println!("|---|---|---|---|");
            for (i, label) in labels.iter().enumerate() {
                let cell = |v: &[String]| v.get(i).cloned().unwrap_or_default();
                println!(
                    "| {label} | {} | {} | {} |",
                    cell(ours),
                    cell(columns),
                    cell(ratios)
                );
            }
        }
        None => {
            println!("| measure | flux-rs |");
            println!("|---|---|");
            for (i, label) in labels.iter().enumerate() {
                println!("| {label} | {} |", ours.get(i).cloned().unwrap_or_default());
            }
        }
    }
}

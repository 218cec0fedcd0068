//! `flux push|pull|tag|list|build|diff artifact` against a real registry,
//! each compared with upstream's own `flux` on the same artifacts: what one
//! pushes the other reads, and what they print is the same.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::process::{Command, Output};

use flux_testenv::OciRegistry;

fn ours() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flux"))
}

fn upstream() -> Command {
    Command::new(
        flux_testenv::tool("flux-upstream").expect("upstream flux (scripts/install-deps.sh)"),
    )
}

fn run(command: &mut Command) -> Output {
    let output = command.env("HOME", "/nonexistent").output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    std::fs::write(dir.join("apps/cm.yaml"), "kind: ConfigMap\n").unwrap();
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources: [apps/cm.yaml]\n",
    )
    .unwrap();
    std::fs::write(dir.join("logo.png"), "png").unwrap();
}

#[test]
fn artifact_commands_interoperate_with_upstream() {
    let registry = OciRegistry::start_with_basic_auth("flux", "s3cret").unwrap();
    let repo = format!("oci://{}/fleet", registry.host());
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    tree(&src);
    let flags = ["--insecure-registry", "--creds", "flux:s3cret"];
    let push = |command: &mut Command, tag: &str, revision: &str| {
        let output = run(command
            .args(["push", "artifact", &format!("{repo}:{tag}"), "--path"])
            .arg(&src)
            .args([
                "--source",
                "https://example.com/fleet",
                "--revision",
                revision,
            ])
            .args(flags));
        text(&output.stderr)
    };
    let printed = push(&mut ours(), "ours", "main@sha1:aaa");
    assert!(printed.starts_with(&format!("► logging in to registry with credentials\n► pushing artifact to {}/fleet:ours\n✔ artifact successfully pushed to {}/fleet@sha256:", registry.host(), registry.host())), "{printed}");
    push(&mut upstream(), "theirs", "main@sha1:bbb");

    // The same table from both.
    let list = |command: &mut Command| {
        text(&run(command.args(["list", "artifacts", &repo]).args(flags)).stdout)
    };
    let table = list(&mut ours());
    assert_eq!(table, list(&mut upstream()));
    assert!(
        table.contains("main@sha1:aaa") && table.contains("main@sha1:bbb"),
        "{table}"
    );

    // Each pulls what the other pushed, with the same report.
    for (tag, pusher) in [("ours", "ours"), ("theirs", "theirs")] {
        let mut outputs = Vec::new();
        for (name, mut command) in [("ours", ours()), ("upstream", upstream())] {
            let out = work.path().join(format!("{pusher}-by-{name}"));
            std::fs::create_dir_all(&out).unwrap();
            let output = run(command
                .args(["pull", "artifact", &format!("{repo}:{tag}"), "--output"])
                .arg(&out)
                .args(flags));
            assert_eq!(
                std::fs::read_to_string(out.join("apps/cm.yaml")).unwrap(),
                "kind: ConfigMap\n"
            );
            assert!(!out.join("logo.png").exists());
            outputs.push(text(&output.stderr).replace(out.to_str().unwrap(), "OUT"));
        }
        assert_eq!(outputs[0], outputs[1], "pull of {tag}");
    }

    // Diff: unchanged, then changed.
    let diff = |path: &Path| {
        ours()
            .env("HOME", "/nonexistent")
            .args(["diff", "artifact", &format!("{repo}:theirs"), "--path"])
            .arg(path)
            .args(flags)
            .output()
            .unwrap()
    };
    let same = diff(&src);
    assert!(same.status.success(), "{}", text(&same.stderr));
    assert!(text(&same.stderr).contains("✔ no changes detected"));
    // Upstream's diff compares compressed layer digests: ours are Go's.
    let theirs = run(upstream()
        .args(["diff", "artifact", &format!("{repo}:ours"), "--path"])
        .arg(&src)
        .args(flags));
    assert!(text(&theirs.stderr).contains("✔ no changes detected"));
    std::fs::write(src.join("apps/cm.yaml"), "kind: Secret\n").unwrap();
    let changed = diff(&src);
    assert!(!changed.status.success());
    assert!(
        text(&changed.stderr).contains("✗ the remote artifact contents differs from the local one"),
        "{}",
        text(&changed.stderr)
    );

    // Tags are added and listed.
    let tagged = run(ours()
        .args([
            "tag",
            "artifact",
            &format!("{repo}:ours"),
            "--tag",
            "stable",
            "--tag",
            "prod",
        ])
        .args(flags));
    assert!(text(&tagged.stderr).contains(&format!(
        "✔ artifact tagged as {}/fleet:prod",
        registry.host()
    )));
    let table = list(&mut upstream());
    assert!(
        table.contains("fleet:stable") && table.contains("fleet:prod"),
        "{table}"
    );

    // `build artifact` writes upstream's file, byte for byte.
    let gunzip = |path: &Path| {
        let mut out = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
            &mut out,
        )
        .unwrap();
        out
    };
    let a = work.path().join("ours.tgz");
    let b = work.path().join("theirs.tgz");
    run(ours()
        .args(["build", "artifact", "-p"])
        .arg(&src)
        .arg("-o")
        .arg(&a));
    run(upstream()
        .args(["build", "artifact", "-p"])
        .arg(&src)
        .arg("-o")
        .arg(&b));
    assert_eq!(gunzip(&a), gunzip(&b));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    // Errors in upstream's words.
    for (args, message) in [
        (
            &["push", "artifact", "oci://x/y:1", "--path", "."][..],
            "--source is required",
        ),
        (
            &[
                "push",
                "artifact",
                "https://x/y:1",
                "--path",
                ".",
                "--source",
                "s",
                "--revision",
                "r",
            ][..],
            "URL must be in format 'oci://<domain>/<org>/<repo>'",
        ),
        (
            &[
                "push",
                "artifact",
                "oci://x/y:1",
                "--path",
                ".",
                "--source",
                "s",
                "--revision",
                "r",
                "-a",
                "bad",
            ][..],
            "invalid annotation bad, must be in the format key=value",
        ),
        (
            &["pull", "artifact", "oci://x/y:1"][..],
            "output path cannot be empty",
        ),
    ] {
        let output = ours().args(args).output().unwrap();
        assert!(!output.status.success());
        assert_eq!(text(&output.stderr), format!("✗ {message}\n"), "{args:?}");
    }
}

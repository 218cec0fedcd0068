//! What the CLI tests against a real API server share: running our
//! `flux` and upstream's on the same objects.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `binary ARGS` with `KUBECONFIG`, no stdin.
pub fn run(binary: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("FLUX_SYSTEM_NAMESPACE")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Our `flux ARGS`, which must succeed: its stdout and stderr.
pub fn ok(kubeconfig: &Path, args: &[&str]) -> (String, String) {
    let out = run(Path::new(env!("CARGO_BIN_EXE_flux")), kubeconfig, args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(out.status.success(), "flux {args:?}:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// Ours and upstream's `flux ARGS` print the same: ours.
pub fn same_as_upstream(kubeconfig: &Path, args: &[&str]) -> String {
    let upstream =
        flux_testenv::tool("flux-upstream").expect("upstream flux (scripts/install-deps.sh)");
    let theirs = run(&upstream, kubeconfig, args);
    assert!(
        theirs.status.success(),
        "upstream {args:?}: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    let (ours, _) = ok(kubeconfig, args);
    assert_eq!(
        ours,
        String::from_utf8_lossy(&theirs.stdout),
        "flux {args:?}: ours (left), upstream's (right)"
    );
    ours
}

use flux_testenv::{Error, OciRegistry, helm_command, run, write_chart};

use crate::TestResult;
use crate::git_http::tempdir;

/// Packages a minimal chart with the real helm; returns the archive.
fn package(
    dir: &std::path::Path,
    name: &str,
    version: &str,
) -> flux_testenv::Result<std::path::PathBuf> {
    let chart = write_chart(&dir.join("src"), name, version)?;
    run(helm_command(&dir.join("helm"))?
        .arg("package")
        .arg(&chart)
        .arg("--destination")
        .arg(dir))?;
    Ok(dir.join(format!("{name}-{version}.tgz")))
}

/// Status code of an HTTP GET with the real curl.
pub(crate) fn http_status(url: &str, user: Option<&str>) -> flux_testenv::Result<String> {
    let mut command = std::process::Command::new("curl");
    command.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"]);
    if let Some(user) = user {
        command.args(["-u", user]);
    }
    run(command.arg(url))
}

#[test]
fn push_and_pull_an_oci_artifact() -> TestResult {
    let registry = OciRegistry::start()?;
    let work = tempdir("oci");
    let archive = package(work.path(), "podinfo", "6.5.0")?;
    let (reference, digest) = registry.push_helm_chart(&archive, "charts")?;
    assert_eq!(
        reference,
        format!("{}/charts/podinfo:6.5.0", registry.host())
    );
    assert!(digest.starts_with("sha256:"), "{digest}");

    // The Distribution API serves the manifest with Helm's OCI media types.
    let manifest = run(std::process::Command::new("curl").args([
        "-sS",
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
        &format!("{}/v2/charts/podinfo/manifests/6.5.0", registry.url()),
    ]))?;
    assert!(
        manifest.contains("application/vnd.cncf.helm.config.v1+json"),
        "{manifest}"
    );
    assert!(
        manifest.contains("application/vnd.cncf.helm.chart.content.v1.tar+gzip"),
        "{manifest}"
    );

    let out = work.path().join("pulled");
    std::fs::create_dir_all(&out)?;
    registry.pull_helm_chart("charts/podinfo", "6.5.0", &out, None)?;
    assert_eq!(
        std::fs::read(out.join("podinfo-6.5.0.tgz"))?,
        std::fs::read(&archive)?
    );
    Ok(())
}

#[test]
fn registry_with_htpasswd_refuses_anonymous_access() -> TestResult {
    let registry = OciRegistry::start_with_basic_auth("flux", "p4ss")?;
    let work = tempdir("oci-auth");
    let archive = package(work.path(), "secure", "1.0.0")?;
    registry.push_helm_chart(&archive, "private")?;

    let catalog = format!("{}/v2/_catalog", registry.url());
    assert_eq!(http_status(&catalog, None)?, "401");
    assert_eq!(http_status(&catalog, Some("flux:wrong"))?, "401");
    assert_eq!(http_status(&catalog, Some("flux:p4ss"))?, "200");

    let out = work.path().join("pulled");
    std::fs::create_dir_all(&out)?;
    match registry.pull_helm_chart("private/secure", "1.0.0", &out, None) {
        Err(Error::Command { stderr, .. }) => {
            // The registry answers 401 with a Basic challenge; helm reports
            // that it has no credential to answer it with.
            assert!(
                stderr.contains("basic credential not found") || stderr.contains("401"),
                "{stderr}"
            );
        }
        other => panic!("expected an anonymous pull to fail, got {other:?}"),
    }
    registry.pull_helm_chart("private/secure", "1.0.0", &out, Some(("flux", "p4ss")))?;
    assert!(out.join("secure-1.0.0.tgz").exists());
    Ok(())
}

#[test]
fn images_are_reproducible_and_served_as_oci() -> TestResult {
    let registry = OciRegistry::start()?;
    let image = || {
        flux_testenv::Image::new()
            .file("/etc/greeting", b"hello\n".to_vec(), 0o644)
            .file("/bin/tool", b"#!/bin/sh\necho hi\n".to_vec(), 0o755)
            .entrypoint(&["/bin/tool"])
            .user("65534")
    };
    // The same files give the same layer, byte for byte, and the same
    // manifest digest however often they are pushed.
    assert_eq!(image().layer()?, image().layer()?);
    let first = image().push(&registry.host(), "tests/repro", "a")?;
    let second = image().push(&registry.host(), "tests/repro", "b")?;
    assert_eq!(first.digest, second.digest);
    assert_eq!(
        first.reference,
        format!("{}/tests/repro:a", registry.host())
    );
    // A different file is a different image.
    let other = image()
        .file("/etc/greeting", b"bye\n".to_vec(), 0o644)
        .push(&registry.host(), "tests/repro", "c")?;
    assert_ne!(other.digest, first.digest);

    let manifest = run(std::process::Command::new("curl").args([
        "-sS",
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
        &format!("{}/v2/tests/repro/manifests/a", registry.url()),
    ]))?;
    assert!(
        manifest.contains("application/vnd.oci.image.config.v1+json"),
        "{manifest}"
    );
    assert!(
        manifest.contains("application/vnd.oci.image.layer.v1.tar"),
        "{manifest}"
    );
    // The layer lists parents before children, owned by root, at time 0.
    let layer = image().layer()?;
    let mut archive = tar::Archive::new(layer.as_slice());
    let entries: Vec<(String, u64, u64)> = archive
        .entries()?
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                h.mtime().unwrap(),
                h.uid().unwrap(),
            )
        })
        .collect();
    let paths: Vec<&str> = entries.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(paths, ["bin/", "bin/tool", "etc/", "etc/greeting", "tmp/"]);
    assert!(
        entries
            .iter()
            .all(|(_, mtime, uid)| *mtime == 0 && *uid == 0)
    );
    Ok(())
}

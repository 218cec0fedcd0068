use flux_testenv::{HelmRepoServer, HttpAuth, helm_command, run};

use crate::TestResult;
use crate::git_http::tempdir;
use crate::oci::http_status as status_of;

fn fetch(url: &str, user: Option<&str>) -> flux_testenv::Result<String> {
    let mut command = std::process::Command::new("curl");
    command.args(["-sS", "--fail"]);
    if let Some(user) = user {
        command.args(["-u", user]);
    }
    run(command.arg(url))
}

#[test]
fn serves_index_and_charts_to_helm() -> TestResult {
    let repo = HelmRepoServer::start()?;
    repo.add_simple_chart("podinfo", "6.5.0")?;
    repo.add_simple_chart("podinfo", "6.6.0")?;
    let index = fetch(&format!("{}/index.yaml", repo.url()), None)?;
    assert!(index.contains("apiVersion: v1"), "{index}");
    assert!(
        index.contains("version: 6.5.0") && index.contains("version: 6.6.0"),
        "{index}"
    );
    assert!(
        index.contains(&format!("{}/podinfo-6.6.0.tgz", repo.url())),
        "{index}"
    );

    // The real helm client resolves and downloads from the index.
    let work = tempdir("helm-repo");
    run(helm_command(work.path())?
        .args([
            "pull",
            "podinfo",
            "--repo",
            &repo.url(),
            "--version",
            "~6.5",
            "--destination",
        ])
        .arg(work.path()))?;
    assert!(work.path().join("podinfo-6.5.0.tgz").exists());
    Ok(())
}

#[test]
fn index_requires_credentials_when_configured() -> TestResult {
    let repo = HelmRepoServer::start_with_auth(HttpAuth::basic("helm", "hunter2"))?;
    repo.add_simple_chart("private-app", "0.1.0")?;
    let index = format!("{}/index.yaml", repo.url());
    assert_eq!(status_of(&index, None)?, "401");
    assert_eq!(status_of(&index, Some("helm:nope"))?, "401");
    let body = fetch(&index, Some("helm:hunter2"))?;
    assert!(body.contains("private-app"), "{body}");

    let work = tempdir("helm-repo-auth");
    let anonymous = run(helm_command(work.path())?
        .args([
            "pull",
            "private-app",
            "--repo",
            &repo.url(),
            "--destination",
        ])
        .arg(work.path()));
    assert!(anonymous.is_err());
    run(helm_command(work.path())?
        .args([
            "pull",
            "private-app",
            "--repo",
            &repo.url(),
            "--username",
            "helm",
            "--password",
            "hunter2",
            "--destination",
        ])
        .arg(work.path()))?;
    assert!(work.path().join("private-app-0.1.0.tgz").exists());
    Ok(())
}

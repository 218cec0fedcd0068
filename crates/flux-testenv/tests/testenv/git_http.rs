use std::path::Path;

use flux_testenv::{Error, GitHttpServer, HttpAuth, git, git_command, run};

use crate::TestResult;

/// Clones `url` into `dest` with the git CLI, with extra `-c` settings.
fn clone(url: &str, dest: &Path, config: &[&str]) -> flux_testenv::Result<String> {
    let mut command = git_command();
    for setting in config {
        command.args(["-c", setting]);
    }
    run(command.arg("clone").arg("--quiet").arg(url).arg(dest))
}

fn command_error(result: flux_testenv::Result<String>) -> String {
    match result {
        Err(Error::Command { stderr, .. }) => stderr,
        other => panic!("expected the git command to fail, got {other:?}"),
    }
}

#[test]
fn anonymous_clone_and_push() -> TestResult {
    let server = GitHttpServer::start()?;
    let repo = server.create_repo("fleet")?;
    repo.write("apps/cm.yaml", "kind: ConfigMap\n")?;
    let first = repo.commit("first")?;
    repo.tag("v1.0.0", Some("release"))?;

    let work_dir = tempdir("anon");
    let dest = work_dir.path().join("clone");
    clone(repo.url(), &dest, &[])?;
    assert_eq!(git(&dest, &["rev-parse", "HEAD"])?.trim(), first);
    assert_eq!(
        std::fs::read_to_string(dest.join("apps/cm.yaml"))?,
        "kind: ConfigMap\n"
    );
    let tags = run(git_command().args(["ls-remote", "--tags", repo.url()]))?;
    assert!(tags.contains("refs/tags/v1.0.0"), "{tags}");

    // Push a commit through the server (receive-pack over HTTP).
    std::fs::write(dest.join("new.txt"), "pushed over http\n")?;
    git(&dest, &["add", "new.txt"])?;
    git(&dest, &["commit", "--quiet", "-m", "over http"])?;
    git(&dest, &["push", "--quiet", "origin", "main"])?;
    let pushed = git(&dest, &["rev-parse", "HEAD"])?;
    let on_server = git(repo.bare_path(), &["rev-parse", "refs/heads/main"])?;
    assert_eq!(on_server.trim(), pushed.trim());
    assert!(
        server.log().contains("git-receive-pack"),
        "{}",
        server.log()
    );
    Ok(())
}

#[test]
fn basic_auth_is_enforced() -> TestResult {
    let server = GitHttpServer::start_with_auth(HttpAuth::basic("flux", "s3cret"))?;
    let repo = server.create_repo("private")?;
    repo.write("README", "private\n")?;
    let head = repo.commit("init")?;
    let work_dir = tempdir("basic");

    let anonymous = command_error(clone(repo.url(), &work_dir.path().join("a"), &[]));
    assert!(
        anonymous.contains("Authentication failed")
            || anonymous.contains("401")
            || anonymous.contains("could not read Username"),
        "{anonymous}"
    );
    let wrong = format!(
        "http://flux:wrong@{}",
        repo.url().trim_start_matches("http://")
    );
    let refused = command_error(clone(&wrong, &work_dir.path().join("b"), &[]));
    assert!(refused.contains("Authentication failed"), "{refused}");

    clone(
        &server.url_with_credentials("private"),
        &work_dir.path().join("c"),
        &[],
    )?;
    assert_eq!(
        git(&work_dir.path().join("c"), &["rev-parse", "HEAD"])?.trim(),
        head
    );
    Ok(())
}

#[test]
fn bearer_token_is_enforced() -> TestResult {
    let server = GitHttpServer::start_with_auth(HttpAuth::bearer("tok-123"))?;
    let repo = server.create_repo("tokened")?;
    repo.write("README", "token\n")?;
    repo.commit("init")?;
    let work_dir = tempdir("bearer");
    let wrong = command_error(clone(
        repo.url(),
        &work_dir.path().join("a"),
        &["http.extraHeader=Authorization: Bearer nope"],
    ));
    assert!(
        wrong.contains("401")
            || wrong.contains("Authentication failed")
            || wrong.contains("could not read Username"),
        "{wrong}"
    );
    clone(
        repo.url(),
        &work_dir.path().join("b"),
        &["http.extraHeader=Authorization: Bearer tok-123"],
    )?;
    assert!(work_dir.path().join("b/README").exists());
    Ok(())
}

#[test]
fn large_push_uses_chunked_encoding() -> TestResult {
    let server = GitHttpServer::start()?;
    let repo = server.create_repo("big")?;
    repo.write("README", "big\n")?;
    repo.commit("init")?;
    let work_dir = tempdir("large");
    let dest = work_dir.path().join("clone");
    clone(repo.url(), &dest, &[])?;
    // 4 MiB of incompressible bytes: more than http.postBuffer (1 MiB), so
    // git streams the pack with Transfer-Encoding: chunked.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..4 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(dest.join("blob.bin"), &data)?;
    git(&dest, &["add", "blob.bin"])?;
    git(&dest, &["commit", "--quiet", "-m", "large"])?;
    git(&dest, &["push", "--quiet", "origin", "main"])?;
    let size = git(repo.bare_path(), &["cat-file", "-s", "main:blob.bin"])?;
    assert_eq!(size.trim(), (4 << 20).to_string());
    assert!(
        server.log().contains("chunked request body"),
        "{}",
        server.log()
    );
    Ok(())
}

/// A temporary folder, removed when dropped.
pub fn tempdir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("flux-testenv-test-{name}-"))
        .tempdir()
        .expect("creating a test folder")
}

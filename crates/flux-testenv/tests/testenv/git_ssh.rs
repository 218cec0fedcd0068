use flux_testenv::{Error, GitSshServer, git, git_command, run, ssh_keygen};

use crate::TestResult;
use crate::git_http::tempdir;

#[test]
fn clone_and_push_with_key_and_known_hosts() -> TestResult {
    let server = GitSshServer::start()?;
    let repo = server.create_repo("fleet")?;
    repo.write("clusters/prod/kustomization.yaml", "resources: []\n")?;
    let head = repo.commit("init")?;

    let work_dir = tempdir("ssh");
    let known_hosts = work_dir.path().join("known_hosts");
    std::fs::write(&known_hosts, format!("{}\n", server.known_hosts()))?;
    let ssh = GitSshServer::git_ssh_command(server.client_key_path(), &known_hosts);
    let dest = work_dir.path().join("clone");
    run(git_command()
        .env("GIT_SSH_COMMAND", &ssh)
        .args(["clone", "--quiet", repo.url()])
        .arg(&dest))?;
    assert_eq!(git(&dest, &["rev-parse", "HEAD"])?.trim(), head);

    std::fs::write(dest.join("pushed.txt"), "over ssh\n")?;
    git(&dest, &["add", "pushed.txt"])?;
    git(&dest, &["commit", "--quiet", "-m", "over ssh"])?;
    run(git_command()
        .current_dir(&dest)
        .env("GIT_SSH_COMMAND", &ssh)
        .args(["push", "--quiet", "origin", "main"]))?;
    let pushed = git(&dest, &["rev-parse", "HEAD"])?;
    assert_eq!(git(repo.bare_path(), &["rev-parse", "main"])?, pushed);
    assert!(
        server
            .known_hosts()
            .starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", server.port()))
    );
    Ok(())
}

#[test]
fn wrong_host_key_and_wrong_client_key_are_refused() -> TestResult {
    let server = GitSshServer::start()?;
    let repo = server.create_repo("guarded")?;
    repo.write("README", "x\n")?;
    repo.commit("init")?;
    let work_dir = tempdir("ssh-wrong");

    // known_hosts holding another key for the same host.
    let impostor = ssh_keygen(&work_dir.path().join("impostor"))?;
    let impostor_pub = std::fs::read_to_string(impostor.with_extension("pub"))?;
    let mut fields = impostor_pub.split_whitespace();
    let wrong_known_hosts = work_dir.path().join("wrong_known_hosts");
    std::fs::write(
        &wrong_known_hosts,
        format!(
            "[127.0.0.1]:{} {} {}\n",
            server.port(),
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default()
        ),
    )?;
    let ssh = GitSshServer::git_ssh_command(server.client_key_path(), &wrong_known_hosts);
    let result = run(git_command()
        .env("GIT_SSH_COMMAND", &ssh)
        .args(["clone", "--quiet", repo.url()])
        .arg(work_dir.path().join("a")));
    match result {
        Err(Error::Command { stderr, .. }) => {
            assert!(
                stderr.contains("HOST IDENTIFICATION HAS CHANGED")
                    || stderr.contains("Host key verification failed"),
                "{stderr}"
            );
        }
        other => panic!("expected a host key failure, got {other:?}"),
    }

    // The right host key, but a client key the server does not know.
    let known_hosts = work_dir.path().join("known_hosts");
    std::fs::write(&known_hosts, format!("{}\n", server.known_hosts()))?;
    let stranger = ssh_keygen(&work_dir.path().join("stranger"))?;
    let ssh = GitSshServer::git_ssh_command(&stranger, &known_hosts);
    let result = run(git_command()
        .env("GIT_SSH_COMMAND", &ssh)
        .args(["clone", "--quiet", repo.url()])
        .arg(work_dir.path().join("b")));
    match result {
        Err(Error::Command { stderr, .. }) => {
            assert!(stderr.contains("Permission denied"), "{stderr}");
        }
        other => panic!("expected an authentication failure, got {other:?}"),
    }
    Ok(())
}

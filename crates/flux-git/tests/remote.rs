//! flux-git against real servers: git http-backend and OpenSSH.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;

use flux_git::{Auth, CheckoutOptions, Error, KnownHosts, Reference, checkout, remote_commit};
use flux_testenv::{GitHttpServer, GitSshServer, HttpAuth, ssh_keygen};

fn fleet(repo: &flux_testenv::GitRepo) -> (String, String) {
    repo.write("clusters/prod/app.yaml", "kind: ConfigMap\n")
        .unwrap();
    let first = repo.commit("first").unwrap();
    repo.tag("v1.0.0", Some("release 1")).unwrap();
    repo.write("clusters/prod/app.yaml", "kind: ConfigMap # v2\n")
        .unwrap();
    let second = repo.commit("second").unwrap();
    (first, second)
}

fn get(
    url: &str,
    reference: Reference,
    auth: &Auth,
) -> Result<(flux_git::Commit, tempfile::TempDir), Error> {
    let dir = tempfile::tempdir().unwrap();
    let commit = checkout(
        url,
        &reference,
        auth,
        dir.path(),
        &CheckoutOptions::default(),
    )?;
    Ok((commit, dir))
}

#[test]
fn http_branch_tag_name_and_commit() {
    let server = GitHttpServer::start().unwrap();
    let repo = server.create_repo("fleet").unwrap();
    let (first, second) = fleet(&repo);

    let (commit, dir) = get(repo.url(), Reference::Branch("main".into()), &Auth::None).unwrap();
    assert_eq!(commit.hash, second);
    assert_eq!(commit.reference.as_deref(), Some("main"));
    assert_eq!(commit.message.trim(), "second");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("clusters/prod/app.yaml")).unwrap(),
        "kind: ConfigMap # v2\n"
    );
    assert!(
        dir.path().join(".git/shallow").exists(),
        "shallow by default"
    );

    let (commit, dir) = get(repo.url(), Reference::Tag("v1.0.0".into()), &Auth::None).unwrap();
    assert_eq!(commit.hash, first, "annotated tag peeled to its commit");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("clusters/prod/app.yaml")).unwrap(),
        "kind: ConfigMap\n"
    );

    let (commit, _) = get(
        repo.url(),
        Reference::Name("refs/heads/main".into()),
        &Auth::None,
    )
    .unwrap();
    assert_eq!(commit.hash, second);
    assert_eq!(commit.reference.as_deref(), Some("refs/heads/main"));

    let (commit, dir) = get(
        repo.url(),
        Reference::Commit {
            sha: first.clone(),
            branch: Some("main".into()),
        },
        &Auth::None,
    )
    .unwrap();
    assert_eq!(commit.hash, first);
    assert_eq!(commit.reference, None);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("clusters/prod/app.yaml")).unwrap(),
        "kind: ConfigMap\n"
    );

    let err = get(repo.url(), Reference::Branch("nope".into()), &Auth::None).unwrap_err();
    assert!(matches!(err, Error::ReferenceNotFound { .. }), "{err}");
    let err = get(
        repo.url(),
        Reference::Commit {
            sha: "0".repeat(40),
            branch: Some("main".into()),
        },
        &Auth::None,
    )
    .unwrap_err();
    assert!(matches!(err, Error::ReferenceNotFound { .. }), "{err}");
}

#[test]
fn semver_picks_the_highest_matching_tag() {
    let server = GitHttpServer::start().unwrap();
    let repo = server.create_repo("versions").unwrap();
    let mut commits = std::collections::BTreeMap::new();
    for tag in [
        "v1.0.0",
        "v1.2.0",
        "1.10.0",
        "v2.0.0-rc.1",
        "v2.0.0",
        "latest",
    ] {
        repo.write("version.txt", tag).unwrap();
        commits.insert(tag, repo.commit(tag).unwrap());
        repo.tag(tag, None).unwrap();
    }
    for (range, tag) in [
        (">=1.0.0 <2.0.0", "1.10.0"),
        ("~1.2", "v1.2.0"),
        ("*", "v2.0.0"),
        (">=2.0.0-0 <2.0.0", "v2.0.0-rc.1"),
    ] {
        let (commit, dir) = get(repo.url(), Reference::Semver(range.into()), &Auth::None).unwrap();
        assert_eq!(commit.reference.as_deref(), Some(tag), "{range}");
        assert_eq!(commit.hash, commits[tag], "{range}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("version.txt")).unwrap(),
            tag
        );
        assert_eq!(
            remote_commit(repo.url(), &Reference::Semver(range.into()), &Auth::None).unwrap(),
            Some(commits[tag].clone())
        );
    }
    let err = get(repo.url(), Reference::Semver(">=3.0.0".into()), &Auth::None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to resolve semver range '>=3.0.0': no tag matches the range"
    );
}

#[test]
fn remote_commit_sees_new_commits_without_cloning() {
    let server = GitHttpServer::start().unwrap();
    let repo = server.create_repo("moving").unwrap();
    let (first, second) = fleet(&repo);
    let main = Reference::Branch("main".into());
    assert_eq!(
        remote_commit(repo.url(), &main, &Auth::None).unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        remote_commit(repo.url(), &Reference::Tag("v1.0.0".into()), &Auth::None).unwrap(),
        Some(first)
    );
    assert_eq!(
        remote_commit(repo.url(), &Reference::Branch("gone".into()), &Auth::None).unwrap(),
        None
    );
    repo.write("new.yaml", "x: 1\n").unwrap();
    let third = repo.commit("third").unwrap();
    assert_eq!(
        remote_commit(repo.url(), &main, &Auth::None).unwrap(),
        Some(third)
    );
    // Only ref advertisements were asked for: no pack was fetched.
    assert_eq!(
        server
            .log()
            .matches("POST /moving.git/git-upload-pack")
            .count(),
        0,
        "{}",
        server.log()
    );
    // …while a checkout does fetch one.
    get(repo.url(), main, &Auth::None).unwrap();
    assert!(server.log().contains("POST /moving.git/git-upload-pack"));
}

#[test]
fn http_basic_and_bearer_credentials() {
    let server = GitHttpServer::start_with_auth(HttpAuth::basic("flux", "s3cret")).unwrap();
    let repo = server.create_repo("private").unwrap();
    let (_, head) = fleet(&repo);
    let main = || Reference::Branch("main".into());
    let good = Auth::Basic {
        username: "flux".into(),
        password: "s3cret".into(),
    };
    assert_eq!(get(repo.url(), main(), &good).unwrap().0.hash, head);
    let bad = Auth::Basic {
        username: "flux".into(),
        password: "wrong".into(),
    };
    let err = get(repo.url(), main(), &bad).unwrap_err();
    assert!(err.is_authentication(), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "the password must not leak: {err}"
    );
    let err = get(repo.url(), main(), &Auth::None).unwrap_err();
    assert!(err.is_authentication(), "{err}");
    // Credentials written into the URL never reach the message either.
    let in_url = repo.url().replace("http://", "http://flux:hunter2-in-url@");
    let err = get(&in_url, main(), &Auth::None).unwrap_err();
    assert!(err.is_authentication(), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(err.to_string().contains("flux:***@"), "{err}");

    let server = GitHttpServer::start_with_auth(HttpAuth::bearer("tok-42")).unwrap();
    let repo = server.create_repo("tokened").unwrap();
    let (_, head) = fleet(&repo);
    assert_eq!(
        get(repo.url(), main(), &Auth::Bearer("tok-42".into()))
            .unwrap()
            .0
            .hash,
        head
    );
    assert_eq!(
        remote_commit(repo.url(), &main(), &Auth::Bearer("tok-42".into())).unwrap(),
        Some(head)
    );
    let err = get(repo.url(), main(), &Auth::Bearer("nope".into())).unwrap_err();
    assert!(err.is_authentication(), "{err}");
}

#[test]
fn ssh_with_known_hosts() {
    let server = GitSshServer::start().unwrap();
    let repo = server.create_repo("fleet").unwrap();
    let (_, head) = fleet(&repo);
    let secret = |identity: String, known_hosts: &str| {
        let data: BTreeMap<String, Vec<u8>> = [
            ("identity".to_string(), identity.into_bytes()),
            ("known_hosts".to_string(), known_hosts.as_bytes().to_vec()),
        ]
        .into();
        Auth::from_secret(&data, repo.url()).unwrap()
    };
    let auth = secret(server.client_private_key().unwrap(), server.known_hosts());
    let (commit, dir) = get(repo.url(), Reference::Branch("main".into()), &auth).unwrap();
    assert_eq!(commit.hash, head);
    assert!(dir.path().join("clusters/prod/app.yaml").exists());
    assert_eq!(
        remote_commit(repo.url(), &Reference::Branch("main".into()), &auth).unwrap(),
        Some(head)
    );

    // The same entry hashed by `ssh-keygen -H` (`|1|salt|hmac`).
    let keys = tempfile::tempdir().unwrap();
    let hashed_file = keys.path().join("known_hosts");
    std::fs::write(&hashed_file, server.known_hosts()).unwrap();
    flux_testenv::run(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-H", "-f"])
            .arg(&hashed_file),
    )
    .unwrap();
    let hashed = std::fs::read_to_string(&hashed_file).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    let (commit, _dir) = get(
        repo.url(),
        Reference::Branch("main".into()),
        &secret(server.client_private_key().unwrap(), &hashed),
    )
    .unwrap();
    assert!(!commit.hash.is_empty());

    // A known_hosts entry with another key for the same host.
    let impostor = ssh_keygen(&keys.path().join("impostor")).unwrap();
    let public = std::fs::read_to_string(impostor.with_extension("pub")).unwrap();
    let mut fields = public.split_whitespace();
    let wrong_hosts = format!(
        "[127.0.0.1]:{} {} {}",
        server.port(),
        fields.next().unwrap(),
        fields.next().unwrap()
    );
    assert!(KnownHosts::parse(&wrong_hosts).is_ok());
    let err = get(
        repo.url(),
        Reference::Branch("main".into()),
        &secret(server.client_private_key().unwrap(), &wrong_hosts),
    )
    .unwrap_err();
    assert!(matches!(err, Error::HostKey { .. }), "{err}");
    assert!(err.to_string().contains("not the known key"), "{err}");

    // The right host, a client key the server does not accept.
    let stranger = ssh_keygen(&keys.path().join("stranger")).unwrap();
    let err = get(
        repo.url(),
        Reference::Branch("main".into()),
        &secret(
            std::fs::read_to_string(stranger).unwrap(),
            server.known_hosts(),
        ),
    )
    .unwrap_err();
    assert!(err.is_authentication(), "{err}");

    // The accepted key, protected by a passphrase (`password` in the Secret).
    let protected = keys.path().join("protected");
    std::fs::write(&protected, server.client_private_key().unwrap()).unwrap();
    std::fs::set_permissions(
        &protected,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    flux_testenv::run(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-p", "-P", "", "-N", "open sesame", "-f"])
            .arg(&protected),
    )
    .unwrap();
    let encrypted = std::fs::read_to_string(&protected).unwrap();
    let with_passphrase = |passphrase: Option<&str>| {
        let mut data: BTreeMap<String, Vec<u8>> = [
            ("identity".to_string(), encrypted.clone().into_bytes()),
            (
                "known_hosts".to_string(),
                server.known_hosts().as_bytes().to_vec(),
            ),
        ]
        .into();
        if let Some(p) = passphrase {
            data.insert("password".to_string(), p.as_bytes().to_vec());
        }
        Auth::from_secret(&data, repo.url()).unwrap()
    };
    let (commit, _dir) = get(
        repo.url(),
        Reference::Branch("main".into()),
        &with_passphrase(Some("open sesame")),
    )
    .unwrap();
    assert!(!commit.hash.is_empty());
    let err = get(
        repo.url(),
        Reference::Branch("main".into()),
        &with_passphrase(None),
    )
    .unwrap_err();
    assert!(err.is_authentication(), "{err}");
}

#[test]
fn unreachable_servers_fail_cleanly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/none.git");
    let err = get(&url, Reference::Branch("main".into()), &Auth::None).unwrap_err();
    assert!(matches!(err, Error::Git { .. }), "{err}");
    assert!(!err.is_authentication());
}

#[test]
fn commit_and_tag_signatures_verify_against_trusted_keys_only() {
    use flux_git::signature::{VerifyError, verify};
    use flux_testenv::SigningKey;

    let server = GitHttpServer::start().unwrap();
    let repo = server.create_repo("signed").unwrap();
    let gpg = SigningKey::gpg("Flux Signer <signer@example.invalid>").unwrap();
    let ssh = SigningKey::ssh().unwrap();
    let stranger = SigningKey::gpg("Mallory <mallory@example.invalid>").unwrap();

    repo.write("app.yaml", "kind: ConfigMap\n").unwrap();
    let gpg_commit = repo.commit_signed("signed with gpg", &gpg).unwrap();
    repo.tag_signed("v1.0.0", "release 1 (gpg)", &gpg).unwrap();
    repo.write("app.yaml", "kind: ConfigMap # v2\n").unwrap();
    let ssh_commit = repo.commit_signed("signed with ssh", &ssh).unwrap();
    repo.tag_signed("v2.0.0", "release 2 (ssh)", &ssh).unwrap();
    repo.write("app.yaml", "kind: ConfigMap # v3\n").unwrap();
    repo.commit("not signed").unwrap();
    repo.tag("v3.0.0", Some("unsigned annotated tag")).unwrap();

    let trusted = [gpg.public_key().as_bytes(), ssh.public_key().as_bytes()];
    let untrusted = [stranger.public_key().as_bytes()];

    // An OpenPGP-signed commit and tag: the key ID of the signer.
    let (commit, _dir) = get(repo.url(), Reference::Tag("v1.0.0".into()), &Auth::None).unwrap();
    assert_eq!(commit.hash, gpg_commit);
    assert_eq!(
        verify(commit.signature.as_ref(), &trusted).unwrap(),
        gpg.id().unwrap()
    );
    let tag = commit.tag.as_ref().expect("annotated tag");
    assert_eq!(tag.name, "v1.0.0");
    assert_eq!(
        verify(tag.signature.as_ref(), &trusted).unwrap(),
        gpg.id().unwrap()
    );
    assert_eq!(
        verify(commit.signature.as_ref(), &untrusted),
        Err(VerifyError::NoMatchingKey("key rings"))
    );

    // An SSH-signed commit and tag: the key's SHA256 fingerprint.
    let (commit, _dir) = get(repo.url(), Reference::Tag("v2.0.0".into()), &Auth::None).unwrap();
    assert_eq!(commit.hash, ssh_commit);
    let fingerprint = ssh.id().unwrap();
    assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
    assert_eq!(
        verify(commit.signature.as_ref(), &trusted).unwrap(),
        fingerprint
    );
    assert_eq!(
        verify(commit.tag.as_ref().unwrap().signature.as_ref(), &trusted).unwrap(),
        fingerprint
    );
    // Only OpenPGP keys in the secret: no SSH key to check against.
    assert_eq!(
        verify(commit.signature.as_ref(), &untrusted),
        Err(VerifyError::NoKeys("ssh"))
    );
    let other_ssh = SigningKey::ssh().unwrap();
    assert_eq!(
        verify(
            commit.signature.as_ref(),
            &[other_ssh.public_key().as_bytes()]
        ),
        Err(VerifyError::NoMatchingKey("authorized keys"))
    );

    // Unsigned commit and tag.
    let (commit, _dir) = get(repo.url(), Reference::Tag("v3.0.0".into()), &Auth::None).unwrap();
    assert_eq!(
        verify(commit.signature.as_ref(), &trusted),
        Err(VerifyError::NotSigned)
    );
    let tag = commit.tag.as_ref().expect("annotated tag");
    assert!(tag.signature.is_none());

    // A tampered payload does not verify.
    let (commit, _dir) = get(repo.url(), Reference::Branch("main".into()), &Auth::None).unwrap();
    assert!(commit.tag.is_none(), "a branch has no tag object");
    let (signed, _dir) = get(repo.url(), Reference::Tag("v1.0.0".into()), &Auth::None).unwrap();
    let mut forged = signed.signature.clone().unwrap();
    forged.payload.extend_from_slice(b"evil");
    assert_eq!(
        verify(Some(&forged), &trusted),
        Err(VerifyError::NoMatchingKey("key rings"))
    );
}

#[test]
fn sparse_checkout_and_submodules() {
    let server = GitHttpServer::start().unwrap();
    let nested = server.create_repo("nested").unwrap();
    nested.write("deep.txt", "deep\n").unwrap();
    nested.commit("nested").unwrap();
    let lib = server.create_repo("lib").unwrap();
    lib.write("lib.yaml", "kind: Lib\n").unwrap();
    lib.add_submodule(nested.url(), "nested").unwrap();
    lib.commit("lib").unwrap();
    let repo = server.create_repo("fleet").unwrap();
    repo.write("apps/app.yaml", "kind: App\n").unwrap();
    repo.write("infra/infra.yaml", "kind: Infra\n").unwrap();
    repo.write("docs/readme.md", "docs\n").unwrap();
    repo.add_submodule(lib.url(), "vendor/lib").unwrap();
    repo.commit("fleet").unwrap();

    // Sparse: only the asked folders are in the working tree.
    let dir = tempfile::tempdir().unwrap();
    let options = CheckoutOptions {
        sparse: vec!["apps".into(), "infra/".into()],
        ..CheckoutOptions::default()
    };
    checkout(
        repo.url(),
        &Reference::Branch("main".into()),
        &Auth::None,
        dir.path(),
        &options,
    )
    .unwrap();
    assert!(dir.path().join("apps/app.yaml").is_file());
    assert!(dir.path().join("infra/infra.yaml").is_file());
    assert!(!dir.path().join("docs").exists());
    assert!(!dir.path().join(".gitmodules").exists());

    // Without recursion, a submodule is an empty folder.
    let (_, plain) = get(repo.url(), Reference::Branch("main".into()), &Auth::None).unwrap();
    assert!(!plain.path().join("vendor/lib/lib.yaml").exists());

    // With recursion, submodules of submodules are there too.
    let dir = tempfile::tempdir().unwrap();
    let options = CheckoutOptions {
        recurse_submodules: true,
        ..CheckoutOptions::default()
    };
    checkout(
        repo.url(),
        &Reference::Branch("main".into()),
        &Auth::None,
        dir.path(),
        &options,
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("vendor/lib/lib.yaml")).unwrap(),
        "kind: Lib\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("vendor/lib/nested/deep.txt")).unwrap(),
        "deep\n"
    );

    // A submodule pointing at a local path is refused, not followed.
    let hostile = server.create_repo("hostile").unwrap();
    hostile.write("a.txt", "a").unwrap();
    hostile.add_submodule(nested.url(), "local").unwrap();
    let local = nested.bare_path().to_string_lossy().into_owned();
    hostile
        .write(
            ".gitmodules",
            format!("[submodule \"local\"]\n\tpath = local\n\turl = {local}\n"),
        )
        .unwrap();
    hostile.commit("local submodule").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = checkout(
        hostile.url(),
        &Reference::Branch("main".into()),
        &Auth::None,
        dir.path(),
        &options,
    )
    .unwrap_err();
    assert!(err.to_string().contains("unsupported URL"), "{err}");
}

#[test]
fn https_with_a_private_ca() {
    use flux_testenv::TestCa;
    let ca = TestCa::new("flux-test-git-ca").unwrap();
    let certificate = ca.server_cert("git.test", &["127.0.0.1"]).unwrap();
    let server = GitHttpServer::start_tls(HttpAuth::basic("flux", "s3cret"), &certificate).unwrap();
    let repo = server.create_repo("fleet").unwrap();
    let (_, second) = fleet(&repo);
    assert!(repo.url().starts_with("https://127.0.0.1:"));

    let secret = |ca_pem: &str| {
        let mut data = BTreeMap::new();
        data.insert("username".to_string(), b"flux".to_vec());
        data.insert("password".to_string(), b"s3cret".to_vec());
        data.insert("ca.crt".to_string(), ca_pem.as_bytes().to_vec());
        Auth::from_secret(&data, repo.url()).unwrap()
    };
    let auth = secret(&ca.cert_pem());
    let (commit, _dir) = get(repo.url(), Reference::Branch("main".into()), &auth).unwrap();
    assert_eq!(commit.hash, second);
    assert_eq!(
        remote_commit(repo.url(), &Reference::Branch("main".into()), &auth).unwrap(),
        Some(second.clone())
    );

    // Without the CA, the system trust store does not know the server.
    let plain = Auth::Basic {
        username: "flux".into(),
        password: "s3cret".into(),
    };
    let err = get(repo.url(), Reference::Branch("main".into()), &plain).unwrap_err();
    assert!(!err.is_authentication(), "{err}");

    // Another CA: refused, and the error says why.
    let other = TestCa::new("someone-else").unwrap();
    let err = get(
        repo.url(),
        Reference::Branch("main".into()),
        &secret(&other.cert_pem()),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    assert!(err.to_string().contains("not trusted by 'ca.crt'"), "{err}");

    // A certificate for another name, from the right CA: refused.
    let wrong_name = ca
        .server_cert("elsewhere", &["git.example.invalid"])
        .unwrap();
    let elsewhere = GitHttpServer::start_tls(HttpAuth::None, &wrong_name).unwrap();
    let other_repo = elsewhere.create_repo("fleet").unwrap();
    fleet(&other_repo);
    let mut data = BTreeMap::new();
    data.insert("ca.crt".to_string(), ca.cert_pem().into_bytes());
    let auth = Auth::from_secret(&data, other_repo.url()).unwrap();
    let err = get(other_repo.url(), Reference::Branch("main".into()), &auth).unwrap_err();
    assert!(
        err.to_string().contains("not valid for '127.0.0.1'"),
        "{err}"
    );

    // A malformed bundle is a credentials error, not a panic.
    let mut data = BTreeMap::new();
    data.insert("ca.crt".to_string(), b"not a certificate".to_vec());
    let err = Auth::from_secret(&data, repo.url()).unwrap_err();
    assert!(
        err.to_string().contains("'ca.crt' holds no certificate"),
        "{err}"
    );
}

#[test]
fn through_an_http_proxy() {
    use flux_git::Proxy;
    use flux_testenv::{HttpProxy, TestCa};
    let proxy = HttpProxy::start(Some(("squid", "pr0xy"))).unwrap();
    let through = |auth: Auth, password: &str| {
        auth.with_proxy(Proxy {
            address: proxy.url(),
            username: Some("squid".into()),
            password: Some(password.into()),
        })
    };

    // HTTPS behind a private CA, tunnelled with CONNECT through an
    // authenticating proxy.
    let ca = TestCa::new("proxy-test-ca").unwrap();
    let certificate = ca.server_cert("git", &["127.0.0.1"]).unwrap();
    let server = GitHttpServer::start_tls(HttpAuth::None, &certificate).unwrap();
    let repo = server.create_repo("fleet").unwrap();
    let (_, head) = fleet(&repo);
    let port = repo
        .url()
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut data = BTreeMap::new();
    data.insert("ca.crt".to_string(), ca.cert_pem().into_bytes());
    let tls = Auth::from_secret(&data, repo.url()).unwrap();
    let (commit, _dir) = get(
        repo.url(),
        Reference::Branch("main".into()),
        &through(tls.clone(), "pr0xy"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", proxy.log()));
    assert_eq!(commit.hash, head);
    assert_eq!(
        remote_commit(
            repo.url(),
            &Reference::Branch("main".into()),
            &through(tls.clone(), "pr0xy")
        )
        .unwrap(),
        Some(head.clone())
    );
    let log = proxy.log();
    assert!(log.contains(&format!("CONNECT 127.0.0.1:{port}")), "{log}");

    // Wrong proxy credentials: refused by the proxy, with a message that says so.
    let err = get(
        repo.url(),
        Reference::Branch("main".into()),
        &through(tls, "wrong"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("proxy"), "{err}");

    // Plain http:// through a proxy is refused up front: libgit2 would send
    // the proxy's request to the Git server itself.
    let plain = GitHttpServer::start().unwrap();
    let plain_repo = plain.create_repo("fleet").unwrap();
    fleet(&plain_repo);
    let err = get(
        plain_repo.url(),
        Reference::Branch("main".into()),
        &through(Auth::None, "pr0xy"),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("only https:// remotes can use a proxy"),
        "{err}"
    );
}

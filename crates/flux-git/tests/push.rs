//! `commit_and_push` against real servers: git http-backend (basic auth)
//! and OpenSSH, read back with the real `git`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use flux_git::{Auth, Author, Change, KnownHosts, Pushed, commit_and_push};
use flux_testenv::{GitHttpServer, GitSshServer, HttpAuth, git};

fn author() -> Author {
    Author {
        name: "Flux".to_string(),
        email: "flux@example.com".to_string(),
    }
}

fn change(path: &str, contents: Option<&str>) -> Change {
    Change {
        path: path.to_string(),
        contents: contents.map(|c| c.as_bytes().to_vec()),
    }
}

/// The file at `path` on `branch` of the bare repository, by the real git.
fn show(bare: &std::path::Path, branch: &str, path: &str) -> Option<String> {
    git(bare, &["show", &format!("{branch}:{path}")]).ok()
}

#[test]
fn http_push_creates_updates_and_is_idempotent() {
    let server = GitHttpServer::start_with_auth(HttpAuth::basic("git", "s3cret")).unwrap();
    let repo = server.create_repo("fleet").unwrap();
    repo.write("README.md", "fleet\n").unwrap();
    let first = repo.commit("initial").unwrap();
    let auth = Auth::Basic {
        username: "git".to_string(),
        password: "s3cret".to_string(),
    };
    let url = server.url("fleet");

    // New files in nested folders, on the existing branch.
    let changes = [
        change("clusters/dev/flux-system/gotk-sync.yaml", Some("kind: A\n")),
        change(
            "clusters/dev/flux-system/kustomization.yaml",
            Some("kind: B\n"),
        ),
    ];
    let pushed = commit_and_push(&url, "main", &auth, &changes, "Add Flux", &author()).unwrap();
    let Pushed::Commit(hash) = &pushed else {
        panic!("expected a commit, got {pushed:?}");
    };
    let bare = repo.bare_path();
    assert_eq!(git(bare, &["rev-parse", "main"]).unwrap().trim(), hash);
    assert_eq!(
        git(bare, &["rev-parse", "main^"]).unwrap().trim(),
        first,
        "the new commit's parent is the old tip"
    );
    assert_eq!(
        git(bare, &["log", "-1", "--format=%an <%ae>|%s", "main"])
            .unwrap()
            .trim(),
        "Flux <flux@example.com>|Add Flux"
    );
    assert_eq!(show(bare, "main", "README.md").as_deref(), Some("fleet\n"));
    assert_eq!(
        show(bare, "main", "clusters/dev/flux-system/gotk-sync.yaml").as_deref(),
        Some("kind: A\n")
    );

    // The same contents again: nothing committed.
    let again = commit_and_push(&url, "main", &auth, &changes, "Add Flux", &author()).unwrap();
    assert_eq!(again, Pushed::Unchanged(hash.clone()));

    // A change and a deletion; the emptied folder disappears.
    let update = [
        change("clusters/dev/flux-system/gotk-sync.yaml", Some("kind: C\n")),
        change("clusters/dev/flux-system/kustomization.yaml", None),
    ];
    let next = commit_and_push(&url, "main", &auth, &update, "Update", &author()).unwrap();
    assert!(matches!(next, Pushed::Commit(_)));
    assert_eq!(
        show(bare, "main", "clusters/dev/flux-system/gotk-sync.yaml").as_deref(),
        Some("kind: C\n")
    );
    assert_eq!(
        show(bare, "main", "clusters/dev/flux-system/kustomization.yaml"),
        None
    );

    // A branch the remote does not have yet starts from nothing.
    let created =
        commit_and_push(&url, "staging", &auth, &changes[..1], "Start", &author()).unwrap();
    assert!(matches!(created, Pushed::Commit(_)));
    assert_eq!(show(bare, "staging", "README.md"), None);
    assert!(
        git(bare, &["rev-parse", "staging^"]).is_err(),
        "a root commit"
    );

    // Wrong credentials: an authentication error, nothing pushed.
    let wrong = Auth::Basic {
        username: "git".to_string(),
        password: "wrong".to_string(),
    };
    let tip = git(bare, &["rev-parse", "main"]).unwrap();
    let err = commit_and_push(&url, "main", &wrong, &update, "x", &author()).unwrap_err();
    assert!(err.is_authentication(), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "no secret in errors: {err}"
    );
    assert_eq!(git(bare, &["rev-parse", "main"]).unwrap(), tip);

    // Paths outside the repository are refused before anything happens.
    for bad in ["../escape", "/abs", "a/../../b", ".git/config", ""] {
        let err = commit_and_push(
            &url,
            "main",
            &auth,
            &[change(bad, Some("x"))],
            "x",
            &author(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid path"), "{bad}: {err}");
    }
}

#[test]
fn ssh_push_with_known_hosts() {
    let server = GitSshServer::start().unwrap();
    let repo = server.create_repo("fleet").unwrap();
    repo.write("README.md", "fleet\n").unwrap();
    repo.commit("initial").unwrap();
    let auth = Auth::Ssh {
        private_key: server.client_private_key().unwrap(),
        passphrase: None,
        known_hosts: KnownHosts::parse(server.known_hosts()).unwrap(),
    };
    let url = server.url("fleet");
    let pushed = commit_and_push(
        &url,
        "main",
        &auth,
        &[change("apps/app.yaml", Some("kind: ConfigMap\n"))],
        "Add app",
        &author(),
    )
    .unwrap();
    assert_eq!(
        git(repo.bare_path(), &["rev-parse", "main"])
            .unwrap()
            .trim(),
        pushed.hash()
    );
    assert_eq!(
        show(repo.bare_path(), "main", "apps/app.yaml").as_deref(),
        Some("kind: ConfigMap\n")
    );
}

/// `commit_to`: on a given parent (refused when its reference moved
/// meanwhile), to another branch with force, and a second refspec.
#[test]
fn commits_on_a_parent_force_and_refspecs() {
    let server = GitHttpServer::start_with_auth(HttpAuth::basic("git", "s3cret")).unwrap();
    let repo = server.create_repo("fleet").unwrap();
    repo.write("app.yaml", "tag: 1\n").unwrap();
    let base = repo.commit("initial").unwrap();
    let auth = Auth::Basic {
        username: "git".to_string(),
        password: "s3cret".to_string(),
    };
    let url = server.url("fleet");
    let bare = repo.bare_path();
    let changes = [change("app.yaml", Some("tag: 2\n"))];
    let onto =
        |branch: &'static str, force: bool, refspec: Option<&'static str>| flux_git::Target {
            branch,
            base: Some(("refs/heads/main", base.as_str())),
            pinned: false,
            force,
            refspec,
            push_options: &[],
            signer: None,
        };

    // Another branch, forced, from main's tip; a refspec pushes it on.
    let pushed = flux_git::commit_to(
        &url,
        &auth,
        &onto("auto", true, Some("refs/heads/auto:refs/heads/review")),
        &changes,
        "Update",
        &author(),
    )
    .unwrap();
    let hash = pushed.hash().to_string();
    assert_eq!(git(bare, &["rev-parse", "auto"]).unwrap().trim(), hash);
    assert_eq!(git(bare, &["rev-parse", "review"]).unwrap().trim(), hash);
    assert_eq!(git(bare, &["rev-parse", "auto^"]).unwrap().trim(), base);
    assert_eq!(git(bare, &["rev-parse", "main"]).unwrap().trim(), base);
    // Again, with other contents: `auto` is reset from main (force).
    let again = flux_git::commit_to(
        &url,
        &auth,
        &onto("auto", true, None),
        &[change("app.yaml", Some("tag: 3\n"))],
        "Update again",
        &author(),
    )
    .unwrap();
    assert_eq!(
        git(bare, &["rev-parse", "auto^"]).unwrap().trim(),
        base,
        "the branch was rebuilt on main, not stacked"
    );
    assert_ne!(again.hash(), hash);

    // Someone pushes to main meanwhile: nothing is pushed, the caller is
    // told to start again.
    repo.write("other.yaml", "x\n").unwrap();
    let moved = repo.commit("someone else").unwrap();
    let err = flux_git::commit_to(
        &url,
        &auth,
        &onto("main", false, None),
        &changes,
        "x",
        &author(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, flux_git::Error::BaseMoved { found, .. } if *found == moved),
        "{err}"
    );
    assert_eq!(git(bare, &["rev-parse", "main"]).unwrap().trim(), moved);
}

/// Signed commits, checked by the real `git verify-commit` (gpg for the
/// OpenPGP keys, `ssh-keygen -Y` for the SSH ones) and by our verifier;
/// keys with passphrases; the refusals of unusable keys.
#[test]
fn signed_commits_verify_with_git() {
    use flux_git::{KeyError, Signer};
    use flux_testenv::SigningKey;

    let server = GitHttpServer::start().unwrap();
    let repo = server.create_repo("fleet").unwrap();
    repo.write("app.yaml", "tag: 0\n").unwrap();
    repo.commit("initial").unwrap();
    let url = server.url("fleet");
    let bare = repo.bare_path();

    let gpg = SigningKey::gpg("Flux <flux@example.com>").unwrap();
    let gpg_protected = SigningKey::gpg_protected("Flux <flux@example.com>", "abcde12345").unwrap();
    let ssh = SigningKey::ssh().unwrap();
    let ssh_protected = SigningKey::ssh_protected("abcde12345").unwrap();
    let signers = [
        (
            &gpg,
            Signer::openpgp(gpg.private_key().unwrap().as_bytes(), None).unwrap(),
        ),
        (
            &gpg_protected,
            Signer::openpgp(
                gpg_protected.private_key().unwrap().as_bytes(),
                Some(b"abcde12345"),
            )
            .unwrap(),
        ),
        (
            &ssh,
            Signer::ssh(ssh.private_key().unwrap().as_bytes(), None).unwrap(),
        ),
        (
            &ssh_protected,
            Signer::ssh(
                ssh_protected.private_key().unwrap().as_bytes(),
                Some(b"abcde12345"),
            )
            .unwrap(),
        ),
    ];
    for (i, (key, signer)) in signers.iter().enumerate() {
        let target = flux_git::Target {
            branch: "main",
            signer: Some(signer),
            ..flux_git::Target::default()
        };
        let changes = [change("app.yaml", Some(&format!("tag: {}\n", i + 1)))];
        let pushed =
            flux_git::commit_to(&url, &Auth::None, &target, &changes, "Update", &author()).unwrap();
        let hash = pushed.hash().to_string();
        assert_eq!(git(bare, &["rev-parse", "main"]).unwrap().trim(), hash);
        let report = key
            .verify_commit(bare, &hash, "flux@example.com")
            .unwrap_or_else(|e| panic!("{signer:?}: {e}"));
        assert!(
            report.contains("GOODSIG") || report.contains("Good \"git\" signature"),
            "{signer:?}: {report}"
        );
        // A key that did not sign is refused by git.
        let other = if i < 2 { &ssh } else { &gpg };
        assert!(
            other
                .verify_commit(bare, &hash, "flux@example.com")
                .is_err(),
            "{signer:?}"
        );
        // Our verifier (GitRepository `verify`) agrees.
        let dir = tempfile::tempdir().unwrap();
        let commit = flux_git::checkout(
            &url,
            &flux_git::Reference::Branch("main".into()),
            &Auth::None,
            dir.path(),
            &flux_git::CheckoutOptions::default(),
        )
        .unwrap();
        assert_eq!(commit.hash, hash);
        let id =
            flux_git::signature::verify(commit.signature.as_ref(), &[key.public_key().as_bytes()])
                .unwrap();
        assert_eq!(id, key.id().unwrap());
        assert_eq!(
            show(bare, "main", "app.yaml").unwrap(),
            format!("tag: {}\n", i + 1)
        );
    }

    // Commit objects written by us and pushed from a depth-1 fetch are
    // well-formed and complete for the real git.
    git(bare, &["fsck", "--strict", "--no-dangling"]).unwrap();

    // Refusals, with messages that hold no key material.
    let armored = gpg_protected.private_key().unwrap();
    assert_eq!(
        Signer::openpgp(armored.as_bytes(), None).unwrap_err(),
        KeyError::PassphraseRequired
    );
    let wrong = Signer::openpgp(armored.as_bytes(), Some(b"wrong")).unwrap_err();
    assert!(matches!(wrong, KeyError::Decrypt(_)), "{wrong:?}");
    // Two armored blocks: the first is read, as Go's ReadArmoredKeyRing does.
    let both = format!("{}\n{}", gpg.private_key().unwrap(), armored);
    let first = Signer::openpgp(both.as_bytes(), None).unwrap();
    assert!(
        format!("{first:?}").contains(&gpg.id().unwrap()),
        "{first:?}"
    );
    let public = Signer::openpgp(gpg.public_key().as_bytes(), None).unwrap_err();
    assert!(matches!(public, KeyError::Unreadable(_)), "{public:?}");
    assert_eq!(
        Signer::ssh(ssh_protected.private_key().unwrap().as_bytes(), None).unwrap_err(),
        KeyError::PassphraseRequired
    );
    let garbage = Signer::ssh(b"not a key", None).unwrap_err();
    assert!(matches!(garbage, KeyError::Unreadable(_)), "{garbage:?}");
}

//! Commit files onto a branch of a remote and push: what `flux bootstrap`
//! and image automation do. No working tree: the new tree is built in the
//! object database from the branch's tip, so only the changed paths are
//! written, and nothing is committed when nothing changed.

use std::cell::RefCell;

use git2::{AutotagOption, FileMode, Oid, PushOptions, Repository, Tree};

use crate::auth::Auth;
use crate::checkout::{
    ProxyRoute, Reference, bearer_header, callbacks, check_proxy, classify, fetch_options,
    git_error, ls_remote, scratch_dir,
};
use crate::error::{Error, Result};

/// One path to change in the commit.
#[derive(Clone, Debug)]
pub struct Change {
    /// Slash-separated path from the repository root (no `..`, no leading
    /// slash).
    pub path: String,
    /// The new contents, or `None` to delete the file.
    pub contents: Option<Vec<u8>>,
}

/// Who commits.
#[derive(Clone, Debug)]
pub struct Author {
    /// Name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// What [`commit_and_push`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// A new commit, pushed.
    Commit(String),
    /// The branch already held these contents: its tip, untouched.
    Unchanged(String),
}

impl Pushed {
    /// The commit the branch points at afterwards.
    pub fn hash(&self) -> &str {
        match self {
            Pushed::Commit(h) | Pushed::Unchanged(h) => h,
        }
    }
}

/// Where [`commit_to`] commits and pushes.
#[derive(Clone, Debug, Default)]
pub struct Target<'a> {
    /// The branch pushed.
    pub branch: &'a str,
    /// The parent: the remote reference it is fetched from and the commit
    /// the changes were computed on; when that reference points elsewhere
    /// now, nothing is pushed ([`Error::BaseMoved`]). `None`: the tip of
    /// `branch` (created when the remote has none).
    pub base: Option<(&'a str, &'a str)>,
    /// The base commit need only be in the history of the base reference,
    /// not its tip: a checkout pinned to a commit.
    pub pinned: bool,
    /// Push with force: `branch` becomes the base plus the new commit,
    /// whatever it held.
    pub force: bool,
    /// A second refspec pushed after the branch (its source may be the
    /// branch or `HEAD`).
    pub refspec: Option<&'a str>,
    /// `git push -o` options.
    pub push_options: &'a [String],
    /// Signs the commit (`gpgsig` header), as `git commit -S` does.
    pub signer: Option<&'a crate::sign::Signer>,
}

/// Applies `changes` on top of `branch` of `url` (creating the branch when
/// the remote has none), commits them with `message`, and pushes. A push
/// the remote refuses (someone pushed in between, a protected branch) is
/// an error; nothing is forced.
pub fn commit_and_push(
    url: &str,
    branch: &str,
    auth: &Auth,
    changes: &[Change],
    message: &str,
    author: &Author,
) -> Result<Pushed> {
    let target = Target {
        branch,
        ..Target::default()
    };
    commit_to(url, auth, &target, changes, message, author)
}

/// Applies `changes` on top of the parent `target` names, commits them
/// with `message` and pushes to `target.branch` (and `target.refspec`).
/// Nothing is committed when the changes leave the parent's tree as it
/// was.
pub fn commit_to(
    url: &str,
    auth: &Auth,
    target: &Target<'_>,
    changes: &[Change],
    message: &str,
    author: &Author,
) -> Result<Pushed> {
    for change in changes {
        check_path(&change.path)?;
    }
    if let Some(bad) = target.push_options.iter().find(|o| o.contains('\0')) {
        return Err(Error::InvalidPath(format!(
            "push option {bad:?} holds a NUL byte"
        )));
    }
    check_proxy(url, auth)?;
    let dir = scratch_dir("push");
    let result = (|| {
        let repo = Repository::init_bare(&dir).map_err(git_error("initialising", url))?;
        let remote_ref = format!("refs/heads/{}", target.branch);
        let parent = match target.base {
            Some((base_ref, expected)) => {
                let tip = fetch_tip(&repo, url, base_ref, auth, target.pinned)?;
                if tip.to_string() == expected {
                    Some(tip)
                } else {
                    let pinned = Oid::from_str(expected).ok().filter(|oid| {
                        target.pinned && repo.graph_descendant_of(tip, *oid).unwrap_or(false)
                    });
                    match pinned {
                        Some(oid) => Some(oid),
                        None => {
                            return Err(Error::BaseMoved {
                                reference: base_ref.to_string(),
                                expected: expected.to_string(),
                                found: tip.to_string(),
                            });
                        }
                    }
                }
            }
            None => {
                let exists = ls_remote(url, auth)?
                    .iter()
                    .any(|(name, _)| *name == remote_ref);
                if exists {
                    Some(fetch_tip(&repo, url, &remote_ref, auth, false)?)
                } else {
                    None
                }
            }
        };
        let parent_commit = match parent {
            Some(oid) => Some(repo.find_commit(oid).map_err(git_error("reading", url))?),
            None => None,
        };
        let base_tree = match &parent_commit {
            Some(c) => Some(c.tree().map_err(git_error("reading", url))?),
            None => None,
        };
        let mut tree = base_tree.as_ref().map(Tree::id);
        for change in changes {
            let parts: Vec<&str> = change.path.split('/').collect();
            let blob = match &change.contents {
                Some(bytes) => Some(repo.blob(bytes).map_err(git_error("writing", url))?),
                None => None,
            };
            tree = update_tree(&repo, tree, &parts, blob).map_err(git_error("writing", url))?;
        }
        let tree_id = match tree {
            Some(id) => id,
            None => repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .map_err(git_error("writing", url))?,
        };
        if let (Some(base), Some(parent)) = (&base_tree, &parent_commit)
            && base.id() == tree_id
        {
            return Ok(Pushed::Unchanged(parent.id().to_string()));
        }
        let parents: Vec<Oid> = parent_commit.iter().map(git2::Commit::id).collect();
        let mut object = commit_object(tree_id, &parents, author, message);
        if let Some(signer) = target.signer {
            let gpgsig = signer.sign(&object).map_err(Error::Signing)?;
            object = with_signature(&object, &gpgsig);
        }
        let commit = repo
            .odb()
            .and_then(|odb| odb.write(git2::ObjectType::Commit, &object))
            .map_err(git_error("committing", url))?;
        repo.reference(&remote_ref, commit, true, "commit")
            .map_err(git_error("committing", url))?;
        repo.set_head(&remote_ref)
            .map_err(git_error("committing", url))?;
        let prefix = if target.force { "+" } else { "" };
        push(
            &repo,
            url,
            &format!("{prefix}{remote_ref}:{remote_ref}"),
            auth,
            target.push_options,
        )?;
        if let Some(refspec) = target.refspec {
            push(&repo, url, refspec, auth, target.push_options)?;
        }
        Ok(Pushed::Commit(commit.to_string()))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The commit object `git commit` writes: author and committer are both
/// `author` now (UTC). An empty name is written as go-git writes it
/// (libgit2 refuses one); `<`, `>` and line breaks, which would corrupt
/// the header, are left out.
fn commit_object(tree: Oid, parents: &[Oid], author: &Author, message: &str) -> Vec<u8> {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '<' | '>' | '\n' | '\r' | '\0'))
            .collect::<String>()
            .trim()
            .to_string()
    };
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let who = format!(
        "{} <{}> {seconds} +0000",
        clean(&author.name),
        clean(&author.email)
    );
    let mut out = format!("tree {tree}\n");
    for parent in parents {
        out.push_str(&format!("parent {parent}\n"));
    }
    out.push_str(&format!("author {who}\ncommitter {who}\n\n"));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(message.replace('\0', "").as_bytes());
    bytes
}

/// `object` with the `gpgsig` header holding `signature` (its lines after
/// the first indented by one space), after the committer line.
fn with_signature(object: &[u8], signature: &str) -> Vec<u8> {
    let split = object
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(object.len(), |i| i + 1);
    let mut header = String::from("gpgsig");
    for line in signature.trim_end().split('\n') {
        header.push(' ');
        header.push_str(line.trim_end_matches('\r'));
        header.push('\n');
    }
    let mut out = object[..split].to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&object[split..]);
    out
}

fn check_path(path: &str) -> Result<()> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == ".." || part == ".git");
    if bad {
        return Err(Error::InvalidPath(format!(
            "'{path}' is not a plain relative path inside the repository"
        )));
    }
    Ok(())
}

/// Fetches `remote_ref` into the scratch repository: its tip only
/// (depth 1) unless `history` is asked for.
fn fetch_tip(
    repo: &Repository,
    url: &str,
    remote_ref: &str,
    auth: &Auth,
    history: bool,
) -> Result<Oid> {
    let route = ProxyRoute::new(url, auth)?;
    let host_key_failure = RefCell::new(None);
    let auth_attempted = RefCell::new(false);
    let mut fetch = fetch_options(url, auth, &route, &host_key_failure, &auth_attempted);
    fetch.download_tags(AutotagOption::None);
    if !history {
        fetch.depth(1);
    }
    let local = "refs/flux/base";
    let refspec = format!("+{remote_ref}:{local}");
    let mut remote = repo
        .remote_anonymous(url)
        .map_err(git_error("opening", url))?;
    if let Err(e) = remote.fetch(&[refspec.as_str()], Some(&mut fetch), None) {
        let reference = Reference::Name(remote_ref.to_string());
        return Err(classify(
            e,
            url,
            &reference,
            &host_key_failure,
            &auth_attempted,
        ));
    }
    // An annotated tag is peeled to its commit.
    repo.find_reference(local)
        .and_then(|r| r.peel_to_commit())
        .map(|c| c.id())
        .map_err(git_error("fetching", url))
}

fn push(
    repo: &Repository,
    url: &str,
    refspec: &str,
    auth: &Auth,
    push_options: &[String],
) -> Result<()> {
    let route = ProxyRoute::new(url, auth)?;
    let host_key_failure = RefCell::new(None);
    let auth_attempted = RefCell::new(false);
    let rejected: RefCell<Option<String>> = RefCell::new(None);
    let mut cbs = callbacks(url, auth, &host_key_failure, &auth_attempted);
    cbs.push_update_reference(|name, status| {
        if let Some(status) = status {
            rejected.replace(Some(format!("{name}: {status}")));
        }
        Ok(())
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(cbs);
    let push_options: Vec<&str> = push_options.iter().map(String::as_str).collect();
    if !push_options.is_empty() {
        options.remote_push_options(&push_options);
    }
    let headers = bearer_header(auth);
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    options.custom_headers(&header_refs);
    if let Some(proxy) = route.options() {
        options.proxy_options(proxy);
    }
    let mut remote = repo
        .remote_anonymous(url)
        .map_err(git_error("opening", url))?;
    if let Err(e) = remote.push(&[refspec], Some(&mut options)) {
        let destination = refspec.rsplit(':').next().unwrap_or(refspec);
        let reference = Reference::Name(destination.to_string());
        return Err(classify(
            e,
            url,
            &reference,
            &host_key_failure,
            &auth_attempted,
        ));
    }
    drop(options);
    if let Some(reason) = rejected.into_inner() {
        return Err(Error::Git {
            operation: "pushing to".to_string(),
            url: crate::auth::redact(url),
            source: git2::Error::from_str(&format!("the remote refused the update of {reason}")),
        });
    }
    Ok(())
}

/// The tree `base` with `path` set to `blob` (or removed when `None`);
/// `None` when the result is empty.
fn update_tree(
    repo: &Repository,
    base: Option<Oid>,
    path: &[&str],
    blob: Option<Oid>,
) -> std::result::Result<Option<Oid>, git2::Error> {
    let base_tree = match base {
        Some(id) => Some(repo.find_tree(id)?),
        None => None,
    };
    let mut builder = repo.treebuilder(base_tree.as_ref())?;
    let Some((name, rest)) = path.split_first() else {
        return Ok(base);
    };
    if rest.is_empty() {
        match blob {
            Some(oid) => {
                builder.insert(name, oid, FileMode::Blob.into())?;
            }
            None => {
                if builder.get(name)?.is_some() {
                    builder.remove(name)?;
                }
            }
        }
    } else {
        let child = builder
            .get(name)?
            .filter(|e| e.kind() == Some(git2::ObjectType::Tree))
            .map(|e| e.id());
        match update_tree(repo, child, rest, blob)? {
            Some(oid) => {
                builder.insert(name, oid, FileMode::Tree.into())?;
            }
            None => {
                if builder.get(name)?.is_some() {
                    builder.remove(name)?;
                }
            }
        }
    }
    if builder.is_empty() {
        return Ok(None);
    }
    Ok(Some(builder.write()?))
}

/// The SSH host key the server at `url` (an `ssh://` URL) presents, as a
/// `known_hosts` line — trust on first use, as `flux bootstrap` and
/// `flux create secret git` do when no `known_hosts` is given.
pub fn scan_known_hosts(url: &str) -> Result<String> {
    if !crate::auth::is_ssh(url) {
        return Err(Error::InvalidAuth(format!(
            "cannot scan host keys of '{}': not an SSH URL",
            crate::auth::redact(url)
        )));
    }
    let dir = scratch_dir("scan");
    let found: RefCell<Option<String>> = RefCell::new(None);
    let result = (|| {
        let repo = Repository::init_bare(&dir).map_err(git_error("initialising", url))?;
        let mut remote = repo
            .remote_anonymous(url)
            .map_err(git_error("opening", url))?;
        let (host, port) = crate::auth::ssh_host_port(url);
        let mut cbs = git2::RemoteCallbacks::new();
        cbs.certificate_check(|cert, _| {
            if let Some(key) = cert.as_hostkey()
                && let (Some(bytes), Some(kind)) = (key.hostkey(), key.hostkey_type())
            {
                use base64::Engine as _;
                let name = match port {
                    Some(p) if p != 22 => format!("[{host}]:{p}"),
                    _ => host.clone(),
                };
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                found.replace(Some(format!("{name} {} {encoded}", kind.name())));
            }
            // Stop here: the key is all this connection was for.
            Err(git2::Error::from_str("host key scanned"))
        });
        let _ = remote.connect_auth(git2::Direction::Fetch, Some(cbs), None);
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    found.into_inner().ok_or_else(|| Error::HostKey {
        host: crate::auth::redact(url),
        reason: "the server presented no SSH host key".to_string(),
    })
}

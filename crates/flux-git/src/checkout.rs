//! Fetching one reference of a remote into a fresh folder and checking it
//! out — a shallow clone unless a specific commit is asked for — and asking a
//! remote where a reference points without cloning.

use std::cell::RefCell;
use std::path::Path;

use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, Direction, FetchOptions,
    RemoteCallbacks, Repository,
};

use crate::auth::{Auth, is_ssh, redact, ssh_host_port, ssh_user};
use crate::error::{Error, Result};
use crate::proxy_shim::ProxyRelay;
use crate::signature::{Signed, split_tag};

/// The branch checked out when a GitRepository names no reference
/// (upstream's default).
pub const DEFAULT_BRANCH: &str = "master";

/// What to check out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// The tip of a branch.
    Branch(String),
    /// A tag (annotated tags are peeled to their commit).
    Tag(String),
    /// The highest tag satisfying a semver range (Masterminds syntax).
    Semver(String),
    /// Any reference by full name (`refs/heads/main`, `refs/pull/7/head`).
    Name(String),
    /// A commit, looked for on `branch` (or on the remote's HEAD).
    Commit {
        /// The commit SHA.
        sha: String,
        /// The branch that contains it.
        branch: Option<String>,
    },
}

impl Reference {
    /// The text used in revisions and messages.
    fn describe(&self) -> String {
        match self {
            Reference::Branch(b) => format!("branch '{b}'"),
            Reference::Tag(t) => format!("tag '{t}'"),
            Reference::Semver(range) => format!("semver range '{range}'"),
            Reference::Name(n) => format!("reference '{n}'"),
            Reference::Commit { sha, .. } => format!("commit '{sha}'"),
        }
    }

    /// The remote reference to fetch.
    fn remote_ref(&self) -> String {
        match self {
            Reference::Branch(b) => format!("refs/heads/{b}"),
            Reference::Tag(t) => format!("refs/tags/{t}"),
            // Resolved to a tag before fetching.
            Reference::Semver(range) => format!("refs/tags/{range}"),
            Reference::Name(n) => n.clone(),
            Reference::Commit {
                branch: Some(b), ..
            } => format!("refs/heads/{b}"),
            Reference::Commit { branch: None, .. } => "HEAD".to_string(),
        }
    }
}

/// Options of [`checkout`].
#[derive(Clone, Debug)]
pub struct CheckoutOptions {
    /// Fetch only the tip (depth 1). Ignored for commits.
    pub shallow: bool,
    /// Check out only these folders (sparse checkout); everything when empty.
    pub sparse: Vec<String>,
    /// Check out submodules too, recursively, with the same credentials.
    /// Only `http(s)://` and `ssh://` submodule URLs (or relative ones) are
    /// followed: a repository cannot make the controller read local paths.
    pub recurse_submodules: bool,
    /// Refuse a commit whose files (the checked-out part) add up to more
    /// bytes than this, before writing any of them.
    pub max_bytes: u64,
    /// Refuse a commit with more files than this (the checked-out part).
    pub max_files: u64,
}

impl Default for CheckoutOptions {
    fn default() -> Self {
        Self {
            shallow: true,
            sparse: Vec::new(),
            recurse_submodules: false,
            max_bytes: u64::MAX,
            max_files: u64::MAX,
        }
    }
}

/// The commit checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The commit SHA (hex).
    pub hash: String,
    /// The reference it was reached by, as revisions print it: the branch
    /// or tag name, the full name for `Name`, none for a commit.
    pub reference: Option<String>,
    /// The commit message.
    pub message: String,
    /// `Name <email>` of the author.
    pub author: String,
    /// The commit's signature (`gpgsig` header) and signed payload.
    pub signature: Option<Signed>,
    /// The annotated tag the commit was reached through, if any.
    pub tag: Option<Tag>,
}

/// An annotated tag object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    /// The tag name.
    pub name: String,
    /// The tag object's SHA.
    pub hash: String,
    /// Its signature and signed payload, when signed.
    pub signature: Option<Signed>,
}

/// Fetches `reference` of `url` into the empty folder `dest` and checks it
/// out (no `.git` is needed afterwards by callers, but it is left in place).
pub fn checkout(
    url: &str,
    reference: &Reference,
    auth: &Auth,
    dest: &Path,
    options: &CheckoutOptions,
) -> Result<Commit> {
    if let Reference::Semver(range) = reference {
        let tag = resolve_semver(url, range, auth)?;
        return checkout(url, &Reference::Tag(tag), auth, dest, options);
    }
    check_proxy(url, auth)?;
    // Objects were hashed when the pack was indexed: hashing them again on
    // every read during checkout only costs time (a process-wide setting).
    git2::opts::strict_hash_verification(false);
    let repo = Repository::init(dest).map_err(git_error("initialising", url))?;
    let route = ProxyRoute::new(url, auth)?;
    let host_key_failure = RefCell::new(None);
    let auth_attempted = RefCell::new(false);
    let mut fetch = fetch_options(url, auth, &route, &host_key_failure, &auth_attempted);
    let shallow = options.shallow && !matches!(reference, Reference::Commit { .. });
    if shallow {
        fetch.depth(1);
    }
    fetch.download_tags(AutotagOption::None);
    let remote_ref = reference.remote_ref();
    let local_ref = "refs/flux/checkout";
    let refspec = format!("+{remote_ref}:{local_ref}");
    // A named remote, so that relative submodule URLs resolve against it.
    let mut remote = repo
        .remote_with_fetch("origin", url, &refspec)
        .map_err(git_error("opening", url))?;
    let fetched = remote.fetch(&[refspec.as_str()], Some(&mut fetch), None);
    if let Err(e) = fetched {
        return Err(classify(
            e,
            url,
            reference,
            &host_key_failure,
            &auth_attempted,
        ));
    }
    let target = repo
        .find_reference(local_ref)
        .map_err(|e| Error::ReferenceNotFound {
            reference: reference.describe(),
            message: e.message().to_string(),
        })?;
    let tag = annotated_tag(&repo, &target, reference);
    let fetched_commit = target
        .peel_to_commit()
        .map_err(git_error("resolving the fetched reference of", url))?;
    let commit = match reference {
        Reference::Commit { sha, .. } => {
            let oid = git2::Oid::from_str(sha).map_err(|e| Error::ReferenceNotFound {
                reference: reference.describe(),
                message: e.message().to_string(),
            })?;
            repo.find_commit(oid)
                .map_err(|_| Error::ReferenceNotFound {
                    reference: reference.describe(),
                    message: format!("not found on {}", remote_ref),
                })?
        }
        _ => fetched_commit,
    };
    check_size(&repo, &commit, options)?;
    let mut builder = git2::build::CheckoutBuilder::new();
    // Content as committed: no smudge/CRLF filters (as upstream's go-git).
    builder.force().disable_filters(true);
    for dir in &options.sparse {
        builder.path(dir.trim_matches('/'));
    }
    repo.checkout_tree(commit.as_object(), Some(&mut builder))
        .map_err(git_error("checking out", url))?;
    repo.set_head_detached(commit.id())
        .map_err(git_error("checking out", url))?;
    if options.recurse_submodules {
        update_submodules(&repo, url, auth, 0)?;
    }
    let author = commit.author();
    Ok(Commit {
        hash: commit.id().to_string(),
        reference: match reference {
            Reference::Branch(b) => Some(b.clone()),
            Reference::Tag(t) | Reference::Semver(t) => Some(t.clone()),
            Reference::Name(n) => Some(n.clone()),
            Reference::Commit { .. } => None,
        },
        message: commit.message().unwrap_or_default().to_string(),
        author: format!(
            "{} <{}>",
            author.name().unwrap_or_default(),
            author.email().unwrap_or_default()
        ),
        signature: repo
            .extract_signature(&commit.id(), None)
            .ok()
            .map(|(signature, payload)| Signed {
                signature: String::from_utf8_lossy(&signature).into_owned(),
                payload: payload.to_vec(),
            }),
        tag,
    })
}

/// Sums the sizes of the blobs to be checked out (object headers only, no
/// content is inflated) and refuses a tree over the limits.
fn check_size(
    repo: &Repository,
    commit: &git2::Commit<'_>,
    options: &CheckoutOptions,
) -> Result<()> {
    if options.max_bytes == u64::MAX && options.max_files == u64::MAX {
        return Ok(());
    }
    let tree = commit
        .tree()
        .map_err(|e| Error::TooLarge(format!("reading the tree: {}", e.message())))?;
    let odb = repo
        .odb()
        .map_err(|e| Error::TooLarge(format!("opening the object database: {}", e.message())))?;
    let sparse: Vec<String> = options
        .sparse
        .iter()
        .map(|d| format!("{}/", d.trim_matches('/')))
        .collect();
    let (mut bytes, mut files) = (0u64, 0u64);
    let mut failure = None;
    let walked = tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok;
        }
        let path = format!("{dir}{}", entry.name().unwrap_or_default());
        if !sparse.is_empty() && !sparse.iter().any(|s| path.starts_with(s.as_str())) {
            return git2::TreeWalkResult::Ok;
        }
        let size = odb
            .read_header(entry.id())
            .map(|(size, _)| size as u64)
            .unwrap_or(0);
        bytes = bytes.saturating_add(size);
        files += 1;
        if bytes > options.max_bytes {
            failure = Some(format!(
                "the files of the commit add up to more than {} bytes (at '{path}')",
                options.max_bytes
            ));
            return git2::TreeWalkResult::Abort;
        }
        if files > options.max_files {
            failure = Some(format!(
                "the commit has more than {} files",
                options.max_files
            ));
            return git2::TreeWalkResult::Abort;
        }
        git2::TreeWalkResult::Ok
    });
    if let Some(message) = failure {
        return Err(Error::TooLarge(message));
    }
    walked.map_err(|e| Error::TooLarge(format!("walking the tree: {}", e.message())))
}

/// How deep submodules of submodules are followed.
const MAX_SUBMODULE_DEPTH: usize = 8;

/// Initialises and checks out every submodule of `repo`, recursively.
fn update_submodules(repo: &Repository, url: &str, auth: &Auth, depth: usize) -> Result<()> {
    if depth > MAX_SUBMODULE_DEPTH {
        return Err(Error::Submodule {
            name: String::new(),
            message: format!("submodules nested deeper than {MAX_SUBMODULE_DEPTH} levels"),
        });
    }
    let submodules: Vec<(String, String)> = repo
        .submodules()
        .map_err(git_error("listing submodules of", url))?
        .iter()
        .map(|s| {
            (
                s.name().unwrap_or_default().to_string(),
                s.url().ok().flatten().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for (name, sub_url) in submodules {
        let resolved = resolve_submodule_url(url, &sub_url).ok_or_else(|| Error::Submodule {
            name: name.clone(),
            message: format!(
                "unsupported URL '{sub_url}': only http(s)://, ssh:// and relative URLs"
            ),
        })?;
        // The resolved URL goes to the repository's config, which wins over
        // `.gitmodules` when the submodule is looked up again.
        let submodule_error = |e: git2::Error| Error::Submodule {
            name: name.clone(),
            message: e.message().to_string(),
        };
        repo.config()
            .and_then(|mut c| c.set_str(&format!("submodule.{name}.url"), &resolved))
            .map_err(submodule_error)?;
        let mut submodule = repo.find_submodule(&name).map_err(submodule_error)?;
        let route = ProxyRoute::new(&resolved, auth)?;
        let host_key_failure = RefCell::new(None);
        let auth_attempted = RefCell::new(false);
        let fetch = fetch_options(&resolved, auth, &route, &host_key_failure, &auth_attempted);
        let mut update = git2::SubmoduleUpdateOptions::new();
        update.fetch(fetch);
        if let Err(e) = submodule.update(true, Some(&mut update)) {
            if let Some(failure) = host_key_failure.borrow_mut().take() {
                return Err(failure);
            }
            return Err(Error::Submodule {
                name,
                message: e.message().to_string(),
            });
        }
        let sub_repo = submodule.open().map_err(|e| Error::Submodule {
            name: name.clone(),
            message: e.message().to_string(),
        })?;
        update_submodules(&sub_repo, &resolved, auth, depth + 1)?;
    }
    Ok(())
}

/// A submodule URL made absolute against its parent's `url`; `None` for
/// schemes other than http(s) and ssh (`file://`, local paths, `ext::`).
pub(crate) fn resolve_submodule_url(parent: &str, sub: &str) -> Option<String> {
    let allowed = |u: &str| {
        ["https://", "http://", "ssh://"]
            .iter()
            .any(|scheme| u.starts_with(scheme))
    };
    if allowed(sub) {
        return Some(sub.to_string());
    }
    if !(sub.starts_with("./") || sub.starts_with("../")) || !allowed(parent) {
        return None;
    }
    let (scheme, rest) = parent.split_once("://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    for part in sub.split('/') {
        match part {
            "." | "" => {}
            ".." => {
                segments.pop()?;
            }
            other => segments.push(other),
        }
    }
    Some(format!("{scheme}://{host}/{}", segments.join("/")))
}

/// The annotated tag object `target` points at, with its signature.
fn annotated_tag(
    repo: &Repository,
    target: &git2::Reference<'_>,
    reference: &Reference,
) -> Option<Tag> {
    let name = match reference {
        Reference::Tag(t) | Reference::Semver(t) => t.clone(),
        Reference::Name(n) => n.strip_prefix("refs/tags/")?.to_string(),
        _ => return None,
    };
    let oid = target.target()?;
    let odb = repo.odb().ok()?;
    let object = odb.read(oid).ok()?;
    if object.kind() != git2::ObjectType::Tag {
        return None;
    }
    Some(Tag {
        name,
        hash: oid.to_string(),
        signature: split_tag(object.data()),
    })
}

/// Where `reference` points on the remote now (tags peeled), without
/// fetching any objects: the cheap "has the remote moved?" check. `None`
/// when the remote has no such reference; commits point at themselves.
pub fn remote_commit(url: &str, reference: &Reference, auth: &Auth) -> Result<Option<String>> {
    if let Reference::Commit { sha, .. } = reference {
        return Ok(Some(sha.clone()));
    }
    if let Reference::Semver(range) = reference {
        let tag = match resolve_semver(url, range, auth) {
            Ok(tag) => tag,
            Err(Error::ReferenceNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        return remote_commit(url, &Reference::Tag(tag), auth);
    }
    if let Auth::Bearer(_) = auth.credentials() {
        // libgit2 sends custom headers on fetches only: fetch the tip.
        let dir = scratch_dir("remote-commit");
        let result = checkout(url, reference, auth, &dir, &CheckoutOptions::default());
        let _ = std::fs::remove_dir_all(&dir);
        return match result {
            Ok(commit) => Ok(Some(commit.hash)),
            Err(Error::ReferenceNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
    }
    let refs = ls_remote(url, auth)?;
    let name = reference.remote_ref();
    let peeled = format!("{name}^{{}}");
    Ok(refs
        .iter()
        .find(|(n, _)| *n == peeled)
        .or_else(|| refs.iter().find(|(n, _)| *n == name))
        .map(|(_, oid)| oid.clone()))
}

/// The tag with the highest version in `range` (tags that are not
/// versions are skipped; `v1.2.3` counts as 1.2.3).
pub fn resolve_semver(url: &str, range: &str, auth: &Auth) -> Result<String> {
    let constraints: flux_semver::Constraints =
        range
            .parse()
            .map_err(|e: flux_semver::Error| Error::ReferenceNotFound {
                reference: format!("semver range '{range}'"),
                message: e.to_string(),
            })?;
    let refs = ls_remote(url, auth)?;
    let tags = refs
        .iter()
        .filter_map(|(name, _)| name.strip_prefix("refs/tags/"))
        .filter(|tag| !tag.ends_with("^{}"));
    flux_semver::Version::highest(tags, &constraints)
        .map(|(tag, _)| tag.to_string())
        .ok_or_else(|| Error::ReferenceNotFound {
            reference: format!("semver range '{range}'"),
            message: "no tag matches the range".to_string(),
        })
}

/// Every reference the remote advertises, as `(name, sha)`; annotated tags
/// also appear peeled as `refs/tags/<tag>^{}`. (Bearer tokens are not sent:
/// libgit2 has no custom headers on this path; see [`remote_commit`].)
pub fn ls_remote(url: &str, auth: &Auth) -> Result<Vec<(String, String)>> {
    check_proxy(url, auth)?;
    let repo_dir = scratch_dir("ls-remote");
    let repo = Repository::init_bare(&repo_dir).map_err(git_error("initialising", url))?;
    let result = (|| {
        let host_key_failure = RefCell::new(None);
        let auth_attempted = RefCell::new(false);
        let mut remote = repo
            .remote_anonymous(url)
            .map_err(git_error("opening", url))?;
        let callbacks = callbacks(url, auth, &host_key_failure, &auth_attempted);
        let route = ProxyRoute::new(url, auth)?;
        let connection = remote.connect_auth(Direction::Fetch, Some(callbacks), route.options());
        let connection = match connection {
            Ok(c) => c,
            Err(e) => {
                let reference = Reference::Name("HEAD".to_string());
                return Err(classify(
                    e,
                    url,
                    &reference,
                    &host_key_failure,
                    &auth_attempted,
                ));
            }
        };
        let heads = connection.list().map_err(git_error("listing", url))?;
        Ok(heads
            .iter()
            .map(|h| (h.name().to_string(), h.oid().to_string()))
            .collect())
    })();
    drop(repo);
    let _ = std::fs::remove_dir_all(&repo_dir);
    result
}

pub(crate) fn scratch_dir(purpose: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "flux-git-{purpose}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

pub(crate) fn bearer_header(auth: &Auth) -> Vec<String> {
    match auth.credentials() {
        Auth::Bearer(token) => vec![format!("Authorization: Bearer {token}")],
        _ => Vec::new(),
    }
}

pub(crate) fn fetch_options<'a>(
    url: &'a str,
    auth: &'a Auth,
    route: &ProxyRoute,
    host_key_failure: &'a RefCell<Option<Error>>,
    auth_attempted: &'a RefCell<bool>,
) -> FetchOptions<'a> {
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks(url, auth, host_key_failure, auth_attempted));
    let headers = bearer_header(auth);
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    fetch.custom_headers(&header_refs);
    if let Some(proxy) = route.options() {
        fetch.proxy_options(proxy);
    }
    fetch
}

/// libgit2 (1.9) tunnels HTTPS through a proxy with `CONNECT`, but sends a
/// plain-HTTP request meant for the proxy to the remote itself: refuse that.
pub(crate) fn check_proxy(url: &str, auth: &Auth) -> Result<()> {
    if auth.proxy().is_some() && url.starts_with("http://") {
        return Err(Error::InvalidAuth(
            "only https:// remotes can use a proxy".to_string(),
        ));
    }
    Ok(())
}

/// How one operation reaches the proxy of `auth`: directly, or through a
/// [`ProxyRelay`] that sends the proxy's credentials up front.
pub(crate) struct ProxyRoute {
    url: Option<String>,
    _relay: Option<ProxyRelay>,
}

impl ProxyRoute {
    pub(crate) fn new(url: &str, auth: &Auth) -> Result<Self> {
        let Some(proxy) = auth.proxy().filter(|_| !is_ssh(url)) else {
            return Ok(Self {
                url: None,
                _relay: None,
            });
        };
        let Some(username) = &proxy.username else {
            return Ok(Self {
                url: Some(proxy.address.clone()),
                _relay: None,
            });
        };
        let upstream = proxy
            .address
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .ok_or_else(|| {
                Error::InvalidAuth(
                    "proxy: credentials are only supported for http:// proxy addresses".to_string(),
                )
            })?;
        let relay = ProxyRelay::start(
            upstream,
            username,
            proxy.password.as_deref().unwrap_or_default(),
        )?;
        Ok(Self {
            url: Some(relay.url()),
            _relay: Some(relay),
        })
    }

    pub(crate) fn options(&self) -> Option<git2::ProxyOptions<'static>> {
        let url = self.url.as_ref()?;
        let mut options = git2::ProxyOptions::new();
        options.url(url);
        Some(options)
    }
}

pub(crate) fn callbacks<'a>(
    url: &'a str,
    auth: &'a Auth,
    host_key_failure: &'a RefCell<Option<Error>>,
    auth_attempted: &'a RefCell<bool>,
) -> RemoteCallbacks<'a> {
    crate::deadline::init();
    let mut callbacks = RemoteCallbacks::new();
    // A transfer that still trickles when the deadline passes stops.
    callbacks.transfer_progress(|_| crate::deadline::expired().is_none());
    callbacks.sideband_progress(|_| crate::deadline::expired().is_none());
    callbacks.credentials(move |_url, username, allowed| {
        // libgit2 asks again after a refusal: answer once, then give up.
        if auth_attempted.replace(true) {
            return Err(git2::Error::from_str("credentials were refused"));
        }
        match auth.credentials() {
            Auth::Basic { username, password }
                if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
            {
                Cred::userpass_plaintext(username, password)
            }
            Auth::Ssh {
                private_key,
                passphrase,
                ..
            } if allowed.contains(CredentialType::SSH_KEY) => {
                let user = username
                    .map(str::to_string)
                    .unwrap_or_else(|| ssh_user(url));
                Cred::ssh_key_from_memory(&user, None, private_key, passphrase.as_deref())
            }
            Auth::Ssh { .. } if allowed.contains(CredentialType::USERNAME) => {
                Cred::username(&ssh_user(url))
            }
            _ => Err(git2::Error::from_str("no credentials for this remote")),
        }
    });
    if let Some(ca) = auth.ca() {
        callbacks.certificate_check(move |cert, host| {
            let leaf = cert.as_x509().map(|c| c.data()).unwrap_or_default();
            match ca.verify(leaf, host) {
                Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                Err(reason) => {
                    let error = Error::Tls {
                        host: host.to_string(),
                        reason: reason.0,
                    };
                    let message = error.to_string();
                    host_key_failure.replace(Some(error));
                    Err(git2::Error::from_str(&message))
                }
            }
        });
    } else if is_ssh(url) {
        callbacks.certificate_check(move |cert, _host| {
            let Auth::Ssh { known_hosts, .. } = auth.credentials() else {
                let error = Error::HostKey {
                    host: ssh_host_port(url).0,
                    reason: "SSH needs known_hosts (from the secret)".to_string(),
                };
                let message = error.to_string();
                host_key_failure.replace(Some(error));
                return Err(git2::Error::from_str(&message));
            };
            let (host, port) = ssh_host_port(url);
            let key = cert
                .as_hostkey()
                .and_then(|k| k.hostkey())
                .unwrap_or_default();
            match known_hosts.verify(&host, port, key) {
                Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                Err(error) => {
                    let message = error.to_string();
                    host_key_failure.replace(Some(error));
                    Err(git2::Error::from_str(&message))
                }
            }
        });
    }
    callbacks
}

pub(crate) fn classify(
    error: git2::Error,
    url: &str,
    reference: &Reference,
    host_key_failure: &RefCell<Option<Error>>,
    auth_attempted: &RefCell<bool>,
) -> Error {
    if let Some(failure) = host_key_failure.borrow_mut().take() {
        return failure;
    }
    if let Some(after) = crate::deadline::timed_out(&error) {
        return Error::Timeout {
            operation: "fetching".to_string(),
            url: redact(url),
            after,
        };
    }
    let message = error.message().to_string();
    let lower = message.to_lowercase();
    if error.code() == git2::ErrorCode::Auth
        || lower.contains("authentication")
        || lower.contains("401")
        || lower.contains("credentials")
        || (*auth_attempted.borrow() && error.class() == git2::ErrorClass::Ssh)
    {
        return Error::Authentication {
            url: redact(url),
            message,
        };
    }
    if lower.contains("couldn't find remote ref")
        || lower.contains("not found")
        || error.code() == git2::ErrorCode::NotFound
    {
        return Error::ReferenceNotFound {
            reference: reference.describe(),
            message,
        };
    }
    Error::Git {
        operation: "fetching".to_string(),
        url: redact(url),
        source: error,
    }
}

pub(crate) fn git_error(operation: &str, url: &str) -> impl FnOnce(git2::Error) -> Error {
    let operation = operation.to_string();
    let url = redact(url);
    move |source| match crate::deadline::timed_out(&source) {
        Some(after) => Error::Timeout {
            operation,
            url,
            after,
        },
        None => Error::Git {
            operation,
            url,
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::resolve_submodule_url;

    #[test]
    fn submodule_urls_resolve_like_git_and_local_ones_are_refused() {
        let parent = "http://127.0.0.1:8080/fleet.git";
        assert_eq!(
            resolve_submodule_url(parent, "../lib.git").as_deref(),
            Some("http://127.0.0.1:8080/lib.git")
        );
        assert_eq!(
            resolve_submodule_url("ssh://git@host:2222/org/fleet.git", "../../other/lib.git")
                .as_deref(),
            Some("ssh://git@host:2222/other/lib.git")
        );
        assert_eq!(
            resolve_submodule_url(parent, "https://example.com/x.git").as_deref(),
            Some("https://example.com/x.git")
        );
        assert_eq!(resolve_submodule_url(parent, "/etc/secret-repo"), None);
        assert_eq!(resolve_submodule_url(parent, "file:///etc/repo"), None);
        assert_eq!(resolve_submodule_url(parent, "ext::sh -c id"), None);
        assert_eq!(resolve_submodule_url(parent, "../../../../x.git"), None);
    }
}

//! Bucket: the objects of an S3-compatible bucket, stored as a source
//! artifact.
//!
//! The guard ladder is the GitRepository one. The steps: credentials
//! (`secretRef` `accesskey`/`secretkey`, `certSecretRef` CA) → does the
//! bucket exist → its `.sourceignore` (at the bucket's root) with
//! `spec.ignore` → the index of every key under `spec.prefix` with its
//! ETag, ignored keys and folder markers left out → the revision,
//! `sha256:` over the index's `"<key> <etag>\n"` lines sorted by key
//! (upstream's) → unchanged: nothing more → else download every object
//! (bounded concurrency, each within `spec.timeout` and the artifact
//! limits, into a folder it cannot leave: a key that climbs out with `..`
//! is refused), re-index what changed or vanished meanwhile, and archive
//! the folder as `<hex>.tar.gz`.
//!
//! Providers: `generic` and `aws` speak S3 (Signature V4) to
//! `spec.endpoint`, through `proxySecretRef`'s proxy when set; `aws`
//! without a Secret takes the AWS environment's static credentials.
//! `azure` speaks Blob Storage (`azure.rs`) with the Secret's `accountKey`
//! (Shared Key) or `sasKey`, anonymously without a Secret; Microsoft Entra
//! credentials (service principals, managed and workload identities) are
//! refused with a message saying so, as is STS. `gcp` speaks the Cloud
//! Storage JSON API (`gcs.rs`) with the Secret's `serviceaccount` key, or
//! anonymously.

pub mod azure;
pub mod gcs;
pub mod s3;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use flux_api::meta::{Artifact, ConditionStatus, reason};
use flux_api::source::v1::{Bucket, BucketProvider};
use flux_artifact::{Owner, SourceIgnore};
use flux_runtime::conditions::{self, Owned};
use flux_runtime::finalize::{Finish, Outcome, finalize, report_reconciling};
use flux_runtime::ssa::kube_message;
use flux_runtime::{ReconcileResult, Severity, StepError, now, parse_duration};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::{Action, Controller};
use kube::{Api, ResourceExt};
use sha2::{Digest as _, Sha256};

use crate::Context;
use crate::gitrepository::fetch::Failed;
use crate::gitrepository::reconcile::{
    ARTIFACT_IN_STORAGE, Error, FETCH_FAILED, NEW_ARTIFACT, STORAGE_OPERATION_FAILED,
};

/// The controller name in metrics and logs.
pub const CONTROLLER: &str = "bucket";
const KIND: &str = "Bucket";

/// Reason: listing or downloading failed, or the bucket does not exist.
pub const BUCKET_OPERATION_FAILED: &str = "BucketOperationFailed";
/// Reason: credentials missing or malformed.
pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";

/// Objects downloaded at once.
const CONCURRENT_FETCHES: usize = 16;

/// The conditions the reconciler owns besides Ready, Reconciling and
/// Stalled, in the order they decide Ready.
pub const OWNED: Owned = Owned {
    negative: &[FETCH_FAILED, STORAGE_OPERATION_FAILED],
    positive: &[ARTIFACT_IN_STORAGE],
};

/// Runs the Bucket controller until the stream ends.
pub async fn run(api: Api<Bucket>, ctx: Arc<Context>) {
    Controller::new(api, crate::frame::watch_config(&ctx))
        .with_config(crate::frame::controller_config(&ctx))
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

/// Reconciles one Bucket, recording its duration and outcome.
pub async fn reconcile(bucket: Arc<Bucket>, ctx: Arc<Context>) -> Result<Action, Error> {
    let reconciler = crate::frame::Reconciler {
        kind: KIND,
        controller: CONTROLLER,
    };
    crate::frame::reconcile(reconciler, bucket, ctx, |api, bucket, ctx| async move {
        apply(&api, &bucket, &ctx).await
    })
    .await
}

/// Requeue policy after an error the controller could not report.
pub use crate::frame::error_policy;

fn owner<'a>(namespace: &'a str, name: &'a str) -> Owner<'a> {
    crate::frame::owner(KIND, namespace, name)
}

fn fetch_error(reason: &'static str, message: String) -> StepError {
    Failed::Fetch.error(reason, message)
}

async fn apply(
    api: &Api<Bucket>,
    bucket: &Bucket,
    ctx: &Context,
) -> Result<(Action, ReconcileResult), Error> {
    if bucket.spec.suspend {
        tracing::info!("reconciliation is suspended for this object");
        return Ok((Action::await_change(), ReconcileResult::Success));
    }
    let generation = bucket.metadata.generation;
    let interval = parse_duration(&bucket.spec.interval).unwrap_or(Duration::from_secs(60));
    let mut status = bucket.status.clone().unwrap_or_default();
    if let Some(remaining) = crate::frame::not_due(bucket, ctx) {
        return Ok((Action::requeue(remaining), ReconcileResult::Skipped));
    }

    let mut written = bucket.status.clone();
    let outcome = match index(bucket, ctx).await {
        Ok((client, index, ignore_file)) => {
            let revision = index.revision();
            let stored = status
                .artifact
                .as_ref()
                .filter(|a| a.revision == revision)
                .filter(|a| ctx.storage.local_path(&a.path).is_file())
                .cloned();
            match stored {
                Some(artifact) => {
                    tracing::debug!("artifact up-to-date with remote revision: '{revision}'");
                    ready(&mut status, &artifact.revision, generation)
                }
                None => {
                    let message = format!("building artifact: new upstream revision '{revision}'");
                    if status.artifact.is_some() {
                        conditions::set(
                            &mut status.conditions,
                            "ArtifactOutdated",
                            ConditionStatus::True,
                            "NewRevision",
                            &format!("new upstream revision '{revision}'"),
                            generation,
                            now(),
                        );
                    }
                    match report_reconciling(api, bucket, &mut status, &message).await {
                        Ok(()) => written = Some(status.clone()),
                        Err(e) => {
                            tracing::error!(error = %kube_message(&e), "failed to update status")
                        }
                    }
                    match fetch_and_store(bucket, ctx, &client, index, ignore_file).await {
                        Ok((artifact, files)) => {
                            announce(ctx, bucket, status.artifact.as_ref(), &artifact, files).await;
                            let revision = artifact.revision.clone();
                            status.url = Some(ctx.storage.url(&format!(
                                "{}/latest.tar.gz",
                                artifact.path.rsplit_once('/').map(|(d, _)| d).unwrap_or_default()
                            )));
                            status.artifact = Some(artifact);
                            status.observed_ignore = bucket.spec.ignore.clone();
                            conditions::remove(&mut status.conditions, "ArtifactOutdated");
                            ready(&mut status, &revision, generation)
                        }
                        Err(e) => Outcome::Failed(e),
                    }
                }
            }
        }
        Err(e) => Outcome::Failed(e),
    };
    let finish = Finish {
        events: &ctx.events,
        schedule: &ctx.schedule,
        owned: &OWNED,
        interval,
        retry: interval.min(ctx.retry_interval),
        revision: None,
    };
    Ok(finalize(api, bucket, written.as_ref(), status, outcome, &finish).await?)
}

fn ready(
    status: &mut flux_api::source::v1::BucketStatus,
    revision: &str,
    generation: Option<i64>,
) -> Outcome {
    let message = format!("stored artifact: revision '{revision}'");
    conditions::set(
        &mut status.conditions,
        ARTIFACT_IN_STORAGE,
        ConditionStatus::True,
        reason::SUCCEEDED,
        &message,
        generation,
        now(),
    );
    Outcome::Ready {
        reason: reason::SUCCEEDED,
        message,
    }
}

/// The keys of a bucket with their ETags: what its revision is computed
/// from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Index(BTreeMap<String, String>);

impl Index {
    /// `sha256:` over `"<key> <etag>\n"` lines in key order (upstream's
    /// digest of its ETag index).
    pub fn revision(&self) -> String {
        let mut hasher = Sha256::new();
        for (key, etag) in &self.0 {
            hasher.update(key.as_bytes());
            hasher.update(b" ");
            hasher.update(etag.as_bytes());
            hasher.update(b"\n");
        }
        let digest = hasher.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// How many objects.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the bucket has no object to store.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The object's timeout (`spec.timeout`, 60s by default).
fn timeout(bucket: &Bucket) -> Duration {
    bucket
        .spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60))
}

/// The object store of a provider.
enum Store {
    S3(s3::S3),
    Azure(azure::Blob),
    Gcs(gcs::Gcs),
}

impl Store {
    /// Whether the bucket (container) exists; S3 first learns its region.
    async fn exists(&mut self, bucket: &str) -> Result<bool, s3::Error> {
        match self {
            Store::S3(client) => match client.resolve_region(bucket).await {
                Ok(()) => client.bucket_exists(bucket).await,
                Err(e) if e.code() == Some("NoSuchBucket") => Ok(false),
                Err(e) => Err(e),
            },
            Store::Azure(client) => client.container_exists(bucket).await,
            Store::Gcs(client) => client.bucket_exists(bucket).await,
        }
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, String)>, s3::Error> {
        match self {
            Store::S3(client) => client.list(bucket, prefix).await,
            Store::Azure(client) => client.list(bucket, prefix).await,
            Store::Gcs(client) => client.list(bucket, prefix).await,
        }
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        limit: u64,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<(String, u64), s3::Error> {
        match self {
            Store::S3(client) => client.get(bucket, key, limit, out).await,
            Store::Azure(client) => client.get(bucket, key, limit, out).await,
            Store::Gcs(client) => client.get(bucket, key, limit, out).await,
        }
    }
}

/// The client, the index of the bucket's objects, and its `.sourceignore`
/// (which upstream's artifact holds too).
async fn index(
    bucket: &Bucket,
    ctx: &Context,
) -> Result<(Store, Index, Option<Vec<u8>>), StepError> {
    let spec = &bucket.spec;
    let name = &spec.bucket_name;
    let mut client = client(bucket, ctx).await?;
    let deadline = timeout(bucket);
    let work = async {
        // The location lookup is the first call on the bucket, inside
        // MinIO's existence check: its refusals read as that check's.
        match client.exists(name).await {
            Ok(true) => {}
            Ok(false) => return Err(format!("bucket '{name}' not found")),
            Err(e) => {
                return Err(format!(
                    "failed to confirm existence of '{name}' bucket: {e}"
                ));
            }
        }
        let mut ignore_file = Vec::new();
        let found = match client
            .get(name, flux_artifact::IGNORE_FILE, 1 << 20, &mut ignore_file)
            .await
        {
            Ok(_) => true,
            Err(e) if e.is_missing_object() => {
                ignore_file.clear();
                false
            }
            Err(e) => {
                return Err(format!(
                    "failed to get Etag for '{}' object: {e}",
                    flux_artifact::IGNORE_FILE
                ));
            }
        };
        let mut patterns: Vec<String> = String::from_utf8_lossy(&ignore_file)
            .lines()
            .map(str::to_string)
            .collect();
        if let Some(extra) = &spec.ignore {
            patterns.extend(extra.lines().map(str::to_string));
        }
        let root = Path::new("/");
        let matcher = SourceIgnore::from_patterns(root, &patterns).map_err(|e| e.to_string())?;
        let objects = client
            .list(name, spec.prefix.as_deref().unwrap_or_default())
            .await
            .map_err(|e| {
                format!(
                    "indexation of objects from bucket '{name}' failed: listing objects from bucket '{name}' failed: {e}"
                )
            })?;
        let mut index = Index::default();
        for (key, etag) in objects {
            if key.ends_with('/') || key == flux_artifact::IGNORE_FILE {
                continue;
            }
            if matcher.is_ignored(Path::new(&key), false) {
                continue;
            }
            index.0.insert(key, etag);
        }
        Ok((index, found.then_some(ignore_file)))
    };
    let (index, ignore_file) = match tokio::time::timeout(deadline, work).await {
        Ok(Ok(found)) => found,
        Ok(Err(message)) => return Err(fetch_error(BUCKET_OPERATION_FAILED, message)),
        Err(_) => {
            return Err(fetch_error(
                BUCKET_OPERATION_FAILED,
                format!(
                    "indexation of objects from bucket '{name}' failed: timeout after {}",
                    flux_runtime::format_duration(deadline)
                ),
            ));
        }
    };
    Ok((client, index, ignore_file))
}

/// The client of the object's provider, endpoint and credentials.
async fn client(bucket: &Bucket, ctx: &Context) -> Result<Store, StepError> {
    let spec = &bucket.spec;
    let namespace = bucket.namespace().unwrap_or_default();
    let provider = spec.provider.unwrap_or(BucketProvider::Generic);
    let auth_error = |message: String| fetch_error(AUTHENTICATION_FAILED, message);
    if spec.sts.is_some() {
        return Err(auth_error(
            "STS credentials (spec.sts) are not supported by this controller yet".to_string(),
        ));
    }
    if spec.service_account_name.is_some() {
        return Err(auth_error(
            "workload identity (spec.serviceAccountName) is not supported by this controller yet"
                .to_string(),
        ));
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let get_secret = |name: String| {
        let secrets = secrets.clone();
        let namespace = namespace.clone();
        async move {
            secrets.get(&name).await.map_err(|e| {
                fetch_error(
                    AUTHENTICATION_FAILED,
                    format!(
                        "failed to get secret '{namespace}/{name}': {}",
                        kube_message(&e)
                    ),
                )
            })
        }
    };
    let secret = match &spec.secret_ref {
        Some(r) => Some((
            r.name.clone(),
            get_secret(r.name.clone()).await?.data.unwrap_or_default(),
        )),
        None => None,
    };
    let mut tls = flux_oci::http::Tls::default();
    if let Some(r) = &spec.cert_secret_ref {
        tls = crate::frame::tls(ctx, &namespace, &r.name)
            .await
            .map_err(|e| auth_error(format!("failed to get TLS config: {e}")))?;
    }
    let proxy = match &spec.proxy_secret_ref {
        Some(r) => Some(
            crate::frame::proxy(ctx, &namespace, &r.name)
                .await
                .map_err(|e| auth_error(format!("failed to get proxy URL: {e}")))?,
        ),
        None => None,
    };
    let http = flux_oci::http::client_with_tls(&tls, proxy.as_ref())
        .map_err(|e| auth_error(format!("failed to get TLS config: {e}")))?;
    if provider == BucketProvider::Gcp {
        let key = match &secret {
            Some((name, data)) => {
                let Some(entry) = data.get("serviceaccount") else {
                    return Err(auth_error(format!(
                        "invalid '{name}' secret data: required fields 'serviceaccount'"
                    )));
                };
                Some(gcs::ServiceAccountKey::parse(name, &entry.0).map_err(auth_error)?)
            }
            None => None,
        };
        let endpoint = Some(spec.endpoint.as_str()).filter(|e| !e.is_empty());
        return gcs::Gcs::new(http, endpoint, spec.insecure, key, timeout(bucket))
            .await
            .map(Store::Gcs)
            .map_err(auth_error);
    }
    if provider == BucketProvider::Azure {
        let credential = azure_credential(secret)?;
        let endpoint = azure::parse_endpoint(&spec.endpoint, spec.insecure).map_err(auth_error)?;
        return azure::Blob::new(http, endpoint, credential, timeout(bucket))
            .map(Store::Azure)
            .map_err(auth_error);
    }
    let mut credentials = None;
    if let Some((name, data)) = &secret {
        let (Some(access), Some(secret_key)) = (data.get("accesskey"), data.get("secretkey"))
        else {
            return Err(auth_error(format!(
                "invalid '{name}' secret data: required fields 'accesskey' and 'secretkey'"
            )));
        };
        let access = String::from_utf8_lossy(&access.0).into_owned();
        let secret_key = String::from_utf8_lossy(&secret_key.0).into_owned();
        // As MinIO's client: an empty key means anonymous requests.
        if !access.is_empty() && !secret_key.is_empty() {
            credentials = Some(s3::Credentials {
                access_key: access,
                secret_key,
                session_token: None,
            });
        }
    } else if provider == BucketProvider::Aws {
        credentials = aws_environment().ok_or_else(|| {
            auth_error(
                "AWS authentication failed: no credentials in the controller's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); set spec.secretRef"
                    .to_string(),
            )
        })?
        .into();
    }
    s3::S3::new(
        http,
        s3::Options {
            endpoint: spec.endpoint.clone(),
            insecure: spec.insecure,
            region: spec.region.clone().filter(|r| !r.is_empty()),
            credentials,
            timeout: timeout(bucket),
        },
    )
    .map(Store::S3)
    .map_err(|e| fetch_error(BUCKET_OPERATION_FAILED, e))
}

/// The Azure credential of the Secret, in upstream's order: Microsoft Entra
/// credentials (refused: they need the identity platform), the account
/// key, a SAS token; anonymous without a Secret.
fn azure_credential(
    secret: Option<(String, BTreeMap<String, k8s_openapi::ByteString>)>,
) -> Result<azure::Credential, StepError> {
    let auth_error = |message: String| fetch_error(AUTHENTICATION_FAILED, message);
    let Some((name, data)) = secret else {
        return Ok(azure::Credential::Anonymous);
    };
    let has = |field: &str| data.contains_key(field);
    let valid =
        (has("tenantId") && has("clientId") && (has("clientSecret") || has("clientCertificate")))
            || has("clientId")
            || has("accountKey")
            || has("sasKey")
            || has("authorityHost");
    if !valid {
        return Err(auth_error(format!(
            "invalid '{name}' secret data: requires a 'clientId' or 'accountKey' field, a combination of 'tenantId', 'clientId' and 'clientSecret', or 'tenantId', 'clientId' and 'clientCertificate'"
        )));
    }
    if has("clientId") || has("authorityHost") {
        return Err(auth_error(format!(
            "failed to create token credential from '{name}' Secret: Microsoft Entra credentials (service principals, managed and workload identities) are not supported by this controller yet; use an 'accountKey' or a 'sasKey'"
        )));
    }
    if let Some(key) = data.get("accountKey") {
        let text = String::from_utf8_lossy(&key.0);
        let key = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| {
                auth_error(format!(
                    "failed to create shared credential from '{name}' Secret data: 'accountKey' is not base64"
                ))
            })?;
        return Ok(azure::Credential::SharedKey(key));
    }
    let sas = data
        .get("sasKey")
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .unwrap_or_default();
    Ok(azure::Credential::Sas(azure::parse_query(&sas)))
}

/// Static credentials of the AWS environment variables.
fn aws_environment() -> Option<s3::Credentials> {
    let access_key = std::env::var("AWS_ACCESS_KEY_ID").ok()?;
    let secret_key = std::env::var("AWS_SECRET_ACCESS_KEY").ok()?;
    if access_key.is_empty() || secret_key.is_empty() {
        return None;
    }
    Some(s3::Credentials {
        access_key,
        secret_key,
        session_token: std::env::var("AWS_SESSION_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
    })
}

/// Where object `key` goes below `root`: the key's `/`-separated path,
/// cleaned as a path is (`a//b`, `./a`); `None` when it would climb out of
/// `root` or names nothing.
pub fn object_path(root: &Path, key: &str) -> Option<PathBuf> {
    let mut parts: Vec<&str> = Vec::new();
    for part in Path::new(key).components() {
        match part {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Prefix(_) => return None,
        }
    }
    if parts.is_empty() {
        return None;
    }
    let mut path = root.to_path_buf();
    path.extend(parts);
    Some(path)
}

/// What a download found of an indexed object.
enum Fetched {
    /// The object as listed.
    Same,
    /// Changed since the listing: its new ETag.
    Changed(String),
    /// Deleted since the listing.
    Vanished,
}

/// Downloads every indexed object and stores the artifact; returns it with
/// the number of objects fetched.
async fn fetch_and_store(
    bucket: &Bucket,
    ctx: &Context,
    client: &Store,
    mut index: Index,
    ignore_file: Option<Vec<u8>>,
) -> Result<(Artifact, usize), StepError> {
    let name = &bucket.spec.bucket_name;
    let work = tempfile::Builder::new()
        .prefix("bucket-")
        .tempdir()
        .map_err(|e| {
            Failed::Storage.error(
                "DirectoryCreationFailed",
                format!("failed to create temporary working directory: {e}"),
            )
        })?;
    let dir = work.path().join("content");
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failed::Storage.error(
            "DirectoryCreationFailed",
            format!("failed to create temporary working directory: {e}"),
        )
    })?;
    // The bucket's ignore file is part of the artifact, as upstream's
    // (downloaded into the folder it archives).
    if let Some(content) = &ignore_file {
        std::fs::write(dir.join(flux_artifact::IGNORE_FILE), content).map_err(|e| {
            Failed::Storage.error(
                "DirectoryCreationFailed",
                format!("failed to write {}: {e}", flux_artifact::IGNORE_FILE),
            )
        })?;
    }
    let deadline = timeout(bucket);
    let limit = ctx.artifact_limits.max_bytes;
    let total = std::sync::atomic::AtomicU64::new(0);
    let keys: Vec<(String, String)> = index
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let fetches = futures::stream::iter(keys.into_iter().map(|(key, etag)| {
        let dir = &dir;
        let total = &total;
        async move {
            let failed = |message: String| format!("failed to get '{key}' object: {message}");
            let path = object_path(dir, &key)
                .ok_or_else(|| failed("the key names no path inside the artifact".to_string()))?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| failed(e.to_string()))?;
            }
            let mut file = std::fs::File::create(&path).map_err(|e| failed(e.to_string()))?;
            let remaining = limit.saturating_sub(total.load(std::sync::atomic::Ordering::Relaxed));
            match client.get(name, &key, remaining, &mut file).await {
                Ok((new_etag, size)) => {
                    let sum = total.fetch_add(size, std::sync::atomic::Ordering::Relaxed) + size;
                    if sum > limit {
                        return Err(failed(s3::Error::TooLarge { limit }.to_string()));
                    }
                    if new_etag == etag {
                        Ok((key.clone(), Fetched::Same))
                    } else {
                        Ok((key.clone(), Fetched::Changed(new_etag)))
                    }
                }
                Err(e) if e.is_missing_object() => {
                    drop(file);
                    let _ = std::fs::remove_file(&path);
                    tracing::info!("indexed object '{key}' disappeared from '{name}' bucket");
                    Ok((key.clone(), Fetched::Vanished))
                }
                Err(e) => Err(failed(e.to_string())),
            }
        }
    }))
    .buffer_unordered(CONCURRENT_FETCHES)
    .collect::<Vec<_>>();
    let results = match tokio::time::timeout(deadline, fetches).await {
        Ok(results) => results,
        Err(_) => {
            return Err(fetch_error(
                BUCKET_OPERATION_FAILED,
                format!(
                    "fetch from bucket '{name}' failed: timeout after {}",
                    flux_runtime::format_duration(deadline)
                ),
            ));
        }
    };
    for result in results {
        match result {
            Ok((key, Fetched::Vanished)) => {
                index.0.remove(&key);
            }
            Ok((key, Fetched::Changed(etag))) => {
                index.0.insert(key, etag);
            }
            Ok((_, Fetched::Same)) => {}
            Err(message) => {
                return Err(fetch_error(
                    BUCKET_OPERATION_FAILED,
                    format!("fetch from bucket '{name}' failed: {message}"),
                ));
            }
        }
    }
    let revision = index.revision();
    let hex = revision.trim_start_matches("sha256:").to_string();
    let storage = ctx.storage.clone();
    let limits = ctx.artifact_limits.clone();
    let namespace = bucket.namespace().unwrap_or_default();
    let object_name = bucket.name_any();
    let stored = tokio::task::spawn_blocking(move || {
        let owner = owner(&namespace, &object_name);
        let archive_error = |e: flux_artifact::Error| {
            Failed::Storage.error(
                "ArchiveOperationFailed",
                format!("unable to archive artifact to storage: {e}"),
            )
        };
        // Everything fetched is archived: the ignore rules chose the keys.
        let everything = SourceIgnore::from_patterns(&dir, &[]).map_err(archive_error)?;
        let stored = storage
            .archive(owner, &format!("{hex}.tar.gz"), &dir, &everything, &limits)
            .map_err(archive_error)?;
        let _ = storage.garbage_collect(owner, &stored.path, SystemTime::now());
        Ok::<_, StepError>(stored)
    })
    .await
    .map_err(|e| {
        Failed::Storage.error(
            "ArchiveOperationFailed",
            format!("archive task failed: {e}"),
        )
    })??;
    drop(work);
    Ok((
        Artifact {
            path: stored.path,
            url: stored.url,
            revision,
            digest: stored.summary.digest.to_string(),
            last_update_time: now(),
            size: Some(stored.summary.size as i64),
            metadata: None,
        },
        index.len(),
    ))
}

/// `NewArtifact` when the stored digest changed.
async fn announce(
    ctx: &Context,
    bucket: &Bucket,
    previous: Option<&Artifact>,
    new: &Artifact,
    files: usize,
) {
    if previous.map(|a| &a.digest) == Some(&new.digest) {
        return;
    }
    let message = format!(
        "stored artifact with {files} fetched files from '{}' bucket",
        bucket.spec.bucket_name
    );
    let metadata = BTreeMap::from([
        ("revision", new.revision.clone()),
        ("digest", new.digest.clone()),
    ]);
    tracing::info!(revision = %new.revision, "{message}");
    ctx.events
        .event(bucket, Severity::Info, NEW_ARTIFACT, &message, metadata)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_is_upstreams_digest_of_the_sorted_index() {
        let mut index = Index::default();
        index.0.insert("b.yaml".into(), "e2".into());
        index.0.insert("a/x.yaml".into(), "e1".into());
        let expected = Sha256::digest(b"a/x.yaml e1\nb.yaml e2\n");
        let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(index.revision(), format!("sha256:{hex}"));
        // An empty bucket: the digest of nothing.
        assert_eq!(
            Index::default().revision(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn object_keys_cannot_leave_the_folder() {
        let root = Path::new("/work/content");
        assert_eq!(
            object_path(root, "a/b.yaml"),
            Some(PathBuf::from("/work/content/a/b.yaml"))
        );
        assert_eq!(
            object_path(root, "a//./b.yaml"),
            Some(PathBuf::from("/work/content/a/b.yaml"))
        );
        assert_eq!(
            object_path(root, "/abs.yaml"),
            Some(PathBuf::from("/work/content/abs.yaml"))
        );
        assert_eq!(
            object_path(root, "a/../b.yaml"),
            Some(PathBuf::from("/work/content/b.yaml"))
        );
        assert_eq!(object_path(root, "../evil.yaml"), None);
        assert_eq!(object_path(root, "a/../../evil.yaml"), None);
        assert_eq!(object_path(root, "./"), None);
    }
}

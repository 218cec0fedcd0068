//! What the source controller's integration tests share: the controllers
//! on a real API server with their own storage and artifact server, and
//! reading the artifacts they serve.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use flux_artifact::{Limits, Retention, Storage, verify_and_extract};
use flux_source_controller::{Context, run_shared, run_source_watcher, server::serve_storage};
use flux_testenv::{ControlPlane, TestNamespace};
use kube::Api;
use kube::api::PostParams;

/// The CRD manifests.
pub fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds")
}

/// The source controllers (and source-watcher) watching `ns`, with a
/// fresh storage served over HTTP, quick retries, and `adjust` applied to
/// their context; the storage lives as long as the returned folder.
pub async fn start_controllers(
    cp: &ControlPlane,
    ns: &TestNamespace,
    adjust: impl FnOnce(&mut Context),
) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve_storage(root.path().to_path_buf(), listener));
    let storage = Storage::new(root.path(), &address, Retention::default()).unwrap();
    let mut ctx = Context::new(cp.client().unwrap(), storage);
    ctx.retry_interval = Duration::from_secs(2);
    ctx.requeue_dependency = Duration::from_secs(1);
    adjust(&mut ctx);
    let ctx = Arc::new(ctx);
    let (a, b) = (ns.name().to_string(), ns.name().to_string());
    let source = ctx.clone();
    tokio::spawn(async move { run_shared(source, Some(&a)).await });
    tokio::spawn(async move { run_source_watcher(ctx, Some(&b)).await });
    root
}

/// Creates `object` (JSON) through `api`.
pub async fn create<K>(api: &Api<K>, object: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(object).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

/// The bytes an artifact URL serves.
pub fn download(url: &str) -> Vec<u8> {
    Command::new("curl")
        .args(["-sSf", url])
        .output()
        .unwrap()
        .stdout
}

/// An artifact downloaded, checked against its digest and extracted.
pub fn extract(artifact: &flux_api::meta::Artifact) -> tempfile::TempDir {
    let bytes = download(&artifact.url);
    let out = tempfile::tempdir().unwrap();
    verify_and_extract(
        &bytes[..],
        &artifact.digest.parse().unwrap(),
        out.path(),
        &Limits::default(),
    )
    .unwrap();
    out
}

/// The files below `dir`, as sorted relative paths.
pub fn files_of(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    files.sort();
    files
}

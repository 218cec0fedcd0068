//! The artifact file server: `GET /<kind>/<namespace>/<name>/<file>` from
//! the storage root, as upstream's `--storage-addr` serves it.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The router serving `root`.
pub fn router(root: PathBuf) -> Router {
    Router::new()
        .route("/{*path}", get(serve))
        .with_state(Arc::new(root))
}

/// Serves `root` on `listener` until the task is dropped.
pub async fn serve_storage(
    root: PathBuf,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    axum::serve(listener, router(root)).await
}

async fn serve(State(root): State<Arc<PathBuf>>, UrlPath(path): UrlPath<String>) -> Response {
    let Some(file) = resolve(&root, &path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            Body::from(bytes),
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `path` below `root`, links resolved, or `None` if it would leave `root`.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    if Path::new(path)
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let real_root = root.canonicalize().ok()?;
    let real = root.join(path).canonicalize().ok()?;
    (real.starts_with(&real_root) && real.is_file()).then_some(real)
}

//! OCI registries for Flux.
//!
//! - [`Reference`]: `registry/repository[:tag][@digest]` and `oci://` URLs;
//! - [`Client`]: the distribution API (tags with pagination, manifests,
//!   blobs with size limits and digest checks, uploads) with registry
//!   authentication: anonymous, basic, and bearer tokens from the
//!   registry's token service, credentials from `--creds` or Docker config
//!   files ([`auth::from_docker_config`]); HTTPS with the system's roots
//!   plus a Secret's CA, or plain HTTP for insecure registries; every
//!   request bounded by a timeout;
//! - [`artifact`]: Flux's artifact format — the layer tarball as upstream
//!   builds it, the config blob and manifest annotations — with
//!   [`artifact::push`].
//!
//! - [`cosign`]: cosign signatures (Sigstore bundles and simple signing)
//!   verified with public keys.
//!
//! Credentials never appear in errors or `Debug` output.

pub mod artifact;
pub mod auth;
mod client;
pub mod cosign;
mod error;
pub mod http;
mod reference;

pub use auth::Credentials;
pub use client::{
    Client, ClientOptions, DOCKER_MANIFEST, Descriptor, MAX_MANIFEST_BYTES, Manifest, OCI_MANIFEST,
    sha256_digest,
};
pub use error::{Error, Result};
pub use reference::{DEFAULT_REGISTRY, OCI_SCHEME, Reference};

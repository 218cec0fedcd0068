//! The real test environment of the project: a Kubernetes control plane and
//! the servers Flux talks to, started as plain processes on loopback.
//!
//! Integration tests never talk to a mock. This crate starts, on demand:
//! - [`ControlPlane`]: etcd (from the `etcd-bin-vendored` crate) and the
//!   real kube-apiserver — plus kube-controller-manager when asked — built
//!   from the `k8s.io/kubernetes` Go module by `scripts/install-deps.sh`;
//!   RBAC on, generated certificates, an admin [`kube::Client`], clients
//!   impersonating ServiceAccounts, a kubeconfig file for CLI tests;
//! - [`Node`] (with [`ControlPlane::shared_with_node`]): kube-scheduler, a
//!   kubelet on containerd and runc, CNI bridge networking, kube-proxy and
//!   CoreDNS, so that Pods run, Services and cluster DNS work; [`Image`]
//!   builds images from files on this machine and pushes them to the
//!   node's registry;
//! - [`TestNamespace`]: a namespace per test, deleted afterwards;
//! - CRD installation that waits until the API server serves them;
//! - [`GitHttpServer`] (`git http-backend`, basic or bearer auth) and
//!   [`GitSshServer`] (OpenSSH `sshd`, key auth, `known_hosts`), with
//!   [`GitRepo`] to write, commit, tag and push content, signed by a real
//!   `gpg` or SSH [`SigningKey`] when asked;
//! - [`OciRegistry`] (Distribution's `docker-registry`, optional htpasswd);
//! - [`HttpProxy`] (`tinyproxy`, optional basic authentication);
//! - [`HelmRepoServer`] (static `index.yaml` + charts packaged by `helm`);
//! - [`CosignKey`]: a key pair of the real `cosign`, signing artifacts;
//! - [`AzureBlobServer`] (Microsoft's Azurite emulator, blobs written by
//!   Microsoft's storage SDK) and [`GcsServer`] (fake-gcs-server).
//!
//! Every process dies and every temporary folder is removed when its owner
//! is dropped or the test binary exits, however it exits. Binaries are found
//! in `$FLUX_TESTENV_BIN_DIR` (default: the cache of `install-deps.sh`); a
//! missing one is an error that says how to install it. Set
//! `FLUX_TESTENV_KEEP=1` to keep the folders (logs, repositories) for
//! inspection.
//!
//! It is a dev-dependency only: nothing here is for production.
//!
//! ```no_run
//! use flux_testenv::ControlPlane;
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::Api;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // One control plane per test binary, shared by its tests.
//! let cp = ControlPlane::shared()?;
//! let ns = cp.namespace("demo").await?; // deleted when `ns` is dropped
//! let config_maps: Api<ConfigMap> = Api::namespaced(cp.client()?, ns.name());
//! assert!(config_maps.list(&Default::default()).await?.items.is_empty());
//! # Ok(())
//! # }
//! ```

mod azure;
mod control_plane;
mod crd;
mod error;
mod gcs;
mod git;
mod git_ssh;
mod helm_repo;
mod image;
mod namespace;
mod node;
pub mod objects;
mod oci;
mod pki;
mod process;
mod proxy;
mod rng;
mod s3;
mod signing;
mod upstream;
mod wait;

pub use azure::AzureBlobServer;
pub use control_plane::{ControlPlane, ControlPlaneOptions};
pub use crd::{FIELD_MANAGER, install_crds, parse_crds};
pub use error::{Error, Result};
pub use gcs::GcsServer;
pub use git::{AUTHOR_EMAIL, AUTHOR_NAME, GitHttpServer, GitRepo, HttpAuth, git, git_command};
pub use git_ssh::{GitSshServer, ssh_keygen};
pub use helm_repo::{HelmRepoServer, chart_at_version, helm_command, write_chart};
pub use image::{Image, PushedImage, push_node_images};
pub use namespace::TestNamespace;
pub use node::{CLUSTER_DNS, CLUSTER_DOMAIN, Node, REGISTRY_ALIAS, host_ip};
pub use objects::create_object;
pub use oci::{OciRegistry, RegistryTls};
pub use pki::{CertifiedKey, TestCa};
pub use process::{bin_dir, files_under, free_port, oracle_lines, run, tool};
pub use proxy::HttpProxy;
pub use rng::Rng;
pub use s3::S3Server;
pub use signing::{CosignFormat, CosignKey, SigningKey};
pub use upstream::UpstreamController;
pub use wait::{EVENTUALLY_TIMEOUT, eventually, eventually_within};

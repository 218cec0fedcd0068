//! Rust types of the Flux toolkit APIs — every kind, in every version a Flux
//! user may still have in Git — plus the shared meta types and the CRDs
//! generated from the types.
//!
//! No I/O: this crate only describes objects. Controllers read and write
//! them with `kube`; the CLI prints them; `flux-dev crds` writes the CRD
//! manifests in `manifests/crds/` from [`crds()`].
//!
//! ```
//! use flux_api::source::v1::GitRepository;
//!
//! let repo: GitRepository = flux_api::from_yaml(
//!     "apiVersion: source.toolkit.fluxcd.io/v1
//! kind: GitRepository
//! metadata: {name: podinfo, namespace: flux-system}
//! spec: {url: 'https://github.com/stefanprodan/podinfo', interval: 1m, ref: {branch: master}}
//! ",
//! )?;
//! assert_eq!(repo.spec.interval, "1m");
//! # Ok::<(), flux_api::ParseError>(())
//! ```

pub mod crd;
pub mod helm;
pub mod image;
pub mod kustomize;
pub mod kustomize_types;
pub mod meta;
pub mod notification;
pub mod object;
pub mod schema;
pub mod source;
pub mod source_extensions;
mod strict;

pub use object::FluxObject;
pub use strict::{ParseError, from_value, from_yaml};

/// Every CRD, one per kind, with all its served versions.
pub fn crds() -> Vec<crd::CrdDefinition> {
    vec![
        source::git_repository_crd(),
        source::oci_repository_crd(),
        source::helm_repository_crd(),
        source::helm_chart_crd(),
        source::bucket_crd(),
        source::external_artifact_crd(),
        kustomize::kustomization_crd(),
        helm::helm_release_crd(),
        notification::provider_crd(),
        notification::alert_crd(),
        notification::receiver_crd(),
        image::image_repository_crd(),
        image::image_policy_crd(),
        image::image_update_automation_crd(),
    ]
}

/// The CRDs of the extra components (`--components-extra`): source-watcher's
/// ArtifactGenerator.
pub fn extra_crds() -> Vec<crd::CrdDefinition> {
    vec![source_extensions::artifact_generator_crd()]
}

/// [`crds`] and [`extra_crds`]: every CRD of `manifests/crds`.
pub fn all_crds() -> Vec<crd::CrdDefinition> {
    let mut all = crds();
    all.extend(extra_crds());
    all
}

//! What a Flux HelmRelease adds to a chart render, offline: the release
//! name (upstream's 53-character shortening), the values composed from
//! `valuesFrom` and `values` with their digest, and the post-renderers
//! (kustomize patches and images, `commonMetadata`, the origin labels).
//! Shared by the helm controller and by `flux build helmrelease`.

pub mod name;
pub mod objects;
pub mod postrender;
pub mod values;

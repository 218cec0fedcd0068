//! The helm controller: HelmRelease objects reconciled into Helm releases
//! as upstream's helm-controller does (`../shared/reference/
//! upstream-helm-controller.md`).
//!
//! Built in layers, each proven against upstream's own code before the
//! next builds on it:
//! - [`name`]: the release name and its 53-character shortening;
//! - [`values`]: `valuesFrom` + `values` composed in upstream's order and
//!   with Go's sharing of nested maps (a `targetPath` write lands in the
//!   inline values too), and the values digest recorded in
//!   `status.history` (`configDigest`) and event tokens — checked against
//!   `fluxcd/pkg/chartutil` itself (`tests/values_oracle.rs`).

pub mod name;
pub mod values;

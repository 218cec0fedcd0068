//! HelmReleases against a real API server and node, charts from a real
//! Helm repository through the real source controller, releases checked
//! with the real `helm`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod guide;
mod lifecycle;
mod paths;
mod remediation;
mod sources;
mod support;

//! What every toolkit controller shares: Go duration strings, writing
//! status, recording Kubernetes Events. Controllers keep their decisions in
//! pure functions and use this crate for the I/O around them.

pub mod drift;
mod duration;
mod events;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod reconcile;
mod schedule;
pub mod ssa;
mod status;

pub use duration::{format_duration, parse_duration};
pub use events::{EventRecorder, Severity};
pub use metrics::{Metrics, ReconcileResult};
pub use schedule::Schedule;
pub use status::patch_status;

/// Kubernetes time "now", for conditions and artifacts.
pub fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())
}

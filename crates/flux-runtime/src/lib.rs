//! What every toolkit controller shares: the reconcile frame (finalizer
//! protocol, metrics), the step error ([`StepError`]) and the status
//! finaliser that turns an outcome into conditions, events and a requeue
//! ([`finalize`]), conditions, Go duration strings, Kubernetes Events,
//! server-side apply with inventory and prune, health (kstatus and CEL),
//! `dependsOn`, impersonation, leader election. Controllers keep their
//! decisions in pure functions and use this crate for the I/O around them.
//!
//! A reconciler's shape, for every kind:
//!
//! ```text
//! reconcile   → reconcile::run (finalizer protocol, span, metrics)
//!   deleting  → clean up, forget
//!   suspended → nothing
//!   steps     → each returns Result<_, StepError>
//!   finish    → finalize::finalize(outcome): conditions, event, requeue, one status write
//! ```

pub mod artifact;
pub mod cel;
pub mod conditions;
pub mod config_data;
pub mod dependencies;
pub mod drift;
mod duration;
mod error;
mod events;
pub mod finalize;
pub mod health;
pub mod ignore;
pub mod impersonation;
pub mod inventory;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod pull_secrets;
pub mod reconcile;
pub mod release_drift;
pub mod schedule;
pub mod ssa;
mod status;
pub mod substitution;

pub use duration::{DurationError, format_duration, parse_duration};
pub use error::{Next, StepError};
pub use events::{EventRecorder, Severity};
pub use metrics::{Metrics, ReconcileResult};
pub use schedule::Schedule;
pub use status::patch_status;

/// Kubernetes time "now", for conditions and artifacts.
pub fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())
}

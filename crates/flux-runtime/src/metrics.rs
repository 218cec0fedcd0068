//! Prometheus metrics under upstream's names, so that existing dashboards
//! and alerts work: `gotk_reconcile_duration_seconds{kind,name,namespace}`
//! (buckets 0.01 s … 1800 s, as `ExponentialBucketsRange(0.01, 1800, 10)`)
//! and controller-runtime's `controller_runtime_reconcile_total{controller,
//! result}`, `controller_runtime_reconcile_errors_total{controller}` and
//! `controller_runtime_reconcile_time_seconds{controller}`. Exposed as
//! OpenMetrics text on `--metrics-addr` `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets_range};
use prometheus_client::registry::Registry;

/// Labels of `gotk_reconcile_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    kind: String,
    name: String,
    namespace: String,
}

/// Labels of `controller_runtime_reconcile_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    controller: String,
    result: String,
}

/// Labels of the per-controller series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

/// Labels of `gotk_notification_deliveries_total` (beyond upstream).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    namespace: String,
    alert: String,
    provider: String,
    r#type: String,
    result: String,
}

/// How a reconciliation ended, as controller-runtime labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileResult {
    /// Done; nothing scheduled.
    Success,
    /// Scheduled again after a delay (the usual outcome: the interval).
    RequeueAfter,
    /// Failed; retried.
    Error,
    /// Not reconciled: an event the predicates filter out (upstream's
    /// controllers never see it). Not counted.
    Skipped,
}

impl ReconcileResult {
    fn label(self) -> &'static str {
        match self {
            ReconcileResult::Success => "success",
            ReconcileResult::RequeueAfter => "requeue_after",
            ReconcileResult::Error => "error",
            ReconcileResult::Skipped => "skipped",
        }
    }
}

#[derive(Clone)]
struct Buckets(Vec<f64>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// controller-runtime's reconcile time buckets.
const RECONCILE_TIME_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

/// The metrics of one process; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    duration: Family<ObjectLabels, Histogram, Buckets>,
    total: Family<ResultLabels, Counter>,
    errors: Family<ControllerLabels, Counter>,
    time: Family<ControllerLabels, Histogram, Buckets>,
    deliveries: Family<DeliveryLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every series registered (and none recorded yet).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let duration = Family::new_with_constructor(Buckets(
            exponential_buckets_range(0.01, 1800.0, 10).collect(),
        ));
        registry.register(
            "gotk_reconcile_duration_seconds",
            "The duration in seconds of a GitOps Toolkit resource reconciliation.",
            duration.clone(),
        );
        let total = Family::<ResultLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            total.clone(),
        );
        let errors = Family::<ControllerLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            errors.clone(),
        );
        let time = Family::new_with_constructor(Buckets(RECONCILE_TIME_BUCKETS.to_vec()));
        registry.register(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            time.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "gotk_notification_deliveries",
            "Notifications sent to a Provider per Alert, by result (success, failure).",
            deliveries.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                duration,
                total,
                errors,
                time,
                deliveries,
            }),
        }
    }

    /// Records one reconciliation of `kind` `namespace/name` by `controller`
    /// (controller-runtime's name: the lower-case kind, `gitrepository`).
    pub fn record_reconcile(
        &self,
        controller: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        elapsed: Duration,
        result: ReconcileResult,
    ) {
        if result == ReconcileResult::Skipped {
            return;
        }
        let seconds = elapsed.as_secs_f64();
        self.inner
            .duration
            .get_or_create(&ObjectLabels {
                kind: kind.to_string(),
                name: name.to_string(),
                namespace: namespace.to_string(),
            })
            .observe(seconds);
        let controller = ControllerLabels {
            controller: controller.to_string(),
        };
        self.inner
            .total
            .get_or_create(&ResultLabels {
                controller: controller.controller.clone(),
                result: result.label().to_string(),
            })
            .inc();
        if result == ReconcileResult::Error {
            self.inner.errors.get_or_create(&controller).inc();
        }
        self.inner.time.get_or_create(&controller).observe(seconds);
    }

    /// Records one notification of Alert `namespace/alert` to Provider
    /// `provider` (of `provider_type`): delivered or not. Upstream has no
    /// such series; a failed delivery there is only a Kubernetes event.
    pub fn record_delivery(
        &self,
        namespace: &str,
        alert: &str,
        provider: &str,
        provider_type: &str,
        delivered: bool,
    ) {
        self.inner
            .deliveries
            .get_or_create(&DeliveryLabels {
                namespace: namespace.to_string(),
                alert: alert.to_string(),
                provider: provider.to_string(),
                r#type: provider_type.to_string(),
                result: if delivered { "success" } else { "failure" }.to_string(),
            })
            .inc();
    }

    /// Forgets the series of a deleted object.
    pub fn forget(&self, kind: &str, namespace: &str, name: &str) {
        self.inner.duration.remove(&ObjectLabels {
            kind: kind.to_string(),
            name: name.to_string(),
            namespace: namespace.to_string(),
        });
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }
}

/// The `Content-Type` of [`Metrics::encode`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_are_exposed_under_upstream_names() {
        let metrics = Metrics::new();
        metrics.record_reconcile(
            "gitrepository",
            "GitRepository",
            "flux-system",
            "fleet",
            Duration::from_millis(250),
            ReconcileResult::RequeueAfter,
        );
        metrics.record_reconcile(
            "gitrepository",
            "GitRepository",
            "flux-system",
            "fleet",
            Duration::from_secs(3),
            ReconcileResult::Error,
        );
        let text = metrics.encode();
        assert!(text.contains(
            "gotk_reconcile_duration_seconds_count{kind=\"GitRepository\",name=\"fleet\",namespace=\"flux-system\"} 2"
        ), "{text}");
        assert!(text.contains(
            "gotk_reconcile_duration_seconds_bucket{le=\"0.01\",kind=\"GitRepository\",name=\"fleet\",namespace=\"flux-system\"} 0"
        ), "{text}");
        assert!(text.contains(
            "controller_runtime_reconcile_total{controller=\"gitrepository\",result=\"requeue_after\"} 1"
        ), "{text}");
        assert!(
            text.contains(
                "controller_runtime_reconcile_errors_total{controller=\"gitrepository\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "controller_runtime_reconcile_time_seconds_sum{controller=\"gitrepository\"} 3.25"
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
        metrics.forget("GitRepository", "flux-system", "fleet");
        assert!(!metrics.encode().contains("name=\"fleet\""));
    }

    #[test]
    fn duration_buckets_match_upstream() {
        let buckets: Vec<f64> = exponential_buckets_range(0.01, 1800.0, 10).collect();
        assert_eq!(buckets.len(), 10);
        assert!((buckets[0] - 0.01).abs() < 1e-12);
        assert!((buckets[9] - 1800.0).abs() < 1e-6);
        // Go's ExponentialBucketsRange: factor (max/min)^(1/(count-1)), applied repeatedly.
        let factor = (1800.0f64 / 0.01).powf(1.0 / 9.0);
        let mut expected = 0.01;
        for bucket in buckets {
            assert!(
                (bucket - expected).abs() < expected * 1e-9,
                "{bucket} vs {expected}"
            );
            expected *= factor;
        }
    }
}

//! Kubernetes Events with upstream's reasons, reported by the controller
//! (`source-controller`, `kustomize-controller`, …).

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};

/// Records events for one controller.
#[derive(Clone)]
pub struct EventRecorder {
    recorder: Recorder,
}

impl EventRecorder {
    /// A recorder reporting as `controller` (upstream's controller names).
    pub fn new(client: Client, controller: &str) -> Self {
        let reporter = Reporter {
            controller: controller.to_string(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client, reporter),
        }
    }

    /// A Normal event.
    pub async fn normal<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        reason: &str,
        message: &str,
    ) {
        self.publish(object, EventType::Normal, reason, message)
            .await;
    }

    /// A Warning event.
    pub async fn warning<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        reason: &str,
        message: &str,
    ) {
        self.publish(object, EventType::Warning, reason, message)
            .await;
    }

    async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(truncate(message, 1024)),
            action: reason.to_string(),
            secondary: None,
        };
        // An event that cannot be written must not fail a reconciliation.
        let _ = self.recorder.publish(&event, &object.object_ref(&())).await;
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

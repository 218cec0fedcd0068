//! When an object is next due. Every status write comes back as a watch
//! event; upstream's controllers filter those out (generation-changed and
//! reconcile-requested predicates), so that an object is reconciled when
//! its spec changes, when `reconcile.fluxcd.io/requestedAt` changes, or when
//! its interval has passed — not after each of its own status writes. This
//! remembers, per object, the last reconciliation that ended (after a
//! success: until the interval; after a failure: until the retry) and what
//! it saw, and says how long the next one may wait. Without it, a failing
//! object's own status writes (its progress reports, a message that names
//! an elapsed time) would re-trigger it at once, in a loop.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Per-object memory of the last finished reconciliation.
#[derive(Debug, Default)]
pub struct Schedule {
    last: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    generation: Option<i64>,
    token: Option<String>,
    revision: Option<String>,
    at: Instant,
    interval: Duration,
    succeeded: bool,
}

impl Schedule {
    /// How long the reconciliation of `key` may still wait: `Some` when
    /// the last one succeeded less than its interval ago (or failed less
    /// than its retry delay ago) and neither the generation nor the
    /// reconcile-request token changed since.
    pub fn remaining(
        &self,
        key: &str,
        generation: Option<i64>,
        token: Option<&str>,
    ) -> Option<Duration> {
        let last = self.last.lock().ok()?;
        let entry = last.get(key)?;
        if entry.generation != generation || entry.token.as_deref() != token {
            return None;
        }
        entry
            .interval
            .checked_sub(entry.at.elapsed())
            .filter(|d| !d.is_zero())
    }

    /// The revision the last successful reconciliation of `key` applied
    /// (when its kind records one). The object's status may lag behind
    /// (the watch event of the final status write not seen yet); this does
    /// not.
    pub fn revision(&self, key: &str) -> Option<String> {
        let last = self.last.lock().ok()?;
        last.get(key)?.revision.clone()
    }

    /// Whether the last finished reconciliation of `key` succeeded, for
    /// `generation` and of `revision`.
    pub fn succeeded_with(&self, key: &str, generation: Option<i64>, revision: &str) -> bool {
        self.last.lock().ok().is_some_and(|last| {
            last.get(key).is_some_and(|e| {
                e.succeeded && e.generation == generation && e.revision.as_deref() == Some(revision)
            })
        })
    }

    /// Records a successful reconciliation of `key` (that applied
    /// `revision`, for kinds that record one).
    pub fn succeeded(
        &self,
        key: &str,
        generation: Option<i64>,
        token: Option<&str>,
        revision: Option<&str>,
        interval: Duration,
    ) {
        self.record(key, generation, token, revision, interval, true);
    }

    fn record(
        &self,
        key: &str,
        generation: Option<i64>,
        token: Option<&str>,
        revision: Option<&str>,
        interval: Duration,
        succeeded: bool,
    ) {
        if let Ok(mut last) = self.last.lock() {
            last.insert(
                key.to_string(),
                Entry {
                    generation,
                    token: token.map(str::to_string),
                    revision: revision.map(str::to_string),
                    at: Instant::now(),
                    interval,
                    succeeded,
                },
            );
        }
    }

    /// Records a failed reconciliation of `key` (of `revision`) that is
    /// retried after `retry`: events that change nothing wait for it.
    pub fn failed(
        &self,
        key: &str,
        generation: Option<i64>,
        token: Option<&str>,
        revision: Option<&str>,
        retry: Duration,
    ) {
        self.record(key, generation, token, revision, retry, false);
    }

    /// Forgets `key` (when waiting for something else, or when the object
    /// is deleted): its next event is reconciled at once.
    pub fn forget(&self, key: &str) {
        if let Ok(mut last) = self.last.lock() {
            last.remove(key);
        }
    }
}

/// The schedule's key of `object`: `Kind/namespace/name` (kinds reconciled
/// in one process share a schedule; their names may be equal).
pub fn key<K: kube::Resource<DynamicType = ()>>(object: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        object.meta().namespace.as_deref().unwrap_or_default(),
        object.meta().name.as_deref().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unchanged_objects_within_their_interval_wait() {
        let schedule = Schedule::default();
        assert_eq!(schedule.remaining("ns/a", Some(1), None), None);
        schedule.succeeded(
            "ns/a",
            Some(1),
            None,
            Some("main@sha1:1"),
            Duration::from_secs(600),
        );
        assert_eq!(schedule.revision("ns/a").as_deref(), Some("main@sha1:1"));
        let left = schedule.remaining("ns/a", Some(1), None).unwrap();
        assert!(left > Duration::from_secs(590) && left <= Duration::from_secs(600));
        assert_eq!(
            schedule.remaining("ns/a", Some(2), None),
            None,
            "spec changed"
        );
        assert_eq!(
            schedule.remaining("ns/a", Some(1), Some("now")),
            None,
            "reconcile requested"
        );
        schedule.succeeded("ns/a", Some(1), Some("now"), None, Duration::from_secs(600));
        assert!(schedule.remaining("ns/a", Some(1), Some("now")).is_some());
        schedule.succeeded("ns/b", Some(1), None, None, Duration::ZERO);
        assert_eq!(
            schedule.remaining("ns/b", Some(1), None),
            None,
            "interval passed"
        );
        schedule.forget("ns/a");
        assert_eq!(schedule.remaining("ns/a", Some(1), Some("now")), None);
        schedule.failed(
            "ns/c",
            Some(1),
            None,
            Some("main@sha1:2"),
            Duration::from_secs(30),
        );
        assert!(
            schedule.remaining("ns/c", Some(1), None).is_some(),
            "retry not due"
        );
        assert_eq!(schedule.revision("ns/c").as_deref(), Some("main@sha1:2"));
        assert_eq!(
            schedule.remaining("ns/c", Some(2), None),
            None,
            "spec changed"
        );
        assert!(
            !schedule.succeeded_with("ns/c", Some(1), "main@sha1:2"),
            "failed"
        );
        schedule.succeeded("ns/c", Some(1), None, Some("main@sha1:2"), Duration::ZERO);
        assert!(schedule.succeeded_with("ns/c", Some(1), "main@sha1:2"));
        assert!(!schedule.succeeded_with("ns/c", Some(2), "main@sha1:2"));
        assert!(!schedule.succeeded_with("ns/c", Some(1), "main@sha1:3"));
        assert!(!schedule.succeeded_with("ns/d", Some(1), "main@sha1:2"));
    }
}

//! The duplicate-event rate limit: one event per key per interval, as
//! upstream's `sethvargo/go-limiter` memory store with one token per
//! `--rate-limit-interval`: the token comes back at each whole interval
//! counted from the key's first event; keys idle for two intervals are
//! forgotten.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The verdict on one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Take {
    /// Whether the event may pass.
    pub ok: bool,
    /// Tokens left in this interval (`X-RateLimit-Remaining`).
    pub remaining: u64,
    /// When the token comes back (`X-RateLimit-Reset`, `Retry-After`).
    pub reset: SystemTime,
}

struct Bucket {
    start: SystemTime,
    last_tick: u64,
    available: u64,
}

/// Per-key buckets of one token.
pub struct Limiter {
    interval: Duration,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// One event per key per `interval` (at least a millisecond).
    pub fn new(interval: Duration) -> Self {
        Self {
            interval: interval.max(Duration::from_millis(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn tick(&self, start: SystemTime, now: SystemTime) -> u64 {
        let elapsed = now.duration_since(start).unwrap_or_default();
        (elapsed.as_nanos() / self.interval.as_nanos().max(1)) as u64
    }

    /// Takes the token of `key` at `now`.
    pub fn take_at(&self, key: &str, now: SystemTime) -> Take {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Take {
                ok: true,
                remaining: 0,
                reset: now,
            };
        };
        if buckets.len() > 1024 {
            let ttl = self.interval * 2;
            let interval = self.interval;
            buckets.retain(|_, b| {
                let last = b.start + interval * u32::try_from(b.last_tick).unwrap_or(u32::MAX);
                now.duration_since(last).unwrap_or_default() < ttl
            });
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            start: now,
            last_tick: 0,
            available: 1,
        });
        if now < bucket.start {
            bucket.start = now;
            bucket.last_tick = 0;
        }
        let tick = self.tick(bucket.start, now);
        let reset = bucket.start + self.interval * u32::try_from(tick + 1).unwrap_or(u32::MAX);
        if bucket.last_tick < tick {
            bucket.available = 1;
            bucket.last_tick = tick;
        }
        if bucket.available > 0 {
            bucket.available -= 1;
            Take {
                ok: true,
                remaining: bucket.available,
                reset,
            }
        } else {
            Take {
                ok: false,
                remaining: 0,
                reset,
            }
        }
    }

    /// Takes the token of `key` now.
    pub fn take(&self, key: &str) -> Take {
        self.take_at(key, SystemTime::now())
    }
}

/// Go's `time.RFC1123` of `t` in UTC (`Mon, 02 Jan 2006 15:04:05 UTC`).
pub fn rfc1123(t: SystemTime) -> String {
    let nanos = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    k8s_openapi::jiff::Timestamp::from_nanosecond(i128::try_from(nanos).unwrap_or_default())
        .map(|ts| ts.strftime("%a, %d %b %Y %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// The message with Go durations (`2.08s`, `1m30s`, `150ms`) replaced, so
/// that "Reconciliation finished in 2.08s" and "… in 1.9s" are one
/// duplicate (`--rate-limit-ignore-durations`, beyond upstream).
pub fn without_durations(message: &str) -> String {
    static DURATION: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    match DURATION.get_or_init(|| {
        regex::Regex::new(r"\b(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+\b").ok()
    }) {
        Some(re) => re.replace_all(message, "<duration>").into_owned(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_token_per_interval_from_the_first_event() {
        let limiter = Limiter::new(Duration::from_secs(300));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(limiter.take_at("a", t0).ok);
        let second = limiter.take_at("a", t0 + Duration::from_secs(10));
        assert!(!second.ok);
        assert_eq!(second.reset, t0 + Duration::from_secs(300));
        assert!(limiter.take_at("b", t0 + Duration::from_secs(10)).ok);
        assert!(limiter.take_at("a", t0 + Duration::from_secs(300)).ok);
        assert!(!limiter.take_at("a", t0 + Duration::from_secs(599)).ok);
    }

    #[test]
    fn rfc1123_is_go_s() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_136_214_245);
        assert_eq!(rfc1123(t), "Mon, 02 Jan 2006 15:04:05 UTC");
    }

    #[test]
    fn durations_are_normalised() {
        assert_eq!(
            without_durations("Reconciliation finished in 2.08s, next run in 1m30s"),
            without_durations("Reconciliation finished in 19ms, next run in 1m30s")
        );
        assert_eq!(without_durations("revision v1.2.3"), "revision v1.2.3");
    }
}

//! Deadlines for Git network operations.
//!
//! libgit2 blocks in `connect`/`recv` for as long as a server keeps a
//! connection open without answering: a `tokio::time::timeout` around the
//! blocking task ends the wait, not the thread or its socket. Two bounds
//! are enforced inside libgit2 instead:
//!
//! - **Silence**: every socket libgit2 opens (HTTP, HTTPS, and SSH through
//!   libssh2) gives up after [`SERVER_TIMEOUT`] without a byte (or without
//!   completing the connection), with libgit2's `GIT_TIMEOUT`. The bound is
//!   process-wide (libgit2 reads it when it opens a socket) and is set once,
//!   before the first operation of the process (a [`std::sync::Once`] every
//!   operation passes through), so no operation runs while it is written.
//! - **Total**: the caller's [`Deadline`] (the object's `spec.timeout`)
//!   aborts a transfer that still trickles when it expires (libgit2's
//!   progress callbacks return false).
//!
//! Either way the operation fails with [`crate::Error::Timeout`], its thread
//! ends and its socket is closed.

use std::cell::Cell;
use std::sync::Once;
use std::time::{Duration, Instant};

/// How long a Git server may stay silent (connecting, or between two reads)
/// before the operation fails. Git servers send keep-alive packets every
/// few seconds while they prepare a pack (`uploadpack.keepAlive`, 5 s by
/// default), so only a hung server is this quiet.
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(20);

static SET_SERVER_TIMEOUTS: Once = Once::new();

thread_local! {
    static DEADLINE: Cell<Option<(Instant, Duration)>> = const { Cell::new(None) };
}

/// Sets libgit2's socket timeouts, once per process, before any operation.
pub(crate) fn init() {
    SET_SERVER_TIMEOUTS.call_once(set_server_timeouts);
}

// The one `unsafe` of the workspace: libgit2's options are plain C globals,
// and git2 marks their setters unsafe because a write racing an operation
// that reads them is a data race. This runs inside `SET_SERVER_TIMEOUTS`,
// and every network operation of this crate calls `init()` (the `Once`)
// before it starts, so each read happens after the write completed.
#[allow(unsafe_code)]
fn set_server_timeouts() {
    let ms = i32::try_from(SERVER_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: see above; the setters cannot fail for these options.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(ms);
        let _ = git2::opts::set_server_timeout_in_milliseconds(ms);
    }
}

/// The time limit of the Git operations run on this thread while it lives
/// (the object's `spec.timeout`). Operations without one are bounded only
/// by [`SERVER_TIMEOUT`] of silence.
#[must_use = "the deadline ends when dropped"]
pub struct Deadline {
    previous: Option<(Instant, Duration)>,
}

impl Deadline {
    /// Gives the operations run on this thread `timeout` from now.
    pub fn start(timeout: Duration) -> Deadline {
        let at = Instant::now().checked_add(timeout);
        let previous = DEADLINE.with(|d| d.replace(at.map(|at| (at, timeout))));
        Deadline { previous }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.previous));
    }
}

/// The timeout of this thread's deadline, when it has passed.
pub(crate) fn expired() -> Option<Duration> {
    DEADLINE.with(|d| {
        d.get()
            .filter(|(at, _)| Instant::now() >= *at)
            .map(|(_, t)| t)
    })
}

/// How long the operation that failed with `error` had, when it failed
/// for lack of time: its deadline passed, or the server stayed silent for
/// [`SERVER_TIMEOUT`].
pub(crate) fn timed_out(error: &git2::Error) -> Option<String> {
    if let Some(t) = expired() {
        return Some(go_duration(t));
    }
    let silent = error.code() == git2::ErrorCode::Timeout
        || error.message().contains("timed out")
        || error.message().contains("Timed out");
    silent.then(|| {
        format!(
            "{} without an answer from the server",
            go_duration(SERVER_TIMEOUT)
        )
    })
}

/// Go's spelling of a duration (`1m30s`, `5s`, `500ms`).
pub(crate) fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, rest) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if rest == 0 {
        out.push_str(&format!("{s}s"));
    } else {
        let frac = format!("{rest:03}");
        out.push_str(&format!("{s}.{}s", frac.trim_end_matches('0')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_spelled_as_go_does() {
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    }

    #[test]
    fn a_deadline_belongs_to_its_thread_and_nests() {
        assert_eq!(expired(), None);
        let outer = Deadline::start(Duration::ZERO);
        assert_eq!(expired(), Some(Duration::ZERO));
        {
            let _inner = Deadline::start(Duration::from_secs(60));
            assert_eq!(expired(), None);
            std::thread::spawn(|| assert_eq!(expired(), None))
                .join()
                .unwrap();
        }
        assert_eq!(expired(), Some(Duration::ZERO));
        drop(outer);
        assert_eq!(expired(), None);
    }
}

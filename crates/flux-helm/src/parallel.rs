//! An ordered parallel map over the cores, with bounded memory: what a
//! large index costs to read is spread over the machine while its output
//! is still written in order.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};

/// Computes `work(i)` for `i` in `0..n` on up to as many threads as there
/// are cores, and hands each result to `take` in order of `i`. At most a
/// few results per thread wait to be taken; `take` returning `false` stops
/// the work (what is running finishes, nothing more starts).
pub(crate) fn ordered_map<T: Send>(
    n: usize,
    work: impl Fn(usize) -> T + Sync,
    mut take: impl FnMut(usize, T) -> bool,
) {
    let threads = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1)
        .min(8);
    if threads <= 1 || n <= 1 {
        for i in 0..n {
            if !take(i, work(i)) {
                return;
            }
        }
        return;
    }
    let window = 4 * threads;
    struct State<T> {
        /// The next `i` to compute.
        next: usize,
        /// How many results were taken.
        taken: usize,
        done: BTreeMap<usize, T>,
        stop: bool,
        /// Workers still running.
        live: usize,
    }
    let state = Mutex::new(State {
        next: 0,
        taken: 0,
        done: BTreeMap::new(),
        stop: false,
        live: threads,
    });
    let changed = Condvar::new();
    // A poisoned lock only means a worker panicked; the state is still
    // consistent (every update is a single step).
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                // Counts the worker out however it leaves (a panic too), so
                // the taker never waits for a result nobody will compute.
                struct Leaving<'a, F: Fn()>(&'a F);
                impl<F: Fn()> Drop for Leaving<'_, F> {
                    fn drop(&mut self) {
                        (self.0)()
                    }
                }
                let leave = || {
                    lock().live -= 1;
                    changed.notify_all();
                };
                let _leaving = Leaving(&leave);
                loop {
                    let i = {
                        let mut s = lock();
                        while !s.stop && s.next < n && s.next >= s.taken + window {
                            s = changed.wait(s).unwrap_or_else(|e| e.into_inner());
                        }
                        if s.stop || s.next >= n {
                            return;
                        }
                        s.next += 1;
                        s.next - 1
                    };
                    let result = work(i);
                    lock().done.insert(i, result);
                    changed.notify_all();
                }
            });
        }
        for i in 0..n {
            let result = {
                let mut s = lock();
                loop {
                    if let Some(result) = s.done.remove(&i) {
                        s.taken = i + 1;
                        break Some(result);
                    }
                    // Every worker has left without computing `i`: only
                    // when one panicked (the scope then propagates it).
                    if s.live == 0 {
                        break None;
                    }
                    s = changed.wait(s).unwrap_or_else(|e| e.into_inner());
                }
            };
            changed.notify_all();
            let Some(result) = result else { break };
            if !take(i, result) {
                lock().stop = true;
                changed.notify_all();
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::ordered_map;

    #[test]
    fn results_come_in_order_and_stopping_stops() {
        let mut seen = Vec::new();
        ordered_map(
            1000,
            |i| {
                // Uneven work: later items often finish first.
                if i % 7 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                i * 2
            },
            |i, v| {
                assert_eq!(v, i * 2);
                seen.push(i);
                true
            },
        );
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        let computed = std::sync::atomic::AtomicUsize::new(0);
        let mut taken = 0;
        ordered_map(
            10_000,
            |i| {
                computed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                i
            },
            |i, _| {
                taken += 1;
                i < 9
            },
        );
        assert_eq!(taken, 10);
        // Bounded: little beyond what was taken was computed.
        assert!(computed.load(std::sync::atomic::Ordering::Relaxed) < 10 + 4 * 8 + 8);
    }
}

//! Crash points: numbered places where a test can have the process killed with `SIGKILL`.
//!
//! Every atomic write passes three or four points ([`CrashSite::Write`]: halfway through the
//! bytes, before the `fsync`, before the rename, after it) and the training loop passes one per
//! batch ([`CrashSite::Step`]). Each site counts the points passed since the process started;
//! [`arm`] chooses the one at which the process kills itself, so a kill test can stop a child
//! process at exactly the n-th point, including in the middle of writing a checkpoint. Unarmed,
//! a point costs one atomic increment.

use std::sync::atomic::{AtomicU64, Ordering};

/// Which kind of place a crash point stands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashSite {
    /// Inside an atomic file write (checkpoints, configs, metrics, plots).
    Write,
    /// At a training batch, before the optimiser step.
    Step,
}

impl CrashSite {
    fn index(self) -> usize {
        match self {
            CrashSite::Write => 0,
            CrashSite::Step => 1,
        }
    }
}

static SEEN: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static ARMED: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Kills the process with `SIGKILL` when it reaches the `n`-th point of `site` (counted from
/// the process's start, 1-based); `n = 0` disarms.
pub fn arm(site: CrashSite, n: u64) {
    ARMED[site.index()].store(n, Ordering::SeqCst);
}

/// How many points of `site` the process has passed.
pub fn count(site: CrashSite) -> u64 {
    SEEN[site.index()].load(Ordering::SeqCst)
}

/// A crash point: counts it, and kills the process if it is the armed one.
pub fn point(site: CrashSite) {
    let seen = SEEN[site.index()].fetch_add(1, Ordering::SeqCst) + 1;
    if ARMED[site.index()].load(Ordering::SeqCst) == seen {
        eprintln!("crash point {site:?} #{seen}: killing the process with SIGKILL");
        kill_self();
    }
}

fn kill_self() -> ! {
    #[cfg(unix)]
    {
        // SAFETY: kill(2) with this process's own id and a signal number touches no memory.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        // The signal may reach the process a moment after kill(2) returns; nothing more runs here.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    #[cfg(not(unix))]
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_counted_per_site() {
        let before = (count(CrashSite::Write), count(CrashSite::Step));
        point(CrashSite::Step);
        point(CrashSite::Step);
        assert!(count(CrashSite::Step) >= before.1 + 2);
        // Armed far ahead: passing points does not kill.
        arm(CrashSite::Step, u64::MAX);
        point(CrashSite::Step);
        arm(CrashSite::Step, 0);
    }
}

//! The process's memory allocator, tuned for training and inference loops.
//!
//! Every tensor operation allocates its result and frees its inputs, so a loop allocates and
//! frees the same large blocks over and over. glibc's `malloc` gives blocks of 128 KiB and more
//! back to the kernel (`munmap`, heap trimming) and takes them again on the next call, and every
//! page of them then costs a page fault and a zeroing. Keeping freed memory in the process
//! removes that: `cargo run --release --example bench` trained `medium` at 4,015 sequences per
//! second with these settings and 3,074 without (same binary, same hour; see BENCHMARKS.md).

use std::sync::Once;

/// Tells glibc's `malloc` to keep freed memory for reuse: blocks up to 32 MiB (the most glibc
/// allows) come from the heap instead of `mmap`, the heap is never trimmed, and all threads
/// share one arena. Called by [`crate::train`] and [`crate::Predictor`]; safe to call again
/// (only the first call acts). Does nothing on other C libraries and systems.
///
/// The cost is that a process keeps the peak of its heap until it exits.
pub fn keep_freed_memory() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: `mallopt` only changes allocator parameters; these are documented values.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024 * 1024);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    });
}

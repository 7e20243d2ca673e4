//! Splitting a scan over threads: the scan is a sequence of phases (a step, or half a step of
//! the backward pass), each cut into chunks (ranges of hidden units), or one phase cut into
//! chunks of whole sequences (`split.rs`). Threads claim chunks in order and a
//! chunk starts only once the previous phase is complete, so a step waits for the whole
//! previous state while the threads never wait for rayon to schedule anything.
//!
//! A step on `medium` takes ~20 µs: asking rayon to run each step's halves (twice per step, for
//! the product and the activation) cost more than the split saved. Here rayon starts the
//! helpers once per scan; they spin between phases (well under a microsecond each). Whoever
//! shows up claims the next chunk, so the scan completes even if a helper never starts (rayon's
//! threads busy elsewhere): the calling thread can run every chunk itself.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use std::mem::MaybeUninit;
use std::ops::Range;

use super::packed::Destination;
use crate::cells::{Blocks, BlocksMut};

/// Spins before a waiting thread starts yielding its core (an oversubscribed machine).
const SPINS_BEFORE_YIELD: u32 = 1 << 12;

/// How many threads a scan whose steps each do `work` multiply-adds should use: one below
/// `min_work`, otherwise rayon's thread count (at most `max`).
pub(crate) fn size(work: usize, min_work: usize, max: usize) -> usize {
    if work < min_work {
        1
    } else {
        rayon::current_num_threads().clamp(1, max.max(1))
    }
}

/// Runs `job(phase, chunk)` for every chunk of every phase (`chunks` per phase) on up to
/// `threads` threads; every chunk of a phase finishes before any chunk of the next one starts.
/// A panicking job makes the threads waiting for it panic too, instead of spinning forever.
pub(crate) fn run(threads: usize, phases: usize, chunks: usize, job: impl Fn(usize, usize) + Sync) {
    if threads <= 1 || chunks <= 1 {
        for phase in 0..phases {
            for chunk in 0..chunks {
                job(phase, chunk);
            }
        }
        return;
    }
    let progress = Progress::default();
    let tickets = phases * chunks;
    let participate = || {
        loop {
            let ticket = progress.claimed.fetch_add(1, Ordering::Relaxed);
            if ticket >= tickets {
                return;
            }
            let (phase, chunk) = (ticket / chunks, ticket % chunks);
            // Every ticket before this phase was claimed before this one: by threads running.
            progress.wait_until_done(phase * chunks);
            let guard = PoisonOnPanic(&progress);
            job(phase, chunk);
            std::mem::forget(guard);
            progress.done.fetch_add(1, Ordering::Release);
        }
    };
    rayon::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|_| participate());
        }
        participate();
    });
}

/// The tickets claimed and completed so far.
#[derive(Default)]
struct Progress {
    claimed: AtomicUsize,
    done: AtomicUsize,
    poisoned: AtomicBool,
}

impl Progress {
    /// Spins (then yields) until `count` tickets are complete, seeing their writes.
    fn wait_until_done(&self, count: usize) {
        let mut spins = 0u32;
        while self.done.load(Ordering::Acquire) < count {
            assert!(
                !self.poisoned.load(Ordering::Relaxed),
                "another thread of the scan panicked"
            );
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Marks the scan poisoned when dropped, i.e. when its job unwinds.
struct PoisonOnPanic<'a>(&'a Progress);

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        self.0.poisoned.store(true, Ordering::Relaxed);
    }
}

/// A slice that the chunks of a phase write in disjoint parts, shared by the threads.
#[derive(Clone, Copy)]
pub(crate) struct Shared {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: the chunks of one phase write disjoint elements, and elements written in one phase
// are read only in later phases, after `run` has ordered them (the callers' discipline).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    pub fn new(values: &mut [f32]) -> Self {
        Self {
            ptr: values.as_mut_ptr(),
            len: values.len(),
        }
    }

    /// Memory that is only read through this handle (`get`, `blocks`): never written.
    pub fn read_only(values: &[f32]) -> Self {
        Self {
            ptr: values.as_ptr().cast_mut(),
            len: values.len(),
        }
    }

    /// Memory nothing has written yet: only written through [`Self::rows`] (a product),
    /// [`Self::uninit_mut`] or [`Self::blocks_mut`] until each element has been written, which
    /// is the caller's discipline.
    pub fn unfilled(values: &mut [MaybeUninit<f32>]) -> Self {
        Self {
            ptr: values.as_mut_ptr().cast(),
            len: values.len(),
        }
    }

    /// The elements in `range`, as a handle of their own (the same discipline applies).
    pub fn part(&self, range: Range<usize>) -> Self {
        assert!(range.start <= range.end && range.end <= self.len);
        Self {
            // SAFETY: inside the slice (checked).
            ptr: unsafe { self.ptr.add(range.start) },
            len: range.len(),
        }
    }

    /// A product's destination: rows `row_stride` apart from element `offset` on.
    #[inline]
    pub fn rows(&self, offset: usize, row_stride: usize) -> Destination {
        assert!(offset <= self.len);
        Destination {
            // SAFETY: inside the slice (checked).
            ptr: unsafe { self.ptr.add(offset) },
            row_stride,
            len: self.len - offset,
        }
    }

    /// `count` blocks of `len` elements from `offset` on, `stride` apart, for reading.
    ///
    /// # Safety
    /// They have been written, and no chunk writes them while the blocks live.
    #[inline]
    pub unsafe fn blocks(
        &self,
        offset: usize,
        stride: usize,
        len: usize,
        count: usize,
    ) -> Blocks<'_> {
        assert!(count == 0 || offset + (count - 1) * stride + len <= self.len);
        // SAFETY: inside the slice (checked); written and not written meanwhile (the caller).
        unsafe { Blocks::from_ptr(self.ptr.add(offset), stride, len, count) }
    }

    /// `count` blocks of `len` elements from `offset` on, `stride` apart, for writing.
    ///
    /// # Safety
    /// No other chunk reads or writes them while the blocks live.
    #[inline]
    pub unsafe fn blocks_mut(
        &self,
        offset: usize,
        stride: usize,
        len: usize,
        count: usize,
    ) -> BlocksMut<'_> {
        assert!(count == 0 || offset + (count - 1) * stride + len <= self.len);
        // SAFETY: inside the slice (checked); this chunk's alone meanwhile (the caller).
        unsafe { BlocksMut::from_ptr(self.ptr.add(offset), stride, len, count) }
    }

    /// The elements in `range`, for writing, whether or not they have been written.
    ///
    /// # Safety
    /// No other chunk reads or writes them while the slice lives.
    #[allow(clippy::mut_from_ref)] // disjointness is the callers' promise, as documented
    #[inline]
    pub unsafe fn uninit_mut(&self, range: Range<usize>) -> &mut [MaybeUninit<f32>] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: inside the slice; this chunk's alone meanwhile (the caller's promise).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start).cast(), range.len()) }
    }

    /// The elements in `range`, for reading.
    ///
    /// # Safety
    /// They have been written, and no chunk writes them while the slice lives.
    #[inline]
    pub unsafe fn get(&self, range: Range<usize>) -> &[f32] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: inside the slice; not written meanwhile (the caller's promise).
        unsafe { std::slice::from_raw_parts(self.ptr.add(range.start), range.len()) }
    }

    /// The elements in `range`, for writing.
    ///
    /// # Safety
    /// No other chunk reads or writes them while the slice lives.
    #[allow(clippy::mut_from_ref)] // disjointness is the callers' promise, as documented
    #[inline]
    pub unsafe fn get_mut(&self, range: Range<usize>) -> &mut [f32] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: inside the slice; this chunk's alone meanwhile (the caller's promise).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.len()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In each phase every chunk writes its slot, reading all slots of the previous phase:
    /// each must see every chunk's value of that phase.
    #[test]
    fn each_phase_sees_all_of_the_previous_one() {
        for (threads, chunks) in [(1, 3), (2, 2), (2, 5), (4, 3)] {
            let mut slots = vec![0.0; 2 * chunks];
            let shared = Shared::new(&mut slots);
            run(threads, 300, chunks, |phase, chunk| {
                let (now, before) = (phase % 2 * chunks, (phase + 1) % 2 * chunks);
                // SAFETY: the previous phase's slots are complete and not written now.
                let seen = unsafe { shared.get(before..before + chunks) }.to_vec();
                assert!(
                    seen.iter().all(|&v| v == phase as f32),
                    "{seen:?} in phase {phase}"
                );
                // SAFETY: slot `chunk` of this phase's half is this chunk's alone.
                unsafe { shared.get_mut(now + chunk..now + chunk + 1)[0] = phase as f32 + 1.0 };
            });
        }
    }

    /// Scans started from inside rayon's busy threads (a user's parallel loop over models)
    /// complete: whoever runs a scan can run all of its chunks.
    #[test]
    fn scans_inside_busy_rayon_threads_complete() {
        use rayon::prelude::*;
        let chunks_run: usize = (0..16)
            .into_par_iter()
            .map(|_| {
                let count = AtomicUsize::new(0);
                run(4, 50, 4, |_, _| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
                count.into_inner()
            })
            .sum();
        assert_eq!(chunks_run, 16 * 50 * 4);
    }

    /// A panicking chunk makes the others panic instead of hanging.
    #[test]
    fn a_panicking_chunk_releases_the_others() {
        let outcome = std::panic::catch_unwind(|| {
            run(2, 10, 2, |phase, chunk| {
                if phase == 3 && chunk == 1 {
                    panic!("chunk fails");
                }
            })
        });
        assert!(outcome.is_err());
    }
}

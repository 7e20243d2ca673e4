//! The process's memory allocator, tuned for training and inference loops.
//!
//! Every tensor operation allocates its result and frees its inputs, so a loop allocates and
//! frees the same large blocks over and over. glibc's `malloc` gives blocks of 128 KiB and more
//! back to the kernel (`munmap`, heap trimming) and takes them again on the next call, and every
//! 4 KiB page of them then costs a page fault and a zeroing. Two remedies, measured with
//! `cargo run --release --example bench` in BENCHMARKS.md: [`keep_freed_memory`] (blocks up to
//! 32 MiB stay in glibc's heap) and [`CachingAllocator`] (larger blocks are reused).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::{Mutex, Once};

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

/// Blocks at least this large are kept for reuse by [`CachingAllocator`].
const LARGE_BLOCK_BYTES: usize = 4 << 20;

/// The system allocator, except that freed blocks of 4 MiB and more (the `[T, B, ·]` tensors
/// of a recurrent layer) are kept, up to 32 of them and 4 GiB, and handed out again for the
/// same size. glibc returns such blocks to the kernel at once (`munmap`), so a training loop,
/// which allocates the same shapes every step, otherwise pays a page fault and a zeroing for
/// every 4 KiB of them every time: `perf` showed 10–16 % of `large` training in the kernel's
/// `clear_page`, and none with this allocator. The cost is that the process holds on to the
/// freed blocks. A library cannot choose the allocator; a binary opts in with
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: burn_rnn_train::CachingAllocator = burn_rnn_train::CachingAllocator;
/// ```
///
/// as this package's examples and command-line tool do.
pub struct CachingAllocator;

/// Freed large blocks kept for reuse: `(address, size, alignment)` (`free` ignores alignment).
static KEPT: Mutex<[Option<(usize, usize, usize)>; KEPT_BLOCKS]> = Mutex::new([None; KEPT_BLOCKS]);
/// How many freed large blocks are kept, and their total size at most.
const KEPT_BLOCKS: usize = 32;
const KEPT_MAX_BYTES: usize = 4 << 30;

impl CachingAllocator {
    /// A kept block of exactly this size, aligned for `layout`, if any.
    fn take_kept(layout: Layout) -> Option<*mut u8> {
        let mut kept = KEPT.lock().ok()?;
        let fits = |&(address, size, _): &(usize, usize, usize)| {
            size == layout.size() && address.is_multiple_of(layout.align())
        };
        let slot = kept
            .iter_mut()
            .find(|slot| slot.is_some_and(|block| fits(&block)))?;
        slot.take().map(|(address, _, _)| address as *mut u8)
    }

    /// Keeps a freed block if there is room; false when the caller must free it.
    fn keep(ptr: *mut u8, layout: Layout) -> bool {
        let Ok(mut kept) = KEPT.lock() else {
            return false;
        };
        let total: usize = kept.iter().flatten().map(|(_, size, _)| size).sum();
        if total + layout.size() > KEPT_MAX_BYTES {
            return false;
        }
        match kept.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => {
                *slot = Some((ptr as usize, layout.size(), layout.align()));
                true
            }
            None => false,
        }
    }
}

// SAFETY: blocks come from `System` (directly, or kept after a `dealloc` of the same size and
// a compatible alignment) and go back to it.
unsafe impl GlobalAlloc for CachingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE_BLOCK_BYTES
            && let Some(ptr) = Self::take_kept(layout)
        {
            return ptr;
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE_BLOCK_BYTES
            && let Some(ptr) = Self::take_kept(layout)
        {
            // SAFETY: the kept block has exactly `layout.size()` bytes.
            unsafe { std::ptr::write_bytes(ptr, 0, layout.size()) };
            return ptr;
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= LARGE_BLOCK_BYTES && Self::keep(ptr, layout) {
            return;
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    /// Growing or shrinking to or from a large size goes through [`alloc`](Self::alloc) and
    /// [`dealloc`](Self::dealloc), so that a growing `Vec` takes a kept block and leaves its old
    /// one for the next. Handing large reallocations to `System` would leave every kept block
    /// unused by them and keep each block they free: a buffer that grows past 4 MiB once per
    /// epoch (a run's history, written out) then kept a new 4 MiB block every epoch until all
    /// 32 slots were full, 128 MiB in the hour-long soak.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() < LARGE_BLOCK_BYTES && new_size < LARGE_BLOCK_BYTES {
            // SAFETY: forwarded with the caller's guarantees (every block is a `System` block).
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the caller guarantees that `new_size`, rounded up to the alignment, fits in
        // `isize`, which is what `from_size_align_unchecked` needs.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` is non-zero (the caller's guarantee).
        let new_ptr = unsafe { self.alloc(new_layout) };
        if !new_ptr.is_null() {
            // SAFETY: both blocks hold at least the copied bytes and are distinct; the old
            // block is freed with its own layout.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new_ptr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many blocks of `size` bytes [`CachingAllocator`] keeps now (other tests keep other
    /// sizes).
    fn kept_blocks(size: usize) -> usize {
        let kept = KEPT.lock().unwrap();
        kept.iter()
            .flatten()
            .filter(|block| block.1 == size)
            .count()
    }

    /// A buffer that grows past 4 MiB by reallocation and is freed, again and again (what a
    /// history written out every epoch does), reuses the blocks it left: the kept set stays
    /// the same size instead of gaining a block each time.
    #[test]
    fn growing_buffers_reuse_kept_blocks() {
        let grow_and_free = || {
            let small = Layout::from_size_align(3 << 20, 8).unwrap();
            // SAFETY: each block is freed with the layout it has at that moment.
            unsafe {
                let ptr = CachingAllocator.alloc(small);
                *ptr = 42;
                let grown = CachingAllocator.realloc(ptr, small, 6 << 20);
                assert_eq!(*grown, 42);
                let grown_more = CachingAllocator.realloc(
                    grown,
                    Layout::from_size_align(6 << 20, 8).unwrap(),
                    12 << 20,
                );
                assert_eq!(*grown_more, 42);
                CachingAllocator.dealloc(grown_more, Layout::from_size_align(12 << 20, 8).unwrap());
            }
        };
        for _ in 0..100 {
            grow_and_free();
        }
        for size in [6 << 20, 12 << 20] {
            assert!(
                kept_blocks(size) <= 1,
                "{} kept blocks of {size} bytes",
                kept_blocks(size)
            );
        }
    }

    /// Large and small blocks, zeroed or not, grown and shrunk, hold what is written to them.
    #[test]
    fn the_allocator_returns_usable_memory() {
        for size in [16, 1 << 20, 5 << 20, 9 << 20] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            // SAFETY: the layout is non-zero; every block is freed with its layout.
            unsafe {
                let zeroed = CachingAllocator.alloc_zeroed(layout);
                assert!(!zeroed.is_null());
                assert!(
                    std::slice::from_raw_parts(zeroed, size)
                        .iter()
                        .all(|&b| b == 0)
                );
                CachingAllocator.dealloc(zeroed, layout);
                let block = CachingAllocator.alloc(layout);
                std::ptr::write_bytes(block, 7, size);
                let grown = CachingAllocator.realloc(block, layout, size * 2);
                assert_eq!(*grown.add(size - 1), 7);
                CachingAllocator.dealloc(grown, Layout::from_size_align(size * 2, 64).unwrap());
            }
        }
    }
}

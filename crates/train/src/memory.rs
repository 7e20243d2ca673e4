//! The process's memory allocator, tuned for training and inference loops.
//!
//! Every tensor operation allocates its result and frees its inputs, so a loop allocates and
//! frees the same large blocks over and over. glibc's `malloc` gives blocks of 128 KiB and more
//! back to the kernel (`munmap`, heap trimming) and takes them again on the next call, and every
//! 4 KiB page of them then costs a page fault and a zeroing. Two remedies, measured with
//! `cargo run --release --example bench` in BENCHMARKS.md: [`keep_freed_memory`] (blocks up to
//! 32 MiB stay in glibc's heap) and [`HugePageAllocator`] (larger blocks get 2 MiB pages and
//! are reused).

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

/// Blocks at least this large are advised to use transparent huge pages.
const HUGE_PAGE_MIN_BYTES: usize = 4 << 20;
/// The size (and alignment) of an x86-64 / aarch64 transparent huge page.
const HUGE_PAGE: usize = 2 << 20;

/// The system allocator, plus two things for blocks of 4 MiB and more (the `[T, B, H]` tensors
/// of a recurrent layer): on Linux they use transparent huge pages (`madvise(MADV_HUGEPAGE)`,
/// honoured under Linux's default `madvise` setting), so a fresh 64 MiB tensor costs 32 page
/// faults instead of 16,384; and up to 16 freed ones (1 GiB at most) are kept and handed out
/// again for the same size, so that a training loop, which allocates the same shapes every
/// step, stops paying the kernel for zeroed pages. A library cannot choose the allocator; a
/// binary opts in with
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: burn_rnn_train::HugePageAllocator = burn_rnn_train::HugePageAllocator;
/// ```
///
/// as this package's examples and command-line tool do.
pub struct HugePageAllocator;

impl HugePageAllocator {
    /// Advises the 2 MiB-aligned interior of a fresh block to use huge pages.
    fn advise(ptr: *mut u8, size: usize) {
        #[cfg(target_os = "linux")]
        if !ptr.is_null() && size >= HUGE_PAGE_MIN_BYTES {
            let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
            let end = (ptr as usize + size) / HUGE_PAGE * HUGE_PAGE;
            if end > start {
                // SAFETY: the range lies inside the block just allocated; MADV_HUGEPAGE only
                // changes how the kernel backs it, never its contents.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (ptr, size);
    }
}

/// Freed large blocks kept for reuse: `(address, size, alignment)` (`free` ignores alignment).
static KEPT: Mutex<[Option<(usize, usize, usize)>; KEPT_BLOCKS]> = Mutex::new([None; KEPT_BLOCKS]);
/// How many freed large blocks are kept, and their total size at most.
const KEPT_BLOCKS: usize = 16;
const KEPT_MAX_BYTES: usize = 1 << 30;

impl HugePageAllocator {
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

// SAFETY: blocks come from `System` (directly or kept after a `dealloc` of the same layout) and
// go back to it; `advise` does not touch the memory.
unsafe impl GlobalAlloc for HugePageAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= HUGE_PAGE_MIN_BYTES
            && let Some(ptr) = Self::take_kept(layout)
        {
            return ptr;
        }
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc(layout) };
        Self::advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= HUGE_PAGE_MIN_BYTES
            && let Some(ptr) = Self::take_kept(layout)
        {
            // SAFETY: the kept block has exactly `layout.size()` bytes.
            unsafe { std::ptr::write_bytes(ptr, 0, layout.size()) };
            return ptr;
        }
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        Self::advise(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= HUGE_PAGE_MIN_BYTES && Self::keep(ptr, layout) {
            return;
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees (every block is a `System` block).
        let ptr = unsafe { System.realloc(ptr, layout, new_size) };
        Self::advise(ptr, new_size);
        ptr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Large and small blocks, zeroed or not, grown and shrunk, hold what is written to them.
    #[test]
    fn the_allocator_returns_usable_memory() {
        for size in [16, 1 << 20, 5 << 20, 9 << 20] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            // SAFETY: the layout is non-zero; every block is freed with its layout.
            unsafe {
                let zeroed = HugePageAllocator.alloc_zeroed(layout);
                assert!(!zeroed.is_null());
                assert!(
                    std::slice::from_raw_parts(zeroed, size)
                        .iter()
                        .all(|&b| b == 0)
                );
                HugePageAllocator.dealloc(zeroed, layout);
                let block = HugePageAllocator.alloc(layout);
                std::ptr::write_bytes(block, 7, size);
                let grown = HugePageAllocator.realloc(block, layout, size * 2);
                assert_eq!(*grown.add(size - 1), 7);
                HugePageAllocator.dealloc(grown, Layout::from_size_align(size * 2, 64).unwrap());
            }
        }
    }
}

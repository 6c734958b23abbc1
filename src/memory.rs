//! Heap accounting: the global allocator counts the bytes in use and their high-water mark, so
//! memory can be measured from JS (`memoryUsage()`) and in tests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The system allocator, counting.
struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn add(size: usize) {
    let now = ALLOCATED.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(now, Relaxed);
}

fn sub(size: usize) {
    ALLOCATED.fetch_sub(size, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            add(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            add(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        sub(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old_size = layout.size();
        if new_size <= old_size {
            let shrunk = System.realloc(ptr, layout, new_size);
            if !shrunk.is_null() {
                sub(old_size - new_size);
            }
            return shrunk;
        }
        // A growing realloc may move, holding both blocks while it copies: count the new one
        // first, so the peak is an upper bound.
        add(new_size);
        let grown = System.realloc(ptr, layout, new_size);
        sub(if grown.is_null() { new_size } else { old_size });
        grown
    }
}

/// Heap bytes in use now, and the most in use at once since the last [`reset_peak`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapUsage {
    pub allocated: usize,
    pub peak: usize,
}

/// The current heap usage.
pub fn heap_usage() -> HeapUsage {
    HeapUsage {
        allocated: ALLOCATED.load(Relaxed),
        peak: PEAK.load(Relaxed),
    }
}

/// Restarts the high-water mark from the bytes in use now.
pub fn reset_peak() {
    PEAK.store(ALLOCATED.load(Relaxed), Relaxed);
}

//! Heap accounting: the global allocator counts the bytes in use and their high-water mark, so
//! memory can be measured from JS (`memoryUsage()`) and in tests; and the memory budget of a
//! run (`maxMemoryBytes`), which the engines check before they allocate a tensor.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt;
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
    // An allocation no check foresaw that takes the heap over the running call's budget: the
    // engine refuses to go on after the step that made it (see `overrun`). Thread-locals are
    // only read while a budget runs: a thread of the `threads` build allocates its thread-local
    // storage through this allocator when it starts.
    if BUDGETS.load(Relaxed) == 0 {
        return;
    }
    let _ = LIMIT.try_with(|limit| {
        if now > limit.get() {
            let _ = OVERRUN.try_with(|o| o.set(o.get().max(now)));
        }
    });
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

/// The default memory budget: 2 GiB, half of what wasm32's linear memory can address (4 GiB).
/// The heap in use is not all the memory grows to: freed blocks are reused but not returned, a
/// growing buffer holds its old and new copies at once, and fragmentation leaves holes, so the
/// budget leaves as much again for those before `memory.grow` fails and the module traps.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 1 << 31;

/// How many calls run with a budget, on all threads.
static BUDGETS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The budget of the call running on this thread (`usize::MAX`: none).
    static LIMIT: Cell<usize> = const { Cell::new(usize::MAX) };
    /// The most heap in use, over [`LIMIT`], since the running call began (0: never over).
    static OVERRUN: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with a memory budget of `limit` bytes of heap in use on this thread (nested calls
/// keep the smaller budget), restoring the previous one after.
pub fn with_budget<T>(limit: usize, f: impl FnOnce() -> T) -> T {
    /// Restores the outer budget, also when `f` panics (natively, panics are caught).
    struct Outer {
        limit: usize,
        overrun: usize,
    }
    impl Drop for Outer {
        fn drop(&mut self) {
            BUDGETS.fetch_sub(1, Relaxed);
            LIMIT.with(|l| l.set(self.limit));
            OVERRUN.with(|o| o.set(self.overrun));
        }
    }
    let _outer = Outer {
        limit: LIMIT.with(|l| l.replace(limit.min(l.get()))),
        overrun: OVERRUN.with(|o| o.replace(0)),
    };
    BUDGETS.fetch_add(1, Relaxed);
    f()
}

/// The budget of the running call, if it has one.
pub fn budget() -> Option<usize> {
    LIMIT.with(|l| Some(l.get()).filter(|&l| l != usize::MAX))
}

/// A tensor that does not fit the budget: what it needs, and the budget and heap in use then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBudget {
    pub bytes: usize,
    pub in_use: usize,
    pub limit: usize,
}

/// How tract reports an allocation the heap could not make (patched tract-data's
/// `Blob::try_for_layout`): an error, where it was a panic (an abort of the wasm module).
pub const ALLOCATION_FAILED: &str = "failed to allocate";

/// The words every refusal of the budget has, by which errors are classified as
/// `RESOURCE_LIMIT`.
pub const OVER_BUDGET: &str = "over the session's memory budget";

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{OVER_BUDGET} (maxMemoryBytes = {}; {} in use)",
            self.limit,
            human_bytes(self.in_use)
        )
    }
}

/// Checks, before allocating them, that `bytes` more fit the running call's budget.
pub fn reserve(bytes: usize) -> Result<(), OverBudget> {
    let Some(limit) = budget() else {
        return Ok(());
    };
    let in_use = ALLOCATED.load(Relaxed);
    if in_use.saturating_add(bytes) > limit {
        return Err(OverBudget {
            bytes,
            in_use,
            limit,
        });
    }
    Ok(())
}

/// The most heap in use over the budget since the running call began, if it went over: an
/// allocation no check foresaw (a scratch buffer, an operator's copy). Cleared by the call.
pub fn overrun() -> Option<OverBudget> {
    let now = OVERRUN.with(|o| o.replace(0));
    let limit = budget()?;
    (now > 0).then_some(OverBudget {
        bytes: 0,
        in_use: now,
        limit,
    })
}

/// `bytes` for people: `1.6 GB`, `512 kB`, `12 bytes`.
pub fn human_bytes(bytes: usize) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} bytes")
    }
}

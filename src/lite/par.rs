//! Work split across threads, in the threads build (`--features lite,threads`,
//! `onnxlet_lite_threads_bg.wasm`), whose pool (src/pool.rs) runs each model.
//!
//! The kernels that split their work ([`run`]): the matrix products and convolutions of
//! `ops/conv.rs`, by ranges of output columns, and the one-row products of `ops/gemv.rs`. Every
//! output element is computed by the same code in the same order as on one thread, so results do
//! not depend on the number of threads. Outside a pool (the other builds, or natively outside a
//! test's pool), [`tasks`] is 1 and everything runs in place.

use std::marker::PhantomData;
use std::ops::Range;

use super::tensor::OpResult;

/// The fewest multiply-adds worth a task of their own: waking a Web Worker and waiting for it
/// costs tens of microseconds.
#[cfg(feature = "threads")]
const MIN_TASK_WORK: usize = 1 << 18;

/// How many times a waiting thread looks for work in vain before it gives up and sleeps: about
/// a millisecond.
#[cfg(feature = "threads")]
const SPIN_POLLS: usize = 10_000;

/// Runs `f`, a model's run, on the threads build's pool if there is one, keeping the pool's
/// other threads awake while it runs (`awake`).
pub(super) fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    crate::pool::install(|| during(f))
}

#[cfg(feature = "threads")]
use awake::during;

/// Without threads, a run is just a call.
#[cfg(not(feature = "threads"))]
fn during<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The pool's other threads kept awake while a model runs. An idle rayon thread soon sleeps (on
/// wasm, std's `yield_now`, which it calls before sleeping, does nothing), and a Web Worker
/// asleep in `memory.atomic.wait` took long enough to wake that the thread running the model had
/// mostly done a convolution's share alone (in Chromium, squeezenet ran about as fast on two
/// threads as on one). So the first split of a run ([`helpers`]) starts on each other thread a
/// job that takes whatever work is offered (`rayon::yield_now`) and spins between, as
/// onnxruntime's pool spins. The jobs end with the run, or after `SPIN_POLLS` polls without
/// work (a long serial stretch, or cores busy with other work, where spinning would take time
/// from the thread running the model); the next split starts them again. A run that never
/// splits (a model of small operators) starts none.
#[cfg(feature = "threads")]
mod awake {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the runs begun and ended: odd while one runs, and a waiting job lasts while it
    /// holds its run's count.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    /// How many waiting jobs were started and have not ended.
    static WAITING: AtomicUsize = AtomicUsize::new(0);

    /// Runs `f` as one run.
    pub(super) fn during<R>(f: impl FnOnce() -> R) -> R {
        struct Ended;
        impl Drop for Ended {
            fn drop(&mut self) {
                RUNS.fetch_add(1, Ordering::Release);
            }
        }
        RUNS.fetch_add(1, Ordering::AcqRel);
        let _ended = Ended;
        f()
    }

    /// Starts the waiting jobs, unless they are running: called on the thread running the
    /// model, before it splits work.
    pub(super) fn helpers() {
        let run = RUNS.load(Ordering::Acquire);
        let others = rayon::current_num_threads().saturating_sub(1);
        if run.is_multiple_of(2) || others == 0 || WAITING.load(Ordering::Acquire) > 0 {
            return;
        }
        WAITING.store(others, Ordering::Release);
        let this = rayon::current_thread_index();
        rayon::spawn_broadcast(move |ctx| {
            if Some(ctx.index()) == this {
                return;
            }
            let mut idle = 0;
            while idle < super::SPIN_POLLS && RUNS.load(Ordering::Acquire) == run {
                if matches!(rayon::yield_now(), Some(rayon::Yield::Executed)) {
                    idle = 0;
                } else {
                    idle += 1;
                    std::hint::spin_loop();
                }
            }
            WAITING.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// How many tasks to split `units` independent units of work into, `work` multiply-adds (or
/// about as costly steps) in all: as many as the pool running this call has threads, fewer when
/// a task would get less than [`MIN_TASK_WORK`], and 1 outside a pool.
pub(super) fn tasks(units: usize, work: usize) -> usize {
    #[cfg(feature = "threads")]
    if rayon::current_thread_index().is_some() {
        return rayon::current_num_threads()
            .min(units)
            .min(work / MIN_TASK_WORK)
            .max(1);
    }
    let _ = (units, work);
    1
}

/// The units task `t` of `tasks` takes of `0..units`: contiguous ranges as even as can be.
pub(super) fn share(units: usize, tasks: usize, t: usize) -> Range<usize> {
    let tasks = tasks.max(1);
    let (base, extra) = (units / tasks, units % tasks);
    let start = t * base + t.min(extra);
    start..start + base + usize::from(t < extra)
}

/// Runs `f(t)` for each task `t < tasks`, on the pool's threads when there is more than one,
/// each within the running call's memory budget; the first error is returned.
pub(super) fn run(tasks: usize, f: impl Fn(usize) -> OpResult<()> + Sync) -> OpResult<()> {
    #[cfg(feature = "threads")]
    if tasks > 1 {
        use rayon::prelude::*;
        awake::helpers();
        let limit = crate::memory::budget().unwrap_or(usize::MAX);
        return (0..tasks)
            .into_par_iter()
            .try_for_each(|t| crate::memory::with_budget(limit, || f(t)));
    }
    (0..tasks).try_for_each(f)
}

/// A slice that concurrent tasks write, each to elements no other task touches (its own
/// columns of a matrix, or its own planes).
pub(super) struct Shared<'a> {
    ptr: *mut f32,
    len: usize,
    _slice: PhantomData<&'a mut [f32]>,
}

// SAFETY: a `Shared` is made from an exclusive borrow, and hands out only the disjoint parts its
// callers promise to ask for (see `Shared::part`).
unsafe impl Send for Shared<'_> {}
unsafe impl Sync for Shared<'_> {}

impl<'a> Shared<'a> {
    pub(super) fn new(slice: &'a mut [f32]) -> Self {
        Shared {
            ptr: slice.as_mut_ptr(),
            len: slice.len(),
            _slice: PhantomData,
        }
    }

    /// `len` elements from `at`, or `None` past the end.
    ///
    /// # Safety
    /// No two parts alive at once may overlap: each task asks only for elements that are its
    /// own, and one task holds one part at a time.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn part(&self, at: usize, len: usize) -> Option<&mut [f32]> {
        let end = at.checked_add(len).filter(|&e| e <= self.len)?;
        // SAFETY: `at..end` is within the borrowed slice, and (the caller's promise) no other
        // part alive overlaps it.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr.add(at), end - at) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_every_unit_once() {
        for units in [0, 1, 5, 8, 13] {
            for tasks in 1..6 {
                let mut next = 0;
                for t in 0..tasks {
                    let r = share(units, tasks, t);
                    assert_eq!(r.start, next, "{units} units, {tasks} tasks");
                    assert!(r.len() <= units.div_ceil(tasks));
                    next = r.end;
                }
                assert_eq!(next, units);
            }
        }
    }

    #[test]
    fn parts_stay_within_the_slice() {
        let mut v = vec![0f32; 10];
        let s = Shared::new(&mut v);
        // SAFETY: one part at a time.
        unsafe {
            assert!(s.part(8, 3).is_none());
            assert!(s.part(usize::MAX, 2).is_none());
            s.part(8, 2).unwrap().fill(1.0);
        }
        assert_eq!(v[7..], [0.0, 1.0, 1.0]);
    }
}

//! Loading in slices: a model's load is a future that pauses at points where its work can stop
//! (between initializers, between nodes), and [`Steps::step`] polls it for a slice of time.
//! In a browser or a JS runtime the wrapper returns to the event loop between slices, so that a
//! large model neither freezes the page nor ignores an `AbortSignal` while it loads; natively,
//! and wherever no slice is given, the same future runs to its end in one poll ([`finish`]).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};

/// A load in progress.
pub(crate) type Load<T> = Pin<Box<dyn Future<Output = Result<T>>>>;

thread_local! {
    /// When the running slice ends (milliseconds of [`now_ms`]); infinite outside a slice.
    static DEADLINE: Cell<f64> = const { Cell::new(f64::INFINITY) };
    /// The share of its work the running load had done at its last pause point (0 to 1).
    static DONE: Cell<f64> = const { Cell::new(0.0) };
}

/// Milliseconds on the host's clock.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Milliseconds since the first call.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}

/// A point where a load may stop until the next slice, having done `done` (0 to 1) of its
/// work: it does when the running slice is over. (tract's load has none: only the lite engine's
/// pauses.)
#[cfg_attr(not(feature = "lite"), allow(dead_code))]
pub(crate) fn pause(done: f64) -> impl Future<Output = ()> {
    DONE.with(|d| d.set(done));
    Pause { paused: false }
}

#[cfg_attr(not(feature = "lite"), allow(dead_code))]
struct Pause {
    paused: bool,
}

impl Future for Pause {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        // Polled again after pausing: the next slice has begun.
        if self.paused {
            return Poll::Ready(());
        }
        let deadline = DEADLINE.with(Cell::get);
        if deadline.is_finite() && now_ms() >= deadline {
            self.paused = true;
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

/// A load polled a slice at a time.
pub(crate) struct Steps<T> {
    load: Option<Load<T>>,
    progress: f64,
}

impl<T> Steps<T> {
    pub fn new(load: Load<T>) -> Steps<T> {
        Steps {
            load: Some(load),
            progress: 0.0,
        }
    }

    /// Works on the load for about `slice_ms` (at least up to its next pause point): its result
    /// once it has finished, `None` while there is more to do.
    pub fn step(&mut self, slice_ms: f64) -> Option<Result<T>> {
        // Taken while polled: a load that panics (natively, where panics are caught) is not
        // polled again.
        let Some(mut load) = self.load.take() else {
            return Some(Err(Error::invalid_argument(
                "this load has already finished",
            )));
        };
        let deadline = now_ms() + slice_ms.max(0.0);
        let polled = with_deadline(deadline, || {
            load.as_mut().poll(&mut Context::from_waker(Waker::noop()))
        });
        match polled {
            Poll::Ready(result) => {
                self.progress = 1.0;
                Some(result)
            }
            Poll::Pending => {
                self.progress = DONE.with(Cell::get);
                self.load = Some(load);
                None
            }
        }
    }

    /// How much of the load is done, from 0 to 1 (as of its last pause).
    pub fn progress(&self) -> f64 {
        self.progress
    }
}

/// Runs `f` with the slice ending at `deadline`, restoring the enclosing one after (also when
/// `f` panics: natively, panics are caught).
fn with_deadline<R>(deadline: f64, f: impl FnOnce() -> R) -> R {
    struct Restore(f64);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEADLINE.with(|d| d.set(self.0));
        }
    }
    let _restore = Restore(DEADLINE.with(|d| d.replace(deadline)));
    f()
}

/// Runs a load to its end at once: without a slice it never pauses (also when called within
/// another load's slice, e.g. for a subgraph).
#[cfg_attr(not(feature = "lite"), allow(dead_code))]
pub(crate) fn finish<T>(load: impl Future<Output = Result<T>>) -> Result<T> {
    let mut load = std::pin::pin!(load);
    with_deadline(f64::INFINITY, || loop {
        if let Poll::Ready(result) = load.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            return result;
        }
    })
}

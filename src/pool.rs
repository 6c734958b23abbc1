//! The thread pool of the threads builds (`--features threads`, with either engine), on which
//! models run and the engine's kernels split their work.
//!
//! Its first thread is the session's own (the worker that runs the model); the others are Web
//! Workers that instantiate the module on the same shared memory and call [`worker`], and
//! [`start`] hands each one its rayon thread through a channel (Rust's std cannot spawn threads
//! on wasm32, which is why rayon is given a spawn handler). js/threads.ts and
//! js/threads-worker.ts drive both through src/wasm.rs.
//!
//! A model runs on the session's thread, which is one of the pool's ([`install`]): a kernel that
//! splits its work there hands the other threads their parts directly, and a run that does not
//! split costs nothing more than on one thread. Had the session's thread stayed outside the pool,
//! each run would have to wake a thread of the pool and be woken by it when done, two round trips
//! through the browser's thread wake-up.

#[cfg(all(target_arch = "wasm32", feature = "threads"))]
mod threads {
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::{Arc, Mutex, OnceLock};

    use rayon::{ThreadBuilder, ThreadPool, ThreadPoolBuilder};

    use crate::error::{Error, Result};

    pub(super) static POOL: OnceLock<Arc<ThreadPool>> = OnceLock::new();

    type Channel = (Sender<ThreadBuilder>, Mutex<Receiver<ThreadBuilder>>);

    fn channel_of_threads() -> &'static Channel {
        static CHANNEL: OnceLock<Channel> = OnceLock::new();
        CHANNEL.get_or_init(|| {
            let (sender, receiver) = channel();
            (sender, Mutex::new(receiver))
        })
    }

    /// Builds a pool of `num_threads` threads, the calling thread the first of them, on which
    /// models run from now on. The caller must have started `num_threads - 1` workers in
    /// [`worker`] (or start them now: this blocks until each has taken its thread), and must
    /// itself be a worker, as blocking the main thread is not allowed.
    pub(crate) fn start(num_threads: usize) -> Result<()> {
        let (sender, _) = channel_of_threads();
        let pool = ThreadPoolBuilder::new()
            .num_threads(num_threads)
            .use_current_thread()
            .spawn_handler(|thread| {
                sender
                    .send(thread)
                    .map_err(|_| std::io::Error::other("the pool's channel is closed"))
            })
            .build()
            .map_err(|e| Error::runtime(format!("starting {num_threads} threads: {e}")))?;
        let pool = Arc::new(pool);
        crate::engine::use_thread_pool(&pool);
        let _ = POOL.set(pool);
        Ok(())
    }

    /// The body of a pool worker: takes the next rayon thread [`start`] hands out and runs it;
    /// returns only when the pool is dropped.
    pub(crate) fn worker() {
        let (_, receiver) = channel_of_threads();
        let thread = receiver.lock().map(|r| r.recv());
        if let Ok(Ok(thread)) = thread {
            thread.run();
        }
    }
}

#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub(crate) use threads::{start, worker};

/// Runs `f` on a thread of the pool, if there is one (else here).
pub(crate) fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    if let Some(pool) = threads::POOL.get() {
        return pool.install(f);
    }
    f()
}

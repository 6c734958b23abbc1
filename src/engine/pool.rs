//! The thread pool of the `threads` build, on which models run and tract's parallel kernels
//! split their work.

#[cfg(all(target_arch = "wasm32", feature = "threads"))]
use std::sync::Arc;

#[cfg(all(target_arch = "wasm32", feature = "threads"))]
static POOL: std::sync::OnceLock<Arc<rayon::ThreadPool>> = std::sync::OnceLock::new();

/// From now on, models run on `pool` (the `threads` build; see src/wasm.rs), and tract's
/// parallel kernels (matrix products, element-wise operations, reductions, pooling) split their
/// work across it.
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub(crate) fn use_thread_pool(pool: rayon::ThreadPool) {
    use tract_onnx::tract_core::tract_linalg::multithread::{set_default_executor, Executor};
    let pool = Arc::new(pool);
    set_default_executor(Executor::MultiThread(pool.clone()));
    let _ = POOL.set(pool);
}

/// Runs `f` on a thread of the pool, if there is one. A parallel kernel called from one of the
/// pool's threads hands work to the others directly; called from outside, each would also have to
/// wake the caller when done, a round trip through the browser's thread wake-up per operation.
pub(super) fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    if let Some(pool) = POOL.get() {
        return pool.install(f);
    }
    f()
}

//! Every `#[wasm_bindgen]` item of the crate. Errors cross into JS in one place,
//! [`into_error`], as a JS `Error` carrying a stable `code` property.

use js_sys::{Error as JsError, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::model_buffer::ModelBuffer;
use crate::session::{LoadOptions, Loading, Session};
use crate::tensor::{DType, HostTensor};
use crate::wire;

unsafe extern "C" {
    fn __wasm_call_ctors();
}

#[wasm_bindgen(start)]
fn start() {
    // SAFETY: called once per instance, before any other export; registers tract's kernels
    // (collected with `inventory`), which is idempotent.
    unsafe { __wasm_call_ctors() };
    console_error_panic_hook::set_once();
}

/// Converts a crate error into a JS `Error` whose `code` is the stable error code.
fn into_error(error: Error) -> JsValue {
    let js = JsError::new(&error.message);
    js.set_name("OnnxletError");
    let _ = Reflect::set(&js, &"code".into(), &error.code.as_str().into());
    js.into()
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    // Maps as plain objects, bytes as `Uint8Array`s, `None` as `null` (as the TypeScript types say).
    value
        .serialize(
            &serde_wasm_bindgen::Serializer::new()
                .serialize_maps_as_objects(true)
                .serialize_missing_as_null(true),
        )
        .map_err(|e| into_error(Error::runtime(format!("converting a result for JS: {e}"))))
}

fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| into_error(Error::invalid_argument(format!("malformed {what}: {e}"))))
}

#[wasm_bindgen(typescript_custom_section)]
const WIRE_TYPES: &str = crate::wire::TYPESCRIPT;

/// `[{ domain, name, opsets: [lowest, highest] | null }]` for every operator the loader accepts.
#[wasm_bindgen(js_name = supportedOperators, unchecked_return_type = "WireOperator[]")]
pub fn supported_operators() -> Result<JsValue, JsValue> {
    let operators = crate::operators::supported_operators();
    let js: Vec<wire::Operator> = operators
        .iter()
        .map(|o| wire::Operator {
            domain: o.domain,
            name: &o.name,
            opsets: o.verified_opsets,
        })
        .collect();
    to_js(&js)
}

/// The engine this module runs models on: `lite` (src/lite/) or `tract`.
#[wasm_bindgen(js_name = engineName)]
pub fn engine_name() -> String {
    crate::ENGINE.to_string()
}

/// A model's bytes as they arrive, in module memory. Not public API.
#[wasm_bindgen(js_name = ModelBuffer)]
pub struct WasmModelBuffer {
    inner: ModelBuffer,
}

#[wasm_bindgen(js_class = ModelBuffer)]
impl WasmModelBuffer {
    /// An empty buffer with room for `capacity` bytes, computing the digests named in
    /// `algorithms` (`sha256`, `sha384`, `sha512`) as bytes arrive.
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: usize, algorithms: Vec<String>) -> Result<WasmModelBuffer, JsValue> {
        ModelBuffer::new(capacity, &algorithms)
            .map(|inner| WasmModelBuffer { inner })
            .map_err(into_error)
    }

    /// Copies a chunk from JS straight into the buffer.
    pub fn append(&mut self, chunk: &Uint8Array) -> Result<(), JsValue> {
        self.inner
            .append_with(chunk.length() as usize, |dst| chunk.copy_to(dst))
            .map_err(into_error)
    }

    /// The number of bytes received.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.inner.bytes().len()
    }

    /// The digest of the bytes received, if its algorithm was asked for at creation.
    pub fn digest(&self, algorithm: &str) -> Option<Vec<u8>> {
        self.inner.digest(algorithm)
    }

    /// A view of the bytes in module memory: valid until the module next allocates, so it must
    /// be copied (e.g. into a `Response`) before any other call.
    pub fn view(&self) -> Uint8Array {
        // SAFETY: the caller copies the view before anything can allocate (documented above).
        unsafe { Uint8Array::view(self.inner.bytes()) }
    }
}

/// `{ heapAllocated, heapPeak, memoryBytes }`: heap bytes in use, the most in use at once since
/// the last reset, and the size of the module's linear memory. `resetPeak` restarts the peak.
#[wasm_bindgen(js_name = memoryUsage, unchecked_return_type = "WireMemoryUsage")]
pub fn memory_usage(reset_peak: bool) -> Result<JsValue, JsValue> {
    let heap = crate::memory::heap_usage();
    if reset_peak {
        crate::memory::reset_peak();
    }
    to_js(&wire::MemoryUsage {
        heap_allocated: heap.allocated,
        heap_peak: heap.peak,
        memory_bytes: core::arch::wasm32::memory_size(0) * 65536,
    })
}

/// Builds the `threads` build's pool of `num_threads` threads (src/pool.rs), the calling thread
/// the first of them, on which models run from now on. The caller must have started
/// `num_threads - 1` workers in [`thread_pool_worker`] (or start them now: this blocks until each
/// has taken its thread), and must itself be a worker, as blocking the main thread is not
/// allowed. Not public API (js/threads-worker.ts drives it).
#[cfg(feature = "threads")]
#[wasm_bindgen(js_name = startThreadPool)]
pub fn start_thread_pool(num_threads: usize) -> Result<(), JsValue> {
    crate::pool::start(num_threads).map_err(into_error)
}

/// The body of a pool worker: runs the next of the pool's threads; returns only when the pool
/// is dropped.
#[cfg(feature = "threads")]
#[wasm_bindgen(js_name = threadPoolWorker)]
pub fn thread_pool_worker() {
    crate::pool::worker();
}

/// The load options of `startLoading`: `{ freeDimensionOverrides?: [name, value][],
/// maxMemoryBytes?: number }`, or undefined for the defaults.
fn load_options(options: JsValue) -> Result<LoadOptions, JsValue> {
    let options: wire::LoadOptions = if options.is_undefined() || options.is_null() {
        wire::LoadOptions::default()
    } else {
        from_js(options, "session options")?
    };
    let max_memory_bytes = match options.max_memory_bytes {
        None => crate::memory::DEFAULT_MAX_MEMORY_BYTES,
        Some(0) => {
            return Err(into_error(Error::invalid_argument(
                "maxMemoryBytes must be a positive integer, got 0",
            )))
        }
        // More than the module can address is no budget at all.
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    Ok(LoadOptions {
        free_dimension_overrides: options.free_dimension_overrides,
        max_memory_bytes,
    })
}

/// A model being loaded (`WasmSession.startLoading`): the wrapper calls `step` until it returns
/// the session, returning to the event loop in between.
#[wasm_bindgen(js_name = WasmLoading)]
pub struct WasmLoading {
    loading: Loading,
}

#[wasm_bindgen(js_class = WasmLoading)]
impl WasmLoading {
    /// Loads for about `sliceMs` milliseconds: the session once loaded, else undefined.
    pub fn step(
        &mut self,
        #[wasm_bindgen(js_name = sliceMs)] slice_ms: f64,
    ) -> Result<Option<WasmSession>, JsValue> {
        match self.loading.step(slice_ms) {
            None => Ok(None),
            Some(result) => result
                .map(|session| Some(WasmSession { session }))
                .map_err(into_error),
        }
    }

    /// How much of the load is done, from 0 to 1.
    pub fn progress(&self) -> f64 {
        self.loading.progress()
    }
}

/// A loaded model. The TypeScript `InferenceSession` wraps it; it is not public API.
#[wasm_bindgen(js_name = WasmSession)]
pub struct WasmSession {
    session: Session,
}

#[wasm_bindgen(js_class = WasmSession)]
impl WasmSession {
    /// Starts loading the model received into `buffer`, which the caller then frees (the lite
    /// engine leaves the bytes there when it cannot run the model, for the tract module to load
    /// it). The checks are done here, the rest by `WasmLoading.step`, a slice of time at a time.
    /// `options` is `{ freeDimensionOverrides?: [name, value][], maxMemoryBytes?: number }`.
    #[wasm_bindgen(js_name = startLoading)]
    pub fn start_loading(
        buffer: &mut WasmModelBuffer,
        #[wasm_bindgen(unchecked_param_type = "WireLoadOptions | undefined")] options: JsValue,
    ) -> Result<WasmLoading, JsValue> {
        let options = load_options(options)?;
        Session::start_loading(&mut buffer.inner, &options)
            .map(|loading| WasmLoading { loading })
            .map_err(into_error)
    }

    /// Traps on purpose, for the tests of what a crash does (js/module.ts: the session's
    /// instance ends, and no other): no model is known to crash the module any more. Reached
    /// only through the wrapper's `Symbol.for('onnxlet.crashForTests')`; not public API.
    #[wasm_bindgen(js_name = crashForTests)]
    pub fn crash_for_tests(&self) {
        core::arch::wasm32::unreachable()
    }

    /// `[{ name, type, shape }]` for every model input.
    #[wasm_bindgen(unchecked_return_type = "WireMetadata[]")]
    pub fn inputs(&self) -> Result<JsValue, JsValue> {
        let infos: Vec<wire::Metadata> = self.session.inputs().iter().map(Into::into).collect();
        to_js(&infos)
    }

    /// `[{ name, type, shape }]` for every model output.
    #[wasm_bindgen(unchecked_return_type = "WireMetadata[]")]
    pub fn outputs(&self) -> Result<JsValue, JsValue> {
        let infos: Vec<wire::Metadata> = self.session.outputs().iter().map(Into::into).collect();
        to_js(&infos)
    }

    /// Runs the model. `feeds` is `[{ name, type, dims, data: Uint8Array }]`; returns the
    /// outputs named in `fetches` (all when undefined) as `[{ name, type, dims, data }]`.
    #[wasm_bindgen(unchecked_return_type = "WireValue[]")]
    pub fn run(
        &self,
        #[wasm_bindgen(unchecked_param_type = "WireValue[]")] feeds: JsValue,
        fetches: Option<Vec<String>>,
    ) -> Result<JsValue, JsValue> {
        let feeds: Vec<wire::Feed> = from_js(feeds, "feeds")?;
        let feeds = feeds
            .into_iter()
            .map(|f| {
                let dtype = DType::parse(&f.dtype)?;
                let tensor = HostTensor::new(dtype, f.dims, f.data).map_err(|e| {
                    Error::invalid_input(format!("input '{}': {}", f.name, e.message))
                })?;
                Ok((f.name, tensor))
            })
            .collect::<Result<Vec<_>, Error>>()
            .map_err(into_error)?;
        let outputs = self
            .session
            .run(feeds, fetches.as_deref())
            .map_err(into_error)?;
        let js: Vec<wire::Output> = outputs
            .iter()
            .map(|(name, t)| wire::Output {
                name,
                dtype: t.dtype().name(),
                dims: t.dims(),
                data: t.data(),
            })
            .collect();
        to_js(&js)
    }
}

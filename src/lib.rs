//! onnxlet: run ONNX models wherever WebAssembly runs.
//!
//! The crate is a small inference core on [tract](https://github.com/sonos/tract):
//! [`Session::load`] parses and optimises a model, [`Session::run`] validates feeds
//! against the model's declared inputs and computes the outputs. The same core is
//! exported to JavaScript by the `wasm` module on `wasm32` targets.

#[cfg(not(feature = "lite"))]
mod engine;
/// The lite build's engine (src/lite/), in place of tract's.
#[cfg(feature = "lite")]
#[path = "lite/mod.rs"]
mod engine;
pub mod error;
mod full_build;
mod loading;
pub mod memory;
pub mod model_buffer;
mod model_rules;
mod onnx_types;
pub mod operators;
mod pool;
pub mod session;
pub mod tensor;
mod verified_opsets;
#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(any(target_arch = "wasm32", test))]
mod wire;

/// The engine this build runs models on: `"tract"`, or `"lite"` (feature `lite`).
pub const ENGINE: &str = engine::NAME;

pub use error::{Error, ErrorCode, Result};
pub use memory::{heap_usage, reset_peak, HeapUsage, DEFAULT_MAX_MEMORY_BYTES};
pub use model_buffer::ModelBuffer;
pub use operators::{supported_operators, OperatorInfo};
pub use session::{LoadOptions, Session};
pub use tensor::{DType, Dim, HostTensor, ValueInfo};

//! A loaded model and the checks that run before any computation: every feed is
//! validated against the model's declared inputs so errors name the input, the
//! expected and the actual type or shape.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::loading::Steps;
use crate::model_buffer::ModelBuffer;
use crate::tensor::{format_shape, Dim, HostTensor, ValueInfo};

/// Options applied when a model is loaded.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Symbolic dimensions pinned to a value at load time, e.g. `("N", 1)`.
    pub free_dimension_overrides: Vec<(String, usize)>,
    /// The most heap the module may have in use while this session runs (`maxMemoryBytes`):
    /// a tensor that would take it further is refused with `RESOURCE_LIMIT` before it is
    /// allocated. The heap is the module's, shared by all its sessions.
    pub max_memory_bytes: usize,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            free_dimension_overrides: vec![],
            max_memory_bytes: crate::memory::DEFAULT_MAX_MEMORY_BYTES,
        }
    }
}

/// A model being loaded a slice of time at a time, so that the caller can attend to other work
/// (and to an abort) in between: the lite engine builds its graph in steps; tract's load is done
/// at once, when it starts.
pub struct Loading {
    steps: Steps<Engine>,
    max_memory_bytes: usize,
}

impl Loading {
    /// Loads for about `slice_ms` (at least up to the next point where loading can pause): the
    /// session once loaded, `None` while there is more to do.
    pub fn step(&mut self, slice_ms: f64) -> Option<Result<Session>> {
        let max_memory_bytes = self.max_memory_bytes;
        let steps = &mut self.steps;
        guarded("loading the model", || Ok(steps.step(slice_ms)))
            .unwrap_or_else(|e| Some(Err(e)))
            .map(|result| {
                result.map(|engine| Session {
                    engine,
                    max_memory_bytes,
                })
            })
    }

    /// How much of the load is done, from 0 to 1.
    pub fn progress(&self) -> f64 {
        self.steps.progress()
    }
}

/// A model ready to run.
pub struct Session {
    engine: Engine,
    max_memory_bytes: usize,
}

impl Session {
    /// Loads an ONNX model from its serialized bytes (copied first: see [`Session::from_bytes`]).
    pub fn load(bytes: &[u8], options: &LoadOptions) -> Result<Session> {
        Session::from_bytes(bytes.to_vec(), options)
    }

    /// Loads an ONNX model from its serialized bytes, which are freed as soon as they are
    /// decoded.
    pub fn from_bytes(bytes: Vec<u8>, options: &LoadOptions) -> Result<Session> {
        guarded("loading the model", || {
            Engine::load(bytes, &options.free_dimension_overrides).map(|engine| Session {
                engine,
                max_memory_bytes: options.max_memory_bytes,
            })
        })
    }

    /// Loads an ONNX model received into a [`ModelBuffer`]. The tract engine takes the bytes
    /// out (and frees them as soon as they are decoded); the lite engine reads them in place and
    /// takes them only once its checks pass, so that a model it cannot run can still be handed
    /// to the tract module.
    pub fn from_buffer(buffer: &mut ModelBuffer, options: &LoadOptions) -> Result<Session> {
        guarded("loading the model", || {
            Engine::load_buffer(buffer, &options.free_dimension_overrides).map(|engine| Session {
                engine,
                max_memory_bytes: options.max_memory_bytes,
            })
        })
    }

    /// [`Session::from_buffer`] in slices (see [`Loading`]): the model's checks are done (and,
    /// when they pass, its bytes taken) before this returns; the rest is done by
    /// [`Loading::step`].
    pub fn start_loading(buffer: &mut ModelBuffer, options: &LoadOptions) -> Result<Loading> {
        guarded("loading the model", || {
            Engine::load_buffer_in_steps(buffer, &options.free_dimension_overrides).map(|load| {
                Loading {
                    steps: Steps::new(load),
                    max_memory_bytes: options.max_memory_bytes,
                }
            })
        })
    }

    /// The memory budget of its runs (see [`LoadOptions::max_memory_bytes`]).
    pub fn max_memory_bytes(&self) -> usize {
        self.max_memory_bytes
    }

    /// The model's inputs, in declaration order.
    pub fn inputs(&self) -> &[ValueInfo] {
        &self.engine.inputs
    }

    /// The model's outputs, in declaration order.
    pub fn outputs(&self) -> &[ValueInfo] {
        &self.engine.outputs
    }

    /// Runs the model. `feeds` must name every input exactly once; `fetches` selects
    /// outputs by name (all outputs when `None`). Outputs come back in the order asked for.
    pub fn run(
        &self,
        feeds: Vec<(String, HostTensor)>,
        fetches: Option<&[String]>,
    ) -> Result<Vec<(String, HostTensor)>> {
        let wanted = self.output_indices(fetches)?;
        let ordered = self.order_feeds(feeds)?;
        let mut outputs = guarded("running the model", || {
            self.engine.run(ordered, self.max_memory_bytes)
        })?;
        let mut taken: Vec<Option<HostTensor>> = outputs.drain(..).map(Some).collect();
        wanted
            .into_iter()
            .map(|ix| {
                let name = self.outputs()[ix].name.clone();
                let tensor = taken[ix].take().ok_or_else(|| {
                    Error::invalid_argument(format!("output '{name}' is requested twice"))
                })?;
                Ok((name, tensor))
            })
            .collect()
    }

    fn output_indices(&self, fetches: Option<&[String]>) -> Result<Vec<usize>> {
        let Some(fetches) = fetches else {
            return Ok((0..self.outputs().len()).collect());
        };
        fetches
            .iter()
            .map(|name| {
                self.outputs()
                    .iter()
                    .position(|o| &o.name == name)
                    .ok_or_else(|| {
                        Error::invalid_argument(format!(
                            "unknown output '{name}' (model outputs: {})",
                            names(self.outputs())
                        ))
                    })
            })
            .collect()
    }

    /// Checks every feed against its declared input and returns them in declaration order.
    fn order_feeds(&self, feeds: Vec<(String, HostTensor)>) -> Result<Vec<HostTensor>> {
        let inputs = self.inputs();
        let mut slots: Vec<Option<HostTensor>> = vec![None; inputs.len()];
        for (name, tensor) in feeds {
            let Some(ix) = inputs.iter().position(|i| i.name == name) else {
                return Err(Error::invalid_input(format!(
                    "unknown input '{name}' (model inputs: {})",
                    names(inputs)
                )));
            };
            if slots[ix].is_some() {
                return Err(Error::invalid_input(format!("input '{name}' is fed twice")));
            }
            slots[ix] = Some(tensor);
        }
        // Symbols bind across inputs only where the engine relies on it (see `check_feed`).
        let mut symbols = self
            .engine
            .binds_symbols()
            .then(HashMap::<&str, (usize, &str)>::new);
        let mut ordered = Vec::with_capacity(inputs.len());
        for (info, slot) in inputs.iter().zip(slots) {
            let Some(tensor) = slot else {
                return Err(Error::invalid_input(format!(
                    "missing input '{}' ({} {})",
                    info.name,
                    info.dtype,
                    format_shape(&info.shape)
                )));
            };
            let tensor = as_scalar(info, tensor)?;
            check_feed(info, &tensor, symbols.as_mut())?;
            ordered.push(tensor);
        }
        Ok(ordered)
    }
}

/// A one-element tensor of shape `[1]` fed for a scalar input, as the scalar: onnxruntime
/// accepts it (many examples feed silero-vad's `sr` so), and it is unambiguous.
fn as_scalar(info: &ValueInfo, tensor: HostTensor) -> Result<HostTensor> {
    if !(info.shape.is_empty() && tensor.dims() == [1] && tensor.dtype() == info.dtype) {
        return Ok(tensor);
    }
    let dtype = tensor.dtype();
    HostTensor::new(dtype, vec![], tensor.into_data())
}

/// Checks one feed's type, rank and fixed dimensions. With `symbols`, also that a symbolic
/// dimension has the value other inputs gave the same symbol. onnxruntime does not check that,
/// and some exports declare shapes that only hold for one of their uses: a merged decoder
/// (`decoder_model_merged.onnx`) declares `attention_mask` as `[batch_size, sequence_length]`
/// like `input_ids`, which holds for the first step only. So it is checked only for an engine
/// that sizes its values from the symbols (tract's symbolic plans), where a clash would be
/// ambiguous; the lite engine and tract's per-shape plans size everything from the fed shapes,
/// and an input that does not fit the graph fails at the node that cannot take it.
fn check_feed<'a>(
    info: &'a ValueInfo,
    tensor: &HostTensor,
    mut symbols: Option<&mut HashMap<&'a str, (usize, &'a str)>>,
) -> Result<()> {
    let name = &info.name;
    if tensor.dtype() != info.dtype {
        return Err(Error::invalid_input(format!(
            "input '{name}': expected a {} tensor, got {}",
            info.dtype,
            tensor.dtype()
        )));
    }
    let dims = tensor.dims();
    if dims.len() != info.shape.len() {
        return Err(Error::invalid_input(format!(
            "input '{name}': expected rank {} with shape {}, got rank {} with shape {}",
            info.shape.len(),
            format_shape(&info.shape),
            dims.len(),
            format_shape(dims)
        )));
    }
    for (axis, (declared, &actual)) in info.shape.iter().zip(dims).enumerate() {
        match declared {
            Dim::Fixed(expected) if *expected != actual => {
                return Err(Error::invalid_input(format!(
                    "input '{name}': dimension {axis} must be {expected} (declared shape {}), \
                     got {actual} (shape {})",
                    format_shape(&info.shape),
                    format_shape(dims)
                )));
            }
            Dim::Symbolic(symbol) => {
                let Some(symbols) = symbols.as_deref_mut() else {
                    continue;
                };
                match symbols.get(symbol.as_str()) {
                    Some(&(bound, by)) if bound != actual => {
                        return Err(Error::invalid_input(format!(
                            "input '{name}': dimension {axis} ({symbol}) is {actual}, but input \
                             '{by}' already set {symbol} = {bound}"
                        )));
                    }
                    Some(_) => {}
                    None => {
                        symbols.insert(symbol, (actual, name));
                    }
                }
            }
            Dim::Fixed(_) | Dim::Unknown => {}
        }
    }
    Ok(())
}

fn names(values: &[ValueInfo]) -> String {
    let names: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Turns a panic inside tract into an error where unwinding is available (native builds).
/// On wasm32 panics abort; the JS wrapper recovers by re-instantiating the module.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::runtime(format!(
            "internal error while {what}: {detail}"
        )))
    })
}

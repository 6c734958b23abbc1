//! The only module that imports tract: parsing, typing, optimisation and execution of a
//! model, and the translation of tract's types and errors into the crate's own.

mod binary;
mod bitshift;
mod branches;
mod constant_of_shape;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod gemm;
mod lrn;
mod per_shape;
mod weights;

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::error::{Error, Result};
use crate::memory;
use crate::model_buffer::ModelBuffer;
use crate::model_rules;
use crate::onnx_types::{dtype_from_onnx, pin_declared, unknown_symbol};
use crate::tensor::{DType, Dim, HostTensor, ValueInfo};
use per_shape::PerShape;

/// The engine's name, as `engineName()` tells JS.
pub const NAME: &str = "tract";

/// A loaded model, optimised and ready to run.
pub(crate) struct Engine {
    plans: Plans,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
}

enum Plans {
    /// Typed once with symbolic dimensions, which tract resolves from the inputs at each run.
    Symbolic(Arc<TypedSimplePlan>),
    /// tract could not type the model with symbolic dimensions (unknown dims, shapes computed
    /// from shapes it cannot simplify, branches valid for one input value only): it is typed
    /// and optimised for each new combination of input shapes (and values of the inputs that
    /// `If` conditions read), and the most recent plans are kept.
    PerShape(Box<PerShape>),
}

impl Engine {
    /// Parses `bytes` as an ONNX model, pins the named symbolic dimensions, and optimises it.
    /// The bytes are freed as the weights are decoded (see `weights`), so that the weights are
    /// held about once, plus the largest one twice, until optimisation repacks some of them.
    pub fn load(bytes: Vec<u8>, overrides: &[(String, usize)]) -> Result<Engine> {
        with_uniform_memo(|| Engine::load_now(bytes, overrides))
    }

    /// Loads the model in `buffer`, taking its bytes out (see [`Engine::load`]).
    pub fn load_buffer(buffer: &mut ModelBuffer, overrides: &[(String, usize)]) -> Result<Engine> {
        Engine::load(buffer.take_bytes(), overrides)
    }

    fn load_now(bytes: Vec<u8>, overrides: &[(String, usize)]) -> Result<Engine> {
        let onnx = onnx();
        let weights::Decoded { proto, weights } = weights::decode(bytes)?;
        check_operators(&onnx, &proto)?;
        let mut inference = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| model_error(&e))?;
        weights::restore(&mut inference, &weights).map_err(|e| model_error(&e))?;
        drop(weights);
        let input_names = outlet_names(&inference, inference.input_outlets())?;
        let output_names = outlet_names(&inference, inference.output_outlets())?;
        let declared = (
            declared_infos(&proto, &input_names, true),
            declared_infos(&proto, &output_names, false),
        );
        // Only models with `If` nodes that read inputs need the protobuf again (per-shape).
        let conditions = branches::condition_inputs(&proto);
        let proto = (!conditions.is_empty()).then_some(proto);

        // Constants are shared (`Arc`) between a model and its clone: the fallback costs no copy.
        let fallback = inference.clone();
        if let Ok(mut typed) = inference.into_typed().and_then(|m| m.into_decluttered()) {
            let pinned = !overrides.is_empty();
            if pinned {
                typed = pin_symbols(&typed, overrides)?;
            }
            let inputs = value_infos(&typed, typed.input_outlets(), input_names.clone())?;
            let outputs = value_infos(&typed, typed.output_outlets(), output_names.clone())?;
            if let Ok(plan) = optimise(typed, pinned) {
                return Ok(Engine {
                    plans: Plans::Symbolic(plan),
                    inputs,
                    outputs,
                });
            }
        }
        // tract could not type (or optimise) the model symbolically: it is typed per shape.
        let mut inputs = declared.0?;
        let outputs = declared.1?;
        pin_declared(&mut inputs, overrides)?;
        let plans = Plans::PerShape(Box::new(PerShape::new(onnx, proto, fallback, conditions)));
        Ok(Engine {
            plans,
            inputs,
            outputs,
        })
    }

    /// Whether inputs that share a symbolic dimension must agree on its value: a symbolic plan
    /// sizes its values from the symbols, which tract resolves from the inputs.
    pub fn binds_symbols(&self) -> bool {
        matches!(self.plans, Plans::Symbolic(_))
    }

    /// Runs the model on inputs given in declaration order, with a memory budget of
    /// `max_memory_bytes` of heap in use; returns outputs in declaration order.
    pub fn run(&self, inputs: Vec<HostTensor>, max_memory_bytes: usize) -> Result<Vec<HostTensor>> {
        let (plan, fed) = match &self.plans {
            Plans::Symbolic(plan) => (plan.clone(), vec![true; inputs.len()]),
            Plans::PerShape(per_shape) => {
                let prepared = per_shape.prepare(&self.inputs, &inputs)?;
                (prepared.plan, prepared.fed)
            }
        };
        on_pool(move || {
            memory::with_budget(max_memory_bytes, || {
                let values = inputs
                    .into_iter()
                    .zip(fed)
                    .filter(|(_, fed)| *fed)
                    .map(|(t, _)| to_tract(t).map(TValue::from))
                    .collect::<Result<TVec<TValue>>>()?;
                let outputs = plan
                    .spawn()
                    .and_then(|mut state| state.run_plan_with_eval(values, eval_within_budget))
                    .map_err(|e| Error::computing(format!("{e:#}")))?;
                outputs
                    .into_iter()
                    .map(|v| from_tract(v.into_tensor()))
                    .collect()
            })
        })
    }
}

/// tract's evaluation of a node, within the running call's memory budget: refused before it
/// runs when its outputs, sized from the shapes tract knows by then, would take the heap over
/// the budget; and stopped after it when it went over anyway (an operator's scratch memory, or
/// outputs whose size tract only learns by computing them).
fn eval_within_budget(
    ctx: &tract_onnx::tract_core::internal::EvalContext,
    state: Option<&mut (dyn tract_onnx::tract_core::internal::OpState + 'static)>,
    node: &TypedNode,
    inputs: TVec<TValue>,
) -> TractResult<TVec<TValue>> {
    let described = || format!("node '{}' ({})", node.name, node.op.name());
    if !node.inputs.is_empty() {
        for output in &node.outputs {
            let fact = &output.fact;
            let dims: Option<Vec<usize>> = fact
                .shape
                .iter()
                .map(|d| usize::try_from(d.eval(ctx.symbols).to_i64().ok()?).ok())
                .collect();
            let Some(dims) = dims else { continue };
            let bytes = dims
                .iter()
                .try_fold(fact.datum_type.size_of(), |n, &d| n.checked_mul(d))
                .unwrap_or(usize::MAX);
            if let Err(over) = memory::reserve(bytes) {
                anyhow::bail!(
                    "{} needs a {dims:?} {} tensor ({}), {over}",
                    described(),
                    dtype_from_tract(fact.datum_type).map_or("?", DType::name),
                    memory::human_bytes(bytes)
                );
            }
        }
    }
    let outputs = tract_onnx::tract_core::plan::eval(ctx, state, node, inputs)?;
    if let Some(over) = memory::overrun() {
        anyhow::bail!(
            "{} took the heap to {} bytes, {over}",
            described(),
            over.in_use
        );
    }
    Ok(outputs)
}

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
fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    if let Some(pool) = POOL.get() {
        return pool.install(f);
    }
    f()
}

/// Runs `f`, which types or optimises a model, then empties the table in which tract (as
/// vendored) remembers which of the model's constants are uniform (`vendor/README.md`), so that
/// a creation leaves nothing behind.
fn with_uniform_memo<R>(f: impl FnOnce() -> R) -> R {
    let result = f();
    tract_onnx::tract_core::model::forget_uniforms();
    result
}

/// tract's ONNX framework, with onnxlet's corrections to its operators.
fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    onnx.op_register.insert("BitShift", bitshift::build);
    onnx.op_register
        .insert("ConstantOfShape", constant_of_shape::build);
    onnx.op_register.insert("LRN", lrn::build);
    onnx
}

/// Whether every symbol in the model's shapes still has its scope. tract may type a value it
/// cannot size with a symbol from a temporary scope, which then fails at run time.
fn symbols_are_alive(model: &TypedModel) -> bool {
    model.nodes().iter().flat_map(|n| &n.outputs).all(|o| {
        o.fact
            .shape
            .iter()
            .all(|d| d.symbols().iter().all(|s| s.scope().is_some()))
    })
}

/// The names of the operators the loader accepts (the keys of tract's ONNX registry).
pub(crate) fn operator_names() -> Vec<String> {
    onnx().op_register.0.into_keys().collect()
}

/// Optimises a decluttered model: it is decluttered again only if `redeclutter` (symbols were
/// pinned since), a pass that otherwise finds nothing to do and costs up to 5% of a creation.
fn optimise(mut model: TypedModel, redeclutter: bool) -> TractResult<Arc<TypedSimplePlan>> {
    if redeclutter {
        model.declutter()?;
    }
    model.optimize()?;
    natural_constants(&mut model)?;
    binary::replace_generic(&mut model)?;
    let plan = model.into_runnable()?;
    anyhow::ensure!(
        symbols_are_alive(plan.model()),
        "a dimension refers to a symbol whose scope was dropped"
    );
    Ok(plan)
}

/// Gives natural strides to constants that tract left with others. tract adds a unit axis by
/// copying the next axis's stride (`Tensor::insert_axis`), so a per-channel constant broadcast
/// to `[1, C, 1, 1]` has strides `[1, 1, 1, 1]` where `[C, 1, 1, 1]` is natural; its element-wise
/// kernels then take a generic strided path. The bytes are the same: only unit axes differ.
fn natural_constants(model: &mut TypedModel) -> TractResult<()> {
    use tract_onnx::tract_core::ops::konst::Const;
    for id in 0..model.nodes().len() {
        let Some(konst) = model.node(id).op_as::<Const>() else {
            continue;
        };
        let tensor = konst.val();
        let natural = tensor.strides() == &*Tensor::natural_strides(tensor.shape());
        if natural || konst.exotic_fact().is_some() || !binary::is_row_major(tensor) {
            continue;
        }
        let shape = tensor.shape().to_vec();
        let fixed = Arc::new(
            tensor
                .as_ref()
                .clone()
                .into_shape(&[tensor.len()])?
                .into_shape(&shape)?,
        );
        let node = model.node_mut(id);
        node.op = Box::new(Const::new(fixed.clone())?);
        node.outputs[0].fact.konst = Some(fixed);
    }
    Ok(())
}

/// Inputs or outputs as the ONNX graph declares them, for models typed per shape.
fn declared_infos(
    proto: &pb::ModelProto,
    names: &[String],
    inputs: bool,
) -> Result<Vec<ValueInfo>> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| Error::invalid_model("the model has no graph"))?;
    let declared = if inputs { &graph.input } else { &graph.output };
    names
        .iter()
        .map(|name| {
            let tensor = declared
                .iter()
                .find(|v| &v.name == name)
                .and_then(|v| v.r#type.as_ref())
                .and_then(|t| t.value.as_ref())
                .map(|pb::type_proto::Value::TensorType(t)| t)
                .ok_or_else(|| {
                    Error::invalid_model(format!("'{name}' has no declared tensor type"))
                })?;
            let dtype = dtype_from_onnx(tensor.elem_type).ok_or_else(|| {
                Error::invalid_model(format!(
                    "'{name}' has ONNX element type {}, which onnxlet cannot exchange with JS",
                    tensor.elem_type
                ))
            })?;
            let shape = tensor
                .shape
                .iter()
                .flat_map(|s| &s.dim)
                .map(|d| match &d.value {
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) if *v >= 0 => {
                        Dim::Fixed(*v as usize)
                    }
                    Some(pb::tensor_shape_proto::dimension::Value::DimParam(p))
                        if !p.is_empty() && p != "?" =>
                    {
                        Dim::Symbolic(p.clone())
                    }
                    _ => Dim::Unknown,
                })
                .collect();
            Ok(ValueInfo {
                name: name.clone(),
                dtype,
                shape,
            })
        })
        .collect()
}

model_rules::proto_views!(tract_onnx::pb);

/// Checks the model against the rules of every engine (`model_rules`), and reports every node
/// whose operator tract does not implement, before any graph analysis.
fn check_operators(onnx: &tract_onnx::Onnx, proto: &pb::ModelProto) -> Result<()> {
    let Some(graph) = proto.graph.as_ref() else {
        return Err(Error::invalid_model(
            "not a valid ONNX model: the model has no graph",
        ));
    };
    let imports = proto
        .opset_import
        .iter()
        .map(|o| (o.domain.as_str(), o.version));
    model_rules::check_opsets(imports.clone())?;
    model_rules::check_graph(graph)?;
    let (missing, ops) = model_rules::unsupported(graph, imports, |node| {
        onnx.op_register.0.contains_key(&node.op_type)
    });
    let hint = crate::full_build::hint(ops.iter().map(String::as_str));
    model_rules::unsupported_error(&missing, "", &hint)
}

fn model_error(e: &TractError) -> Error {
    Error::invalid_model(format!("{e:#}"))
}

fn outlet_names(model: &InferenceModel, outlets: TractResult<&[OutletId]>) -> Result<Vec<String>> {
    let outlets = outlets.map_err(|e| model_error(&e))?;
    Ok(outlets
        .iter()
        .map(|o| {
            model
                .outlet_label(*o)
                .map(str::to_owned)
                .unwrap_or_else(|| model.node(o.node).name.clone())
        })
        .collect())
}

fn pin_symbols(model: &TypedModel, overrides: &[(String, usize)]) -> Result<TypedModel> {
    let mut subs = HashMap::new();
    for (name, value) in overrides {
        let Some(symbol) = model.symbols.get(name) else {
            return Err(unknown_symbol(
                name,
                model.symbols.all_symbols().iter().map(|s| s.to_string()),
            ));
        };
        let value = i64::try_from(*value).map_err(|_| {
            Error::invalid_argument(format!("override {name}={value} is too large"))
        })?;
        subs.insert(symbol, TDim::Val(value));
    }
    model.set_symbols(&subs).map_err(|e| model_error(&e))
}

fn value_infos(
    model: &TypedModel,
    outlets: TractResult<&[OutletId]>,
    names: Vec<String>,
) -> Result<Vec<ValueInfo>> {
    let outlets = outlets.map_err(|e| model_error(&e))?;
    outlets
        .iter()
        .zip(names)
        .map(|(outlet, name)| {
            let fact = model.outlet_fact(*outlet).map_err(|e| model_error(&e))?;
            let dtype = dtype_from_tract(fact.datum_type).ok_or_else(|| {
                Error::invalid_model(format!(
                    "'{name}' has element type {:?}, which onnxlet cannot exchange with JS",
                    fact.datum_type
                ))
            })?;
            let shape = fact
                .shape
                .iter()
                .map(|d| match d.to_i64() {
                    Ok(v) => Dim::Fixed(v as usize),
                    Err(_) => Dim::Symbolic(d.to_string()),
                })
                .collect();
            Ok(ValueInfo { name, dtype, shape })
        })
        .collect()
}

fn dtype_from_tract(dt: DatumType) -> Option<DType> {
    Some(match dt {
        DatumType::F32 => DType::Float32,
        DatumType::F64 => DType::Float64,
        DatumType::F16 => DType::Float16,
        DatumType::I8 => DType::Int8,
        DatumType::U8 => DType::Uint8,
        DatumType::I16 => DType::Int16,
        DatumType::U16 => DType::Uint16,
        DatumType::I32 => DType::Int32,
        DatumType::U32 => DType::Uint32,
        DatumType::I64 | DatumType::TDim => DType::Int64,
        DatumType::U64 => DType::Uint64,
        DatumType::Bool => DType::Bool,
        DatumType::String => DType::String,
        _ => return None,
    })
}

fn dtype_to_tract(dt: DType) -> DatumType {
    match dt {
        DType::Float32 => DatumType::F32,
        DType::Float64 => DatumType::F64,
        DType::Float16 => DatumType::F16,
        DType::Int8 => DatumType::I8,
        DType::Uint8 => DatumType::U8,
        DType::Int16 => DatumType::I16,
        DType::Uint16 => DatumType::U16,
        DType::Int32 => DatumType::I32,
        DType::Uint32 => DatumType::U32,
        DType::Int64 => DatumType::I64,
        DType::Uint64 => DatumType::U64,
        DType::Bool => DatumType::Bool,
        DType::String => DatumType::String,
    }
}

fn to_tract(t: HostTensor) -> Result<Tensor> {
    if let Some(strings) = t.strings() {
        return tract_ndarray::ArrayD::from_shape_vec(t.dims(), strings)
            .map(Tensor::from)
            .map_err(|e| Error::invalid_input(format!("{e}")));
    }
    let dtype = t.dtype();
    let dims = t.dims().to_vec();
    let mut data = t.into_data();
    if dtype == DType::Bool {
        // Rust's bool must be 0 or 1; JS hands us arbitrary bytes.
        data.iter_mut().for_each(|b| *b = (*b != 0) as u8);
    }
    // SAFETY: HostTensor guarantees data.len() == product(dims) * size, every bit pattern is
    // valid for the numeric types, and bool bytes were normalised above.
    unsafe { Tensor::from_raw_dt(dtype_to_tract(dtype), &dims, &data) }
        .map_err(|e| Error::invalid_input(format!("{e:#}")))
}

fn from_tract(tensor: Tensor) -> Result<HostTensor> {
    let tensor = if tensor.datum_type() == DatumType::TDim {
        tensor
            .cast_to::<i64>()
            .map_err(|e| Error::runtime(format!("{e:#}")))?
            .into_owned()
    } else {
        tensor
    };
    let dtype = dtype_from_tract(tensor.datum_type()).ok_or_else(|| {
        Error::runtime(format!(
            "the model produced a {:?} tensor, which onnxlet cannot exchange with JS",
            tensor.datum_type()
        ))
    })?;
    let plain = tensor
        .try_as_plain_ram()
        .map_err(|e| Error::runtime(format!("{e:#}")))?;
    if dtype == DType::String {
        let strings = plain
            .as_slice::<String>()
            .map_err(|e| Error::runtime(format!("{e:#}")))?;
        return HostTensor::from_strings(tensor.shape().to_vec(), strings);
    }
    HostTensor::new(dtype, tensor.shape().to_vec(), plain.as_bytes().to_vec())
}

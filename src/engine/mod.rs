//! The only module that imports tract: the load flow (typed symbolically, else per shape) and
//! the run of a model. Each step lives in its own file, and none imports from this one:
//! `operators` (the registry and the check of a model's nodes), `weights` (decoding), `plan`
//! (optimisation and onnxlet's passes), `symbols` (pinned dimensions), `infos` (inputs and
//! outputs), `per_shape` (plans per input shape), `convert` (types, tensors, errors); and
//! onnxlet's operators and kernels (`binary`, `bitshift`, `branches`, `constant_of_shape`,
//! `gemm`, `lrn`).

mod binary;
mod bitshift;
mod branches;
mod constant_of_shape;
mod convert;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod gemm;
mod infos;
mod lrn;
mod operators;
mod per_shape;
mod plan;
mod symbols;
mod weights;

use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::error::{Error, Result};
use crate::memory;
use crate::model_buffer::ModelBuffer;
use crate::onnx_types::pin_declared;
use crate::tensor::{DType, HostTensor, ValueInfo};
use convert::{dtype_from_tract, from_tract, model_error, to_tract};
use infos::{declared_infos, outlet_names, value_infos};
pub(crate) use operators::operator_names;
use operators::{check_operators, onnx};
use per_shape::PerShape;
use plan::{optimise, with_uniform_memo};
use symbols::pin_symbols;

/// The engine's name, as `engineName()` tells JS.
pub const NAME: &str = "tract";

/// From now on, tract's parallel kernels (matrix products, element-wise operations, reductions,
/// pooling) split their work across `pool`, the threads build's (src/pool.rs).
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub(crate) fn use_thread_pool(pool: &Arc<rayon::ThreadPool>) {
    use tract_onnx::tract_core::tract_linalg::multithread::{set_default_executor, Executor};
    set_default_executor(Executor::MultiThread(pool.clone()));
}

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

    /// [`Engine::load_buffer`] in the form of a load polled in slices (see `crate::loading`):
    /// tract's analysis and optimisation cannot stop part-way, so it is all done here.
    pub fn load_buffer_in_steps(
        buffer: &mut ModelBuffer,
        overrides: &[(String, usize)],
    ) -> Result<crate::loading::Load<Engine>> {
        let engine = Engine::load_buffer(buffer, overrides)?;
        Ok(Box::pin(std::future::ready(Ok(engine))))
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
                // Typing for these inputs may make constants of their values (a fed shape):
                // within the run's budget.
                let prepared = memory::with_budget(max_memory_bytes, || {
                    per_shape.prepare(&self.inputs, &inputs)
                })?;
                (prepared.plan, prepared.fed)
            }
        };
        crate::pool::install(move || {
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
                outputs.into_iter().map(|v| from_tract(&v)).collect()
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

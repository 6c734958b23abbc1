//! ONNX `ConstantOfShape`, in place of tract's, for models whose weights it makes.
//!
//! tract's version wires a broadcast of the scalar, which tract evaluates element by element
//! while it infers the model's types (then drops the result when it is over its constant-folding
//! budget) and again when it builds the typed model. A model such as the ONNX test suite's vgg19,
//! whose 550 MB of weights are all made this way, spent about a second of its creation there.
//! This one makes a large constant once, when the typed model is built, by copying, and tells
//! tract it is uniform, which tract would otherwise check by reading it. It is an inference
//! operator of its own rather than an expansion, whose evaluation while types are inferred would
//! build, plan and run a model of one node (a light test model has one per weight: 836 in
//! densenet121, 5% of its session creation).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::tract_core::model::known_uniform;
use tract_onnx::tract_hir::tract_core::optim::CONST_FOLD_MEM_BUDGET;
use tract_onnx::tract_hir::tract_core::prelude::tract_data::TooEarly;

/// The `ConstantOfShape` builder for tract's ONNX operator registry.
pub(super) fn build(
    ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let mut value = match node.get_attr_opt("value")? {
        Some(val) => ctx.load_tensor(val)?.into_arc_tensor(),
        None => rctensor0(0.0f32),
    };
    if value.rank() > 0 {
        if value.len() != 1 {
            bail!("Expected scalar (or vector of length 1), got {:?}", value);
        }
        value = value.nth(0)?.into_arc_tensor();
    }
    Ok((Box::new(ConstantOfShape { scalar: value }), vec![]))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct ConstantOfShape {
    scalar: Arc<Tensor>,
}

impl Op for ConstantOfShape {
    fn name(&self) -> StaticName {
        "ConstantOfShape".into()
    }

    not_a_typed_op!();
}

impl EvalOp for ConstantOfShape {
    /// How tract evaluates the operator while it infers types. It keeps a value found then only
    /// when it is at most `CONST_FOLD_MEM_BUDGET` bytes, so a larger one is not made.
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let dims = shape_of(&inputs[0])?
            .iter()
            .map(|d| d.to_usize())
            .collect::<Result<TVec<usize>, TooEarly>>()?;
        // Checked: a product that wrapped around (the fuzzer found one) would pass the budget.
        let bytes = dims
            .iter()
            .try_fold(self.scalar.datum_type().size_of(), |n, &d| n.checked_mul(d));
        match bytes {
            Some(bytes) if bytes <= CONST_FOLD_MEM_BUDGET as usize => {}
            _ => {
                let shape = format!("{dims:?}");
                return Err(TooEarly::Other(format!("a {shape} constant, made later")).into());
            }
        }
        Ok(tvec!(self.make(&dims)?.into_tvalue()))
    }

    op_out_of_plan!();
}

impl InferenceRulesOp for ConstantOfShape {
    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, self.scalar.datum_type())?;
        s.equals(&inputs[0].rank, 1)?;
        s.equals(&inputs[0].shape[0], outputs[0].rank.bex().to_dim())?;
        s.given(&inputs[0].value, move |s, shape| {
            let shape = shape.cast_to::<TDim>()?;
            let shape = shape.try_as_plain_ram()?.as_slice::<TDim>()?;
            // A negative dimension would reach tract's shape facts, which assert against it.
            if let Some(d) = shape.iter().find(|d| d.to_i64().is_ok_and(|d| d < 0)) {
                bail!("ConstantOfShape: the shape {shape:?} has a negative dimension {d}");
            }
            for (axis, dim) in shape.iter().enumerate() {
                s.equals(&outputs[0].shape[axis], dim)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Building the typed model (for a value not found while types were inferred): the constant
    /// is made here, once, whatever its size.
    fn to_typed(
        &self,
        _source: &InferenceModel,
        node: &InferenceNode,
        target: &mut TypedModel,
        mapping: &HashMap<OutletId, OutletId>,
    ) -> TractResult<TVec<OutletId>> {
        let input = mapping[&node.inputs[0]];
        let Some(shape) = target.outlet_fact(input)?.konst.clone() else {
            bail!("shape input is variable")
        };
        let shape = shape_of(&shape)?;
        if let Some(d) = shape.iter().find(|d| d.to_i64().is_ok_and(|d| d < 0)) {
            bail!("ConstantOfShape: the shape {shape:?} has a negative dimension {d}");
        }
        let dims = shape
            .iter()
            .map(|d| d.to_usize().ok())
            .collect::<Option<TVec<usize>>>();
        if let Some(dims) = dims {
            return Ok(tvec!(target.add_const(&node.name, self.make(&dims)?)?));
        }
        let scalar = target.add_const(format!("{}.scalar", node.name), self.scalar.clone())?;
        let op = tract_onnx::tract_core::ops::array::MultiBroadcastTo::new(shape.into());
        target.wire_node(&node.name, op, &[scalar])
    }

    as_op!();
}

impl ConstantOfShape {
    /// The constant, known to tract as uniform.
    fn make(&self, dims: &[usize]) -> TractResult<Arc<Tensor>> {
        // An allocation past what a slice can hold aborts: refused here, with the shape.
        let bytes = dims
            .iter()
            .try_fold(self.scalar.datum_type().size_of(), |n, &d| n.checked_mul(d));
        // Made while a run prepares a plan for its inputs (a fed shape), it is weighed against
        // the run's memory budget (at load there is none): `RESOURCE_LIMIT`.
        if let Err(over) = crate::memory::reserve(bytes.unwrap_or(usize::MAX)) {
            bail!(
                "ConstantOfShape: a tensor of shape {dims:?} ({}), {over}",
                bytes.map_or(
                    "more bytes than a usize holds".into(),
                    crate::memory::human_bytes
                )
            );
        }
        if bytes.is_none_or(|b| b > isize::MAX as usize) {
            bail!("ConstantOfShape: a tensor of shape {dims:?} is too large to hold in memory");
        }
        let value = filled(&self.scalar, dims)?.into_arc_tensor();
        // tract does not count a NaN as uniform (it is not equal to itself).
        let nan = self.scalar.cast_to_scalar::<f64>().is_ok_and(f64::is_nan);
        known_uniform(&value, (!nan).then(|| self.scalar.clone()));
        Ok(value)
    }
}

/// The dimensions in a shape tensor.
fn shape_of(shape: &Tensor) -> TractResult<TVec<TDim>> {
    let shape = shape.cast_to::<TDim>()?;
    Ok(shape.try_as_plain_ram()?.as_slice::<TDim>()?.into())
}

/// `scalar` repeated to `dims`. The first element is written, then copied after itself, twice
/// as many each time: a few `memory.copy` in WebAssembly, as fast on a first run, when the engine
/// runs code from its baseline compiler, as later.
fn filled(scalar: &Tensor, dims: &[usize]) -> TractResult<Tensor> {
    let dt = scalar.datum_type();
    if !dt.is_copy() {
        return scalar.broadcast_scalar_to_shape(dims);
    }
    // SAFETY: every byte is written below (a tensor of a copy type has no invariant to keep).
    let mut tensor = unsafe { Tensor::uninitialized_dt(dt, dims)? };
    let bytes = tensor.as_bytes_mut();
    let size = dt.size_of();
    if bytes.len() < size {
        return Ok(tensor);
    }
    bytes[..size].copy_from_slice(scalar.as_bytes());
    let mut done = size;
    while done < bytes.len() {
        let n = done.min(bytes.len() - done);
        bytes.copy_within(..n, done);
        done += n;
    }
    Ok(tensor)
}

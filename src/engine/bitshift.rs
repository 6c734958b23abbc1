//! ONNX `BitShift` with the standard's rule for amounts out of range (negative, or the bit width
//! or more), which tract's own (a plain Rust shift, which wraps the amount) does not follow: the
//! result is then the sign extension alone, -1 for a right shift of a negative value, else 0.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::change_axes::wire_rank_broadcast;
use tract_onnx::tract_core::ops::logic::{comp_gte, comp_lt, Iff};
use tract_onnx::tract_core::ops::math::{max, min, shift_left, shift_right};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::expandable::expand;

/// The `BitShift` builder for tract's ONNX operator registry.
pub(super) fn build(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let right = node.get_attr_opt::<&str>("direction")?.unwrap_or("LEFT") == "RIGHT";
    Ok((expand(BitShift { right }), vec![]))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct BitShift {
    right: bool,
}

impl Expansion for BitShift {
    fn name(&self) -> StaticName {
        "BitShift".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &inputs[1].datum_type)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.with(&inputs[0].shape, move |s, a| {
            s.with(&inputs[1].shape, move |s, b| {
                if let Ok(Some(c)) =
                    tract_onnx::tract_hir::infer::helpers::infer_shape_broadcasting(&[&a, &b])
                {
                    s.equals(&outputs[0].shape, c)?;
                }
                Ok(())
            })
        })
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let dt = model.outlet_fact(inputs[0])?.datum_type;
        let width = 8 * dt.size_of() as i64;
        let wires = wire_rank_broadcast(name, model, inputs)?;
        let (x, amount) = (wires[0], wires[1]);
        let rank = model.outlet_fact(x)?.rank();
        let mut scalar = |suffix: &str, value: i64| -> TractResult<OutletId> {
            let mut t = tensor0(value).cast_to_dt(dt)?.into_owned();
            for _ in 0..rank {
                t.insert_axis(0)?;
            }
            model.add_const(format!("{name}.{suffix}"), t)
        };
        let zero = scalar("zero", 0)?;
        let top = scalar("top", width - 1)?;
        let width = scalar("width", width)?;
        let mut node = |suffix: &str, op: Box<dyn TypedOp>, inputs: &[OutletId]| {
            model
                .wire_node(format!("{name}.{suffix}"), op, inputs)
                .map(|w| w[0])
        };
        let at_least_zero = node("at_least_zero", Box::new(max()), &[amount, zero])?;
        let clamped = node("clamped", Box::new(min()), &[at_least_zero, top])?;
        let shift = if self.right {
            shift_right()
        } else {
            shift_left()
        };
        let shifted = node("shifted", Box::new(shift), &[x, clamped])?;
        let fill = if self.right && dt.is_signed() {
            node("sign", Box::new(shift_right()), &[x, top])?
        } else {
            zero
        };
        let too_far = node(
            "too_far",
            Box::new(TypedBinOp(comp_gte(), None)),
            &[amount, width],
        )?;
        let negative = node(
            "negative",
            Box::new(TypedBinOp(comp_lt(), None)),
            &[amount, zero],
        )?;
        let below_width = node("below_width", Box::new(Iff), &[too_far, fill, shifted])?;
        model.wire_node(name, Iff, &[negative, fill, below_width])
    }
}

use crate::infer::*;
use crate::internal::*;

#[derive(Debug, Clone, new, Hash, PartialEq, Eq)]
pub struct RmDims {
    pub axes: Vec<isize>,
}

/// onnxlet: `axes` (possibly negative) resolved against `rank`, sorted; an axis out of range or
/// given twice is an error (it indexed out of bounds, a panic, or removed the wrong axis).
pub fn resolve_squeezed_axes(axes: &[isize], rank: usize) -> TractResult<Vec<usize>> {
    let mut resolved = vec![];
    for &axis in axes {
        let r = if axis < 0 { axis + rank as isize } else { axis };
        ensure!(
            (0..rank as isize).contains(&r),
            "Squeeze axis {axis} is out of range for an input of rank {rank}"
        );
        ensure!(!resolved.contains(&(r as usize)), "Squeeze axis {axis} is given twice");
        resolved.push(r as usize);
    }
    resolved.sort();
    Ok(resolved)
}

impl RmDims {
    fn compute_shape<D: DimLike>(&self, input: &[D]) -> TractResult<TVec<D>> {
        let axes = resolve_squeezed_axes(&self.axes, input.len())?;
        Ok(input
            .iter()
            .enumerate()
            .filter(|(ix, _d)| !axes.contains(ix))
            .map(|(_ix, d)| d.clone())
            .collect())
    }
}

impl Expansion for RmDims {
    fn name(&self) -> StaticName {
        "RmDims".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&outputs[0].rank, (&inputs[0].rank).bex() - self.axes.len() as i64)?;
        s.given(&inputs[0].rank, move |s, rank| {
            for axis in resolve_squeezed_axes(&self.axes, rank as usize)? {
                s.equals(&inputs[0].shape[axis], 1.to_dim())?;
            }
            Ok(())
        })?;
        s.given(&inputs[0].shape, move |s, shape| {
            let output_shape = self.compute_shape(&shape)?;
            s.equals(&outputs[0].shape, output_shape)
        })
    }

    fn wire(
        &self,
        prefix: &str,
        target: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let mut wire = inputs[0];
        let rank = target.outlet_fact(inputs[0])?.rank();
        let axes = resolve_squeezed_axes(&self.axes, rank)?;
        for axis in axes.into_iter().rev() {
            wire = target.wire_node(format!("{prefix}.axis-{axis}"), AxisOp::Rm(axis), &[wire])?[0];
        }
        Ok(tvec!(wire))
    }
}

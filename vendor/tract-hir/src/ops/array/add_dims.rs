use crate::infer::*;
use crate::internal::*;

#[derive(Debug, Clone, new, Hash, PartialEq, Eq)]
pub struct AddDims {
    pub axes: Vec<isize>,
}

impl AddDims {
    /// onnxlet: the axes resolved against the output's rank, in order, each within it and none
    /// twice (`output_shape` and `wire` resolved them unchecked: an axis out of range panicked).
    fn resolved_axes(&self, input_rank: usize) -> TractResult<Vec<usize>> {
        let output_rank = (input_rank + self.axes.len()) as isize;
        let mut resolved = vec![];
        for &axis in &self.axes {
            let r = if axis < 0 { axis + output_rank } else { axis };
            ensure!(
                (0..output_rank).contains(&r),
                "Unsqueeze axis {axis} is out of range for an output of rank {output_rank}"
            );
            ensure!(!resolved.contains(&(r as usize)), "Unsqueeze axis {axis} is given twice");
            resolved.push(r as usize);
        }
        resolved.sort();
        Ok(resolved)
    }

    pub fn output_shape<D: DimLike>(&self, input: &[D]) -> TractResult<TVec<D>> {
        let mut shape: TVec<D> = input.iter().cloned().collect();
        for axis in self.resolved_axes(input.len())? {
            shape.insert(axis, D::one())
        }
        Ok(shape)
    }
}

impl Expansion for AddDims {
    fn name(&self) -> StaticName {
        "AddDims".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("Axes: {:?}", self.axes)])
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&outputs[0].rank, (&inputs[0].rank).bex() + self.axes.len() as i64)?;
        s.given(&inputs[0].shape, move |s, shape| {
            let output_shape = self.output_shape(&shape)?;
            s.equals(&outputs[0].shape, output_shape)
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let axes = self.resolved_axes(model.outlet_fact(inputs[0])?.rank())?;
        let mut wire: TVec<OutletId> = inputs.into();
        for axis in axes {
            wire = model.wire_node(format!("{prefix}.axis-{axis}"), AxisOp::Add(axis), &wire)?;
        }
        Ok(wire)
    }
}

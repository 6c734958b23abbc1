use crate::internal::*;

#[derive(Debug, Clone, Hash, Eq, PartialEq)]
pub struct Const(Arc<Tensor>, Option<Box<dyn ExoticFact>>);

impl Const {
    pub fn new(tensor: Arc<Tensor>) -> TractResult<Const> {
        Self::new_with_opt_exotic_fact(tensor, None)
    }

    pub fn new_with_exotic_fact(
        tensor: Arc<Tensor>,
        fact: Box<dyn ExoticFact>,
    ) -> TractResult<Const> {
        Self::new_with_opt_exotic_fact(tensor, Some(fact))
    }

    pub fn new_with_opt_exotic_fact(
        tensor: Arc<Tensor>,
        fact: Option<Box<dyn ExoticFact>>,
    ) -> TractResult<Const> {
        ensure!(fact.is_some() || tensor.is_plain(), "Exotic tensor requires an exotic_fact");
        // A plain constant holds plain host bytes: storage that left them on a
        // device brings them back rather than pinning the buffer for the life
        // of the model.
        let tensor = if fact.is_none() && !tensor.has_plain_ram_storage() {
            Arc::new(Arc::unwrap_or_clone(tensor).into_plain_ram()?)
        } else {
            tensor
        };
        Ok(Const(tensor, fact))
    }

    pub fn val(&self) -> &Arc<Tensor> {
        &self.0
    }

    pub fn exotic_fact(&self) -> Option<&dyn ExoticFact> {
        self.1.as_deref()
    }
}

impl Op for Const {
    fn name(&self) -> StaticName {
        "Const".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Const {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, _inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        Ok(tvec![Arc::clone(&self.0).into_tvalue()])
    }
}

impl TypedOp for Const {
    as_op!();

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let fact = if self.1.is_some() {
            // Exotic const tensors (e.g. device-backed) may have storage that
            // cannot produce an ExoticFact (like DeviceTensor). Build the fact
            // from dt/shape and attach the explicit exotic_fact from self.1.
            let mut f = TypedFact::dt_shape(
                self.0.datum_type(),
                ShapeFact::from_dims(self.0.shape().iter().map(TDim::from)),
            );
            f.konst = Some(Arc::clone(&self.0));
            f.exotic_fact.clone_from(&self.1);
            f
        } else {
            // Plain tensor: TryFrom sets uniform, uniform_tdim, exotic_fact from storage.
            TypedFact::try_from(&self.0)?
        };
        Ok(tvec!(fact))
    }

    fn cost(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        Ok(tvec!((Cost::Params(self.0.datum_type().unquantized()), self.0.len().into())))
    }

    fn set_symbols(
        &self,
        _source: &TypedModel,
        node: &TypedNode,
        target: &mut TypedModel,
        _mapping: &HashMap<OutletId, OutletId>,
        subs: &HashMap<Symbol, TDim>,
    ) -> TractResult<TVec<OutletId>> {
        let op = if self.0.datum_type() == TDim::datum_type() {
            let mut tensor = self.0.clone().into_tensor();
            for d in tensor.try_as_plain_ram_mut()?.as_slice_mut::<TDim>()? {
                *d = d.substitute_all(subs)?;
            }
            Const(tensor.into_arc_tensor(), self.1.clone())
        } else {
            self.clone()
        };
        target.wire_node(&node.name, op, &[])
    }

    fn change_axes(
        &self,
        _model: &TypedModel,
        _node: &TypedNode,
        io: InOut,
        change: &AxisOp,
    ) -> TractResult<Option<AxisChangeConsequence>> {
        anyhow::ensure!(io == InOut::Out(0));
        Ok(self.with_axis_change(change)?.map(|sub| AxisChangeConsequence {
            substitute_op: Some(Box::new(sub)),
            wire_changes: tvec!((io, change.clone())),
        }))
    }
}

impl Const {
    /// The constant with `change` applied, if it applies: the substitute `change_axes` makes.
    pub(crate) fn with_axis_change(&self, change: &AxisOp) -> TractResult<Option<Const>> {
        let mut new_tensor = self.0.clone().into_tensor();
        if change.change_tensor(&mut new_tensor, false).is_err() {
            return Ok(None);
        }
        let new_tensor = new_tensor.into_arc_tensor();
        crate::model::same_uniform_as(&new_tensor, &self.0);
        let mut sub = Const(new_tensor, None);
        if self.1.is_some() {
            let my_fact = self.output_facts(&[])?;
            let changed_fact = change.output_facts(&[&my_fact[0]])?;
            sub.1 = changed_fact[0].exotic_fact.clone();
        }
        Ok(Some(sub))
    }

    /// onnxlet: whether `change` applies to this constant, found from its shape, without the
    /// copy of the tensor that [`Const::with_axis_change`] makes; `None` when that takes the
    /// tensor itself (it is not plain, or has an exotic fact). The axis-change search explores
    /// many changes it then drops, and copying every constant it met was a twentieth of a CNN's
    /// session creation.
    pub(crate) fn axis_change_applies(&self, change: &AxisOp) -> Option<bool> {
        if self.1.is_some() || !self.0.is_plain_ram() {
            return None;
        }
        let shape = self.0.shape();
        if change.required_rank() > shape.len() {
            return Some(false);
        }
        // As `AxisOp::change_tensor` finds for a plain tensor.
        Some(match change.canonical().as_ref() {
            AxisOp::Add(_) => true,
            AxisOp::Rm(axis) => shape.get(*axis) == Some(&1),
            AxisOp::Move(from, to) => *from < shape.len() && *to < shape.len(),
            AxisOp::Reshape(..) => {
                let mut new_shape: TVec<usize> = shape.into();
                change.change_shape_array(&mut new_shape, true).is_ok()
                    && new_shape.iter().product::<usize>() == self.0.len()
            }
        })
    }
}

#[cfg(test)]
mod onnxlet_tests {
    use super::*;

    // onnxlet: the axis-change search asks `axis_change_applies` instead of making the changed
    // constant; its answer must be whether `with_axis_change` makes one.
    #[test]
    fn axis_change_applies_as_the_change_does() {
        let tensors = [
            tensor0(1f32),
            tensor1(&[1f32, 2., 3.]),
            Tensor::zero::<f32>(&[1, 3, 1, 2]).unwrap(),
            Tensor::zero::<f32>(&[2, 1, 1]).unwrap(),
            Tensor::zero::<i64>(&[4, 1]).unwrap(),
        ];
        let mut changes = vec![];
        for axis in 0..5 {
            changes.push(AxisOp::Add(axis));
            changes.push(AxisOp::Rm(axis));
            for to in 0..5 {
                changes.push(AxisOp::Move(axis, to));
            }
        }
        changes.push(AxisOp::Reshape(0, tvec!(1.into(), 3.into()), tvec!(3.into())));
        changes.push(AxisOp::Reshape(1, tvec!(3.into(), 1.into()), tvec!(3.into())));
        changes.push(AxisOp::Reshape(1, tvec!(3.into()), tvec!(1.into(), 3.into())));
        changes.push(AxisOp::Reshape(0, tvec!(2.into(), 1.into()), tvec!(2.into())));
        changes.push(AxisOp::Reshape(0, tvec!(4.into()), tvec!(2.into(), 2.into())));
        let mut applied = 0;
        for tensor in tensors {
            let konst = Const::new(tensor.into_arc_tensor()).unwrap();
            for change in &changes {
                let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    konst.with_axis_change(change)
                }));
                let Ok(made) = made else { continue };
                let made = made.unwrap();
                let applies = konst.axis_change_applies(change).unwrap();
                assert_eq!(applies, made.is_some(), "{change:?} on {:?}", konst.val());
                applied += applies as usize;
            }
        }
        assert!(applied > 20, "{applied}");
    }
}

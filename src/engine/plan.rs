//! From a typed model to a plan: tract's optimisation, then onnxlet's passes over its result.

use std::sync::Arc;

use tract_onnx::prelude::*;

use super::binary;

/// Runs `f`, which types or optimises a model, then empties the table in which tract (as
/// vendored) remembers which of the model's constants are uniform (`vendor/README.md`), so that
/// a creation leaves nothing behind.
pub(super) fn with_uniform_memo<R>(f: impl FnOnce() -> R) -> R {
    let result = f();
    tract_onnx::tract_core::model::forget_uniforms();
    result
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

/// Optimises a decluttered model: it is decluttered again only if `redeclutter` (symbols were
/// pinned since), a pass that otherwise finds nothing to do and costs up to 5% of a creation.
pub(super) fn optimise(
    mut model: TypedModel,
    redeclutter: bool,
) -> TractResult<Arc<TypedSimplePlan>> {
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

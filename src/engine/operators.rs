//! Which operators the tract engine loads: tract's ONNX registry with onnxlet's replacements,
//! and the check of a model's nodes against it (and against `model_rules`).

use tract_onnx::pb;

use super::{bitshift, constant_of_shape, lrn};
use crate::error::{Error, Result};
use crate::model_rules;

/// tract's ONNX framework, with onnxlet's corrections to its operators.
pub(super) fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    onnx.op_register.insert("BitShift", bitshift::build);
    onnx.op_register
        .insert("ConstantOfShape", constant_of_shape::build);
    onnx.op_register.insert("LRN", lrn::build);
    onnx
}

/// The names of the operators the loader accepts (the keys of tract's ONNX registry).
pub(crate) fn operator_names() -> Vec<String> {
    onnx().op_register.0.into_keys().collect()
}

model_rules::proto_views!(tract_onnx::pb);

/// Checks the model against the rules of every engine (`model_rules`), and reports every node
/// whose operator tract does not implement, before any graph analysis.
pub(super) fn check_operators(onnx: &tract_onnx::Onnx, proto: &pb::ModelProto) -> Result<()> {
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
    check_kernel_shapes(graph)?;
    let (missing, ops) = model_rules::unsupported(graph, imports, |node| {
        onnx.op_register.0.contains_key(&node.op_type)
    });
    let hint = crate::full_build::hint(ops.iter().map(String::as_str));
    model_rules::unsupported_error(&missing, "", &hint)
}

/// The operators whose `kernel_shape` attribute tract sizes its windows with.
const KERNEL_OPS: [&str; 7] = [
    "AveragePool",
    "MaxPool",
    "LpPool",
    "Conv",
    "ConvTranspose",
    "ConvInteger",
    "QLinearConv",
];

/// Refuses a `kernel_shape` with a value under 1: tract builds a window of no element from
/// it and indexes it out of bounds (tract-core's patches.rs, a panic: an abort of the wasm
/// module).
fn check_kernel_shapes(graph: &pb::GraphProto) -> Result<()> {
    for node in &graph.node {
        for attribute in &node.attribute {
            if attribute.name == "kernel_shape"
                && KERNEL_OPS.contains(&node.op_type.as_str())
                && attribute.ints.iter().any(|&k| k < 1)
            {
                let name = if node.name.is_empty() {
                    node.output.first().map_or("", String::as_str)
                } else {
                    &node.name
                };
                return Err(Error::invalid_model(format!(
                    "{} node '{name}': kernel_shape {:?} must be positive",
                    node.op_type, attribute.ints
                )));
            }
            for sub in attribute.g.iter().chain(&attribute.graphs) {
                check_kernel_shapes(sub)?;
            }
        }
    }
    Ok(())
}

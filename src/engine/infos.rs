//! A model's inputs and outputs as the crate describes them (`ValueInfo`): from tract's typed
//! model, or as the ONNX graph declares them for models typed per shape.

use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::convert::{dtype_from_tract, model_error};
use crate::error::{Error, Result};
use crate::onnx_types::dtype_from_onnx;
use crate::tensor::{Dim, ValueInfo};

/// Inputs or outputs as the ONNX graph declares them, for models typed per shape.
pub(super) fn declared_infos(
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

/// The names of the model's input or output `outlets`: their labels, else their nodes' names.
pub(super) fn outlet_names(
    model: &InferenceModel,
    outlets: TractResult<&[OutletId]>,
) -> Result<Vec<String>> {
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

/// The inputs or outputs at `outlets` of a typed model, named `names`.
pub(super) fn value_infos(
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

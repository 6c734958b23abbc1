//! ONNX's element type codes and declared dimensions, shared by both engines.

use crate::error::{Error, Result};
use crate::tensor::{DType, Dim, ValueInfo};

/// Pins the symbolic dimensions named in `overrides` in the declared inputs.
pub(crate) fn pin_declared(inputs: &mut [ValueInfo], overrides: &[(String, usize)]) -> Result<()> {
    for (name, value) in overrides {
        let mut found = false;
        for dim in inputs.iter_mut().flat_map(|i| i.shape.iter_mut()) {
            if matches!(dim, Dim::Symbolic(s) if s == name) {
                *dim = Dim::Fixed(*value);
                found = true;
            }
        }
        if !found {
            return Err(unknown_symbol(
                name,
                inputs
                    .iter()
                    .flat_map(|i| &i.shape)
                    .filter_map(|d| match d {
                        Dim::Symbolic(s) => Some(s.clone()),
                        _ => None,
                    }),
            ));
        }
    }
    Ok(())
}

pub(crate) fn unknown_symbol(name: &str, known: impl Iterator<Item = String>) -> Error {
    let mut known: Vec<String> = known.collect();
    known.sort();
    known.dedup();
    Error::invalid_argument(format!(
        "freeDimensionOverrides names '{name}', but the model has no such symbolic dimension \
         (its symbolic dimensions are: {})",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    ))
}

/// ONNX `TensorProto.DataType` codes of the exchangeable types.
const ONNX_TYPES: [(i32, DType); 13] = [
    (1, DType::Float32),
    (2, DType::Uint8),
    (3, DType::Int8),
    (4, DType::Uint16),
    (5, DType::Int16),
    (6, DType::Int32),
    (7, DType::Int64),
    (8, DType::String),
    (9, DType::Bool),
    (10, DType::Float16),
    (11, DType::Float64),
    (12, DType::Uint32),
    (13, DType::Uint64),
];

pub(crate) fn dtype_from_onnx(code: i32) -> Option<DType> {
    ONNX_TYPES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, dt)| *dt)
}

#[cfg(feature = "tract")]
pub(crate) fn dtype_to_onnx(dtype: DType) -> i32 {
    ONNX_TYPES
        .iter()
        .find(|(_, dt)| *dt == dtype)
        .map(|(c, _)| *c)
        .unwrap_or_default()
}

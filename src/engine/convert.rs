//! tract's element types, tensors and errors in the crate's own, and back.

use tract_onnx::prelude::*;

use crate::error::{Error, ErrorCode, Result};
use crate::memory;
use crate::tensor::{DType, HostTensor};

/// A model tract cannot read or type, as an `INVALID_MODEL` error.
/// (`RESOURCE_LIMIT` when it is an allocation the heap could not make: a tensor of a size the
/// model declares.)
pub(super) fn model_error(e: &TractError) -> Error {
    Error::or_resource_limit(ErrorCode::InvalidModel, format!("{e:#}"))
}

/// The crate's element type of tract's `dt`, if JS can exchange it (`TDim` travels as int64).
pub(super) fn dtype_from_tract(dt: DatumType) -> Option<DType> {
    Some(match dt {
        DatumType::F32 => DType::Float32,
        DatumType::F64 => DType::Float64,
        DatumType::F16 => DType::Float16,
        DatumType::I8 => DType::Int8,
        DatumType::U8 => DType::Uint8,
        DatumType::I16 => DType::Int16,
        DatumType::U16 => DType::Uint16,
        DatumType::I32 => DType::Int32,
        DatumType::U32 => DType::Uint32,
        DatumType::I64 | DatumType::TDim => DType::Int64,
        DatumType::U64 => DType::Uint64,
        DatumType::Bool => DType::Bool,
        DatumType::String => DType::String,
        _ => return None,
    })
}

/// tract's element type of `dt`.
pub(super) fn dtype_to_tract(dt: DType) -> DatumType {
    match dt {
        DType::Float32 => DatumType::F32,
        DType::Float64 => DatumType::F64,
        DType::Float16 => DatumType::F16,
        DType::Int8 => DatumType::I8,
        DType::Uint8 => DatumType::U8,
        DType::Int16 => DatumType::I16,
        DType::Uint16 => DatumType::U16,
        DType::Int32 => DatumType::I32,
        DType::Uint32 => DatumType::U32,
        DType::Int64 => DatumType::I64,
        DType::Uint64 => DatumType::U64,
        DType::Bool => DatumType::Bool,
        DType::String => DatumType::String,
    }
}

/// A feed as a tract tensor.
pub(super) fn to_tract(t: HostTensor) -> Result<Tensor> {
    if let Some(strings) = t.strings() {
        return tract_ndarray::ArrayD::from_shape_vec(t.dims(), strings)
            .map(Tensor::from)
            .map_err(|e| Error::invalid_input(format!("{e}")));
    }
    let dtype = t.dtype();
    let dims = t.dims().to_vec();
    let mut data = t.into_data();
    if dtype == DType::Bool {
        // Rust's bool must be 0 or 1; JS hands us arbitrary bytes.
        data.iter_mut().for_each(|b| *b = (*b != 0) as u8);
    }
    // The copy tract reads is weighed against the running call's budget before it is made.
    memory::reserve(data.len()).map_err(|over| {
        Error::computing(format!(
            "an input of shape {dims:?} ({}) cannot be copied into the engine, {over}",
            memory::human_bytes(data.len())
        ))
    })?;
    // A copy the heap cannot make (with no budget, or one past the heap's room) is RESOURCE_LIMIT.
    // SAFETY: HostTensor guarantees data.len() == product(dims) * size, every bit pattern is
    // valid for the numeric types, and bool bytes were normalised above.
    unsafe { Tensor::from_raw_dt(dtype_to_tract(dtype), &dims, &data) }.map_err(|e| {
        Error::or_resource_limit(
            ErrorCode::InvalidInput,
            format!("an input of shape {dims:?}: {e:#}"),
        )
    })
}

/// An output of tract's as the crate's tensor. Read through a reference: an output may be a
/// constant the plan shares (`into_tensor` would copy it first). The copy handed to JS is
/// weighed against the running call's memory budget before it is made: with the output it is
/// copied from, it holds the output's bytes twice.
pub(super) fn from_tract(tensor: &Tensor) -> Result<HostTensor> {
    let cast;
    let tensor = if tensor.datum_type() == DatumType::TDim {
        cast = tensor
            .cast_to::<i64>()
            .map_err(|e| Error::runtime(format!("{e:#}")))?;
        &*cast
    } else {
        tensor
    };
    let dtype = dtype_from_tract(tensor.datum_type()).ok_or_else(|| {
        Error::runtime(format!(
            "the model produced a {:?} tensor, which onnxlet cannot exchange with JS",
            tensor.datum_type()
        ))
    })?;
    let plain = tensor
        .try_as_plain_ram()
        .map_err(|e| Error::runtime(format!("{e:#}")))?;
    if dtype == DType::String {
        let strings = plain
            .as_slice::<String>()
            .map_err(|e| Error::runtime(format!("{e:#}")))?;
        return HostTensor::from_strings(tensor.shape().to_vec(), strings);
    }
    let bytes = plain.as_bytes();
    memory::reserve(bytes.len()).map_err(|over| {
        Error::computing(format!(
            "an output of shape {:?} ({}) cannot be copied out of the engine, {over}",
            tensor.shape(),
            memory::human_bytes(bytes.len())
        ))
    })?;
    HostTensor::new(dtype, tensor.shape().to_vec(), bytes.to_vec())
}

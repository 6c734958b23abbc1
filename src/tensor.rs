//! Host-side tensors and value descriptions: plain data, no inference engine.

use std::fmt;

use crate::error::{Error, Result};

/// Element types that cross the API, named as in onnxruntime-web.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    Float32,
    Float64,
    Float16,
    Int8,
    Uint8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Uint64,
    Bool,
}

impl DType {
    pub const ALL: [DType; 12] = [
        DType::Float32,
        DType::Float64,
        DType::Float16,
        DType::Int8,
        DType::Uint8,
        DType::Int16,
        DType::Uint16,
        DType::Int32,
        DType::Uint32,
        DType::Int64,
        DType::Uint64,
        DType::Bool,
    ];

    /// The onnxruntime-web name of the type, e.g. `float32`.
    pub fn name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::Float16 => "float16",
            DType::Int8 => "int8",
            DType::Uint8 => "uint8",
            DType::Int16 => "int16",
            DType::Uint16 => "uint16",
            DType::Int32 => "int32",
            DType::Uint32 => "uint32",
            DType::Int64 => "int64",
            DType::Uint64 => "uint64",
            DType::Bool => "bool",
        }
    }

    pub fn parse(name: &str) -> Result<DType> {
        DType::ALL
            .into_iter()
            .find(|dt| dt.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = DType::ALL.iter().map(|dt| dt.name()).collect();
                Error::invalid_argument(format!(
                    "unknown tensor type '{name}' (expected one of {})",
                    known.join(", ")
                ))
            })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::Int8 | DType::Uint8 | DType::Bool => 1,
            DType::Float16 | DType::Int16 | DType::Uint16 => 2,
            DType::Float32 | DType::Int32 | DType::Uint32 => 4,
            DType::Float64 | DType::Int64 | DType::Uint64 => 8,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One dimension of a declared shape: a number, a symbol such as `N` or `batch`, or
/// unknown (the model declares neither).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Fixed(usize),
    Symbolic(String),
    Unknown,
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(d) => write!(f, "{d}"),
            Dim::Symbolic(s) => f.write_str(s),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

/// Formats a shape as `[N, 3, 224, 224]`.
pub fn format_shape<T: fmt::Display>(dims: &[T]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// A model input or output as declared by the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueInfo {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<Dim>,
}

/// A dense little-endian tensor owned by the host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    dtype: DType,
    dims: Vec<usize>,
    data: Vec<u8>,
}

impl HostTensor {
    /// Builds a tensor, checking that `data` holds exactly `product(dims)` elements.
    pub fn new(dtype: DType, dims: Vec<usize>, data: Vec<u8>) -> Result<HostTensor> {
        let expected = element_count(&dims)
            .and_then(|n| n.checked_mul(dtype.size()))
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "shape {} of {dtype} is too large to address",
                    format_shape(&dims)
                ))
            })?;
        if data.len() != expected {
            return Err(Error::invalid_input(format!(
                "a {dtype} tensor of shape {} needs {expected} bytes, got {}",
                format_shape(&dims),
                data.len()
            )));
        }
        Ok(HostTensor { dtype, dims, data })
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
}

/// The number of elements of a shape, or `None` on overflow.
pub fn element_count(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_names_round_trip() {
        for dt in DType::ALL {
            assert_eq!(DType::parse(dt.name()).unwrap(), dt);
        }
        let err = DType::parse("float128").unwrap_err();
        assert!(err.message.contains("float128"), "{}", err.message);
    }

    #[test]
    fn tensor_checks_byte_length() {
        assert!(HostTensor::new(DType::Float32, vec![2, 3], vec![0; 24]).is_ok());
        let err = HostTensor::new(DType::Float32, vec![2, 3], vec![0; 20]).unwrap_err();
        assert!(
            err.message.contains("needs 24 bytes, got 20"),
            "{}",
            err.message
        );
        let err = HostTensor::new(DType::Float32, vec![usize::MAX, 4], vec![]).unwrap_err();
        assert!(err.message.contains("too large"), "{}", err.message);
    }
}

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
    /// UTF-8 strings; they cross the API in the wire format of [`encode_strings`].
    String,
}

impl DType {
    pub const ALL: [DType; 13] = [
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
        DType::String,
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
            DType::String => "string",
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

    /// Bytes per element, or `None` for strings, whose elements vary in length.
    pub fn size(self) -> Option<usize> {
        match self {
            DType::Int8 | DType::Uint8 | DType::Bool => Some(1),
            DType::Float16 | DType::Int16 | DType::Uint16 => Some(2),
            DType::Float32 | DType::Int32 | DType::Uint32 => Some(4),
            DType::Float64 | DType::Int64 | DType::Uint64 => Some(8),
            DType::String => None,
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

/// A dense tensor owned by the host: little-endian elements, or for strings the wire format of
/// [`encode_strings`].
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    dtype: DType,
    dims: Vec<usize>,
    data: Vec<u8>,
}

impl HostTensor {
    /// Builds a tensor, checking that `data` holds exactly `product(dims)` elements (and, for
    /// strings, that it is well-formed wire data of valid UTF-8).
    pub fn new(dtype: DType, dims: Vec<usize>, data: Vec<u8>) -> Result<HostTensor> {
        let too_large = || {
            Error::invalid_input(format!(
                "shape {} of {dtype} is too large to address",
                format_shape(&dims)
            ))
        };
        let count = element_count(&dims).ok_or_else(too_large)?;
        match dtype.size() {
            Some(width) => {
                let expected = count.checked_mul(width).ok_or_else(too_large)?;
                if data.len() != expected {
                    return Err(Error::invalid_input(format!(
                        "a {dtype} tensor of shape {} needs {expected} bytes, got {}",
                        format_shape(&dims),
                        data.len()
                    )));
                }
            }
            None => {
                let found = decode_strings(&data)?.len();
                if found != count {
                    return Err(Error::invalid_input(format!(
                        "a string tensor of shape {} needs {count} strings, got {found}",
                        format_shape(&dims)
                    )));
                }
            }
        }
        Ok(HostTensor { dtype, dims, data })
    }

    /// A string tensor.
    pub fn from_strings<S: AsRef<str>>(dims: Vec<usize>, strings: &[S]) -> Result<HostTensor> {
        HostTensor::new(DType::String, dims, encode_strings(strings))
    }

    /// The elements of a string tensor, or `None` for another type.
    pub fn strings(&self) -> Option<Vec<String>> {
        if self.dtype != DType::String {
            return None;
        }
        // `new` validated the data.
        decode_strings(&self.data)
            .ok()
            .map(|s| s.into_iter().map(str::to_owned).collect())
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

/// Strings as they cross the API: each one as its UTF-8 byte length (u32, little-endian)
/// followed by its bytes.
pub fn encode_strings<S: AsRef<str>>(strings: &[S]) -> Vec<u8> {
    let total = strings.iter().map(|s| 4 + s.as_ref().len()).sum();
    let mut out = Vec::with_capacity(total);
    for s in strings {
        let s = s.as_ref().as_bytes();
        // A wasm32 string cannot exceed u32::MAX bytes.
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s);
    }
    out
}

/// Reads the wire format of [`encode_strings`], rejecting truncated data and invalid UTF-8.
pub fn decode_strings(mut data: &[u8]) -> Result<Vec<&str>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let index = out.len();
        let truncated = || {
            Error::invalid_input(format!(
                "string data is truncated at element {index} (each element is a u32 byte length, then UTF-8)"
            ))
        };
        let (len, rest) = data.split_first_chunk::<4>().ok_or_else(truncated)?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(truncated());
        }
        let (bytes, rest) = rest.split_at(len);
        let s = std::str::from_utf8(bytes).map_err(|e| {
            Error::invalid_input(format!("string element {index} is not valid UTF-8: {e}"))
        })?;
        out.push(s);
        data = rest;
    }
    Ok(out)
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

    #[test]
    fn strings_round_trip_and_reject_bad_wire_data() {
        let strings = ["", "onnx", "é😀", "a\0b"];
        let t = HostTensor::from_strings(vec![2, 2], &strings).unwrap();
        assert_eq!(t.strings().unwrap(), strings);
        assert_eq!(t.data().len(), 4 * 4 + 4 + 6 + 3);

        let err = HostTensor::from_strings(vec![3], &strings).unwrap_err();
        assert!(
            err.message.contains("needs 3 strings, got 4"),
            "{}",
            err.message
        );
        let mut cut = encode_strings(&["abc"]);
        cut.pop();
        let err = HostTensor::new(DType::String, vec![1], cut).unwrap_err();
        assert!(
            err.message.contains("truncated at element 0"),
            "{}",
            err.message
        );
        let err = HostTensor::new(DType::String, vec![1], vec![1, 0, 0, 0, 0xff]).unwrap_err();
        assert!(
            err.message.contains("element 0 is not valid UTF-8"),
            "{}",
            err.message
        );
        assert!(HostTensor::new(DType::String, vec![0], vec![]).is_ok());
    }
}

//! The lite engine's tensor: a row-major shape and one typed vector.

use crate::tensor::DType;

/// The element types the lite engine takes, for messages about the others.
pub const TYPES: &str =
    "float32, float16 (computed in float32), int64, int32, bool, uint8, int8 and string";

/// The elements of a tensor. Only the types the lite engine computes with (float16 values are
/// kept as float32: `super::f16`); the others are rejected where they enter (model constants,
/// feeds).
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
    U8(Vec<u8>),
    I8(Vec<i8>),
    /// Strings: the labels of scikit-learn models and their categorical inputs. Only the ML
    /// operators, the graph's inputs and outputs, and the operators that move a tensor whole
    /// (Identity, Reshape and their kin) take them.
    Str(Vec<String>),
}

/// A tensor with a row-major (C order) layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Data,
}

/// Errors inside operators are plain messages; the engine adds the node and operator.
pub type OpResult<T> = std::result::Result<T, String>;

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Data) -> OpResult<Tensor> {
        let t = Tensor { shape, data };
        let want = t.shape.iter().product::<usize>();
        if t.len() != want {
            return Err(format!(
                "{} elements for shape {:?} ({want} expected)",
                t.len(),
                t.shape
            ));
        }
        Ok(t)
    }

    pub fn f32(shape: Vec<usize>, v: Vec<f32>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), v.len());
        Tensor {
            shape,
            data: Data::F32(v),
        }
    }

    pub fn i64(shape: Vec<usize>, v: Vec<i64>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), v.len());
        Tensor {
            shape,
            data: Data::I64(v),
        }
    }

    pub fn bool(shape: Vec<usize>, v: Vec<bool>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), v.len());
        Tensor {
            shape,
            data: Data::Bool(v),
        }
    }

    pub fn scalar_f32(v: f32) -> Tensor {
        Tensor::f32(vec![], vec![v])
    }

    pub fn len(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::U8(v) => v.len(),
            Data::I8(v) => v.len(),
            Data::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn dtype(&self) -> DType {
        match &self.data {
            Data::F32(_) => DType::Float32,
            Data::I64(_) => DType::Int64,
            Data::I32(_) => DType::Int32,
            Data::Bool(_) => DType::Bool,
            Data::U8(_) => DType::Uint8,
            Data::I8(_) => DType::Int8,
            Data::Str(_) => DType::String,
        }
    }

    pub fn as_f32(&self) -> OpResult<&[f32]> {
        match &self.data {
            Data::F32(v) => Ok(v),
            _ => Err(format!("expected a float32 tensor, got {}", self.dtype())),
        }
    }

    #[cfg(test)]
    pub fn as_i64(&self) -> OpResult<&[i64]> {
        match &self.data {
            Data::I64(v) => Ok(v),
            _ => Err(format!("expected an int64 tensor, got {}", self.dtype())),
        }
    }

    #[cfg(test)]
    pub fn into_f32(self) -> OpResult<Vec<f32>> {
        match self.data {
            Data::F32(v) => Ok(v),
            _ => Err(format!("expected a float32 tensor, got {}", self.dtype())),
        }
    }

    /// The elements of an integer tensor (shapes, axes, indices) as i64.
    pub fn to_i64s(&self) -> OpResult<Vec<i64>> {
        Ok(match &self.data {
            Data::I64(v) => v.clone(),
            Data::I32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::U8(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I8(v) => v.iter().map(|&x| x as i64).collect(),
            Data::Bool(v) => v.iter().map(|&x| x as i64).collect(),
            Data::F32(_) | Data::Str(_) => {
                return Err(format!("expected an integer tensor, got {}", self.dtype()))
            }
        })
    }

    /// The elements of any tensor as f32 (for Cast and mixed-type arithmetic).
    pub fn to_f32s(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
            Data::I32(v) => v.iter().map(|&x| x as f32).collect(),
            Data::U8(v) => v.iter().map(|&x| x as f32).collect(),
            Data::I8(v) => v.iter().map(|&x| x as f32).collect(),
            Data::Bool(v) => v.iter().map(|&x| x as u8 as f32).collect(),
            // Not numbers: the operators that read numbers refuse strings before.
            Data::Str(v) => vec![f32::NAN; v.len()],
        }
    }
}

/// A possibly negative ONNX axis, normalised against `rank`.
pub fn axis(axis: i64, rank: usize) -> OpResult<usize> {
    let r = rank as i64;
    if axis < -r || axis >= r.max(1) {
        return Err(format!("axis {axis} is out of range for rank {rank}"));
    }
    Ok(if axis < 0 { axis + r } else { axis } as usize)
}

/// The numpy-style broadcast of two shapes.
pub fn broadcast(a: &[usize], b: &[usize]) -> OpResult<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        };
    }
    Ok(out)
}

/// The most elements an operator allocates for one tensor (1 GiB of float32): a larger
/// computed shape is an error, not an allocation that takes the module down.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// The number of elements of a tensor of `shape` with elements of `T` about to be allocated:
/// checked against [`MAX_ELEMENTS`], and its bytes against the running call's memory budget
/// (`maxMemoryBytes`), so that a tensor over it is refused before it takes any memory.
pub fn alloc_len<T: 'static>(shape: &[usize]) -> OpResult<usize> {
    use std::any::TypeId;
    let t = TypeId::of::<T>();
    let name = [
        (TypeId::of::<f32>(), "float32"),
        (TypeId::of::<i64>(), "int64"),
        (TypeId::of::<i32>(), "int32"),
        (TypeId::of::<bool>(), "bool"),
        (TypeId::of::<u8>(), "uint8"),
        (TypeId::of::<i8>(), "int8"),
        (TypeId::of::<String>(), "string"),
    ]
    .into_iter()
    .find(|(id, _)| *id == t)
    .map_or("scratch", |(_, name)| name);
    alloc_bytes(shape, std::mem::size_of::<T>(), name)
}

/// [`alloc_len`] for a tensor of `dtype`.
pub fn alloc_len_of(shape: &[usize], dtype: DType) -> OpResult<usize> {
    alloc_bytes(shape, dtype.size().unwrap_or(1), dtype.name())
}

fn alloc_bytes(shape: &[usize], size: usize, name: &str) -> OpResult<usize> {
    let len = volume(shape)?;
    let bytes = len.saturating_mul(size);
    if bytes > isize::MAX as usize {
        return Err(format!(
            "needs a {shape:?} {name} tensor ({}), more than the module can address",
            crate::memory::human_bytes(bytes)
        ));
    }
    crate::memory::reserve(bytes).map_err(|over| {
        format!(
            "needs a {shape:?} {name} tensor ({}), {over}",
            crate::memory::human_bytes(bytes)
        )
    })?;
    Ok(len)
}

/// The number of elements of `shape`, checked against [`MAX_ELEMENTS`].
pub fn volume(shape: &[usize]) -> OpResult<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            format!("a tensor of shape {shape:?} would have more than {MAX_ELEMENTS} elements")
        })
}

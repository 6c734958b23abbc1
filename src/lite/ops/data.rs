//! The element types of the data-movement operators: [`Elem`] for every type of [`Data`], [`Num`]
//! for those with arithmetic, and [`with_elem!`] and [`with_num!`], which pick the instance of a
//! generic kernel from a tensor's `Data`.

use super::super::tensor::{alloc_len_of, Data, OpResult, Tensor};
use super::dims::count;

// ---------------------------------------------------------------------------------------------
// Element types

/// An element type of [`Data`].
pub(super) trait Elem: Copy + Default + PartialEq + 'static {
    const NAME: &'static str;
    fn of(d: &Data) -> Option<&[Self]>;
    fn wrap(v: Vec<Self>) -> Data;
    /// An order-preserving key: numbers as usual, -0 equal to 0, NaN after everything (TopK,
    /// ScatterND's max and min).
    fn key(self) -> u64;
    /// Whether `a` sorts strictly after `b`.
    #[inline(always)]
    fn after(a: Self, b: Self) -> bool {
        a.key() > b.key()
    }
    /// `v` converted as ONNX's Cast does (Pad's float `value` attribute).
    fn from_f32(v: f32) -> Self;
}

/// The element types with arithmetic (CumSum, ScatterND's add and mul). Integers wrap.
pub(super) trait Num: Elem {
    fn add(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
}

impl Elem for f32 {
    const NAME: &'static str = "float32";
    fn of(d: &Data) -> Option<&[f32]> {
        match d {
            Data::F32(v) => Some(v),
            _ => None,
        }
    }
    fn wrap(v: Vec<f32>) -> Data {
        Data::F32(v)
    }
    #[inline(always)]
    fn key(self) -> u64 {
        if self.is_nan() {
            return u64::MAX;
        }
        let b = (self + 0.0).to_bits();
        (if b >> 31 != 0 { !b } else { b | 1 << 31 }) as u64
    }
    fn from_f32(v: f32) -> f32 {
        v
    }
}

impl Num for f32 {
    fn add(self, o: f32) -> f32 {
        self + o
    }
    fn mul(self, o: f32) -> f32 {
        self * o
    }
}

impl Elem for bool {
    const NAME: &'static str = "bool";
    fn of(d: &Data) -> Option<&[bool]> {
        match d {
            Data::Bool(v) => Some(v),
            _ => None,
        }
    }
    fn wrap(v: Vec<bool>) -> Data {
        Data::Bool(v)
    }
    #[inline(always)]
    fn key(self) -> u64 {
        self as u64
    }
    fn from_f32(v: f32) -> bool {
        v != 0.0
    }
}

macro_rules! int_elem {
    ($t:ty, $variant:ident, $name:literal) => {
        impl Elem for $t {
            const NAME: &'static str = $name;
            fn of(d: &Data) -> Option<&[$t]> {
                match d {
                    Data::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(v: Vec<$t>) -> Data {
                Data::$variant(v)
            }
            #[inline(always)]
            fn key(self) -> u64 {
                (self as i64 as u64) ^ (1 << 63)
            }
            fn from_f32(v: f32) -> $t {
                v as $t
            }
        }

        impl Num for $t {
            fn add(self, o: $t) -> $t {
                self.wrapping_add(o)
            }
            fn mul(self, o: $t) -> $t {
                self.wrapping_mul(o)
            }
        }
    };
}

int_elem!(i64, I64, "int64");
int_elem!(i32, I32, "int32");
int_elem!(u8, U8, "uint8");
int_elem!(i8, I8, "int8");

/// Evaluates `$body` with the type `$T` bound to the element type of `$data`.
macro_rules! with_elem {
    ($data:expr, $T:ident => $body:expr) => {
        match $data {
            Data::F32(_) => {
                type $T = f32;
                $body
            }
            Data::I64(_) => {
                type $T = i64;
                $body
            }
            Data::I32(_) => {
                type $T = i32;
                $body
            }
            Data::Bool(_) => {
                type $T = bool;
                $body
            }
            Data::U8(_) => {
                type $T = u8;
                $body
            }
            Data::I8(_) => {
                type $T = i8;
                $body
            }
            Data::Str(_) => return Err(NO_STRINGS.to_string()),
        }
    };
}

pub(super) use with_elem;

/// The error of the operators that do not take string tensors.
pub(super) const NO_STRINGS: &str = "the lite build takes string tensors only in the ai.onnx.ml                                      operators and the operators that keep a tensor whole";

/// [`with_elem!`] for the types with arithmetic; `$body` is an `OpResult`, and bool an error.
macro_rules! with_num {
    ($data:expr, $what:expr, $T:ident => $body:expr) => {
        match $data {
            Data::F32(_) => {
                type $T = f32;
                $body
            }
            Data::I64(_) => {
                type $T = i64;
                $body
            }
            Data::I32(_) => {
                type $T = i32;
                $body
            }
            Data::U8(_) => {
                type $T = u8;
                $body
            }
            Data::I8(_) => {
                type $T = i8;
                $body
            }
            Data::Bool(_) => Err(format!("{} does not compute on bool tensors", $what)),
            Data::Str(_) => Err(format!("{} does not compute on string tensors", $what)),
        }
    };
}

pub(super) use with_num;

/// The elements of `t` as `T`, checked against its shape.
pub(super) fn elems<'a, T: Elem>(t: &'a Tensor, name: &str) -> OpResult<&'a [T]> {
    let v = T::of(&t.data)
        .ok_or_else(|| format!("input {name} is {}, expected {}", t.dtype(), T::NAME))?;
    if count(&t.shape)? != v.len() {
        return Err(format!(
            "input {name} has {} elements for shape {:?}",
            v.len(),
            t.shape
        ));
    }
    Ok(v)
}

pub(super) fn tensor<T: Elem>(shape: Vec<usize>, v: Vec<T>) -> OpResult<Tensor> {
    Tensor::new(shape, T::wrap(v))
}

/// An empty tensor of `x`'s element type: the result of any operator whose output has no
/// elements, returned before computing offsets that huge dimensions beside a 0 could overflow.
pub(super) fn empty_like(x: &Tensor, shape: Vec<usize>) -> OpResult<Tensor> {
    with_elem!(&x.data, T => tensor(shape, Vec::<T>::new()))
}

/// The same elements under another shape (Reshape and its kin).
pub(super) fn same_data(x: &Tensor, shape: Vec<usize>) -> OpResult<Tensor> {
    alloc_len_of(&x.shape, x.dtype())?;
    Tensor::new(shape, x.data.clone())
}

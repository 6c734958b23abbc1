//! Cast and CastLike between the element types of the lite engine.

use super::super::f16;
use super::super::tensor::{alloc_len_of, Data, OpResult, Tensor, TYPES};
use super::elementwise::*;
use super::{input, Builder, NodeCtx, Op};
use crate::onnx_types::dtype_from_onnx;
use crate::tensor::DType;

pub(super) const OPS: &[(&str, Builder)] = &[("Cast", build_cast), ("CastLike", build_cast_like)];

// ---------------------------------------------------------------------------------------------
// Cast

/// The elements of `$d` converted with `as` to the number type `$t` (bool as 0 or 1).
macro_rules! convert {
    ($d:expr, $t:ty) => {
        match $d {
            Data::F32(v) => map(v, |x| x as $t),
            Data::I64(v) => map(v, |x| x as $t),
            Data::I32(v) => map(v, |x| x as $t),
            Data::U8(v) => map(v, |x| x as $t),
            Data::I8(v) => map(v, |x| x as $t),
            Data::Bool(v) => map(v, |x| u8::from(x) as $t),
            Data::Str(_) => return Err(FROM_STRING.into()),
        }
    };
}

/// Strings are labels and categories in the lite build: parsing numbers would take the float
/// parser's tables into the module.
const FROM_STRING: &str = "Cast from string is not in the lite build";

/// `t` converted to `to`, one of the lite engine's types: floats truncate toward zero and
/// saturate into integers (NaN becomes 0), integers wrap, non-zero is true; float16 is float32
/// rounded to float16's precision and range.
#[allow(clippy::unnecessary_cast)]
fn cast(t: &Tensor, to: DType) -> OpResult<Tensor> {
    if to == DType::Float16 {
        let mut t = cast(t, DType::Float32)?;
        if let Data::F32(v) = &mut t.data {
            v.iter_mut().for_each(|x| *x = f16::round(*x));
        }
        return Ok(t);
    }
    alloc_len_of(&t.shape, to)?;
    if t.dtype() == to {
        return Ok(t.clone());
    }
    let d = &t.data;
    let data = match to {
        DType::Float32 => Data::F32(convert!(d, f32)),
        DType::Int64 => Data::I64(convert!(d, i64)),
        DType::Int32 => Data::I32(convert!(d, i32)),
        DType::Uint8 => Data::U8(convert!(d, u8)),
        DType::Int8 => Data::I8(convert!(d, i8)),
        DType::Bool => Data::Bool(match d {
            Data::F32(v) => map(v, |x| x != 0.0),
            Data::I64(v) => map(v, |x| x != 0),
            Data::I32(v) => map(v, |x| x != 0),
            Data::U8(v) => map(v, |x| x != 0),
            Data::I8(v) => map(v, |x| x != 0),
            Data::Bool(v) => v.clone(),
            Data::Str(_) => return Err(FROM_STRING.into()),
        }),
        other => return Err(format!("cannot cast to {other} in the lite build")),
    };
    Ok(Tensor {
        shape: t.shape.clone(),
        data,
    })
}

/// Cast to the type of attribute `to`.
struct Cast {
    to: DType,
}

fn build_cast(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    if !ctx.has("to") {
        return Err("the attribute 'to' is missing".into());
    }
    let to = match ctx.int("to", 0) {
        1 => DType::Float32,
        10 => DType::Float16,
        2 => DType::Uint8,
        3 => DType::Int8,
        6 => DType::Int32,
        7 => DType::Int64,
        9 => DType::Bool,
        8 => return Err("Cast to string is not in the lite build".into()),
        code => {
            return Err(match i32::try_from(code).ok().and_then(dtype_from_onnx) {
                Some(d) => format!("Cast to {d} is not in the lite build (it has {TYPES})"),
                None => format!(
                    "to is {code}, an ONNX element type the lite build does not compute with \
                     (it has {TYPES})"
                ),
            })
        }
    };
    Ok(Box::new(Cast { to }))
}

impl Op for Cast {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        Ok(vec![cast(input(inputs, 0, "input")?, self.to)?])
    }
}

/// CastLike: Cast to the type of input 1.
struct CastLike;

fn build_cast_like(_ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(CastLike))
}

impl Op for CastLike {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let t = input(inputs, 0, "input")?;
        let like = input(inputs, 1, "target_type")?;
        Ok(vec![cast(t, like.dtype())?])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn casts_saturate_and_wrap() {
        let x = f(&[5], &[f32::NAN, 1e20, -1e20, -2.7, 0.0]);
        let to = |code| vec![int("to", code)];
        let out = eval("Cast", to(7), &[&x]).unwrap();
        assert_eq!(out, i(&[5], &[0, i64::MAX, i64::MIN, -2, 0]));
        let out = eval("Cast", to(9), &[&x]).unwrap();
        assert_eq!(out.data, Data::Bool(vec![true, true, true, true, false]));
        let out = eval("Cast", to(3), &[&i(&[2], &[300, -129])]).unwrap();
        assert_eq!(out.data, Data::I8(vec![44, 127]));
        let b = Tensor::bool(vec![2], vec![true, false]);
        let out = eval("CastLike", vec![], &[&b, &f(&[], &[0.0])]).unwrap();
        assert_eq!(out, f(&[2], &[1.0, 0.0]));
    }

    #[test]
    fn a_cast_to_float16_rounds_to_its_precision_and_range() {
        let x = f(&[5], &[1.0 + 1.0 / 4096.0, 0.1, 70000.0, -1e-9, 3.0]);
        let out = eval("Cast", vec![int("to", 10)], &[&x]).unwrap();
        let want = [1.0, 0.099_975_586, f32::INFINITY, -0.0, 3.0];
        assert_eq!(out.as_f32().unwrap(), want);
        let n = eval("Cast", vec![int("to", 10)], &[&i(&[1], &[2049])]).unwrap();
        assert_eq!(n.as_f32().unwrap(), [2048.0]);
    }
}

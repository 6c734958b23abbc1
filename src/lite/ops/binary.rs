//! Element-wise operators of two or more inputs, with numpy (multidirectional) broadcasting:
//! arithmetic (Add, Sub, Mul, Div, Mod, PRelu, Pow), Max, Min, Sum and Mean, comparisons, logic
//! and Where.

use super::super::tensor::{Data, OpResult, Tensor};
use super::elementwise::*;
use super::{input, Builder, NodeCtx, Op};
use crate::tensor::DType;

pub(super) const OPS: &[(&str, Builder)] = &[
    ("Add", build_binary),
    ("Sub", build_binary),
    ("Mul", build_binary),
    ("Div", build_binary),
    ("Mod", build_binary),
    ("PRelu", build_binary),
    ("Pow", build_pow),
    ("Max", build_variadic),
    ("Min", build_variadic),
    ("Sum", build_variadic),
    ("Mean", build_variadic),
    ("Equal", build_compare),
    ("Less", build_compare),
    ("Greater", build_compare),
    ("LessOrEqual", build_compare),
    ("GreaterOrEqual", build_compare),
    ("And", build_logic),
    ("Or", build_logic),
    ("Xor", build_logic),
    ("Where", build_where),
];

// ---------------------------------------------------------------------------------------------
// Arithmetic

/// A binary arithmetic operator on numbers of one type.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    /// Mod with `fmod` 0: the remainder has the divisor's sign.
    Mod,
    /// Mod with `fmod` 1: the remainder has the dividend's sign.
    Fmod,
    Max,
    Min,
    /// `x < 0 ? x * slope : x`.
    PRelu,
}

#[inline(always)]
fn prelu<T: Num>(x: T, slope: T) -> T {
    if x < T::ZERO {
        x.mul(slope)
    } else {
        x
    }
}

fn arith<T: Num>(
    op: Arith,
    a: &[T],
    ash: &[usize],
    b: &[T],
    bsh: &[usize],
) -> OpResult<(Vec<usize>, Vec<T>)> {
    let divides = matches!(op, Arith::Div | Arith::Mod | Arith::Fmod);
    // Every element of `b` is used unless the result is empty, which `a` being empty implies.
    if T::INT && divides && !a.is_empty() && b.contains(&T::ZERO) {
        return Err("integer division by zero".into());
    }
    match op {
        Arith::Add => zip_with(a, ash, b, bsh, T::add),
        Arith::Sub => zip_with(a, ash, b, bsh, T::sub),
        Arith::Mul => zip_with(a, ash, b, bsh, T::mul),
        Arith::Div => zip_with(a, ash, b, bsh, T::div),
        Arith::Mod => zip_with(a, ash, b, bsh, T::modulo),
        Arith::Fmod => zip_with(a, ash, b, bsh, T::fmod),
        Arith::Max => zip_with(a, ash, b, bsh, T::max_of),
        Arith::Min => zip_with(a, ash, b, bsh, T::min_of),
        Arith::PRelu => zip_with(a, ash, b, bsh, prelu),
    }
}

/// `op` on two tensors of the same numeric type, broadcast together.
fn arith_tensors(op: Arith, a: &Tensor, b: &Tensor) -> OpResult<Tensor> {
    let (sa, sb) = (&a.shape[..], &b.shape[..]);
    let (shape, data) = match (&a.data, &b.data) {
        (Data::F32(x), Data::F32(y)) => {
            let (s, v) = arith(op, x, sa, y, sb)?;
            (s, Data::F32(v))
        }
        (Data::I64(x), Data::I64(y)) => {
            let (s, v) = arith(op, x, sa, y, sb)?;
            (s, Data::I64(v))
        }
        (Data::I32(x), Data::I32(y)) => {
            let (s, v) = arith(op, x, sa, y, sb)?;
            (s, Data::I32(v))
        }
        (Data::I8(_), Data::I8(_)) | (Data::U8(_), Data::U8(_)) => {
            let (s, v) = arith(op, &widen(&a.data), sa, &widen(&b.data), sb)?;
            (s, narrow(v, a.dtype() == DType::Int8))
        }
        (Data::Bool(_), Data::Bool(_)) => {
            return Err("the inputs are bool, expected numbers".into())
        }
        _ => return Err(types_differ("the inputs", a, b)),
    };
    Ok(Tensor { shape, data })
}

/// Add, Sub, Mul, Div, Mod and PRelu.
struct Binary {
    op: Arith,
}

fn build_binary(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    if ctx.opset < 7 && ctx.has("axis") {
        return Err("the legacy broadcast along an axis (before opset 7) is not supported".into());
    }
    let op = match ctx.op_type {
        "Add" => Arith::Add,
        "Sub" => Arith::Sub,
        "Mul" => Arith::Mul,
        "Div" => Arith::Div,
        "Mod" => match ctx.int("fmod", 0) {
            0 => Arith::Mod,
            1 => Arith::Fmod,
            v => return Err(format!("fmod is {v}, expected 0 or 1")),
        },
        "PRelu" => Arith::PRelu,
        other => return Err(format!("internal: {other} is not a binary operator")),
    };
    Ok(Box::new(Binary { op }))
}

impl Op for Binary {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        if self.op == Arith::PRelu {
            let x = input(inputs, 0, "X")?;
            let slope = input(inputs, 1, "slope")?;
            let out = arith_tensors(self.op, x, slope)?;
            if out.shape != x.shape {
                return Err(format!(
                    "slope of shape {:?} does not broadcast to X's shape {:?}",
                    slope.shape, x.shape
                ));
            }
            return Ok(vec![out]);
        }
        let a = input(inputs, 0, "A")?;
        let b = input(inputs, 1, "B")?;
        Ok(vec![arith_tensors(self.op, a, b)?])
    }
}

/// Pow: the base's type out, the exponent of any numeric type.
struct Pow;

fn build_pow(_ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Pow))
}

/// Integer bases raised to the exponents `y` (integers exactly, floats through f64).
fn int_pow<T: Num>(a: &[T], ash: &[usize], y: &Tensor) -> OpResult<(Vec<usize>, Vec<T>)> {
    match &y.data {
        Data::F32(e) => zip_with(a, ash, e, &y.shape, T::powf),
        Data::I64(e) => zip_with(a, ash, e, &y.shape, T::powi),
        _ => zip_with(a, ash, &y.to_i64s()?, &y.shape, T::powi),
    }
}

impl Op for Pow {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        let y = input(inputs, 1, "Y")?;
        if matches!(y.dtype(), DType::Bool | DType::String) {
            return Err(format!("input Y is {}, expected a number", y.dtype()));
        }
        let (shape, data) = match (&x.data, &y.data) {
            (Data::F32(a), Data::F32(e)) => {
                let (s, v) = zip_with(a, &x.shape, e, &y.shape, f32::powf)?;
                (s, Data::F32(v))
            }
            (Data::F32(a), _) => {
                let (s, v) = zip_with(a, &x.shape, &y.to_f32s(), &y.shape, f32::powf)?;
                (s, Data::F32(v))
            }
            (Data::I64(a), _) => {
                let (s, v) = int_pow(a, &x.shape, y)?;
                (s, Data::I64(v))
            }
            (Data::I32(a), _) => {
                let (s, v) = int_pow(a, &x.shape, y)?;
                (s, Data::I32(v))
            }
            (Data::I8(_) | Data::U8(_) | Data::Str(_), _) => {
                let (s, v) = int_pow(&widen(&x.data), &x.shape, y)?;
                (s, narrow(v, x.dtype() == DType::Int8))
            }
            (Data::Bool(_), _) => return Err("input X is bool, expected a number".into()),
        };
        Ok(vec![Tensor { shape, data }])
    }
}

/// Max, Min, Sum and Mean: any number of inputs, broadcast together.
struct Variadic {
    op: Arith,
    mean: bool,
}

fn build_variadic(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let (op, mean) = match ctx.op_type {
        "Max" => (Arith::Max, false),
        "Min" => (Arith::Min, false),
        "Sum" => (Arith::Add, false),
        "Mean" => (Arith::Add, true),
        other => return Err(format!("internal: {other} is not a variadic operator")),
    };
    Ok(Box::new(Variadic { op, mean }))
}

impl Op for Variadic {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let first = input(inputs, 0, "data_0")?;
        let mut acc: Option<Tensor> = None;
        for i in 1..inputs.len() {
            let t = inputs
                .get(i)
                .copied()
                .flatten()
                .ok_or_else(|| format!("input {i} is missing"))?;
            acc = Some(arith_tensors(self.op, acc.as_ref().unwrap_or(first), t)?);
        }
        let mut out = acc.unwrap_or_else(|| first.clone());
        if self.mean {
            let Data::F32(v) = &mut out.data else {
                return Err(format!("the inputs are {}, expected float32", out.dtype()));
            };
            let n = inputs.len() as f32;
            v.iter_mut().for_each(|e| *e /= n);
        } else if out.dtype() == DType::Bool {
            return Err("the inputs are bool, expected numbers".into());
        }
        Ok(vec![out])
    }
}

// ---------------------------------------------------------------------------------------------
// Comparisons and logic

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cmp {
    Eq,
    Lt,
    Le,
}

/// Equal, Less, LessOrEqual, and Greater and GreaterOrEqual as the latter two with the inputs
/// swapped (`swap`): a bool tensor.
struct Compare {
    cmp: Cmp,
    swap: bool,
}

fn build_compare(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let (cmp, swap) = match ctx.op_type {
        "Equal" => (Cmp::Eq, false),
        "Less" => (Cmp::Lt, false),
        "LessOrEqual" => (Cmp::Le, false),
        "Greater" => (Cmp::Lt, true),
        "GreaterOrEqual" => (Cmp::Le, true),
        other => return Err(format!("internal: {other} is not a comparison")),
    };
    Ok(Box::new(Compare { cmp, swap }))
}

fn compare<T: Elem>(
    cmp: Cmp,
    a: &[T],
    ash: &[usize],
    b: &[T],
    bsh: &[usize],
) -> OpResult<(Vec<usize>, Vec<bool>)> {
    match cmp {
        Cmp::Eq => zip_with(a, ash, b, bsh, |x, y| x == y),
        Cmp::Lt => zip_with(a, ash, b, bsh, |x, y| x < y),
        Cmp::Le => zip_with(a, ash, b, bsh, |x, y| x <= y),
    }
}

impl Op for Compare {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let a = input(inputs, 0, "A")?;
        let b = input(inputs, 1, "B")?;
        let (a, b) = if self.swap { (b, a) } else { (a, b) };
        let (shape, v) = same_type!("the inputs", a, b, |x, y| compare(
            self.cmp, x, &a.shape, y, &b.shape
        )?);
        Ok(vec![Tensor::bool(shape, v)])
    }
}

/// And, Or and Xor on bool tensors.
#[derive(Clone, Copy)]
enum Logic {
    And,
    Or,
    Xor,
}

fn build_logic(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(match ctx.op_type {
        "And" => Logic::And,
        "Or" => Logic::Or,
        "Xor" => Logic::Xor,
        other => return Err(format!("internal: {other} is not a logical operator")),
    }))
}

impl Op for Logic {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let a = input(inputs, 0, "A")?;
        let b = input(inputs, 1, "B")?;
        let (Data::Bool(x), Data::Bool(y)) = (&a.data, &b.data) else {
            return Err(format!(
                "the inputs are {} and {}, expected bool",
                a.dtype(),
                b.dtype()
            ));
        };
        let (sa, sb) = (&a.shape[..], &b.shape[..]);
        let (shape, v) = match self {
            Logic::And => zip_with(x, sa, y, sb, |p, q| p & q)?,
            Logic::Or => zip_with(x, sa, y, sb, |p, q| p | q)?,
            Logic::Xor => zip_with(x, sa, y, sb, |p, q| p ^ q)?,
        };
        Ok(vec![Tensor::bool(shape, v)])
    }
}

/// Where: X where the condition holds, else Y, the three broadcast together.
struct Where;

fn build_where(_ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Where))
}

impl Op for Where {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let c = input(inputs, 0, "condition")?;
        let x = input(inputs, 1, "X")?;
        let y = input(inputs, 2, "Y")?;
        let Data::Bool(cv) = &c.data else {
            return Err(format!("input condition is {}, expected bool", c.dtype()));
        };
        let (shape, data) = same_type!("X and Y", x, y, |xv, yv| {
            let (s, v) = where_select(cv, &c.shape, xv, &x.shape, yv, &y.shape)?;
            (s, Elem::wrap(v))
        });
        Ok(vec![Tensor { shape, data }])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn i32s(shape: &[usize], v: &[i32]) -> Tensor {
        Tensor {
            shape: shape.to_vec(),
            data: Data::I32(v.to_vec()),
        }
    }

    #[test]
    fn integer_division_by_zero_is_an_error() {
        for op in ["Div", "Mod"] {
            let e = eval(op, vec![], &[&i(&[2], &[1, 2]), &i(&[1], &[0])]).unwrap_err();
            assert!(e.contains("division by zero"), "{e}");
        }
        let e = eval(
            "Mod",
            vec![int("fmod", 1)],
            &[&i32s(&[1], &[5]), &i32s(&[1], &[0])],
        );
        assert!(e.is_err());
        // Nothing is divided when the result is empty.
        let empty = eval("Div", vec![], &[&i(&[0], &[]), &i(&[1], &[0])]).unwrap();
        assert_eq!(empty.shape, vec![0]);
        // Float division by zero is IEEE.
        let inf = eval("Div", vec![], &[&f(&[1], &[1.0]), &f(&[1], &[0.0])]).unwrap();
        assert_eq!(inf.as_f32().unwrap(), &[f32::INFINITY]);
    }

    #[test]
    fn integer_overflow_wraps() {
        let min = i(&[1], &[i64::MIN]);
        let m1 = i(&[1], &[-1]);
        assert_eq!(eval("Div", vec![], &[&min, &m1]).unwrap(), min);
        assert_eq!(eval("Mod", vec![], &[&min, &m1]).unwrap(), i(&[1], &[0]));
        let fmod = vec![int("fmod", 1)];
        assert_eq!(eval("Mod", fmod, &[&min, &m1]).unwrap(), i(&[1], &[0]));
        assert_eq!(eval("Mul", vec![], &[&min, &m1]).unwrap(), min);
        assert_eq!(eval("Neg", vec![], &[&min]).unwrap(), min);
        assert_eq!(eval("Abs", vec![], &[&min]).unwrap(), min);
        let q = eval("Div", vec![], &[&i32s(&[2], &[-7, 7]), &i32s(&[1], &[2])]).unwrap();
        assert_eq!(q, i32s(&[2], &[-3, 3]));
        let big = i(&[4], &[2, 0, -1, 1]);
        let pow = eval("Pow", vec![], &[&big, &i(&[1], &[i64::MAX])]).unwrap();
        assert_eq!(pow.as_i64().unwrap()[1..], [0, -1, 1]);
        let neg = eval("Pow", vec![], &[&big, &i(&[1], &[-3])]).unwrap();
        assert_eq!(neg, i(&[4], &[0, 0, -1, 1]));
        let nan = eval("Pow", vec![], &[&big, &f(&[1], &[f32::NAN])]).unwrap();
        // 1 to any power is 1, even NaN.
        assert_eq!(nan, i(&[4], &[0, 0, 0, 1]));
    }

    #[test]
    fn narrow_integers_wrap_like_their_type() {
        let a = Tensor {
            shape: vec![3],
            data: Data::I8(vec![-128, 100, -7]),
        };
        let b = Tensor {
            shape: vec![1],
            data: Data::I8(vec![-1]),
        };
        let q = eval("Div", vec![], &[&a, &b]).unwrap();
        assert_eq!(q.data, Data::I8(vec![-128, -100, 7]));
        let u = Tensor {
            shape: vec![2],
            data: Data::U8(vec![250, 3]),
        };
        let s = eval("Add", vec![], &[&u, &u]).unwrap();
        assert_eq!(s.data, Data::U8(vec![244, 6]));
    }
}

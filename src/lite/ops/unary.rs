//! Element-wise unary operators: activations, rounding and other maps (Relu ... Sign), the
//! tests IsNaN, IsInf and Not, and Clip.

use super::super::tensor::{Data, OpResult, Tensor};
use super::elementwise::*;
use super::{input, Builder, NodeCtx, Op};
use crate::tensor::DType;

pub(super) const OPS: &[(&str, Builder)] = &[
    ("Relu", build_unary),
    ("Sigmoid", build_unary),
    ("Tanh", build_unary),
    ("Exp", build_unary),
    ("Log", build_unary),
    ("Sqrt", build_unary),
    ("Neg", build_unary),
    ("Abs", build_unary),
    ("Reciprocal", build_unary),
    ("Floor", build_unary),
    ("Ceil", build_unary),
    ("Round", build_unary),
    ("Erf", build_unary),
    ("Sin", build_unary),
    ("Cos", build_unary),
    ("Softplus", build_unary),
    ("Softsign", build_unary),
    ("Elu", build_unary),
    ("Selu", build_unary),
    ("Celu", build_unary),
    ("LeakyRelu", build_unary),
    ("ThresholdedRelu", build_unary),
    ("HardSigmoid", build_unary),
    ("HardSwish", build_unary),
    ("Gelu", build_unary),
    ("Mish", build_unary),
    ("Sign", build_unary),
    ("IsNaN", build_test),
    ("IsInf", build_test),
    ("Not", build_test),
    ("Clip", build_clip),
];

// ---------------------------------------------------------------------------------------------
// Unary maps

/// A unary operator on float32 (Neg, Abs, Sign and Relu also on the integer types).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Map {
    Relu,
    Sigmoid,
    Tanh,
    Exp,
    Log,
    Sqrt,
    Neg,
    Abs,
    Reciprocal,
    Floor,
    Ceil,
    Round,
    Erf,
    Sin,
    Cos,
    Softplus,
    Softsign,
    Elu(f32),
    /// alpha, gamma
    Selu(f32, f32),
    Celu(f32),
    LeakyRelu(f32),
    ThresholdedRelu(f32),
    /// alpha, beta
    HardSigmoid(f32, f32),
    HardSwish,
    Gelu,
    GeluTanh,
    Mish,
    Sign,
}

/// The error function as Eigen and XLA compute it in float32: x·P(x²)/Q(x²) on [-4, 4], ±1 from
/// 3.92 (where erf rounds to ±1), within 5e-7 of the exact value. The Horner steps are written
/// out: at opt-level "z" a loop over a table of coefficients is not unrolled and runs 4x slower.
#[inline(always)]
fn erf(x: f32) -> f32 {
    // clamp keeps NaN.
    let x = x.clamp(-4.0, 4.0);
    let z = x * x;
    let p = -2.726_142_3e-10_f32;
    let p = p * z + 2.770_681_4e-8;
    let p = p * z - 2.101_024e-6;
    let p = p * z - 5.692_506_4e-5;
    let p = p * z - 7.349_906_3e-4;
    let p = p * z - 2.954_6e-3;
    let p = p * z - 1.609_603_3e-2;
    let q = -1.456_607_2e-5_f32;
    let q = q * z - 2.133_740_6e-4;
    let q = q * z - 1.682_827e-3;
    let q = q * z - 7.373_329e-3;
    let q = q * z - 1.426_474e-2;
    if x.abs() >= 3.92 {
        1f32.copysign(x)
    } else {
        x * p / q
    }
}

/// tanh as Eigen computes it in float32: x·P(x²)/Q(x²) on [-7.9, 7.9], x itself below 4e-4, ±1
/// from 9 (where tanh rounds to ±1); within 4e-7 of the exact value and about twice as fast as
/// `f32::tanh`.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let c = x.clamp(-7.905_311, 7.905_311);
    let z = c * c;
    let p = -2.760_768_5e-16_f32;
    let p = p * z + 2.000_188e-13;
    let p = p * z - 8.604_672e-11;
    let p = p * z + 5.122_297e-8;
    let p = p * z + 1.485_722_4e-5;
    let p = p * z + 6.372_619e-4;
    let p = p * z + 4.893_524_6e-3;
    let q = 1.198_258_4e-6_f32;
    let q = q * z + 1.185_347e-4;
    let q = q * z + 2.268_434_6e-3;
    let q = q * z + 4.893_525e-3;
    let a = x.abs();
    if a < 4e-4 {
        x
    } else if a >= 9.0 {
        1f32.copysign(x)
    } else {
        c * p / q
    }
}

/// `v` clamped to [0, 1], NaN kept.
#[inline(always)]
fn unit(v: f32) -> f32 {
    v.clamp(0.0, 1.0)
}

/// ln(1 + e^x) without overflow.
#[inline(always)]
fn softplus(x: f32) -> f32 {
    let m = if x > 0.0 { x } else { 0.0 };
    m + (-x.abs()).exp().ln_1p()
}

fn map_f32(m: Map, x: &[f32]) -> Vec<f32> {
    use std::f32::consts::{FRAC_1_SQRT_2, FRAC_2_PI};
    match m {
        Map::Relu => map(x, |v| if v < 0.0 { 0.0 } else { v }),
        Map::Sigmoid => map(x, |v| 1.0 / (1.0 + (-v).exp())),
        Map::Tanh => map(x, tanh),
        Map::Exp => map(x, f32::exp),
        Map::Log => map(x, f32::ln),
        Map::Sqrt => map(x, f32::sqrt),
        Map::Neg => map(x, |v| -v),
        Map::Abs => map(x, f32::abs),
        Map::Reciprocal => map(x, |v| 1.0 / v),
        Map::Floor => map(x, f32::floor),
        Map::Ceil => map(x, f32::ceil),
        Map::Round => map(x, f32::round_ties_even),
        Map::Erf => map(x, erf),
        Map::Sin => map(x, f32::sin),
        Map::Cos => map(x, f32::cos),
        Map::Softplus => map(x, softplus),
        Map::Softsign => map(x, |v| v / (1.0 + v.abs())),
        Map::Elu(a) => map(x, |v| if v < 0.0 { a * v.exp_m1() } else { v }),
        Map::Selu(a, g) => map(x, |v| {
            if v <= 0.0 {
                g * (a * v.exp() - a)
            } else {
                g * v
            }
        }),
        Map::Celu(a) => map(x, |v| if v < 0.0 { a * (v / a).exp_m1() } else { v }),
        Map::LeakyRelu(a) => map(x, |v| if v < 0.0 { v * a } else { v }),
        Map::ThresholdedRelu(a) => map(x, |v| if v > a { v } else { 0.0 }),
        Map::HardSigmoid(a, b) => map(x, |v| unit(a * v + b)),
        Map::HardSwish => map(x, |v| v * unit(v * (1.0 / 6.0) + 0.5)),
        Map::Gelu => map(x, |v| 0.5 * v * (1.0 + erf(v * FRAC_1_SQRT_2))),
        Map::GeluTanh => {
            let k = FRAC_2_PI.sqrt();
            map(x, |v| {
                0.5 * v * (1.0 + tanh(k * (v + 0.044_715 * v * v * v)))
            })
        }
        Map::Mish => map(x, |v| v * tanh(softplus(v))),
        Map::Sign => map(x, Num::sign),
    }
}

/// The integer form of `m`, `None` when it has none.
fn map_int<T: Num>(m: Map, x: &[T]) -> Option<Vec<T>> {
    Some(match m {
        Map::Neg => map(x, T::neg),
        Map::Abs => map(x, T::abs),
        Map::Sign => map(x, T::sign),
        Map::Relu => map(x, |v| if v < T::ZERO { T::ZERO } else { v }),
        _ => return None,
    })
}

struct Unary {
    map: Map,
}

fn build_unary(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let f = |name: &str, default: f32| ctx.float(name, default);
    let map = match ctx.op_type {
        "Relu" => Map::Relu,
        "Sigmoid" => Map::Sigmoid,
        "Tanh" => Map::Tanh,
        "Exp" => Map::Exp,
        "Log" => Map::Log,
        "Sqrt" => Map::Sqrt,
        "Neg" => Map::Neg,
        "Abs" => Map::Abs,
        "Reciprocal" => Map::Reciprocal,
        "Floor" => Map::Floor,
        "Ceil" => Map::Ceil,
        "Round" => Map::Round,
        "Erf" => Map::Erf,
        "Sin" => Map::Sin,
        "Cos" => Map::Cos,
        "Softplus" => Map::Softplus,
        "Softsign" => Map::Softsign,
        "Elu" => Map::Elu(f("alpha", 1.0)),
        "Selu" => Map::Selu(f("alpha", 1.673_263_2), f("gamma", 1.050_701)),
        "Celu" => {
            let a = f("alpha", 1.0);
            if a == 0.0 || !a.is_finite() {
                return Err(format!("alpha is {a}, expected a finite non-zero value"));
            }
            Map::Celu(a)
        }
        "LeakyRelu" => Map::LeakyRelu(f("alpha", 0.01)),
        "ThresholdedRelu" => Map::ThresholdedRelu(f("alpha", 1.0)),
        "HardSigmoid" => Map::HardSigmoid(f("alpha", 0.2), f("beta", 0.5)),
        "HardSwish" => Map::HardSwish,
        "Gelu" => match ctx.string("approximate").as_deref() {
            None | Some("none") => Map::Gelu,
            Some("tanh") => Map::GeluTanh,
            Some(other) => {
                return Err(format!(
                    "approximate is '{other}', expected 'none' or 'tanh'"
                ))
            }
        },
        "Mish" => Map::Mish,
        "Sign" => Map::Sign,
        other => return Err(format!("internal: {other} is not a unary operator")),
    };
    Ok(Box::new(Unary { map }))
}

impl Op for Unary {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        let m = self.map;
        let data = match &x.data {
            Data::F32(v) => Some(Data::F32(map_f32(m, v))),
            Data::I64(v) => map_int(m, v).map(Data::I64),
            Data::I32(v) => map_int(m, v).map(Data::I32),
            Data::I8(_) | Data::U8(_) => {
                map_int(m, &widen(&x.data)).map(|v| narrow(v, x.dtype() == DType::Int8))
            }
            Data::Bool(_) | Data::Str(_) => None,
        };
        let data = data.ok_or_else(|| {
            let ints = if map_int(m, &[0i32]).is_some() {
                " or an integer type"
            } else {
                ""
            };
            format!("input X is {}, expected float32{ints}", x.dtype())
        })?;
        Ok(vec![Tensor {
            shape: x.shape.clone(),
            data,
        }])
    }
}

/// IsNaN, IsInf (with which infinities it detects) and Not: a test of each element.
#[derive(Clone, Copy)]
enum Test {
    IsNaN,
    IsInf { neg: bool, pos: bool },
    Not,
}

fn build_test(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(match ctx.op_type {
        "IsNaN" => Test::IsNaN,
        "IsInf" => Test::IsInf {
            neg: ctx.int("detect_negative", 1) != 0,
            pos: ctx.int("detect_positive", 1) != 0,
        },
        "Not" => Test::Not,
        other => return Err(format!("internal: {other} is not a test")),
    }))
}

impl Op for Test {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        let v = match (*self, &x.data) {
            (Test::IsNaN, Data::F32(v)) => map(v, f32::is_nan),
            (Test::IsInf { neg, pos }, Data::F32(v)) => map(v, |e| {
                (pos && e == f32::INFINITY) || (neg && e == f32::NEG_INFINITY)
            }),
            // Integers are never NaN or infinite.
            (Test::IsNaN | Test::IsInf { .. }, Data::I64(_) | Data::I32(_) | Data::I8(_))
            | (Test::IsNaN | Test::IsInf { .. }, Data::U8(_)) => vec![false; x.len()],
            (Test::Not, Data::Bool(v)) => map(v, |b| !b),
            (Test::Not, _) => return Err(format!("input X is {}, expected bool", x.dtype())),
            _ => return Err(format!("input X is {}, expected float32", x.dtype())),
        };
        Ok(vec![Tensor::bool(x.shape.clone(), v)])
    }
}

// ---------------------------------------------------------------------------------------------
// Clip

/// Clip: min and max from attributes (before opset 11) or from optional scalar inputs 1 and 2.
struct Clip {
    attrs: Option<(f32, f32)>,
}

fn build_clip(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let attrs = (ctx.opset < 11).then(|| {
        (
            ctx.float("min", f32::NEG_INFINITY),
            ctx.float("max", f32::INFINITY),
        )
    });
    if attrs.is_none() {
        for (i, name) in [(1, "min"), (2, "max")] {
            if let Some(t) = ctx.consts.get(i).copied().flatten() {
                if t.len() != 1 {
                    return Err(format!(
                        "input {name} has shape {:?}, expected a scalar",
                        t.shape
                    ));
                }
            }
        }
    }
    Ok(Box::new(Clip { attrs }))
}

/// The optional scalar bound `i` (min or max) of Clip, of X's type, or `default`.
fn bound<T: Elem>(inputs: &[Option<&Tensor>], i: usize, x: &Tensor, default: T) -> OpResult<T> {
    let name = if i == 1 { "min" } else { "max" };
    let Some(t) = inputs.get(i).copied().flatten() else {
        return Ok(default);
    };
    if t.dtype() != x.dtype() {
        return Err(types_differ(&format!("input and {name}"), x, t));
    }
    match T::slice(&t.data) {
        Some([v]) => Ok(*v),
        _ => Err(format!(
            "input {name} has shape {:?}, expected a scalar",
            t.shape
        )),
    }
}

/// `v` clamped to `[lo, hi]` (`hi` when `lo > hi`, like numpy; NaN kept).
fn clamp_all<T: Elem>(v: &[T], lo: T, hi: T) -> Vec<T> {
    map(v, |e| {
        let e = if e < lo { lo } else { e };
        if e > hi {
            hi
        } else {
            e
        }
    })
}

fn clip<T: Elem>(inputs: &[Option<&Tensor>], x: &Tensor, v: &[T]) -> OpResult<Data> {
    let lo = bound(inputs, 1, x, T::LOWEST)?;
    let hi = bound(inputs, 2, x, T::HIGHEST)?;
    Ok(T::wrap(clamp_all(v, lo, hi)))
}

impl Op for Clip {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let data = match (&x.data, self.attrs) {
            (Data::F32(v), Some((lo, hi))) => Data::F32(clamp_all(v, lo, hi)),
            (_, Some(_)) => {
                return Err(format!(
                    "input is {}, expected float32 before opset 11",
                    x.dtype()
                ))
            }
            (Data::F32(v), None) => clip(inputs, x, v)?,
            (Data::I64(v), None) => clip(inputs, x, v)?,
            (Data::I32(v), None) => clip(inputs, x, v)?,
            (Data::I8(v), None) => clip(inputs, x, v)?,
            (Data::U8(v), None) => clip(inputs, x, v)?,
            (Data::Bool(_) | Data::Str(_), None) => {
                return Err(format!("input is {}, expected a number", x.dtype()))
            }
        };
        Ok(vec![Tensor {
            shape: x.shape.clone(),
            data,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn clip_bounds_are_checked() {
        let x = f(&[3], &[-2.0, 0.5, 2.0]);
        let lo = f(&[], &[-1.0]);
        let hi = f(&[], &[1.0]);
        let out = eval("Clip", vec![], &[&x, &lo, &hi]).unwrap();
        assert_eq!(out, f(&[3], &[-1.0, 0.5, 1.0]));
        let two = f(&[2], &[0.0, 1.0]);
        let e = eval("Clip", vec![], &[&x, &two]).unwrap_err();
        assert!(e.contains("scalar"), "{e}");
        assert!(eval("Clip", vec![], &[&x, &i(&[], &[0])]).is_err());
        let e = build("Clip", 13, vec![], &[None, Some(&two)], 1)
            .err()
            .unwrap();
        assert!(e.contains("scalar"), "{e}");
        // Before opset 11 the bounds are attributes.
        let old = build("Clip", 6, vec![], &[None], 1).unwrap();
        let out = old.run(&[Some(&x)]).unwrap().remove(0);
        assert_eq!(out, x);
    }

    /// erf in f64 by its Taylor series (exact enough for |x| <= 4.5).
    fn erf_ref(x: f64) -> f64 {
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_accurate() {
        let mut worst: f64 = 0.0;
        for k in -45_000..=45_000 {
            let x = k as f32 * 1e-4;
            worst = worst.max((erf(x) as f64 - erf_ref(x as f64)).abs());
        }
        assert!(worst < 1e-6, "worst error {worst}");
        assert_eq!(erf(10.0), 1.0);
        assert_eq!(erf(f32::NEG_INFINITY), -1.0);
        assert!(erf(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_is_accurate() {
        let mut worst: f64 = 0.0;
        for k in -100_000..=100_000 {
            let x = k as f32 * 1e-4;
            worst = worst.max((tanh(x) as f64 - (x as f64).tanh()).abs());
        }
        assert!(worst < 1e-6, "worst error {worst}");
        assert_eq!((tanh(100.0), tanh(-1e30)), (1.0, -1.0));
        assert!(tanh(f32::NAN).is_nan());
    }

    #[test]
    fn activations_keep_nan_and_extremes() {
        let x = f(&[4], &[f32::NAN, 100.0, -100.0, 0.0]);
        for op in [
            "Relu",
            "Sigmoid",
            "Softplus",
            "Mish",
            "HardSigmoid",
            "Sign",
            "Clip",
        ] {
            let out = eval(op, vec![], &[&x]).unwrap().into_f32().unwrap();
            assert!(out[0].is_nan(), "{op}");
            assert!(out[1..].iter().all(|v| v.is_finite()), "{op}: {out:?}");
        }
        let sp = eval("Softplus", vec![], &[&f(&[1], &[1000.0])]).unwrap();
        assert_eq!(sp.as_f32().unwrap(), &[1000.0]);
    }
}

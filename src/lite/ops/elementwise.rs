//! Element-wise operators: unary maps (activations, rounding, tests), arithmetic, comparisons and
//! logic with numpy (multidirectional) broadcasting, Where, Clip, Cast and CastLike.
//!
//! Every binary operator goes through [`zip_with`], every ternary one (Where) through
//! [`where_select`], every unary one through [`map`]. Broadcast shapes are collapsed first (axes of
//! size 1 dropped, neighbouring axes that broadcast alike merged), so the common cases (a scalar, a
//! per-channel `[C, 1, 1]`, a trailing `[D]`) become one tight loop over contiguous rows.
//! int8 and uint8 arithmetic is computed in i32 and wrapped back, which gives the same results as
//! wrapping arithmetic in the narrow type.

use super::super::tensor::{broadcast, volume, Data, OpResult, Tensor};
use super::{input, Builder, NodeCtx, Op};
use crate::onnx_types::dtype_from_onnx;
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
    ("Cast", build_cast),
    ("CastLike", build_cast_like),
];

/// A tensor's data that disagrees with its shape (an engine bug, reported rather than a panic).
const INTERNAL: &str = "internal: a tensor's data does not match its shape";

// ---------------------------------------------------------------------------------------------
// Element types

/// An element type of the lite engine.
trait Elem: Copy + PartialOrd + 'static {
    /// The smallest and largest values (the infinities for float32): Clip's defaults.
    const LOWEST: Self;
    const HIGHEST: Self;
    fn wrap(v: Vec<Self>) -> Data;
    /// The elements of `d` if they have this type.
    fn slice(d: &Data) -> Option<&[Self]>;

    /// The larger of two values; NaN when either is NaN.
    #[inline(always)]
    fn max_of(self, o: Self) -> Self {
        #[allow(clippy::eq_op)]
        let nan = self != self;
        if self >= o || nan {
            self
        } else {
            o
        }
    }

    /// The smaller of two values; NaN when either is NaN.
    #[inline(always)]
    fn min_of(self, o: Self) -> Self {
        #[allow(clippy::eq_op)]
        let nan = self != self;
        if self <= o || nan {
            self
        } else {
            o
        }
    }
}

macro_rules! elem {
    ($t:ty, $variant:ident, $lo:expr, $hi:expr) => {
        impl Elem for $t {
            const LOWEST: Self = $lo;
            const HIGHEST: Self = $hi;
            fn wrap(v: Vec<Self>) -> Data {
                Data::$variant(v)
            }
            fn slice(d: &Data) -> Option<&[Self]> {
                match d {
                    Data::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

elem!(f32, F32, f32::NEG_INFINITY, f32::INFINITY);
elem!(i64, I64, i64::MIN, i64::MAX);
elem!(i32, I32, i32::MIN, i32::MAX);
elem!(i8, I8, i8::MIN, i8::MAX);
elem!(u8, U8, u8::MIN, u8::MAX);
elem!(bool, Bool, false, true);

/// The element types arithmetic computes in. Integer operations wrap on overflow; callers check
/// integer divisors for zero.
trait Num: Elem {
    const INT: bool;
    const ZERO: Self;
    const ONE: Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// Division; integer division truncates toward zero.
    fn div(self, o: Self) -> Self;
    /// The remainder with the sign of the dividend (C's fmod).
    fn fmod(self, o: Self) -> Self;
    /// `self` raised to an integer power.
    fn powi(self, e: i64) -> Self;
    /// `self` raised to a float power.
    fn powf(self, e: f32) -> Self;
    fn neg(self) -> Self;
    fn abs(self) -> Self;

    /// The remainder with the sign of the divisor (Python's `%`).
    #[inline(always)]
    fn modulo(self, o: Self) -> Self {
        let r = self.fmod(o);
        if r != Self::ZERO && ((r < Self::ZERO) != (o < Self::ZERO)) {
            r.add(o)
        } else {
            r
        }
    }

    /// -1, 0 or 1 (NaN and -0 kept).
    #[inline(always)]
    fn sign(self) -> Self {
        if self > Self::ZERO {
            Self::ONE
        } else if self < Self::ZERO {
            Self::ZERO.sub(Self::ONE)
        } else {
            self
        }
    }
}

impl Num for f32 {
    const INT: bool = false;
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self + o
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self - o
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self * o
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        self / o
    }
    #[inline(always)]
    fn fmod(self, o: Self) -> Self {
        self % o
    }
    fn powi(self, e: i64) -> Self {
        self.powf(e as f32)
    }
    #[inline(always)]
    fn powf(self, e: f32) -> Self {
        f32::powf(self, e)
    }
    #[inline(always)]
    fn neg(self) -> Self {
        -self
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::abs(self)
    }
}

macro_rules! int_num {
    ($t:ty) => {
        impl Num for $t {
            const INT: bool = true;
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                if o == 0 {
                    0
                } else {
                    self.wrapping_div(o)
                }
            }
            #[inline(always)]
            fn fmod(self, o: Self) -> Self {
                if o == 0 {
                    0
                } else {
                    self.wrapping_rem(o)
                }
            }
            fn powi(self, e: i64) -> Self {
                if e < 0 {
                    // Only 1 and -1 have a non-zero integer part below a negative power.
                    return match self {
                        1 => 1,
                        -1 if e % 2 == 0 => 1,
                        -1 => -1,
                        _ => 0,
                    };
                }
                let (mut base, mut e, mut acc): (Self, u64, Self) = (self, e.unsigned_abs(), 1);
                while e > 0 {
                    if e & 1 == 1 {
                        acc = acc.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    e >>= 1;
                }
                acc
            }
            fn powf(self, e: f32) -> Self {
                // A float saturates into the integer type (NaN becomes 0).
                (self as f64).powf(e as f64) as $t
            }
            #[inline(always)]
            fn neg(self) -> Self {
                self.wrapping_neg()
            }
            #[inline(always)]
            fn abs(self) -> Self {
                self.wrapping_abs()
            }
        }
    };
}

int_num!(i64);
int_num!(i32);

/// int8 or uint8 elements widened to i32, for arithmetic.
fn widen(d: &Data) -> Vec<i32> {
    match d {
        Data::I8(v) => v.iter().map(|&x| i32::from(x)).collect(),
        Data::U8(v) => v.iter().map(|&x| i32::from(x)).collect(),
        _ => vec![],
    }
}

/// i32 results wrapped back into int8 (`signed`) or uint8.
fn narrow(v: Vec<i32>, signed: bool) -> Data {
    if signed {
        Data::I8(v.iter().map(|&x| x as i8).collect())
    } else {
        Data::U8(v.iter().map(|&x| x as u8).collect())
    }
}

fn types_differ(what: &str, a: &Tensor, b: &Tensor) -> String {
    format!(
        "{what} have types {} and {}, which must be the same",
        a.dtype(),
        b.dtype()
    )
}

/// Runs `$body` with `$x` and `$y` bound to the element slices of two tensors of the same type,
/// or returns an error naming the two types.
macro_rules! same_type {
    ($what:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match (&$a.data, &$b.data) {
            (Data::F32($x), Data::F32($y)) => $body,
            (Data::I64($x), Data::I64($y)) => $body,
            (Data::I32($x), Data::I32($y)) => $body,
            (Data::Bool($x), Data::Bool($y)) => $body,
            (Data::U8($x), Data::U8($y)) => $body,
            (Data::I8($x), Data::I8($y)) => $body,
            _ => return Err(types_differ($what, $a, $b)),
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Drivers

/// `f` applied to every element.
#[inline(always)]
fn map<T: Copy, U>(x: &[T], f: impl Fn(T) -> U) -> Vec<U> {
    x.iter().map(|&v| f(v)).collect()
}

/// Whether `len` elements make up `shape`.
fn fits(len: usize, shape: &[usize]) -> bool {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) == Some(len)
}

/// How N inputs broadcast to an output shape, collapsed: axes of size 1 are dropped and
/// neighbouring axes along which every input either varies or is broadcast alike are merged.
/// `dims` is never empty; `strides[k][j]` is input k's stride along `dims[j]` (0 when broadcast,
/// 1 along the last dim when it varies).
struct Layout<const N: usize> {
    dims: Vec<usize>,
    strides: [Vec<usize>; N],
}

fn layout<const N: usize>(out: &[usize], shapes: [&[usize]; N]) -> Layout<N> {
    let rank = out.len();
    let mut dims: Vec<usize> = Vec::with_capacity(rank);
    let mut masks: Vec<[bool; N]> = Vec::with_capacity(rank);
    for (i, &d) in out.iter().enumerate() {
        if d == 1 {
            continue;
        }
        let mut m = [false; N];
        for (mk, s) in m.iter_mut().zip(shapes) {
            let off = rank.saturating_sub(s.len());
            *mk = i >= off && s.get(i - off) == Some(&d);
        }
        match (dims.last_mut(), masks.last()) {
            (Some(last), Some(lm)) if *lm == m => *last *= d,
            _ => {
                dims.push(d);
                masks.push(m);
            }
        }
    }
    if dims.is_empty() {
        dims.push(1);
        masks.push([false; N]);
    }
    let strides = std::array::from_fn(|k| {
        let mut s = vec![0; dims.len()];
        let mut run = 1;
        for j in (0..dims.len()).rev() {
            if masks[j][k] {
                s[j] = run;
                run *= dims[j];
            }
        }
        s
    });
    Layout { dims, strides }
}

/// Advances an odometer over `dims[..idx.len()]`, moving each offset by its strides.
#[inline(always)]
fn step<const N: usize>(
    idx: &mut [usize],
    dims: &[usize],
    strides: &[Vec<usize>; N],
    offs: &mut [usize; N],
) {
    for d in (0..idx.len()).rev() {
        idx[d] += 1;
        for (o, s) in offs.iter_mut().zip(strides) {
            *o += s[d];
        }
        if idx[d] < dims[d] {
            return;
        }
        idx[d] = 0;
        for (o, s) in offs.iter_mut().zip(strides) {
            *o -= s[d] * dims[d];
        }
    }
}

/// `f` applied element-wise to `a` (of shape `ash`) and `b` (of shape `bsh`) broadcast
/// together: the output's shape and elements.
fn zip_with<A: Copy, B: Copy, U>(
    a: &[A],
    ash: &[usize],
    b: &[B],
    bsh: &[usize],
    f: impl Fn(A, B) -> U,
) -> OpResult<(Vec<usize>, Vec<U>)> {
    if !fits(a.len(), ash) || !fits(b.len(), bsh) {
        return Err(INTERNAL.into());
    }
    let shape = broadcast(ash, bsh)?;
    let n = volume(&shape)?;
    let mut out = Vec::with_capacity(n);
    if n == 0 {
    } else if ash == bsh {
        out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
    } else if let ([y], true) = (b, a.len() == n) {
        out.extend(a.iter().map(|&x| f(x, *y)));
    } else if let ([x], true) = (a, b.len() == n) {
        out.extend(b.iter().map(|&y| f(*x, y)));
    } else {
        let Layout {
            dims,
            strides: [sa, sb],
        } = layout(&shape, [ash, bsh]);
        let last = dims.len() - 1;
        let inner = dims[last];
        let (va, vb) = (sa[last] != 0, sb[last] != 0);
        let strides = [sa, sb];
        let mut idx = vec![0; last];
        let mut offs = [0usize; 2];
        let err = || INTERNAL.to_string();
        for _ in 0..n / inner {
            let [oa, ob] = offs;
            match (va, vb) {
                (true, true) => {
                    let ra = a.get(oa..oa + inner).ok_or_else(err)?;
                    let rb = b.get(ob..ob + inner).ok_or_else(err)?;
                    out.extend(ra.iter().zip(rb).map(|(&x, &y)| f(x, y)));
                }
                (true, false) => {
                    let ra = a.get(oa..oa + inner).ok_or_else(err)?;
                    let y = *b.get(ob).ok_or_else(err)?;
                    out.extend(ra.iter().map(|&x| f(x, y)));
                }
                (false, true) => {
                    let x = *a.get(oa).ok_or_else(err)?;
                    let rb = b.get(ob..ob + inner).ok_or_else(err)?;
                    out.extend(rb.iter().map(|&y| f(x, y)));
                }
                (false, false) => {
                    let x = *a.get(oa).ok_or_else(err)?;
                    let y = *b.get(ob).ok_or_else(err)?;
                    out.extend((0..inner).map(|_| f(x, y)));
                }
            }
            step(&mut idx, &dims, &strides, &mut offs);
        }
    }
    Ok((shape, out))
}

/// One row of an input of Where: its elements, or one element repeated (filled again only when
/// the element changes).
struct Row<T> {
    buf: Vec<T>,
    at: Option<usize>,
}

impl<T: Copy> Row<T> {
    fn new() -> Self {
        Row {
            buf: vec![],
            at: None,
        }
    }

    /// The `len` elements from `off` (`varies`), or element `off` repeated `len` times.
    fn get<'a>(
        &'a mut self,
        src: &'a [T],
        off: usize,
        len: usize,
        varies: bool,
    ) -> Option<&'a [T]> {
        if varies {
            return src.get(off..off.checked_add(len)?);
        }
        if self.at != Some(off) {
            let v = *src.get(off)?;
            self.buf.clear();
            self.buf.resize(len, v);
            self.at = Some(off);
        }
        Some(&self.buf)
    }
}

/// Where's selection with the three inputs broadcast together.
fn where_select<T: Copy>(
    c: &[bool],
    csh: &[usize],
    x: &[T],
    xsh: &[usize],
    y: &[T],
    ysh: &[usize],
) -> OpResult<(Vec<usize>, Vec<T>)> {
    if !fits(c.len(), csh) || !fits(x.len(), xsh) || !fits(y.len(), ysh) {
        return Err(INTERNAL.into());
    }
    let shape = broadcast(&broadcast(csh, xsh)?, ysh)?;
    let n = volume(&shape)?;
    let mut out = Vec::with_capacity(n);
    if n == 0 {
    } else if csh == xsh && xsh == ysh {
        let xy = x.iter().zip(y);
        out.extend(c.iter().zip(xy).map(|(&c, (&x, &y))| if c { x } else { y }));
    } else {
        let Layout { dims, strides } = layout(&shape, [csh, xsh, ysh]);
        let last = dims.len() - 1;
        let inner = dims[last];
        let [vc, vx, vy] = [&strides[0], &strides[1], &strides[2]].map(|s| s[last] != 0);
        let (mut rc, mut rx, mut ry) = (Row::new(), Row::new(), Row::new());
        let mut idx = vec![0; last];
        let mut offs = [0usize; 3];
        let err = || INTERNAL.to_string();
        for _ in 0..n / inner {
            let [oc, ox, oy] = offs;
            let c = rc.get(c, oc, inner, vc).ok_or_else(err)?;
            let x = rx.get(x, ox, inner, vx).ok_or_else(err)?;
            let y = ry.get(y, oy, inner, vy).ok_or_else(err)?;
            let xy = x.iter().zip(y);
            out.extend(c.iter().zip(xy).map(|(&c, (&x, &y))| if c { x } else { y }));
            step(&mut idx, &dims, &strides, &mut offs);
        }
    }
    Ok((shape, out))
}

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
            Data::Bool(_) => None,
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
            (Data::Bool(_), None) => return Err("input is bool, expected a number".into()),
        };
        Ok(vec![Tensor {
            shape: x.shape.clone(),
            data,
        }])
    }
}

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
        if y.dtype() == DType::Bool {
            return Err("input Y is bool, expected a number".into());
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
            (Data::I8(_) | Data::U8(_), _) => {
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
        }
    };
}

/// `t` converted to `to`, one of the lite engine's types: floats truncate toward zero and
/// saturate into integers (NaN becomes 0), integers wrap, non-zero is true.
#[allow(clippy::unnecessary_cast)]
fn cast(t: &Tensor, to: DType) -> OpResult<Tensor> {
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
        2 => DType::Uint8,
        3 => DType::Int8,
        6 => DType::Int32,
        7 => DType::Int64,
        9 => DType::Bool,
        code => {
            return Err(match i32::try_from(code).ok().and_then(dtype_from_onnx) {
                Some(d) => format!(
                    "Cast to {d} is not in the lite build (it has float32, int64, int32, bool, \
                     uint8 and int8)"
                ),
                None => format!(
                    "to is {code}, an ONNX element type the lite build does not compute with \
                     (it has float32, int64, int32, bool, uint8 and int8)"
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
    use super::super::super::pb;
    use super::*;

    fn attr_i(name: &str, i: i64) -> pb::AttributeProto {
        pb::AttributeProto {
            name: name.into(),
            i,
            ..Default::default()
        }
    }

    fn attr_s(name: &str, s: &str) -> pb::AttributeProto {
        pb::AttributeProto {
            name: name.into(),
            s: s.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn try_build(
        op: &str,
        attrs: Vec<pb::AttributeProto>,
        consts: &[Option<&Tensor>],
        opset: i64,
    ) -> OpResult<Box<dyn Op>> {
        let node = pb::NodeProto {
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        };
        let ctx = NodeCtx {
            op_type: op,
            node: &node,
            consts: consts.to_vec(),
            present: vec![true; consts.len()],
            opset,
        };
        let (_, build) = OPS.iter().find(|(n, _)| *n == op).expect("registered");
        build(&ctx)
    }

    fn run(op: &str, attrs: Vec<pb::AttributeProto>, inputs: &[&Tensor]) -> OpResult<Tensor> {
        let none = vec![None; inputs.len()];
        let built = try_build(op, attrs, &none, 17)?;
        let args: Vec<Option<&Tensor>> = inputs.iter().copied().map(Some).collect();
        Ok(built.run(&args)?.remove(0))
    }

    fn f(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::f32(shape.to_vec(), v.to_vec())
    }

    fn i(shape: &[usize], v: &[i64]) -> Tensor {
        Tensor::i64(shape.to_vec(), v.to_vec())
    }

    fn i32s(shape: &[usize], v: &[i32]) -> Tensor {
        Tensor {
            shape: shape.to_vec(),
            data: Data::I32(v.to_vec()),
        }
    }

    /// A plain index-by-index broadcast, to check the collapsed loops against.
    fn naive(a: &Tensor, b: &Tensor, op: fn(f32, f32) -> f32) -> (Vec<usize>, Vec<f32>) {
        let shape = broadcast(&a.shape, &b.shape).unwrap();
        let n: usize = shape.iter().product();
        let at = |t: &Tensor, idx: &[usize]| {
            let off = shape.len() - t.rank();
            let mut k = 0;
            for (d, &s) in t.shape.iter().enumerate() {
                k = k * s + if s == 1 { 0 } else { idx[off + d] };
            }
            t.as_f32().unwrap()[k]
        };
        let mut out = vec![];
        for flat in 0..n {
            let mut idx = vec![0; shape.len()];
            let mut r = flat;
            for d in (0..shape.len()).rev() {
                idx[d] = r % shape[d];
                r /= shape[d];
            }
            out.push(op(at(a, &idx), at(b, &idx)));
        }
        (shape, out)
    }

    fn seq(shape: &[usize], k: f32) -> Tensor {
        let n: usize = shape.iter().product();
        f(
            shape,
            &(0..n).map(|x| x as f32 * k + 1.0).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn broadcasts_like_numpy_in_every_layout() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[2, 3, 4], &[3, 1]),
            (&[2, 1, 4], &[1, 3, 1]),
            (&[4, 1], &[1, 5]),
            (&[1], &[2, 3]),
            (&[2, 3, 4, 5], &[3, 1, 1]),
            (&[2, 3, 4], &[4]),
            (&[3, 1, 2, 1], &[1, 4, 1, 3]),
            (&[], &[2, 2]),
            (&[2, 0, 3], &[1, 3]),
            (&[1, 1], &[1]),
        ];
        for &(sa, sb) in cases {
            let (a, b) = (seq(sa, 1.0), seq(sb, 0.5));
            for (a, b) in [(&a, &b), (&b, &a)] {
                let want = naive(a, b, |x, y| x - y);
                let got = run("Sub", vec![], &[a, b]).unwrap();
                assert_eq!((got.shape.clone(), got.into_f32().unwrap()), want);
            }
        }
    }

    #[test]
    fn where_broadcasts_three_ways() {
        let c = Tensor::bool(vec![2, 1], vec![true, false]);
        let x = i(&[1, 3], &[1, 2, 3]);
        let y = i(&[], &[9]);
        let out = run("Where", vec![], &[&c, &x, &y]).unwrap();
        assert_eq!(out, i(&[2, 3], &[1, 2, 3, 9, 9, 9]));
        let c = i(&[1], &[1]);
        assert!(run("Where", vec![], &[&c, &x, &y]).is_err());
        let yf = f(&[], &[9.0]);
        assert!(run(
            "Where",
            vec![],
            &[&Tensor::bool(vec![], vec![true]), &x, &yf]
        )
        .is_err());
    }

    #[test]
    fn integer_division_by_zero_is_an_error() {
        for op in ["Div", "Mod"] {
            let e = run(op, vec![], &[&i(&[2], &[1, 2]), &i(&[1], &[0])]).unwrap_err();
            assert!(e.contains("division by zero"), "{e}");
        }
        let e = run(
            "Mod",
            vec![attr_i("fmod", 1)],
            &[&i32s(&[1], &[5]), &i32s(&[1], &[0])],
        );
        assert!(e.is_err());
        // Nothing is divided when the result is empty.
        let empty = run("Div", vec![], &[&i(&[0], &[]), &i(&[1], &[0])]).unwrap();
        assert_eq!(empty.shape, vec![0]);
        // Float division by zero is IEEE.
        let inf = run("Div", vec![], &[&f(&[1], &[1.0]), &f(&[1], &[0.0])]).unwrap();
        assert_eq!(inf.as_f32().unwrap(), &[f32::INFINITY]);
    }

    #[test]
    fn integer_overflow_wraps() {
        let min = i(&[1], &[i64::MIN]);
        let m1 = i(&[1], &[-1]);
        assert_eq!(run("Div", vec![], &[&min, &m1]).unwrap(), min);
        assert_eq!(run("Mod", vec![], &[&min, &m1]).unwrap(), i(&[1], &[0]));
        let fmod = vec![attr_i("fmod", 1)];
        assert_eq!(run("Mod", fmod, &[&min, &m1]).unwrap(), i(&[1], &[0]));
        assert_eq!(run("Mul", vec![], &[&min, &m1]).unwrap(), min);
        assert_eq!(run("Neg", vec![], &[&min]).unwrap(), min);
        assert_eq!(run("Abs", vec![], &[&min]).unwrap(), min);
        let q = run("Div", vec![], &[&i32s(&[2], &[-7, 7]), &i32s(&[1], &[2])]).unwrap();
        assert_eq!(q, i32s(&[2], &[-3, 3]));
        let big = i(&[4], &[2, 0, -1, 1]);
        let pow = run("Pow", vec![], &[&big, &i(&[1], &[i64::MAX])]).unwrap();
        assert_eq!(pow.as_i64().unwrap()[1..], [0, -1, 1]);
        let neg = run("Pow", vec![], &[&big, &i(&[1], &[-3])]).unwrap();
        assert_eq!(neg, i(&[4], &[0, 0, -1, 1]));
        let nan = run("Pow", vec![], &[&big, &f(&[1], &[f32::NAN])]).unwrap();
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
        let q = run("Div", vec![], &[&a, &b]).unwrap();
        assert_eq!(q.data, Data::I8(vec![-128, -100, 7]));
        let u = Tensor {
            shape: vec![2],
            data: Data::U8(vec![250, 3]),
        };
        let s = run("Add", vec![], &[&u, &u]).unwrap();
        assert_eq!(s.data, Data::U8(vec![244, 6]));
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let e = run("Add", vec![], &[&f(&[2], &[1.0, 2.0]), &i(&[2], &[1, 2])]).unwrap_err();
        assert!(e.contains("float32") && e.contains("int64"), "{e}");
        let e = run("Add", vec![], &[&seq(&[2, 3], 1.0), &seq(&[4], 1.0)]).unwrap_err();
        assert!(e.contains("broadcast"), "{e}");
        let e = run("Less", vec![], &[&f(&[1], &[1.0]), &i(&[1], &[1])]).unwrap_err();
        assert!(e.contains("float32"), "{e}");
        let b = Tensor::bool(vec![1], vec![true]);
        assert!(run("And", vec![], &[&b, &f(&[1], &[1.0])]).is_err());
        assert!(run("Add", vec![], &[&b, &b]).is_err());
        assert!(run("Tanh", vec![], &[&i(&[1], &[1])]).is_err());
        assert!(run("Not", vec![], &[&f(&[1], &[1.0])]).is_err());
        assert!(run("Mean", vec![], &[&i(&[1], &[1]), &i(&[1], &[1])]).is_err());
        let e = run(
            "PRelu",
            vec![],
            &[&f(&[2], &[1.0, -1.0]), &seq(&[3, 1], 1.0)],
        )
        .unwrap_err();
        assert!(e.contains("slope"), "{e}");
    }

    #[test]
    fn huge_broadcasts_are_refused_before_allocating() {
        let a = f(&[1 << 20, 1], &vec![0.0; 1 << 20]);
        let b = f(&[1, 1 << 20], &vec![0.0; 1 << 20]);
        let e = run("Add", vec![], &[&a, &b]).unwrap_err();
        assert!(e.contains("more than"), "{e}");
    }

    #[test]
    fn clip_bounds_are_checked() {
        let x = f(&[3], &[-2.0, 0.5, 2.0]);
        let lo = f(&[], &[-1.0]);
        let hi = f(&[], &[1.0]);
        let out = run("Clip", vec![], &[&x, &lo, &hi]).unwrap();
        assert_eq!(out, f(&[3], &[-1.0, 0.5, 1.0]));
        let two = f(&[2], &[0.0, 1.0]);
        let e = run("Clip", vec![], &[&x, &two]).unwrap_err();
        assert!(e.contains("scalar"), "{e}");
        assert!(run("Clip", vec![], &[&x, &i(&[], &[0])]).is_err());
        let e = try_build("Clip", vec![], &[None, Some(&two)], 13)
            .err()
            .unwrap();
        assert!(e.contains("scalar"), "{e}");
        // Before opset 11 the bounds are attributes.
        let old = try_build("Clip", vec![], &[None], 6).unwrap();
        let out = old.run(&[Some(&x)]).unwrap().remove(0);
        assert_eq!(out, x);
    }

    #[test]
    fn bad_attributes_are_errors() {
        let cases: Vec<(&str, Vec<pb::AttributeProto>, &str)> = vec![
            ("Mod", vec![attr_i("fmod", 2)], "fmod"),
            ("Gelu", vec![attr_s("approximate", "fast")], "approximate"),
            ("Cast", vec![attr_i("to", 10)], "float16"),
            ("Cast", vec![attr_i("to", 99)], "99"),
            ("Cast", vec![attr_i("to", i64::MIN)], "to is"),
            ("Cast", vec![], "'to'"),
            (
                "Celu",
                vec![pb::AttributeProto {
                    name: "alpha".into(),
                    f: 0.0,
                    ..Default::default()
                }],
                "alpha",
            ),
        ];
        for (op, attrs, word) in cases {
            let e = try_build(op, attrs, &[None], 21).err().expect(op);
            assert!(e.contains(word), "{op}: {e}");
        }
        let axis = vec![attr_i("axis", 1), attr_i("broadcast", 1)];
        assert!(try_build("Add", axis, &[None, None], 6).is_err());
    }

    #[test]
    fn casts_saturate_and_wrap() {
        let x = f(&[5], &[f32::NAN, 1e20, -1e20, -2.7, 0.0]);
        let to = |code| vec![attr_i("to", code)];
        let out = run("Cast", to(7), &[&x]).unwrap();
        assert_eq!(out, i(&[5], &[0, i64::MAX, i64::MIN, -2, 0]));
        let out = run("Cast", to(9), &[&x]).unwrap();
        assert_eq!(out.data, Data::Bool(vec![true, true, true, true, false]));
        let out = run("Cast", to(3), &[&i(&[2], &[300, -129])]).unwrap();
        assert_eq!(out.data, Data::I8(vec![44, 127]));
        let b = Tensor::bool(vec![2], vec![true, false]);
        let out = run("CastLike", vec![], &[&b, &f(&[], &[0.0])]).unwrap();
        assert_eq!(out, f(&[2], &[1.0, 0.0]));
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
            let out = run(op, vec![], &[&x]).unwrap().into_f32().unwrap();
            assert!(out[0].is_nan(), "{op}");
            assert!(out[1..].iter().all(|v| v.is_finite()), "{op}: {out:?}");
        }
        let sp = run("Softplus", vec![], &[&f(&[1], &[1000.0])]).unwrap();
        assert_eq!(sp.as_f32().unwrap(), &[1000.0]);
    }
}

//! Neural-network operators: pooling, normalisations, Softmax and its relatives, Dropout,
//! reductions, ArgMax/ArgMin, Resize and Upsample.
//!
//! Most of them reduce or rescale along one axis of a tensor seen as `[outer, n, inner]`. With
//! `inner == 1` each result reads one contiguous row, folded in 8 lanes; otherwise whole rows of
//! `inner` values are combined at a time. The float32 loops are written on four-lane vectors
//! (`F4`, wasm SIMD in the wasm build).

use std::borrow::Cow;

use super::super::tensor::{axis, volume, Data, OpResult, Tensor, MAX_ELEMENTS};
use super::{f32s, input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("MaxPool", build_max_pool),
    ("AveragePool", build_average_pool),
    ("LpPool", build_lp_pool),
    ("GlobalMaxPool", build_global_max_pool),
    ("GlobalAveragePool", build_global_average_pool),
    ("GlobalLpPool", build_global_lp_pool),
    ("BatchNormalization", build_batch_norm),
    ("InstanceNormalization", build_instance_norm),
    ("LayerNormalization", build_layer_norm),
    ("LRN", build_lrn),
    ("Softmax", build_softmax),
    ("LogSoftmax", build_log_softmax),
    ("Hardmax", build_hardmax),
    ("Dropout", build_dropout),
    ("ReduceMean", build_reduce_mean),
    ("ReduceSum", build_reduce_sum),
    ("ReduceMax", build_reduce_max),
    ("ReduceMin", build_reduce_min),
    ("ReduceProd", build_reduce_prod),
    ("ReduceL1", build_reduce_l1),
    ("ReduceL2", build_reduce_l2),
    ("ReduceSumSquare", build_reduce_sum_square),
    ("ReduceLogSum", build_reduce_log_sum),
    ("ReduceLogSumExp", build_reduce_log_sum_exp),
    ("ArgMax", build_argmax),
    ("ArgMin", build_argmin),
    ("Resize", build_resize),
    ("Upsample", build_upsample),
];

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The element types of the generic kernels (max pooling, Max/Min/Sum/Prod reductions, ArgMax).
/// Integer arithmetic wraps, as in onnxruntime.
trait Elem: Copy + PartialOrd {
    const LOWEST: Self;
    const HIGHEST: Self;
    const ZERO: Self;
    const ONE: Self;
    fn add(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
}

macro_rules! int_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            const LOWEST: Self = <$t>::MIN;
            const HIGHEST: Self = <$t>::MAX;
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
        }
    )*};
}
int_elem!(i64, i32, u8, i8);

impl Elem for f32 {
    const LOWEST: Self = f32::NEG_INFINITY;
    const HIGHEST: Self = f32::INFINITY;
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self + o
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self * o
    }
}

impl Elem for bool {
    const LOWEST: Self = false;
    const HIGHEST: Self = true;
    const ZERO: Self = false;
    const ONE: Self = true;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self | o
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self & o
    }
}

/// The larger of two values (`a` when they are unordered), in the form of wasm's `pmax`.
#[inline(always)]
fn max_of<T: PartialOrd>(a: T, b: T) -> T {
    if a < b {
        b
    } else {
        a
    }
}

#[inline(always)]
fn min_of<T: PartialOrd>(a: T, b: T) -> T {
    if b < a {
        b
    } else {
        a
    }
}

/// Folds `map` of each element of `v` with `op`, starting from `id`, in 8 independent lanes (the
/// integer types' reductions; float32 has [`fold_f`]).
#[inline(always)]
fn fold<T: Copy>(v: &[T], id: T, map: impl Fn(T) -> T, op: impl Fn(T, T) -> T) -> T {
    let (octets, rest) = v.as_chunks::<8>();
    let mut acc = [id; 8];
    for c in octets {
        for l in 0..8 {
            acc[l] = op(acc[l], map(c[l]));
        }
    }
    let mut r = id;
    for &x in rest {
        r = op(r, map(x));
    }
    for a in acc {
        r = op(r, a);
    }
    r
}

/// A possibly negative axis list normalised against `rank`; repeated axes are an error.
fn axes_list(axes: &[i64], rank: usize) -> OpResult<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = axis(a, rank)?;
        if a >= rank {
            return Err(format!("axis {a} is out of range for rank {rank}"));
        }
        if out.contains(&a) {
            return Err(format!("axes {axes:?} repeat axis {a}"));
        }
        out.push(a);
    }
    Ok(out)
}

/// An attribute-turned-input: not given, known at load (a constant), or read from input `i` at
/// run time.
enum Param<T> {
    Absent,
    Known(T),
    Input(usize),
}

impl<T: Clone> Param<T> {
    /// Input `i` (`name`) of the node being built, parsed with `parse` when it is a constant.
    fn of_input(
        ctx: &NodeCtx,
        i: usize,
        name: &str,
        parse: fn(&Tensor) -> OpResult<T>,
    ) -> OpResult<Self> {
        if !ctx.given(i) {
            return Ok(Param::Absent);
        }
        match ctx.consts.get(i).copied().flatten() {
            Some(t) => parse(t)
                .map(Param::Known)
                .map_err(|e| format!("input {name}: {e}")),
            None => Ok(Param::Input(i)),
        }
    }

    /// The value: known, read from the inputs, or `None` when not given.
    fn get<'a>(
        &'a self,
        inputs: &[Option<&Tensor>],
        name: &str,
        parse: fn(&Tensor) -> OpResult<T>,
    ) -> OpResult<Option<Cow<'a, T>>> {
        match self {
            Param::Absent => Ok(None),
            Param::Known(v) => Ok(Some(Cow::Borrowed(v))),
            Param::Input(i) => parse(input(inputs, *i, name)?)
                .map(|v| Some(Cow::Owned(v)))
                .map_err(|e| format!("input {name}: {e}")),
        }
    }
}

fn parse_ints(t: &Tensor) -> OpResult<Vec<i64>> {
    t.to_i64s()
}

fn parse_floats(t: &Tensor) -> OpResult<Vec<f32>> {
    t.as_f32().map(<[f32]>::to_vec)
}

/// A float32 scalar (or one-element tensor).
fn scalar_f32(t: &Tensor, name: &str) -> OpResult<f32> {
    match f32s(t, name)? {
        [v] => Ok(*v),
        v => Err(format!("input {name} has {} values, expected one", v.len())),
    }
}

/// The sizes of `[outer, n, inner]` around axis `a` of `shape`.
fn split3(shape: &[usize], a: usize) -> OpResult<(usize, usize, usize)> {
    let n = shape.get(a).copied().unwrap_or(1);
    Ok((
        volume(&shape[..a.min(shape.len())])?,
        n,
        volume(shape.get(a + 1..).unwrap_or(&[]))?,
    ))
}

/// The shape of a reduction's result: the reduced axes become 1, or go with `keepdims` off.
fn reduced_shape(shape: &[usize], reduced: &[bool], keepdims: bool) -> Vec<usize> {
    shape
        .iter()
        .zip(reduced)
        .filter_map(|(&d, &r)| match (r, keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// How many outputs the node names (the trailing unnamed ones are not counted).
fn named_outputs(ctx: &NodeCtx) -> usize {
    ctx.node
        .output
        .iter()
        .rposition(|o| !o.is_empty())
        .map_or(0, |i| i + 1)
}

// ---------------------------------------------------------------------------------------------
// Four-lane float32 kernels
//
// The release profile optimises for size (opt-level "z"), under which LLVM vectorises no loop:
// the float32 kernels that matter are written on `F4`, wasm SIMD on wasm32 and an array of four
// elsewhere, computing the same IEEE operations lane by lane (so native tests check the
// results the wasm build gives).

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes {
    use std::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct F4(v128);

    impl F4 {
        #[inline(always)]
        pub fn splat(v: f32) -> F4 {
            F4(f32x4_splat(v))
        }

        #[inline(always)]
        pub fn from_lanes(v: [f32; 4]) -> F4 {
            F4(f32x4(v[0], v[1], v[2], v[3]))
        }

        #[inline(always)]
        pub fn load(s: &[f32; 4]) -> F4 {
            // SAFETY: `s` is 16 readable bytes, and v128_load has no alignment requirement.
            F4(unsafe { v128_load(s.as_ptr() as *const v128) })
        }

        /// Lanes 0..4 and 4..8 of `s`.
        #[inline(always)]
        pub fn load2(s: &[f32; 8]) -> (F4, F4) {
            // SAFETY: `s` is 32 readable bytes, read as two unaligned vectors.
            unsafe {
                let p = s.as_ptr() as *const v128;
                (F4(v128_load(p)), F4(v128_load(p.add(1))))
            }
        }

        /// Lanes 0, 2, 4 and 6 of `s`.
        #[inline(always)]
        pub fn evens(s: &[f32; 8]) -> F4 {
            let (a, b) = F4::load2(s);
            F4(i32x4_shuffle::<0, 2, 4, 6>(a.0, b.0))
        }

        /// The even and the odd lanes of `s`.
        #[inline(always)]
        pub fn pairs(s: &[f32; 8]) -> (F4, F4) {
            let (a, b) = F4::load2(s);
            (
                F4(i32x4_shuffle::<0, 2, 4, 6>(a.0, b.0)),
                F4(i32x4_shuffle::<1, 3, 5, 7>(a.0, b.0)),
            )
        }

        #[inline(always)]
        pub fn store(self, d: &mut [f32; 4]) {
            // SAFETY: `d` is 16 writable bytes, and v128_store has no alignment requirement.
            unsafe { v128_store(d.as_mut_ptr() as *mut v128, self.0) }
        }

        /// Each lane twice: lanes 0, 0, 1, 1, 2, 2, 3, 3.
        #[inline(always)]
        pub fn store_doubled(self, d: &mut [f32; 8]) {
            let lo = i32x4_shuffle::<0, 0, 1, 1>(self.0, self.0);
            let hi = i32x4_shuffle::<2, 2, 3, 3>(self.0, self.0);
            // SAFETY: `d` is 32 writable bytes, written as two unaligned vectors.
            unsafe {
                let p = d.as_mut_ptr() as *mut v128;
                v128_store(p, lo);
                v128_store(p.add(1), hi);
            }
        }

        #[inline(always)]
        pub fn lanes(self) -> [f32; 4] {
            [
                f32x4_extract_lane::<0>(self.0),
                f32x4_extract_lane::<1>(self.0),
                f32x4_extract_lane::<2>(self.0),
                f32x4_extract_lane::<3>(self.0),
            ]
        }

        #[inline(always)]
        pub fn add(self, o: F4) -> F4 {
            F4(f32x4_add(self.0, o.0))
        }

        #[inline(always)]
        pub fn sub(self, o: F4) -> F4 {
            F4(f32x4_sub(self.0, o.0))
        }

        #[inline(always)]
        pub fn mul(self, o: F4) -> F4 {
            F4(f32x4_mul(self.0, o.0))
        }

        #[inline(always)]
        pub fn div(self, o: F4) -> F4 {
            F4(f32x4_div(self.0, o.0))
        }

        /// `if self < o { o } else { self }` (wasm's pmax).
        #[inline(always)]
        pub fn max(self, o: F4) -> F4 {
            F4(f32x4_pmax(self.0, o.0))
        }

        /// `if o < self { o } else { self }` (wasm's pmin).
        #[inline(always)]
        pub fn min(self, o: F4) -> F4 {
            F4(f32x4_pmin(self.0, o.0))
        }

        #[inline(always)]
        pub fn abs(self) -> F4 {
            F4(f32x4_abs(self.0))
        }

        #[inline(always)]
        pub fn sqrt(self) -> F4 {
            F4(f32x4_sqrt(self.0))
        }

        /// [`super::exp`] on each lane, operation for operation.
        #[inline(always)]
        pub fn exp(self) -> F4 {
            use super::exp_consts::*;
            let x = self.0;
            let c = f32x4_pmin(f32x4_pmax(x, f32x4_splat(LO)), f32x4_splat(HI));
            let t = f32x4_add(f32x4_mul(c, f32x4_splat(LOG2E)), f32x4_splat(ROUND));
            let n = f32x4_sub(t, f32x4_splat(ROUND));
            let r = f32x4_sub(
                f32x4_sub(c, f32x4_mul(n, f32x4_splat(C1))),
                f32x4_mul(n, f32x4_splat(C2)),
            );
            let mut p = f32x4_splat(P[0]);
            for &k in &P[1..] {
                p = f32x4_add(f32x4_mul(p, r), f32x4_splat(k));
            }
            let y = f32x4_add(
                f32x4_add(f32x4_mul(f32x4_mul(p, r), r), r),
                f32x4_splat(1.0),
            );
            let v = f32x4_mul(y, i32x4_shl(i32x4_sub(t, i32x4_splat(BIAS)), 23));
            let v = v128_bitselect(f32x4_splat(0.0), v, f32x4_lt(x, f32x4_splat(LO)));
            F4(v128_bitselect(
                f32x4_splat(f32::INFINITY),
                v,
                f32x4_gt(x, f32x4_splat(HI)),
            ))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod lanes {
    use super::{max_of, min_of};

    #[derive(Clone, Copy)]
    pub struct F4([f32; 4]);

    impl F4 {
        #[inline(always)]
        fn map(self, f: impl Fn(f32) -> f32) -> F4 {
            F4(self.0.map(f))
        }

        #[inline(always)]
        fn zip(self, o: F4, f: impl Fn(f32, f32) -> f32) -> F4 {
            let ([a, b, c, d], [e, g, h, i]) = (self.0, o.0);
            F4([f(a, e), f(b, g), f(c, h), f(d, i)])
        }

        #[inline(always)]
        pub fn splat(v: f32) -> F4 {
            F4([v; 4])
        }

        #[inline(always)]
        pub fn from_lanes(v: [f32; 4]) -> F4 {
            F4(v)
        }

        #[inline(always)]
        pub fn load(s: &[f32; 4]) -> F4 {
            F4(*s)
        }

        #[inline(always)]
        pub fn load2(s: &[f32; 8]) -> (F4, F4) {
            let [a, b, c, d, e, f, g, h] = *s;
            (F4([a, b, c, d]), F4([e, f, g, h]))
        }

        #[inline(always)]
        pub fn evens(s: &[f32; 8]) -> F4 {
            let [a, _, b, _, c, _, d, _] = *s;
            F4([a, b, c, d])
        }

        #[inline(always)]
        pub fn pairs(s: &[f32; 8]) -> (F4, F4) {
            let [a, e, b, f, c, g, d, h] = *s;
            (F4([a, b, c, d]), F4([e, f, g, h]))
        }

        #[inline(always)]
        pub fn store(self, d: &mut [f32; 4]) {
            *d = self.0;
        }

        #[inline(always)]
        pub fn store_doubled(self, d: &mut [f32; 8]) {
            let [a, b, c, e] = self.0;
            *d = [a, a, b, b, c, c, e, e];
        }

        #[inline(always)]
        pub fn lanes(self) -> [f32; 4] {
            self.0
        }

        #[inline(always)]
        pub fn add(self, o: F4) -> F4 {
            self.zip(o, |a, b| a + b)
        }

        #[inline(always)]
        pub fn sub(self, o: F4) -> F4 {
            self.zip(o, |a, b| a - b)
        }

        #[inline(always)]
        pub fn mul(self, o: F4) -> F4 {
            self.zip(o, |a, b| a * b)
        }

        #[inline(always)]
        pub fn div(self, o: F4) -> F4 {
            self.zip(o, |a, b| a / b)
        }

        #[inline(always)]
        pub fn max(self, o: F4) -> F4 {
            self.zip(o, max_of)
        }

        #[inline(always)]
        pub fn min(self, o: F4) -> F4 {
            self.zip(o, min_of)
        }

        #[inline(always)]
        pub fn abs(self) -> F4 {
            self.map(f32::abs)
        }

        #[inline(always)]
        pub fn sqrt(self) -> F4 {
            self.map(f32::sqrt)
        }

        #[inline(always)]
        pub fn exp(self) -> F4 {
            self.map(super::exp)
        }
    }
}

use lanes::F4;

/// The constants of [`exp`] (Cephes' expf).
mod exp_consts {
    pub const LO: f32 = -87.336_54;
    pub const HI: f32 = 88.3;
    pub const LOG2E: f32 = std::f32::consts::LOG2_E;
    /// 1.5 * 2^23: adding it rounds to an integer, which then sits in the low mantissa bits.
    pub const ROUND: f32 = 12_582_912.0;
    /// ROUND's bits less the exponent bias.
    pub const BIAS: i32 = 0x4B40_0000 - 127;
    pub const C1: f32 = 0.693_359_4;
    pub const C2: f32 = -2.121_944_4e-4;
    pub const P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ];
}

/// e^x in float32: Cephes' expf (a polynomial after taking out a power of two; within 2 ulp),
/// 0 below -87.3, infinity above 88.3, NaN for NaN. [`F4::exp`] computes the same.
#[inline(always)]
fn exp(x: f32) -> f32 {
    use exp_consts::*;
    let c = min_of(max_of(x, LO), HI);
    let t = c * LOG2E + ROUND;
    let n = t - ROUND;
    let r = c - n * C1 - n * C2;
    let mut p = P[0];
    for &k in &P[1..] {
        p = p * r + k;
    }
    let y = p * r * r + r + 1.0;
    let bits = (t.to_bits() as i32).wrapping_sub(BIAS).wrapping_shl(23);
    let v = y * f32::from_bits(bits as u32);
    if x < LO {
        0.0
    } else if x > HI {
        f32::INFINITY
    } else {
        v
    }
}

/// A function of one float, on four lanes and on one.
trait Una: Copy {
    fn v(self, x: F4) -> F4;
    fn s(self, x: f32) -> f32;
}

/// A function of two floats, on four lanes and on one.
trait Bin: Copy {
    fn v(self, a: F4, b: F4) -> F4;
    fn s(self, a: f32, b: f32) -> f32;
}

/// Defines [`Una`]s: `Name(fields) |self, x| vector form, scalar form;`.
macro_rules! una {
    ($(
        #[$doc:meta]
        $name:ident $(($($f:ident: $t:ty),*))? |$s:ident, $x:ident| $v:expr, $sc:expr;
    )*) => {$(
        #[$doc]
        #[derive(Clone, Copy)]
        struct $name $(($($t),*))?;
        impl Una for $name {
            #[inline(always)]
            fn v(self, $x: F4) -> F4 {
                let $s = self;
                $v
            }
            #[inline(always)]
            fn s(self, $x: f32) -> f32 {
                let $s = self;
                $sc
            }
        }
    )*};
}

una! {
    /// x
    Id |_s, x| x, x;
    /// |x|
    Abs |_s, x| x.abs(), x.abs();
    /// √x
    Sqrt |_s, x| x.sqrt(), x.sqrt();
    /// 1 / x
    Recip |_s, x| F4::splat(1.0).div(x), 1.0 / x;
    /// x²
    Square |_s, x| x.mul(x), x * x;
    /// (x - m)²
    SqDiff(m: f32) |s, x| { let d = x.sub(F4::splat(s.0)); d.mul(d) }, (x - s.0) * (x - s.0);
    /// e^(x - m)
    ExpDiff(m: f32) |s, x| x.sub(F4::splat(s.0)).exp(), exp(x - s.0);
    /// x * k
    Scale(k: f32) |s, x| x.mul(F4::splat(s.0)), x * s.0;
    /// x - k
    Less(k: f32) |s, x| x.sub(F4::splat(s.0)), x - s.0;
    /// x * a + b
    Affine(a: f32, b: f32) |s, x| x.mul(F4::splat(s.0)).add(F4::splat(s.1)), x * s.0 + s.1;
    /// (x - m) * k
    Center(m: f32, k: f32) |s, x| x.sub(F4::splat(s.0)).mul(F4::splat(s.1)), (x - s.0) * s.1;
    /// |x|^p
    AbsPow(p: i32) |s, x| F4::from_lanes(x.lanes().map(|x| x.abs().powi(s.0))), x.abs().powi(s.0);
}

/// Defines [`Bin`]s: `Name |a, b| vector form, scalar form;`.
macro_rules! bin {
    ($(#[$doc:meta] $name:ident |$a:ident, $b:ident| $v:expr, $sc:expr;)*) => {$(
        #[$doc]
        #[derive(Clone, Copy)]
        struct $name;
        impl Bin for $name {
            #[inline(always)]
            fn v(self, $a: F4, $b: F4) -> F4 {
                $v
            }
            #[inline(always)]
            fn s(self, $a: f32, $b: f32) -> f32 {
                $sc
            }
        }
    )*};
}

bin! {
    /// a + b
    Add |a, b| a.add(b), a + b;
    /// a - b
    Sub |a, b| a.sub(b), a - b;
    /// a * b
    Mul |a, b| a.mul(b), a * b;
    /// a / b
    Div |a, b| a.div(b), a / b;
    /// The larger, `a` when unordered.
    Max |a, b| a.max(b), max_of(a, b);
    /// The smaller, `a` when unordered.
    Min |a, b| a.min(b), min_of(a, b);
    /// e^(a - b)
    ExpSub |a, b| a.sub(b).exp(), exp(a - b);
}

// The loops below index slices instead of zipping iterators: optimised for size, LLVM leaves
// iterator adapters (Zip, Enumerate) as calls, one per step.

/// The smaller of two lengths.
#[inline(always)]
fn least(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// Folds `u` of each element with `b` from `id`, in 8 lanes (then the rest, then the lanes).
#[inline(always)]
fn fold_f(v: &[f32], id: f32, u: impl Una, b: impl Bin) -> f32 {
    let (octets, rest) = v.as_chunks::<8>();
    let (mut a0, mut a1) = (F4::splat(id), F4::splat(id));
    for o in octets {
        let (x, y) = F4::load2(o);
        a0 = b.v(a0, u.v(x));
        a1 = b.v(a1, u.v(y));
    }
    let mut r = id;
    for &x in rest {
        r = b.s(r, u.s(x));
    }
    let [l0, l1, l2, l3] = b.v(a0, a1).lanes();
    b.s(r, b.s(b.s(l0, l1), b.s(l2, l3)))
}

fn sum(v: &[f32]) -> f32 {
    fold_f(v, 0.0, Id, Add)
}

fn max(v: &[f32]) -> f32 {
    fold_f(v, f32::NEG_INFINITY, Id, Max)
}

/// `v[i] = u(v[i])`.
#[inline(always)]
fn map_f(v: &mut [f32], u: impl Una) {
    let (quads, rest) = v.as_chunks_mut::<4>();
    for q in quads {
        u.v(F4::load(q)).store(q);
    }
    for x in rest {
        *x = u.s(*x);
    }
}

/// `d[i] = u(s[i])`, over the shorter of the two.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn map_from(d: &mut [f32], s: &[f32], u: impl Una) {
    let n = least(d.len(), s.len());
    let (dq, dr) = d[..n].as_chunks_mut::<4>();
    let (sq, sr) = s[..n].as_chunks::<4>();
    for i in 0..least(dq.len(), sq.len()) {
        u.v(F4::load(&sq[i])).store(&mut dq[i]);
    }
    for i in 0..least(dr.len(), sr.len()) {
        dr[i] = u.s(sr[i]);
    }
}

/// `d[i] = b(d[i], u(s[i]))`, over the shorter of the two.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn zip_f(d: &mut [f32], s: &[f32], u: impl Una, b: impl Bin) {
    let n = least(d.len(), s.len());
    let (dq, dr) = d[..n].as_chunks_mut::<4>();
    let (sq, sr) = s[..n].as_chunks::<4>();
    for i in 0..least(dq.len(), sq.len()) {
        b.v(F4::load(&dq[i]), u.v(F4::load(&sq[i])))
            .store(&mut dq[i]);
    }
    for i in 0..least(dr.len(), sr.len()) {
        dr[i] = b.s(dr[i], u.s(sr[i]));
    }
}

/// `d[i] = b(d[i], u(s[2 * i]))` for the `i` with `2 * i < s.len()`.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn zip_f_evens(d: &mut [f32], s: &[f32], u: impl Una, b: impl Bin) {
    let n = least(d.len(), s.len().div_ceil(2));
    let (dq, _) = d[..n].as_chunks_mut::<4>();
    let (so, _) = s.as_chunks::<8>();
    let done = least(dq.len(), so.len());
    for i in 0..done {
        b.v(F4::load(&dq[i]), u.v(F4::evens(&so[i])))
            .store(&mut dq[i]);
    }
    for i in 4 * done..n {
        if let Some(&v) = s.get(2 * i) {
            d[i] = b.s(d[i], u.s(v));
        }
    }
}

/// `d[i] = a[i] * wa + b[i] * wb`.
#[allow(clippy::needless_range_loop)]
fn blend(d: &mut [f32], a: &[f32], b: &[f32], wa: f32, wb: f32) {
    let n = least(d.len(), least(a.len(), b.len()));
    let (dq, dr) = d[..n].as_chunks_mut::<4>();
    let (aq, ar) = a[..n].as_chunks::<4>();
    let (bq, br) = b[..n].as_chunks::<4>();
    let (va, vb) = (F4::splat(wa), F4::splat(wb));
    for i in 0..least(dq.len(), least(aq.len(), bq.len())) {
        F4::load(&aq[i])
            .mul(va)
            .add(F4::load(&bq[i]).mul(vb))
            .store(&mut dq[i]);
    }
    for i in 0..least(dr.len(), least(ar.len(), br.len())) {
        dr[i] = ar[i] * wa + br[i] * wb;
    }
}

// ---------------------------------------------------------------------------------------------
// Pools

#[derive(Clone, Copy, PartialEq, Debug)]
enum PoolKind {
    Max,
    Avg,
    /// The p-norm of each window.
    Lp(i32),
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum AutoPad {
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

fn auto_pad(ctx: &NodeCtx) -> OpResult<AutoPad> {
    match ctx.string("auto_pad").as_deref() {
        None | Some("NOTSET") | Some("") => Ok(AutoPad::NotSet),
        Some("SAME_UPPER") => Ok(AutoPad::SameUpper),
        Some("SAME_LOWER") => Ok(AutoPad::SameLower),
        Some("VALID") => Ok(AutoPad::Valid),
        Some(other) => Err(format!(
            "auto_pad '{other}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"
        )),
    }
}

/// A list attribute of `n` values (`default` each when absent), each within [lo, 2^28].
fn list_attr(ctx: &NodeCtx, name: &str, n: usize, default: i64, lo: i64) -> OpResult<Vec<i64>> {
    let v = ctx.ints(name).unwrap_or_else(|| vec![default; n]);
    if v.len() != n {
        return Err(format!("{name} has {} values, expected {n}", v.len()));
    }
    if let Some(&bad) = v.iter().find(|&&x| x < lo || x > MAX_ELEMENTS as i64) {
        return Err(format!(
            "{name} value {bad} is out of range (expected {lo} to {MAX_ELEMENTS})"
        ));
    }
    Ok(v)
}

/// A pool's window along one spatial axis, at run time: output `o` reads the input positions
/// `o * s + j * d - pad` for `j < k` that fall inside the input.
#[derive(Clone, Copy, Debug)]
struct Win {
    len: i64,
    out: i64,
    k: i64,
    s: i64,
    d: i64,
    pad: i64,
    /// The end pad (the bound of the taps that count_include_pad counts).
    end: i64,
}

const NO_WIN: Win = Win {
    len: 1,
    out: 1,
    k: 1,
    s: 1,
    d: 1,
    pad: 0,
    end: 0,
};

/// The `j < count` with `lo <= start + j * step < hi` (step >= 1), as a range.
fn taps_within(start: i64, step: i64, count: i64, lo: i64, hi: i64) -> (i64, i64) {
    let j0 = if start >= lo {
        0
    } else {
        (lo - start + step - 1) / step
    };
    let j1 = if hi <= start {
        0
    } else {
        ((hi - 1 - start) / step + 1).min(count)
    };
    (j0, j1.max(j0))
}

impl Win {
    /// The taps of output `o` inside the input.
    fn valid(&self, o: i64) -> (i64, i64) {
        taps_within(o * self.s - self.pad, self.d, self.k, 0, self.len)
    }

    /// How many taps of output `o` an average divides by.
    fn count(&self, o: i64, include_pad: bool) -> i64 {
        let (j0, j1) = if include_pad {
            taps_within(
                o * self.s - self.pad,
                self.d,
                self.k,
                -self.pad,
                self.len + self.end,
            )
        } else {
            self.valid(o)
        };
        j1 - j0
    }

    fn pos(&self, o: i64, j: i64) -> i64 {
        o * self.s + j * self.d - self.pad
    }
}

/// MaxPool, AveragePool and LpPool over 1 to 3 spatial axes.
struct Pool {
    kind: PoolKind,
    sp: usize,
    kernel: Vec<i64>,
    strides: Vec<i64>,
    dil: Vec<i64>,
    /// Begin pads then end pads.
    pads: Vec<i64>,
    auto_pad: AutoPad,
    ceil: bool,
    count_pad: bool,
    /// MaxPool's second output (Indices) is wanted, in column-major order with `col_major`.
    indices: bool,
    col_major: bool,
}

fn build_max_pool(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build_pool(ctx, PoolKind::Max)
}

fn build_average_pool(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build_pool(ctx, PoolKind::Avg)
}

fn build_lp_pool(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build_pool(ctx, PoolKind::Lp(lp_p(ctx)?))
}

/// LpPool's p (an integer since opset 2).
fn lp_p(ctx: &NodeCtx) -> OpResult<i32> {
    let p = ctx.int("p", 2);
    if !(1..=64).contains(&p) {
        return Err(format!("p {p} is out of range (expected 1 to 64)"));
    }
    Ok(p as i32)
}

fn build_pool(ctx: &NodeCtx, kind: PoolKind) -> OpResult<Box<dyn Op>> {
    let kernel = ctx
        .ints("kernel_shape")
        .ok_or("the kernel_shape attribute is missing")?;
    let sp = kernel.len();
    if !(1..=3).contains(&sp) {
        return Err(format!(
            "kernel_shape {kernel:?}: the lite build pools over 1 to 3 spatial axes"
        ));
    }
    let kernel = list_attr(ctx, "kernel_shape", sp, 1, 1)?;
    let strides = list_attr(ctx, "strides", sp, 1, 1)?;
    let dil = list_attr(ctx, "dilations", sp, 1, 1)?;
    let pads = list_attr(ctx, "pads", 2 * sp, 0, 0)?;
    let indices = kind == PoolKind::Max && named_outputs(ctx) > 1;
    let col_major = match ctx.int("storage_order", 0) {
        0 => false,
        1 => true,
        o => return Err(format!("storage_order {o} is not 0 or 1")),
    };
    Ok(Box::new(Pool {
        kind,
        sp,
        kernel,
        strides,
        dil,
        pads,
        auto_pad: auto_pad(ctx)?,
        ceil: ctx.int("ceil_mode", 0) != 0,
        count_pad: ctx.int("count_include_pad", 0) != 0,
        indices,
        col_major,
    }))
}

impl Pool {
    /// The windows of the three spatial axes (the missing leading ones of size 1).
    fn windows(&self, spatial: &[usize]) -> OpResult<[Win; 3]> {
        let mut w = [NO_WIN; 3];
        for (i, &len) in spatial.iter().enumerate() {
            if len > MAX_ELEMENTS {
                return Err(format!("spatial size {len} is too large"));
            }
            let len = len as i64;
            let (k, s, d) = (self.kernel[i], self.strides[i], self.dil[i]);
            let ek = (k - 1) * d + 1;
            let (pb, pe) = (self.pads[i], self.pads[i + self.sp]);
            let (out, pad, end) = match self.auto_pad {
                AutoPad::NotSet => {
                    let span = len + pb + pe - ek;
                    if span < 0 {
                        return Err(format!(
                            "input size {len} (padded by {pb}+{pe}) is smaller than the \
                             window's extent {ek}"
                        ));
                    }
                    let out = if self.ceil {
                        let o = (span + s - 1) / s + 1;
                        // The last window must start inside the input or its begin pad.
                        if (o - 1) * s >= len + pb {
                            o - 1
                        } else {
                            o
                        }
                    } else {
                        span / s + 1
                    };
                    (out, pb, pe)
                }
                AutoPad::Valid => {
                    if len < ek {
                        return Err(format!(
                            "input size {len} is smaller than the window's extent {ek}"
                        ));
                    }
                    ((len - ek) / s + 1, 0, 0)
                }
                AutoPad::SameUpper | AutoPad::SameLower => {
                    let out = (len + s - 1) / s;
                    let total = ((out - 1) * s + ek - len).max(0);
                    let half = total / 2;
                    if self.auto_pad == AutoPad::SameUpper {
                        (out, half, total - half)
                    } else {
                        (out, total - half, half)
                    }
                }
            };
            if out > MAX_ELEMENTS as i64 {
                return Err(format!("the output size {out} is too large"));
            }
            w[3 - spatial.len() + i] = Win {
                len,
                out,
                k,
                s,
                d,
                pad,
                end,
            };
        }
        Ok(w)
    }
}

impl Op for Pool {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "X")?;
        let supported = match &xt.data {
            Data::F32(_) => true,
            Data::U8(_) | Data::I8(_) => self.kind == PoolKind::Max,
            _ => false,
        };
        if !supported {
            return Err(format!(
                "input X is {}: the lite build pools float32 (and uint8 and int8 to a maximum)",
                xt.dtype()
            ));
        }
        if xt.rank() != self.sp + 2 {
            return Err(format!(
                "input X has shape {:?}, expected rank {} for a {}-D pool",
                xt.shape,
                self.sp + 2,
                self.sp
            ));
        }
        let w = self.windows(&xt.shape[2..])?;
        let mut shape = xt.shape[..2].to_vec();
        shape.extend(w[3 - self.sp..].iter().map(|w| w.out as usize));
        let len = volume(&shape)?;
        let isz = volume(&xt.shape[2..])?;
        if len > 0 && isz == 0 {
            return Err(format!("input X of shape {:?} is empty", xt.shape));
        }
        if len == 0 {
            let empty = Data::F32(vec![]);
            let data = match xt.data {
                Data::U8(_) => Data::U8(vec![]),
                Data::I8(_) => Data::I8(vec![]),
                _ => empty,
            };
            let mut out = vec![Tensor::new(shape.clone(), data)?];
            if self.indices {
                out.push(Tensor::i64(shape, vec![]));
            }
            return Ok(out);
        }
        // pool_core's buffer: a row of output width per input row of a plane.
        volume(&[(w[0].len * w[1].len) as usize, w[2].out as usize])?;
        if self.indices {
            let (data, idx) = match &xt.data {
                Data::F32(x) => {
                    let (v, i) = max_pool_indices(x, len, &w, self.col_major);
                    (Data::F32(v), i)
                }
                Data::U8(x) => {
                    let (v, i) = max_pool_indices(x, len, &w, self.col_major);
                    (Data::U8(v), i)
                }
                Data::I8(x) => {
                    let (v, i) = max_pool_indices(x, len, &w, self.col_major);
                    (Data::I8(v), i)
                }
                _ => {
                    return Err(format!(
                        "input X is {}: the lite build pools float32, uint8 and int8 to a \
                         maximum",
                        xt.dtype()
                    ))
                }
            };
            return Ok(vec![
                Tensor::new(shape.clone(), data)?,
                Tensor::i64(shape, idx),
            ]);
        }
        let data = match (self.kind, &xt.data) {
            (PoolKind::Max, Data::F32(x)) if is_2x2(&w) => {
                Data::F32(pool_2x2(x, len, &w, Max, 1.0))
            }
            (PoolKind::Max, Data::F32(x)) => Data::F32(pool(x, len, &w, F_MAX)),
            (PoolKind::Avg, Data::F32(x)) if is_2x2(&w) => {
                Data::F32(pool_2x2(x, len, &w, Add, 0.25))
            }
            (PoolKind::Max, Data::U8(x)) => Data::U8(pool(x, len, &w, MaxAny)),
            (PoolKind::Max, Data::I8(x)) => Data::I8(pool(x, len, &w, MaxAny)),
            (PoolKind::Avg, Data::F32(x)) => {
                let mut out = pool(x, len, &w, fsum(Id));
                average(&mut out, &w, self.count_pad);
                Data::F32(out)
            }
            (PoolKind::Lp(p), Data::F32(x)) => {
                let mut out = match p {
                    1 => pool(x, len, &w, fsum(Abs)),
                    2 => pool(x, len, &w, fsum(Square)),
                    _ => pool(x, len, &w, fsum(AbsPow(p))),
                };
                lp_root(&mut out, p);
                Data::F32(out)
            }
            (_, _) => {
                return Err(format!(
                    "input X is {}: the lite build pools float32 (and uint8 and int8 to a \
                     maximum)",
                    xt.dtype()
                ))
            }
        };
        Ok(vec![Tensor::new(shape, data)?])
    }
}

/// What a pool computes: `tap` folds the inputs of a window along the width, `join` combines the
/// rows so folded. Both work on whole planes of rows, so that the per-call cost is paid per plane.
trait PoolOp<T: Copy>: Copy {
    fn id(self) -> T;
    /// For each row `r` of `d` (width `dw`) and of `s` (width `sw`), with `run = (lo, hi,
    /// start)`: `d[r][lo + i] = tap(d[r][lo + i], s[r][start + i * step])` for `i < hi - lo`.
    fn tap_rows(self, d: &mut [T], dw: usize, s: &[T], sw: usize, run: Run, step: usize);
    /// For each row `r` of `d` (width `w`): `d[r][i] = join(d[r][i], s[r * sw + i])`.
    fn join_rows(self, d: &mut [T], w: usize, s: &[T], sw: usize);
}

/// Outputs `lo..hi` of a tap, and the input position that output `lo` reads.
type Run = (usize, usize, usize);

/// Max pooling on any element type.
#[derive(Clone, Copy)]
struct MaxAny;

impl<T: Elem> PoolOp<T> for MaxAny {
    fn id(self) -> T {
        T::LOWEST
    }

    fn tap_rows(self, d: &mut [T], dw: usize, s: &[T], sw: usize, run: Run, step: usize) {
        let (lo, hi, start) = run;
        for (dr, sr) in d.chunks_exact_mut(dw.max(1)).zip(s.chunks(sw.max(1))) {
            let (Some(dr), Some(sr)) = (dr.get_mut(lo..hi), sr.get(start..)) else {
                continue;
            };
            for (i, d) in dr.iter_mut().enumerate() {
                if let Some(&v) = sr.get(i * step) {
                    *d = max_of(*d, v);
                }
            }
        }
    }

    fn join_rows(self, d: &mut [T], w: usize, s: &[T], sw: usize) {
        for (dr, sr) in d.chunks_exact_mut(w.max(1)).zip(s.chunks(sw.max(1))) {
            for (d, &v) in dr.iter_mut().zip(sr) {
                *d = max_of(*d, v);
            }
        }
    }
}

/// Float32 pooling on four lanes: `tap(a, v) = b(a, u(v))` and `join = b`.
#[derive(Clone, Copy)]
struct FPool<U, B> {
    u: U,
    b: B,
    id: f32,
}

const F_MAX: FPool<Id, Max> = FPool {
    u: Id,
    b: Max,
    id: f32::NEG_INFINITY,
};

fn fsum<U: Una>(u: U) -> FPool<U, Add> {
    FPool { u, b: Add, id: 0.0 }
}

impl<U: Una, B: Bin> PoolOp<f32> for FPool<U, B> {
    fn id(self) -> f32 {
        self.id
    }

    fn tap_rows(self, d: &mut [f32], dw: usize, s: &[f32], sw: usize, run: Run, step: usize) {
        let (lo, hi, start) = run;
        if (lo, hi, start, step) == (0, dw, 0, 1) && dw == sw {
            // Every column of every row: one pass over the plane.
            return zip_f(d, s, self.u, self.b);
        }
        for (dr, sr) in d.chunks_exact_mut(dw.max(1)).zip(s.chunks(sw.max(1))) {
            let (Some(dr), Some(sr)) = (dr.get_mut(lo..hi), sr.get(start..)) else {
                continue;
            };
            match step {
                1 => zip_f(dr, sr, self.u, self.b),
                2 => zip_f_evens(dr, sr, self.u, self.b),
                _ => {
                    for (i, d) in dr.iter_mut().enumerate() {
                        if let Some(&v) = sr.get(i * step) {
                            *d = self.b.s(*d, self.u.s(v));
                        }
                    }
                }
            }
        }
    }

    fn join_rows(self, d: &mut [f32], w: usize, s: &[f32], sw: usize) {
        if sw == w {
            return zip_f(d, s, Id, self.b);
        }
        for (dr, sr) in d.chunks_exact_mut(w.max(1)).zip(s.chunks(sw.max(1))) {
            zip_f(dr, sr, Id, self.b);
        }
    }
}

fn pool<T: Copy, P: PoolOp<T>>(x: &[T], len: usize, w: &[Win; 3], p: P) -> Vec<T> {
    let mut out = vec![p.id(); len];
    pool_core(x, &mut out, w, p);
    out
}

/// Whether every window is 2x2 with stride 2 and wholly inside the input (the common pool).
fn is_2x2(w: &[Win; 3]) -> bool {
    let [wd, wh, ww] = w;
    let trivial = wd.len == 1 && wd.out == 1 && wd.k == 1 && wd.pad == 0;
    let two = |w: &Win| (w.k, w.s, w.d, w.pad) == (2, 2, 1, 0) && 2 * w.out <= w.len;
    trivial && two(wh) && two(ww)
}

/// 2x2 windows of stride 2 in one pass: `b` over the four inputs, times `scale`.
#[allow(clippy::needless_range_loop)]
fn pool_2x2(x: &[f32], len: usize, w: &[Win; 3], b: impl Bin, scale: f32) -> Vec<f32> {
    let mut out = vec![0f32; len];
    let (ih, iw) = (w[1].len as usize, w[2].len as usize);
    let (oh, ow) = (w[1].out as usize, w[2].out as usize);
    if ih * iw == 0 || oh * ow == 0 {
        return out;
    }
    let k = F4::splat(scale);
    for (src, dst) in x.chunks_exact(ih * iw).zip(out.chunks_exact_mut(oh * ow)) {
        for (oy, d) in dst.chunks_exact_mut(ow).enumerate() {
            let (Some(r0), Some(r1)) = (
                src.get(2 * oy * iw..(2 * oy + 1) * iw),
                src.get((2 * oy + 1) * iw..(2 * oy + 2) * iw),
            ) else {
                continue;
            };
            let (dq, _) = d.as_chunks_mut::<4>();
            let (o0, _) = r0.as_chunks::<8>();
            let (o1, _) = r1.as_chunks::<8>();
            let done = least(dq.len(), least(o0.len(), o1.len()));
            for i in 0..done {
                let ((e0, d0), (e1, d1)) = (F4::pairs(&o0[i]), F4::pairs(&o1[i]));
                b.v(b.v(e0, d0), b.v(e1, d1)).mul(k).store(&mut dq[i]);
            }
            for i in 4 * done..least(ow, least(r0.len(), r1.len()) / 2) {
                let (a, c) = (b.s(r0[2 * i], r0[2 * i + 1]), b.s(r1[2 * i], r1[2 * i + 1]));
                d[i] = b.s(a, c) * scale;
            }
        }
    }
    out
}

/// The p-th root of each sum of |x|^p.
fn lp_root(v: &mut [f32], p: i32) {
    match p {
        1 => {}
        2 => map_f(v, Sqrt),
        _ => {
            let e = 1.0 / p as f32;
            v.iter_mut().for_each(|x| *x = x.powf(e));
        }
    }
}

/// Divides each window's sum by its number of taps (inside the input, or inside the padded
/// input with `include_pad`).
fn average(out: &mut [f32], w: &[Win; 3], include_pad: bool) {
    let counts =
        |w: &Win| -> Vec<f32> { (0..w.out).map(|o| w.count(o, include_pad) as f32).collect() };
    let [cz, cy, cx] = [counts(&w[0]), counts(&w[1]), counts(&w[2])];
    let mut den = cx.clone();
    let rows = cz.len() * cy.len();
    for (r, orow) in out.chunks_exact_mut(cx.len().max(1)).enumerate() {
        let r = r % rows.max(1);
        let czy = cz.get(r / cy.len()).unwrap_or(&1.0) * cy.get(r % cy.len()).unwrap_or(&1.0);
        map_from(&mut den, &cx, Scale(czy));
        zip_f(orow, &den, Id, Div);
    }
}

/// Where the taps of a window fall along one axis, computed once per run.
struct Plan {
    /// Per output: the first input position inside the input and how many taps are inside
    /// (at that position plus multiples of the dilation).
    rows: Vec<(usize, usize)>,
    /// Per tap: the outputs it reaches inside the input.
    runs: Vec<Run>,
    step: usize,
    dil: usize,
}

impl Plan {
    fn new(w: &Win) -> Plan {
        let rows = (0..w.out)
            .map(|o| {
                let (j0, j1) = w.valid(o);
                (w.pos(o, j0).max(0) as usize, (j1 - j0) as usize)
            })
            .collect();
        let (j0, j1) = taps_within(-w.pad, w.d, w.k, -(w.out - 1) * w.s, w.len);
        let runs = (j0..j1)
            .filter_map(|j| {
                let off = j * w.d - w.pad;
                let (lo, hi) = taps_within(off, w.s, w.out, 0, w.len);
                (lo < hi).then(|| (lo as usize, hi as usize, (off + lo * w.s) as usize))
            })
            .collect();
        Plan {
            rows,
            runs,
            step: w.s as usize,
            dil: w.d as usize,
        }
    }
}

/// Pools every plane of `x` into `out`: first along the width (every input row of the plane
/// into a row of output width, one pass per tap), then along the height (per tap, the block of
/// output rows it reaches) and the depth. Only the taps inside the input are visited: there is
/// no per-tap bounds check.
fn pool_core<T: Copy, P: PoolOp<T>>(x: &[T], out: &mut [T], w: &[Win; 3], p: P) {
    let [pd, ph, pw] = [Plan::new(&w[0]), Plan::new(&w[1]), Plan::new(&w[2])];
    let (id, ih, iw) = (w[0].len as usize, w[1].len as usize, w[2].len as usize);
    let (oh, ow) = (ph.rows.len(), pw.rows.len());
    let (isz, osz) = (id * ih * iw, pd.rows.len() * oh * ow);
    if isz == 0 || osz == 0 {
        return;
    }
    let mut h = vec![p.id(); id * ih * ow];
    for (src, dst) in x.chunks_exact(isz).zip(out.chunks_exact_mut(osz)) {
        h.fill(p.id());
        for &run in &pw.runs {
            p.tap_rows(&mut h, ow, src, iw, run, pw.step);
        }
        dst.fill(p.id());
        for (block, &(z0, nz)) in dst.chunks_exact_mut(oh * ow).zip(&pd.rows) {
            for iz in (0..nz).map(|j| z0 + j * pd.dil) {
                let Some(plane) = h.get(iz * ih * ow..(iz + 1) * ih * ow) else {
                    continue;
                };
                for &(lo, hi, start) in &ph.runs {
                    if let (Some(d), Some(s)) =
                        (block.get_mut(lo * ow..hi * ow), plane.get(start * ow..))
                    {
                        p.join_rows(d, ow, s, ph.step * ow);
                    }
                }
            }
        }
    }
}

/// MaxPool with its Indices output: the flat index (over the whole input) of each window's
/// first maximum, the spatial part in row-major or column-major order.
fn max_pool_indices<T: Elem>(
    x: &[T],
    len: usize,
    w: &[Win; 3],
    col_major: bool,
) -> (Vec<T>, Vec<i64>) {
    let [wd, wh, ww] = w;
    let isz = wd.len * wh.len * ww.len;
    let osz = (wd.out * wh.out * ww.out) as usize;
    let (sz, sy, sx) = if col_major {
        (1, wd.len, wd.len * wh.len)
    } else {
        (wh.len * ww.len, ww.len, 1)
    };
    let mut out = vec![T::LOWEST; len];
    let mut idx = vec![-1i64; len];
    if osz == 0 {
        return (out, idx);
    }
    for (p, (o, oi)) in out
        .chunks_exact_mut(osz)
        .zip(idx.chunks_exact_mut(osz))
        .enumerate()
    {
        let base = p as i64 * isz;
        let mut at = 0;
        for oz in 0..wd.out {
            let (z0, z1) = wd.valid(oz);
            for oy in 0..wh.out {
                let (y0, y1) = wh.valid(oy);
                for ox in 0..ww.out {
                    let (x0, x1) = ww.valid(ox);
                    let mut best: Option<(T, i64)> = None;
                    for jz in z0..z1 {
                        let iz = wd.pos(oz, jz);
                        for jy in y0..y1 {
                            let iy = wh.pos(oy, jy);
                            for jx in x0..x1 {
                                let ix = ww.pos(ox, jx);
                                let flat = (iz * wh.len + iy) * ww.len + ix;
                                let Some(&v) = x.get((base + flat) as usize) else {
                                    continue;
                                };
                                if best.is_none_or(|(b, _)| v > b) {
                                    best = Some((v, base + iz * sz + iy * sy + ix * sx));
                                }
                            }
                        }
                    }
                    if let (Some((v, i)), Some(d), Some(di)) = (best, o.get_mut(at), oi.get_mut(at))
                    {
                        *d = v;
                        *di = i;
                    }
                    at += 1;
                }
            }
        }
    }
    (out, idx)
}

/// GlobalMaxPool, GlobalAveragePool and GlobalLpPool: one value per (batch, channel) plane.
struct GlobalPool {
    kind: PoolKind,
}

fn build_global_max_pool(_: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(GlobalPool {
        kind: PoolKind::Max,
    }))
}

fn build_global_average_pool(_: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(GlobalPool {
        kind: PoolKind::Avg,
    }))
}

fn build_global_lp_pool(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(GlobalPool {
        kind: PoolKind::Lp(lp_p(ctx)?),
    }))
}

fn global_max<T: Elem>(x: &[T], planes: usize, isz: usize) -> Vec<T> {
    if isz == 0 {
        return vec![T::LOWEST; planes];
    }
    x.chunks_exact(isz)
        .map(|p| fold(p, T::LOWEST, |v| v, max_of))
        .collect()
}

impl Op for GlobalPool {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "X")?;
        if xt.rank() < 2 {
            return Err(format!(
                "input X has shape {:?}, expected at least 2 dimensions (N, C, ...)",
                xt.shape
            ));
        }
        let planes = volume(&xt.shape[..2])?;
        let isz = volume(&xt.shape[2..])?;
        let mut shape = xt.shape[..2].to_vec();
        shape.resize(xt.rank(), 1);
        let data = match (self.kind, &xt.data) {
            (PoolKind::Max, Data::F32(x)) => Data::F32(if isz == 0 {
                vec![f32::NEG_INFINITY; planes]
            } else {
                x.chunks_exact(isz).map(max).collect()
            }),
            (PoolKind::Max, Data::U8(x)) => Data::U8(global_max(x, planes, isz)),
            (PoolKind::Max, Data::I8(x)) => Data::I8(global_max(x, planes, isz)),
            (PoolKind::Avg, Data::F32(x)) => Data::F32(if isz == 0 {
                vec![f32::NAN; planes]
            } else {
                x.chunks_exact(isz).map(|p| sum(p) / isz as f32).collect()
            }),
            (PoolKind::Lp(p), Data::F32(x)) => {
                let mut v: Vec<f32> = if isz == 0 {
                    vec![0.0; planes]
                } else {
                    x.chunks_exact(isz)
                        .map(|c| match p {
                            1 => fold_f(c, 0.0, Abs, Add),
                            2 => fold_f(c, 0.0, Square, Add),
                            _ => fold_f(c, 0.0, AbsPow(p), Add),
                        })
                        .collect()
                };
                lp_root(&mut v, p);
                Data::F32(v)
            }
            (_, _) => {
                return Err(format!(
                    "input X is {}: the lite build pools float32 (and uint8 and int8 to a \
                     maximum)",
                    xt.dtype()
                ))
            }
        };
        Ok(vec![Tensor::new(shape, data)?])
    }
}

// ---------------------------------------------------------------------------------------------
// Normalisations

/// BatchNormalization. In inference, `y = x * a + b` per channel with `a = scale / sqrt(var +
/// epsilon)` and `b = B - mean * a`, computed at load when the four are constants. In training
/// mode (opset 14+) the batch's own mean and variance are used, and the updated running mean and
/// variance are outputs 1 and 2.
struct BatchNorm {
    eps: f32,
    momentum: f32,
    training: bool,
    ab: Option<(Vec<f32>, Vec<f32>)>,
}

fn bn_coefficients(p: [&[f32]; 4], eps: f32) -> OpResult<(Vec<f32>, Vec<f32>)> {
    let [scale, bias, mean, var] = p;
    let n = scale.len();
    if bias.len() != n || mean.len() != n || var.len() != n {
        return Err(format!(
            "scale, B, mean and var have {n}, {}, {} and {} values, expected the same number",
            bias.len(),
            mean.len(),
            var.len()
        ));
    }
    let a: Vec<f32> = scale
        .iter()
        .zip(var)
        .map(|(&s, &v)| s / (v + eps).sqrt())
        .collect();
    let b = bias
        .iter()
        .zip(mean)
        .zip(&a)
        .map(|((&b, &m), &a)| b - m * a)
        .collect();
    Ok((a, b))
}

const BN_INPUTS: [&str; 4] = ["scale", "B", "input_mean", "input_var"];

fn build_batch_norm(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let eps = ctx.float("epsilon", 1e-5);
    let training = ctx.opset >= 14 && ctx.int("training_mode", 0) != 0;
    if !training && named_outputs(ctx) > 1 {
        return Err(format!(
            "outputs beyond Y are training outputs, which the lite build computes only with \
             training_mode = 1 (opset 14 and later; the model imports opset {})",
            ctx.opset
        ));
    }
    let consts: Vec<&[f32]> = (1..=4)
        .filter_map(|i| ctx.consts.get(i).copied().flatten())
        .filter_map(|t| t.as_f32().ok())
        .collect();
    let ab = match consts[..] {
        [s, b, m, v] if !training => Some(bn_coefficients([s, b, m, v], eps)?),
        _ => None,
    };
    Ok(Box::new(BatchNorm {
        eps,
        momentum: ctx.float("momentum", 0.9),
        training,
        ab,
    }))
}

fn bn_params<'a>(inputs: &[Option<&'a Tensor>]) -> OpResult<[&'a [f32]; 4]> {
    let get = |i: usize| input(inputs, i + 1, BN_INPUTS[i]).and_then(|t| f32s(t, BN_INPUTS[i]));
    Ok([get(0)?, get(1)?, get(2)?, get(3)?])
}

impl Op for BatchNorm {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "X")?;
        let x = f32s(xt, "X")?;
        if xt.rank() < 2 {
            return Err(format!(
                "input X has shape {:?}, expected at least 2 dimensions (N, C, ...)",
                xt.shape
            ));
        }
        let c = xt.shape[1];
        let inner = volume(&xt.shape[2..])?;
        if self.training {
            return self.train(xt, x, c, inner, bn_params(inputs)?);
        }
        let run_ab;
        let (a, b) = match &self.ab {
            Some((a, b)) => (a, b),
            None => {
                run_ab = bn_coefficients(bn_params(inputs)?, self.eps)?;
                (&run_ab.0, &run_ab.1)
            }
        };
        let mut out = vec![0f32; x.len()];
        if !x.is_empty() {
            if a.len() == c {
                for (i, (o, xi)) in out
                    .chunks_exact_mut(inner)
                    .zip(x.chunks_exact(inner))
                    .enumerate()
                {
                    map_from(o, xi, Affine(a[i % c], b[i % c]));
                }
            } else if a.len() == volume(&xt.shape[1..])? {
                // spatial = 0 (opsets 7 and 8): one coefficient per element of a sample.
                for (o, xi) in out.chunks_exact_mut(a.len()).zip(x.chunks_exact(a.len())) {
                    for (((o, &v), &av), &bv) in o.iter_mut().zip(xi).zip(a).zip(b) {
                        *o = v * av + bv;
                    }
                }
            } else {
                return Err(format!(
                    "scale has {} values, expected one per channel ({c})",
                    a.len()
                ));
            }
        }
        Ok(vec![Tensor::f32(xt.shape.clone(), out)])
    }
}

impl BatchNorm {
    fn train(
        &self,
        xt: &Tensor,
        x: &[f32],
        c: usize,
        inner: usize,
        p: [&[f32]; 4],
    ) -> OpResult<Vec<Tensor>> {
        let [scale, bias, rmean, rvar] = p;
        if [scale, bias, rmean, rvar].iter().any(|v| v.len() != c) {
            return Err(format!(
                "scale, B, mean and var must have one value per channel ({c})"
            ));
        }
        let count = (x.len() / c.max(1)) as f32;
        let mut mean = vec![0f32; c];
        let mut var = vec![0f32; c];
        if inner > 0 {
            for (i, xi) in x.chunks_exact(inner).enumerate() {
                mean[i % c] += sum(xi);
            }
            mean.iter_mut().for_each(|m| *m /= count);
            for (i, xi) in x.chunks_exact(inner).enumerate() {
                var[i % c] += fold_f(xi, 0.0, SqDiff(mean[i % c]), Add);
            }
            var.iter_mut().for_each(|v| *v /= count);
        }
        let (a, b) = bn_coefficients([scale, bias, &mean, &var], self.eps)?;
        let mut out = vec![0f32; x.len()];
        if inner > 0 {
            for (i, (o, xi)) in out
                .chunks_exact_mut(inner)
                .zip(x.chunks_exact(inner))
                .enumerate()
            {
                map_from(o, xi, Affine(a[i % c], b[i % c]));
            }
        }
        let m = self.momentum;
        let update = |run: &[f32], cur: &[f32]| -> Vec<f32> {
            run.iter()
                .zip(cur)
                .map(|(&r, &v)| r * m + v * (1.0 - m))
                .collect()
        };
        Ok(vec![
            Tensor::f32(xt.shape.clone(), out),
            Tensor::f32(vec![c], update(rmean, &mean)),
            Tensor::f32(vec![c], update(rvar, &var)),
        ])
    }
}

/// The mean and variance of `v` (two passes, over `v.len()`).
fn moments(v: &[f32]) -> (f32, f32) {
    let n = v.len() as f32;
    let mean = sum(v) / n;
    let var = fold_f(v, 0.0, SqDiff(mean), Add) / n;
    (mean, var)
}

/// InstanceNormalization: each (batch, channel) plane normalised by its own mean and variance.
struct InstanceNorm {
    eps: f32,
}

fn build_instance_norm(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(InstanceNorm {
        eps: ctx.float("epsilon", 1e-5),
    }))
}

impl Op for InstanceNorm {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "input")?;
        let x = f32s(xt, "input")?;
        let scale = f32s(input(inputs, 1, "scale")?, "scale")?;
        let bias = f32s(input(inputs, 2, "B")?, "B")?;
        if xt.rank() < 2 {
            return Err(format!(
                "input has shape {:?}, expected at least 2 dimensions (N, C, ...)",
                xt.shape
            ));
        }
        let c = xt.shape[1];
        if scale.len() != c || bias.len() != c {
            return Err(format!(
                "scale and B have {} and {} values, expected one per channel ({c})",
                scale.len(),
                bias.len()
            ));
        }
        let inner = volume(&xt.shape[2..])?;
        let mut out = vec![0f32; x.len()];
        if inner > 0 {
            for (i, (o, xi)) in out
                .chunks_exact_mut(inner)
                .zip(x.chunks_exact(inner))
                .enumerate()
            {
                let (mean, var) = moments(xi);
                let a = scale[i % c] / (var + self.eps).sqrt();
                map_from(o, xi, Affine(a, bias[i % c] - mean * a));
            }
        }
        Ok(vec![Tensor::f32(xt.shape.clone(), out)])
    }
}

/// LayerNormalization over the axes from `axis` on, with outputs Mean and InvStdDev when named.
struct LayerNorm {
    axis: i64,
    eps: f32,
    outputs: usize,
}

fn build_layer_norm(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(LayerNorm {
        axis: ctx.int("axis", -1),
        eps: ctx.float("epsilon", 1e-5),
        outputs: named_outputs(ctx).clamp(1, 3),
    }))
}

/// A per-column parameter of `cols` values (or one, repeated).
fn per_column<'a>(v: &'a [f32], cols: usize, name: &str) -> OpResult<Cow<'a, [f32]>> {
    match v.len() {
        n if n == cols => Ok(Cow::Borrowed(v)),
        1 => Ok(Cow::Owned(vec![v[0]; cols])),
        n => Err(format!(
            "{name} has {n} values, expected {cols} (the size of the normalised axes)"
        )),
    }
}

impl Op for LayerNorm {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "X")?;
        let x = f32s(xt, "X")?;
        let a = axis(self.axis, xt.rank())?;
        let rows = volume(&xt.shape[..a])?;
        let cols = volume(&xt.shape[a..])?;
        let scale = per_column(f32s(input(inputs, 1, "Scale")?, "Scale")?, cols, "Scale")?;
        let bias = match inputs.get(2).copied().flatten() {
            Some(t) => Some(per_column(f32s(t, "B")?, cols, "B")?),
            None => None,
        };
        let mut out = vec![0f32; x.len()];
        let mut means = vec![0f32; rows];
        let mut invs = vec![0f32; rows];
        if cols > 0 {
            for (((o, xi), m), iv) in out
                .chunks_exact_mut(cols)
                .zip(x.chunks_exact(cols))
                .zip(&mut means)
                .zip(&mut invs)
            {
                let (mean, var) = moments(xi);
                let inv = 1.0 / (var + self.eps).sqrt();
                map_from(o, xi, Center(mean, inv));
                zip_f(o, &scale, Id, Mul);
                if let Some(b) = &bias {
                    zip_f(o, b, Id, Add);
                }
                (*m, *iv) = (mean, inv);
            }
        }
        let mut stat_shape = xt.shape[..a].to_vec();
        stat_shape.resize(xt.rank(), 1);
        let mut res = vec![Tensor::f32(xt.shape.clone(), out)];
        if self.outputs > 1 {
            res.push(Tensor::f32(stat_shape.clone(), means));
        }
        if self.outputs > 2 {
            res.push(Tensor::f32(stat_shape, invs));
        }
        Ok(res)
    }
}

/// LRN: `x / (bias + alpha / size * sum of the squares over channels c - floor((size - 1) / 2)
/// ..= c + ceil((size - 1) / 2)) ^ beta`.
struct Lrn {
    size: usize,
    alpha: f32,
    beta: f32,
    bias: f32,
}

fn build_lrn(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let size = ctx.int("size", 0);
    if !(1..=MAX_ELEMENTS as i64).contains(&size) {
        return Err(format!("size {size} is out of range (expected 1 or more)"));
    }
    Ok(Box::new(Lrn {
        size: size as usize,
        alpha: ctx.float("alpha", 1e-4),
        beta: ctx.float("beta", 0.75),
        bias: ctx.float("bias", 1.0),
    }))
}

impl Op for Lrn {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "X")?;
        let x = f32s(xt, "X")?;
        if xt.rank() < 2 {
            return Err(format!(
                "input X has shape {:?}, expected at least 2 dimensions (N, C, ...)",
                xt.shape
            ));
        }
        if x.is_empty() {
            return Ok(vec![Tensor::f32(xt.shape.clone(), vec![])]);
        }
        let inner = volume(&xt.shape[2..])?;
        let sample = volume(&xt.shape[1..])?;
        let mut out = vec![0f32; x.len()];
        let (before, after) = ((self.size - 1) / 2, self.size / 2);
        let k = self.alpha / self.size as f32;
        let mut sq = vec![0f32; sample];
        let mut acc = vec![0f32; inner];
        if sample > 0 && inner > 0 {
            for (o, xi) in out.chunks_exact_mut(sample).zip(x.chunks_exact(sample)) {
                map_from(&mut sq, xi, Square);
                let planes = o.chunks_exact_mut(inner).zip(xi.chunks_exact(inner));
                for (ch, (o, xi)) in planes.enumerate() {
                    acc.fill(0.0);
                    let lo = ch.saturating_sub(before);
                    let hi = ch.saturating_add(after);
                    for plane in sq.chunks_exact(inner).take(hi.saturating_add(1)).skip(lo) {
                        zip_f(&mut acc, plane, Id, Add);
                    }
                    self.scale_row(o, xi, &acc, k);
                }
            }
        }
        Ok(vec![Tensor::f32(xt.shape.clone(), out)])
    }
}

impl Lrn {
    /// `o = x * (bias + k * acc) ^ -beta`, without `powf` for the usual betas.
    #[allow(clippy::needless_range_loop)]
    fn scale_row(&self, o: &mut [f32], x: &[f32], acc: &[f32], k: f32) {
        let n = least(o.len(), least(x.len(), acc.len()));
        let (oq, or) = o[..n].as_chunks_mut::<4>();
        let (xq, xr) = x[..n].as_chunks::<4>();
        let (aq, ar) = acc[..n].as_chunks::<4>();
        let (bias, beta) = (self.bias, self.beta);
        let (vb, vk, one) = (F4::splat(bias), F4::splat(k), F4::splat(1.0));
        for i in 0..least(oq.len(), least(xq.len(), aq.len())) {
            let t = vb.add(vk.mul(F4::load(&aq[i])));
            let f = if beta == 0.75 {
                let r = t.sqrt();
                one.div(r.mul(r.sqrt()))
            } else if beta == 0.5 {
                one.div(t.sqrt())
            } else if beta == 1.0 {
                one.div(t)
            } else {
                F4::from_lanes(t.lanes().map(|t| inv_pow(t, beta)))
            };
            F4::load(&xq[i]).mul(f).store(&mut oq[i]);
        }
        for i in 0..least(or.len(), least(xr.len(), ar.len())) {
            or[i] = xr[i] * inv_pow(bias + k * ar[i], beta);
        }
    }
}

/// `t ^ -beta`, without `powf` for the usual betas.
#[inline(always)]
fn inv_pow(t: f32, beta: f32) -> f32 {
    if beta == 0.75 {
        let r = t.sqrt();
        1.0 / (r * r.sqrt())
    } else if beta == 0.5 {
        1.0 / t.sqrt()
    } else if beta == 1.0 {
        1.0 / t
    } else {
        t.powf(-beta)
    }
}

// ---------------------------------------------------------------------------------------------
// Softmax, LogSoftmax, Hardmax

#[derive(Clone, Copy, PartialEq, Debug)]
enum Soft {
    Softmax,
    LogSoftmax,
    Hardmax,
}

/// Before opset 13 the input is seen as a matrix `[prod(dims[..axis]), prod(dims[axis..])]`
/// (`legacy`); from 13 on, the operation runs along `axis` alone.
struct Softmax {
    kind: Soft,
    axis: i64,
    legacy: bool,
}

fn build_soft(ctx: &NodeCtx, kind: Soft) -> OpResult<Box<dyn Op>> {
    let legacy = ctx.opset < 13;
    Ok(Box::new(Softmax {
        kind,
        axis: ctx.int("axis", if legacy { 1 } else { -1 }),
        legacy,
    }))
}

fn build_softmax(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build_soft(ctx, Soft::Softmax)
}

fn build_log_softmax(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build_soft(ctx, Soft::LogSoftmax)
}

fn build_hardmax(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build_soft(ctx, Soft::Hardmax)
}

impl Op for Softmax {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "input")?;
        let x = f32s(xt, "input")?;
        let r = xt.rank();
        let a = if r == 0 { 0 } else { axis(self.axis, r)? };
        let (n, inner) = if self.legacy || r == 0 {
            (volume(&xt.shape[a..])?, 1)
        } else {
            let (_, n, inner) = split3(&xt.shape, a)?;
            (n, inner)
        };
        let mut out = x.to_vec();
        if !out.is_empty() {
            if inner == 1 {
                for row in out.chunks_exact_mut(n) {
                    soft_row(row, self.kind);
                }
            } else {
                let mut s = vec![0f32; 3 * inner];
                for blk in out.chunks_exact_mut(n * inner) {
                    soft_block(blk, inner, self.kind, &mut s);
                }
            }
        }
        Ok(vec![Tensor::f32(xt.shape.clone(), out)])
    }
}

/// Softmax, LogSoftmax or Hardmax of one contiguous row, in place.
fn soft_row(row: &mut [f32], kind: Soft) {
    let m = max(row);
    match kind {
        Soft::Softmax => {
            map_f(row, ExpDiff(m));
            let inv = 1.0 / sum(row);
            map_f(row, Scale(inv));
        }
        Soft::LogSoftmax => {
            let s = fold_f(row, 0.0, ExpDiff(m), Add);
            map_f(row, Less(m + s.ln()));
        }
        Soft::Hardmax => {
            let at = row.iter().position(|&v| v == m).unwrap_or(0);
            row.fill(0.0);
            if let Some(v) = row.get_mut(at) {
                *v = 1.0;
            }
        }
    }
}

/// The same along the rows of a block of `inner` columns (each column is one softmax), with
/// `s` as scratch (3 * inner).
fn soft_block(blk: &mut [f32], inner: usize, kind: Soft, s: &mut [f32]) {
    let (m, rest) = s.split_at_mut(inner);
    let (acc, t) = rest.split_at_mut(inner);
    let mut rows = blk.chunks_exact_mut(inner);
    let Some(first) = rows.next() else { return };
    m.copy_from_slice(first);
    for row in rows {
        zip_f(m, row, Id, Max);
    }
    match kind {
        Soft::Softmax => {
            acc.fill(0.0);
            for row in blk.chunks_exact_mut(inner) {
                zip_f(row, m, Id, ExpSub);
                zip_f(acc, row, Id, Add);
            }
            map_f(acc, Recip);
            for row in blk.chunks_exact_mut(inner) {
                zip_f(row, acc, Id, Mul);
            }
        }
        Soft::LogSoftmax => {
            acc.fill(0.0);
            for row in blk.chunks_exact(inner) {
                t.copy_from_slice(row);
                zip_f(t, m, Id, ExpSub);
                zip_f(acc, t, Id, Add);
            }
            for (a, &m) in acc.iter_mut().zip(m.iter()) {
                *a = m + a.ln();
            }
            for row in blk.chunks_exact_mut(inner) {
                zip_f(row, acc, Id, Sub);
            }
        }
        Soft::Hardmax => {
            // The row of each column's first maximum.
            let mut at = vec![usize::MAX; inner];
            for (j, row) in blk.chunks_exact(inner).enumerate() {
                for ((&v, &m), a) in row.iter().zip(m.iter()).zip(at.iter_mut()) {
                    if *a == usize::MAX && v == m {
                        *a = j;
                    }
                }
            }
            for (j, row) in blk.chunks_exact_mut(inner).enumerate() {
                for (v, &a) in row.iter_mut().zip(at.iter()) {
                    *v = if a == j { 1.0 } else { 0.0 };
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dropout

/// Dropout at inference: the identity, and an all-true mask when output 1 is named. A true
/// training_mode (opset 12+) is an error unless the ratio is 0.
struct Dropout {
    opset: i64,
    mask: bool,
}

fn build_dropout(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Dropout {
        opset: ctx.opset,
        mask: named_outputs(ctx) > 1,
    }))
}

impl Op for Dropout {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "data")?;
        if self.opset >= 12 {
            if let Some(t) = inputs.get(2).copied().flatten() {
                let training = t.to_i64s()?.iter().any(|&v| v != 0);
                let ratio = match inputs.get(1).copied().flatten() {
                    Some(r) => scalar_f32(r, "ratio")?,
                    None => 0.5,
                };
                if training && ratio != 0.0 {
                    return Err(format!(
                        "training_mode is true with ratio {ratio}: random dropout is not in the \
                         lite build, which runs inference"
                    ));
                }
            }
        }
        let mut out = vec![xt.clone()];
        if self.mask {
            let n = xt.len();
            out.push(if self.opset >= 10 {
                Tensor::bool(xt.shape.clone(), vec![true; n])
            } else {
                Tensor::f32(xt.shape.clone(), vec![1.0; n])
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Reductions

#[derive(Clone, Copy, PartialEq, Debug)]
enum Red {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    SumSquare,
    LogSum,
    LogSumExp,
}

/// The Reduce* operators. `axes` is an attribute before opset 18 (ReduceSum: 13) and an
/// optional input from then on. No axes means all of them, or none with noop_with_empty_axes
/// (each element then goes through the reduction's own functions: |x| for ReduceL1, x² for
/// ReduceSumSquare, as in the ONNX reference).
struct Reduce {
    red: Red,
    keepdims: bool,
    noop: bool,
    axes: Param<Vec<i64>>,
}

fn build_reduce(ctx: &NodeCtx, red: Red) -> OpResult<Box<dyn Op>> {
    let from_input = ctx.opset >= if red == Red::Sum { 13 } else { 18 };
    let (axes, noop) = if from_input {
        (
            Param::of_input(ctx, 1, "axes", parse_ints)?,
            ctx.int("noop_with_empty_axes", 0) != 0,
        )
    } else {
        (ctx.ints("axes").map_or(Param::Absent, Param::Known), false)
    };
    Ok(Box::new(Reduce {
        red,
        keepdims: ctx.int("keepdims", 1) != 0,
        noop,
        axes,
    }))
}

macro_rules! reduce_builders {
    ($($name:ident => $red:expr),* $(,)?) => {$(
        fn $name(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
            build_reduce(ctx, $red)
        }
    )*};
}

reduce_builders! {
    build_reduce_sum => Red::Sum,
    build_reduce_mean => Red::Mean,
    build_reduce_max => Red::Max,
    build_reduce_min => Red::Min,
    build_reduce_prod => Red::Prod,
    build_reduce_l1 => Red::L1,
    build_reduce_l2 => Red::L2,
    build_reduce_sum_square => Red::SumSquare,
    build_reduce_log_sum => Red::LogSum,
    build_reduce_log_sum_exp => Red::LogSumExp,
}

/// The layout of a reduction: runs of adjacent axes that are all reduced or all kept, outermost
/// first (axes of size 1 left out).
fn reduce_groups(shape: &[usize], reduced: &[bool]) -> Vec<(usize, bool)> {
    let mut groups: Vec<(usize, bool)> = vec![];
    for (&d, &r) in shape.iter().zip(reduced) {
        if d == 1 {
            continue;
        }
        match groups.last_mut() {
            Some(g) if g.1 == r => g.0 *= d,
            _ => groups.push((d, r)),
        }
    }
    groups
}

/// Applies `pass(data, n, inner, first)` to each reduced group, innermost first; with no
/// reduced group, `map` on each element.
fn reduce_passes<T: Copy>(
    x: &[T],
    groups: &[(usize, bool)],
    map: impl Fn(T) -> T,
    pass: impl Fn(&[T], usize, usize, bool) -> Vec<T>,
) -> Vec<T> {
    let mut sizes: Vec<usize> = groups.iter().map(|g| g.0).collect();
    let mut cur: Option<Vec<T>> = None;
    for g in (0..groups.len()).rev().filter(|&g| groups[g].1) {
        let inner = sizes[g + 1..].iter().product();
        let next = pass(cur.as_deref().unwrap_or(x), sizes[g], inner, cur.is_none());
        cur = Some(next);
        sizes[g] = 1;
    }
    cur.unwrap_or_else(|| x.iter().map(|&v| map(v)).collect())
}

/// Reduces the middle axis of `x` seen as `[outer, n, inner]`: `op` over `map` of each element
/// (the integer types).
fn reduce_pass<T: Copy>(
    x: &[T],
    n: usize,
    inner: usize,
    id: T,
    map: impl Fn(T) -> T + Copy,
    op: impl Fn(T, T) -> T + Copy,
) -> Vec<T> {
    let blk = n * inner;
    if blk == 0 {
        return vec![];
    }
    let mut out = vec![id; x.len() / blk * inner];
    if inner == 1 {
        for (o, row) in out.iter_mut().zip(x.chunks_exact(n)) {
            *o = fold(row, id, map, op);
        }
    } else {
        for (o, b) in out.chunks_exact_mut(inner).zip(x.chunks_exact(blk)) {
            for row in b.chunks_exact(inner) {
                for i in 0..least(o.len(), row.len()) {
                    o[i] = op(o[i], map(row[i]));
                }
            }
        }
    }
    out
}

/// The same on float32: `b` over `u` of each element, on four lanes.
fn reduce_pass_f(x: &[f32], n: usize, inner: usize, id: f32, u: impl Una, b: impl Bin) -> Vec<f32> {
    let blk = n * inner;
    if blk == 0 {
        return vec![];
    }
    let mut out = vec![id; x.len() / blk * inner];
    if inner == 1 {
        for (o, row) in out.iter_mut().zip(x.chunks_exact(n)) {
            *o = fold_f(row, id, u, b);
        }
    } else {
        for (o, bl) in out.chunks_exact_mut(inner).zip(x.chunks_exact(blk)) {
            for row in bl.chunks_exact(inner) {
                zip_f(o, row, u, b);
            }
        }
    }
    out
}

/// A float32 reduction: `b` over `u` of each element (`u` on the first pass only).
fn reduce_f_with(
    x: &[f32],
    groups: &[(usize, bool)],
    id: f32,
    u: impl Una,
    b: impl Bin,
) -> Vec<f32> {
    reduce_passes(
        x,
        groups,
        |v| u.s(v),
        |d, n, inner, first| {
            if first {
                reduce_pass_f(d, n, inner, id, u, b)
            } else {
                reduce_pass_f(d, n, inner, id, Id, b)
            }
        },
    )
}

/// log(sum(exp(x))) along the middle axis, less the maximum first.
fn lse_pass(x: &[f32], n: usize, inner: usize) -> Vec<f32> {
    let blk = n * inner;
    if blk == 0 {
        return vec![];
    }
    let finish = |m: f32, s: f32| if m.is_infinite() { m } else { m + s.ln() };
    if inner == 1 {
        return x
            .chunks_exact(n)
            .map(|row| {
                let m = max(row);
                finish(m, fold_f(row, 0.0, ExpDiff(m), Add))
            })
            .collect();
    }
    let mut out = vec![0f32; x.len() / blk * inner];
    let mut s = vec![0f32; inner];
    let mut t = vec![0f32; inner];
    for (o, b) in out.chunks_exact_mut(inner).zip(x.chunks_exact(blk)) {
        o.fill(f32::NEG_INFINITY);
        for row in b.chunks_exact(inner) {
            zip_f(o, row, Id, Max);
        }
        s.fill(0.0);
        for row in b.chunks_exact(inner) {
            t.copy_from_slice(row);
            zip_f(&mut t, o, Id, ExpSub);
            zip_f(&mut s, &t, Id, Add);
        }
        for (m, &a) in o.iter_mut().zip(&s) {
            *m = finish(*m, a);
        }
    }
    out
}

fn reduce_f32(x: &[f32], groups: &[(usize, bool)], red: Red, count: usize) -> Vec<f32> {
    let mut out = match red {
        Red::Sum | Red::Mean | Red::LogSum => reduce_f_with(x, groups, 0.0, Id, Add),
        Red::L1 => reduce_f_with(x, groups, 0.0, Abs, Add),
        Red::L2 | Red::SumSquare => reduce_f_with(x, groups, 0.0, Square, Add),
        Red::Max => reduce_f_with(x, groups, f32::NEG_INFINITY, Id, Max),
        Red::Min => reduce_f_with(x, groups, f32::INFINITY, Id, Min),
        Red::Prod => reduce_f_with(x, groups, 1.0, Id, Mul),
        Red::LogSumExp => reduce_passes(x, groups, |v| v, |d, n, inner, _| lse_pass(d, n, inner)),
    };
    match red {
        Red::Mean => {
            let c = count as f32;
            out.iter_mut().for_each(|v| *v /= c);
        }
        Red::L2 => map_f(&mut out, Sqrt),
        Red::LogSum => out.iter_mut().for_each(|v| *v = v.ln()),
        _ => {}
    }
    out
}

/// ReduceMax, ReduceMin, ReduceProd and ReduceSum on any element type.
fn reduce_int<T: Elem>(x: &[T], groups: &[(usize, bool)], red: Red) -> Vec<T> {
    match red {
        Red::Max => reduce_int_with(x, groups, T::LOWEST, max_of),
        Red::Min => reduce_int_with(x, groups, T::HIGHEST, min_of),
        Red::Prod => reduce_int_with(x, groups, T::ONE, T::mul),
        _ => reduce_int_with(x, groups, T::ZERO, T::add),
    }
}

fn reduce_int_with<T: Copy>(
    x: &[T],
    groups: &[(usize, bool)],
    id: T,
    op: impl Fn(T, T) -> T + Copy,
) -> Vec<T> {
    reduce_passes(
        x,
        groups,
        |v| v,
        |d, n, inner, _| reduce_pass(d, n, inner, id, |v| v, op),
    )
}

/// The value of a reduction over an empty set.
fn empty_value<T: Elem>(red: Red) -> T {
    match red {
        Red::Max => T::LOWEST,
        Red::Min => T::HIGHEST,
        Red::Prod => T::ONE,
        _ => T::ZERO,
    }
}

fn reduce_typed<T: Elem>(x: &[T], groups: &[(usize, bool)], red: Red, len: usize) -> Vec<T> {
    if x.is_empty() {
        return vec![empty_value(red); len];
    }
    reduce_int(x, groups, red)
}

impl Op for Reduce {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "data")?;
        let r = xt.rank();
        let given = self.axes.get(inputs, "axes", parse_ints)?;
        let list = match given.as_deref() {
            Some(v) if !v.is_empty() => axes_list(v, r)?,
            _ if self.noop => vec![],
            _ => (0..r).collect(),
        };
        let mut reduced = vec![false; r];
        for &a in &list {
            reduced[a] = true;
        }
        let shape = reduced_shape(&xt.shape, &reduced, self.keepdims);
        let len = volume(&shape)?;
        let groups = if xt.is_empty() {
            vec![]
        } else {
            reduce_groups(&xt.shape, &reduced)
        };
        let red = self.red;
        let data = match &xt.data {
            Data::F32(x) if x.is_empty() => Data::F32(vec![
                match red {
                    Red::Mean => f32::NAN,
                    Red::LogSum | Red::LogSumExp => f32::NEG_INFINITY,
                    _ => empty_value(red),
                };
                len
            ]),
            Data::F32(x) => {
                let count = list.iter().map(|&a| xt.shape[a]).product();
                Data::F32(reduce_f32(x, &groups, red, count))
            }
            Data::I64(x) if matches!(red, Red::Sum | Red::Max | Red::Min | Red::Prod) => {
                Data::I64(reduce_typed(x, &groups, red, len))
            }
            Data::I32(x) if matches!(red, Red::Sum | Red::Max | Red::Min | Red::Prod) => {
                Data::I32(reduce_typed(x, &groups, red, len))
            }
            Data::U8(x) if matches!(red, Red::Max | Red::Min) => {
                Data::U8(reduce_typed(x, &groups, red, len))
            }
            Data::I8(x) if matches!(red, Red::Max | Red::Min) => {
                Data::I8(reduce_typed(x, &groups, red, len))
            }
            Data::Bool(x) if matches!(red, Red::Max | Red::Min) => {
                Data::Bool(reduce_typed(x, &groups, red, len))
            }
            _ => {
                return Err(format!(
                    "Reduce{red:?} on {} is not in the lite build",
                    xt.dtype()
                ))
            }
        };
        Ok(vec![Tensor::new(shape, data)?])
    }
}

/// ArgMax and ArgMin: the index (int64) of the first extreme along `axis`, or the last with
/// select_last_index.
struct ArgExt {
    max: bool,
    axis: i64,
    keepdims: bool,
    last: bool,
}

fn build_arg(ctx: &NodeCtx, max: bool) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(ArgExt {
        max,
        axis: ctx.int("axis", 0),
        keepdims: ctx.int("keepdims", 1) != 0,
        last: ctx.int("select_last_index", 0) != 0,
    }))
}

fn build_argmax(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build_arg(ctx, true)
}

fn build_argmin(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build_arg(ctx, false)
}

/// Whether `v` replaces the extreme `b` so far.
#[inline(always)]
fn better<T: PartialOrd>(v: T, b: T, max: bool, last: bool) -> bool {
    match (max, last) {
        (true, false) => v > b,
        (true, true) => v >= b,
        (false, false) => v < b,
        (false, true) => v <= b,
    }
}

#[allow(clippy::needless_range_loop)]
fn arg_ext<T: Elem>(x: &[T], n: usize, inner: usize, max: bool, last: bool) -> Vec<i64> {
    let blk = n * inner;
    if blk == 0 {
        return vec![];
    }
    let mut out = vec![0i64; x.len() / blk * inner];
    if inner == 1 {
        for (o, row) in out.iter_mut().zip(x.chunks_exact(n)) {
            let Some(&first) = row.first() else { continue };
            let (mut best, mut at) = (first, 0);
            for i in 1..row.len() {
                if better(row[i], best, max, last) {
                    (best, at) = (row[i], i);
                }
            }
            *o = at as i64;
        }
    } else {
        let mut best_row = vec![T::ZERO; inner];
        let best = best_row.as_mut_slice();
        for (o, b) in out.chunks_exact_mut(inner).zip(x.chunks_exact(blk)) {
            best.copy_from_slice(&b[..inner]);
            for (j, row) in b.chunks_exact(inner).enumerate().skip(1) {
                let m = least(least(best.len(), o.len()), row.len());
                for i in 0..m {
                    if better(row[i], best[i], max, last) {
                        (best[i], o[i]) = (row[i], j as i64);
                    }
                }
            }
        }
    }
    out
}

impl Op for ArgExt {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "data")?;
        let a = axis(self.axis, xt.rank())?;
        let (_, n, inner) = split3(&xt.shape, a)?;
        let mut reduced = vec![false; xt.rank()];
        if let Some(r) = reduced.get_mut(a) {
            *r = true;
        }
        let shape = reduced_shape(&xt.shape, &reduced, self.keepdims);
        let len = volume(&shape)?;
        if xt.is_empty() {
            if len > 0 {
                return Err(format!(
                    "axis {a} of the input of shape {:?} is empty: it has no extreme",
                    xt.shape
                ));
            }
            return Ok(vec![Tensor::i64(shape, vec![])]);
        }
        let (m, l) = (self.max, self.last);
        let out = match &xt.data {
            Data::F32(x) => arg_ext(x, n, inner, m, l),
            Data::I64(x) => arg_ext(x, n, inner, m, l),
            Data::I32(x) => arg_ext(x, n, inner, m, l),
            Data::U8(x) => arg_ext(x, n, inner, m, l),
            Data::I8(x) => arg_ext(x, n, inner, m, l),
            Data::Bool(x) => arg_ext(x, n, inner, m, l),
        };
        Ok(vec![Tensor::new(shape, Data::I64(out))?])
    }
}

// ---------------------------------------------------------------------------------------------
// Resize and Upsample

#[derive(Clone, Copy, PartialEq, Debug)]
enum Interp {
    Nearest,
    Linear,
    Cubic,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Coord {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfHalfPixelForNn,
    TfCropAndResize,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Round {
    PreferFloor,
    PreferCeil,
    Floor,
    Ceil,
    /// Upsample and Resize-10: floor when enlarging, ceil when shrinking (as onnxruntime).
    Legacy,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Aspect {
    Stretch,
    NotLarger,
    NotSmaller,
}

/// Resize (opset 10+) and Upsample (7-9). The output is computed one resized axis at a time
/// (interpolation is separable), each output position along an axis reading a few input
/// positions with weights computed once per run from the scales (in f64, as the ONNX
/// reference does).
struct Resize {
    interp: Interp,
    coord: Coord,
    round: Round,
    cubic_a: f64,
    exclude_outside: bool,
    extrapolation: f32,
    antialias: bool,
    aspect: Aspect,
    axes: Option<Vec<i64>>,
    scales: Param<Vec<f32>>,
    sizes: Param<Vec<i64>>,
    roi: Param<Vec<f32>>,
}

fn interp_mode(ctx: &NodeCtx, cubic: bool) -> OpResult<Interp> {
    match ctx.string("mode").as_deref().unwrap_or("nearest") {
        "nearest" => Ok(Interp::Nearest),
        "linear" | "bilinear" => Ok(Interp::Linear),
        "cubic" if cubic => Ok(Interp::Cubic),
        other => Err(format!("mode '{other}' is not nearest, linear or cubic")),
    }
}

fn build_upsample(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let scales = if ctx.opset < 9 {
        Param::Known(
            ctx.floats("scales")
                .ok_or("the scales attribute is missing")?,
        )
    } else {
        Param::of_input(ctx, 1, "scales", parse_floats)?
    };
    Ok(Box::new(legacy_resize(interp_mode(ctx, false)?, scales)))
}

/// Upsample and Resize-10: scales only, asymmetric coordinates, legacy rounding.
fn legacy_resize(interp: Interp, scales: Param<Vec<f32>>) -> Resize {
    Resize {
        interp,
        coord: Coord::Asymmetric,
        round: Round::Legacy,
        cubic_a: -0.75,
        exclude_outside: false,
        extrapolation: 0.0,
        antialias: false,
        aspect: Aspect::Stretch,
        axes: None,
        scales,
        sizes: Param::Absent,
        roi: Param::Absent,
    }
}

fn build_resize(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    if ctx.opset < 11 {
        let scales = Param::of_input(ctx, 1, "scales", parse_floats)?;
        return Ok(Box::new(legacy_resize(interp_mode(ctx, false)?, scales)));
    }
    let coord = match ctx
        .string("coordinate_transformation_mode")
        .as_deref()
        .unwrap_or("half_pixel")
    {
        "half_pixel" => Coord::HalfPixel,
        "half_pixel_symmetric" => Coord::HalfPixelSymmetric,
        "pytorch_half_pixel" => Coord::PytorchHalfPixel,
        "align_corners" => Coord::AlignCorners,
        "asymmetric" => Coord::Asymmetric,
        "tf_half_pixel_for_nn" => Coord::TfHalfPixelForNn,
        "tf_crop_and_resize" => Coord::TfCropAndResize,
        other => {
            return Err(format!(
                "coordinate_transformation_mode '{other}' is unknown"
            ))
        }
    };
    let round = match ctx
        .string("nearest_mode")
        .as_deref()
        .unwrap_or("round_prefer_floor")
    {
        "round_prefer_floor" => Round::PreferFloor,
        "round_prefer_ceil" => Round::PreferCeil,
        "floor" => Round::Floor,
        "ceil" => Round::Ceil,
        other => return Err(format!("nearest_mode '{other}' is unknown")),
    };
    let aspect = match ctx
        .string("keep_aspect_ratio_policy")
        .as_deref()
        .unwrap_or("stretch")
    {
        "stretch" => Aspect::Stretch,
        "not_larger" => Aspect::NotLarger,
        "not_smaller" => Aspect::NotSmaller,
        other => return Err(format!("keep_aspect_ratio_policy '{other}' is unknown")),
    };
    let roi = if coord == Coord::TfCropAndResize {
        Param::of_input(ctx, 1, "roi", parse_floats)?
    } else {
        Param::Absent
    };
    Ok(Box::new(Resize {
        interp: interp_mode(ctx, true)?,
        coord,
        round,
        cubic_a: ctx.float("cubic_coeff_a", -0.75) as f64,
        exclude_outside: ctx.int("exclude_outside", 0) != 0,
        extrapolation: ctx.float("extrapolation_value", 0.0),
        antialias: ctx.int("antialias", 0) != 0,
        aspect,
        axes: ctx.ints("axes"),
        scales: Param::of_input(ctx, 2, "scales", parse_floats)?,
        sizes: Param::of_input(ctx, 3, "sizes", parse_ints)?,
        roi,
    }))
}

/// How one axis is resampled: output `o` is the sum of `w[o * n + j] * input[idx[o * n + j]]`
/// for `j < n` (nearest: `n == 1`, no weights), or the extrapolation value where `outside[o]`.
struct Taps {
    out: usize,
    n: usize,
    idx: Vec<usize>,
    w: Vec<f32>,
    outside: Vec<bool>,
    /// Nearest with each input repeated this many times in order (0: not so).
    repeat: usize,
}

/// The most input positions one output position reads (antialiasing widens the window as the
/// scale shrinks).
const MAX_TAPS: usize = 4096;

impl Resize {
    /// The input coordinate of output position `y`, with `out_w = scale * len` (not rounded, as
    /// in the ONNX reference).
    fn coordinate(&self, y: f64, len: f64, out: usize, scale: f64, roi: (f64, f64)) -> f64 {
        let out_w = scale * len;
        match self.coord {
            Coord::HalfPixel => (y + 0.5) / scale - 0.5,
            Coord::HalfPixelSymmetric => {
                let adjustment = out as f64 / out_w;
                let offset = len / 2.0 * (1.0 - adjustment);
                offset + (y + 0.5) / scale - 0.5
            }
            Coord::PytorchHalfPixel if out > 1 => (y + 0.5) / scale - 0.5,
            Coord::PytorchHalfPixel => 0.0,
            Coord::AlignCorners if out_w == 1.0 => 0.0,
            Coord::AlignCorners => y * (len - 1.0) / (out_w - 1.0),
            Coord::Asymmetric => y / scale,
            Coord::TfHalfPixelForNn => (y + 0.5) / scale,
            Coord::TfCropAndResize => {
                let (start, end) = roi;
                let x = if out_w == 1.0 {
                    (end - start) * (len - 1.0) / 2.0
                } else {
                    y * (end - start) * (len - 1.0) / (out_w - 1.0)
                };
                x + start * (len - 1.0)
            }
        }
    }

    fn taps(&self, len: usize, out: usize, scale: f64, roi: (f64, f64)) -> OpResult<Taps> {
        let lenf = len as f64;
        let last = lenf - 1.0;
        let clamp = |i: f64| i.clamp(0.0, last) as usize;
        let crop = self.coord == Coord::TfCropAndResize;
        let s = scale.min(1.0);
        // Taps per output, and the first one's offset from the input position below x.
        let (n, first) = match (self.interp, self.antialias) {
            (Interp::Nearest, _) => (1.0, 0.0),
            (Interp::Linear, false) => (2.0, 0.0),
            (Interp::Cubic, false) => (4.0, -1.0),
            (Interp::Linear, true) => {
                let start = (-1.0 / s).floor() + 1.0;
                (2.0 - 2.0 * start, start)
            }
            (Interp::Cubic, true) => {
                let start = (-2.0 / s).floor() + 1.0;
                (2.0 - 2.0 * start, start)
            }
        };
        let n = match n {
            n if n >= 1.0 && n <= MAX_TAPS as f64 => n as usize,
            n => {
                return Err(format!(
                    "an antialiased scale of {scale} reads {n} inputs per output (at most \
                     {MAX_TAPS})"
                ))
            }
        };
        let total = volume(&[out, n])?;
        let mut t = Taps {
            out,
            n,
            idx: Vec::with_capacity(total),
            w: Vec::with_capacity(if n > 1 { total } else { 0 }),
            outside: vec![],
            repeat: 0,
        };
        let mut c = vec![0f64; n];
        for y in 0..out {
            let x = self.coordinate(y as f64, lenf, out, scale, roi);
            if crop && !(0.0..=last).contains(&x) {
                t.outside.resize(y, false);
                t.outside.push(true);
            }
            if n == 1 {
                let f = x.floor();
                let frac = x - f;
                let i = match self.round {
                    Round::PreferFloor if frac <= 0.5 => f,
                    Round::PreferCeil if frac < 0.5 => f,
                    Round::PreferFloor | Round::PreferCeil => f + 1.0,
                    Round::Floor => f,
                    Round::Ceil => x.ceil(),
                    Round::Legacy if scale < 1.0 => x.ceil(),
                    Round::Legacy => f,
                };
                t.idx.push(clamp(i));
                continue;
            }
            // The input position below x and the distance to it, in (0, 1].
            let (x0, r) = if x == x.floor() {
                (x - 1.0, 1.0)
            } else {
                (x.floor(), x - x.floor())
            };
            self.coefficients(r, s, first, &mut c);
            if self.exclude_outside {
                for (j, cj) in c.iter_mut().enumerate() {
                    let i = x0 + first + j as f64;
                    if i < 0.0 || i > last {
                        *cj = 0.0;
                    }
                }
                let total: f64 = c.iter().sum();
                if total != 0.0 {
                    c.iter_mut().for_each(|v| *v /= total);
                }
            }
            for (j, &cj) in c.iter().enumerate() {
                t.idx.push(clamp(x0 + first + j as f64));
                t.w.push(cj as f32);
            }
        }
        if !t.outside.is_empty() {
            t.outside.resize(out, false);
        }
        if n == 1 && t.outside.is_empty() && len > 0 && out.is_multiple_of(len) {
            let k = out / len;
            if t.idx.iter().enumerate().all(|(o, &i)| i == o / k) {
                t.repeat = k;
            }
        }
        Ok(t)
    }

    /// The weights of the `c.len()` inputs from `x0 + first` on, for a position `r` past `x0`;
    /// `s` is the scale, at most 1 (for antialiasing).
    fn coefficients(&self, r: f64, s: f64, first: f64, c: &mut [f64]) {
        let a = self.cubic_a;
        match (self.interp, self.antialias) {
            (Interp::Linear, false) => {
                if let [c0, c1] = c {
                    (*c0, *c1) = (1.0 - r, r);
                }
            }
            (Interp::Cubic, false) => {
                if let [c0, c1, c2, c3] = c {
                    let (p, q) = (r + 1.0, 2.0 - r);
                    *c0 = ((a * p - 5.0 * a) * p + 8.0 * a) * p - 4.0 * a;
                    *c1 = ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0;
                    *c2 = ((a + 2.0) * (1.0 - r) - (a + 3.0)) * (1.0 - r) * (1.0 - r) + 1.0;
                    *c3 = ((a * q - 5.0 * a) * q + 8.0 * a) * q - 4.0 * a;
                }
            }
            (_, true) => {
                let cubic = self.interp == Interp::Cubic;
                for (j, cj) in c.iter_mut().enumerate() {
                    let d = ((first + j as f64 - r) * s).abs();
                    *cj = if !cubic {
                        (1.0 - d).clamp(0.0, 1.0)
                    } else if d <= 1.0 {
                        ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0
                    } else if d < 2.0 {
                        ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a
                    } else {
                        0.0
                    };
                }
                let total: f64 = c.iter().sum();
                if total != 0.0 {
                    c.iter_mut().for_each(|v| *v /= total);
                }
            }
            (Interp::Nearest, false) => {}
        }
    }

    /// Per axis: its scale and output size.
    fn target(
        &self,
        dims: &[usize],
        axes: &[usize],
        inputs: &[Option<&Tensor>],
    ) -> OpResult<(Vec<f64>, Vec<usize>)> {
        let scales = self.scales.get(inputs, "scales", parse_floats)?;
        let sizes = self.sizes.get(inputs, "sizes", parse_ints)?;
        let scales = scales.filter(|s| !s.is_empty());
        let sizes = sizes.filter(|s| !s.is_empty());
        let mut scale = vec![1f64; dims.len()];
        let mut out = dims.to_vec();
        let count = |what: &str, n: usize| {
            format!(
                "{what} has {n} values, expected {} (one per resized axis)",
                axes.len()
            )
        };
        match (scales, sizes) {
            (Some(s), None) => {
                if s.len() != axes.len() {
                    return Err(count("scales", s.len()));
                }
                for (&a, &v) in axes.iter().zip(s.iter()) {
                    let o = (v as f64 * dims[a] as f64).floor();
                    if !(v > 0.0 && v.is_finite()) || o > MAX_ELEMENTS as f64 {
                        return Err(format!("scale {v} for axis {a} is out of range"));
                    }
                    (scale[a], out[a]) = (v as f64, o as usize);
                }
            }
            (None, Some(z)) => {
                if z.len() != axes.len() {
                    return Err(count("sizes", z.len()));
                }
                for (&a, &v) in axes.iter().zip(z.iter()) {
                    let o = usize::try_from(v)
                        .ok()
                        .filter(|&o| o <= MAX_ELEMENTS)
                        .ok_or_else(|| format!("size {v} for axis {a} is out of range"))?;
                    if dims[a] == 0 && o != 0 {
                        return Err(format!("axis {a} is empty: it cannot be resized to {o}"));
                    }
                    out[a] = o;
                    if dims[a] > 0 {
                        scale[a] = o as f64 / dims[a] as f64;
                    }
                }
                if self.aspect != Aspect::Stretch {
                    let pick = axes.iter().map(|&a| scale[a]);
                    let s = if self.aspect == Aspect::NotLarger {
                        pick.fold(f64::INFINITY, f64::min)
                    } else {
                        pick.fold(0.0, f64::max)
                    };
                    for &a in axes {
                        let o = (s * dims[a] as f64 + 0.5).floor();
                        if o > MAX_ELEMENTS as f64 {
                            return Err(format!("the output size {o} is too large"));
                        }
                        (scale[a], out[a]) = (s, o as usize);
                    }
                }
            }
            (Some(_), Some(_)) => return Err("scales and sizes are both given".into()),
            (None, None) => return Err("neither scales nor sizes is given".into()),
        }
        Ok((scale, out))
    }
}

impl Op for Resize {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "X")?;
        let x = f32s(xt, "X")?;
        let (dims, r) = (&xt.shape, xt.rank());
        let axes = match &self.axes {
            Some(a) => axes_list(a, r)?,
            None => (0..r).collect(),
        };
        let (scale, out) = self.target(dims, &axes, inputs)?;
        let mut roi = vec![(0.0, 1.0); r];
        if self.coord == Coord::TfCropAndResize {
            let v = self
                .roi
                .get(inputs, "roi", parse_floats)?
                .ok_or("coordinate_transformation_mode tf_crop_and_resize needs input roi")?;
            if v.len() != 2 * axes.len() {
                return Err(format!(
                    "roi has {} values, expected {} (a start and an end per resized axis)",
                    v.len(),
                    2 * axes.len()
                ));
            }
            for (i, &a) in axes.iter().enumerate() {
                roi[a] = (v[i] as f64, v[i + axes.len()] as f64);
            }
        }
        let len = volume(&out)?;
        if len == 0 {
            return Ok(vec![Tensor::f32(out, vec![])]);
        }
        if x.is_empty() {
            return Err(format!("input X of shape {dims:?} is empty"));
        }
        let mut passes = vec![];
        for a in 0..r {
            let identity = (scale[a] - 1.0).abs() < 1e-9
                && out[a] == dims[a]
                && (self.coord != Coord::TfCropAndResize || roi[a] == (0.0, 1.0));
            if !identity {
                passes.push((a, self.taps(dims[a], out[a], scale[a], roi[a])?));
            }
        }
        let Some(a0) = passes.iter().map(|p| p.0).min() else {
            return Ok(vec![Tensor::f32(out, x.to_vec())]);
        };
        // Shrinking axes first (less to compute after them); among equal ratios, when
        // enlarging, the inner axis first (the gathers along it then have fewer rows).
        let ratio = |a: usize| out[a] as f64 / dims[a] as f64;
        passes.sort_by(|(p, _), (q, _)| {
            ratio(*p)
                .total_cmp(&ratio(*q))
                .then(if ratio(*p) < 1.0 { p.cmp(q) } else { q.cmp(p) })
        });
        // Each pass's (len, inner, result size) within one block of the axes from a0 on.
        let mut cur = dims[a0..].to_vec();
        let mut plan = vec![];
        for (a, t) in &passes {
            let ra = a - a0;
            let (l, inner) = (cur[ra], volume(&cur[ra + 1..])?);
            cur[ra] = t.out;
            plan.push((l, inner, volume(&cur)?));
        }
        let (ib, ob) = (volume(&dims[a0..])?, volume(&out[a0..])?);
        let mut y = vec![0f32; len];
        let mut bufs: (Vec<f32>, Vec<f32>) = (vec![], vec![]);
        let fill = self.extrapolation;
        for (sb, db) in x.chunks_exact(ib).zip(y.chunks_exact_mut(ob)) {
            for (i, ((_, t), &(l, inner, size))) in passes.iter().zip(&plan).enumerate() {
                let src: &[f32] = if i == 0 { sb } else { &bufs.0 };
                if i + 1 == passes.len() {
                    resample(src, l, inner, t, fill, db);
                } else {
                    bufs.1.clear();
                    bufs.1.resize(size, 0.0);
                    resample(src, l, inner, t, fill, &mut bufs.1);
                    std::mem::swap(&mut bufs.0, &mut bufs.1);
                }
            }
        }
        Ok(vec![Tensor::f32(out, y)])
    }
}

/// Resamples the middle axis of `src` seen as `[outer, len, inner]` into `dst` (`[outer,
/// t.out, inner]`).
fn resample(src: &[f32], len: usize, inner: usize, t: &Taps, fill: f32, dst: &mut [f32]) {
    let (ib, ob, n) = (len * inner, t.out * inner, t.n);
    if ib == 0 || ob == 0 || n == 0 {
        return;
    }
    for (s, d) in src.chunks_exact(ib).zip(dst.chunks_exact_mut(ob)) {
        if inner == 1 {
            gather(s, d, t);
        } else {
            let row = |i: usize| s.get(i * inner..(i + 1) * inner).unwrap_or(&[]);
            let taps = t.idx.chunks_exact(n);
            for (o, (drow, idx)) in d.chunks_exact_mut(inner).zip(taps).enumerate() {
                let w = t.w.get(o * n..(o + 1) * n).unwrap_or(&[]);
                match (idx, w) {
                    ([i], _) => {
                        if let Some(r) = s.get(i * inner..(i + 1) * inner) {
                            drow.copy_from_slice(r);
                        }
                    }
                    ([i0, i1], [w0, w1]) => blend(drow, row(*i0), row(*i1), *w0, *w1),
                    _ => {
                        drow.fill(0.0);
                        for (&i, &wj) in idx.iter().zip(w) {
                            zip_f(drow, row(i), Scale(wj), Add);
                        }
                    }
                }
            }
        }
        for (o, _) in t.outside.iter().enumerate().filter(|(_, &out)| out) {
            if let Some(r) = d.get_mut(o * inner..(o + 1) * inner) {
                r.fill(fill);
            }
        }
    }
}

/// Resamples one contiguous row `s` into `d` (`inner == 1`). Loops without closures or nested
/// iterator adapters: the release profile optimises for size and would not inline them.
fn gather(s: &[f32], d: &mut [f32], t: &Taps) {
    match (t.repeat, t.n) {
        (2, _) => {
            let (pairs, _) = d.as_chunks_mut::<8>();
            let (quads, _) = s.as_chunks::<4>();
            let done = pairs.len().min(quads.len());
            for (d, s) in pairs.iter_mut().zip(quads) {
                F4::load(s).store_doubled(d);
            }
            let (d, s) = (&mut d[8 * done..], &s[4 * done..]);
            for (i, &v) in s.iter().enumerate() {
                if let Some(pair) = d.get_mut(2 * i..2 * i + 2) {
                    pair.fill(v);
                }
            }
        }
        (k, _) if k > 0 => {
            for (i, &v) in s.iter().enumerate() {
                if let Some(run) = d.get_mut(k * i..k * (i + 1)) {
                    run.fill(v);
                }
            }
        }
        (_, 1) => {
            let idx = t.idx.as_slice();
            for o in 0..least(d.len(), idx.len()) {
                d[o] = s.get(idx[o]).copied().unwrap_or(0.0);
            }
        }
        (_, 2) => {
            let (idx, _) = t.idx.as_chunks::<2>();
            let (w, _) = t.w.as_chunks::<2>();
            for o in 0..least(d.len(), least(idx.len(), w.len())) {
                let ([i0, i1], [w0, w1]) = (idx[o], w[o]);
                let a = s.get(i0).copied().unwrap_or(0.0);
                let b = s.get(i1).copied().unwrap_or(0.0);
                d[o] = a * w0 + b * w1;
            }
        }
        (_, n) => {
            for (o, v) in d.iter_mut().enumerate() {
                let (Some(idx), Some(w)) =
                    (t.idx.get(o * n..(o + 1) * n), t.w.get(o * n..(o + 1) * n))
                else {
                    continue;
                };
                let mut acc = 0.0;
                for (&i, &w) in idx.iter().zip(w) {
                    acc += s.get(i).copied().unwrap_or(0.0) * w;
                }
                *v = acc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::pb;
    use super::*;

    fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
        pb::AttributeProto {
            name: name.into(),
            ints: v.to_vec(),
            ..Default::default()
        }
    }

    fn int(name: &str, v: i64) -> pb::AttributeProto {
        pb::AttributeProto {
            name: name.into(),
            i: v,
            ..Default::default()
        }
    }

    fn string(name: &str, v: &str) -> pb::AttributeProto {
        pb::AttributeProto {
            name: name.into(),
            s: v.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    /// Builds `op` at `opset` with `attrs`, inputs whose constant values are `consts` (None: a
    /// run-time input) and `outputs` named outputs.
    fn build(
        op: &str,
        opset: i64,
        attrs: Vec<pb::AttributeProto>,
        consts: &[Option<&Tensor>],
        outputs: usize,
    ) -> OpResult<Box<dyn Op>> {
        let n = consts.len().max(1);
        let node = pb::NodeProto {
            op_type: op.into(),
            attribute: attrs,
            input: (0..n).map(|i| format!("i{i}")).collect(),
            output: (0..outputs).map(|i| format!("o{i}")).collect(),
            ..Default::default()
        };
        let ctx = NodeCtx {
            op_type: op,
            node: &node,
            consts: consts.to_vec(),
            present: vec![true; n],
            opset,
        };
        let (_, b) = OPS
            .iter()
            .find(|(name, _)| *name == op)
            .expect("registered");
        b(&ctx)
    }

    /// Builds and runs `op` on `inputs` (all run-time inputs).
    fn run(
        op: &str,
        opset: i64,
        attrs: Vec<pb::AttributeProto>,
        inputs: &[&Tensor],
    ) -> OpResult<Vec<Tensor>> {
        let consts = vec![None; inputs.len()];
        let inputs: Vec<Option<&Tensor>> = inputs.iter().map(|&t| Some(t)).collect();
        build(op, opset, attrs, &consts, 1)?.run(&inputs)
    }

    #[track_caller]
    fn fails<T>(r: OpResult<T>, fragment: &str) {
        match r {
            Ok(_) => panic!("expected an error mentioning {fragment:?}"),
            Err(e) => assert!(e.contains(fragment), "{e:?} should mention {fragment:?}"),
        }
    }

    fn x(shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        Tensor::f32(
            shape.to_vec(),
            (0..n).map(|i| (i % 7) as f32 - 3.0).collect(),
        )
    }

    fn empty(shape: &[usize]) -> Tensor {
        Tensor {
            shape: shape.to_vec(),
            data: Data::F32(vec![]),
        }
    }

    fn f32s_of(v: &[f32]) -> Tensor {
        Tensor::f32(vec![v.len()], v.to_vec())
    }

    fn i64s_of(v: &[i64]) -> Tensor {
        Tensor::i64(vec![v.len()], v.to_vec())
    }

    #[test]
    fn pool_attributes_out_of_range_are_errors() {
        let k = |v: &[i64]| ints("kernel_shape", v);
        fails(build("MaxPool", 12, vec![], &[None], 1), "kernel_shape");
        fails(
            build("MaxPool", 12, vec![k(&[1, 1, 1, 1])], &[None], 1),
            "1 to 3",
        );
        fails(
            build("MaxPool", 12, vec![k(&[0, 2])], &[None], 1),
            "out of range",
        );
        let s0 = vec![k(&[2, 2]), ints("strides", &[0, 1])];
        fails(build("MaxPool", 12, s0, &[None], 1), "strides");
        let neg = vec![k(&[2, 2]), ints("pads", &[0, -1, 0, 0])];
        fails(build("AveragePool", 12, neg, &[None], 1), "pads");
        let short = vec![k(&[2, 2]), ints("pads", &[1, 1])];
        fails(build("AveragePool", 12, short, &[None], 1), "pads");
        let auto = vec![k(&[2]), string("auto_pad", "SAME")];
        fails(build("MaxPool", 12, auto, &[None], 1), "auto_pad");
        fails(
            build("LpPool", 18, vec![k(&[2]), int("p", -2)], &[None], 1),
            "p -2",
        );
        let order = vec![k(&[2]), int("storage_order", 5)];
        fails(build("MaxPool", 12, order, &[None], 2), "storage_order");
    }

    #[test]
    fn pool_inputs_that_do_not_fit_are_errors() {
        let k = ints("kernel_shape", &[3, 3]);
        fails(
            run("MaxPool", 12, vec![k.clone()], &[&x(&[1, 1, 2, 2])]),
            "extent",
        );
        fails(
            run("MaxPool", 12, vec![k.clone()], &[&x(&[1, 4, 4])]),
            "rank 4",
        );
        let huge = vec![ints("kernel_shape", &[1 << 28, 1])];
        fails(run("MaxPool", 12, huge, &[&x(&[1, 1, 5, 5])]), "extent");
        let valid = vec![k, string("auto_pad", "VALID")];
        fails(
            run("AveragePool", 19, valid, &[&x(&[1, 1, 2, 9])]),
            "extent",
        );
        // Pads that make each row's buffer huge while the output stays small.
        let wide = vec![
            ints("kernel_shape", &[1, 1]),
            ints("strides", &[1 << 20, 1]),
            ints("pads", &[0, 0, 0, 1 << 26]),
        ];
        fails(
            run("MaxPool", 12, wide, &[&x(&[1, 1, 4096, 1])]),
            "elements",
        );
        let zero = ints("kernel_shape", &[1, 1]);
        fails(
            run("MaxPool", 12, vec![zero], &[&x(&[1, 1, 0, 3])]),
            "extent",
        );
        let ints_in = Tensor::i64(vec![1, 1, 2, 2], vec![1, 2, 3, 4]);
        let avg = vec![ints("kernel_shape", &[1, 1])];
        fails(run("AveragePool", 19, avg, &[&ints_in]), "int64");
        fails(
            run("GlobalAveragePool", 13, vec![], &[&x(&[3])]),
            "2 dimensions",
        );
    }

    #[test]
    fn empty_inputs_give_empty_outputs() {
        let e = empty(&[0, 3, 4, 4]);
        let k = vec![ints("kernel_shape", &[2, 2])];
        assert_eq!(run("MaxPool", 12, k, &[&e]).unwrap()[0].shape, [0, 3, 3, 3]);
        assert!(run("Softmax", 13, vec![], &[&e]).unwrap()[0].is_empty());
        assert!(run("LRN", 13, vec![int("size", 3)], &[&e]).unwrap()[0].is_empty());
        let sum = run(
            "ReduceSum",
            11,
            vec![ints("axes", &[1])],
            &[&empty(&[2, 0, 3])],
        );
        assert_eq!(sum.unwrap()[0].data, Data::F32(vec![0.0; 6]));
        // Dimensions whose product overflows, next to a zero one.
        let odd = empty(&[0, 1 << 40, 1 << 40]);
        let _ = run("ReduceMax", 13, vec![ints("axes", &[1])], &[&odd]);
        let _ = run("ArgMax", 13, vec![int("axis", 1)], &[&odd]);
        let _ = run("LRN", 13, vec![int("size", 3)], &[&odd]);
        let _ = run("Softmax", 11, vec![], &[&odd]);
        let _ = run("MaxPool", 12, vec![ints("kernel_shape", &[1])], &[&odd]);
        let bn = [&odd, &x(&[1]), &x(&[1]), &x(&[1]), &x(&[1])];
        let _ = run("BatchNormalization", 15, vec![], &bn);
        fails(
            run("ArgMax", 13, vec![int("axis", 1)], &[&empty(&[2, 0])]),
            "empty",
        );
    }

    #[test]
    fn axes_out_of_range_or_repeated_are_errors() {
        let t = x(&[2, 3, 4]);
        fails(run("Softmax", 13, vec![int("axis", 3)], &[&t]), "axis 3");
        fails(run("Softmax", 11, vec![int("axis", -4)], &[&t]), "axis -4");
        fails(
            run("LogSoftmax", 13, vec![int("axis", i64::MIN)], &[&t]),
            "out of range",
        );
        fails(run("ArgMin", 13, vec![int("axis", 7)], &[&t]), "axis 7");
        fails(
            run("ReduceSum", 11, vec![ints("axes", &[1, -2])], &[&t]),
            "repeat",
        );
        fails(
            run("ReduceMean", 13, vec![ints("axes", &[3])], &[&t]),
            "axis 3",
        );
        fails(
            run("ReduceMax", 18, vec![], &[&t, &i64s_of(&[0, 0])]),
            "repeat",
        );
        fails(
            run("ReduceMax", 18, vec![], &[&t, &f32s_of(&[0.0])]),
            "axes",
        );
        let axes = [None, Some(&f32s_of(&[1.0]))];
        fails(build("ReduceL2", 18, vec![], &axes, 1), "input axes");
        fails(
            run("LayerNormalization", 17, vec![int("axis", 5)], &[&t, &t]),
            "axis 5",
        );
        let layer = run("LayerNormalization", 17, vec![], &[&t, &x(&[3])]);
        fails(layer, "Scale has 3 values, expected 4");
    }

    #[test]
    fn unsupported_types_are_errors() {
        let i = Tensor::i64(vec![2, 2], vec![1, 2, 3, 4]);
        fails(run("ReduceMean", 13, vec![], &[&i]), "int64");
        fails(run("ReduceL1", 13, vec![], &[&i]), "int64");
        fails(run("Softmax", 13, vec![], &[&i]), "float32");
        let b = Tensor::bool(vec![2], vec![true, false]);
        fails(run("ReduceSum", 13, vec![], &[&b]), "bool");
    }

    #[test]
    fn bad_normalisation_parameters_are_errors() {
        let t = x(&[2, 3, 2]);
        let (c3, c2) = (x(&[3]), x(&[2]));
        fails(
            run("BatchNormalization", 15, vec![], &[&t, &c3, &c3, &c2, &c3]),
            "same",
        );
        fails(
            run("BatchNormalization", 15, vec![], &[&t, &c2, &c2, &c2, &c2]),
            "per channel",
        );
        fails(
            build("BatchNormalization", 15, vec![], &[None; 5], 3),
            "training",
        );
        let train = vec![int("training_mode", 1)];
        fails(
            run("BatchNormalization", 15, train, &[&t, &c2, &c2, &c2, &c2]),
            "channel",
        );
        fails(
            run("InstanceNormalization", 13, vec![], &[&t, &c2, &c3]),
            "per channel",
        );
        fails(build("LRN", 13, vec![int("size", 0)], &[None], 1), "size 0");
        fails(build("LRN", 13, vec![], &[None], 1), "size 0");
    }

    #[test]
    fn dropout_in_training_mode_is_an_error_unless_ratio_is_zero() {
        let t = x(&[2, 3]);
        let on = Tensor::bool(vec![], vec![true]);
        let half = f32s_of(&[0.5]);
        fails(
            run("Dropout", 13, vec![], &[&t, &half, &on]),
            "training_mode",
        );
        let zero = Tensor::f32(vec![], vec![0.0]);
        let out = run("Dropout", 13, vec![], &[&t, &zero, &on]).unwrap();
        assert_eq!(out[0], t);
        fails(run("Dropout", 13, vec![], &[&t, &x(&[2]), &on]), "one");
    }

    #[test]
    fn bad_resize_targets_are_errors() {
        let t = x(&[1, 1, 4, 4]);
        let none = Tensor::f32(vec![0], vec![]);
        let scales = |v: &[f32]| run("Resize", 13, vec![], &[&t, &none, &f32s_of(v)]);
        for bad in [
            [1.0, 1.0, 0.0, 2.0],
            [1.0, 1.0, -2.0, 2.0],
            [1.0, 1.0, f32::NAN, 1.0],
        ] {
            fails(scales(&bad), "out of range");
        }
        fails(scales(&[1.0, 1.0, f32::INFINITY, 1.0]), "out of range");
        fails(scales(&[1.0, 1.0, 1e30, 1e30]), "out of range");
        fails(scales(&[1.0, 1.0, 1e4, 1e4]), "elements");
        fails(scales(&[2.0, 2.0]), "2 values, expected 4");
        let sizes = |v: &[i64]| run("Resize", 13, vec![], &[&t, &none, &none, &i64s_of(v)]);
        fails(sizes(&[1, 1, -1, 4]), "out of range");
        fails(sizes(&[1, 1, i64::MAX, 4]), "out of range");
        fails(sizes(&[1, 1, 1 << 20, 1 << 20]), "elements");
        let both = [&t, &none, &f32s_of(&[1.0; 4]), &i64s_of(&[1, 1, 4, 4])];
        fails(run("Resize", 13, vec![], &both), "both");
        fails(run("Resize", 13, vec![], &[&t, &none, &none]), "neither");
        let tf = vec![string(
            "coordinate_transformation_mode",
            "tf_crop_and_resize",
        )];
        fails(
            run("Resize", 13, tf.clone(), &[&t, &none, &f32s_of(&[1.0; 4])]),
            "roi",
        );
        let roi = f32s_of(&[0.0, 1.0]);
        fails(
            run("Resize", 13, tf, &[&t, &roi, &f32s_of(&[1.0; 4])]),
            "roi has 2",
        );
        let aa = vec![int("antialias", 1), string("mode", "linear")];
        let tiny = f32s_of(&[1.0, 1.0, 1e-6, 1.0]);
        let wide = x(&[1, 1, 1 << 20, 1]);
        fails(
            run("Resize", 19, aa, &[&wide, &none, &tiny]),
            "inputs per output",
        );
        let axes = vec![ints("axes", &[2, -2])];
        fails(
            run("Resize", 18, axes, &[&t, &none, &f32s_of(&[2.0, 2.0])]),
            "repeat",
        );
        fails(
            build("Upsample", 9, vec![string("mode", "cubic")], &[None; 2], 1),
            "mode",
        );
        fails(build("Upsample", 7, vec![], &[None], 1), "scales");
        let mode = vec![string("nearest_mode", "round")];
        fails(build("Resize", 13, mode, &[None; 3], 1), "nearest_mode");
        let ints_scales = [None, None, Some(&i64s_of(&[1, 1, 2, 2]))];
        fails(build("Resize", 13, vec![], &ints_scales, 1), "input scales");
        fails(
            run(
                "Resize",
                13,
                vec![],
                &[&empty(&[1, 0, 4]), &none, &none, &i64s_of(&[1, 2, 4])],
            ),
            "empty",
        );
    }

    #[test]
    fn exp_matches_std_and_handles_special_values() {
        for i in -8700..8800 {
            let x = i as f32 * 0.01;
            let (a, b) = (exp(x) as f64, (x as f64).exp());
            assert!((a - b).abs() <= 3e-7 * b, "exp({x}) = {a}, expected {b}");
        }
        assert_eq!(exp(-1000.0), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(1000.0), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan());
        let v = [f32::NAN, -1e30, 0.5, 1e30];
        let e = F4::from_lanes(v).exp().lanes();
        for (a, b) in e.iter().zip(v.map(exp)) {
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
        }
    }
}

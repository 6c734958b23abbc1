//! Four-lane float32 kernels ([`F4`]: wasm SIMD in the wasm build, an array of four elsewhere)
//! for the pooling, normalisation, softmax, reduction and resize operators: Cephes' `exp`, the
//! one- and two-argument functions they apply ([`Una`], [`Bin`]), and folds, maps and blends
//! over float32 slices.

// ---------------------------------------------------------------------------------------------
// Four-lane float32 kernels
//
// The release profile optimises for size (opt-level "z"), under which LLVM vectorises no loop:
// the float32 kernels that matter are written on `F4`, wasm SIMD on wasm32 and an array of four
// elsewhere, computing the same IEEE operations lane by lane (so native tests check the
// results the wasm build gives).

/// The larger of two values (`a` when they are unordered), in the form of wasm's `pmax`.
#[inline(always)]
pub(super) fn max_of<T: PartialOrd>(a: T, b: T) -> T {
    if a < b {
        b
    } else {
        a
    }
}

#[inline(always)]
pub(super) fn min_of<T: PartialOrd>(a: T, b: T) -> T {
    if b < a {
        b
    } else {
        a
    }
}

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

        /// The 4x4 matrix of rows `m` transposed: lane j of row i becomes lane i of row j.
        #[inline(always)]
        pub fn transpose([a, b, c, d]: [F4; 4]) -> [F4; 4] {
            let t0 = i32x4_shuffle::<0, 4, 1, 5>(a.0, b.0);
            let t1 = i32x4_shuffle::<2, 6, 3, 7>(a.0, b.0);
            let t2 = i32x4_shuffle::<0, 4, 1, 5>(c.0, d.0);
            let t3 = i32x4_shuffle::<2, 6, 3, 7>(c.0, d.0);
            [
                F4(i32x4_shuffle::<0, 1, 4, 5>(t0, t2)),
                F4(i32x4_shuffle::<2, 3, 6, 7>(t0, t2)),
                F4(i32x4_shuffle::<0, 1, 4, 5>(t1, t3)),
                F4(i32x4_shuffle::<2, 3, 6, 7>(t1, t3)),
            ]
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
        pub fn transpose(m: [F4; 4]) -> [F4; 4] {
            std::array::from_fn(|j| F4(std::array::from_fn(|i| m[i].0[j])))
        }

        #[inline(always)]
        pub fn exp(self) -> F4 {
            self.map(super::exp)
        }
    }
}

pub(super) use lanes::F4;

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
pub(super) fn exp(x: f32) -> f32 {
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
pub(super) trait Una: Copy {
    fn v(self, x: F4) -> F4;
    fn s(self, x: f32) -> f32;
}

/// A function of two floats, on four lanes and on one.
pub(super) trait Bin: Copy {
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
        pub(super) struct $name $(($(pub(super) $t),*))?;
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
        pub(super) struct $name;
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
pub(super) fn least(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// Folds `u` of each element with `b` from `id`, in 8 lanes (then the rest, then the lanes).
#[inline(always)]
pub(super) fn fold_f(v: &[f32], id: f32, u: impl Una, b: impl Bin) -> f32 {
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

pub(super) fn sum(v: &[f32]) -> f32 {
    fold_f(v, 0.0, Id, Add)
}

pub(super) fn max(v: &[f32]) -> f32 {
    fold_f(v, f32::NEG_INFINITY, Id, Max)
}

/// `v[i] = u(v[i])`.
#[inline(always)]
pub(super) fn map_f(v: &mut [f32], u: impl Una) {
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
pub(super) fn map_from(d: &mut [f32], s: &[f32], u: impl Una) {
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
pub(super) fn zip_f(d: &mut [f32], s: &[f32], u: impl Una, b: impl Bin) {
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
pub(super) fn zip_f_evens(d: &mut [f32], s: &[f32], u: impl Una, b: impl Bin) {
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
pub(super) fn blend(d: &mut [f32], a: &[f32], b: &[f32], wa: f32, wb: f32) {
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! The core of the element-wise operators (unary.rs, binary.rs, cast.rs): their element types
//! ([`Elem`], [`Num`]) and the drivers every one of them goes through.
//!
//! Every binary operator goes through [`zip_with`], every ternary one (Where) through
//! [`where_select`], every unary one through [`map`]. Broadcast shapes are collapsed first (axes of
//! size 1 dropped, neighbouring axes that broadcast alike merged), so the common cases (a scalar, a
//! per-channel `[C, 1, 1]`, a trailing `[D]`) become one tight loop over contiguous rows.
//! int8 and uint8 arithmetic is computed in i32 and wrapped back, which gives the same results as
//! wrapping arithmetic in the narrow type.

use super::super::tensor::{alloc_len, broadcast, Data, OpResult, Tensor};

/// A tensor's data that disagrees with its shape (an engine bug, reported rather than a panic).
pub(super) const INTERNAL: &str = "internal: a tensor's data does not match its shape";

// ---------------------------------------------------------------------------------------------
// Element types

/// An element type of the lite engine.
pub(super) trait Elem: Copy + PartialOrd + 'static {
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
pub(super) trait Num: Elem {
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
pub(super) fn widen(d: &Data) -> Vec<i32> {
    match d {
        Data::I8(v) => v.iter().map(|&x| i32::from(x)).collect(),
        Data::U8(v) => v.iter().map(|&x| i32::from(x)).collect(),
        _ => vec![],
    }
}

/// i32 results wrapped back into int8 (`signed`) or uint8.
pub(super) fn narrow(v: Vec<i32>, signed: bool) -> Data {
    if signed {
        Data::I8(v.iter().map(|&x| x as i8).collect())
    } else {
        Data::U8(v.iter().map(|&x| x as u8).collect())
    }
}

pub(super) fn types_differ(what: &str, a: &Tensor, b: &Tensor) -> String {
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

pub(super) use same_type;

// ---------------------------------------------------------------------------------------------
// Drivers

/// `f` applied to every element. Never inlined, like [`zip_with`]: each operator's loop is then a
/// function of its own, and an operator's entry point (a `match` over every operator of its
/// kind) stays small. V8 compiles a hot function again with its optimising compiler before it
/// runs fast, and takes longer the larger the function (docs/speed-2026-12-07.md, "The next session").
#[inline(never)]
pub(super) fn map<T: Copy, U>(x: &[T], f: impl Fn(T) -> U) -> Vec<U> {
    x.iter().map(|&v| f(v)).collect()
}

/// Whether `len` elements make up `shape`.
pub(super) fn fits(len: usize, shape: &[usize]) -> bool {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) == Some(len)
}

/// How N inputs broadcast to an output shape, collapsed: axes of size 1 are dropped and
/// neighbouring axes along which every input either varies or is broadcast alike are merged.
/// `dims` is never empty; `strides[k][j]` is input k's stride along `dims[j]` (0 when broadcast,
/// 1 along the last dim when it varies).
pub(super) struct Layout<const N: usize> {
    dims: Vec<usize>,
    strides: [Vec<usize>; N],
}

pub(super) fn layout<const N: usize>(out: &[usize], shapes: [&[usize]; N]) -> Layout<N> {
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
pub(super) fn step<const N: usize>(
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
#[inline(never)]
pub(super) fn zip_with<A: Copy, B: Copy, U: 'static>(
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
    let n = alloc_len::<U>(&shape)?;
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
pub(super) struct Row<T> {
    buf: Vec<T>,
    at: Option<usize>,
}

impl<T: Copy> Row<T> {
    pub(super) fn new() -> Self {
        Row {
            buf: vec![],
            at: None,
        }
    }

    /// The `len` elements from `off` (`varies`), or element `off` repeated `len` times.
    pub(super) fn get<'a>(
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
pub(super) fn where_select<T: Copy + 'static>(
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
    let n = alloc_len::<T>(&shape)?;
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

#[cfg(test)]
mod tests {
    use super::super::super::pb;
    use super::super::testing::*;
    use super::*;

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
                let got = eval("Sub", vec![], &[a, b]).unwrap();
                assert_eq!((got.shape.clone(), got.into_f32().unwrap()), want);
            }
        }
    }

    #[test]
    fn where_broadcasts_three_ways() {
        let c = Tensor::bool(vec![2, 1], vec![true, false]);
        let x = i(&[1, 3], &[1, 2, 3]);
        let y = i(&[], &[9]);
        let out = eval("Where", vec![], &[&c, &x, &y]).unwrap();
        assert_eq!(out, i(&[2, 3], &[1, 2, 3, 9, 9, 9]));
        let c = i(&[1], &[1]);
        assert!(eval("Where", vec![], &[&c, &x, &y]).is_err());
        let yf = f(&[], &[9.0]);
        assert!(eval(
            "Where",
            vec![],
            &[&Tensor::bool(vec![], vec![true]), &x, &yf]
        )
        .is_err());
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let e = eval("Add", vec![], &[&f(&[2], &[1.0, 2.0]), &i(&[2], &[1, 2])]).unwrap_err();
        assert!(e.contains("float32") && e.contains("int64"), "{e}");
        let e = eval("Add", vec![], &[&seq(&[2, 3], 1.0), &seq(&[4], 1.0)]).unwrap_err();
        assert!(e.contains("broadcast"), "{e}");
        let e = eval("Less", vec![], &[&f(&[1], &[1.0]), &i(&[1], &[1])]).unwrap_err();
        assert!(e.contains("float32"), "{e}");
        let b = Tensor::bool(vec![1], vec![true]);
        assert!(eval("And", vec![], &[&b, &f(&[1], &[1.0])]).is_err());
        assert!(eval("Add", vec![], &[&b, &b]).is_err());
        assert!(eval("Tanh", vec![], &[&i(&[1], &[1])]).is_err());
        assert!(eval("Not", vec![], &[&f(&[1], &[1.0])]).is_err());
        assert!(eval("Mean", vec![], &[&i(&[1], &[1]), &i(&[1], &[1])]).is_err());
        let e = eval(
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
        let e = eval("Add", vec![], &[&a, &b]).unwrap_err();
        assert!(e.contains("more than"), "{e}");
    }

    #[test]
    fn bad_attributes_are_errors() {
        let cases: Vec<(&str, Vec<pb::AttributeProto>, &str)> = vec![
            ("Mod", vec![int("fmod", 2)], "fmod"),
            ("Gelu", vec![string("approximate", "fast")], "approximate"),
            ("Cast", vec![int("to", 11)], "float64"),
            ("Cast", vec![int("to", 99)], "99"),
            ("Cast", vec![int("to", i64::MIN)], "to is"),
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
            let e = build(op, 21, attrs, &[None], 1).err().expect(op);
            assert!(e.contains(word), "{op}: {e}");
        }
        let axis = vec![int("axis", 1), int("broadcast", 1)];
        assert!(build("Add", 6, axis, &[None, None], 1).is_err());
    }
}

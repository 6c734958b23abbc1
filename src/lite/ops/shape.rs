//! Data-movement and shape operators, on every element type of [`Data`]: Reshape, Flatten,
//! Squeeze, Unsqueeze, Identity, Shape, Size, Transpose, Concat, Split, Slice, Gather,
//! GatherElements, GatherND, ScatterND, Expand, Tile, Pad, ConstantOfShape, Range, Constant,
//! DepthToSpace, SpaceToDepth, Trilu, CumSum, TopK, NonZero and OneHot.
//!
//! Each is written once, generic over the element type ([`Elem`]); [`with_elem!`] picks the
//! instance from the tensor's `Data`. Most copies go through [`gather_view`], which reads a
//! strided view of a tensor (transposed, broadcast, sliced, reversed) in row-major order after
//! merging its axes, so that the inner loop is a contiguous copy, a fill or a 2-D transpose.
//! Integer lists that later opsets moved from attributes to inputs are [`Ints`].

use std::borrow::Cow;

use super::super::tensor::{axis, broadcast, volume, Data, OpResult, Tensor, MAX_ELEMENTS};
use super::{input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("Reshape", build_reshape),
    ("Flatten", build_flatten),
    ("Squeeze", build_squeeze),
    ("Unsqueeze", build_unsqueeze),
    ("Identity", build_identity),
    ("Shape", build_shape),
    ("Size", build_size),
    ("Transpose", build_transpose),
    ("Concat", build_concat),
    ("Split", build_split),
    ("Slice", build_slice),
    ("Gather", build_gather),
    ("GatherElements", build_gather_elements),
    ("GatherND", build_gather_nd),
    ("ScatterND", build_scatter_nd),
    ("Expand", build_expand),
    ("Tile", build_tile),
    ("Pad", build_pad),
    ("ConstantOfShape", build_constant_of_shape),
    ("Range", build_range),
    ("Constant", build_constant),
    ("DepthToSpace", build_depth_to_space),
    ("SpaceToDepth", build_space_to_depth),
    ("Trilu", build_trilu),
    ("CumSum", build_cumsum),
    ("TopK", build_top_k),
    ("NonZero", build_nonzero),
    ("OneHot", build_one_hot),
];

// ---------------------------------------------------------------------------------------------
// Element types

/// An element type of [`Data`].
trait Elem: Copy + Default + PartialEq + 'static {
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
trait Num: Elem {
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
        }
    };
}

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
        }
    };
}

/// The elements of `t` as `T`, checked against its shape.
fn elems<'a, T: Elem>(t: &'a Tensor, name: &str) -> OpResult<&'a [T]> {
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

fn tensor<T: Elem>(shape: Vec<usize>, v: Vec<T>) -> OpResult<Tensor> {
    Tensor::new(shape, T::wrap(v))
}

/// An empty tensor of `x`'s element type: the result of any operator whose output has no
/// elements, returned before computing offsets that huge dimensions beside a 0 could overflow.
fn empty_like(x: &Tensor, shape: Vec<usize>) -> OpResult<Tensor> {
    with_elem!(&x.data, T => tensor(shape, Vec::<T>::new()))
}

/// The same elements under another shape (Reshape and its kin).
fn same_data(x: &Tensor, shape: Vec<usize>) -> OpResult<Tensor> {
    Tensor::new(shape, x.data.clone())
}

// ---------------------------------------------------------------------------------------------
// Shapes, axes and integer inputs

/// The product of `dims`, or an error when it overflows.
fn count(dims: &[usize]) -> OpResult<usize> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("shape {dims:?} is too large"))
}

/// Row-major strides of `dims`, checked for overflow.
fn strides_of(dims: &[usize]) -> OpResult<Vec<usize>> {
    let mut s = vec![1usize; dims.len()];
    let mut acc = 1usize;
    for i in (0..dims.len()).rev() {
        s[i] = acc;
        acc = acc
            .checked_mul(dims[i])
            .ok_or_else(|| format!("shape {dims:?} is too large"))?;
    }
    Ok(s)
}

/// Row-major strides as `isize`, for [`gather_view`].
fn istrides(dims: &[usize]) -> OpResult<Vec<isize>> {
    strides_of(dims)?
        .into_iter()
        .map(|s| isize::try_from(s).map_err(|_| format!("shape {dims:?} is too large")))
        .collect()
}

/// A size from the model: negative (or, on wasm32, >= 2^32) is an error.
fn to_usize(v: i64, what: &str) -> OpResult<usize> {
    usize::try_from(v).map_err(|_| format!("{what} {v} is not a valid size"))
}

/// A dimension list from the model (Expand's shape, ConstantOfShape's, Tile's repeats).
fn to_dims(v: &[i64], what: &str) -> OpResult<Vec<usize>> {
    v.iter().map(|&d| to_usize(d, what)).collect()
}

/// `a` normalised against `rank`, which must be at least 1.
fn axis_in(a: i64, rank: usize) -> OpResult<usize> {
    let v = axis(a, rank)?;
    if v >= rank {
        return Err(format!("axis {a} is out of range for rank {rank}"));
    }
    Ok(v)
}

/// Axes normalised against `rank`; a repeated axis is an error.
fn axes_in(axes: &[i64], rank: usize) -> OpResult<Vec<usize>> {
    let mut seen = vec![false; rank];
    axes.iter()
        .map(|&a| {
            let v = axis_in(a, rank)?;
            if std::mem::replace(&mut seen[v], true) {
                return Err(format!("axis {a} appears twice in {axes:?}"));
            }
            Ok(v)
        })
        .collect()
}

/// A position along an axis of size `dim`: negative counts from the end (once); anything
/// outside `[-dim, dim)` is an error.
fn wrap_index(i: i64, dim: usize, what: &str) -> OpResult<usize> {
    let d = i64::try_from(dim).unwrap_or(i64::MAX);
    let j = if i < 0 { i + d } else { i };
    if j < 0 || j >= d {
        return Err(format!(
            "{what} {i} is out of range for a dimension of {dim}"
        ));
    }
    Ok(j as usize)
}

/// An index tensor (int64 or int32) as positions along an axis of size `dim`.
fn positions(t: &Tensor, dim: usize, what: &str) -> OpResult<Vec<usize>> {
    fn conv<I: Copy + Into<i64>>(v: &[I], dim: usize, what: &str) -> OpResult<Vec<usize>> {
        v.iter().map(|&i| wrap_index(i.into(), dim, what)).collect()
    }
    let v = match &t.data {
        Data::I64(v) => conv(v, dim, what)?,
        Data::I32(v) => conv(v, dim, what)?,
        _ => return Err(format!("{what} are {}, expected int64 or int32", t.dtype())),
    };
    if count(&t.shape)? != v.len() {
        return Err(format!(
            "{what} have {} values for shape {:?}",
            v.len(),
            t.shape
        ));
    }
    Ok(v)
}

/// The integers of a shape-like input.
fn int_list(t: &Tensor, what: &str) -> OpResult<Vec<i64>> {
    t.to_i64s().map_err(|e| format!("{what}: {e}"))
}

/// The one integer of a scalar (or one-element) input.
fn one_int(v: &[i64], what: &str) -> OpResult<i64> {
    match v {
        [x] => Ok(*x),
        _ => Err(format!("{what} must have one value, it has {}", v.len())),
    }
}

/// A list of integers that older opsets give as an attribute and newer ones as an input: known
/// at load (the attribute, or a constant input) or read when the node runs.
enum Ints {
    Absent,
    Known(Vec<i64>),
    Input(usize),
}

impl Ints {
    fn attr(ctx: &NodeCtx, name: &str) -> Ints {
        ctx.ints(name).map_or(Ints::Absent, Ints::Known)
    }

    fn input(ctx: &NodeCtx, i: usize, what: &str) -> OpResult<Ints> {
        if !ctx.given(i) {
            return Ok(Ints::Absent);
        }
        Ok(match ctx.consts.get(i).copied().flatten() {
            Some(t) => Ints::Known(int_list(t, what)?),
            None => Ints::Input(i),
        })
    }

    /// Input `i` from opset `since` on, the attribute `name` before.
    fn since(ctx: &NodeCtx, since: i64, name: &str, i: usize) -> OpResult<Ints> {
        if ctx.opset >= since {
            Ints::input(ctx, i, name)
        } else {
            Ok(Ints::attr(ctx, name))
        }
    }

    fn get<'a>(
        &'a self,
        inputs: &[Option<&Tensor>],
        what: &str,
    ) -> OpResult<Option<Cow<'a, [i64]>>> {
        Ok(match self {
            Ints::Absent => None,
            Ints::Known(v) => Some(Cow::Borrowed(v)),
            Ints::Input(i) => Some(Cow::Owned(int_list(input(inputs, *i, what)?, what)?)),
        })
    }

    fn need<'a>(&'a self, inputs: &[Option<&Tensor>], what: &str) -> OpResult<Cow<'a, [i64]>> {
        self.get(inputs, what)?
            .ok_or_else(|| format!("{what} is missing"))
    }
}

// ---------------------------------------------------------------------------------------------
// Strided copies

/// The elements of a strided view of `src` in row-major order of `dims`: element `i` is
/// `src[base + Σ i_k * strides_k]`. Strides may be 0 (broadcast) or negative (reversed slice).
/// Axes of size 1 are dropped and adjacent axes merged when their strides allow, so the inner
/// loop is a contiguous copy (stride 1), a fill (0), a strided read, or, for a block whose two
/// inner axes swap, a 2-D transpose.
fn gather_view<T: Copy>(
    src: &[T],
    base: usize,
    dims: &[usize],
    strides: &[isize],
) -> OpResult<Vec<T>> {
    let len = volume(dims)?;
    if len == 0 {
        return Ok(Vec::new());
    }
    let (mut lo, mut hi) = (base as i128, base as i128);
    for (&d, &s) in dims.iter().zip(strides) {
        let span = (d as i128 - 1) * s as i128;
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    if dims.len() != strides.len() || lo < 0 || hi >= src.len() as i128 {
        return Err("internal: a strided view reaches outside its tensor".into());
    }
    let mut dd: Vec<usize> = Vec::with_capacity(dims.len());
    let mut ss: Vec<isize> = Vec::with_capacity(dims.len());
    for (&d, &s) in dims.iter().zip(strides) {
        if d == 1 {
            continue;
        }
        match (dd.last_mut(), ss.last_mut()) {
            (Some(pd), Some(ps)) if Some(*ps) == s.checked_mul(d as isize) => {
                *pd *= d;
                *ps = s;
            }
            _ => {
                dd.push(d);
                ss.push(s);
            }
        }
    }
    let mut out = Vec::with_capacity(len);
    let r = dd.len();
    if r == 0 {
        out.push(src[base]);
        return Ok(out);
    }
    let (n, s) = (dd[r - 1], ss[r - 1]);
    let tile = r >= 2 && ss[r - 2] == 1 && s == dd[r - 2] as isize;
    let outer = if tile { r - 2 } else { r - 1 };
    let mut idx = vec![0usize; outer];
    let mut off = base as isize;
    loop {
        let o = off as usize;
        if tile {
            let a = dd[r - 2];
            transpose_block(&src[o..o + a * n], a, n, &mut out);
        } else {
            copy_row(src, o, n, s, &mut out);
        }
        let mut k = outer;
        loop {
            if k == 0 {
                return Ok(out);
            }
            k -= 1;
            idx[k] += 1;
            off += ss[k];
            if idx[k] < dd[k] {
                break;
            }
            off -= ss[k] * dd[k] as isize;
            idx[k] = 0;
        }
    }
}

/// Appends `n` elements of `src` from `o` on, `s` apart.
#[inline(always)]
fn copy_row<T: Copy>(src: &[T], o: usize, n: usize, s: isize, out: &mut Vec<T>) {
    match s {
        1 => out.extend_from_slice(&src[o..o + n]),
        0 => out.extend(std::iter::repeat_n(src[o], n)),
        -1 => out.extend(src[o + 1 - n..=o].iter().rev()),
        s if s > 0 => {
            let s = s as usize;
            out.extend((0..n).map(|k| src[o + k * s]));
        }
        s => {
            let a = s.unsigned_abs();
            out.extend((0..n).map(|k| src[o - k * a]));
        }
    }
}

/// Appends the transpose of `blk` (`b` rows of `a`) as `a` rows of `b`. Output rows are written
/// in strips of `STRIP` columns, so that the source rows a strip reads stay in cache.
fn transpose_block<T: Copy>(blk: &[T], a: usize, b: usize, out: &mut Vec<T>) {
    const STRIP: usize = 64;
    if b <= STRIP {
        for i in 0..a {
            out.extend((0..b).map(|j| blk[j * a + i]));
        }
        return;
    }
    let start = out.len();
    out.extend(std::iter::repeat_n(blk[0], a * b));
    let dst = &mut out[start..];
    for j0 in (0..b).step_by(STRIP) {
        let j1 = (j0 + STRIP).min(b);
        let src = &blk[j0 * a..j1 * a];
        for (i, row) in dst.chunks_exact_mut(b).enumerate() {
            for (jj, d) in row[j0..j1].iter_mut().enumerate() {
                *d = src[jj * a + i];
            }
        }
    }
}

/// [`gather_view`] of `x`, whatever its element type.
fn view(x: &Tensor, base: usize, dims: &[usize], strides: &[isize]) -> OpResult<Data> {
    with_elem!(&x.data, T => Ok(T::wrap(gather_view(elems::<T>(x, "X")?, base, dims, strides)?)))
}

/// Calls `f(a, b)` for each index of `dims` (row-major), with `a` and `b` the offsets
/// `Σ i_k * sa_k` and `Σ i_k * sb_k`.
fn for_each_offset(dims: &[usize], sa: &[usize], sb: &[usize], mut f: impl FnMut(usize, usize)) {
    if dims.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; dims.len()];
    let (mut a, mut b) = (0usize, 0usize);
    loop {
        f(a, b);
        let mut k = dims.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            idx[k] += 1;
            a += sa[k];
            b += sb[k];
            if idx[k] < dims[k] {
                break;
            }
            a -= sa[k] * dims[k];
            b -= sb[k] * dims[k];
            idx[k] = 0;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Shape, Size

struct Reshape {
    shape: Ints,
    allowzero: bool,
}

fn build_reshape(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let shape = Ints::since(ctx, 5, "shape", 1)?;
    if matches!(shape, Ints::Absent) {
        return Err("the target shape is missing".into());
    }
    Ok(Box::new(Reshape {
        shape,
        allowzero: ctx.int("allowzero", 0) != 0,
    }))
}

/// The shape Reshape gives `dims` for the target `spec`: 0 copies the input's dimension (unless
/// `allowzero`), one -1 takes what is left.
fn reshape_dims(dims: &[usize], spec: &[i64], allowzero: bool) -> OpResult<Vec<usize>> {
    let total = count(dims)?;
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &v) in spec.iter().enumerate() {
        out.push(match v {
            -1 => {
                if infer.replace(i).is_some() {
                    return Err(format!("the target shape {spec:?} has more than one -1"));
                }
                1
            }
            0 if !allowzero => *dims.get(i).ok_or_else(|| {
                format!(
                    "the 0 at position {i} of the target shape {spec:?} copies a dimension the \
                     input (shape {dims:?}) does not have"
                )
            })?,
            v => usize::try_from(v)
                .map_err(|_| format!("the target shape {spec:?} has the invalid size {v}"))?,
        });
    }
    let bad = || format!("cannot reshape {dims:?} ({total} elements) to {spec:?}");
    let known = count(&out).map_err(|_| bad())?;
    match infer {
        Some(i) => {
            if known == 0 || total % known != 0 {
                return Err(bad());
            }
            out[i] = total / known;
        }
        None if known != total => return Err(bad()),
        None => {}
    }
    Ok(out)
}

impl Op for Reshape {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let spec = self.shape.need(inputs, "shape")?;
        let dims = reshape_dims(&x.shape, &spec, self.allowzero)?;
        Ok(vec![same_data(x, dims)?])
    }
}

struct Flatten {
    axis: i64,
}

fn build_flatten(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Flatten {
        axis: ctx.int("axis", 1),
    }))
}

impl Op for Flatten {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let r = x.rank() as i64;
        if self.axis < -r || self.axis > r {
            return Err(format!(
                "axis {} is out of range for rank {r} (Flatten allows -{r}..={r})",
                self.axis
            ));
        }
        let a = if self.axis < 0 {
            self.axis + r
        } else {
            self.axis
        } as usize;
        let dims = vec![count(&x.shape[..a])?, count(&x.shape[a..])?];
        Ok(vec![same_data(x, dims)?])
    }
}

struct Squeeze {
    axes: Ints,
}

fn build_squeeze(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Squeeze {
        axes: Ints::since(ctx, 13, "axes", 1)?,
    }))
}

impl Op for Squeeze {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        // Empty axes, like none, squeeze every axis of size 1.
        let axes = self.axes.get(inputs, "axes")?.filter(|a| !a.is_empty());
        let dims = match axes {
            None => x.shape.iter().copied().filter(|&d| d != 1).collect(),
            Some(axes) => {
                let axes = axes_in(&axes, x.rank())?;
                if let Some(&a) = axes.iter().find(|&&a| x.shape[a] != 1) {
                    return Err(format!(
                        "cannot squeeze axis {a} of shape {:?}: its size is not 1",
                        x.shape
                    ));
                }
                x.shape
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !axes.contains(i))
                    .map(|(_, &d)| d)
                    .collect()
            }
        };
        Ok(vec![same_data(x, dims)?])
    }
}

struct Unsqueeze {
    axes: Ints,
}

fn build_unsqueeze(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let axes = Ints::since(ctx, 13, "axes", 1)?;
    if matches!(axes, Ints::Absent) {
        return Err("the axes are missing".into());
    }
    Ok(Box::new(Unsqueeze { axes }))
}

impl Op for Unsqueeze {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let axes = self.axes.need(inputs, "axes")?;
        let rank = x.rank() + axes.len();
        let axes = axes_in(&axes, rank)?;
        let mut rest = x.shape.iter();
        let dims = (0..rank)
            .map(|i| {
                if axes.contains(&i) {
                    1
                } else {
                    rest.next().copied().unwrap_or(1)
                }
            })
            .collect();
        Ok(vec![same_data(x, dims)?])
    }
}

struct Identity;

fn build_identity(_: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Identity))
}

impl Op for Identity {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        Ok(vec![input(inputs, 0, "input")?.clone()])
    }
}

struct Shape {
    start: i64,
    end: Option<i64>,
}

fn build_shape(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Shape {
        start: ctx.int("start", 0),
        end: ctx.has("end").then(|| ctx.int("end", 0)),
    }))
}

impl Op for Shape {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let r = x.rank() as i64;
        let clamp = |v: i64| (if v < 0 { v.saturating_add(r) } else { v }).clamp(0, r) as usize;
        let start = clamp(self.start);
        let end = clamp(self.end.unwrap_or(r)).max(start);
        let v: Vec<i64> = x.shape[start..end].iter().map(|&d| d as i64).collect();
        Ok(vec![Tensor::i64(vec![v.len()], v)])
    }
}

struct Size;

fn build_size(_: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Size))
}

impl Op for Size {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        Ok(vec![Tensor::i64(vec![], vec![x.len() as i64])])
    }
}

// ---------------------------------------------------------------------------------------------
// Transpose, DepthToSpace, SpaceToDepth

struct Transpose {
    perm: Option<Vec<i64>>,
}

fn build_transpose(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Transpose {
        perm: ctx.ints("perm"),
    }))
}

impl Op for Transpose {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let r = x.rank();
        let perm: Vec<usize> = match &self.perm {
            None => (0..r).rev().collect(),
            Some(p) => {
                let mut seen = vec![false; r];
                let bad = || format!("perm {p:?} is not a permutation of the {r} axes");
                if p.len() != r {
                    return Err(bad());
                }
                p.iter()
                    .map(|&a| {
                        let a = usize::try_from(a).ok().filter(|&a| a < r).ok_or_else(bad)?;
                        if std::mem::replace(&mut seen[a], true) {
                            return Err(bad());
                        }
                        Ok(a)
                    })
                    .collect::<OpResult<_>>()?
            }
        };
        let st = istrides(&x.shape)?;
        let dims: Vec<usize> = perm.iter().map(|&a| x.shape[a]).collect();
        let strides: Vec<isize> = perm.iter().map(|&a| st[a]).collect();
        let data = view(x, 0, &dims, &strides)?;
        Ok(vec![Tensor::new(dims, data)?])
    }
}

/// The block size of DepthToSpace and SpaceToDepth.
fn blocksize(ctx: &NodeCtx) -> OpResult<usize> {
    let b = ctx.int("blocksize", 0);
    match usize::try_from(b) {
        Ok(b) if b > 0 => Ok(b),
        _ => Err(format!("blocksize {b} is invalid (a positive size)")),
    }
}

/// The dimensions of a 4-D input.
fn nchw(x: &Tensor) -> OpResult<[usize; 4]> {
    match x.shape[..] {
        [n, c, h, w] => Ok([n, c, h, w]),
        _ => Err(format!(
            "input has shape {:?}, expected 4 dimensions",
            x.shape
        )),
    }
}

fn mul(a: usize, b: usize) -> OpResult<usize> {
    a.checked_mul(b)
        .ok_or_else(|| format!("{a} x {b} elements are too many"))
}

/// Whether the `mode` of DepthToSpace (and of SpaceToDepth from opset 25) is CRD (channel,
/// row, column) rather than the default DCR (depth, column, row).
fn crd_mode(ctx: &NodeCtx) -> OpResult<bool> {
    match ctx.string("mode").as_deref() {
        None | Some("DCR") => Ok(false),
        Some("CRD") => Ok(true),
        Some(m) => Err(format!("mode '{m}' is not DCR or CRD")),
    }
}

struct DepthToSpace {
    bs: usize,
    crd: bool,
}

fn build_depth_to_space(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(DepthToSpace {
        bs: blocksize(ctx)?,
        crd: crd_mode(ctx)?,
    }))
}

impl Op for DepthToSpace {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let [n, c, h, w] = nchw(x)?;
        let bs = self.bs;
        let bb = mul(bs, bs)?;
        if c % bb != 0 {
            return Err(format!(
                "{c} channels do not divide into blocks of {bs}x{bs}"
            ));
        }
        let c2 = c / bb;
        let shape = vec![n, c2, mul(h, bs)?, mul(w, bs)?];
        if volume(&shape)? == 0 {
            return Ok(vec![empty_like(x, shape)?]);
        }
        let st = istrides(&x.shape)?;
        let hw = st[1];
        let (bsi, c2i) = (bs as isize, c2 as isize);
        // Output axes (n, c2, h, b1, w, b2).
        let (sc2, sb1, sb2) = if self.crd {
            (bsi * bsi * hw, bsi * hw, hw)
        } else {
            (hw, bsi * c2i * hw, c2i * hw)
        };
        let dims = [n, c2, h, bs, w, bs];
        let strides = [st[0], sc2, st[2], sb1, 1, sb2];
        let data = view(x, 0, &dims, &strides)?;
        Ok(vec![Tensor::new(shape, data)?])
    }
}

struct SpaceToDepth {
    bs: usize,
    crd: bool,
}

fn build_space_to_depth(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(SpaceToDepth {
        bs: blocksize(ctx)?,
        crd: crd_mode(ctx)?,
    }))
}

impl Op for SpaceToDepth {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let [n, c, h, w] = nchw(x)?;
        let bs = self.bs;
        if h % bs != 0 || w % bs != 0 {
            return Err(format!(
                "height {h} and width {w} must be multiples of the block size {bs}"
            ));
        }
        let (oh, ow) = (h / bs, w / bs);
        let shape = vec![n, mul(c, mul(bs, bs)?)?, oh, ow];
        if volume(&shape)? == 0 {
            return Ok(vec![empty_like(x, shape)?]);
        }
        let st = istrides(&x.shape)?;
        let (wi, bsi) = (st[2], bs as isize);
        // Output axes (n, b1, b2, c, oh, ow), or (n, c, b1, b2, oh, ow) in CRD mode.
        let (dims, strides) = if self.crd {
            ([n, c, bs, bs, oh, ow], [st[0], st[1], wi, 1, bsi * wi, bsi])
        } else {
            ([n, bs, bs, c, oh, ow], [st[0], wi, 1, st[1], bsi * wi, bsi])
        };
        let data = view(x, 0, &dims, &strides)?;
        Ok(vec![Tensor::new(shape, data)?])
    }
}

// ---------------------------------------------------------------------------------------------
// Concat, Split, Slice

struct Concat {
    axis: i64,
}

fn build_concat(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    if !ctx.has("axis") && ctx.opset >= 4 {
        return Err("the axis attribute is missing".into());
    }
    Ok(Box::new(Concat {
        axis: ctx.int("axis", 1),
    }))
}

fn concat<T: Elem>(ts: &[&Tensor], a: usize, shape: &[usize]) -> OpResult<Vec<T>> {
    let len = volume(shape)?;
    if len == 0 {
        return Ok(Vec::new());
    }
    let outer = count(&shape[..a])?;
    let inner = count(&shape[a + 1..])?;
    let parts = ts
        .iter()
        .map(|t| Ok((elems::<T>(t, "inputs")?, mul(t.shape[a], inner)?)))
        .collect::<OpResult<Vec<_>>>()?;
    let mut out = Vec::with_capacity(len);
    for o in 0..outer {
        for &(s, blk) in &parts {
            out.extend_from_slice(&s[o * blk..(o + 1) * blk]);
        }
    }
    Ok(out)
}

impl Op for Concat {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let ts = (0..inputs.len())
            .map(|i| input(inputs, i, "inputs"))
            .collect::<OpResult<Vec<&Tensor>>>()?;
        let first = ts.first().ok_or("there are no inputs")?;
        let r = first.rank();
        if r == 0 {
            return Err("cannot concatenate scalars".into());
        }
        let a = axis_in(self.axis, r)?;
        let mut shape = first.shape.clone();
        shape[a] = 0;
        for t in &ts {
            let fits = t.rank() == r && (0..r).all(|k| k == a || t.shape[k] == first.shape[k]);
            if !fits {
                return Err(format!(
                    "cannot concatenate shapes {:?} and {:?} along axis {a}",
                    first.shape, t.shape
                ));
            }
            shape[a] = shape[a]
                .checked_add(t.shape[a])
                .ok_or("the result is too large")?;
        }
        let data = with_elem!(&first.data, T => T::wrap(concat::<T>(&ts, a, &shape)?));
        Ok(vec![Tensor::new(shape, data)?])
    }
}

struct Split {
    axis: i64,
    split: Ints,
    num_outputs: Option<usize>,
    outputs: usize,
}

fn build_split(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let outputs = ctx.node.output.len();
    if outputs == 0 {
        return Err("the node has no outputs".into());
    }
    let num_outputs = if ctx.opset >= 18 && ctx.has("num_outputs") {
        let n = ctx.int("num_outputs", 0);
        if usize::try_from(n).ok() != Some(outputs) {
            return Err(format!(
                "num_outputs is {n} but the node has {outputs} outputs"
            ));
        }
        Some(outputs)
    } else {
        None
    };
    Ok(Box::new(Split {
        axis: ctx.int("axis", 0),
        split: Ints::since(ctx, 13, "split", 1)?,
        num_outputs,
        outputs,
    }))
}

impl Op for Split {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let r = x.rank();
        if r == 0 {
            return Err("cannot split a scalar".into());
        }
        let a = axis_in(self.axis, r)?;
        let d = x.shape[a];
        let n = self.outputs;
        let sizes: Vec<usize> = match (self.split.get(inputs, "split")?, self.num_outputs) {
            (Some(s), _) => {
                let s = to_dims(&s, "split size")?;
                let total = s.iter().try_fold(0usize, |t, &v| t.checked_add(v));
                if s.len() != n || total != Some(d) {
                    return Err(format!(
                        "split sizes {s:?} do not cut the {d} elements of axis {a} into {n} \
                         outputs"
                    ));
                }
                s
            }
            (None, Some(_)) => {
                let chunk = d.div_ceil(n);
                (0..n)
                    .map(|i| chunk.min(d.saturating_sub(i * chunk)))
                    .collect()
            }
            (None, None) => {
                if d % n != 0 {
                    return Err(format!(
                        "axis {a} of size {d} does not split into {n} equal parts"
                    ));
                }
                vec![d / n; n]
            }
        };
        let outer = count(&x.shape[..a])?;
        let inner = count(&x.shape[a + 1..])?;
        let row = isize::try_from(mul(d, inner)?).map_err(|_| "the input is too large")?;
        let mut at = 0;
        sizes
            .iter()
            .map(|&sz| {
                let mut shape = x.shape.clone();
                shape[a] = sz;
                let data = view(x, at * inner, &[outer, sz * inner], &[row, 1])?;
                at += sz;
                Tensor::new(shape, data)
            })
            .collect()
    }
}

struct Slice {
    starts: Ints,
    ends: Ints,
    axes: Ints,
    steps: Ints,
}

fn build_slice(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let op = if ctx.opset >= 10 {
        Slice {
            starts: Ints::input(ctx, 1, "starts")?,
            ends: Ints::input(ctx, 2, "ends")?,
            axes: Ints::input(ctx, 3, "axes")?,
            steps: Ints::input(ctx, 4, "steps")?,
        }
    } else {
        Slice {
            starts: Ints::attr(ctx, "starts"),
            ends: Ints::attr(ctx, "ends"),
            axes: Ints::attr(ctx, "axes"),
            steps: Ints::Absent,
        }
    };
    if matches!(op.starts, Ints::Absent) || matches!(op.ends, Ints::Absent) {
        return Err("starts and ends are required".into());
    }
    Ok(Box::new(op))
}

/// The first position and count of a Slice of an axis of size `d` (ONNX's clamping rules).
fn slice_axis(d: usize, start: i64, end: i64, step: i64) -> OpResult<(usize, usize)> {
    if step == 0 {
        return Err("a slice step is 0".into());
    }
    if d == 0 {
        return Ok((0, 0));
    }
    let (d, st) = (d as i128, step as i128);
    let norm = |v: i64| if v < 0 { v as i128 + d } else { v as i128 };
    let (mut s, mut e) = (norm(start), norm(end));
    let n = if st > 0 {
        s = s.clamp(0, d);
        e = e.clamp(0, d);
        if e > s {
            (e - s + st - 1) / st
        } else {
            0
        }
    } else {
        s = s.clamp(0, d - 1);
        e = e.clamp(-1, d - 1);
        if s > e {
            (s - e - st - 1) / -st
        } else {
            0
        }
    };
    Ok((s.min(d - 1) as usize, n as usize))
}

impl Op for Slice {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let r = x.rank();
        let starts = self.starts.need(inputs, "starts")?;
        let ends = self.ends.need(inputs, "ends")?;
        let k = starts.len();
        let axes = match self.axes.get(inputs, "axes")? {
            Some(a) => axes_in(&a, r)?,
            None => (0..k).collect(),
        };
        let steps = self.steps.get(inputs, "steps")?;
        if ends.len() != k || axes.len() != k || steps.as_ref().is_some_and(|s| s.len() != k) {
            return Err(format!(
                "starts, ends, axes and steps have different lengths ({k}, {}, {}, {})",
                ends.len(),
                axes.len(),
                steps.as_ref().map_or(k, |s| s.len())
            ));
        }
        if k > r {
            return Err(format!("{k} slices for an input of rank {r}"));
        }
        let st = istrides(&x.shape)?;
        let mut dims = x.shape.clone();
        let mut strides = st.clone();
        let mut base = 0usize;
        for (i, &a) in axes.iter().enumerate() {
            let step = steps.as_ref().map_or(1, |s| s[i]);
            let (first, n) = slice_axis(x.shape[a], starts[i], ends[i], step)?;
            dims[a] = n;
            // With two or more elements, |step| < the axis' size.
            strides[a] = if n > 1 {
                st[a] * isize::try_from(step).map_err(|_| "a slice step is too large")?
            } else {
                0
            };
            base += first * st[a] as usize;
        }
        if volume(&dims)? == 0 {
            return Ok(vec![empty_like(x, dims)?]);
        }
        let data = view(x, base, &dims, &strides)?;
        Ok(vec![Tensor::new(dims, data)?])
    }
}

// ---------------------------------------------------------------------------------------------
// Gather, GatherElements, GatherND, ScatterND

struct Gather {
    axis: i64,
}

fn build_gather(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Gather {
        axis: ctx.int("axis", 0),
    }))
}

fn gather<T: Elem>(src: &[T], d: usize, inner: usize, ids: &[usize], len: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(len);
    for base in (0..src.len()).step_by(d * inner) {
        if inner == 1 {
            out.extend(ids.iter().map(|&i| src[base + i]));
        } else {
            for &i in ids {
                let at = base + i * inner;
                out.extend_from_slice(&src[at..at + inner]);
            }
        }
    }
    out
}

impl Op for Gather {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let it = input(inputs, 1, "indices")?;
        if x.rank() == 0 {
            return Err("cannot gather from a scalar".into());
        }
        let a = axis_in(self.axis, x.rank())?;
        let d = x.shape[a];
        let ids = positions(it, d, "indices")?;
        let mut shape = x.shape[..a].to_vec();
        shape.extend_from_slice(&it.shape);
        shape.extend_from_slice(&x.shape[a + 1..]);
        let len = volume(&shape)?;
        if len == 0 {
            return Ok(vec![empty_like(x, shape)?]);
        }
        let inner = count(&x.shape[a + 1..])?;
        let data =
            with_elem!(&x.data, T => T::wrap(gather(elems::<T>(x, "data")?, d, inner, &ids, len)));
        Ok(vec![Tensor::new(shape, data)?])
    }
}

struct GatherElements {
    axis: i64,
}

fn build_gather_elements(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(GatherElements {
        axis: ctx.int("axis", 0),
    }))
}

impl Op for GatherElements {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let it = input(inputs, 1, "indices")?;
        let r = x.rank();
        if r == 0 {
            return Err("cannot gather from a scalar".into());
        }
        let a = axis_in(self.axis, r)?;
        if it.rank() != r || (0..r).any(|k| k != a && it.shape[k] > x.shape[k]) {
            return Err(format!(
                "indices of shape {:?} do not fit data of shape {:?} along axis {a}",
                it.shape, x.shape
            ));
        }
        let ids = positions(it, x.shape[a], "indices")?;
        let xs = strides_of(&x.shape)?;
        let step = xs[a];
        let mut sa = xs;
        sa[a] = 0;
        let sb = strides_of(&it.shape)?;
        let data = with_elem!(&x.data, T => {
            let src = elems::<T>(x, "data")?;
            let mut out = vec![T::default(); ids.len()];
            for_each_offset(&it.shape, &sa, &sb, |o, j| out[j] = src[o + ids[j] * step]);
            T::wrap(out)
        });
        Ok(vec![Tensor::new(it.shape.clone(), data)?])
    }
}

/// The index tuples of GatherND and ScatterND: the offset in data of the block each one picks,
/// the block's size, and the shape of the result (GatherND) or of the updates (ScatterND).
/// The first `b` axes of data and indices are batch axes.
fn nd_offsets(
    dshape: &[usize],
    it: &Tensor,
    b: usize,
) -> OpResult<(Vec<usize>, usize, Vec<usize>)> {
    let (r, q) = (dshape.len(), it.rank());
    let m = it.shape.last().copied().unwrap_or(0);
    if q == 0 || b >= q.min(r) || m == 0 || m > r - b || it.shape[..b] != dshape[..b] {
        return Err(format!(
            "indices of shape {:?} do not index data of shape {dshape:?} with {b} batch axes",
            it.shape
        ));
    }
    let ids = int_list(it, "indices")?;
    if count(&it.shape)? != ids.len() {
        return Err("the indices do not match their shape".into());
    }
    let ds = strides_of(dshape)?;
    let inner = count(&dshape[b + m..])?;
    let batches = count(&dshape[..b])?;
    let batch_len = count(&dshape[b..])?;
    let tuples = count(&it.shape[b..q - 1])?;
    let mut offs = Vec::with_capacity(mul(batches, tuples)?);
    let mut tup = ids.chunks_exact(m);
    for bi in (0..batches).take_while(|_| tuples > 0) {
        for _ in 0..tuples {
            let t = tup.next().ok_or("the indices do not match their shape")?;
            let mut off = bi * batch_len;
            for (k, &i) in t.iter().enumerate() {
                off += wrap_index(i, dshape[b + k], "index")? * ds[b + k];
            }
            offs.push(off);
        }
    }
    let mut shape = it.shape[..q - 1].to_vec();
    shape.extend_from_slice(&dshape[b + m..]);
    Ok((offs, inner, shape))
}

struct GatherNd {
    batch_dims: i64,
}

fn build_gather_nd(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(GatherNd {
        batch_dims: ctx.int("batch_dims", 0),
    }))
}

impl Op for GatherNd {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let it = input(inputs, 1, "indices")?;
        let b = to_usize(self.batch_dims, "batch_dims")?;
        let (offs, inner, shape) = nd_offsets(&x.shape, it, b)?;
        let len = volume(&shape)?;
        let data = with_elem!(&x.data, T => {
            let src = elems::<T>(x, "data")?;
            let mut out = Vec::with_capacity(len);
            for &o in &offs {
                out.extend_from_slice(&src[o..o + inner]);
            }
            T::wrap(out)
        });
        Ok(vec![Tensor::new(shape, data)?])
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Reduction {
    None,
    Add,
    Mul,
    Max,
    Min,
}

struct ScatterNd {
    reduction: Reduction,
}

fn build_scatter_nd(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let reduction = match ctx.string("reduction").as_deref() {
        None | Some("none") => Reduction::None,
        Some("add") => Reduction::Add,
        Some("mul") => Reduction::Mul,
        Some("max") => Reduction::Max,
        Some("min") => Reduction::Min,
        Some(r) => return Err(format!("reduction '{r}' is not none, add, mul, max or min")),
    };
    Ok(Box::new(ScatterNd { reduction }))
}

/// Writes the blocks of `upd` at `offs` in `out`, combined with what is there by `f`.
fn scatter_blocks<T: Copy>(
    out: &mut [T],
    offs: &[usize],
    inner: usize,
    upd: &[T],
    f: impl Fn(T, T) -> T,
) {
    for (&o, u) in offs.iter().zip(upd.chunks_exact(inner.max(1))) {
        for (d, &v) in out[o..o + inner].iter_mut().zip(u) {
            *d = f(*d, v);
        }
    }
}

impl Op for ScatterNd {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let it = input(inputs, 1, "indices")?;
        let ut = input(inputs, 2, "updates")?;
        let (offs, inner, ushape) = nd_offsets(&x.shape, it, 0)?;
        if ut.shape != ushape {
            return Err(format!(
                "updates have shape {:?}, expected {ushape:?}",
                ut.shape
            ));
        }
        fn run<T: Num>(
            x: &Tensor,
            ut: &Tensor,
            offs: &[usize],
            inner: usize,
            red: Reduction,
        ) -> OpResult<Data> {
            let mut out = elems::<T>(x, "data")?.to_vec();
            let upd = elems::<T>(ut, "updates")?;
            match red {
                Reduction::None => scatter_blocks(&mut out, offs, inner, upd, |_, u| u),
                Reduction::Add => scatter_blocks(&mut out, offs, inner, upd, T::add),
                Reduction::Mul => scatter_blocks(&mut out, offs, inner, upd, T::mul),
                Reduction::Max => scatter_blocks(&mut out, offs, inner, upd, |a, u| {
                    if T::after(u, a) {
                        u
                    } else {
                        a
                    }
                }),
                Reduction::Min => scatter_blocks(&mut out, offs, inner, upd, |a, u| {
                    if T::after(a, u) {
                        u
                    } else {
                        a
                    }
                }),
            }
            Ok(T::wrap(out))
        }
        let data = match (&x.data, self.reduction) {
            (Data::Bool(_), Reduction::None) => {
                let mut out = elems::<bool>(x, "data")?.to_vec();
                scatter_blocks(
                    &mut out,
                    &offs,
                    inner,
                    elems::<bool>(ut, "updates")?,
                    |_, u| u,
                );
                Data::Bool(out)
            }
            (d, red) => {
                with_num!(d, "ScatterND with a reduction", T => run::<T>(x, ut, &offs, inner, red))?
            }
        };
        Ok(vec![Tensor::new(x.shape.clone(), data)?])
    }
}

// ---------------------------------------------------------------------------------------------
// Expand, Tile, Pad

struct Expand {
    shape: Ints,
}

fn build_expand(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Expand {
        shape: Ints::input(ctx, 1, "shape")?,
    }))
}

impl Op for Expand {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let target = to_dims(&self.shape.need(inputs, "shape")?, "shape value")?;
        let shape = broadcast(&x.shape, &target)?;
        volume(&shape)?;
        let r = shape.len();
        let st = istrides(&x.shape)?;
        let pad = r - x.rank();
        let strides: Vec<isize> = (0..r)
            .map(|k| match k.checked_sub(pad) {
                Some(i) if x.shape[i] == shape[k] => st[i],
                _ => 0,
            })
            .collect();
        let data = view(x, 0, &shape, &strides)?;
        Ok(vec![Tensor::new(shape, data)?])
    }
}

struct Tile {
    repeats: Ints,
}

fn build_tile(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Tile {
        repeats: Ints::input(ctx, 1, "repeats")?,
    }))
}

impl Op for Tile {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let reps = to_dims(&self.repeats.need(inputs, "repeats")?, "repeat count")?;
        if reps.len() != x.rank() {
            return Err(format!(
                "{} repeats for an input of rank {}",
                reps.len(),
                x.rank()
            ));
        }
        let shape = x
            .shape
            .iter()
            .zip(&reps)
            .map(|(&d, &n)| mul(d, n))
            .collect::<OpResult<Vec<usize>>>()?;
        volume(&shape)?;
        // The result is x viewed as [r0, d0, r1, d1, ...] with stride 0 along each rk.
        let st = istrides(&x.shape)?;
        let mut dims = Vec::with_capacity(2 * reps.len());
        let mut strides = Vec::with_capacity(2 * reps.len());
        for k in 0..reps.len() {
            dims.extend([reps[k], x.shape[k]]);
            strides.extend([0, st[k]]);
        }
        let data = view(x, 0, &dims, &strides)?;
        Ok(vec![Tensor::new(shape, data)?])
    }
}

#[derive(Clone, Copy, PartialEq)]
enum PadMode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

struct Pad {
    mode: PadMode,
    pads: Ints,
    axes: Ints,
    /// The `value` attribute of opsets before 11 (later, input 2).
    value: Option<f32>,
}

fn build_pad(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let mode = match ctx.string("mode").as_deref() {
        None | Some("constant") => PadMode::Constant,
        Some("reflect") => PadMode::Reflect,
        Some("edge") => PadMode::Edge,
        Some("wrap") => PadMode::Wrap,
        Some(m) => return Err(format!("mode '{m}' is not constant, reflect, edge or wrap")),
    };
    let old = ctx.opset < 11;
    let pads = Ints::since(ctx, 11, "pads", 1)?;
    if matches!(pads, Ints::Absent) {
        return Err("the pads are missing".into());
    }
    Ok(Box::new(Pad {
        mode,
        pads,
        axes: if ctx.opset >= 18 {
            Ints::input(ctx, 3, "axes")?
        } else {
            Ints::Absent
        },
        value: old.then(|| ctx.float("value", 0.0)),
    }))
}

/// Where each position of an axis of the padded result reads the input (of size `d`), for the
/// modes that read the input everywhere.
fn pad_positions(mode: PadMode, d: usize, begin: i64, out: usize) -> OpResult<Vec<usize>> {
    if d == 0 {
        return match out {
            0 => Ok(vec![]),
            _ => Err("cannot pad an empty axis in reflect, edge or wrap mode".into()),
        };
    }
    let di = d as i128;
    Ok((0..out)
        .map(|i| {
            let c = i as i128 - begin as i128;
            let p = match mode {
                PadMode::Edge | PadMode::Constant => c.clamp(0, di - 1),
                PadMode::Wrap => c.rem_euclid(di),
                PadMode::Reflect if d == 1 => 0,
                PadMode::Reflect => {
                    let m = c.rem_euclid(2 * (di - 1));
                    if m >= di {
                        2 * (di - 1) - m
                    } else {
                        m
                    }
                }
            };
            p as usize
        })
        .collect())
}

/// Pad in constant mode: the result filled with `value`, then the part of the input that lands
/// in it (negative pads crop) copied row by row.
fn pad_constant<T: Elem>(
    src: &[T],
    ishape: &[usize],
    oshape: &[usize],
    begins: &[i64],
    value: T,
) -> OpResult<Vec<T>> {
    let mut out = vec![value; volume(oshape)?];
    let r = ishape.len();
    // The box of the input that lands in the result, where it starts in each.
    let mut region = vec![0usize; r];
    let (mut src_at, mut dst_at) = (0usize, 0usize);
    let (is, os) = (strides_of(ishape)?, strides_of(oshape)?);
    for k in 0..r {
        let b = begins[k] as i128;
        let (skip, start) = ((-b).max(0), b.max(0));
        let n = (ishape[k] as i128 - skip).min(oshape[k] as i128 - start);
        if n <= 0 {
            return Ok(out);
        }
        region[k] = n as usize;
        src_at += skip as usize * is[k];
        dst_at += start as usize * os[k];
    }
    if r == 0 {
        out.copy_from_slice(src);
        return Ok(out);
    }
    let w = region[r - 1];
    for_each_offset(&region[..r - 1], &is[..r - 1], &os[..r - 1], |a, b| {
        let (a, b) = (src_at + a, dst_at + b);
        out[b..b + w].copy_from_slice(&src[a..a + w]);
    });
    Ok(out)
}

/// Pad in the reflect, edge and wrap modes: each element of the result read from the input at
/// the positions [`pad_positions`] gives along each axis.
fn pad_gather<T: Elem>(
    src: &[T],
    ishape: &[usize],
    pos: &[Vec<usize>],
    len: usize,
) -> OpResult<Vec<T>> {
    let r = ishape.len();
    if r == 0 {
        return Ok(src.to_vec());
    }
    let mut out = Vec::with_capacity(len);
    let is = strides_of(ishape)?;
    let odims: Vec<usize> = pos.iter().map(Vec::len).collect();
    let last = &pos[r - 1];
    let mut idx = vec![0usize; r - 1];
    loop {
        let off: usize = (0..r - 1).map(|k| pos[k][idx[k]] * is[k]).sum();
        let row = &src[off..off + ishape[r - 1]];
        out.extend(last.iter().map(|&p| row[p]));
        let mut k = r - 1;
        loop {
            if k == 0 {
                return Ok(out);
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < odims[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

impl Op for Pad {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let r = x.rank();
        let pads = self.pads.need(inputs, "pads")?;
        let axes = match self.axes.get(inputs, "axes")? {
            Some(a) => axes_in(&a, r)?,
            None => (0..r).collect(),
        };
        let n = axes.len();
        if pads.len() != 2 * n {
            return Err(format!(
                "{} pads for {n} axes (expected begins then ends, {} values)",
                pads.len(),
                2 * n
            ));
        }
        let mut begins = vec![0i64; r];
        let mut shape = x.shape.clone();
        for (i, &a) in axes.iter().enumerate() {
            let (b, e) = (pads[i], pads[n + i]);
            begins[a] = b;
            let d = x.shape[a] as i128 + b as i128 + e as i128;
            shape[a] = usize::try_from(d).map_err(|_| {
                format!(
                    "pads {b} and {e} leave axis {a} of size {} with size {d}",
                    x.shape[a]
                )
            })?;
        }
        let len = volume(&shape)?;
        if len == 0 {
            return Ok(vec![empty_like(x, shape)?]);
        }
        let data = with_elem!(&x.data, T => {
            let src = elems::<T>(x, "data")?;
            let out = if self.mode == PadMode::Constant {
                let value = match (self.value, inputs.get(2).copied().flatten()) {
                    (Some(v), _) => T::from_f32(v),
                    (None, Some(t)) => {
                        let v = elems::<T>(t, "constant_value")?;
                        v.first().copied().unwrap_or_default()
                    }
                    (None, None) => T::default(),
                };
                pad_constant(src, &x.shape, &shape, &begins, value)?
            } else {
                let pos = (0..r)
                    .map(|k| pad_positions(self.mode, x.shape[k], begins[k], shape[k]))
                    .collect::<OpResult<Vec<_>>>()?;
                pad_gather(src, &x.shape, &pos, len)?
            };
            T::wrap(out)
        });
        Ok(vec![Tensor::new(shape, data)?])
    }
}

// ---------------------------------------------------------------------------------------------
// Constant, ConstantOfShape, Range

struct Constant {
    value: Tensor,
}

fn build_constant(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let value = if let Some(t) = ctx.tensor("value")? {
        t
    } else if ctx.has("value_float") {
        Tensor::scalar_f32(ctx.float("value_float", 0.0))
    } else if let Some(v) = ctx.floats("value_floats") {
        Tensor::f32(vec![v.len()], v)
    } else if ctx.has("value_int") {
        Tensor::i64(vec![], vec![ctx.int("value_int", 0)])
    } else if let Some(v) = ctx.ints("value_ints") {
        Tensor::i64(vec![v.len()], v)
    } else if ctx.has("sparse_value") {
        return Err("sparse_value is not supported by the lite build".into());
    } else if ctx.has("value_string") || ctx.has("value_strings") {
        return Err("string constants are not supported by the lite build".into());
    } else {
        return Err("the node has no value attribute".into());
    };
    Ok(Box::new(Constant { value }))
}

impl Op for Constant {
    fn run(&self, _: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        Ok(vec![self.value.clone()])
    }
}

struct ConstantOfShape {
    value: Tensor,
    shape: Ints,
}

fn build_constant_of_shape(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let value = ctx.tensor("value")?.unwrap_or(Tensor::scalar_f32(0.0));
    if value.len() != 1 {
        return Err(format!("value has {} elements, expected one", value.len()));
    }
    Ok(Box::new(ConstantOfShape {
        value,
        shape: Ints::input(ctx, 0, "shape")?,
    }))
}

impl Op for ConstantOfShape {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let shape = to_dims(&self.shape.need(inputs, "shape")?, "shape value")?;
        let len = volume(&shape)?;
        let data = with_elem!(&self.value.data, T => {
            let v = T::of(&self.value.data).and_then(|s| s.first().copied()).unwrap_or_default();
            T::wrap(vec![v; len])
        });
        Ok(vec![Tensor::new(shape, data)?])
    }
}

struct Range;

fn build_range(_: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Range))
}

/// The one element of a Range input.
fn range_arg<T: Elem>(inputs: &[Option<&Tensor>], i: usize, name: &str) -> OpResult<T> {
    match elems::<T>(input(inputs, i, name)?, name)? {
        [v] => Ok(*v),
        v => Err(format!(
            "input {name} has {} elements, expected one",
            v.len()
        )),
    }
}

fn range_int<T: Elem + Into<i64> + TryFrom<i64>>(inputs: &[Option<&Tensor>]) -> OpResult<Tensor> {
    let start: i64 = range_arg::<T>(inputs, 0, "start")?.into();
    let limit: i64 = range_arg::<T>(inputs, 1, "limit")?.into();
    let delta: i64 = range_arg::<T>(inputs, 2, "delta")?.into();
    if delta == 0 {
        return Err("delta is 0".into());
    }
    let (diff, dl) = (limit as i128 - start as i128, delta as i128);
    let n = (diff / dl + i128::from(diff % dl != 0 && (diff < 0) == (dl < 0))).max(0);
    let n = usize::try_from(n).map_err(|_| "the range is too long")?;
    volume(&[n])?;
    let v = (0..n)
        .map(|i| {
            i64::try_from(start as i128 + i as i128 * dl)
                .ok()
                .and_then(|v| T::try_from(v).ok())
                .ok_or_else(|| "a range value overflows".to_string())
        })
        .collect::<OpResult<Vec<T>>>()?;
    tensor(vec![n], v)
}

impl Op for Range {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let first = input(inputs, 0, "start")?;
        match &first.data {
            Data::F32(_) => {
                let start = range_arg::<f32>(inputs, 0, "start")?;
                let limit = range_arg::<f32>(inputs, 1, "limit")?;
                let delta = range_arg::<f32>(inputs, 2, "delta")?;
                if delta == 0.0 {
                    return Err("delta is 0".into());
                }
                let n = ((limit - start) as f64 / delta as f64).ceil();
                if n.is_nan() || n > MAX_ELEMENTS as f64 {
                    return Err(format!(
                        "the range from {start} to {limit} by {delta} is too long"
                    ));
                }
                let n = n.max(0.0) as usize;
                let v = (0..n).map(|i| start + i as f32 * delta).collect();
                Ok(vec![Tensor::f32(vec![n], v)])
            }
            Data::I64(_) => Ok(vec![range_int::<i64>(inputs)?]),
            Data::I32(_) => Ok(vec![range_int::<i32>(inputs)?]),
            _ => Err(format!(
                "Range computes on float32, int64 and int32, not {}",
                first.dtype()
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Trilu, CumSum, TopK, NonZero, OneHot

struct Trilu {
    upper: bool,
    k: Ints,
}

fn build_trilu(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Trilu {
        upper: ctx.int("upper", 1) != 0,
        k: Ints::input(ctx, 1, "k")?,
    }))
}

impl Op for Trilu {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let k = match self.k.get(inputs, "k")? {
            Some(v) => one_int(&v, "k")?,
            None => 0,
        };
        let (rows, cols) = match x.shape[..] {
            [.., r, c] => (r, c),
            _ => return Err(format!("input has shape {:?}, expected a matrix", x.shape)),
        };
        let upper = self.upper;
        let data = with_elem!(&x.data, T => {
            let mut out = elems::<T>(x, "input")?.to_vec();
            if rows > 0 && cols > 0 {
                for (n, row) in out.chunks_exact_mut(cols).enumerate() {
                    let i = (n % rows) as i128;
                    // Upper keeps j >= i + k, lower keeps j <= i + k.
                    let edge = i + k as i128 + i128::from(!upper);
                    let edge = edge.clamp(0, cols as i128) as usize;
                    let zero = if upper { &mut row[..edge] } else { &mut row[edge..] };
                    zero.fill(T::default());
                }
            }
            T::wrap(out)
        });
        Ok(vec![Tensor::new(x.shape.clone(), data)?])
    }
}

struct CumSum {
    axis: Ints,
    exclusive: bool,
    reverse: bool,
}

fn build_cumsum(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let axis = Ints::input(ctx, 1, "axis")?;
    if matches!(axis, Ints::Absent) {
        return Err("the axis input is missing".into());
    }
    Ok(Box::new(CumSum {
        axis,
        exclusive: ctx.int("exclusive", 0) != 0,
        reverse: ctx.int("reverse", 0) != 0,
    }))
}

fn cumsum<T: Num>(src: &[T], d: usize, inner: usize, exclusive: bool, reverse: bool) -> Vec<T> {
    let mut out = vec![T::default(); src.len()];
    let block = d * inner;
    if block == 0 {
        return out;
    }
    if inner == 1 {
        for (x, y) in src.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            let mut acc = T::default();
            let mut step = |v: T, o: &mut T| {
                let next = acc.add(v);
                *o = if exclusive { acc } else { next };
                acc = next;
            };
            if reverse {
                x.iter().zip(y).rev().for_each(|(&v, o)| step(v, o));
            } else {
                x.iter().zip(y).for_each(|(&v, o)| step(v, o));
            }
        }
        return out;
    }
    let mut acc = vec![T::default(); inner];
    for (x, y) in src.chunks_exact(block).zip(out.chunks_exact_mut(block)) {
        acc.fill(T::default());
        for step in 0..d {
            let i = if reverse { d - 1 - step } else { step };
            let (xr, yr) = (&x[i * inner..][..inner], &mut y[i * inner..][..inner]);
            if exclusive {
                yr.copy_from_slice(&acc);
            }
            for (a, &v) in acc.iter_mut().zip(xr) {
                *a = a.add(v);
            }
            if !exclusive {
                yr.copy_from_slice(&acc);
            }
        }
    }
    out
}

impl Op for CumSum {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "x")?;
        let a = one_int(&self.axis.need(inputs, "axis")?, "axis")?;
        if x.rank() == 0 {
            return Err("cannot sum a scalar along an axis".into());
        }
        let a = axis_in(a, x.rank())?;
        if x.is_empty() {
            return Ok(vec![x.clone()]);
        }
        let (d, inner) = (x.shape[a], count(&x.shape[a + 1..])?);
        let (ex, rev) = (self.exclusive, self.reverse);
        let data = with_num!(&x.data, "CumSum", T => {
            Ok(T::wrap(cumsum(elems::<T>(x, "x")?, d, inner, ex, rev)))
        })?;
        Ok(vec![Tensor::new(x.shape.clone(), data)?])
    }
}

struct TopK {
    k: Ints,
    axis: i64,
    largest: bool,
}

fn build_top_k(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let k = if ctx.opset >= 10 {
        Ints::input(ctx, 1, "K")?
    } else {
        match ctx.has("k") {
            true => Ints::Known(vec![ctx.int("k", 0)]),
            false => Ints::Absent,
        }
    };
    if matches!(k, Ints::Absent) {
        return Err("K is missing".into());
    }
    Ok(Box::new(TopK {
        k,
        axis: ctx.int("axis", -1),
        largest: ctx.int("largest", 1) != 0,
    }))
}

/// The `k` largest (or smallest) of each line along the middle axis of `[outer, d, inner]`,
/// sorted, equal values in index order; their values and indices in `[outer, k, inner]`. Lines
/// are compared by [`Elem::key`] (negated for the smallest).
fn top_k<T: Elem>(
    src: &[T],
    d: usize,
    inner: usize,
    k: usize,
    largest: bool,
) -> (Vec<T>, Vec<i64>) {
    let outer = src.len().checked_div(d * inner).unwrap_or(0);
    let n = outer * k * inner;
    let (mut vals, mut inds) = (vec![T::default(); n], vec![0i64; n]);
    if k == 0 || d == 0 {
        return (vals, inds);
    }
    let flip = if largest { 0 } else { u64::MAX };
    let mut keys: Vec<u64> = Vec::with_capacity(d);
    let mut scratch: Vec<u64> = Vec::new();
    let mut best: Vec<(u64, usize)> = Vec::with_capacity(k + 1);
    for o in 0..outer {
        for i in 0..inner {
            let base = o * d * inner + i;
            keys.clear();
            if inner == 1 {
                keys.extend(src[base..base + d].iter().map(|v| v.key() ^ flip));
            } else {
                keys.extend((0..d).map(|j| src[base + j * inner].key() ^ flip));
            }
            if k <= 16 {
                best_few(&keys, k, &mut best);
            } else {
                best_many(&keys, k, &mut scratch, &mut best);
            }
            for (j, &(_, p)) in best.iter().enumerate() {
                let at = (o * k + j) * inner + i;
                vals[at] = src[base + p * inner];
                inds[at] = p as i64;
            }
        }
    }
    (vals, inds)
}

/// The `k` largest keys of a line with their positions, largest first, equal keys in index
/// order, for a small `k`: one pass keeping the best in order, where a key displaces the last
/// of them only when strictly larger (an equal one has a larger index).
fn best_few(keys: &[u64], k: usize, best: &mut Vec<(u64, usize)>) {
    best.clear();
    let mut j = 0;
    while j < keys.len() {
        if best.len() == k {
            let Some(&(worst, _)) = best.last() else {
                return;
            };
            match keys[j..].iter().position(|&v| v > worst) {
                Some(p) => j += p,
                None => return,
            }
            best.pop();
        }
        let v = keys[j];
        let at = best.iter().rposition(|b| b.0 >= v).map_or(0, |p| p + 1);
        best.insert(at, (v, j));
        j += 1;
    }
}

/// [`best_few`] for a larger `k`: the k-th largest key by selection, then, in index order, the
/// keys above it and as many equal to it as fit, sorted.
fn best_many(keys: &[u64], k: usize, scratch: &mut Vec<u64>, best: &mut Vec<(u64, usize)>) {
    scratch.clear();
    scratch.extend_from_slice(keys);
    let kth = *scratch.select_nth_unstable_by(k - 1, |a, b| b.cmp(a)).1;
    let above = scratch[..k - 1].iter().filter(|&&v| v > kth).count();
    let mut ties = k - above;
    best.clear();
    for (j, &v) in keys.iter().enumerate() {
        if v > kth || (v == kth && ties > 0) {
            if v == kth {
                ties -= 1;
            }
            best.push((v, j));
        }
    }
    best.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
}

impl Op for TopK {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        let k = one_int(&self.k.need(inputs, "K")?, "K")?;
        if x.rank() == 0 {
            return Err("cannot take the top k of a scalar".into());
        }
        let a = axis_in(self.axis, x.rank())?;
        let d = x.shape[a];
        let k = to_usize(k, "K")
            .ok()
            .filter(|&k| k <= d)
            .ok_or_else(|| format!("K {k} is out of range for axis {a} of size {d}"))?;
        let inner = count(&x.shape[a + 1..])?;
        let mut shape = x.shape.clone();
        shape[a] = k;
        if volume(&shape)? == 0 {
            return Ok(vec![
                empty_like(x, shape.clone())?,
                Tensor::i64(shape, vec![]),
            ]);
        }
        let (largest, s2) = (self.largest, shape.clone());
        let (data, inds) = with_elem!(&x.data, T => {
            let (v, i) = top_k(elems::<T>(x, "X")?, d, inner, k, largest);
            (T::wrap(v), i)
        });
        Ok(vec![
            Tensor::new(shape, data)?,
            Tensor::new(s2, Data::I64(inds))?,
        ])
    }
}

struct NonZero;

fn build_nonzero(_: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(NonZero))
}

/// The coordinates of the nonzero elements, `[rank, count]` (a scalar counts as rank 1).
fn nonzero<T: Elem>(src: &[T], shape: &[usize]) -> OpResult<Tensor> {
    let dims = if shape.is_empty() { &[1][..] } else { shape };
    let r = dims.len();
    let nnz = src.iter().filter(|&&v| v != T::default()).count();
    let mut out = vec![0i64; volume(&[r, nnz])?];
    let mut coord = vec![0usize; r];
    let mut j = 0;
    for &v in src {
        if v != T::default() {
            for (k, &c) in coord.iter().enumerate() {
                out[k * nnz + j] = c as i64;
            }
            j += 1;
        }
        for k in (0..r).rev() {
            coord[k] += 1;
            if coord[k] < dims[k] {
                break;
            }
            coord[k] = 0;
        }
    }
    Ok(Tensor::i64(vec![r, nnz], out))
}

impl Op for NonZero {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        Ok(vec![
            with_elem!(&x.data, T => nonzero(elems::<T>(x, "X")?, &x.shape)?),
        ])
    }
}

struct OneHot {
    axis: i64,
}

fn build_one_hot(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(OneHot {
        axis: ctx.int("axis", -1),
    }))
}

/// The integers of `t`, float32 truncated towards zero (NaN and infinities out of any range).
fn truncated(t: &Tensor, what: &str) -> OpResult<Vec<i64>> {
    match &t.data {
        Data::F32(v) => Ok(v
            .iter()
            .map(|&x| if x.is_finite() { x as i64 } else { i64::MIN })
            .collect()),
        _ => int_list(t, what),
    }
}

impl Op for OneHot {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let it = input(inputs, 0, "indices")?;
        let depth = one_int(&truncated(input(inputs, 1, "depth")?, "depth")?, "depth")?;
        let vt = input(inputs, 2, "values")?;
        let depth = usize::try_from(depth)
            .ok()
            .filter(|&d| d > 0)
            .ok_or_else(|| format!("depth {depth} is not a positive size"))?;
        let ids = truncated(it, "indices")?;
        if count(&it.shape)? != ids.len() {
            return Err("the indices do not match their shape".into());
        }
        let a = axis_in(self.axis, it.rank() + 1)?;
        let mut shape = it.shape[..a].to_vec();
        shape.push(depth);
        shape.extend_from_slice(&it.shape[a..]);
        let len = volume(&shape)?;
        let inner = count(&it.shape[a..])?;
        let di = depth as i64;
        let data = with_elem!(&vt.data, T => {
            let (off, on) = match elems::<T>(vt, "values")? {
                [off, on] => (*off, *on),
                v => return Err(format!("values has {} elements, expected [off, on]", v.len())),
            };
            let mut out = vec![off; len];
            if inner > 0 {
                for (o, row) in ids.chunks_exact(inner).enumerate() {
                    for (i, &v) in row.iter().enumerate() {
                        let v = if v < 0 { v.saturating_add(di) } else { v };
                        if (0..di).contains(&v) {
                            out[(o * depth + v as usize) * inner + i] = on;
                        }
                    }
                }
            }
            T::wrap(out)
        });
        Ok(vec![Tensor::new(shape, data)?])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::pb;
    use super::*;

    enum A<'a> {
        I(&'a str, i64),
        Is(&'a str, &'a [i64]),
        S(&'a str, &'a str),
    }

    fn node(op: &str, attrs: &[A], outputs: usize) -> pb::NodeProto {
        let attribute = attrs
            .iter()
            .map(|a| match a {
                A::I(n, i) => pb::AttributeProto {
                    name: n.to_string(),
                    i: *i,
                    ..Default::default()
                },
                A::Is(n, v) => pb::AttributeProto {
                    name: n.to_string(),
                    ints: v.to_vec(),
                    ..Default::default()
                },
                A::S(n, v) => pb::AttributeProto {
                    name: n.to_string(),
                    s: v.as_bytes().to_vec(),
                    ..Default::default()
                },
            })
            .collect();
        pb::NodeProto {
            op_type: op.into(),
            output: (0..outputs).map(|i| format!("y{i}")).collect(),
            attribute,
            ..Default::default()
        }
    }

    /// Builds `op` (every input a run-time value) and runs it.
    fn run_op(op: &str, attrs: &[A], inputs: &[&Tensor], outputs: usize) -> OpResult<Vec<Tensor>> {
        let node = node(op, attrs, outputs);
        let ctx = NodeCtx {
            op_type: op,
            node: &node,
            consts: vec![None; inputs.len()],
            present: vec![true; inputs.len()],
            opset: 21,
        };
        let build = OPS.iter().find(|(n, _)| *n == op).map(|(_, b)| *b);
        let built = build.ok_or("no such operator")?(&ctx)?;
        let args: Vec<Option<&Tensor>> = inputs.iter().map(|&t| Some(t)).collect();
        built.run(&args)
    }

    fn run1(op: &str, attrs: &[A], inputs: &[&Tensor]) -> OpResult<Tensor> {
        let mut out = run_op(op, attrs, inputs, 1)?;
        out.pop().ok_or_else(|| "no output".into())
    }

    fn ints(v: &[i64]) -> Tensor {
        Tensor::i64(vec![v.len()], v.to_vec())
    }

    fn scalar(v: i64) -> Tensor {
        Tensor::i64(vec![], vec![v])
    }

    fn iota(shape: &[usize]) -> Tensor {
        let n = shape.iter().product::<usize>();
        Tensor::f32(shape.to_vec(), (0..n).map(|i| i as f32).collect())
    }

    fn err(r: OpResult<Tensor>) -> String {
        match r {
            Ok(t) => panic!("expected an error, got a tensor of shape {:?}", t.shape),
            Err(e) => e,
        }
    }

    const HUGE: i64 = 1 << 40;

    #[test]
    fn hostile_shapes_are_errors() {
        let x = iota(&[2, 3]);
        for spec in [
            &[-1, -1][..],
            &[-2, 3],
            &[4, 2],
            &[0, 0, 0],
            &[HUGE, 0],
            &[i64::MIN],
        ] {
            err(run1("Reshape", &[], &[&x, &ints(spec)]));
        }
        err(run1(
            "Reshape",
            &[A::I("allowzero", 1)],
            &[&x, &ints(&[0, -1])],
        ));
        err(run1("Expand", &[], &[&x, &ints(&[-1, 3])]));
        err(run1("Expand", &[], &[&x, &ints(&[HUGE, HUGE, 3])]));
        err(run1("Expand", &[], &[&x, &ints(&[1 << 20, 1 << 20, 3])]));
        err(run1("Tile", &[], &[&x, &ints(&[-1, 1])]));
        err(run1("Tile", &[], &[&x, &ints(&[1])]));
        err(run1("Tile", &[], &[&x, &ints(&[HUGE, HUGE])]));
        err(run1("ConstantOfShape", &[], &[&ints(&[-1])]));
        err(run1("ConstantOfShape", &[], &[&ints(&[1 << 31, 1 << 31])]));
        err(run1(
            "ConstantOfShape",
            &[],
            &[&ints(&[i64::MAX, i64::MAX, 0])],
        ));
        err(run1("Flatten", &[A::I("axis", 3)], &[&x]));
        err(run1("Squeeze", &[], &[&x, &ints(&[0])]));
        err(run1("Squeeze", &[], &[&x, &ints(&[2])]));
        err(run1("Unsqueeze", &[], &[&x, &ints(&[0, 0])]));
        err(run1("Unsqueeze", &[], &[&x, &ints(&[3, -1])]));
        err(run1("Unsqueeze", &[], &[&x, &ints(&[4])]));
        // Data shorter than its shape.
        let bad = Tensor {
            shape: vec![4, 4],
            data: Data::F32(vec![1.0]),
        };
        err(run1("Transpose", &[], &[&bad]));
        err(run1("Gather", &[], &[&bad, &scalar(3)]));
        err(run1("Pad", &[], &[&bad, &ints(&[1, 1, 1, 1])]));
    }

    #[test]
    fn hostile_axes_and_indices_are_errors() {
        let x = iota(&[2, 3, 4]);
        for perm in [&[0, 0, 1][..], &[0, 1], &[0, 1, 3], &[-1, 0, 1]] {
            err(run1("Transpose", &[A::Is("perm", perm)], &[&x]));
        }
        err(run1("Gather", &[A::I("axis", 3)], &[&x, &scalar(0)]));
        err(run1("Gather", &[A::I("axis", 1)], &[&x, &scalar(3)]));
        err(run1("Gather", &[A::I("axis", 1)], &[&x, &scalar(-4)]));
        err(run1("Gather", &[A::I("axis", 1)], &[&x, &scalar(i64::MIN)]));
        err(run1("Gather", &[], &[&Tensor::scalar_f32(1.0), &scalar(0)]));
        let g = run1("Gather", &[A::I("axis", 1)], &[&x, &scalar(-3)]).unwrap();
        assert_eq!(g.shape, [2, 4]);
        let idx = Tensor::i64(vec![3, 1, 1], vec![0, 2, 1]);
        err(run1("GatherElements", &[A::I("axis", 1)], &[&x, &idx]));
        let idx = Tensor::i64(vec![1, 3, 1], vec![0, 1, 4]);
        err(run1("GatherElements", &[A::I("axis", 2)], &[&x, &idx]));
        err(run1(
            "GatherND",
            &[],
            &[&x, &Tensor::i64(vec![1, 4], vec![0; 4])],
        ));
        err(run1(
            "GatherND",
            &[],
            &[&x, &Tensor::i64(vec![1, 2], vec![2, 0])],
        ));
        err(run1(
            "GatherND",
            &[A::I("batch_dims", 1)],
            &[&x, &Tensor::i64(vec![3, 1], vec![0; 3])],
        ));
        err(run1(
            "GatherND",
            &[A::I("batch_dims", -1)],
            &[&x, &Tensor::i64(vec![1, 1], vec![0])],
        ));
        let upd = Tensor::f32(vec![1, 4], vec![0.0; 4]);
        let idx = Tensor::i64(vec![1, 2], vec![0, 3]);
        err(run1("ScatterND", &[], &[&x, &idx, &upd]));
        let idx = Tensor::i64(vec![1, 2], vec![0, 2]);
        err(run1(
            "ScatterND",
            &[],
            &[&x, &idx, &Tensor::f32(vec![1, 3], vec![0.0; 3])],
        ));
        err(run1(
            "ScatterND",
            &[A::S("reduction", "max")],
            &[
                &Tensor::bool(vec![1], vec![true]),
                &Tensor::i64(vec![1, 1], vec![0]),
                &Tensor::bool(vec![1], vec![false]),
            ],
        ));
        err(run1(
            "ScatterND",
            &[A::S("reduction", "sum")],
            &[&x, &idx, &upd],
        ));
        err(run1("CumSum", &[], &[&x, &scalar(3)]));
        err(run1("CumSum", &[], &[&x, &ints(&[0, 1])]));
        err(run1(
            "CumSum",
            &[],
            &[&Tensor::bool(vec![1], vec![true]), &scalar(0)],
        ));
        err(run1("Concat", &[A::I("axis", 0)], &[&x, &iota(&[2, 3, 5])]));
        err(run1("Concat", &[A::I("axis", 3)], &[&x, &x]));
        err(run1(
            "Concat",
            &[A::I("axis", 0)],
            &[&x, &Tensor::i64(vec![2, 3, 4], vec![0; 24])],
        ));
        err(run1(
            "Concat",
            &[A::I("axis", 0)],
            &[&Tensor::scalar_f32(1.0)],
        ));
        err(run1("Concat", &[], &[&x]));
        err(run1(
            "OneHot",
            &[],
            &[&ints(&[1]), &scalar(0), &ints(&[0, 1])],
        ));
        err(run1(
            "OneHot",
            &[A::I("axis", 2)],
            &[&ints(&[1]), &scalar(3), &ints(&[0, 1])],
        ));
        err(run1(
            "OneHot",
            &[],
            &[&ints(&[1]), &scalar(3), &ints(&[0, 1, 2])],
        ));
        let oh = run1(
            "OneHot",
            &[],
            &[&ints(&[5, -1, i64::MIN]), &scalar(3), &ints(&[0, 1])],
        )
        .unwrap();
        assert_eq!(oh.data, Data::I64(vec![0, 0, 0, 0, 0, 1, 0, 0, 0]));
        err(run1("Trilu", &[], &[&ints(&[1, 2])]));
        let t = run1("Trilu", &[], &[&x, &scalar(i64::MIN)]).unwrap();
        assert_eq!(t, x);
        let t = run1("Trilu", &[A::I("upper", 0)], &[&x, &scalar(i64::MAX)]).unwrap();
        assert_eq!(t, x);
    }

    #[test]
    fn hostile_slices_splits_and_pads_are_errors() {
        let x = iota(&[2, 3, 4]);
        let slice = |s: &[i64], e: &[i64], a: &[i64], st: &[i64]| {
            run1("Slice", &[], &[&x, &ints(s), &ints(e), &ints(a), &ints(st)])
        };
        err(slice(&[0], &[1], &[0], &[0]));
        err(slice(&[0], &[1], &[3], &[1]));
        err(slice(&[0, 0], &[1, 1], &[1, 1], &[1, 1]));
        err(slice(&[0, 0], &[1], &[0], &[1]));
        let all = slice(&[i64::MAX], &[i64::MIN], &[2], &[i64::MIN]).unwrap();
        assert_eq!((all.shape.clone(), all.data), (vec![2, 3, 1], all_last(&x)));
        let rev = slice(&[-1], &[i64::MIN], &[1], &[-1]).unwrap();
        assert_eq!(rev.shape, [2, 3, 4]);
        assert_eq!(rev.as_f32().unwrap()[..4], [8.0, 9.0, 10.0, 11.0]);
        let none = slice(&[i64::MIN], &[i64::MIN], &[0], &[1]).unwrap();
        assert_eq!(none.shape, [0, 3, 4]);
        let split = |sizes: &[i64], n: usize| run_op("Split", &[], &[&x, &ints(sizes)], n);
        assert!(split(&[1, 1], 2).is_ok());
        assert!(split(&[1, 2], 2).is_err());
        assert!(split(&[3, -1], 2).is_err());
        assert!(split(&[1, 1], 3).is_err());
        assert!(run_op("Split", &[], &[&x], 3).is_err());
        assert!(run_op("Split", &[A::I("num_outputs", 3)], &[&x], 2).is_err());
        assert!(run_op("Split", &[A::I("axis", 2)], &[&x], 0).is_err());
        let pad = |p: &[i64], mode: &str| run1("Pad", &[A::S("mode", mode)], &[&x, &ints(p)]);
        err(pad(&[0, 0, -3, 0, 0, -2], "constant"));
        err(pad(&[0, 0, 0, 0, 0, -5], "reflect"));
        err(pad(&[0, 0, 0, 0], "edge"));
        err(pad(&[0, 0, HUGE, 0, 0, HUGE], "constant"));
        err(pad(&[0, 0, i64::MAX, 0, 0, i64::MAX], "constant"));
        err(pad(&[0; 6], "symmetric"));
        let empty = Tensor::f32(vec![0, 2], vec![]);
        err(run1(
            "Pad",
            &[A::S("mode", "edge")],
            &[&empty, &ints(&[1, 0, 0, 0])],
        ));
        let c = pad(&[0, 0, -4, 0, 0, 1], "constant").unwrap();
        assert_eq!(
            (
                c.shape.clone(),
                c.as_f32().unwrap().iter().all(|&v| v == 0.0)
            ),
            (vec![2, 3, 1], true)
        );
        // Negative pads crop, in every mode.
        let row = |t: Tensor| t.as_f32().unwrap()[..4].to_vec();
        let c = pad(&[0, 0, -1, 0, 0, 1], "constant").unwrap();
        assert_eq!(
            (c.shape.clone(), row(c)),
            (vec![2, 3, 4], vec![1., 2., 3., 0.])
        );
        let e = pad(&[0, 0, -1, 0, 0, 1], "edge").unwrap();
        assert_eq!(row(e), [1., 2., 3., 3.]);
        let w = pad(&[0, 0, 1, 0, 0, -2], "wrap").unwrap();
        assert_eq!(w.shape, [2, 3, 3]);
        assert_eq!(w.as_f32().unwrap()[..3], [3., 0., 1.]);
        // Reflection further than the axis is long folds back again.
        let r = run1(
            "Pad",
            &[A::S("mode", "reflect")],
            &[&iota(&[3]), &ints(&[5, 5])],
        )
        .unwrap();
        assert_eq!(
            r.as_f32().unwrap(),
            [1., 0., 1., 2., 1., 0., 1., 2., 1., 0., 1., 2., 1.]
        );
    }

    /// The last element of each row of `x` (a `[.., n]` float tensor), for the slice test.
    fn all_last(x: &Tensor) -> Data {
        let n = *x.shape.last().unwrap();
        Data::F32(x.as_f32().unwrap().chunks(n).map(|r| r[n - 1]).collect())
    }

    #[test]
    fn hostile_counts_are_errors() {
        let r = |s: i64, l: i64, d: i64| run1("Range", &[], &[&scalar(s), &scalar(l), &scalar(d)]);
        err(r(0, 10, 0));
        err(r(0, i64::MAX, 1));
        err(r(i64::MAX, i64::MIN, -1));
        let ends = r(i64::MIN, i64::MAX, i64::MAX).unwrap();
        assert_eq!(ends.data, Data::I64(vec![i64::MIN, -1, i64::MAX - 1]));
        assert_eq!(r(5, 0, 1).unwrap().shape, [0]);
        let f = |s: f32, l: f32, d: f32| {
            let t = Tensor::scalar_f32;
            run1("Range", &[], &[&t(s), &t(l), &t(d)])
        };
        err(f(0.0, 1.0, 0.0));
        err(f(0.0, f32::INFINITY, 1.0));
        err(f(f32::NAN, 1.0, 1.0));
        err(f(0.0, 1e30, 1e-30));
        assert_eq!(f(0.0, 1.0, 0.25).unwrap().shape, [4]);
        let mixed = run1(
            "Range",
            &[],
            &[&scalar(0), &Tensor::scalar_f32(1.0), &scalar(1)],
        );
        err(mixed);
        let x = iota(&[2, 3]);
        let top = |k: i64| run_op("TopK", &[], &[&x, &ints(&[k])], 2);
        assert!(top(4).is_err());
        assert!(top(-1).is_err());
        assert!(top(i64::MIN).is_err());
        assert!(run_op("TopK", &[], &[&x, &ints(&[1, 1])], 2).is_err());
        let t = top(0).unwrap();
        assert_eq!(t[0].shape, [2, 0]);
        err(run1(
            "DepthToSpace",
            &[A::I("blocksize", 0)],
            &[&iota(&[1, 4, 1, 1])],
        ));
        err(run1(
            "DepthToSpace",
            &[A::I("blocksize", -2)],
            &[&iota(&[1, 4, 1, 1])],
        ));
        err(run1(
            "DepthToSpace",
            &[A::I("blocksize", 3)],
            &[&iota(&[1, 4, 1, 1])],
        ));
        err(run1(
            "DepthToSpace",
            &[A::I("blocksize", 1 << 33)],
            &[&iota(&[1, 4, 1, 1])],
        ));
        err(run1(
            "SpaceToDepth",
            &[A::I("blocksize", 2)],
            &[&iota(&[1, 1, 3, 2])],
        ));
        err(run1(
            "SpaceToDepth",
            &[A::I("blocksize", 2)],
            &[&iota(&[4, 2])],
        ));
        let e = run1(
            "DepthToSpace",
            &[A::I("blocksize", 2)],
            &[&iota(&[0, 4, 1 << 20, 1 << 20])],
        )
        .unwrap();
        assert_eq!(e.shape, [0, 1, 1 << 21, 1 << 21]);
    }

    /// TopK's two selections agree with a stable sort, ties included; NaN sorts last, -0 = 0.
    #[test]
    fn top_k_paths_agree() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..300 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let d = 1 + (seed >> 33) as usize % 200;
            let keys: Vec<u64> = (0..d)
                .map(|i| (seed.rotate_left(i as u32) >> 60) % (1 + round % 7))
                .collect();
            let mut want: Vec<(u64, usize)> = keys.iter().copied().zip(0..).collect();
            want.sort_by_key(|a| std::cmp::Reverse(a.0));
            for k in [1, d.min(16), d / 2 + 1, d] {
                let (mut few, mut many, mut scratch) = (vec![], vec![], vec![]);
                best_few(&keys, k, &mut few);
                best_many(&keys, k, &mut scratch, &mut many);
                assert_eq!(few, want[..k], "d {d} k {k}");
                assert_eq!(many, want[..k], "d {d} k {k}");
            }
        }
        let x = Tensor::f32(vec![5], vec![1.0, f32::NAN, -0.0, 0.0, f32::NEG_INFINITY]);
        let out = run_op("TopK", &[], &[&x, &ints(&[5])], 2).unwrap();
        assert_eq!(out[1].data, Data::I64(vec![1, 0, 2, 3, 4]));
        let out = run_op("TopK", &[A::I("largest", 0)], &[&x, &ints(&[5])], 2).unwrap();
        assert_eq!(out[1].data, Data::I64(vec![4, 2, 3, 0, 1]));
    }

    /// `gather_view` against a direct reading of the view, on random shapes and strides.
    #[test]
    fn strided_views_match_a_direct_reading() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..2000 {
            let rank = rand(5);
            let mut dims: Vec<usize> = (0..rank)
                .map(|_| {
                    let big = rand(4) == 0;
                    1 + rand(if big { 40 } else { 4 })
                })
                .collect();
            let mut strides = vec![0isize; rank];
            let mut base = 0usize;
            let mut span = 1usize;
            for k in (0..rank).rev() {
                let s = match rand(4) {
                    0 => 0,
                    1 => span as isize,
                    2 => -(span as isize),
                    _ => (span * (1 + rand(2))) as isize,
                };
                if s < 0 {
                    base += (dims[k] - 1) * span;
                }
                strides[k] = s;
                span += (dims[k] - 1) * s.unsigned_abs();
            }
            // A random permutation of the axes.
            for k in (1..rank).rev() {
                let j = rand(k + 1);
                strides.swap(k, j);
                dims.swap(k, j);
            }
            let src: Vec<u32> = (0..span as u32 + 3).collect();
            let got = match gather_view(&src, base, &dims, &strides) {
                Ok(v) => v,
                Err(_) => continue,
            };
            let n: usize = dims.iter().product();
            let mut want = Vec::with_capacity(n);
            for i in 0..n {
                let (mut rest, mut off) = (i, base as isize);
                for k in (0..rank).rev() {
                    off += (rest % dims[k]) as isize * strides[k];
                    rest /= dims[k];
                }
                want.push(src[off as usize]);
            }
            assert_eq!(got, want, "dims {dims:?} strides {strides:?} base {base}");
        }
        assert!(gather_view(&[1u8, 2], 0, &[3], &[1]).is_err());
        assert!(gather_view(&[1u8, 2], 1, &[2], &[1]).is_err());
        assert!(gather_view(&[1u8, 2], 0, &[2], &[-1]).is_err());
    }
}

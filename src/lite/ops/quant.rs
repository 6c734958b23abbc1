//! Quantized models: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear (what
//! `onnxruntime.quantization` writes), and MatMulInteger, QLinearMatMul, ConvInteger and
//! QLinearConv on an exact integer product.
//!
//! A QDQ model (`quantize_static`) runs its MatMuls on the integer product: at load,
//! [`qdq_matmuls`] rewrites each MatMul of two DequantizeLinear outputs (constant 8-bit weights)
//! into a product of the integers they read, scaled to float32. Its other operators compute in
//! float32: a Conv's weights' Dequantize is folded at load, and each activation's Quantize and
//! Dequantize round it as onnxruntime does. The integer products widen uint8 and
//! int8 (less their zero points) to int16 and sum pairs of products into int32 lanes
//! (`i32x4.dot_i16x8_s`), exactly, as onnxruntime's int32 accumulators do.

use super::super::tensor::{alloc_len, axis as axis_in, broadcast, volume, Data, OpResult, Tensor};
use super::conv::{conv_axis, conv_input, out_shape, positive_divisor, read_geo, Geo};
use super::data::tensor;
use super::simd::{fold_f, Id, Max, Min};
use super::{f32s, input, pb, Builder, NodeCtx, Op};
use std::collections::HashMap;

pub(super) const OPS: &[(&str, Builder)] = &[
    ("DequantizeLinear", build_dequantize),
    ("QuantizeLinear", build_quantize),
    ("DynamicQuantizeLinear", build_dynamic_quantize),
    ("MatMulInteger", build_matmul_integer),
    ("QLinearMatMul", build_qlinear_matmul),
    ("ConvInteger", build_conv_integer),
    ("QLinearConv", build_qlinear_conv),
];

// ---------------------------------------------------------------------------------------------
// Scales and zero points

/// How a scale or zero point of shape `shape` applies to a tensor of shape `x`: one for the
/// whole tensor, one per index along `axis`, or (opset 21) one per block of `block` indices
/// along `axis` at every other position.
struct Params {
    /// Sizes before, along and after the axis.
    outer: usize,
    dim: usize,
    inner: usize,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Tensor,
    Axis,
    /// The block size and the number of blocks along the axis.
    Block(usize, usize),
}

impl Params {
    fn of(ctx: &Opts, x: &[usize], p: &[usize], what: &str) -> OpResult<Params> {
        let count = p.iter().product::<usize>();
        let whole = |kind| Params {
            outer: 1,
            dim: 1,
            inner: x.iter().product(),
            kind,
        };
        if ctx.block == 0 && (p.is_empty() || (p.len() == 1 && count == 1)) {
            return Ok(whole(Kind::Tensor));
        }
        let a = axis_in(ctx.axis, x.len())?;
        let (outer, dim, inner) = (x[..a].iter().product(), x[a], x[a + 1..].iter().product());
        if ctx.block == 0 {
            if p.len() != 1 || p[0] != dim {
                return Err(format!(
                    "{what} of shape {p:?} is neither one value nor one per index of axis {a} \
                     of a {x:?} input"
                ));
            }
            return Ok(Params {
                outer,
                dim,
                inner,
                kind: Kind::Axis,
            });
        }
        let bs = usize::try_from(ctx.block)
            .map_err(|_| format!("block_size is {}, expected at least 0", ctx.block))?;
        let blocks = dim.div_ceil(bs);
        let mut want = x.to_vec();
        want[a] = blocks;
        if p != want {
            return Err(format!(
                "{what} of shape {p:?} for blocks of {bs} along axis {a} of a {x:?} input: \
                 expected {want:?}"
            ));
        }
        Ok(Params {
            outer,
            dim,
            inner,
            kind: Kind::Block(bs, blocks),
        })
    }

    /// Calls `f(range, first, step)` for every run of elements that share their parameters up
    /// to `step`: the elements `range` of the tensor take parameter `first + j * step` at their
    /// `j`-th position.
    fn each(&self, mut f: impl FnMut(std::ops::Range<usize>, usize, usize)) {
        for o in 0..self.outer {
            for a in 0..self.dim {
                let start = (o * self.dim + a) * self.inner;
                let range = start..start + self.inner;
                match self.kind {
                    Kind::Tensor => f(range, 0, 0),
                    Kind::Axis => f(range, a, 0),
                    Kind::Block(bs, blocks) => f(range, (o * blocks + a / bs) * self.inner, 1),
                }
            }
        }
    }
}

/// The attributes that place scales and zero points.
#[derive(PartialEq)]
struct Opts {
    axis: i64,
    block: i64,
}

fn opts(ctx: &NodeCtx) -> Opts {
    Opts {
        axis: ctx.int("axis", 1),
        block: ctx.int("block_size", 0),
    }
}

/// The values of a uint8, int8 or int32 tensor (what DequantizeLinear takes) as i32.
fn quantized(t: &Tensor, name: &str) -> OpResult<Vec<i32>> {
    Ok(match &t.data {
        Data::U8(v) => v.iter().map(|&x| x.into()).collect(),
        Data::I8(v) => v.iter().map(|&x| x.into()).collect(),
        Data::I32(v) => v.clone(),
        _ => {
            return Err(format!(
                "{name} is {}, which the lite build does not quantize to or from \
                 (it has uint8, int8 and int32)",
                t.dtype()
            ))
        }
    })
}

/// A zero point's values, checked to have as many as `scale`.
fn zero_points(z: Option<&Tensor>, scale: &Tensor) -> OpResult<Option<Vec<i32>>> {
    let Some(z) = z else { return Ok(None) };
    let v = quantized(z, "the zero point")?;
    if z.shape != scale.shape && v.len() != scale.len() {
        return Err(format!(
            "the zero point of shape {:?} does not match the scale of shape {:?}",
            z.shape, scale.shape
        ));
    }
    Ok(Some(v))
}

// ---------------------------------------------------------------------------------------------
// DequantizeLinear: y = (x - zero_point) * scale

struct Dequantize {
    opts: Opts,
}

fn build_dequantize(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Dequantize { opts: opts(ctx) }))
}

impl Op for Dequantize {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "x")?;
        let st = input(inputs, 1, "x_scale")?;
        let s = f32s(st, "x_scale")?;
        let z = zero_points(inputs.get(2).copied().flatten(), st)?;
        let p = Params::of(&self.opts, &xt.shape, &st.shape, "x_scale")?;
        let mut y = vec![0f32; alloc_len::<f32>(&xt.shape)?];
        let x = quantized(xt, "input x")?;
        p.each(|r, first, step| {
            for (j, (y, &x)) in y[r.clone()].iter_mut().zip(&x[r]).enumerate() {
                let q = first + j * step;
                let zp = z.as_ref().map_or(0, |z| i64::from(z[q]));
                *y = (i64::from(x) - zp) as f32 * s[q];
            }
        });
        Ok(vec![Tensor::f32(xt.shape.clone(), y)])
    }
}

// ---------------------------------------------------------------------------------------------
// QuantizeLinear: y = saturate(round(x / scale) + zero_point), rounding halves to even

/// The integer type a quantization writes.
#[derive(Clone, Copy, PartialEq, Debug)]
enum QType {
    U8,
    I8,
}

impl QType {
    fn range(self) -> (f32, f32) {
        match self {
            QType::U8 => (0.0, 255.0),
            QType::I8 => (-128.0, 127.0),
        }
    }

    /// Values already rounded and within range, as a tensor of this type.
    fn tensor(self, shape: Vec<usize>, v: &[f32]) -> OpResult<Tensor> {
        match self {
            // Through i32: one saturating truncation each (in range already), which vectorises.
            QType::U8 => tensor(shape, v.iter().map(|&x| x as i32 as u8).collect::<Vec<_>>()),
            QType::I8 => tensor(shape, v.iter().map(|&x| x as i32 as i8).collect::<Vec<_>>()),
        }
    }
}

/// `x / s` rounded half to even, plus `zp`, clamped into `lo..=hi`; NaN gives `lo`, as in
/// onnxruntime. Written as compares and selects, which LLVM vectorises.
#[inline(always)]
fn quantize_one(x: f32, s: f32, zp: f32, (lo, hi): (f32, f32)) -> f32 {
    let v = (x / s).round_ties_even() + zp;
    let v = if v > lo { v } else { lo };
    if v < hi {
        v
    } else {
        hi
    }
}

/// Quantizes `x` into `y` (integers, as float32) with one scale and zero point; with `back`,
/// dequantizes them again (a Quantize and Dequantize pair fused).
#[inline(never)]
fn quantize_run(x: &[f32], y: &mut [f32], s: f32, zp: f32, range: (f32, f32), back: bool) {
    if back {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = (quantize_one(x, s, zp, range) - zp) * s;
        }
    } else {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = quantize_one(x, s, zp, range);
        }
    }
}

struct Quantize {
    opts: Opts,
    /// The output type when there is no zero point to take it from.
    to: QType,
    /// The constant scale and zero point, if they are.
    params: Option<(Tensor, Option<Tensor>)>,
    /// Whether a DequantizeLinear of the same scale and zero point was fused: the output is then
    /// the float32 values it gives, computed in one pass.
    back: bool,
}

fn qtype_of(code: i64) -> OpResult<QType> {
    match code {
        2 => Ok(QType::U8),
        3 => Ok(QType::I8),
        other => Err(format!(
            "quantizing to ONNX element type {other} is not in the lite build (it has uint8 and \
             int8)"
        )),
    }
}

fn build_quantize(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let to = match ctx.int("output_dtype", 0) {
        0 => QType::U8,
        code => qtype_of(code)?,
    };
    let scale = ctx.consts.get(1).copied().flatten();
    let zero = ctx.consts.get(2).copied().flatten();
    let params = match scale {
        Some(s) if zero.is_some() || !ctx.given(2) => Some((s.clone(), zero.cloned())),
        _ => None,
    };
    Ok(Box::new(Quantize {
        opts: opts(ctx),
        to,
        params,
        back: false,
    }))
}

impl Op for Quantize {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "x")?;
        let x = f32s(xt, "x")?;
        let st = input(inputs, 1, "y_scale")?;
        let s = f32s(st, "y_scale")?;
        let zt = inputs.get(2).copied().flatten();
        let to = match zt.map(|z| z.dtype()) {
            None => self.to,
            Some(crate::tensor::DType::Uint8) => QType::U8,
            Some(crate::tensor::DType::Int8) => QType::I8,
            Some(other) => {
                return Err(format!(
                    "the zero point is {other}, which the lite build does not quantize to \
                     (it has uint8 and int8)"
                ))
            }
        };
        let z = zero_points(zt, st)?;
        let p = Params::of(&self.opts, &xt.shape, &st.shape, "y_scale")?;
        let mut y = vec![0f32; alloc_len::<f32>(&xt.shape)?];
        let range = to.range();
        let zp = |q: usize| z.as_ref().map_or(0.0, |z| z[q] as f32);
        p.each(|r, first, step| {
            if step == 0 {
                let (y, x) = (&mut y[r.clone()], &x[r]);
                return quantize_run(x, y, s[first], zp(first), range, self.back);
            }
            for (j, (y, &x)) in y[r.clone()].iter_mut().zip(&x[r]).enumerate() {
                let q = first + j * step;
                let v = quantize_one(x, s[q], zp(q), range);
                *y = if self.back { (v - zp(q)) * s[q] } else { v };
            }
        });
        if self.back {
            return Ok(vec![Tensor::f32(xt.shape.clone(), y)]);
        }
        Ok(vec![to.tensor(xt.shape.clone(), &y)?])
    }

    /// Takes the DequantizeLinear that reads this node's output back with the same constant
    /// scale and zero point (every activation of a QDQ model).
    fn fuse(&mut self, next: &NodeCtx) -> bool {
        let Some((scale, zero)) = &self.params else {
            return false;
        };
        let same = next.op_type == "DequantizeLinear"
            && !self.back
            && next.consts.get(1).copied().flatten() == Some(scale)
            && next.consts.get(2).copied().flatten() == zero.as_ref()
            && opts(next) == self.opts;
        self.back |= same;
        same
    }
}

// ---------------------------------------------------------------------------------------------
// DynamicQuantizeLinear: uint8 with the scale and zero point of x's range (and 0)

struct DynamicQuantize;

fn build_dynamic_quantize(_ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(DynamicQuantize))
}

/// The scale and zero point DynamicQuantizeLinear picks for `x`, as onnxruntime does: the range
/// stretched to hold 0, over 255 (1 for an all-zero range).
fn dynamic_params(x: &[f32]) -> (f32, f32) {
    let (lo, hi) = (fold_f(x, 0.0, Id, Min), fold_f(x, 0.0, Id, Max));
    let scale = if hi == lo { 1.0 } else { (hi - lo) / 255.0 };
    let zp = (0.0 - lo / scale).clamp(0.0, 255.0).round_ties_even();
    (scale, zp)
}

impl Op for DynamicQuantize {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "x")?;
        let x = f32s(xt, "x")?;
        let (scale, zp) = dynamic_params(x);
        let mut y = vec![0u8; alloc_len::<u8>(&xt.shape)?];
        let range = QType::U8.range();
        for (y, &x) in y.iter_mut().zip(x) {
            *y = quantize_one(x, scale, zp, range) as i32 as u8;
        }
        Ok(vec![
            tensor(xt.shape.clone(), y)?,
            Tensor::scalar_f32(scale),
            tensor(vec![], vec![zp as u8])?,
        ])
    }
}

// ---------------------------------------------------------------------------------------------
// The integer product: i32 sums of (a - a_zero) * (b - b_zero), exact

/// Columns of a packed panel of B.
const NR: usize = 8;
/// Rows computed together.
const MR: usize = 4;

/// One matrix of B less its zero points, as int16, in panels of [`NR`] columns; in a panel,
/// each pair of rows `k, k + 1` is `NR` pairs `(b[k][j], b[k + 1][j])` (a zero row pads an odd
/// depth).
struct PackedB {
    k: usize,
    n: usize,
    data: Vec<i16>,
}

/// The int8 or uint8 values of a quantized input, widened.
fn widened(t: &Tensor, name: &str) -> OpResult<Vec<i16>> {
    match &t.data {
        Data::U8(v) => Ok(v.iter().map(|&x| x.into()).collect()),
        Data::I8(v) => Ok(v.iter().map(|&x| x.into()).collect()),
        _ => Err(format!(
            "input {name} is {}, expected uint8 or int8",
            t.dtype()
        )),
    }
}

/// A zero point of a product's input: one value, or one per row of A (per column of B),
/// `len` of them. uint8 or int8, as the input is.
fn product_zero(z: Option<&Tensor>, x: &Tensor, len: usize, name: &str) -> OpResult<Vec<i16>> {
    let Some(z) = z else { return Ok(vec![0]) };
    if z.dtype() != x.dtype() {
        return Err(format!(
            "{name} is {}, but its input is {}",
            z.dtype(),
            x.dtype()
        ));
    }
    let v = widened(z, name)?;
    if v.len() != 1 && v.len() != len {
        return Err(format!(
            "{name} has {} values, expected 1 or {len} (the lite build has no per-batch zero \
             points)",
            v.len()
        ));
    }
    Ok(v)
}

/// The zero point of index `i` (one value for all, or one each).
#[inline(always)]
fn zp_at(z: &[i16], i: usize) -> i16 {
    if z.len() == 1 {
        z[0]
    } else {
        z[i]
    }
}

impl PackedB {
    /// Packs the `k x n` matrix at `off` in `b` (row-major), less `zero` (per column).
    fn new(b: &[i16], off: usize, k: usize, n: usize, zero: &[i16]) -> OpResult<PackedB> {
        let mut packed = PackedB::zeros(k, n)?;
        let src = b
            .get(off..off + k * n)
            .ok_or("internal: B is smaller than its shape")?;
        let mut rows = vec![0i16; alloc_len::<i16>(&[2, n])?];
        for pair in 0..k.div_ceil(2) {
            let (r0, r1) = rows.split_at_mut(n);
            for (h, dst) in [r0, r1].into_iter().enumerate() {
                let row = src
                    .get((2 * pair + h) * n..(2 * pair + h + 1) * n)
                    .unwrap_or(&[]);
                dst.fill(0);
                for (c, (d, &v)) in dst.iter_mut().zip(row).enumerate() {
                    *d = v - zp_at(zero, c);
                }
            }
            packed.put_pair(pair, &rows);
        }
        Ok(packed)
    }

    /// A `k x n` matrix of zeros.
    fn zeros(k: usize, n: usize) -> OpResult<PackedB> {
        let len = volume(&[n.div_ceil(NR), k.div_ceil(2), 2 * NR])?;
        alloc_len::<i16>(&[len])?;
        Ok(PackedB {
            k,
            n,
            data: vec![0; len],
        })
    }

    /// Sets rows `2 * pair` and `2 * pair + 1` to the two halves of `rows`.
    #[inline(never)]
    fn put_pair(&mut self, pair: usize, rows: &[i16]) {
        let (r0, r1) = rows.split_at(self.n);
        let stride = self.k.div_ceil(2) * 2 * NR;
        let panels = self.data.chunks_exact_mut(stride);
        for (panel, (a, b)) in panels.zip(r0.chunks(NR).zip(r1.chunks(NR))) {
            let dst = &mut panel[pair * 2 * NR..(pair + 1) * 2 * NR];
            if let (Ok(a), Ok(b)) = (<&[i16; NR]>::try_from(a), <&[i16; NR]>::try_from(b)) {
                interleave(a, b, dst);
                continue;
            }
            for (d, (&a, &b)) in dst.chunks_exact_mut(2).zip(a.iter().zip(b)) {
                d[0] = a;
                d[1] = b;
            }
        }
    }
}

/// `dst = [a0, b0, a1, b1, ...]`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn interleave(a: &[i16; NR], b: &[i16; NR], dst: &mut [i16]) {
    use std::arch::wasm32::*;
    if dst.len() < 2 * NR {
        return;
    }
    // SAFETY: `a` and `b` are 16 bytes each and `dst` at least 32: unaligned loads and stores.
    unsafe {
        let (va, vb) = (
            v128_load(a.as_ptr() as *const v128),
            v128_load(b.as_ptr() as *const v128),
        );
        let q = dst.as_mut_ptr() as *mut v128;
        v128_store(q, i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(va, vb));
        v128_store(
            q.add(1),
            i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(va, vb),
        );
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn interleave(a: &[i16; NR], b: &[i16; NR], dst: &mut [i16]) {
    for (d, (&a, &b)) in dst.chunks_exact_mut(2).zip(a.iter().zip(b)) {
        d[0] = a;
        d[1] = b;
    }
}

/// Rows of A less their zero points, each as `k / 2` (rounded up) pairs of int16 in an i32, the
/// form the kernel splats.
fn pack_a(a: &[i16], off: usize, m: usize, k: usize, zero: &[i16]) -> OpResult<Vec<i32>> {
    let kp = k.div_ceil(2);
    let mut out = vec![0i32; alloc_len::<i32>(&[m, kp])?];
    let src = a
        .get(off..off + m * k)
        .ok_or("internal: A is smaller than its shape")?;
    if k == 0 {
        return Ok(out);
    }
    for (r, (dst, row)) in out
        .chunks_exact_mut(kp)
        .zip(src.chunks_exact(k))
        .enumerate()
    {
        let z = zp_at(zero, r);
        for (d, pair) in dst.iter_mut().zip(row.chunks(2)) {
            let lo = pair[0] - z;
            let hi = pair.get(1).map_or(0, |&v| v - z);
            *d = (lo as u16 as u32 | (hi as u16 as u32) << 16) as i32;
        }
    }
    Ok(out)
}

/// `R` rows of A (`kp` pairs each, consecutive) times one panel: the sums of the tile.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(never)]
fn tile<const R: usize>(a: &[i32], kp: usize, panel: &[i16]) -> [[i32; NR]; MR] {
    use std::arch::wasm32::*;
    let mut acc = [[i32x4_splat(0); 2]; R];
    let rows: [&[i32]; R] = std::array::from_fn(|r| &a[r * kp..(r + 1) * kp]);
    for (p, b) in panel.chunks_exact(2 * NR).enumerate().take(kp) {
        // SAFETY: `b` is 16 int16 values, read as two unaligned vectors.
        let (b0, b1) = unsafe {
            let q = b.as_ptr() as *const v128;
            (v128_load(q), v128_load(q.add(1)))
        };
        for r in 0..R {
            let av = i32x4_splat(rows[r][p]);
            acc[r][0] = i32x4_add(acc[r][0], i32x4_dot_i16x8(av, b0));
            acc[r][1] = i32x4_add(acc[r][1], i32x4_dot_i16x8(av, b1));
        }
    }
    let mut out = [[0i32; NR]; MR];
    for r in 0..R {
        for h in 0..2 {
            let v = acc[r][h];
            out[r][4 * h] = i32x4_extract_lane::<0>(v);
            out[r][4 * h + 1] = i32x4_extract_lane::<1>(v);
            out[r][4 * h + 2] = i32x4_extract_lane::<2>(v);
            out[r][4 * h + 3] = i32x4_extract_lane::<3>(v);
        }
    }
    out
}

/// The same sums, lane by lane (native builds and tests).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn tile<const R: usize>(a: &[i32], kp: usize, panel: &[i16]) -> [[i32; NR]; MR] {
    let mut out = [[0i32; NR]; MR];
    for (p, b) in panel.chunks_exact(2 * NR).enumerate().take(kp) {
        for (r, o) in out.iter_mut().enumerate().take(R) {
            let v = a[r * kp + p];
            let (lo, hi) = (v as i16 as i32, (v >> 16) as i16 as i32);
            for (j, o) in o.iter_mut().enumerate() {
                let s = lo * i32::from(b[2 * j]) + hi * i32::from(b[2 * j + 1]);
                *o = o.wrapping_add(s);
            }
        }
    }
    out
}

/// The `m` rows of packed A times B into `out` (`m x b.n`, row-major).
#[inline(never)]
fn product(a: &[i32], m: usize, b: &PackedB, out: &mut [i32]) {
    let (kp, n) = (b.k.div_ceil(2), b.n);
    for (p, panel) in b.data.chunks_exact(kp * 2 * NR).enumerate() {
        let cols = NR.min(n - p * NR);
        for r0 in (0..m).step_by(MR) {
            let rows = MR.min(m - r0);
            let a = &a[r0 * kp..(r0 + rows) * kp];
            let t = match rows {
                1 => tile::<1>(a, kp, panel),
                2 => tile::<2>(a, kp, panel),
                3 => tile::<3>(a, kp, panel),
                _ => tile::<4>(a, kp, panel),
            };
            for (r, t) in t.iter().enumerate().take(rows) {
                let at = (r0 + r) * n + p * NR;
                out[at..at + cols].copy_from_slice(&t[..cols]);
            }
        }
    }
}

/// The shapes of a batched product (numpy's matmul): the output's, the matrices' `m, k, n`,
/// and for each output matrix, the A and B matrices it multiplies.
struct Batches {
    shape: Vec<usize>,
    m: usize,
    k: usize,
    n: usize,
    pairs: Vec<(usize, usize)>,
}

fn batches(a: &[usize], b: &[usize]) -> OpResult<Batches> {
    let (m, ka) = match a {
        [] => return Err("input A is a scalar, expected at least one dimension".into()),
        [k] => (1, *k),
        [.., m, k] => (*m, *k),
    };
    let (k, n) = match b {
        [] => return Err("input B is a scalar, expected at least one dimension".into()),
        [k] => (*k, 1),
        [.., k, n] => (*k, *n),
    };
    if ka != k {
        return Err(format!(
            "A of shape {a:?} and B of shape {b:?}: inner sizes {ka} and {k} differ"
        ));
    }
    let ab = &a[..a.len().saturating_sub(2)];
    let bb = &b[..b.len().saturating_sub(2)];
    let batch = broadcast(ab, bb)
        .map_err(|_| format!("A of shape {a:?} and B of shape {b:?} do not broadcast"))?;
    let total = volume(&batch)?;
    let pad = |s: &[usize]| {
        let mut v = vec![1; batch.len() - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (ap, bp) = (pad(ab), pad(bb));
    let pairs = (0..total)
        .map(|i| {
            let (mut ai, mut bi, mut rest, mut astr, mut bstr) = (0, 0, i, 1, 1);
            for d in (0..batch.len()).rev() {
                let idx = rest % batch[d];
                rest /= batch[d];
                if ap[d] != 1 {
                    ai += idx * astr;
                }
                if bp[d] != 1 {
                    bi += idx * bstr;
                }
                astr *= ap[d];
                bstr *= bp[d];
            }
            (ai, bi)
        })
        .collect();
    let mut shape = batch;
    if a.len() >= 2 {
        shape.push(m);
    }
    if b.len() >= 2 {
        shape.push(n);
    }
    Ok(Batches {
        shape,
        m,
        k,
        n,
        pairs,
    })
}

/// An integer product's B: packed at load when it and its zero point are constants.
struct IntB {
    shape: Vec<usize>,
    packed: Vec<PackedB>,
}

fn pack_int_b(b: &Tensor, zero: Option<&Tensor>) -> OpResult<IntB> {
    let (k, n) = match b.shape[..] {
        [] => return Err("input B is a scalar, expected at least one dimension".into()),
        [k] => (k, 1),
        [.., k, n] => (k, n),
    };
    let v = widened(b, "B")?;
    let zero = product_zero(zero, b, n, "b_zero_point")?;
    let count = volume(&b.shape[..b.rank().saturating_sub(2)])?;
    let packed = (0..count)
        .map(|i| PackedB::new(&v, i * k * n, k, n, &zero))
        .collect::<OpResult<_>>()?;
    Ok(IntB {
        shape: b.shape.clone(),
        packed,
    })
}

/// The integer product of A (less `a_zero`) and B, of shapes `bt`: the output's sums.
fn int_product(at: &Tensor, a_zero: Option<&Tensor>, b: &IntB, bt: &Batches) -> OpResult<Vec<i32>> {
    let mut out = vec![0i32; alloc_len::<i32>(&bt.shape)?];
    let a = widened(at, "A")?;
    let zero = product_zero(a_zero, at, bt.m, "a_zero_point")?;
    if bt.m == 0 || bt.n == 0 || bt.k == 0 {
        // No sums, or sums of nothing.
        return Ok(out);
    }
    for (o, &(ai, bi)) in out.chunks_exact_mut(bt.m * bt.n).zip(&bt.pairs) {
        let pa = pack_a(&a, ai * bt.m * bt.k, bt.m, bt.k, &zero)?;
        let pb = b.packed.get(bi).ok_or("internal: missing packed B")?;
        product(&pa, bt.m, pb, o);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// MatMulInteger

struct MatMulInteger {
    /// B and its zero point, when both are constants.
    b: Option<IntB>,
}

fn const_b(ctx: &NodeCtx, bi: usize, zi: usize) -> OpResult<Option<IntB>> {
    let b = ctx.consts.get(bi).copied().flatten();
    let z = ctx.consts.get(zi).copied().flatten();
    match b {
        Some(b) if z.is_some() || !ctx.given(zi) => Ok(Some(pack_int_b(b, z)?)),
        _ => Ok(None),
    }
}

fn build_matmul_integer(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(MatMulInteger {
        b: const_b(ctx, 1, 3)?,
    }))
}

/// B as packed at load, or packed now from the run's inputs.
fn run_b<'a>(
    built: &'a Option<IntB>,
    inputs: &[Option<&Tensor>],
    bi: usize,
    zi: usize,
    packed: &'a mut Option<IntB>,
) -> OpResult<&'a IntB> {
    if let Some(b) = built {
        return Ok(b);
    }
    let b = input(inputs, bi, "B")?;
    Ok(packed.insert(pack_int_b(b, inputs.get(zi).copied().flatten())?))
}

impl Op for MatMulInteger {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let a = input(inputs, 0, "A")?;
        let mut packed = None;
        let b = run_b(&self.b, inputs, 1, 3, &mut packed)?;
        let bt = batches(&a.shape, &b.shape)?;
        let out = int_product(a, inputs.get(2).copied().flatten(), b, &bt)?;
        Ok(vec![tensor(bt.shape, out)?])
    }
}

// ---------------------------------------------------------------------------------------------
// QLinearMatMul: the product requantized, y = saturate(round(sum * a_scale * b_scale / y_scale)
// + y_zero_point), as onnxruntime computes it

struct QLinearMatMul {
    b: Option<IntB>,
    /// The internal DequantizedMatMul (see [`qdq_matmuls`]): the scaled sums are the float32
    /// output, not requantized (no `y_scale` and `y_zero_point` inputs).
    float: bool,
}

fn build_qlinear_matmul(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(QLinearMatMul {
        b: const_b(ctx, 3, 5)?,
        float: false,
    }))
}

fn build_dequantized_matmul(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(QLinearMatMul {
        b: const_b(ctx, 3, 5)?,
        float: true,
    }))
}

/// One scale, or `len` of them.
fn scales(t: &Tensor, len: usize, name: &str) -> OpResult<Vec<f32>> {
    let v = f32s(t, name)?;
    if v.len() != 1 && v.len() != len {
        return Err(format!(
            "{name} has {} values, expected 1 or {len}",
            v.len()
        ));
    }
    Ok(v.to_vec())
}

impl Op for QLinearMatMul {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let a = input(inputs, 0, "a")?;
        let mut packed = None;
        let b = run_b(&self.b, inputs, 3, 5, &mut packed)?;
        let bt = batches(&a.shape, &b.shape)?;
        let (m, n) = (bt.m, bt.n);
        let sa = scales(input(inputs, 1, "a_scale")?, m, "a_scale")?;
        let sb = scales(input(inputs, 4, "b_scale")?, n, "b_scale")?;
        let out = match self.float {
            true => None,
            false => Some((
                scalar_of(input(inputs, 6, "y_scale")?, "y_scale")?,
                out_zero(input(inputs, 7, "y_zero_point")?)?,
            )),
        };
        let sums = int_product(a, inputs.get(2).copied().flatten(), b, &bt)?;
        let mut y = vec![0f32; sums.len()];
        // Each sum times a_scale (of its row) * b_scale (of its column) / y_scale (1 for a float
        // output), the factors of a row computed when its a_scale is another's.
        let sy = out.map_or(1.0, |(sy, _)| sy);
        let (mut factors, mut row) = (vec![], usize::MAX);
        let rows = y
            .chunks_exact_mut(n.max(1))
            .zip(sums.chunks_exact(n.max(1)));
        for (i, (y, sums)) in rows.enumerate() {
            let r = if sa.len() == 1 { 0 } else { i % m };
            if r != row {
                let sb = |c: usize| sb[if sb.len() == 1 { 0 } else { c }];
                factors = (0..n).map(|c| (sa[r] * sb(c)) / sy).collect();
                row = r;
            }
            for ((y, &v), &f) in y.iter_mut().zip(sums).zip(&factors) {
                *y = v as f32 * f;
            }
        }
        let Some((_, (to, zy))) = out else {
            return Ok(vec![Tensor::f32(bt.shape, y)]);
        };
        let range = to.range();
        y.iter_mut()
            .for_each(|y| *y = quantize_one(*y, 1.0, zy, range));
        Ok(vec![to.tensor(bt.shape, &y)?])
    }
}

/// The output type and zero point of a QLinear operator, from its one-value `y_zero_point`.
fn out_zero(yz: &Tensor) -> OpResult<(QType, f32)> {
    match &yz.data {
        Data::U8(v) if v.len() == 1 => Ok((QType::U8, f32::from(v[0]))),
        Data::I8(v) if v.len() == 1 => Ok((QType::I8, f32::from(v[0]))),
        _ => Err(format!(
            "y_zero_point is a {:?} {} tensor, expected one uint8 or int8 value",
            yz.shape,
            yz.dtype()
        )),
    }
}

fn scalar_of(t: &Tensor, name: &str) -> OpResult<f32> {
    match f32s(t, name)? {
        [v] => Ok(*v),
        v => Err(format!("{name} has {} values, expected one", v.len())),
    }
}

// ---------------------------------------------------------------------------------------------
// A QDQ model's MatMul on the integer product

/// The domain of the lite engine's own operators, which only its load-time rewrites write (a
/// model's nodes of other domains are refused before they could be read).
pub const INTERNAL_DOMAIN: &str = "onnxlet.lite";

/// The internal operators, by name.
pub(super) const INTERNAL_OPS: &[(&str, Builder)] =
    &[("DequantizedMatMul", build_dequantized_matmul)];

/// The longest sum of products of two dequantized 8-bit values (at most 255 * 255 each) that
/// an int32 holds, whatever the values.
const MAX_DEPTH: usize = i32::MAX as usize / (255 * 255);

/// Rewrites the MatMuls of a QDQ model (`onnxruntime.quantization.quantize_static`:
/// `MatMul(DequantizeLinear(x), DequantizeLinear(w))`, `w` int8 weights) into internal
/// DequantizedMatMul nodes, which multiply the integers themselves on the exact integer product,
/// as onnxruntime does, and scale the int32 sums to float32: `y = x_scale * w_scale[col] *
/// sum((x - x_zero) * (w - w_zero[col]))`, the float MatMul of the dequantized values but for
/// its rounding. A's DequantizeLinear must have one constant scale and zero point; B's must read
/// a constant [K, N] matrix of int8 or uint8 (K at most [`MAX_DEPTH`]) with one constant scale
/// and zero point, or one of each per column (axis 1). Any other MatMul is left as it is. The
/// DequantizeLinear nodes no one reads any more are dropped: the weights stay 8-bit integers,
/// not folded to float32. `elsewhere` are the names that subgraphs read.
pub fn qdq_matmuls(graph: &mut pb::GraphProto, elsewhere: &[String]) {
    // Where each name comes from: initializer `i`, or node `i - inits` (an output).
    let inits = graph.initializer.len();
    let origin: HashMap<&str, usize> = (graph.initializer.iter().enumerate())
        .map(|(i, t)| (t.name.as_str(), i))
        .chain(
            (graph.node.iter().enumerate())
                .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), inits + i))),
        )
        .collect();
    let init = |name: &str| match origin_of(&origin, name) {
        Some(i) if i < inits => graph.initializer.get(i),
        _ => None,
    };
    // The DequantizeLinear node before node `at` that writes `name`.
    let dequantize = |name: &str, at: usize| match origin_of(&origin, name) {
        Some(i) if i >= inits && i - inits < at => {
            let i = i - inits;
            let node = &graph.node[i];
            let default = node.domain.is_empty() || node.domain == "ai.onnx";
            (default && node.op_type == "DequantizeLinear").then_some((i, node))
        }
        _ => None,
    };
    let mut rewritten = vec![];
    let mut dropped = vec![false; graph.node.len()];
    for (i, node) in graph.node.iter().enumerate() {
        let default = node.domain.is_empty() || node.domain == "ai.onnx";
        if !default || node.op_type != "MatMul" || node.input.len() != 2 {
            continue;
        }
        let (Some((ai, a)), Some((bi, b))) =
            (dequantize(&node.input[0], i), dequantize(&node.input[1], i))
        else {
            continue;
        };
        let (Some(a), Some(b)) = (dequantized(a, &init, false), dequantized(b, &init, true)) else {
            continue;
        };
        rewritten.push((
            i,
            pb::NodeProto {
                input: a.into_iter().chain(b).collect(),
                output: node.output.clone(),
                name: node.name.clone(),
                op_type: "DequantizedMatMul".into(),
                domain: INTERNAL_DOMAIN.into(),
                ..Default::default()
            },
        ));
        (dropped[ai], dropped[bi]) = (true, true);
    }
    // The DequantizeLinear nodes still read (by another node, a subgraph, or as an output) stay.
    let inputs = (graph.node.iter().enumerate()).flat_map(|(i, n)| {
        match rewritten.binary_search_by_key(&i, |r| r.0) {
            Ok(r) => &rewritten[r].1.input,
            Err(_) => &n.input,
        }
    });
    let outputs = graph.output.iter().map(|v| &v.name);
    for name in inputs.chain(outputs).chain(elsewhere) {
        if let Some(i) = origin_of(&origin, name).filter(|&i| i >= inits) {
            dropped[i - inits] = false;
        }
    }
    for (i, node) in rewritten {
        graph.node[i] = node;
    }
    let mut dropped = dropped.into_iter();
    graph.node.retain(|_| !dropped.next().unwrap_or(false));
}

/// [`qdq_matmuls`]'s one lookup of a name, kept out of line (each inlined copy of the hash is
/// code of the download).
#[inline(never)]
fn origin_of(origin: &HashMap<&str, usize>, name: &str) -> Option<usize> {
    origin.get(name).copied()
}

/// The inputs of DequantizeLinear node `dq` (the integers, their scale, their zero point or an
/// empty name) when the integer product can take them: one constant float32 scale, or with
/// `columns`, one per column of a constant [K, N] matrix; a constant zero point of as many,
/// uint8 or int8 as the integers are (from an initializer, or from the zero point).
fn dequantized<'a>(
    dq: &pb::NodeProto,
    inits: &impl Fn(&str) -> Option<&'a pb::TensorProto>,
    columns: bool,
) -> Option<[String; 3]> {
    let attr = |name: &str| dq.attribute.iter().find(|a| a.name == name).map(|a| a.i);
    let (x, scale) = (dq.input.first()?, inits(dq.input.get(1)?)?);
    let zero = match dq.input.get(2).filter(|z| !z.is_empty()) {
        Some(z) => Some(inits(z)?),
        None => None,
    };
    let init = inits(x);
    // The integers' type, which the zero point must have too.
    let dtype = init.or(zero).map(|t| t.data_type)?;
    let kn = match init.map(|t| &t.dims[..]) {
        Some(&[k, n]) => Some((k, n)),
        _ => None,
    };
    let one = scale.dims.is_empty() || scale.dims == [1];
    let per_column = columns
        && kn.is_some_and(|(_, n)| scale.dims == [n])
        && matches!(attr("axis"), None | Some(1 | -1));
    let ok = matches!(dtype, 2 | 3)
        && scale.data_type == 1
        && (one || per_column)
        && attr("block_size").unwrap_or(0) == 0
        && zero.is_none_or(|z| {
            let one_zero = z.dims.is_empty() || z.dims == [1];
            z.data_type == dtype && (z.dims == scale.dims || one && one_zero)
        })
        && (!columns || kn.is_some_and(|(k, _)| usize::try_from(k).is_ok_and(|k| k <= MAX_DEPTH)));
    let name = |t: Option<&String>| t.cloned().unwrap_or_default();
    ok.then(|| [x.clone(), scale.name.clone(), name(dq.input.get(2))])
}

// ---------------------------------------------------------------------------------------------
// ConvInteger and QLinearConv: each group's weights times its im2col matrix, in integers

/// A quantized convolution's weights, zero points subtracted, packed as A rows per group.
struct IntConv {
    geo: Geo,
    /// Output channels, input channels per group, groups.
    m: usize,
    cg: usize,
    group: usize,
    w: Vec<Vec<i32>>,
    /// Depthwise (one input and one output channel per group): each channel's taps, less their
    /// zero point, for the direct loop (else empty).
    taps: Vec<i16>,
}

/// The integer convolution of node `ctx`'s weights (input `wi`, zero point input `zi`), when
/// both are constants: its geometry checked and its weights packed.
fn int_conv(ctx: &NodeCtx, w: &Tensor, zero: Option<&Tensor>) -> OpResult<IntConv> {
    let geo = read_geo(ctx, &w.shape)?;
    let m = w.shape[0];
    let group = ctx.int("group", 1);
    let Some(group) = positive_divisor(group, m) else {
        return Err(format!(
            "group {group} does not divide the {m} output channels of the weights"
        ));
    };
    let (mg, cg) = (m / group, w.shape[1]);
    let k = cg * geo.kernel[0] * geo.kernel[1];
    let v = widened(w, "w")?;
    let zero = product_zero(zero, w, m, "w_zero_point")?;
    let packed = (0..group)
        .map(|g| {
            let z = if zero.len() == 1 {
                &zero[..]
            } else {
                &zero[g * mg..(g + 1) * mg]
            };
            pack_a(&v, g * mg * k, mg, k, z)
        })
        .collect::<OpResult<_>>()?;
    let taps = if cg == 1 && mg == 1 {
        v.iter()
            .enumerate()
            .map(|(i, &x)| x - zp_at(&zero, i / k))
            .collect()
    } else {
        vec![]
    };
    Ok(IntConv {
        geo,
        m,
        cg,
        group,
        w: packed,
        taps,
    })
}

/// The im2col matrix (`cg * kh * kw` rows, one column per output pixel) of one group's input
/// `x` (cg x h x w) less its zero point, packed as B: 0 in the padding.
fn im2col(x: &[i16], zero: i16, cg: usize, win: &Window) -> OpResult<PackedB> {
    let k = cg * win.geo.kernel[0] * win.geo.kernel[1];
    let n = win.out[0] * win.out[1];
    let mut cols = PackedB::zeros(k, n)?;
    let mut rows = vec![0i16; alloc_len::<i16>(&[2, n])?];
    for pair in 0..k.div_ceil(2) {
        let (r0, r1) = rows.split_at_mut(n);
        im2col_row(x, zero, 2 * pair, win, r0);
        if 2 * pair + 1 < k {
            im2col_row(x, zero, 2 * pair + 1, win, r1);
        } else {
            r1.fill(0);
        }
        cols.put_pair(pair, &rows);
    }
    Ok(cols)
}

/// Where a convolution's kernel reads: its attributes, the input's and output's (height, width)
/// and the begin pads (top, left).
#[derive(Clone, Copy)]
struct Window<'a> {
    geo: &'a Geo,
    hw: [usize; 2],
    out: [usize; 2],
    pad: [i64; 2],
}

/// For kernel tap `(ky, kx)`, each output row `oy` that reads inside the input, with the output
/// columns `lo..hi` that do: `f(oy, lo..hi, first)`, where `first` is the index in the channel
/// that column `lo` reads, and each next column reads `strides[1]` further on.
fn tap_rows(
    win: &Window,
    [ky, kx]: [usize; 2],
    mut f: impl FnMut(usize, std::ops::Range<usize>, usize),
) {
    let Window { geo, hw, out, pad } = *win;
    let [oh, ow] = out;
    let (h, w) = (hw[0] as i64, hw[1] as i64);
    let (sx, off) = (geo.strides[1], kx as i64 * geo.dil[1] - pad[1]);
    let lo = if off >= 0 { 0 } else { (-off + sx - 1) / sx }.clamp(0, ow as i64) as usize;
    let hi = if w - off <= 0 {
        0
    } else {
        (w - off - 1) / sx + 1
    }
    .clamp(lo as i64, ow as i64) as usize;
    if lo >= hi {
        return;
    }
    for oy in 0..oh {
        let iy = oy as i64 * geo.strides[0] - pad[0] + ky as i64 * geo.dil[0];
        if iy >= 0 && iy < h {
            f(oy, lo..hi, (iy * w + lo as i64 * sx + off) as usize);
        }
    }
}

/// Row `kk` (channel, kernel row, kernel column) of the im2col matrix of `x`, less `zero`.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn im2col_row(x: &[i16], zero: i16, kk: usize, win: &Window, row: &mut [i16]) {
    let Window { geo, hw, out, .. } = *win;
    let [kh, kw] = geo.kernel;
    let (c, ky, kx) = (kk / (kh * kw), kk / kw % kh, kk % kw);
    let xc = x
        .get(c * hw[0] * hw[1]..(c + 1) * hw[0] * hw[1])
        .unwrap_or(&[]);
    let (ow, sx) = (out[1], geo.strides[1] as usize);
    row.fill(0);
    tap_rows(win, [ky, kx], |oy, cols, first| {
        let src = xc.get(first..).unwrap_or(&[]).iter().step_by(sx);
        for (d, &v) in row[oy * ow + cols.start..oy * ow + cols.end]
            .iter_mut()
            .zip(src)
        {
            *d = v - zero;
        }
    });
}

/// A depthwise channel (one input and one output channel in its group): each tap's weight
/// (`taps`, less their zero point) times the input less `zero`, summed into `acc`.
#[inline(never)]
fn depthwise(xc: &[i16], zero: i16, taps: &[i16], win: &Window, acc: &mut [i32]) {
    let Window { geo, out, .. } = *win;
    let (ow, sx) = (out[1], geo.strides[1] as usize);
    for (t, &wt) in taps.iter().enumerate() {
        let wt = i32::from(wt);
        if wt == 0 {
            continue;
        }
        let tap = [t / geo.kernel[1], t % geo.kernel[1]];
        tap_rows(win, tap, |oy, cols, first| {
            let acc = &mut acc[oy * ow + cols.start..oy * ow + cols.end];
            let src = xc.get(first..).unwrap_or(&[]);
            if sx == 1 {
                // Contiguous: LLVM vectorises this one.
                for (a, &v) in acc.iter_mut().zip(src) {
                    *a += wt * i32::from(v - zero);
                }
                return;
            }
            for (a, &v) in acc.iter_mut().zip(src.iter().step_by(sx)) {
                *a += wt * i32::from(v - zero);
            }
        });
    }
}

impl IntConv {
    /// The int32 sums of input `xt` (less `x_zero`), with the output's shape.
    fn sums(&self, xt: &Tensor, x_zero: Option<&Tensor>) -> OpResult<(Vec<usize>, Vec<i32>)> {
        let geo = &self.geo;
        let (n, c, hw) = conv_input(xt, geo.spatial)?;
        if c != self.cg * self.group {
            return Err(format!(
                "input x has {c} channels, the weights expect {} ({} groups of {})",
                self.cg * self.group,
                self.group,
                self.cg
            ));
        }
        let zero = product_zero(x_zero, xt, 1, "x_zero_point")?[0];
        let x = widened(xt, "x")?;
        let (oh, pt) = conv_axis(geo, 0, hw[0])?;
        let (ow, pl) = conv_axis(geo, 1, hw[1])?;
        let win = Window {
            geo,
            hw,
            out: [oh, ow],
            pad: [pt, pl],
        };
        let shape = out_shape(n, self.m, [oh, ow], geo.spatial);
        let mut out = vec![0i32; alloc_len::<i32>(&shape)?];
        let (mg, k) = (self.m / self.group, self.cg * geo.kernel[0] * geo.kernel[1]);
        let (isz, osz) = (self.cg * hw[0] * hw[1], oh * ow);
        // (im2col checks its packed matrix against the budget as it allocates it.)
        if osz == 0 || k == 0 || mg == 0 {
            // No output, or sums of nothing.
            return Ok((shape, out));
        }
        for (i, o) in out.chunks_exact_mut(mg * osz).enumerate() {
            let (b, g) = (i / self.group, i % self.group);
            let at = (b * self.group + g) * isz;
            let xg = x
                .get(at..at + isz)
                .ok_or("internal: x is smaller than its shape")?;
            if !self.taps.is_empty() {
                let taps = self.taps.get(g * k..(g + 1) * k).unwrap_or(&[]);
                depthwise(xg, zero, taps, &win, o);
                continue;
            }
            let pb = im2col(xg, zero, self.cg, &win)?;
            let w = self.w.get(g).ok_or("internal: missing packed weights")?;
            product(w, mg, &pb, o);
        }
        Ok((shape, out))
    }
}

/// A quantized convolution, its weights packed at load. Weights the model computes are the
/// engine's `Rebuild`: the builder runs again on each run's values.
struct QConv {
    conv: IntConv,
    /// QLinearConv: requantized with its scales and bias.
    qlinear: bool,
}

fn build_qconv(ctx: &NodeCtx, (wi, zi): (usize, usize), qlinear: bool) -> OpResult<Box<dyn Op>> {
    let w = ctx.const_input(wi, "w")?;
    let zero = match ctx.given(zi) {
        true => Some(ctx.const_input(zi, "w_zero_point")?),
        false => None,
    };
    Ok(Box::new(QConv {
        conv: int_conv(ctx, w, zero)?,
        qlinear,
    }))
}

fn build_conv_integer(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build_qconv(ctx, (1, 3), false)
}

fn build_qlinear_conv(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build_qconv(ctx, (3, 5), true)
}

impl Op for QConv {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let conv = &self.conv;
        let x = input(inputs, 0, "x")?;
        if !self.qlinear {
            let (shape, sums) = conv.sums(x, inputs.get(2).copied().flatten())?;
            return Ok(vec![tensor(shape, sums)?]);
        }
        let (shape, sums) = conv.sums(x, inputs.get(2).copied().flatten())?;
        let m = conv.m;
        let sx = scalar_of(input(inputs, 1, "x_scale")?, "x_scale")?;
        let sw = scales(input(inputs, 4, "w_scale")?, m, "w_scale")?;
        let sy = scalar_of(input(inputs, 6, "y_scale")?, "y_scale")?;
        let (to, zy) = out_zero(input(inputs, 7, "y_zero_point")?)?;
        let bias = match inputs.get(8).copied().flatten() {
            Some(b) => match &b.data {
                Data::I32(v) if v.len() == m => v.clone(),
                _ => {
                    return Err(format!(
                        "bias B is a {:?} {} tensor, expected {m} int32 values",
                        b.shape,
                        b.dtype()
                    ))
                }
            },
            None => vec![0; m],
        };
        let plane = shape[2..].iter().product::<usize>().max(1);
        let range = to.range();
        let mut y = vec![0f32; sums.len()];
        for (i, (y, sums)) in y
            .chunks_exact_mut(plane)
            .zip(sums.chunks_exact(plane))
            .enumerate()
        {
            let c = i % m;
            let (b, scale) = (bias[c], sx * sw[if sw.len() == 1 { 0 } else { c }] / sy);
            for (y, &v) in y.iter_mut().zip(sums) {
                *y = quantize_one(v.wrapping_add(b) as f32 * scale, 1.0, zy, range);
            }
        }
        Ok(vec![to.tensor(shape, &y)?])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::pb;
    use super::super::testing::*;
    use super::*;

    /// A seeded stream of bytes (a linear congruential generator).
    fn bytes(mut seed: u32) -> impl FnMut() -> u8 {
        move || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as u8
        }
    }

    fn u8s(shape: &[usize], v: &[u8]) -> Tensor {
        tensor(shape.to_vec(), v.to_vec()).unwrap()
    }

    fn i8s(shape: &[usize], v: &[i8]) -> Tensor {
        tensor(shape.to_vec(), v.to_vec()).unwrap()
    }

    #[test]
    fn quantize_rounds_halves_to_even_and_saturates() {
        let x = f32s_of(&[0.0, 1.0, 3.0, 5.0, -1.0, 1000.0, -1000.0, f32::NAN]);
        let y = run1(
            "QuantizeLinear",
            &[],
            &[&x, &f(&[], &[2.0]), &u8s(&[], &[128])],
        )
        .unwrap();
        assert_eq!(y.data, Data::U8(vec![128, 128, 130, 130, 128, 255, 0, 0]));
        let y = run1(
            "QuantizeLinear",
            &[],
            &[&x, &f(&[], &[2.0]), &i8s(&[], &[1])],
        )
        .unwrap();
        assert_eq!(y.data, Data::I8(vec![1, 1, 3, 3, 1, 127, -128, -128]));
        // Without a zero point: uint8, or the type output_dtype names.
        let y = run1("QuantizeLinear", &[], &[&x, &f(&[], &[2.0])]).unwrap();
        assert_eq!(y.dtype(), crate::tensor::DType::Uint8);
        let y = run1(
            "QuantizeLinear",
            &[int("output_dtype", 3)],
            &[&x, &f(&[], &[2.0])],
        )
        .unwrap();
        assert_eq!(y.data, Data::I8(vec![0, 0, 2, 2, 0, 127, -128, -128]));
        fails(
            run1(
                "QuantizeLinear",
                &[int("output_dtype", 5)],
                &[&x, &f(&[], &[2.0])],
            ),
            "element type 5",
        );
    }

    #[test]
    fn scales_apply_per_axis_and_per_block() {
        // x [2, 3, 2]: per axis 1, then blocks of 2 along axis 1 (2 blocks).
        let x = u8s(&[2, 3, 2], &[10; 12]);
        let s = f32s_of(&[1.0, 2.0, 3.0]);
        let z = u8s(&[3], &[0, 5, 10]);
        let y = run1("DequantizeLinear", &[], &[&x, &s, &z]).unwrap();
        let row = [10.0, 10.0, 10.0, 10.0, 0.0, 0.0];
        let want: Vec<f32> = row.iter().chain(&row).copied().collect();
        assert_eq!(y, f(&[2, 3, 2], &want));
        let s = f(&[2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let y = run1("DequantizeLinear", &[int("block_size", 2)], &[&x, &s]).unwrap();
        let want = [10., 20., 10., 20., 30., 40., 50., 60., 50., 60., 70., 80.];
        assert_eq!(y, f(&[2, 3, 2], &want));
        fails(
            run1("DequantizeLinear", &[], &[&x, &f32s_of(&[1.0, 2.0])]),
            "neither one value nor one per index of axis 1",
        );
        fails(
            run1(
                "DequantizeLinear",
                &[int("block_size", 2)],
                &[&x, &f(&[2, 3, 2], &[1.0; 12])],
            ),
            "expected [2, 2, 2]",
        );
    }

    #[test]
    fn dequantize_takes_int32_and_inverts_quantize() {
        let q = Tensor::new(vec![3], Data::I32(vec![-7, 0, 1 << 30])).unwrap();
        let y = run1("DequantizeLinear", &[], &[&q, &f(&[], &[0.5])]).unwrap();
        assert_eq!(y, f(&[3], &[-3.5, 0.0, (1u32 << 29) as f32]));
        let x = f32s_of(&[-1.0, -0.25, 0.0, 0.5, 1.0]);
        let (s, z) = (f(&[], &[1.0 / 64.0]), i8s(&[], &[-3]));
        let q = run1("QuantizeLinear", &[], &[&x, &s, &z]).unwrap();
        let y = run1("DequantizeLinear", &[], &[&q, &s, &z]).unwrap();
        assert_eq!(y, x);
    }

    #[test]
    fn dynamic_quantize_picks_onnxruntimes_scale_and_zero_point() {
        // The ONNX test's values: scale 2.5 / 255 * ..., zero point 153.
        let x = f32s_of(&[0.0, 2.0, -3.0, -2.5, 1.34, 0.5]);
        let out = run_op("DynamicQuantizeLinear", &[], &[&x], 3).unwrap();
        assert_eq!(out[0].data, Data::U8(vec![153, 255, 0, 26, 221, 179]));
        assert_eq!(out[1], Tensor::scalar_f32(5.0 / 255.0));
        assert_eq!(out[2].data, Data::U8(vec![153]));
        // An all-zero input: scale 1, zero point 0.
        let out = run_op("DynamicQuantizeLinear", &[], &[&f32s_of(&[0.0; 3])], 3).unwrap();
        assert_eq!(
            (&out[1], &out[2].data),
            (&Tensor::scalar_f32(1.0), &Data::U8(vec![0]))
        );
    }

    /// The plain sums, for the kernel's tests.
    fn reference(a: &[i32], b: &[i32], m: usize, k: usize, n: usize) -> Vec<i32> {
        let mut c = vec![0; m * n];
        for r in 0..m {
            for j in 0..n {
                c[r * n + j] = (0..k).map(|x| a[r * k + x] * b[x * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn integer_products_are_exact_in_every_tile_shape() {
        let mut next = bytes(7);
        for (m, k, n) in [
            (1, 1, 1),
            (3, 5, 7),
            (4, 16, 8),
            (5, 33, 17),
            (9, 384, 20),
            (2, 0, 3),
        ] {
            let a: Vec<u8> = (0..m * k).map(|_| next()).collect();
            let b: Vec<i8> = (0..k * n).map(|_| next() as i8).collect();
            let (za, zb) = (next(), next() as i8);
            let want = reference(
                &a.iter()
                    .map(|&v| i32::from(v) - i32::from(za))
                    .collect::<Vec<_>>(),
                &b.iter()
                    .map(|&v| i32::from(v) - i32::from(zb))
                    .collect::<Vec<_>>(),
                m,
                k,
                n,
            );
            let inputs = [
                u8s(&[m, k], &a),
                i8s(&[k, n], &b),
                u8s(&[], &[za]),
                i8s(&[], &[zb]),
            ];
            let refs: Vec<&Tensor> = inputs.iter().collect();
            let y = run1("MatMulInteger", &[], &refs).unwrap();
            assert_eq!(y, tensor(vec![m, n], want.clone()).unwrap(), "{m}x{k}x{n}");
            // With B a constant, packed at load.
            let consts = [None, Some(&inputs[1]), None, Some(&inputs[3])];
            let op = build("MatMulInteger", 10, vec![], &consts, 1).unwrap();
            let args: Vec<Option<&Tensor>> = refs.iter().map(|&t| Some(t)).collect();
            assert_eq!(
                op.run(&args).unwrap().remove(0),
                tensor(vec![m, n], want).unwrap()
            );
        }
        // The extremes: 255 * -128 over a long sum.
        let k = 2000;
        let a = u8s(&[1, k], &vec![255; k]);
        let b = i8s(&[k, 1], &vec![-128; k]);
        let y = run1("MatMulInteger", &[], &[&a, &b]).unwrap();
        assert_eq!(y.data, Data::I32(vec![-255 * 128 * k as i32]));
    }

    #[test]
    fn integer_products_broadcast_batches_and_take_per_row_zero_points() {
        let a = u8s(&[2, 1, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let b = u8s(&[3, 3, 1], &[1, 1, 1, 2, 2, 2, 3, 3, 3]);
        let y = run1("MatMulInteger", &[], &[&a, &b]).unwrap();
        assert_eq!(y.shape, vec![2, 3, 2, 1]);
        let want = [6, 15, 12, 30, 18, 45, 24, 33, 48, 66, 72, 99];
        assert_eq!(y.data, Data::I32(want.to_vec()));
        let a = u8s(&[2, 2], &[1, 2, 3, 4]);
        let b = u8s(&[2, 2], &[1, 0, 0, 1]);
        let y = run1(
            "MatMulInteger",
            &[],
            &[&a, &b, &u8s(&[2], &[1, 3]), &u8s(&[2], &[0, 1])],
        )
        .unwrap();
        assert_eq!(y.data, Data::I32(vec![0, 0, 0, 0]));
        fails(
            run1("MatMulInteger", &[], &[&a, &b, &u8s(&[3], &[1, 2, 3])]),
            "a_zero_point has 3 values, expected 1 or 2",
        );
        fails(
            run1(
                "MatMulInteger",
                &[],
                &[&a, &i8s(&[2, 2], &[0; 4]), &i8s(&[], &[0])],
            ),
            "a_zero_point is int8",
        );
        fails(
            run1("MatMulInteger", &[], &[&a, &u8s(&[3, 1], &[0; 3])]),
            "inner sizes 2 and 3",
        );
    }

    #[test]
    fn qlinear_matmul_requantizes_as_onnxruntime() {
        // ONNX's test_qlinearmatmul_2D_uint8_float32.
        let a = u8s(&[2, 4], &[208, 236, 0, 238, 3, 214, 255, 29]);
        let b = u8s(
            &[4, 3],
            &[152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247],
        );
        let inputs = [
            a,
            f(&[1], &[0.0066]),
            u8s(&[1], &[113]),
            b,
            f(&[1], &[0.00705]),
            u8s(&[1], &[114]),
            f(&[1], &[0.0107]),
            u8s(&[1], &[118]),
        ];
        let refs: Vec<&Tensor> = inputs.iter().collect();
        let y = run1("QLinearMatMul", &[], &refs).unwrap();
        assert_eq!(y, u8s(&[2, 3], &[168, 115, 255, 1, 66, 151]));
    }

    #[test]
    fn integer_convolutions_match_the_float_one() {
        let mut next = bytes(11);
        // x [1, 4, 7, 6] uint8, w [6, 2, 3, 2] int8 in 2 groups, per-channel zero points.
        let xs: Vec<u8> = (0..4 * 7 * 6).map(|_| next()).collect();
        let ws: Vec<i8> = (0..6 * 2 * 3 * 2).map(|_| next() as i8).collect();
        let (xz, wz): (u8, Vec<i8>) = (next(), (0..6).map(|_| next() as i8).collect());
        let attrs = vec![
            int("group", 2),
            ints("strides", &[2, 1]),
            ints("pads", &[1, 0, 2, 1]),
            ints("dilations", &[1, 2]),
        ];
        let inputs = [
            u8s(&[1, 4, 7, 6], &xs),
            i8s(&[6, 2, 3, 2], &ws),
            u8s(&[], &[xz]),
            i8s(&[6], &wz),
        ];
        let want = conv_reference(&inputs[0], xz, &inputs[1], &wz, &attrs);
        let refs: Vec<&Tensor> = inputs.iter().collect();
        let got = run_consts("ConvInteger", 10, attrs.clone(), &refs)
            .unwrap()
            .remove(0);
        assert_eq!(got, want);
        let Data::I32(exact) = want.data else {
            panic!("int32 sums")
        };
        // Weights packed at load give the same.
        let consts = [None, Some(&inputs[1]), None, Some(&inputs[3])];
        let op = build("ConvInteger", 10, attrs.clone(), &consts, 1).unwrap();
        let args: Vec<Option<&Tensor>> = refs.iter().map(|&t| Some(t)).collect();
        assert_eq!(
            op.run(&args).unwrap().remove(0).data,
            Data::I32(exact.clone())
        );
        // QLinearConv: the sums plus the bias, requantized.
        let (sx, sw, sy) = (0.5f32, 0.25f32, 64.0f32);
        let bias = Tensor::new(vec![6], Data::I32(vec![100, -100, 0, 7, 9, 1000])).unwrap();
        let q = [
            inputs[0].clone(),
            f(&[], &[sx]),
            inputs[2].clone(),
            inputs[1].clone(),
            f(&[6], &[sw; 6]),
            inputs[3].clone(),
            f(&[], &[sy]),
            i8s(&[], &[-3]),
            bias,
        ];
        let refs: Vec<&Tensor> = q.iter().collect();
        let got = run_consts("QLinearConv", 10, attrs, &refs)
            .unwrap()
            .remove(0);
        let plane = got.shape[2] * got.shape[3];
        let bias = [100, -100, 0, 7, 9, 1000];
        let want: Vec<i8> = exact
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let r = ((v + bias[i / plane]) as f32 * (sx * sw / sy)).round_ties_even();
                (r - 3.0).clamp(-128.0, 127.0) as i8
            })
            .collect();
        assert_eq!(got.data, Data::I8(want));
        fails(
            run_consts(
                "ConvInteger",
                10,
                vec![],
                &[&inputs[0], &i8s(&[6, 3, 3, 2], &[0; 108])],
            ),
            "has 4 channels",
        );
        // No output channels, or none in the input: empty, or zeros.
        let none = run_consts(
            "ConvInteger",
            10,
            vec![],
            &[&inputs[0], &i8s(&[0, 4, 1, 1], &[])],
        );
        assert_eq!(none.unwrap()[0].shape, vec![1, 0, 7, 6]);
        let x0 = u8s(&[1, 0, 3, 3], &[]);
        let zeros = run_consts("ConvInteger", 10, vec![], &[&x0, &i8s(&[2, 0, 1, 1], &[])]);
        assert_eq!(zeros.unwrap()[0].data, Data::I32(vec![0; 18]));
    }

    #[test]
    fn a_quantize_takes_the_dequantize_of_its_scale_and_zero_point() {
        let x = f(&[2, 3], &[-1.0, 0.3, 0.7, 2.5, 100.0, f32::NAN]);
        let (s, z) = (f(&[3], &[0.5, 0.25, 1.0]), u8s(&[3], &[10, 0, 128]));
        let attrs = vec![int("axis", 1)];
        let mut q = build(
            "QuantizeLinear",
            19,
            attrs.clone(),
            &[None, Some(&s), Some(&z)],
            1,
        )
        .unwrap();
        let node = pb::NodeProto {
            op_type: "DequantizeLinear".into(),
            attribute: attrs.clone(),
            ..Default::default()
        };
        let next = |s, z| NodeCtx {
            op_type: "DequantizeLinear",
            node: &node,
            consts: vec![None, Some(s), Some(z)],
            present: vec![true; 3],
            opset: 19,
        };
        // Another scale: not taken.
        let other = f(&[3], &[0.5, 0.25, 2.0]);
        assert!(!q.fuse(&next(&other, &z)));
        let args = [Some(&x), Some(&s), Some(&z)];
        let quantized = q.run(&args).unwrap().remove(0);
        let want = run("DequantizeLinear", 19, attrs, &[&quantized, &s, &z])
            .unwrap()
            .remove(0);
        assert!(q.fuse(&next(&s, &z)));
        assert_eq!(q.run(&args).unwrap().remove(0), want);
        assert_eq!(want, f(&[2, 3], &[-1.0, 0.25, 1.0, 2.5, 63.75, -128.0]));
    }

    /// `len` 8-bit values of `dtype` (uint8 or int8) from `next`.
    fn q8s(shape: &[usize], dtype: QType, next: &mut impl FnMut() -> u8) -> Tensor {
        let v: Vec<u8> = (0..shape.iter().product()).map(|_| next()).collect();
        match dtype {
            QType::U8 => u8s(shape, &v),
            QType::I8 => i8s(shape, &v.iter().map(|&b| b as i8).collect::<Vec<_>>()),
        }
    }

    #[test]
    fn dequantized_matmuls_match_the_float_product() {
        let mut next = bytes(3);
        let scale = |n: usize, next: &mut dyn FnMut() -> u8| -> Vec<f32> {
            (0..n).map(|_| f32::from(next()) / 4096.0 + 1e-4).collect()
        };
        let cases = [
            (vec![1, 1], 1, false),
            (vec![3, 13], 5, true),
            (vec![4, 16], 8, false),
            (vec![5, 37], 17, true),
            (vec![2, 3, 9], 12, true),
            (vec![2, 0], 3, true),
        ];
        for (ashape, n, per_column) in cases {
            for (ta, tb) in [(QType::U8, QType::I8), (QType::I8, QType::U8)] {
                let k = ashape[ashape.len() - 1];
                let a = q8s(&ashape, ta, &mut next);
                let b = q8s(&[k, n], tb, &mut next);
                let (za, zb) = (q8s(&[], ta, &mut next), q8s(&[n], tb, &mut next));
                let sa = f(&[], &scale(1, &mut next));
                let (sb, zb) = match per_column {
                    true => (f(&[n], &scale(n, &mut next)), zb),
                    false => (f(&[], &scale(1, &mut next)), q8s(&[], tb, &mut next)),
                };
                // The float path: both dequantized, then MatMul.
                let da = run1("DequantizeLinear", &[], &[&a, &sa, &za]).unwrap();
                let db = run1("DequantizeLinear", &[], &[&b, &sb, &zb]).unwrap();
                let float = run1("MatMul", &[], &[&da, &db]).unwrap();
                // The definition, in f64 from the integers: each sum, and the sum of its
                // terms' sizes.
                let (av, bv) = (quantized(&a, "a").unwrap(), quantized(&b, "b").unwrap());
                let (zav, zbv) = (quantized(&za, "").unwrap(), quantized(&zb, "").unwrap());
                let (sav, sbv) = (sa.to_f32s(), sb.to_f32s());
                let rows = av.len() / k.max(1);
                let mut exact = vec![(0f64, 0f64); rows * n];
                for (r, e) in exact.chunks_exact_mut(n).enumerate().take(rows) {
                    for (c, e) in e.iter_mut().enumerate() {
                        let (zb, sb) = (zbv[c % zbv.len()], sbv[c % sbv.len()]);
                        let s = f64::from(sav[0]) * f64::from(sb);
                        for kk in 0..k {
                            let p = (av[r * k + kk] - zav[0]) * (bv[kk * n + c] - zb);
                            *e = (e.0 + s * f64::from(p), e.1 + s * f64::from(p.abs()));
                        }
                    }
                }
                let inputs = [&a, &sa, &za, &b, &sb, &zb];
                let args: Vec<Option<&Tensor>> = inputs.iter().map(|&t| Some(t)).collect();
                let what = format!("{ashape:?} x [{k}, {n}], {ta:?} x {tb:?}");
                // B packed at load, and B packed at the run.
                let packed = [None, None, None, Some(&b), Some(&sb), Some(&zb)];
                for consts in [&packed[..], &[None; 6]] {
                    let op = build("DequantizedMatMul", 21, vec![], consts, 1).unwrap();
                    let y = op.run(&args).unwrap().remove(0);
                    assert_eq!(y.shape, float.shape, "{what}");
                    let (y, fl) = (y.to_f32s(), float.to_f32s());
                    for ((&y, &fl), &(e, size)) in y.iter().zip(&fl).zip(&exact) {
                        // Exact sums, rounded twice; the float path rounds at every step.
                        assert!(
                            (f64::from(y) - e).abs() <= 1e-6 * e.abs(),
                            "{what}: {y} {e}"
                        );
                        let off = (f64::from(fl) - f64::from(y)).abs();
                        assert!(off <= 1e-6 * (1 + k) as f64 * size, "{what}: {fl} {y}");
                    }
                }
            }
        }
        // The scales must fit the product.
        let (a, b) = (u8s(&[2, 3], &[1; 6]), i8s(&[3, 4], &[1; 12]));
        let inputs = [&a, &f(&[], &[1.0]), &u8s(&[], &[0]), &b];
        let mut args: Vec<&Tensor> = inputs.to_vec();
        let (s3, z) = (f(&[3], &[1.0; 3]), i8s(&[], &[0]));
        args.extend([&s3, &z]);
        fails(
            run1("DequantizedMatMul", &[], &args),
            "b_scale has 3 values, expected 1 or 4",
        );
    }

    /// A node of `op` from `inputs` to `output`, with `attrs`.
    fn node(
        op: &str,
        inputs: &[&str],
        output: &str,
        attrs: Vec<pb::AttributeProto>,
    ) -> pb::NodeProto {
        pb::NodeProto {
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            name: output.into(),
            attribute: attrs,
            ..Default::default()
        }
    }

    /// An initializer's proto (its data left out: the rewrite reads types and shapes).
    fn init(name: &str, data_type: i32, dims: &[i64]) -> pb::TensorProto {
        pb::TensorProto {
            name: name.into(),
            data_type,
            dims: dims.to_vec(),
            ..Default::default()
        }
    }

    /// `x -> Q -> DQ -> MatMul(., DQ(w)) -> y` with `w` an int8 [5, 3] initializer of
    /// `w_scale` dims `ws` (and a zero point as many), the DequantizeLinear of `w` with `attrs`.
    fn qdq_graph(ws: &[i64], attrs: Vec<pb::AttributeProto>) -> pb::GraphProto {
        pb::GraphProto {
            node: vec![
                node("QuantizeLinear", &["x", "xs", "xz"], "xq", vec![]),
                node("DequantizeLinear", &["xq", "xs", "xz"], "xd", vec![]),
                node("DequantizeLinear", &["w", "ws", "wz"], "wd", attrs),
                node("MatMul", &["xd", "wd"], "y", vec![]),
            ],
            initializer: vec![
                init("xs", 1, &[]),
                init("xz", 2, &[]),
                init("w", 3, &[5, 3]),
                init("ws", 1, ws),
                init("wz", 3, ws),
            ],
            output: vec![pb::ValueInfoProto {
                name: "y".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn op_types(g: &pb::GraphProto) -> Vec<&str> {
        g.node.iter().map(|n| n.op_type.as_str()).collect()
    }

    #[test]
    fn qdq_matmuls_multiply_the_integers_where_they_can() {
        let none = [];
        // Per tensor and per column (axis 1, or -1): the Dequantizes go, the MatMul reads
        // their inputs.
        for (ws, attrs) in [
            (&[][..], vec![]),
            (&[1][..], vec![]),
            (&[3][..], vec![]),
            (&[3][..], vec![int("axis", -1)]),
        ] {
            let mut g = qdq_graph(ws, attrs);
            // A node of two outputs before: nodes are found by index, not by output.
            let mut split = node("Split", &["s"], "s0", vec![]);
            split.output.push("s1".into());
            g.node.insert(0, split);
            qdq_matmuls(&mut g, &none);
            let want = ["Split", "QuantizeLinear", "DequantizedMatMul"];
            assert_eq!(op_types(&g), want, "{ws:?}");
            let mm = &g.node[2];
            assert_eq!(mm.input, ["xq", "xs", "xz", "w", "ws", "wz"]);
            assert_eq!(
                (mm.domain.as_str(), mm.name.as_str()),
                (INTERNAL_DOMAIN, "y")
            );
        }
        // A dequantized activation read elsewhere too (by a node, a subgraph, as an output)
        // stays.
        let mut g = qdq_graph(&[], vec![]);
        g.node.push(node("Relu", &["xd"], "r", vec![]));
        qdq_matmuls(&mut g, &none);
        let want = [
            "QuantizeLinear",
            "DequantizeLinear",
            "DequantizedMatMul",
            "Relu",
        ];
        assert_eq!(op_types(&g), want);
        let mut g = qdq_graph(&[], vec![]);
        qdq_matmuls(&mut g, &["xd".to_string()]);
        assert_eq!(op_types(&g)[1], "DequantizeLinear");
        // What the integer product does not take: left as it is.
        let unchanged: [(&str, pb::GraphProto); 6] = [
            ("per row", qdq_graph(&[5], vec![int("axis", 0)])),
            (
                "blocks",
                qdq_graph(&[2, 3], vec![int("block_size", 3), int("axis", 0)]),
            ),
            ("computed scale", {
                let mut g = qdq_graph(&[], vec![]);
                g.initializer.retain(|t| t.name != "ws");
                g
            }),
            ("float16 scale", {
                let mut g = qdq_graph(&[], vec![]);
                g.initializer[3].data_type = 10;
                g
            }),
            ("int32 weights", {
                let mut g = qdq_graph(&[], vec![]);
                g.initializer[2].data_type = 6;
                g.initializer[4].data_type = 6;
                g
            }),
            ("too deep", {
                let mut g = qdq_graph(&[], vec![]);
                g.initializer[2].dims = vec![MAX_DEPTH as i64 + 1, 3];
                g
            }),
        ];
        for (what, mut g) in unchanged {
            let before = g.clone();
            qdq_matmuls(&mut g, &none);
            assert_eq!(g, before, "{what}");
        }
        // Without a zero point, the activation's type is unknown: float.
        let mut g = qdq_graph(&[], vec![]);
        g.node[1].input.pop();
        let before = g.clone();
        qdq_matmuls(&mut g, &none);
        assert_eq!(g, before);
    }

    /// A whole QDQ model through the engine, `y = DQ(Q(x)) @ DQ(w)` (w per column), once as
    /// it is and once with an If branch that reads the dequantized x too: both rewritten (the
    /// second keeps x's Dequantize), both the definition's values.
    #[test]
    fn a_qdq_model_multiplies_integers_and_keeps_what_a_branch_reads() {
        use crate::tensor::{DType, HostTensor};
        use prost::Message;
        let raw = |name: &str, data_type: i32, dims: &[i64], raw: Vec<u8>| pb::TensorProto {
            raw_data: raw.into(),
            ..init(name, data_type, dims)
        };
        let info = |name: &str| pb::ValueInfoProto {
            name: name.into(),
            r#type: Some(pb::TypeProto {
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type: 1,
                    shape: None,
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let floats = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let (x, w) = (
            [-1.0f32, 0.3, 2.0, 0.7, -0.26, 5.0],
            [3i8, -7, 100, -128, 0, 9],
        );
        let (xs, ws, wz) = (0.05f32, [0.01f32, 0.02], [1i8, -2]);
        let mut graph = qdq_graph(&[2], vec![int("axis", 1)]);
        graph.initializer = vec![
            raw("xs", 1, &[], floats(&[xs])),
            raw("xz", 2, &[], vec![128]),
            raw("w", 3, &[3, 2], w.iter().map(|&v| v as u8).collect()),
            raw("ws", 1, &[2], floats(&ws)),
            raw("wz", 3, &[2], wz.iter().map(|&v| v as u8).collect()),
        ];
        graph.input = vec![info("x")];
        graph.output = vec![info("y")];
        // The definition: x quantized (halves to even) and dequantized, times w's values.
        let xd: Vec<f32> = x
            .iter()
            .map(|&v| ((v / xs).round_ties_even() + 128.0).clamp(0.0, 255.0) - 128.0)
            .map(|q| q * xs)
            .collect();
        let want: Vec<f32> = (0..4)
            .map(|i| {
                let (r, c) = (i / 2, i % 2);
                (0..3)
                    .map(|k| xd[r * 3 + k] * f32::from(w[k * 2 + c] - wz[c]) * ws[c])
                    .sum()
            })
            .collect();
        let mut branching = graph.clone();
        let branch = |name: &str| pb::AttributeProto {
            name: name.into(),
            r#type: 5,
            g: Some(pb::GraphProto {
                node: vec![node("Identity", &["xd"], "t", vec![])],
                output: vec![info("t")],
                ..Default::default()
            }),
            ..Default::default()
        };
        let attrs = vec![branch("then_branch"), branch("else_branch")];
        branching.node.push(node("If", &["cond"], "z", attrs));
        branching.initializer.push(raw("cond", 9, &[], vec![1]));
        branching.output.push(info("z"));
        let steps = [
            &["QuantizeLinear", "DequantizedMatMul"][..],
            &[
                "QuantizeLinear",
                "DequantizeLinear",
                "DequantizedMatMul",
                "If",
            ],
        ];
        for ((graph, outputs), steps) in [(graph, 1), (branching, 2)].into_iter().zip(steps) {
            let model = pb::ModelProto {
                ir_version: 8,
                opset_import: vec![pb::OperatorSetIdProto {
                    domain: String::new(),
                    version: 19,
                }],
                graph: Some(graph),
                ..Default::default()
            };
            let engine = crate::engine::Engine::load(model.encode_to_vec(), &[]).unwrap();
            let ops: Vec<&str> = engine.graph.steps.iter().map(|s| &*s.op_type).collect();
            assert_eq!(ops, steps);
            let feed = HostTensor::new(DType::Float32, vec![2, 3], floats(&x)).unwrap();
            let out = engine.run(vec![feed], usize::MAX).unwrap();
            assert_eq!(out.len(), outputs);
            let values = |t: &HostTensor| -> Vec<f32> {
                let b = t.data().chunks_exact(4);
                b.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            };
            let y = values(&out[0]);
            for (y, want) in y.iter().zip(&want) {
                assert!((y - want).abs() <= 1e-6 * want.abs().max(1.0), "{y} {want}");
            }
            if outputs == 2 {
                assert_eq!(values(&out[1]), xd);
            }
        }
    }

    /// ConvInteger's sums as the float32 Conv computes them (exact for these small values).
    fn conv_reference(
        x: &Tensor,
        xz: u8,
        w: &Tensor,
        wz: &[i8],
        attrs: &[pb::AttributeProto],
    ) -> Tensor {
        let Data::U8(xs) = &x.data else {
            panic!("uint8 x")
        };
        let Data::I8(ws) = &w.data else {
            panic!("int8 w")
        };
        let per = ws.len() / w.shape[0];
        let xf = f(
            &x.shape,
            &xs.iter()
                .map(|&v| f32::from(v) - f32::from(xz))
                .collect::<Vec<_>>(),
        );
        let wf: Vec<f32> = ws
            .iter()
            .enumerate()
            .map(|(i, &v)| f32::from(v) - f32::from(wz[i / per]))
            .collect();
        let wf = f(&w.shape, &wf);
        let conv = build("Conv", 11, attrs.to_vec(), &[None, Some(&wf)], 1).unwrap();
        let want = conv.run(&[Some(&xf), Some(&wf)]).unwrap().remove(0);
        let sums = want.as_f32().unwrap().iter().map(|&v| v as i32).collect();
        Tensor::new(want.shape.clone(), Data::I32(sums)).unwrap()
    }

    #[test]
    fn depthwise_integer_convolutions_match_the_float_one() {
        let mut next = bytes(5);
        // One output channel per input channel (the direct loop), then two (the product).
        for (m, strides, pads) in [
            (4, [1, 1], [1, 1, 1, 1]),
            (4, [2, 2], [0, 1, 2, 0]),
            (8, [2, 1], [1, 1, 1, 1]),
        ] {
            let x = u8s(
                &[1, 4, 9, 7],
                &(0..4 * 9 * 7).map(|_| next()).collect::<Vec<_>>(),
            );
            let w = i8s(
                &[m, 1, 3, 3],
                &(0..m * 9).map(|_| next() as i8).collect::<Vec<_>>(),
            );
            let (xz, wz): (u8, Vec<i8>) = (next(), (0..m).map(|_| next() as i8).collect());
            let attrs = vec![
                int("group", 4),
                ints("strides", &strides),
                ints("pads", &pads),
            ];
            let want = conv_reference(&x, xz, &w, &wz, &attrs);
            let (xzt, wzt) = (u8s(&[], &[xz]), i8s(&[m], &wz));
            let consts = [None, Some(&w), None, Some(&wzt)];
            let op = build("ConvInteger", 10, attrs, &consts, 1).unwrap();
            let got = op
                .run(&[Some(&x), Some(&w), Some(&xzt), Some(&wzt)])
                .unwrap()
                .remove(0);
            assert_eq!(
                got, want,
                "{m} channels, strides {strides:?}, pads {pads:?}"
            );
        }
    }
}

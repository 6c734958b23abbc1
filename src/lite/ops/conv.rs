//! Matrix products and convolutions: Conv, ConvTranspose, Gemm and MatMul, on one packed GEMM.
//!
//! The GEMM multiplies an A packed in panels of 4 rows by a B packed in panels of 8 columns
//! (both cut in blocks of `KC` along k), one 4x8 tile of outputs at a time held in registers.
//! The weights of Conv and MatMul are packed at load, a constant B of Gemm the first time a
//! product of more than one row needs it: a product of one row reads B as stored (`gemv.rs`),
//! and Gemm's A is most often one row (a batch-one fully connected layer). A bias
//! (per row or per column) and an activation (Relu, Clip, LeakyRelu) are applied as each tile is
//! stored. Conv goes through im2col (not for 1x1 kernels of stride 1 without padding) on chunks
//! of output pixels, written straight in B's packed layout; a depthwise Conv has its own loops
//! (3x3 and 5x5 kernels four outputs at a time).

use std::ops::Range;
use std::sync::{Mutex, OnceLock, PoisonError};

use super::super::par::{self, Shared};
use super::super::tensor::{alloc_len, broadcast, volume, OpResult, Tensor, MAX_ELEMENTS};
use super::gemv::{gemv_cols, gemv_rows};
use super::simd::F4;
use super::{f32s, input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("Conv", build_conv),
    ("ConvTranspose", build_conv_transpose),
    ("Gemm", build_gemm),
    ("MatMul", build_matmul),
];

const MR: usize = 4;
const NR: usize = 8;
const KC: usize = 256;
/// Row panels of A computed against one B panel before moving to the next.
const MC_PANELS: usize = 16;
/// About how many floats of im2col columns a Conv builds at a time.
const COL_BUDGET: usize = 1 << 18;

// ---------------------------------------------------------------------------------------------
// Activation and epilogue

/// A fused activation: `v < 0 ? v * alpha : v`, then clamped to `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Act {
    alpha: f32,
    lo: f32,
    hi: f32,
}

impl Act {
    /// Comparisons rather than `f32::max`/`min`, which wasm lowers to calls to `fmaxf`/`fminf`
    /// (to ignore NaN); here a NaN passes through, as in the unfused operators.
    #[inline(always)]
    fn apply(self, v: f32) -> f32 {
        let v = if v < 0.0 { v * self.alpha } else { v };
        let v = if v < self.lo { self.lo } else { v };
        if v > self.hi {
            self.hi
        } else {
            v
        }
    }
}

fn apply_act(act: Option<Act>, v: &mut [f32]) {
    if let Some(a) = act {
        v.iter_mut().for_each(|x| *x = a.apply(*x));
    }
}

/// The constant scalar input `i` of `next` (Clip's min/max), `Ok(None)` when omitted, `Err` when
/// not constant or not a float32 scalar.
fn const_scalar(next: &NodeCtx, i: usize) -> Result<Option<f32>, ()> {
    if !next.given(i) {
        return Ok(None);
    }
    match next.consts.get(i).copied().flatten() {
        Some(t) => match t.as_f32() {
            Ok([v]) => Ok(Some(*v)),
            _ => Err(()),
        },
        None => Err(()),
    }
}

/// The activation `next` computes, if it is one that can be fused.
fn activation(next: &NodeCtx) -> Option<Act> {
    let plain = Act {
        alpha: 1.0,
        lo: f32::NEG_INFINITY,
        hi: f32::INFINITY,
    };
    match next.op_type {
        "Relu" => Some(Act { lo: 0.0, ..plain }),
        "LeakyRelu" => Some(Act {
            alpha: next.float("alpha", 0.01),
            ..plain
        }),
        "Clip" if next.opset < 11 => Some(Act {
            lo: next.float("min", f32::NEG_INFINITY),
            hi: next.float("max", f32::INFINITY),
            ..plain
        }),
        "Clip" => {
            let lo = const_scalar(next, 1).ok()?;
            let hi = const_scalar(next, 2).ok()?;
            Some(Act {
                lo: lo.unwrap_or(f32::NEG_INFINITY),
                hi: hi.unwrap_or(f32::INFINITY),
                ..plain
            })
        }
        _ => None,
    }
}

/// The constant f32 addend of an Add `next`, if it only varies along axis `axis_from_end`
/// (counted from the last axis) of a result of rank `out_rank` (None: any rank >= its own).
/// Returns the vector along that axis (length 1 when uniform) and the addend's rank.
fn add_vector(next: &NodeCtx, axis_from_end: usize, out_rank: Option<usize>) -> Option<Vec<f32>> {
    if next.op_type != "Add" || next.node.input.len() != 2 {
        return None;
    }
    let t = next.consts.get(1).copied().flatten()?;
    let v = t.as_f32().ok()?;
    let r = t.rank();
    if out_rank.is_some_and(|o| r > o) {
        return None;
    }
    for (i, &d) in t.shape.iter().enumerate() {
        if d != 1 && i + 1 + axis_from_end != r {
            return None;
        }
    }
    Some(v.to_vec())
}

/// Adds `v` (length 1 or n) to `bias` (empty, length 1 or n), or None if the lengths disagree.
fn merge_bias(bias: &[f32], v: &[f32]) -> Option<Vec<f32>> {
    let n = bias.len().max(v.len());
    if (bias.len() > 1 && bias.len() != n) || (v.len() > 1 && v.len() != n) {
        return None;
    }
    let at = |s: &[f32], i: usize| match s.len() {
        0 => 0.0,
        1 => s[0],
        _ => s.get(i).copied().unwrap_or(0.0),
    };
    Some((0..n).map(|i| at(bias, i) + at(v, i)).collect())
}

/// A bias of length 1 or `n` (or empty) as a vector of length `n` (or empty).
fn expand_bias(bias: &[f32], n: usize, what: &str) -> OpResult<Vec<f32>> {
    match bias.len() {
        0 => Ok(vec![]),
        1 => Ok(vec![bias[0]; n]),
        l if l == n => Ok(bias.to_vec()),
        l => Err(format!(
            "the {what} has {l} values, which does not broadcast to {n} outputs"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The GEMM

/// A matrix of `count` items by `k` (element (item, kk) at `src[off + item * is + kk * ks]`,
/// times `scale`) being packed in panels of `w` items, cut in blocks of `KC` along k: block by
/// block, panel by panel, kk by kk, `w` values (zero past `count`). [`Packing::step`] packs a
/// few (block, panel) units at a time, so that a load can pause between them: the weights of a
/// large fully connected layer (alexnet's 151 MB) take hundreds of milliseconds to pack.
pub(super) struct Packing {
    off: usize,
    count: usize,
    k: usize,
    is: usize,
    ks: usize,
    w: usize,
    scale: f32,
    /// (block, panel) units packed so far.
    next: usize,
    out: Vec<f32>,
}

impl Packing {
    /// A packing of a matrix held in `src_len` values; nothing is packed yet.
    #[allow(clippy::too_many_arguments)]
    fn new(
        src_len: usize,
        off: usize,
        count: usize,
        k: usize,
        is: usize,
        ks: usize,
        w: usize,
        scale: f32,
    ) -> OpResult<Packing> {
        let len = alloc_len::<f32>(&[count.div_ceil(w), w, k])?;
        if count > 0 && k > 0 {
            let last = (count - 1)
                .checked_mul(is)
                .and_then(|a| (k - 1).checked_mul(ks).and_then(|b| b.checked_add(a)))
                .and_then(|a| a.checked_add(off));
            if last.is_none_or(|l| l >= src_len) {
                return Err(format!(
                    "internal: a {count}x{k} matrix does not fit in {src_len} values"
                ));
            }
        }
        let mut out = Vec::new();
        out.try_reserve_exact(len)
            .map_err(|_| format!("cannot allocate {len} values to pack a {count}x{k} matrix"))?;
        Ok(Packing {
            off,
            count,
            k,
            is,
            ks,
            w,
            scale,
            next: 0,
            out,
        })
    }

    fn units(&self) -> usize {
        self.k.div_ceil(KC) * self.count.div_ceil(self.w)
    }

    pub(super) fn done(&self) -> bool {
        self.next >= self.units()
    }

    /// Packs units of `src` (the matrix `new` was given the length of) until about `floats`
    /// values are written, or all are: whether all are.
    pub(super) fn step(&mut self, src: &[f32], floats: usize) -> bool {
        let Packing {
            off,
            count,
            k,
            is,
            ks,
            w,
            scale,
            ..
        } = *self;
        let panels = count.div_ceil(w);
        let start = self.out.len();
        while !self.done() && self.out.len() - start < floats {
            let (k0, p) = (self.next / panels * KC, self.next % panels);
            let kcl = KC.min(k - k0);
            let at = self.out.len();
            self.out.resize(at + kcl * w, 0.0);
            let unit = &mut self.out[at..];
            let full = p * w + w <= count;
            let first = off + k0 + p * w * is;
            if full && ks == 1 && w % 4 == 0 && transpose_unit(src, first, is, kcl, unit) {
                if scale != 1.0 {
                    unit.iter_mut().for_each(|v| *v *= scale);
                }
                self.next += 1;
                continue;
            }
            for (kk, dst) in (k0..k0 + kcl).zip(unit.chunks_exact_mut(w)) {
                let base = off + kk * ks + p * w * is;
                if full && is == 1 && w == NR {
                    // A fixed-size copy: inlined as two vector moves, not a call to memcpy.
                    if let (Some(s), Ok(d)) = (
                        src.get(base..base + NR)
                            .and_then(|s| <&[f32; NR]>::try_from(s).ok()),
                        <&mut [f32; NR]>::try_from(&mut *dst),
                    ) {
                        *d = *s;
                        continue;
                    }
                }
                for (l, d) in dst.iter_mut().enumerate() {
                    if p * w + l < count {
                        *d = src.get(base + l * is).copied().unwrap_or(0.0);
                    }
                }
            }
            if scale != 1.0 {
                unit.iter_mut().for_each(|v| *v *= scale);
            }
            self.next += 1;
        }
        self.done()
    }

    /// Packs all that is left, and hands the packed matrix over.
    fn finish(mut self, src: &[f32]) -> Vec<f32> {
        self.step(src, usize::MAX);
        self.out
    }

    /// The packed matrix (all of it once [`Packing::done`]).
    fn data(&self) -> &[f32] {
        &self.out
    }

    fn data_mut(&mut self) -> &mut [f32] {
        &mut self.out
    }
}

/// Packs one (block, panel) unit of `kcl` values along k for each of `unit.len() / kcl` items
/// (a multiple of 4), item `i`'s values contiguous from `src[first + i * is]` (a row of a
/// matrix being packed along its rows: a Conv's weights, a transposed B): four items at a time,
/// as 4x4 blocks transposed in registers. False, with the unit unfinished, when an item is
/// outside `src`.
fn transpose_unit(src: &[f32], first: usize, is: usize, kcl: usize, unit: &mut [f32]) -> bool {
    let w = unit.len().checked_div(kcl).unwrap_or(0);
    for g in 0..w / 4 {
        let item = |r: usize| {
            let at = first.checked_add((g * 4 + r).checked_mul(is)?)?;
            src.get(at..)?.get(..kcl)
        };
        let (Some(r0), Some(r1), Some(r2), Some(r3)) = (item(0), item(1), item(2), item(3)) else {
            return false;
        };
        let quads = r0
            .chunks_exact(4)
            .zip(r1.chunks_exact(4))
            .zip(r2.chunks_exact(4))
            .zip(r3.chunks_exact(4));
        for ((((a, b), c), d), blk) in quads.zip(unit.chunks_exact_mut(4 * w)) {
            let load = |s: &[f32]| <&[f32; 4]>::try_from(s).map(F4::load).ok();
            let (Some(a), Some(b), Some(c), Some(d)) = (load(a), load(b), load(c), load(d)) else {
                return false;
            };
            for (i, v) in F4::transpose([a, b, c, d]).into_iter().enumerate() {
                let at = i * w + g * 4;
                if let Some(dst) = blk.get_mut(at..at + 4) {
                    if let Ok(dst) = <&mut [f32; 4]>::try_from(dst) {
                        v.store(dst);
                    }
                }
            }
        }
        for kk in kcl - kcl % 4..kcl {
            for (r, row) in [r0, r1, r2, r3].into_iter().enumerate() {
                if let (Some(d), Some(&v)) = (unit.get_mut(kk * w + g * 4 + r), row.get(kk)) {
                    *d = v;
                }
            }
        }
    }
    true
}

/// Packs a whole matrix at once (see [`Packing`]).
#[allow(clippy::too_many_arguments)]
fn pack(
    src: &[f32],
    off: usize,
    count: usize,
    k: usize,
    is: usize,
    ks: usize,
    w: usize,
    scale: f32,
) -> OpResult<Vec<f32>> {
    Ok(Packing::new(src.len(), off, count, k, is, ks, w, scale)?.finish(src))
}

/// Packs what is left of `jobs`, about `floats` values at a time, from the constant input
/// `input` of the node: whether all are packed (see [`Op::prepare`]).
fn prepare_all(
    jobs: &mut [Packing],
    consts: &[Option<&Tensor>],
    input: usize,
    floats: usize,
) -> OpResult<bool> {
    let Some(job) = jobs.iter_mut().find(|j| !j.done()) else {
        return Ok(true);
    };
    let t = consts
        .get(input)
        .copied()
        .flatten()
        .ok_or("internal: the weights to pack are not constant")?;
    job.step(f32s(t, "weights")?, floats);
    Ok(jobs.iter().all(Packing::done))
}

/// The packed weights of `jobs[i]`, which [`Op::prepare`] has packed.
fn packed_weights(jobs: &[Packing], i: usize) -> OpResult<&[f32]> {
    match jobs.get(i) {
        Some(j) if j.done() => Ok(j.data()),
        _ => Err("internal: weights not packed".into()),
    }
}

/// A packing of A (rows `m` by `k`, element (r, c) at `src[off + r * rs + c * cs]`).
fn packing_a(
    src: &[f32],
    off: usize,
    m: usize,
    k: usize,
    rs: usize,
    cs: usize,
) -> OpResult<Packing> {
    Packing::new(src.len(), off, m, k, rs, cs, MR, 1.0)
}

/// A packing of B (rows `k` by `n`, element (r, c) at `src[off + r * rs + c * cs]`).
fn packing_b(
    src: &[f32],
    off: usize,
    k: usize,
    n: usize,
    rs: usize,
    cs: usize,
) -> OpResult<Packing> {
    Packing::new(src.len(), off, n, k, cs, rs, NR, 1.0)
}

fn pack_a(src: &[f32], off: usize, m: usize, k: usize, rs: usize, cs: usize) -> OpResult<Vec<f32>> {
    Ok(packing_a(src, off, m, k, rs, cs)?.finish(src))
}

fn pack_b(src: &[f32], off: usize, k: usize, n: usize, rs: usize, cs: usize) -> OpResult<Vec<f32>> {
    Ok(packing_b(src, off, k, n, rs, cs)?.finish(src))
}

/// Sums the first `R` rows of one tile over one block: `a` holds kc groups of 4 (rows), `b` kc
/// groups of 8 (columns). Fewer than 4 rows for the last row panel of an A whose rows do not fill
/// it: a batch of one (a fully connected layer, a decoder's step) computes one row, not four.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn kernel_rows<const R: usize>(a: &[f32], b: &[f32]) -> [[f32; NR]; MR] {
    let mut acc = [[0f32; NR]; MR];
    for (av, bv) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for (row, &x) in acc.iter_mut().zip(av).take(R) {
            for (o, &y) in row.iter_mut().zip(bv) {
                *o += x * y;
            }
        }
    }
    acc
}

/// The same on wasm SIMD: `R` rows of two accumulators (8 for a full tile), two vectors of B and
/// one broadcast of A per step, which fits the 16 x86 registers V8 maps wasm vectors onto (a tile
/// of 6 rows spilled: squeezenet 33 -> 41 ms, resnet50 329 -> 445 ms in Node).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
#[cfg_attr(
    feature = "relaxed-simd",
    target_feature(enable = "relaxed-simd"),
    inline
)]
fn kernel_rows<const R: usize>(a: &[f32], b: &[f32]) -> [[f32; NR]; MR] {
    use std::arch::wasm32::*;
    let z = f32x4_splat(0.0);
    let mut c = [[z; 2]; R];
    for (av, bv) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        // SAFETY: `bv` has exactly 8 floats (chunks_exact), read as two unaligned vectors.
        let (b0, b1) = unsafe {
            let p = bv.as_ptr() as *const v128;
            (p.read_unaligned(), p.add(1).read_unaligned())
        };
        for (cr, &x) in c.iter_mut().zip(av) {
            let s = f32x4_splat(x);
            cr[0] = madd(cr[0], s, b0);
            cr[1] = madd(cr[1], s, b1);
        }
    }
    let mut acc = [[0f32; NR]; MR];
    for (row, cr) in acc.iter_mut().zip(&c) {
        let mut lanes = [0f32; NR];
        // SAFETY: two vectors of four floats written into eight.
        unsafe {
            let p = lanes.as_mut_ptr() as *mut v128;
            p.write_unaligned(cr[0]);
            p.add(1).write_unaligned(cr[1]);
        }
        *row = lanes;
    }
    acc
}

/// `acc + a * b`, multiplied then added.
#[cfg(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    not(feature = "relaxed-simd")
))]
#[inline(always)]
fn madd(
    acc: std::arch::wasm32::v128,
    a: std::arch::wasm32::v128,
    b: std::arch::wasm32::v128,
) -> std::arch::wasm32::v128 {
    use std::arch::wasm32::*;
    f32x4_add(acc, f32x4_mul(a, b))
}

/// `acc + a * b` in one relaxed instruction: a fused multiply-add where the CPU has one (the
/// module built with the `relaxed-simd` feature, for engines that validate relaxed SIMD).
#[cfg(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    feature = "relaxed-simd"
))]
#[target_feature(enable = "relaxed-simd")]
#[inline]
fn madd(
    acc: std::arch::wasm32::v128,
    a: std::arch::wasm32::v128,
    b: std::arch::wasm32::v128,
) -> std::arch::wasm32::v128 {
    std::arch::wasm32::f32x4_relaxed_madd(a, b, acc)
}

/// One tile of `mr` rows: the rows past `mr` are not computed.
#[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
#[cfg_attr(
    feature = "relaxed-simd",
    target_feature(enable = "relaxed-simd"),
    inline
)]
fn tile(a: &[f32], b: &[f32], mr: usize) -> [[f32; NR]; MR] {
    match mr {
        1 => kernel_rows::<1>(a, b),
        2 => kernel_rows::<2>(a, b),
        3 => kernel_rows::<3>(a, b),
        _ => kernel_rows::<MR>(a, b),
    }
}

/// Stores one row of a tile: `dst = acc + cb + rb (+ dst when keep)`, then the activation.
#[inline(always)]
fn store_row(
    dst: &mut [f32],
    acc: &[f32; NR],
    cb: &[f32; NR],
    rb: f32,
    keep: bool,
    act: Option<Act>,
) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if let Ok(d) = <&mut [f32; NR]>::try_from(&mut *dst) {
        use std::arch::wasm32::*;
        // SAFETY: every pointer is to an array of exactly 8 floats, read or written as two
        // unaligned vectors.
        unsafe {
            let (pa, pc, pd) = (
                acc.as_ptr() as *const v128,
                cb.as_ptr() as *const v128,
                d.as_mut_ptr() as *mut v128,
            );
            let r = f32x4_splat(rb);
            for h in 0..2 {
                let mut v = f32x4_add(
                    f32x4_add(pa.add(h).read_unaligned(), pc.add(h).read_unaligned()),
                    r,
                );
                if keep {
                    v = f32x4_add(v, pd.add(h).read_unaligned());
                }
                if let Some(a) = act {
                    let neg = f32x4_lt(v, f32x4_splat(0.0));
                    v = v128_bitselect(f32x4_mul(v, f32x4_splat(a.alpha)), v, neg);
                    // pmax(v, lo) is `v < lo ? lo : v` and pmin(v, hi) `hi < v ? hi : v`: a NaN
                    // passes through, as in `Act::apply`.
                    v = f32x4_pmin(f32x4_pmax(v, f32x4_splat(a.lo)), f32x4_splat(a.hi));
                }
                pd.add(h).write_unaligned(v);
            }
        }
        return;
    }
    for ((d, &a), &b) in dst.iter_mut().zip(acc).zip(cb) {
        let mut v = a + b + rb;
        if keep {
            v += *d;
        }
        if let Some(act) = act {
            v = act.apply(v);
        }
        *d = v;
    }
}

/// What is applied as tiles are stored: biases (empty or full length) and an activation.
struct Epi<'a> {
    row_bias: &'a [f32],
    col_bias: &'a [f32],
    act: Option<Act>,
}

const NO_EPI: Epi<'static> = Epi {
    row_bias: &[],
    col_bias: &[],
    act: None,
};

/// `c[r * ldc + j] (+)= sum_kk A[r][kk] * B[kk][j]` plus biases, then the activation, for `r <
/// m`, `j < n`, from A and B packed by `pack_a` and `pack_b`. With `accumulate`, adds to what
/// `c` holds. Split by ranges of B's panels across the pool's threads, when there are any.
#[allow(clippy::too_many_arguments)]
fn gemm(
    pa: &[f32],
    pb: &[f32],
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    epi: &Epi,
) -> OpResult<()> {
    let np = n.div_ceil(NR);
    let tasks = par::tasks(np, m.saturating_mul(n).saturating_mul(k));
    let c = Shared::new(c);
    par::run(tasks, |t| {
        let panels = par::share(np, tasks, t);
        // SAFETY: each task writes the columns of its own panels only.
        unsafe { gemm_panels(pa, pb, m, n, k, &c, 0, ldc, accumulate, epi, panels) }
    })
}

/// [`gemm`] for B's panels `panels` (columns `panels.start * NR..panels.end * NR` of the
/// result), into `c` from `at`, in this thread.
///
/// # Safety
/// No other task may write those columns of `c` meanwhile.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
unsafe fn gemm_panels(
    pa: &[f32],
    pb: &[f32],
    m: usize,
    n: usize,
    k: usize,
    c: &Shared,
    at: usize,
    ldc: usize,
    accumulate: bool,
    epi: &Epi,
    panels: Range<usize>,
) -> OpResult<()> {
    let (mp, np) = (m.div_ceil(MR), n.div_ceil(NR));
    let blocks = k.div_ceil(KC).max(1);
    let internal = || "internal: packed operands of the wrong size".to_string();
    for kb in 0..blocks {
        let k0 = kb * KC;
        let kcl = KC.min(k - k0.min(k));
        let (first, last) = (kb == 0, kb + 1 == blocks);
        let a_blk = pa.get(k0 * mp * MR..).ok_or_else(internal)?;
        let b_blk = pb.get(k0 * np * NR..).ok_or_else(internal)?;
        for ic in (0..mp).step_by(MC_PANELS) {
            for j in panels.clone() {
                let bp = b_blk
                    .get(j * kcl * NR..(j + 1) * kcl * NR)
                    .ok_or_else(internal)?;
                let (j0, nr) = (j * NR, NR.min(n - j * NR));
                let mut cb = [0f32; NR];
                if first {
                    if let Some(s) = epi.col_bias.get(j0..j0 + nr) {
                        cb[..nr].copy_from_slice(s);
                    }
                }
                for i in ic..mp.min(ic + MC_PANELS) {
                    let ap = a_blk
                        .get(i * kcl * MR..(i + 1) * kcl * MR)
                        .ok_or_else(internal)?;
                    let (i0, mr) = (i * MR, MR.min(m - i * MR));
                    let acc = tile(ap, bp, mr);
                    let keep = !first || accumulate;
                    let act = if last { epi.act } else { None };
                    for (r, accr) in acc.iter().enumerate().take(mr) {
                        let rb = if first {
                            epi.row_bias.get(i0 + r).copied().unwrap_or(0.0)
                        } else {
                            0.0
                        };
                        // SAFETY: columns j0..j0 + nr are this task's (the caller's promise),
                        // and the part is dropped before the next is taken.
                        let dst = unsafe { c.part(at + (i0 + r) * ldc + j0, nr) };
                        store_row(dst.ok_or_else(internal)?, accr, &cb, rb, keep, act);
                    }
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Attributes of convolutions

#[derive(Clone, Copy, PartialEq, Debug)]
enum AutoPad {
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

/// Reads a spatial attribute list of length `rank` (default `default`), each within [lo, 2^28].
fn spatial_attr(
    ctx: &NodeCtx,
    name: &str,
    rank: usize,
    default: i64,
    lo: i64,
) -> OpResult<Vec<i64>> {
    let v = ctx.ints(name).unwrap_or_else(|| vec![default; rank]);
    if v.len() != rank {
        return Err(format!(
            "{name} has {} values, expected {rank} for a {rank}-D kernel",
            v.len()
        ));
    }
    if let Some(&bad) = v.iter().find(|&&x| x < lo || x > MAX_ELEMENTS as i64) {
        return Err(format!(
            "{name} value {bad} is out of range (expected {lo} to {MAX_ELEMENTS})"
        ));
    }
    Ok(v)
}

/// The attributes shared by Conv and ConvTranspose, with 1-D made 2-D (a height of 1).
pub(super) struct Geo {
    pub(super) spatial: usize,
    pub(super) kernel: [usize; 2],
    pub(super) strides: [i64; 2],
    pub(super) dil: [i64; 2],
    /// Begin (top, left) then end (bottom, right).
    pads: [i64; 4],
    auto_pad: AutoPad,
}

fn two(v: &[i64], fill: i64) -> [i64; 2] {
    match v {
        [a] => [fill, *a],
        [a, b] => [*a, *b],
        _ => [fill, fill],
    }
}

pub(super) fn read_geo(ctx: &NodeCtx, wshape: &[usize]) -> OpResult<Geo> {
    let spatial = wshape.len().saturating_sub(2);
    if !(1..=2).contains(&spatial) {
        return Err(format!(
            "weights of shape {wshape:?}: the lite build has 1-D and 2-D convolutions only \
             (weights of rank 3 or 4)"
        ));
    }
    let ks = &wshape[2..];
    if let Some(k) = ctx.ints("kernel_shape") {
        if k.len() != spatial || k.iter().zip(ks).any(|(&a, &b)| a != b as i64) {
            return Err(format!(
                "kernel_shape {k:?} does not match the weights' shape {wshape:?}"
            ));
        }
    }
    let auto_pad = match ctx.string("auto_pad").as_deref() {
        None | Some("NOTSET") | Some("") => AutoPad::NotSet,
        Some("SAME_UPPER") => AutoPad::SameUpper,
        Some("SAME_LOWER") => AutoPad::SameLower,
        Some("VALID") => AutoPad::Valid,
        Some(other) => {
            return Err(format!(
                "auto_pad '{other}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"
            ))
        }
    };
    let strides = spatial_attr(ctx, "strides", spatial, 1, 1)?;
    let dil = spatial_attr(ctx, "dilations", spatial, 1, 1)?;
    let pads = spatial_attr(ctx, "pads", 2 * spatial, 0, 0)?;
    let (b, e) = pads.split_at(spatial);
    let (b, e) = (two(b, 0), two(e, 0));
    let kernel = if spatial == 1 {
        [1, ks[0]]
    } else {
        [ks[0], ks[1]]
    };
    if kernel.contains(&0) {
        return Err(format!("weights of shape {wshape:?} have an empty kernel"));
    }
    Ok(Geo {
        spatial,
        kernel,
        strides: two(&strides, 1),
        dil: two(&dil, 1),
        pads: [b[0], b[1], e[0], e[1]],
        auto_pad,
    })
}

/// The input's batch, channels and (height, width) for a convolution of `spatial` dims.
pub(super) fn conv_input(x: &Tensor, spatial: usize) -> OpResult<(usize, usize, [usize; 2])> {
    if x.rank() != spatial + 2 {
        return Err(format!(
            "input X has shape {:?}, expected rank {} for a {spatial}-D convolution",
            x.shape,
            spatial + 2
        ));
    }
    let s = &x.shape;
    let hw = if spatial == 1 {
        [1, s[2]]
    } else {
        [s[2], s[3]]
    };
    Ok((s[0], s[1], hw))
}

pub(super) fn out_shape(n: usize, m: usize, hw: [usize; 2], spatial: usize) -> Vec<usize> {
    if spatial == 1 {
        vec![n, m, hw[1]]
    } else {
        vec![n, m, hw[0], hw[1]]
    }
}

// ---------------------------------------------------------------------------------------------
// Conv

struct Conv {
    geo: Geo,
    /// Output channels, input channels per group, groups.
    m: usize,
    cg: usize,
    group: usize,
    /// The packed weights of each group (rows: output channels, k: cg * kh * kw).
    w: Vec<Packing>,
    /// Per output channel (empty: none).
    bias: Vec<f32>,
    act: Option<Act>,
    /// Depthwise (one input channel per group): the raw weights for the direct loop.
    dw: Vec<f32>,
}

/// `group` as a usize when it is at least 1 and divides `n` (a count of channels, at least 1).
pub(super) fn positive_divisor(group: i64, n: usize) -> Option<usize> {
    usize::try_from(group)
        .ok()
        .filter(|&g| g >= 1 && g <= n.max(1) && n.is_multiple_of(g))
}

fn build_conv(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let wt = ctx.const_input(1, "weights")?;
    let w = f32s(wt, "W")?;
    let geo = read_geo(ctx, &wt.shape)?;
    let group = ctx.int("group", 1);
    let m = wt.shape[0];
    // Checked as a usize, not cast to one: on wasm32 a group of 2^62 became 0.
    let Some(group) = positive_divisor(group, m) else {
        return Err(format!(
            "group {group} does not divide the {m} output channels of the weights"
        ));
    };
    let (mg, cg) = (m / group, wt.shape[1]);
    let k = cg * geo.kernel[0] * geo.kernel[1];
    let bias = if ctx.given(2) {
        let b = f32s(ctx.const_input(2, "bias")?, "B")?;
        if b.len() != m {
            return Err(format!("bias B has {} values, expected {m}", b.len()));
        }
        b.to_vec()
    } else {
        vec![]
    };
    let depthwise = cg == 1 && k <= 64;
    let packed = if depthwise {
        vec![]
    } else {
        (0..group)
            .map(|g| packing_a(w, g * mg * k, mg, k, k, 1))
            .collect::<OpResult<_>>()?
    };
    Ok(Box::new(Conv {
        geo,
        m,
        cg,
        group,
        w: packed,
        bias,
        act: None,
        dw: if depthwise { w.to_vec() } else { vec![] },
    }))
}

/// Output size and begin pad of one spatial axis of a Conv.
pub(super) fn conv_axis(geo: &Geo, ax: usize, input: usize) -> OpResult<(usize, i64)> {
    let (s, d) = (geo.strides[ax], geo.dil[ax]);
    let ek = (geo.kernel[ax] as i64 - 1) * d + 1;
    let i = input as i64;
    let (pb, pe) = match geo.auto_pad {
        AutoPad::NotSet => (geo.pads[ax], geo.pads[ax + 2]),
        AutoPad::Valid => (0, 0),
        AutoPad::SameUpper | AutoPad::SameLower => {
            let out = (i + s - 1) / s;
            let total = ((out - 1) * s + ek - i).max(0);
            if geo.auto_pad == AutoPad::SameUpper {
                (total / 2, total - total / 2)
            } else {
                (total - total / 2, total / 2)
            }
        }
    };
    let span = i + pb + pe - ek;
    if span < 0 {
        return Err(format!(
            "input size {input} (padded by {pb}+{pe}) is smaller than the kernel's extent {ek}"
        ));
    }
    Ok(((span / s + 1) as usize, pb))
}

impl Conv {
    fn mg(&self) -> usize {
        self.m / self.group
    }
}

/// Fills `row` with row (ky, kx) of the im2col matrix of one input channel `xc` (h x w), for
/// output pixels `p0..p0 + row.len()`: `row[i]` is `xc[iy][ix]` at the input position the
/// kernel tap (ky, kx) reads for pixel `p0 + i`, zero in the padding.
#[allow(clippy::too_many_arguments)]
fn im2col_row(
    xc: &[f32],
    hw: [usize; 2],
    geo: &Geo,
    pad: [i64; 2],
    tap: [usize; 2],
    ow: usize,
    p0: usize,
    row: &mut [f32],
) {
    let (h, w) = (hw[0] as i64, hw[1] as i64);
    let (sy, sx) = (geo.strides[0], geo.strides[1]);
    let off = tap[1] as i64 * geo.dil[1] - pad[1];
    let nc = row.len();
    if ow == 1 {
        // One output column (a 1-D convolution along the height): the row walks down the input
        // column `off`, one output row per pixel.
        if off < 0 || off >= w {
            row.fill(0.0);
            return;
        }
        let top = tap[0] as i64 * geo.dil[0] - pad[0];
        for (i, d) in row.iter_mut().enumerate() {
            let iy = (p0 + i) as i64 * sy + top;
            *d = if iy >= 0 && iy < h {
                xc.get((iy * w + off) as usize).copied().unwrap_or(0.0)
            } else {
                0.0
            };
        }
        return;
    }
    let (mut p, mut at) = (p0, 0);
    while at < nc {
        let (oy, ox0) = (p / ow, p % ow);
        let seg = (ow - ox0).min(nc - at);
        let dst = &mut row[at..at + seg];
        at += seg;
        p += seg;
        let iy = oy as i64 * sy - pad[0] + tap[0] as i64 * geo.dil[0];
        if iy < 0 || iy >= h {
            dst.fill(0.0);
            continue;
        }
        let src = xc
            .get(iy as usize * hw[1]..(iy as usize + 1) * hw[1])
            .unwrap_or(&[]);
        // Output columns ox whose input column ox * sx + off is in [0, w), within the segment.
        let (a, b) = (ox0 as i64, (ox0 + seg) as i64);
        let lo = if off >= 0 { 0 } else { (-off + sx - 1) / sx }.clamp(a, b);
        let hi = if w - off <= 0 {
            0
        } else {
            (w - off - 1) / sx + 1
        }
        .clamp(lo, b);
        let (l, hh) = ((lo - a) as usize, (hi - a) as usize);
        dst[..l].fill(0.0);
        dst[hh..].fill(0.0);
        let start = (lo * sx + off) as usize;
        let valid = &mut dst[l..hh];
        if sx == 1 {
            match src.get(start..start + valid.len()) {
                Some(s) => valid.copy_from_slice(s),
                None => valid.fill(0.0),
            }
        } else if sx == 2 {
            let s = src.get(start..).unwrap_or(&[]);
            // Four outputs from eight inputs while eight are there (the last four outputs of a
            // row may have only seven).
            let mut done = 0;
            for (d, s) in valid.chunks_exact_mut(4).zip(s.chunks_exact(8)) {
                if let (Ok(d), Ok(s)) = (<&mut [f32; 4]>::try_from(d), <&[f32; 8]>::try_from(s)) {
                    F4::evens(s).store(d);
                    done += 4;
                }
            }
            let tail = s.get(done * 2..).unwrap_or(&[]);
            for (d, &v) in valid[done..].iter_mut().zip(tail.iter().step_by(2)) {
                *d = v;
            }
        } else {
            let s = src.get(start..).unwrap_or(&[]);
            for (d, &v) in valid.iter_mut().zip(s.iter().step_by(sx as usize)) {
                *d = v;
            }
        }
    }
}

/// Writes the im2col matrix of one group's input `x` (cg x h x w), rows `kk` (channel, ky, kx)
/// by columns `p0..p0 + nc` (output pixels), into `out` packed as `pack_b` packs a k x nc
/// matrix, one row at a time through `row` (nc floats, in cache): no k x nc matrix is built.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn im2col_packed(
    x: &[f32],
    cg: usize,
    hw: [usize; 2],
    geo: &Geo,
    pad: [i64; 2],
    ow: usize,
    p0: usize,
    row: &mut [f32],
    out: &mut [f32],
) {
    let [kh, kw] = geo.kernel;
    let k = cg * kh * kw;
    let nc = row.len();
    let np = nc.div_ceil(NR);
    let isz = hw[0] * hw[1];
    for kk in 0..k {
        let (c, ky, kx) = (kk / (kh * kw), (kk / kw) % kh, kk % kw);
        let xc = x.get(c * isz..(c + 1) * isz).unwrap_or(&[]);
        im2col_row(xc, hw, geo, pad, [ky, kx], ow, p0, row);
        let k0 = kk / KC * KC;
        let kcl = KC.min(k - k0);
        let base = k0 * np * NR + (kk - k0) * NR;
        // Panel p's rows start kcl * NR floats apart: this row goes to the first NR of each.
        let panels = out.get_mut(base..).unwrap_or(&mut []).chunks_mut(kcl * NR);
        let mut chunks = row.chunks_exact(NR);
        for (panel, chunk) in panels.zip(&mut chunks) {
            let d = panel
                .get_mut(..NR)
                .and_then(|d| <&mut [f32; NR]>::try_from(d).ok());
            if let (Some(d), Ok(s)) = (d, <&[f32; NR]>::try_from(chunk)) {
                *d = *s;
            }
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let at = base + (np - 1) * kcl * NR;
            if let Some(d) = out.get_mut(at..at + NR) {
                d.fill(0.0);
                d[..rest.len()].copy_from_slice(rest);
            }
        }
    }
}

impl Op for Conv {
    fn prepare(&mut self, consts: &[Option<&Tensor>], floats: usize) -> OpResult<bool> {
        prepare_all(&mut self.w, consts, 1, floats)
    }

    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "X")?;
        let x = f32s(xt, "X")?;
        let geo = &self.geo;
        let (n, c, hw) = conv_input(xt, geo.spatial)?;
        if c != self.cg * self.group {
            return Err(format!(
                "input X has {c} channels, the weights expect {} ({} groups of {})",
                self.cg * self.group,
                self.group,
                self.cg
            ));
        }
        let (oh, pt) = conv_axis(geo, 0, hw[0])?;
        let (ow, pl) = conv_axis(geo, 1, hw[1])?;
        let shape = out_shape(n, self.m, [oh, ow], geo.spatial);
        let len = alloc_len::<f32>(&shape)?;
        let mut out = vec![0f32; len];
        let (mg, cg) = (self.mg(), self.cg);
        let [kh, kw] = geo.kernel;
        let k = cg * kh * kw;
        let (isz, osz) = (hw[0] * hw[1], oh * ow);
        let pointwise = kh == 1 && kw == 1 && geo.strides == [1, 1] && pt == 0 && pl == 0;
        let pad = [pt, pl];
        let nc_max = if pointwise || osz == 0 {
            osz.max(1)
        } else {
            ((COL_BUDGET / k.max(1)).max(64).div_ceil(NR) * NR).min(osz)
        };
        let depthwise = !self.dw.is_empty();
        // Tasks take a group's planes (depthwise) or ranges of its output pixels (the GEMM's
        // columns), each with its own im2col buffers.
        let (units, work) = if depthwise {
            (self.group, self.group * osz * kh * kw)
        } else {
            (osz.div_ceil(NR), mg * osz * k)
        };
        let tasks = par::tasks(units, work);
        let scratch = if pointwise || depthwise {
            vec![]
        } else {
            let (row, packed) = (nc_max, alloc_len::<f32>(&[nc_max.div_ceil(NR), NR, k])?);
            alloc_len::<f32>(&[tasks, row + packed])?;
            (0..tasks)
                .map(|_| Mutex::new((vec![0f32; row], vec![0f32; packed])))
                .collect()
        };
        let out_all = Shared::new(&mut out);
        let plane = |b: usize, g: usize| {
            x.get((b * c + g * cg) * isz..(b * c + (g + 1) * cg) * isz)
                .ok_or("input X is smaller than its shape")
        };
        for b in 0..n {
            if depthwise {
                par::run(tasks, |t| {
                    for g in par::share(self.group, tasks, t) {
                        let o0 = (b * self.m + g * mg) * osz;
                        // SAFETY: group g's output planes are this task's.
                        let og = unsafe { out_all.part(o0, mg * osz) };
                        let og = og.ok_or("internal: the output is too small")?;
                        self.depthwise(plane(b, g)?, hw, pad, [oh, ow], g, og);
                    }
                    Ok(())
                })?;
                continue;
            }
            for g in 0..self.group {
                let xg = plane(b, g)?;
                let o0 = (b * self.m + g * mg) * osz;
                let epi = Epi {
                    row_bias: self.bias.get(g * mg..(g + 1) * mg).unwrap_or(&[]),
                    col_bias: &[],
                    act: self.act,
                };
                let wp = packed_weights(&self.w, g)?;
                par::run(tasks, |t| {
                    let panels = par::share(units, tasks, t);
                    let cols = panels.start * NR..(panels.end * NR).min(osz);
                    // Scratch space: a poisoned lock (a panic elsewhere) holds nothing to lose.
                    let mut buffers = scratch
                        .get(t)
                        .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner));
                    for p0 in cols.clone().step_by(nc_max) {
                        let nc = nc_max.min(cols.end - p0);
                        let gemm_cols = |pb: &[f32]| {
                            // SAFETY: columns p0..p0 + nc of every row are this task's.
                            unsafe {
                                let panels = 0..nc.div_ceil(NR);
                                gemm_panels(
                                    wp,
                                    pb,
                                    mg,
                                    nc,
                                    k,
                                    &out_all,
                                    o0 + p0,
                                    osz,
                                    false,
                                    &epi,
                                    panels,
                                )
                            }
                        };
                        match buffers.as_deref_mut() {
                            Some((row, packed)) => {
                                let pb = &mut packed[..nc.div_ceil(NR) * NR * k];
                                im2col_packed(xg, cg, hw, geo, pad, ow, p0, &mut row[..nc], pb);
                                gemm_cols(pb)?;
                            }
                            None => gemm_cols(&pack_b(xg, p0, k, nc, isz, 1)?)?,
                        }
                    }
                    Ok(())
                })?;
            }
        }
        Ok(vec![Tensor::f32(shape, out)])
    }

    fn fuse(&mut self, next: &NodeCtx) -> bool {
        if self.act.is_some() {
            return false;
        }
        if let Some(act) = activation(next) {
            self.act = Some(act);
            return true;
        }
        let m = self.m;
        let rank = self.geo.spatial + 2;
        match next.op_type {
            "Add" => {
                let Some(v) = add_vector(next, rank - 2, Some(rank)) else {
                    return false;
                };
                let Some(b) = merge_bias(&self.bias, &v) else {
                    return false;
                };
                match expand_bias(&b, m, "bias") {
                    Ok(b) => self.bias = b,
                    Err(_) => return false,
                }
                true
            }
            "BatchNormalization" => {
                if next.int("training_mode", 0) != 0
                    || next.int("spatial", 1) != 1
                    || next.node.output.iter().skip(1).any(|o| !o.is_empty())
                {
                    return false;
                }
                let get = |i: usize| {
                    next.consts
                        .get(i)
                        .copied()
                        .flatten()
                        .and_then(|t| t.as_f32().ok())
                        .filter(|v| v.len() == m)
                };
                let (Some(sc), Some(bb), Some(mean), Some(var)) = (get(1), get(2), get(3), get(4))
                else {
                    return false;
                };
                let eps = next.float("epsilon", 1e-5);
                let s: Vec<f32> = sc
                    .iter()
                    .zip(var)
                    .map(|(&g, &v)| g / (v + eps).sqrt())
                    .collect();
                let bias: Vec<f32> = (0..m)
                    .map(|o| (self.bias.get(o).copied().unwrap_or(0.0) - mean[o]) * s[o] + bb[o])
                    .collect();
                let mg = self.mg();
                if self.dw.is_empty() {
                    if !self.w.iter().all(Packing::done) {
                        return false;
                    }
                    let k = self.cg * self.geo.kernel[0] * self.geo.kernel[1];
                    for (g, wp) in self.w.iter_mut().enumerate() {
                        scale_packed_rows(wp.data_mut(), mg, k, &s[g * mg..(g + 1) * mg]);
                    }
                } else {
                    let k = self.geo.kernel[0] * self.geo.kernel[1];
                    for (row, &f) in self.dw.chunks_exact_mut(k.max(1)).zip(&s) {
                        row.iter_mut().for_each(|v| *v *= f);
                    }
                }
                self.bias = bias;
                true
            }
            _ => false,
        }
    }
}

/// Multiplies row r of an A packed by `pack_a` (m x k) by `s[r]`.
fn scale_packed_rows(p: &mut [f32], m: usize, k: usize, s: &[f32]) {
    let mp = m.div_ceil(MR);
    let mut rest = p;
    for k0 in (0..k).step_by(KC) {
        let kcl = KC.min(k - k0);
        let (blk, tail) = rest.split_at_mut((mp * MR * kcl).min(rest.len()));
        rest = tail;
        for (i, panel) in blk.chunks_exact_mut((MR * kcl).max(1)).enumerate() {
            for quad in panel.chunks_exact_mut(MR) {
                for (l, v) in quad.iter_mut().enumerate() {
                    *v *= s.get(i * MR + l).copied().unwrap_or(0.0);
                }
            }
        }
    }
}

/// Floats four outputs of column stride SX read from one input row for a kernel row of K taps.
const fn dw_span<const K: usize, const SX: usize>() -> usize {
    if SX == 1 {
        K + 3
    } else {
        K + 7
    }
}

/// Adds one kernel row's K taps (weights `wr`) to four outputs of column stride SX: `win` is the
/// input row from the first output's first tap on.
#[inline(always)]
fn dw_row_taps<const K: usize, const SX: usize>(mut acc: F4, win: &[f32], wr: &[F4; K]) -> F4 {
    for (kx, &wt) in wr.iter().enumerate() {
        let v = if SX == 1 {
            win.get(kx..kx + 4)
                .and_then(|s| <&[f32; 4]>::try_from(s).ok())
                .map(F4::load)
        } else {
            win.get(kx..kx + 8)
                .and_then(|s| <&[f32; 8]>::try_from(s).ok())
                .map(F4::evens)
        };
        if let Some(v) = v {
            acc = acc.add(wt.mul(v));
        }
    }
    acc
}

/// A depthwise Conv's input plane, its size, its begin pads, the output size and the group.
type DwArgs<'a> = (&'a [f32], [usize; 2], [i64; 2], [usize; 2], usize);

/// The widest output rows a depthwise Conv computes through a padded copy of its input.
const NARROW: usize = 32;

impl Conv {
    /// One input channel per group: each output channel is a direct 2-D correlation.
    #[inline(never)]
    fn depthwise(
        &self,
        xg: &[f32],
        hw: [usize; 2],
        pad: [i64; 2],
        ohw: [usize; 2],
        g: usize,
        og: &mut [f32],
    ) {
        let geo = &self.geo;
        let square = geo.dil == [1, 1] && geo.kernel[0] == geo.kernel[1];
        // Narrow rows (where the borders are a large part) through a padded copy.
        let narrow = ohw[1] <= NARROW;
        let a = (xg, hw, pad, ohw, g);
        let done = match (square, geo.kernel[0], geo.strides[1], narrow) {
            (true, 3, 1, true) => self.depthwise_k::<3, 1>(a, og),
            (true, 3, 2, true) => self.depthwise_k::<3, 2>(a, og),
            (true, 5, 1, true) => self.depthwise_k::<5, 1>(a, og),
            (true, 5, 2, true) => self.depthwise_k::<5, 2>(a, og),
            (true, 3, 1, false) => return self.depthwise_k_in_place::<3, 1>(a, og),
            (true, 3, 2, false) => return self.depthwise_k_in_place::<3, 2>(a, og),
            (true, 5, 1, false) => return self.depthwise_k_in_place::<5, 1>(a, og),
            (true, 5, 2, false) => return self.depthwise_k_in_place::<5, 2>(a, og),
            _ => false,
        };
        if !done {
            self.depthwise_any(a, og);
        }
    }

    /// Output channel `o`'s K x K depthwise weights.
    fn dw_weights<const K: usize>(&self, o: usize) -> [[f32; K]; K] {
        let wk = self.dw.get(o * K * K..(o + 1) * K * K).unwrap_or(&[]);
        std::array::from_fn(|ky| {
            std::array::from_fn(|kx| wk.get(ky * K + kx).copied().unwrap_or(0.0))
        })
    }

    /// A K x K depthwise kernel of dilation 1 and column stride SX (1 or 2), or false when the
    /// padded plane would be far larger than the input and output. The group's input
    /// channel is first copied into a zero-padded plane wide enough for whole blocks of four
    /// outputs, so every output is summed over its K x K taps in registers, four at a time,
    /// with no test at the borders.
    fn depthwise_k<const K: usize, const SX: usize>(
        &self,
        (xg, hw, pad, ohw, g): DwArgs,
        og: &mut [f32],
    ) -> bool {
        let [h, w] = hw;
        let [oh, ow] = ohw;
        let sy = self.geo.strides[0] as usize;
        // Pads are at least 0 (checked when the attributes are read).
        let [pt, pl] = pad.map(|p| p.max(0) as usize);
        let ow4 = ow.div_ceil(4) * 4;
        let span = dw_span::<K, SX>();
        let wp = ((ow4 - 1) * SX + span).max(pl + w);
        let hp = ((oh.max(1) - 1) * sy + K).max(pt + h);
        // Pads or strides far larger than the planes (hostile ones) make the padded plane
        // huge: the plain loop needs no copy.
        let plain = 2 * (h * w + oh * ow) + 4096;
        if hp.checked_mul(wp).is_none_or(|n| n > plain) {
            return false;
        }
        let mut padded = vec![0f32; hp * wp];
        for (y, src) in xg.chunks_exact(w.max(1)).take(h).enumerate() {
            if let Some(d) = padded.get_mut((pt + y) * wp + pl..(pt + y) * wp + pl + w) {
                d.copy_from_slice(src);
            }
        }
        let mg = self.mg();
        for j in 0..mg {
            let o = g * mg + j;
            let wv = self.dw_weights::<K>(o).map(|r| r.map(F4::splat));
            let bias = self.bias.get(o).copied().unwrap_or(0.0);
            let plane = &mut og[j * oh * ow..(j + 1) * oh * ow];
            for (oy, orow) in plane.chunks_exact_mut(ow.max(1)).enumerate() {
                let rows: [&[f32]; K] = std::array::from_fn(|ky| {
                    let y = oy * sy + ky;
                    padded.get(y * wp..(y + 1) * wp).unwrap_or(&[])
                });
                for ox in (0..ow).step_by(4) {
                    let ix = ox * SX;
                    let mut acc = F4::splat(bias);
                    for (src, wr) in rows.iter().zip(&wv) {
                        let Some(win) = src.get(ix..ix + span) else {
                            continue;
                        };
                        acc = dw_row_taps::<K, SX>(acc, win, wr);
                    }
                    match orow
                        .get_mut(ox..ox + 4)
                        .and_then(|d| <&mut [f32; 4]>::try_from(d).ok())
                    {
                        Some(d) => acc.store(d),
                        None => {
                            let lanes = acc.lanes();
                            let rest = orow.get_mut(ox..).unwrap_or(&mut []);
                            rest.copy_from_slice(&lanes[..rest.len()]);
                        }
                    }
                }
                apply_act(self.act, orow);
            }
        }
        true
    }

    /// A K x K depthwise kernel of dilation 1 and column stride SX (1 or 2), read in place:
    /// four outputs at a time where every tap of the four reads inside the row, one at a time
    /// at the borders (for wide rows, where the borders are a small part).
    fn depthwise_k_in_place<const K: usize, const SX: usize>(
        &self,
        (xg, hw, pad, ohw, g): DwArgs,
        og: &mut [f32],
    ) {
        let (h, w) = (hw[0] as i64, hw[1] as i64);
        let [oh, ow] = ohw;
        let (sy, sx, k) = (self.geo.strides[0], SX as i64, K as i64);
        let [pt, pl] = pad;
        // Output columns [xlo, xhi) whose K taps all read inside the row.
        let xlo = ((pl + sx - 1) / sx).clamp(0, ow as i64);
        let xhi = if w - k + pl >= 0 {
            ((w - k + pl) / sx + 1).clamp(xlo, ow as i64)
        } else {
            xlo
        };
        let (xlo, xhi) = (xlo as usize, xhi as usize);
        let span = dw_span::<K, SX>();
        let mg = self.mg();
        for j in 0..mg {
            let o = g * mg + j;
            let ws = self.dw_weights::<K>(o);
            let wv = ws.map(|r| r.map(F4::splat));
            let bias = self.bias.get(o).copied().unwrap_or(0.0);
            let plane = &mut og[j * oh * ow..(j + 1) * oh * ow];
            for (oy, orow) in plane.chunks_exact_mut(ow.max(1)).enumerate() {
                // Each kernel row's input row (one input channel for the whole group), or None
                // in the padding.
                let rows: [Option<&[f32]>; K] = std::array::from_fn(|ky| {
                    let iy = oy as i64 * sy - pt + ky as i64;
                    if iy < 0 || iy >= h {
                        return None;
                    }
                    xg.get(iy as usize * hw[1]..(iy as usize + 1) * hw[1])
                });
                let mut ox = xlo;
                'blocks: while ox + 4 <= xhi {
                    // At least 0 for ox >= xlo.
                    let ix = (ox as i64 * sx - pl) as usize;
                    let mut acc = F4::splat(bias);
                    for (src, wr) in rows.iter().zip(&wv) {
                        let Some(src) = src else { continue };
                        let Some(win) = src.get(ix..ix + span) else {
                            break 'blocks;
                        };
                        acc = dw_row_taps::<K, SX>(acc, win, wr);
                    }
                    if let Some(d) = orow
                        .get_mut(ox..ox + 4)
                        .and_then(|d| <&mut [f32; 4]>::try_from(d).ok())
                    {
                        acc.store(d);
                    }
                    ox += 4;
                }
                // The borders, and what the blocks left of the interior.
                for ox in (0..xlo).chain(ox..ow) {
                    let mut acc = bias;
                    for (src, wr) in rows.iter().zip(&ws) {
                        let Some(src) = src else { continue };
                        for (kx, &wt) in wr.iter().enumerate() {
                            let ix = ox as i64 * sx - pl + kx as i64;
                            if ix >= 0 {
                                acc += wt * src.get(ix as usize).copied().unwrap_or(0.0);
                            }
                        }
                    }
                    orow[ox] = acc;
                }
                apply_act(self.act, orow);
            }
        }
    }

    /// Any depthwise kernel: one pass over each output row per tap.
    fn depthwise_any(&self, (xg, hw, pad, ohw, g): DwArgs, og: &mut [f32]) {
        let geo = &self.geo;
        let [kh, kw] = geo.kernel;
        let (h, w) = (hw[0] as i64, hw[1] as i64);
        let [oh, ow] = ohw;
        let (sy, sx) = (geo.strides[0], geo.strides[1]);
        let mg = self.mg();
        for j in 0..mg {
            let o = g * mg + j;
            let wk = self.dw.get(o * kh * kw..(o + 1) * kh * kw).unwrap_or(&[]);
            let bias = self.bias.get(o).copied().unwrap_or(0.0);
            let plane = &mut og[j * oh * ow..(j + 1) * oh * ow];
            for (oy, orow) in plane.chunks_exact_mut(ow.max(1)).enumerate() {
                orow.fill(bias);
                for ky in 0..kh {
                    let iy = oy as i64 * sy - pad[0] + (ky as i64) * geo.dil[0];
                    if iy < 0 || iy >= h {
                        continue;
                    }
                    let src = xg
                        .get(iy as usize * hw[1]..(iy as usize + 1) * hw[1])
                        .unwrap_or(&[]);
                    for kx in 0..kw {
                        let wv = wk.get(ky * kw + kx).copied().unwrap_or(0.0);
                        let off = kx as i64 * geo.dil[1] - pad[1];
                        // Output columns whose input column ox * sx + off is in [0, w).
                        let lo = if off >= 0 { 0 } else { (-off + sx - 1) / sx };
                        let hi = if w - off <= 0 {
                            0
                        } else {
                            ((w - off - 1) / sx + 1).min(ow as i64)
                        };
                        if lo >= hi {
                            continue;
                        }
                        let (lo, hi) = (lo as usize, hi as usize);
                        let start = (lo as i64 * sx + off) as usize;
                        let dst = &mut orow[lo..hi];
                        if sx == 1 {
                            if let Some(s) = src.get(start..start + (hi - lo)) {
                                for (d, &v) in dst.iter_mut().zip(s) {
                                    *d += wv * v;
                                }
                            }
                        } else {
                            let s = src.get(start..).unwrap_or(&[]);
                            for (d, &v) in dst.iter_mut().zip(s.iter().step_by(sx as usize)) {
                                *d += wv * v;
                            }
                        }
                    }
                }
                apply_act(self.act, orow);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ConvTranspose

struct ConvTranspose {
    geo: Geo,
    /// Input channels, output channels per group, groups.
    c: usize,
    mg: usize,
    group: usize,
    /// Per group, W^T packed: rows (m, ky, kx), k: the group's input channels.
    w: Vec<Packing>,
    bias: Vec<f32>,
    act: Option<Act>,
    out_pad: [i64; 2],
    output_shape: Option<[i64; 2]>,
}

fn build_conv_transpose(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let wt = ctx.const_input(1, "weights")?;
    let w = f32s(wt, "W")?;
    let geo = read_geo(ctx, &wt.shape)?;
    let group = ctx.int("group", 1);
    let c = wt.shape[0];
    let Some(group) = positive_divisor(group, c) else {
        return Err(format!(
            "group {group} does not divide the {c} input channels of the weights"
        ));
    };
    let (cg, mg) = (c / group, wt.shape[1]);
    let m = mg * group;
    let rows = mg * geo.kernel[0] * geo.kernel[1];
    let packed = (0..group)
        .map(|g| packing_a(w, g * cg * rows, rows, cg, 1, rows))
        .collect::<OpResult<_>>()?;
    let bias = if ctx.given(2) {
        let b = f32s(ctx.const_input(2, "bias")?, "B")?;
        if b.len() != m {
            return Err(format!("bias B has {} values, expected {m}", b.len()));
        }
        b.to_vec()
    } else {
        vec![]
    };
    let sp = geo.spatial;
    let out_pad = spatial_attr(ctx, "output_padding", sp, 0, 0)?;
    let output_shape = match ctx.ints("output_shape") {
        None => None,
        Some(v) => {
            let v = if v.len() == sp + 2 {
                v[2..].to_vec()
            } else {
                v
            };
            if v.len() != sp || v.iter().any(|&d| !(0..=MAX_ELEMENTS as i64).contains(&d)) {
                return Err(format!(
                    "output_shape {v:?} is not {sp} sizes (one per spatial axis)"
                ));
            }
            Some(two(&v, 1))
        }
    };
    Ok(Box::new(ConvTranspose {
        out_pad: two(&out_pad, 0),
        geo,
        c,
        mg,
        group,
        w: packed,
        bias,
        act: None,
        output_shape,
    }))
}

impl ConvTranspose {
    /// Output size and begin pad of one spatial axis.
    fn axis(&self, ax: usize, input: usize) -> OpResult<(usize, i64)> {
        let geo = &self.geo;
        let (s, d) = (geo.strides[ax], geo.dil[ax]);
        let ek = (geo.kernel[ax] as i64 - 1) * d + 1;
        let natural = s * (input as i64 - 1) + self.out_pad[ax] + ek;
        let same = matches!(geo.auto_pad, AutoPad::SameUpper | AutoPad::SameLower);
        let target = match self.output_shape {
            Some(o) => Some(o[ax]),
            None if same => Some(input as i64 * s),
            None => None,
        };
        let (out, pb) = match target {
            Some(out) => {
                let total = natural - out;
                let half = total.div_euclid(2);
                let pb = if geo.auto_pad == AutoPad::SameUpper {
                    half
                } else {
                    total - half
                };
                (out, pb)
            }
            None if geo.auto_pad == AutoPad::Valid => (natural, 0),
            None => (natural - geo.pads[ax] - geo.pads[ax + 2], geo.pads[ax]),
        };
        if out < 0 || out > MAX_ELEMENTS as i64 {
            return Err(format!(
                "the output size {out} along spatial axis {ax} is invalid"
            ));
        }
        Ok((out as usize, pb))
    }
}

impl Op for ConvTranspose {
    fn prepare(&mut self, consts: &[Option<&Tensor>], floats: usize) -> OpResult<bool> {
        prepare_all(&mut self.w, consts, 1, floats)
    }

    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "X")?;
        let x = f32s(xt, "X")?;
        let geo = &self.geo;
        let (n, c, hw) = conv_input(xt, geo.spatial)?;
        if c != self.c {
            return Err(format!(
                "input X has {c} channels, the weights expect {}",
                self.c
            ));
        }
        if hw.contains(&0) {
            return Err(format!("input X of shape {:?} is empty", xt.shape));
        }
        let (oh, pt) = self.axis(0, hw[0])?;
        let (ow, pl) = self.axis(1, hw[1])?;
        let m = self.mg * self.group;
        let shape = out_shape(n, m, [oh, ow], geo.spatial);
        let mut out = vec![0f32; alloc_len::<f32>(&shape)?];
        let [kh, kw] = geo.kernel;
        let rows = self.mg * kh * kw;
        let (isz, osz) = (hw[0] * hw[1], oh * ow);
        let cg = c / self.group;
        let mut col = vec![0f32; alloc_len::<f32>(&[rows, isz])?];
        for b in 0..n {
            for g in 0..self.group {
                let xg = x
                    .get((b * c + g * cg) * isz..(b * c + (g + 1) * cg) * isz)
                    .ok_or("input X is smaller than its shape")?;
                let pb = pack_b(xg, 0, cg, isz, isz, 1)?;
                let wp = packed_weights(&self.w, g)?;
                gemm(wp, &pb, rows, isz, cg, &mut col, isz, false, &NO_EPI)?;
                let o0 = (b * m + g * self.mg) * osz;
                let og = &mut out[o0..o0 + self.mg * osz];
                for (r, crow) in col.chunks_exact(isz).enumerate() {
                    let (mo, ky, kx) = (r / (kh * kw), (r / kw) % kh, r % kw);
                    let plane = &mut og[mo * osz..(mo + 1) * osz];
                    for (iy, src) in crow.chunks_exact(hw[1]).enumerate() {
                        let oy = iy as i64 * geo.strides[0] + ky as i64 * geo.dil[0] - pt;
                        if oy < 0 || oy >= oh as i64 {
                            continue;
                        }
                        let orow = &mut plane[oy as usize * ow..(oy as usize + 1) * ow];
                        let mut ox = kx as i64 * geo.dil[1] - pl;
                        for &v in src {
                            if ox >= 0 {
                                if let Some(d) = orow.get_mut(ox as usize) {
                                    *d += v;
                                }
                            }
                            ox += geo.strides[1];
                        }
                    }
                }
            }
        }
        if !self.bias.is_empty() || self.act.is_some() {
            for (i, plane) in out.chunks_exact_mut(osz.max(1)).enumerate() {
                let bv = self.bias.get(i % m.max(1)).copied().unwrap_or(0.0);
                plane.iter_mut().for_each(|v| *v += bv);
                apply_act(self.act, plane);
            }
        }
        Ok(vec![Tensor::f32(shape, out)])
    }

    fn fuse(&mut self, next: &NodeCtx) -> bool {
        if self.act.is_some() {
            return false;
        }
        if let Some(act) = activation(next) {
            self.act = Some(act);
            return true;
        }
        let rank = self.geo.spatial + 2;
        let m = self.mg * self.group;
        let Some(v) = add_vector(next, rank - 2, Some(rank)) else {
            return false;
        };
        match merge_bias(&self.bias, &v).map(|b| expand_bias(&b, m, "bias")) {
            Some(Ok(b)) => {
                self.bias = b;
                true
            }
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gemm

/// The packing of a constant B, made the first time a product of more than one row needs it and
/// kept: a product of one row reads B as the model stores it (see [`gemv`](super::gemv)), so a
/// batch-one fully connected layer never packs its weights, nor holds them twice.
fn packed_once<T>(cell: &OnceLock<T>, pack: impl FnOnce() -> OpResult<T>) -> OpResult<&T> {
    if let Some(p) = cell.get() {
        return Ok(p);
    }
    let p = pack()?;
    Ok(cell.get_or_init(|| p))
}

/// The epilogue of a one-row product held in `y`: `y[j] = alpha * y[j] + bias[j] (+ prior[j])`,
/// then the activation (the same sum and order as the GEMM's tiles; `bias` empty or full length).
fn finish_gemv(y: &mut [f32], alpha: f32, bias: &[f32], prior: Option<&[f32]>, act: Option<Act>) {
    for (j, v) in y.iter_mut().enumerate() {
        let mut s = *v * alpha + bias.get(j).copied().unwrap_or(0.0);
        if let Some(p) = prior {
            s += p.get(j).copied().unwrap_or(0.0);
        }
        *v = match act {
            Some(a) => a.apply(s),
            None => s,
        };
    }
}

/// The error of a one-row product whose operands hold fewer values than their shapes say.
fn short_operands() -> String {
    "internal: operands of the wrong size".into()
}

struct Gemm {
    ta: bool,
    tb: bool,
    alpha: f32,
    beta: f32,
    /// A constant B's packing (see [`packed_once`]); `None` when B is computed at run time.
    b: Option<OnceLock<Vec<f32>>>,
    /// Per column, from a constant C (times beta) and fused Adds: empty, one value or n.
    col_bias: Vec<f32>,
    /// C was folded into `col_bias`.
    c_folded: bool,
    act: Option<Act>,
}

/// The (k, n) of a 2-D B, transposed or not.
fn b_dims(b: &Tensor, tb: bool) -> OpResult<(usize, usize)> {
    match b.shape[..] {
        [r, c] => Ok(if tb { (c, r) } else { (r, c) }),
        _ => Err(format!(
            "input B has shape {:?}, expected a matrix",
            b.shape
        )),
    }
}

fn pack_b_mat(b: &[f32], off: usize, k: usize, n: usize, tb: bool) -> OpResult<Vec<f32>> {
    if tb {
        pack_b(b, off, k, n, 1, k)
    } else {
        pack_b(b, off, k, n, n, 1)
    }
}

fn build_gemm(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let ta = ctx.int("transA", 0) != 0;
    let tb = ctx.int("transB", 0) != 0;
    let alpha = ctx.float("alpha", 1.0);
    let beta = ctx.float("beta", 1.0);
    let b = match ctx.consts.get(1).copied().flatten() {
        Some(bt) => {
            b_dims(bt, tb)?;
            f32s(bt, "B")?;
            Some(OnceLock::new())
        }
        None => None,
    };
    let mut col_bias = vec![];
    let mut c_folded = false;
    if let Some(c) = ctx.consts.get(2).copied().flatten() {
        let cv = f32s(c, "C")?;
        let row = c.rank() <= 1 || (c.rank() == 2 && c.shape[0] == 1);
        if row {
            col_bias = cv.iter().map(|&v| v * beta).collect();
            c_folded = true;
        }
    }
    Ok(Box::new(Gemm {
        ta,
        tb,
        alpha,
        beta,
        b,
        col_bias,
        c_folded,
        act: None,
    }))
}

impl Op for Gemm {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let at = input(inputs, 0, "A")?;
        let a = f32s(at, "A")?;
        let (m, ka) = match at.shape[..] {
            [r, c] => {
                if self.ta {
                    (c, r)
                } else {
                    (r, c)
                }
            }
            _ => {
                return Err(format!(
                    "input A has shape {:?}, expected a matrix",
                    at.shape
                ))
            }
        };
        let bt = input(inputs, 1, "B")?;
        let bv = f32s(bt, "B")?;
        let (k, n) = b_dims(bt, self.tb)?;
        if k != ka {
            return Err(format!(
                "A has shape {:?} and B {k}x{n} (after transposition): inner sizes {ka} and {k} differ",
                at.shape
            ));
        }
        let shape = vec![m, n];
        let mut out = vec![0f32; alloc_len::<f32>(&shape)?];
        let mut accumulate = false;
        if !self.c_folded {
            if let Some(ct) = inputs.get(2).copied().flatten() {
                let cv = f32s(ct, "C")?;
                let cs = &ct.shape;
                let ok = cs.len() <= 2 && broadcast(cs, &shape).is_ok_and(|s| s == shape);
                if !ok {
                    return Err(format!(
                        "input C has shape {cs:?}, which does not broadcast to [{m}, {n}]"
                    ));
                }
                let (cr, cc) = match cs[..] {
                    [] => (1, 1),
                    [c] => (1, c),
                    [r, c] => (r, c),
                    _ => (1, 1),
                };
                for (i, row) in out.chunks_exact_mut(n.max(1)).enumerate() {
                    let base = if cr == 1 { 0 } else { i * cc };
                    for (j, v) in row.iter_mut().enumerate() {
                        let idx = base + if cc == 1 { 0 } else { j };
                        *v = self.beta * cv.get(idx).copied().unwrap_or(0.0);
                    }
                }
                accumulate = true;
            }
        }
        let col_bias = expand_bias(&self.col_bias, n, "bias C")?;
        if m == 0 || n == 0 {
            return Ok(vec![Tensor::f32(shape, out)]);
        }
        if m == 1 {
            // A's one row is contiguous whether transposed ([k, 1]) or not ([1, k]).
            let prior = accumulate.then(|| out.clone());
            let gemv = if self.tb { gemv_rows } else { gemv_cols };
            gemv(a, bv, k, &mut out).ok_or_else(short_operands)?;
            finish_gemv(&mut out, self.alpha, &col_bias, prior.as_deref(), self.act);
            return Ok(vec![Tensor::f32(shape, out)]);
        }
        let run_b;
        let pb: &[f32] = match &self.b {
            Some(cell) => packed_once(cell, || pack_b_mat(bv, 0, k, n, self.tb))?,
            None => {
                run_b = pack_b_mat(bv, 0, k, n, self.tb)?;
                &run_b
            }
        };
        let pa = if self.ta {
            pack(a, 0, m, k, 1, m, MR, self.alpha)?
        } else {
            pack(a, 0, m, k, k, 1, MR, self.alpha)?
        };
        let epi = Epi {
            row_bias: &[],
            col_bias: &col_bias,
            act: self.act,
        };
        gemm(&pa, pb, m, n, k, &mut out, n, accumulate, &epi)?;
        Ok(vec![Tensor::f32(shape, out)])
    }

    fn fuse(&mut self, next: &NodeCtx) -> bool {
        fuse_cols(&mut self.act, &mut self.col_bias, next, Some(2))
    }
}

/// Fuses an activation, or (before one) an Add of a per-column bias, into a product.
fn fuse_cols(
    act: &mut Option<Act>,
    bias: &mut Vec<f32>,
    next: &NodeCtx,
    rank: Option<usize>,
) -> bool {
    if act.is_some() {
        return false;
    }
    if let Some(a) = activation(next) {
        *act = Some(a);
        return true;
    }
    let Some(v) = add_vector(next, 0, rank) else {
        return false;
    };
    match merge_bias(bias, &v) {
        Some(b) => {
            *bias = b;
            true
        }
        None => false,
    }
}

// ---------------------------------------------------------------------------------------------
// MatMul

struct MatMul {
    /// A constant B: its shape, and its matrices packed at load. Unlike Gemm's, a MatMul's A
    /// usually has many rows (a sequence), so that its load packs B, a slice at a time, where
    /// its first run would have; a product of one row still reads B as stored.
    b: Option<(Vec<usize>, Vec<Packing>)>,
    col_bias: Vec<f32>,
    act: Option<Act>,
    /// The rank of a fused Add's addend: the result is given at least this rank.
    min_rank: usize,
}

/// The (k, n) of B's matrices (B of shape `shape`, at least one dimension).
fn matmul_b_dims(shape: &[usize]) -> OpResult<(usize, usize)> {
    match shape {
        [k] => Ok((*k, 1)),
        [.., k, n] => Ok((*k, *n)),
        [] => Err("input B is a scalar, expected at least one dimension".into()),
    }
}

/// The packings of B's matrices (B of shape `shape`, at least one dimension).
fn packing_b_batches(b: &[f32], shape: &[usize]) -> OpResult<Vec<Packing>> {
    let (k, n) = matmul_b_dims(shape)?;
    let batches = volume(&shape[..shape.len().saturating_sub(2)])?;
    (0..batches)
        .map(|i| packing_b(b, i * k * n, k, n, n, 1))
        .collect()
}

fn build_matmul(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let b = match ctx.consts.get(1).copied().flatten() {
        Some(bt) => Some((
            bt.shape.clone(),
            packing_b_batches(f32s(bt, "B")?, &bt.shape)?,
        )),
        None => None,
    };
    Ok(Box::new(MatMul {
        b,
        col_bias: vec![],
        act: None,
        min_rank: 0,
    }))
}

impl Op for MatMul {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let at = input(inputs, 0, "A")?;
        let a = f32s(at, "A")?;
        let bt = input(inputs, 1, "B")?;
        let bv = f32s(bt, "B")?;
        let bshape = &bt.shape;
        let (k, n) = matmul_b_dims(bshape)?;
        if at.rank() == 0 {
            return Err("input A is a scalar, expected at least one dimension".into());
        }
        let (m, ka) = match at.shape[..] {
            [k] => (1, k),
            [.., m, k] => (m, k),
            [] => (1, 1),
        };
        if ka != k {
            return Err(format!(
                "A of shape {:?} and B of shape {bshape:?}: inner sizes {ka} and {k} differ",
                at.shape
            ));
        }
        let abatch = &at.shape[..at.rank().saturating_sub(2)];
        let bbatch = &bshape[..bshape.len().saturating_sub(2)];
        let batch = broadcast(abatch, bbatch).map_err(|_| {
            format!(
                "A of shape {:?} and B of shape {bshape:?} do not broadcast",
                at.shape
            )
        })?;
        let mut shape = batch.clone();
        if at.rank() >= 2 {
            shape.push(m);
        }
        if bshape.len() >= 2 {
            shape.push(n);
        }
        let mut out = vec![0f32; alloc_len::<f32>(&shape)?];
        let col_bias = expand_bias(&self.col_bias, n, "added bias")?;
        let epi = Epi {
            row_bias: &[],
            col_bias: &col_bias,
            act: self.act,
        };
        // A's batches are rows of one product when B has none.
        let rows = if bbatch.is_empty() {
            volume(abatch)? * m
        } else {
            m
        };
        let run_b: Vec<Vec<f32>>;
        let packed: Vec<&[f32]> = if m == 0 || n == 0 || rows == 1 {
            vec![]
        } else {
            match &self.b {
                Some((_, p)) => (0..p.len())
                    .map(|i| packed_weights(p, i))
                    .collect::<OpResult<_>>()?,
                None => {
                    run_b = packing_b_batches(bv, bshape)?
                        .into_iter()
                        .map(|p| p.finish(bv))
                        .collect();
                    run_b.iter().map(Vec::as_slice).collect()
                }
            }
        };
        let product = |ai: usize, bi: usize, o: &mut [f32]| -> OpResult<()> {
            if rows == 1 {
                let a = a.get(ai * k..).ok_or_else(short_operands)?;
                let b = bv.get(bi * k * n..).ok_or_else(short_operands)?;
                gemv_cols(a, b, k, o).ok_or_else(short_operands)?;
                finish_gemv(o, 1.0, &col_bias, None, self.act);
                return Ok(());
            }
            let pa = pack_a(a, ai * k, rows, k, k, 1)?;
            let pb = packed.get(bi).ok_or("internal: missing packed B")?;
            gemm(&pa, pb, rows, n, k, o, n, false, &epi)
        };
        if m > 0 && n > 0 {
            if bbatch.is_empty() {
                product(0, 0, &mut out)?;
            } else {
                let total = volume(&batch)?;
                let r = batch.len();
                let pad = |s: &[usize]| {
                    let mut v = vec![1; r - s.len()];
                    v.extend_from_slice(s);
                    v
                };
                let (ab, bb) = (pad(abatch), pad(bbatch));
                for (i, o) in out.chunks_exact_mut(m * n).enumerate().take(total) {
                    let (mut ai, mut bi, mut rest) = (0, 0, i);
                    let (mut astr, mut bstr) = (1, 1);
                    for d in (0..r).rev() {
                        let idx = rest % batch[d];
                        rest /= batch[d];
                        if ab[d] != 1 {
                            ai += idx * astr;
                        }
                        if bb[d] != 1 {
                            bi += idx * bstr;
                        }
                        astr *= ab[d];
                        bstr *= bb[d];
                    }
                    product(ai * m, bi, o)?;
                }
            }
        }
        while shape.len() < self.min_rank {
            shape.insert(0, 1);
        }
        Ok(vec![Tensor::f32(shape, out)])
    }

    fn prepare(&mut self, consts: &[Option<&Tensor>], floats: usize) -> OpResult<bool> {
        match &mut self.b {
            Some((_, packings)) => prepare_all(packings, consts, 1, floats),
            None => Ok(true),
        }
    }

    fn fuse(&mut self, next: &NodeCtx) -> bool {
        if next.op_type != "Add" {
            return fuse_cols(&mut self.act, &mut self.col_bias, next, None);
        }
        // A bias needs B's columns: only with a constant B of rank >= 2.
        let n = match &self.b {
            Some((s, _)) if s.len() >= 2 => s[s.len() - 1],
            _ => return false,
        };
        let before = self.col_bias.clone();
        if !fuse_cols(&mut self.act, &mut self.col_bias, next, None) {
            return false;
        }
        if self.col_bias.len() > 1 && self.col_bias.len() != n {
            self.col_bias = before;
            return false;
        }
        let r = next
            .consts
            .get(1)
            .copied()
            .flatten()
            .map_or(0, |t| t.rank());
        self.min_rank = self.min_rank.max(r);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::Tensor;

    /// A direct 2-D convolution, the definition: NCHW input, (M, C/group, kh, kw) weights.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        x: &[f32],
        [n, c, h, w]: [usize; 4],
        wt: &[f32],
        [m, kh, kw]: [usize; 3],
        group: usize,
        bias: &[f32],
        s: [usize; 2],
        d: [usize; 2],
        p: [usize; 4],
    ) -> (Vec<usize>, Vec<f32>) {
        let oh = (h + p[0] + p[2] - (kh - 1) * d[0] - 1) / s[0] + 1;
        let ow = (w + p[1] + p[3] - (kw - 1) * d[1] - 1) / s[1] + 1;
        let (cg, mg) = (c / group, m / group);
        let mut out = vec![0f32; n * m * oh * ow];
        for b in 0..n {
            for o in 0..m {
                let g = o / mg;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = bias.get(o).copied().unwrap_or(0.0);
                        for ci in 0..cg {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * s[0] + ky * d[0]) as i64 - p[0] as i64;
                                    let ix = (ox * s[1] + kx * d[1]) as i64 - p[1] as i64;
                                    if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                                        continue;
                                    }
                                    let xc = g * cg + ci;
                                    let xv = x[((b * c + xc) * h + iy as usize) * w + ix as usize];
                                    let wv = wt[((o * cg + ci) * kh + ky) * kw + kx];
                                    acc += xv * wv;
                                }
                            }
                        }
                        out[((b * m + o) * oh + oy) * ow + ox] = acc;
                    }
                }
            }
        }
        (vec![n, m, oh, ow], out)
    }

    /// Runs a Conv of `c` input channels in `group` groups (`mult` outputs per group when
    /// depthwise, 3 otherwise) on an input of `h` x `w`, and compares with [`reference`].
    #[allow(clippy::too_many_arguments)]
    fn check(
        (c, group, mult): (usize, usize, usize),
        (kh, kw): (usize, usize),
        s: [usize; 2],
        dl: usize,
        (h, w): (usize, usize),
        p: [usize; 4],
    ) {
        let value = |i: usize, salt: usize| ((i * 7 + salt * 13) % 17) as f32 / 8.0 - 1.0;
        let m = if group == c { c * mult } else { 3 * group };
        let cg = c / group;
        let xs = [1, c, h, w];
        let x: Vec<f32> = (0..c * h * w).map(|i| value(i, 1)).collect();
        let wv: Vec<f32> = (0..m * cg * kh * kw).map(|i| value(i, 2)).collect();
        let bias: Vec<f32> = (0..m).map(|i| value(i, 3)).collect();
        let (shape, want) = reference(&x, xs, &wv, [m, kh, kw], group, &bias, s, [dl, dl], p);
        let wt = Tensor::f32(vec![m, cg, kh, kw], wv);
        let bt = Tensor::f32(vec![m], bias);
        let xt = Tensor::f32(xs.to_vec(), x);
        let attrs = vec![
            ints("kernel_shape", &[kh as i64, kw as i64]),
            ints("strides", &s.map(|v| v as i64)),
            ints("dilations", &[dl as i64, dl as i64]),
            ints("pads", &p.map(|v| v as i64)),
            int("group", group as i64),
        ];
        let op = build("Conv", 17, attrs, &[None, Some(&wt), Some(&bt)], 1).unwrap();
        let got = op.run(&[Some(&xt), Some(&wt), Some(&bt)]).unwrap();
        let what = format!(
            "c {c} group {group} m {m} kernel {kh}x{kw} strides {s:?} dilation {dl} \
             input {h}x{w} pads {p:?}"
        );
        assert_eq!(got[0].shape, shape, "{what}");
        let got = got[0].as_f32().unwrap();
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!((a - b).abs() < 1e-4, "{what}: at {i}, {a} vs {b}");
        }
    }

    /// Packing, along rows (4x4 transposes) or along columns, against the layout it describes:
    /// block of KC along k, then panel of w items, then k, then item, zero past `count`.
    #[test]
    fn packing_matches_its_layout() {
        for (count, k) in [(1, 1), (4, 4), (7, 5), (8, 256), (13, 259), (16, 600)] {
            for w in [super::MR, super::NR] {
                for rows in [true, false] {
                    let (is, ks) = if rows { (k + 3, 1) } else { (1, count + 2) };
                    let off = 5;
                    let len = off + (count - 1) * is + (k - 1) * ks + 1;
                    let src: Vec<f32> = (0..len).map(|i| i as f32).collect();
                    let got = super::pack(&src, off, count, k, is, ks, w, 0.5).unwrap();
                    let mut want = vec![];
                    for k0 in (0..k).step_by(super::KC) {
                        for p in 0..count.div_ceil(w) {
                            for kk in k0..(k0 + super::KC).min(k) {
                                for l in 0..w {
                                    let i = p * w + l;
                                    let v = if i < count {
                                        src[off + i * is + kk * ks]
                                    } else {
                                        0.0
                                    };
                                    want.push(v * 0.5);
                                }
                            }
                        }
                    }
                    assert_eq!(got, want, "count {count} k {k} w {w} rows {rows}");
                }
            }
        }
    }

    /// The depthwise loops (on a padded plane, or one pass per tap) and the im2col path, over
    /// strides, dilations, pads, widths and channel multipliers, against the definition.
    #[test]
    fn conv_matches_the_definition() {
        let mut cases = 0;
        for groups in [(3, 3, 1), (2, 2, 2), (4, 1, 1), (4, 2, 1)] {
            for kernel in [(3, 3), (1, 3), (5, 5)] {
                for s in [1, 2, 3] {
                    for dl in [1, 2] {
                        for (h, w) in [(5, 1), (6, 7), (9, 13), (4, 21), (3, 75)] {
                            for p in [[0, 0, 0, 0], [1, 1, 1, 1], [2, 0, 1, 3]] {
                                let (eh, ew) = ((kernel.0 - 1) * dl + 1, (kernel.1 - 1) * dl + 1);
                                if h + p[0] + p[2] < eh || w + p[1] + p[3] < ew {
                                    continue;
                                }
                                check(groups, kernel, [s, s], dl, (h, w), p);
                                cases += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(cases > 300, "{cases} cases");
        // Pads and a row stride far larger than the input: no padded copy of the plane.
        check((2, 2, 1), (3, 3), [40, 1], 1, (4, 4), [50, 50, 50, 50]);
        check((2, 2, 1), (5, 5), [1, 2], 1, (3, 2), [60, 0, 60, 90]);
    }
}

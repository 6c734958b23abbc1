//! Pooling: MaxPool (with its indices), AveragePool and LpPool over 1 to 3 spatial axes, and
//! GlobalMaxPool, GlobalAveragePool and GlobalLpPool.
//!
//! The float32 loops are written on four-lane vectors ([`F4`], wasm SIMD in the wasm build).

use super::super::tensor::{volume, Data, OpResult, Tensor, MAX_ELEMENTS};
use super::common::*;
use super::simd::*;
use super::{input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("MaxPool", build_max_pool),
    ("AveragePool", build_average_pool),
    ("LpPool", build_lp_pool),
    ("GlobalMaxPool", build_global_max_pool),
    ("GlobalAveragePool", build_global_average_pool),
    ("GlobalLpPool", build_global_lp_pool),
];

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

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

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
}

//! Reductions: ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
//! ReduceSumSquare, ReduceLogSum and ReduceLogSumExp, and ArgMax and ArgMin.
//!
//! Reduced axes are grouped into passes over a tensor seen as `[outer, n, inner]`. With
//! `inner == 1` each result reads one contiguous row, folded in 8 lanes; otherwise whole rows
//! of `inner` values are combined at a time.

use super::super::tensor::{axis, volume, Data, OpResult, Tensor};
use super::common::*;
use super::simd::*;
use super::{input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
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
];

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

/// A float32 reduction: `b` over `u` of each element (`u` on the first pass only). Never
/// inlined: one function per reduction, not one 40 kB `reduce_f32` for V8 to optimise.
#[inline(never)]
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
            Data::Str(_) => return Err("input is a string tensor, expected numbers".into()),
        };
        Ok(vec![Tensor::new(shape, Data::I64(out))?])
    }
}

//! Softmax, LogSoftmax and Hardmax along one axis, and Dropout (inference: the identity).

use super::super::tensor::{axis, volume, OpResult, Tensor};
use super::common::*;
use super::simd::*;
use super::{f32s, input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("Softmax", build_softmax),
    ("LogSoftmax", build_log_softmax),
    ("Hardmax", build_hardmax),
    ("Dropout", build_dropout),
];

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

/// Softmax, LogSoftmax or Hardmax of one contiguous row, in place. This and [`soft_block`] are
/// never inlined, so that the operator's entry point stays a small function for V8 to optimise.
#[inline(never)]
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
#[inline(never)]
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

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

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
}

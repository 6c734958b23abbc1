//! Normalisations: BatchNormalization, InstanceNormalization, LayerNormalization and LRN.

use std::borrow::Cow;

use super::super::tensor::{axis, volume, OpResult, Tensor, MAX_ELEMENTS};
use super::common::*;
use super::simd::*;
use super::{f32s, input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("BatchNormalization", build_batch_norm),
    ("InstanceNormalization", build_instance_norm),
    ("LayerNormalization", build_layer_norm),
    ("LRN", build_lrn),
];

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

#[cfg(test)]
mod tests {
    use super::super::testing::*;

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
}

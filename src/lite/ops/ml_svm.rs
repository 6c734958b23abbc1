//! SVMClassifier and SVMRegressor (scikit-learn's SVC, SVR, NuSVC, NuSVR and OneClassSVM as
//! skl2onnx writes them), computed as onnxruntime does: libsvm's one-versus-one votes, Platt's
//! probabilities coupled by libsvm's `multiclass_probability`, and its rules for two classes.
//! A model with support vectors computes its kernel against each of them; one without
//! (liblinear) a dot product with each class's coefficients.

use super::super::super::tensor::{alloc_len, OpResult, Tensor};
use super::super::{input, NodeCtx, Op};
use super::{class_labels, logistic, probit, rows, Labels, Transform};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kernel {
    Linear,
    Poly,
    Rbf,
    Sigmoid,
}

/// The kernel and its parameters (`kernel_params`: gamma, coef0, degree).
struct Svm {
    kernel: Kernel,
    gamma: f32,
    coef0: f32,
    degree: f32,
}

impl Svm {
    /// The kernel for `vectors` support vectors: with none, the coefficients are a linear model.
    fn for_vectors(self, vectors: usize) -> Svm {
        if vectors > 0 {
            self
        } else {
            Svm {
                kernel: Kernel::Linear,
                ..self
            }
        }
    }

    fn parse(ctx: &NodeCtx) -> OpResult<Svm> {
        let name = ctx.string("kernel_type").unwrap_or_else(|| "LINEAR".into());
        let kernel = match name.as_str() {
            "LINEAR" => Kernel::Linear,
            "POLY" => Kernel::Poly,
            "RBF" => Kernel::Rbf,
            "SIGMOID" => Kernel::Sigmoid,
            other => return Err(format!("unknown kernel_type '{other}'")),
        };
        let p = ctx.floats("kernel_params").unwrap_or_default();
        if !p.is_empty() && p.len() != 3 {
            return Err(format!(
                "kernel_params has {} values, where it has gamma, coef0 and degree",
                p.len()
            ));
        }
        let at = |i: usize| p.get(i).copied().unwrap_or(0.0);
        Ok(Svm {
            kernel,
            gamma: at(0),
            coef0: at(1),
            degree: at(2),
        })
    }

    /// The kernel of each of the `n` rows of `x` with each of the `v` rows of `vectors` (`f`
    /// features each): `[n, v]`. The linear kernel adds `c`.
    fn kernels(
        &self,
        x: &[f32],
        n: usize,
        f: usize,
        vectors: &[f32],
        v: usize,
        c: f32,
    ) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * v);
        for row in x.chunks_exact(f.max(1)).take(n) {
            for sv in vectors.chunks_exact(f.max(1)).take(v) {
                let k = match self.kernel {
                    Kernel::Rbf => {
                        let d: f32 = row.iter().zip(sv).map(|(a, b)| (a - b) * (a - b)).sum();
                        (-self.gamma * d).exp()
                    }
                    kernel => {
                        let dot: f32 = row.iter().zip(sv).map(|(a, b)| a * b).sum();
                        match kernel {
                            Kernel::Linear => dot + c,
                            Kernel::Poly => {
                                let b = self.gamma * dot + self.coef0;
                                if self.degree == 2.0 {
                                    b * b
                                } else if self.degree == 3.0 {
                                    b * b * b
                                } else {
                                    b.powf(self.degree)
                                }
                            }
                            _ => (self.gamma * dot + self.coef0).tanh(),
                        }
                    }
                };
                out.push(k);
            }
        }
        out
    }
}

/// The rows of input X, checked against the model's features.
fn features<'a>(
    inputs: &[Option<&'a Tensor>],
    want: usize,
) -> OpResult<(usize, std::borrow::Cow<'a, [f32]>)> {
    let (n, f, x) = rows(input(inputs, 0, "X")?)?;
    if f != want {
        return Err(format!(
            "the input has {f} features, where the model has {want}"
        ));
    }
    Ok((n, x))
}

// ---------------------------------------------------------------------------------------------
// SVMClassifier

struct SvmClassifier {
    svm: Svm,
    labels: Labels,
    /// Support vectors per class, and the index of each class's first; empty for liblinear.
    per_class: Vec<usize>,
    starts: Vec<usize>,
    vectors: usize,
    features: usize,
    coefficients: Vec<f32>,
    support_vectors: Vec<f32>,
    rho: Vec<f32>,
    prob_a: Vec<f32>,
    prob_b: Vec<f32>,
    transform: Transform,
    all_positive: bool,
}

pub(super) fn svm_classifier(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let svm = Svm::parse(ctx)?;
    let labels = class_labels(ctx, "classlabels_ints")?;
    let c = labels.len();
    if c == 0 {
        return Err("classlabels_ints or classlabels_strings is required".into());
    }
    let coefficients = ctx.floats("coefficients").unwrap_or_default();
    let support_vectors = ctx.floats("support_vectors").unwrap_or_default();
    let rho = ctx.floats("rho").unwrap_or_default();
    let prob_a = ctx.floats("prob_a").unwrap_or_default();
    let prob_b = ctx.floats("prob_b").unwrap_or_default();
    if coefficients.is_empty() {
        return Err("coefficients is empty".into());
    }
    if prob_a.len() != prob_b.len() {
        return Err(format!(
            "prob_a has {} values and prob_b {}",
            prob_a.len(),
            prob_b.len()
        ));
    }
    let per_class = ctx
        .ints("vectors_per_class")
        .unwrap_or_default()
        .into_iter()
        .map(|v| usize::try_from(v).map_err(|_| format!("vectors_per_class has {v}")))
        .collect::<OpResult<Vec<usize>>>()?;
    let mut starts = vec![];
    let mut vectors = 0usize;
    for &v in &per_class {
        starts.push(vectors);
        vectors = vectors
            .checked_add(v)
            .ok_or("vectors_per_class overflows")?;
    }
    let pairs = c * (c - 1) / 2;
    let features = if vectors > 0 {
        if per_class.len() != c {
            return Err(format!(
                "vectors_per_class has {} classes, where there are {c} class labels",
                per_class.len()
            ));
        }
        if c < 2 {
            return Err("a classifier with support vectors needs two or more classes".into());
        }
        let f = support_vectors.len().checked_div(vectors).unwrap_or(0);
        if f == 0 || f * vectors != support_vectors.len() {
            return Err(format!(
                "{} support vector values for {vectors} vectors",
                support_vectors.len()
            ));
        }
        if coefficients.len() < (c - 1) * vectors {
            return Err(format!(
                "coefficients has {} values, where {c} classes of {vectors} support vectors \
                 need {}",
                coefficients.len(),
                (c - 1) * vectors
            ));
        }
        if rho.len() < pairs || (!prob_a.is_empty() && prob_a.len() < pairs) {
            return Err(format!(
                "rho, prob_a and prob_b need {pairs} values (one per pair of classes), got {}, \
                 {} and {}",
                rho.len(),
                prob_a.len(),
                prob_b.len()
            ));
        }
        f
    } else {
        if rho.is_empty() {
            return Err("rho is empty".into());
        }
        let f = coefficients.len() / c;
        if f * c != coefficients.len() {
            return Err(format!(
                "coefficients has {} values, not a multiple of {c} classes",
                coefficients.len()
            ));
        }
        f
    };
    let all_positive = coefficients.iter().all(|&w| w >= 0.0);
    Ok(Box::new(SvmClassifier {
        svm: svm.for_vectors(vectors),
        labels,
        per_class,
        starts,
        vectors,
        features,
        coefficients,
        support_vectors,
        rho,
        prob_a,
        prob_b,
        transform: Transform::parse(ctx)?,
        all_positive,
    }))
}

impl SvmClassifier {
    /// The one-versus-one decision values of one row's kernels, and each class's votes.
    fn pairs(&self, k: &[f32], scores: &mut [f32], votes: &mut [usize]) {
        let (c, v) = (self.labels.len(), self.vectors);
        let w = &self.coefficients;
        let mut idx = 0;
        for i in 0..c - 1 {
            let (si, ni) = (self.starts[i], self.per_class[i]);
            for j in i + 1..c {
                let (sj, nj) = (self.starts[j], self.per_class[j]);
                let mut sum = 0f64;
                for m in si..si + ni {
                    sum += (w[(j - 1) * v + m] * k[m]) as f64;
                }
                for m in sj..sj + nj {
                    sum += (w[i * v + m] * k[m]) as f64;
                }
                sum += self.rho[idx] as f64;
                scores[idx] = sum as f32;
                votes[if sum > 0.0 { i } else { j }] += 1;
                idx += 1;
            }
        }
    }
}

/// Platt's probability of a decision value (libsvm's `sigmoid_predict`).
fn sigmoid_probability(score: f32, a: f32, b: f32) -> f32 {
    1.0 - logistic(score * a + b)
}

/// libsvm's `multiclass_probability`: the class probabilities `p` from the pairwise ones `r`
/// (`[c, c]`), as onnxruntime computes it in float32.
fn multiclass_probability(c: usize, r: &[f32], p: &mut [f32]) {
    let mut q = vec![0f32; c * c];
    let mut qp = vec![0f32; c];
    let eps = 0.005 / c as f32;
    for i in 0..c {
        p[i] = 1.0 / c as f32;
        for j in 0..i {
            q[i * c + i] += r[j * c + i] * r[j * c + i];
            q[i * c + j] = q[j * c + i];
        }
        for j in i + 1..c {
            q[i * c + i] += r[j * c + i] * r[j * c + i];
            q[i * c + j] = -r[j * c + i] * r[i * c + j];
        }
    }
    for _ in 0..100 {
        let mut pqp = 0f32;
        for i in 0..c {
            qp[i] = 0.0;
            for j in 0..c {
                qp[i] += q[i * c + j] * p[j];
            }
            pqp += p[i] * qp[i];
        }
        let max_error = qp.iter().map(|&v| (v - pqp).abs()).fold(0f32, f32::max);
        if max_error < eps {
            break;
        }
        for i in 0..c {
            let diff = (-qp[i] + pqp) / q[i * c + i];
            p[i] += diff;
            pqp = (pqp + diff * (diff * q[i * c + i] + 2.0 * qp[i])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..c {
                qp[j] = (qp[j] + diff * q[i * c + j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
}

/// The index of the first largest value.
fn first_max<T: PartialOrd + Copy>(v: &[T]) -> usize {
    let mut best = 0;
    for k in 1..v.len() {
        if v[k] > v[best] {
            best = k;
        }
    }
    best
}

impl Op for SvmClassifier {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let (n, x) = features(inputs, self.features)?;
        let c = self.labels.len();
        let proba = !self.prob_a.is_empty();
        let pairs = c * (c - 1) / 2;
        let mut picked = Vec::with_capacity(n);
        if self.vectors == 0 {
            // liblinear: one score per class, the rho[0] of the model added.
            let mut z = self
                .svm
                .kernels(&x, n, self.features, &self.coefficients, c, self.rho[0]);
            for row in z.chunks_exact_mut(c) {
                let best = first_max(row);
                let max = row[best];
                let label = if c == 2 && !proba {
                    if (self.all_positive && max >= 0.5) || (max > 0.0 && !self.all_positive) {
                        1
                    } else {
                        best
                    }
                } else {
                    best
                };
                picked.push(self.labels.ints[label]);
                if c > 1 {
                    self.transform.apply(row);
                } else if self.transform == Transform::Probit {
                    row[0] = probit(row[0]);
                }
            }
            return Ok(vec![self.labels.tensor(picked), Tensor::f32(vec![n, c], z)]);
        }
        let width = if proba {
            c
        } else if c > 2 {
            pairs
        } else {
            2
        };
        let mut z = vec![0f32; alloc_len::<f32>(&[n, width])?];
        let k = self.svm.kernels(
            &x,
            n,
            self.features,
            &self.support_vectors,
            self.vectors,
            0.0,
        );
        let mut scores = vec![0f32; pairs];
        let mut votes = vec![0usize; c];
        let mut pairwise = vec![0f32; if proba { c * c } else { 0 }];
        for (k, z) in k.chunks_exact(self.vectors).zip(z.chunks_exact_mut(width)) {
            votes.iter_mut().for_each(|v| *v = 0);
            self.pairs(k, &mut scores, &mut votes);
            picked.push(self.labels.ints[first_max(&votes)]);
            if proba {
                let mut idx = 0;
                for i in 0..c - 1 {
                    for j in i + 1..c {
                        let p =
                            sigmoid_probability(scores[idx], self.prob_a[idx], self.prob_b[idx])
                                .clamp(1e-7, 1.0 - 1e-7);
                        pairwise[i * c + j] = p;
                        pairwise[j * c + i] = 1.0 - p;
                        idx += 1;
                    }
                }
                multiclass_probability(c, &pairwise, z);
                self.transform.apply(z);
            } else if pairs > 1 {
                z.copy_from_slice(&scores);
                self.transform.apply(z);
            } else {
                // Two classes: onnxruntime writes [-s, s] without a transform, [1 - s, s] with
                // one (the transform itself is not applied), the probit of s alone with PROBIT.
                let s = scores[0];
                match self.transform {
                    Transform::Probit => z[0] = probit(s),
                    Transform::None => {
                        z[0] = -s;
                        z[1] = s;
                    }
                    _ => {
                        z[0] = 1.0 - s;
                        z[1] = s;
                    }
                }
            }
        }
        Ok(vec![
            self.labels.tensor(picked),
            Tensor::f32(vec![n, width], z),
        ])
    }
}

// ---------------------------------------------------------------------------------------------
// SVMRegressor

struct SvmRegressor {
    svm: Svm,
    vectors: usize,
    features: usize,
    coefficients: Vec<f32>,
    support_vectors: Vec<f32>,
    rho: f32,
    one_class: bool,
}

pub(super) fn svm_regressor(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let svm = Svm::parse(ctx)?;
    let vectors = usize::try_from(ctx.int("n_supports", 0))
        .map_err(|_| format!("n_supports is {}", ctx.int("n_supports", 0)))?;
    let coefficients = ctx.floats("coefficients").unwrap_or_default();
    let support_vectors = ctx.floats("support_vectors").unwrap_or_default();
    let rho = ctx.floats("rho").unwrap_or_default();
    if coefficients.is_empty() || rho.is_empty() {
        return Err("coefficients and rho are required".into());
    }
    let features = if vectors > 0 {
        let f = support_vectors.len().checked_div(vectors).unwrap_or(0);
        if f == 0 || f * vectors != support_vectors.len() || coefficients.len() < vectors {
            return Err(format!(
                "{} support vector values and {} coefficients for {vectors} vectors",
                support_vectors.len(),
                coefficients.len()
            ));
        }
        f
    } else {
        coefficients.len()
    };
    Ok(Box::new(SvmRegressor {
        svm: svm.for_vectors(vectors),
        vectors,
        features,
        coefficients,
        support_vectors,
        rho: rho[0],
        one_class: ctx.int("one_class", 0) != 0,
    }))
}

impl Op for SvmRegressor {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let (n, x) = features(inputs, self.features)?;
        alloc_len::<f32>(&[n, self.vectors.max(1)])?;
        let mut y = if self.vectors > 0 {
            let k = self.svm.kernels(
                &x,
                n,
                self.features,
                &self.support_vectors,
                self.vectors,
                0.0,
            );
            k.chunks_exact(self.vectors)
                .map(|k| {
                    k.iter()
                        .zip(&self.coefficients)
                        .map(|(a, b)| a * b)
                        .sum::<f32>()
                        + self.rho
                })
                .collect()
        } else {
            self.svm
                .kernels(&x, n, self.features, &self.coefficients, 1, self.rho)
        };
        if self.one_class {
            y.iter_mut()
                .for_each(|v| *v = if *v > 0.0 { 1.0 } else { -1.0 });
        }
        Ok(vec![Tensor::f32(vec![n, 1], y)])
    }
}

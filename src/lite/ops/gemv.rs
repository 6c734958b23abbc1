//! One-row matrix products (a batch-one fully connected layer, a decoder's step) on B as the model
//! stores it. Packing B for the GEMM reads and writes every weight once more, which one row of A
//! does not pay back: these read each weight once, in the order it is stored.

use super::super::par::{self, Shared};
use super::simd::F4;

/// `y[j] = sum_kk a[kk] * b[j * k + kk]` for `j < y.len()`: B stored as n rows of k (Gemm with
/// transB), so that each output is a dot product of two contiguous rows, four outputs at a time.
/// `None` when `a` or `b` is shorter than the product needs. Split by ranges of outputs across
/// the pool's threads, when there are any.
pub(super) fn gemv_rows(a: &[f32], b: &[f32], k: usize, y: &mut [f32]) -> Option<()> {
    let n = y.len();
    let a = a.get(..k)?;
    let b = b.get(..n.checked_mul(k)?)?;
    split(y, k, |j, y| rows(a, b.get(j * k..)?, k, y))
}

/// `y` split across tasks in ranges of whole quads of outputs, so that each output is computed
/// by the same code as on one thread: `f(j, part)` fills outputs `j..j + part.len()`.
fn split(
    y: &mut [f32],
    k: usize,
    f: impl Fn(usize, &mut [f32]) -> Option<()> + Sync,
) -> Option<()> {
    let (n, quads) = (y.len(), y.len().div_ceil(4));
    let tasks = par::tasks(quads, n.saturating_mul(k));
    let y = Shared::new(y);
    par::run(tasks, |t| {
        let q = par::share(quads, tasks, t);
        let (j0, j1) = (q.start * 4, (q.end * 4).min(n));
        // SAFETY: outputs j0..j1 are this task's.
        let part = unsafe { y.part(j0, j1 - j0) }.ok_or(String::new())?;
        f(j0, part).ok_or(String::new())
    })
    .ok()
}

/// [`gemv_rows`] in this thread.
fn rows(a: &[f32], b: &[f32], k: usize, y: &mut [f32]) -> Option<()> {
    if k == 0 {
        y.fill(0.0);
        return Some(());
    }
    let mut rows = b.chunks_exact(k);
    let mut outs = y.chunks_exact_mut(4);
    for out in &mut outs {
        let (r0, r1, r2, r3) = (rows.next()?, rows.next()?, rows.next()?, rows.next()?);
        let mut acc = [F4::splat(0.0); 4];
        let mut tail = [0f32; 4];
        let quads = a
            .chunks_exact(4)
            .zip(r0.chunks_exact(4))
            .zip(r1.chunks_exact(4))
            .zip(r2.chunks_exact(4))
            .zip(r3.chunks_exact(4));
        for ((((av, b0), b1), b2), b3) in quads {
            let av = F4::load(av.try_into().ok()?);
            for (acc, bv) in acc.iter_mut().zip([b0, b1, b2, b3]) {
                *acc = acc.add(av.mul(F4::load(bv.try_into().ok()?)));
            }
        }
        let rest = k % 4;
        let k0 = k - rest;
        for (t, r) in tail.iter_mut().zip([r0, r1, r2, r3]) {
            for (x, w) in a[k0..].iter().zip(&r[k0..]) {
                *t += x * w;
            }
        }
        for ((o, acc), t) in out.iter_mut().zip(acc).zip(tail) {
            let [p, q, r, s] = acc.lanes();
            *o = (p + q) + (r + s) + t;
        }
    }
    for (o, r) in outs.into_remainder().iter_mut().zip(rows) {
        let mut acc = F4::splat(0.0);
        let chunks = a.chunks_exact(4).zip(r.chunks_exact(4));
        for (av, bv) in chunks {
            acc = acc.add(F4::load(av.try_into().ok()?).mul(F4::load(bv.try_into().ok()?)));
        }
        let k0 = k - k % 4;
        let t: f32 = a[k0..].iter().zip(&r[k0..]).map(|(x, w)| x * w).sum();
        let [p, q, r, s] = acc.lanes();
        *o = (p + q) + (r + s) + t;
    }
    Some(())
}

/// `y[j] = sum_kk a[kk] * b[kk * n + j]` for `j < n = y.len()`: B stored as k rows of n (MatMul,
/// Gemm without transB). Four rows of B at a time are scaled and added into `y`, which stays in
/// cache while B streams through once. `None` when `a` or `b` is shorter than the product needs.
/// Split by ranges of outputs (columns of B) across the pool's threads, when there are any.
pub(super) fn gemv_cols(a: &[f32], b: &[f32], k: usize, y: &mut [f32]) -> Option<()> {
    let n = y.len();
    let a = a.get(..k)?;
    let b = b.get(..n.checked_mul(k)?)?;
    split(y, k, |j, y| cols(a, b.get(j..)?, k, n, y))
}

/// [`gemv_cols`] in this thread, for the columns of B from its first: its rows are `ldb` apart.
fn cols(a: &[f32], b: &[f32], k: usize, ldb: usize, y: &mut [f32]) -> Option<()> {
    let n = y.len();
    y.fill(0.0);
    if n == 0 {
        return Some(());
    }
    // Row kk is b[kk * ldb..][..n]: the last one need not reach a full ldb.
    let mut rows = (0..k).map(|kk| b.get(kk * ldb..kk * ldb + n));
    let mut quads = a.chunks_exact(4);
    for q in &mut quads {
        let (r0, r1, r2, r3) = (rows.next()??, rows.next()??, rows.next()??, rows.next()??);
        let s = [q[0], q[1], q[2], q[3]].map(F4::splat);
        let mut ys = y.chunks_exact_mut(4);
        let quads = (&mut ys)
            .zip(r0.chunks_exact(4))
            .zip(r1.chunks_exact(4))
            .zip(r2.chunks_exact(4))
            .zip(r3.chunks_exact(4));
        for ((((yv, b0), b1), b2), b3) in quads {
            let yv: &mut [f32; 4] = yv.try_into().ok()?;
            let mut v = F4::load(yv);
            for (s, bv) in s.iter().zip([b0, b1, b2, b3]) {
                v = v.add(s.mul(F4::load(bv.try_into().ok()?)));
            }
            v.store(yv);
        }
        let at = n - n % 4;
        for (j, o) in ys.into_remainder().iter_mut().enumerate() {
            let j = at + j;
            *o += q[0] * r0[j] + q[1] * r1[j] + q[2] * r2[j] + q[3] * r3[j];
        }
    }
    for (&x, r) in quads.remainder().iter().zip(rows) {
        for (o, &w) in y.iter_mut().zip(r?) {
            *o += x * w;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::super::tensor::Data;
    use super::super::testing::{build, err, f, float, int};
    use super::super::{pb, NodeCtx, Op, Tensor};
    use super::*;

    fn data(len: usize, salt: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 31 + salt * 17) % 23) as f32 / 11.0 - 1.0)
            .collect()
    }

    /// Both layouts against the definition (in f64), over ragged sizes (n and k not multiples
    /// of 4) and a long k.
    #[test]
    fn gemv_matches_the_definition() {
        for k in [0, 1, 3, 4, 5, 8, 13, 64, 67, 3000] {
            for n in [0, 1, 2, 3, 4, 5, 7, 8, 9, 33] {
                let a = data(k, 1);
                let bt = data(n * k, 2);
                let (want, scale): (Vec<f64>, Vec<f64>) = (0..n)
                    .map(|j| {
                        let terms = (0..k).map(|kk| a[kk] as f64 * bt[j * k + kk] as f64);
                        (terms.clone().sum::<f64>(), terms.map(f64::abs).sum::<f64>())
                    })
                    .unzip();
                let b: Vec<f32> = (0..k * n).map(|i| bt[(i % n) * k + i / n]).collect();
                let check = |y: &[f32], what: &str| {
                    for ((g, w), s) in y.iter().zip(&want).zip(&scale) {
                        // The bound of a sum of k float32 terms taken in any order.
                        let tol = k as f64 * f32::EPSILON as f64 * s + 1e-6;
                        assert!(
                            (*g as f64 - w).abs() <= tol,
                            "{what} k {k} n {n}: {g} vs {w}"
                        );
                    }
                };
                let mut y = vec![f32::NAN; n];
                gemv_rows(&a, &bt, k, &mut y).unwrap();
                check(&y, "rows");
                let mut y = vec![f32::NAN; n];
                gemv_cols(&a, &b, k, &mut y).unwrap();
                check(&y, "cols");
            }
        }
    }

    /// Split across a pool of threads, every output is computed as on one thread: the same bits,
    /// whatever the sizes' remainders.
    #[cfg(feature = "threads")]
    #[test]
    fn gemv_on_a_pool_gives_the_bits_of_one_thread() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (k, n) in [(1000, 1003), (517, 2050), (3, 300_001)] {
            let (a, b) = (data(k, 1), data(k * n, 2));
            for gemv in [gemv_rows, gemv_cols] {
                let (mut one, mut three) = (vec![0.0; n], vec![0.0; n]);
                gemv(&a, &b, k, &mut one).unwrap();
                pool.install(|| gemv(&a, &b, k, &mut three)).unwrap();
                assert_eq!(bits(&one), bits(&three), "k {k}, n {n}");
            }
        }
    }

    #[test]
    fn gemv_refuses_short_operands() {
        let mut y = [0f32; 3];
        assert!(gemv_rows(&[1.0; 4], &[1.0; 11], 4, &mut y).is_none());
        assert!(gemv_rows(&[1.0; 3], &[1.0; 12], 4, &mut y).is_none());
        assert!(gemv_cols(&[1.0; 4], &[1.0; 11], 4, &mut y).is_none());
        assert!(gemv_cols(&[1.0; 3], &[1.0; 12], 4, &mut y).is_none());
        assert!(gemv_rows(&[1.0; 4], &[1.0; 12], 4, &mut y).is_some());
        assert_eq!(y, [4.0; 3]);
    }

    /// Offers `op` the node `op_type` (inputs: `op`'s output, then `consts`) to fuse.
    fn fuse(
        op: &mut Box<dyn Op>,
        op_type: &str,
        attrs: Vec<pb::AttributeProto>,
        consts: &[&Tensor],
    ) {
        let node = pb::NodeProto {
            op_type: op_type.into(),
            attribute: attrs,
            input: (0..=consts.len()).map(|i| format!("f{i}")).collect(),
            output: vec!["o".into()],
            ..Default::default()
        };
        let mut c = vec![None];
        c.extend(consts.iter().map(|&t| Some(t)));
        let ctx = NodeCtx {
            op_type,
            node: &node,
            present: vec![true; c.len()],
            consts: c,
            opset: 17,
        };
        assert!(op.fuse(&ctx), "{op_type} fused");
    }

    fn close(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{what}: at {i}, {g} vs {w}"
            );
        }
    }

    /// Gemm on a constant B: one row (read from B as stored) against the same row among three
    /// (the packed GEMM) and the definition, with both transpositions, alpha, a folded or a
    /// run-time C, and a fused activation, over ragged k and n (k past one block of 256).
    #[test]
    fn gemm_one_row_matches_the_packed_path() {
        for (k, n) in [(1, 1), (5, 3), (13, 9), (67, 33), (300, 17)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    for folded in [true, false] {
                        let m = 3;
                        let av = data(m * k, 3);
                        let bv = data(k * n, 4);
                        let cv = data(n, 5);
                        let b = f(&if tb { [n, k] } else { [k, n] }, &bv);
                        let c = f(&[1, n], &cv);
                        let (alpha, beta) = (0.5, 2.0);
                        let attrs = vec![
                            int("transA", ta as i64),
                            int("transB", tb as i64),
                            float("alpha", alpha),
                            float("beta", beta),
                        ];
                        let consts = [None, Some(&b), folded.then_some(&c)];
                        let mut op = build("Gemm", 17, attrs, &consts, 1).unwrap();
                        fuse(&mut op, "LeakyRelu", vec![float("alpha", 0.1)], &[]);
                        let el_a = |r: usize, kk: usize| av[r * k + kk];
                        let el_b =
                            |kk: usize, j: usize| if tb { bv[j * k + kk] } else { bv[kk * n + j] };
                        let want: Vec<f32> = (0..m * n)
                            .map(|i| {
                                let (r, j) = (i / n, i % n);
                                let d: f32 = (0..k).map(|kk| el_a(r, kk) * el_b(kk, j)).sum();
                                let v = alpha * d + beta * cv[j];
                                if v < 0.0 {
                                    v * 0.1
                                } else {
                                    v
                                }
                            })
                            .collect();
                        let a_of = |rows: usize| {
                            if ta {
                                let t: Vec<f32> =
                                    (0..k * rows).map(|i| el_a(i % rows, i / rows)).collect();
                                f(&[k, rows], &t)
                            } else {
                                f(&[rows, k], &av[..rows * k])
                            }
                        };
                        let what = format!("k {k} n {n} ta {ta} tb {tb} folded {folded}");
                        for rows in [1, m] {
                            let a = a_of(rows);
                            let got = op.run(&[Some(&a), Some(&b), Some(&c)]).unwrap();
                            assert_eq!(got[0].shape, [rows, n], "{what}");
                            close(got[0].as_f32().unwrap(), &want[..rows * n], &what);
                        }
                    }
                }
            }
        }
    }

    /// MatMul on a constant B, with a fused bias and Relu: one row (a 1-D or 2-D A, or one row
    /// per batch of B) against several rows and the definition.
    #[test]
    fn matmul_one_row_matches_the_packed_path() {
        for (k, n) in [(1, 1), (7, 5), (64, 12), (259, 30)] {
            for batches in [0, 2] {
                let bshape: Vec<usize> = if batches > 0 {
                    vec![batches, k, n]
                } else {
                    vec![k, n]
                };
                let nb = batches.max(1);
                let bv = data(nb * k * n, 6);
                let b = f(&bshape, &bv);
                let bias = f(&[n], &data(n, 7));
                let mut op = build("MatMul", 17, vec![], &[None, Some(&b)], 1).unwrap();
                fuse(&mut op, "Add", vec![], &[&bias]);
                fuse(&mut op, "Relu", vec![], &[]);
                let m = 4;
                let av = data(nb * m * k, 8);
                let bias = bias.as_f32().unwrap();
                let want = |g: usize, r: usize| -> Vec<f32> {
                    (0..n)
                        .map(|j| {
                            let d: f32 = (0..k)
                                .map(|kk| av[(g * m + r) * k + kk] * bv[(g * k + kk) * n + j])
                                .sum();
                            (d + bias[j]).max(0.0)
                        })
                        .collect()
                };
                let what = format!("k {k} n {n} batches {batches}");
                for rows in [1, m] {
                    let a: Vec<f32> = (0..nb)
                        .flat_map(|g| av[g * m * k..(g * m + rows) * k].iter().copied())
                        .collect();
                    let ashape = if batches > 0 {
                        vec![nb, rows, k]
                    } else {
                        vec![rows, k]
                    };
                    let got = op.run(&[Some(&f(&ashape, &a)), Some(&b)]).unwrap();
                    let want: Vec<f32> = (0..nb)
                        .flat_map(|g| (0..rows).flat_map(move |r| want(g, r)))
                        .collect();
                    close(got[0].as_f32().unwrap(), &want, &what);
                }
                if batches == 0 {
                    let got = op.run(&[Some(&f(&[k], &av[..k])), Some(&b)]).unwrap();
                    assert_eq!(got[0].shape, [n], "{what}");
                    close(got[0].as_f32().unwrap(), &want(0, 0), &what);
                }
            }
        }
    }

    /// A B holding fewer values than its shape says is an error, not a panic.
    #[test]
    fn one_row_products_refuse_short_weights() {
        let a = f(&[1, 4], &[1.0; 4]);
        let b = Tensor {
            shape: vec![4, 3],
            data: Data::F32(vec![1.0; 5]),
        };
        for (op, consts) in [
            ("Gemm", [None, Some(&b)]),
            ("Gemm", [None, None]),
            ("MatMul", [None, None]),
        ] {
            let built = build(op, 17, vec![], &consts, 1).unwrap();
            let e = err(built.run(&[Some(&a), Some(&b)]));
            assert!(e.contains("wrong size"), "{op}: {e}");
        }
        // A MatMul packs a constant B at load, which finds it short.
        let e = err(build("MatMul", 17, vec![], &[None, Some(&b)], 1));
        assert!(e.contains("does not fit"), "{e}");
    }
}

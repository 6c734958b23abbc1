//! Operators that scan along an axis: CumSum, TopK and NonZero.

use super::super::tensor::{alloc_len, volume, Data, OpResult, Tensor};
use super::data::*;
use super::dims::*;
use super::{input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("CumSum", build_cumsum),
    ("TopK", build_top_k),
    ("NonZero", build_nonzero),
];

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
    let mut out = vec![0i64; alloc_len::<i64>(&[r, nnz])?];
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

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

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
        let out = run_op("TopK", &[], &[&x, &i64s_of(&[5])], 2).unwrap();
        assert_eq!(out[1].data, Data::I64(vec![1, 0, 2, 3, 4]));
        let out = run_op("TopK", &[int("largest", 0)], &[&x, &i64s_of(&[5])], 2).unwrap();
        assert_eq!(out[1].data, Data::I64(vec![4, 2, 3, 0, 1]));
    }
}

//! Shapes, axes and integer inputs of the data-movement operators: element counts and strides
//! that refuse to overflow, axes and indices wrapped and checked, and [`Ints`], the integer lists
//! that later opsets moved from attributes to inputs.

use std::borrow::Cow;

use super::super::tensor::{axis, Data, OpResult, Tensor};
use super::{input, NodeCtx};

// ---------------------------------------------------------------------------------------------
// Shapes, axes and integer inputs

pub(super) fn mul(a: usize, b: usize) -> OpResult<usize> {
    a.checked_mul(b)
        .ok_or_else(|| format!("{a} x {b} elements are too many"))
}

/// The product of `dims`, or an error when it overflows.
pub(super) fn count(dims: &[usize]) -> OpResult<usize> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("shape {dims:?} is too large"))
}

/// Row-major strides of `dims`, checked for overflow.
pub(super) fn strides_of(dims: &[usize]) -> OpResult<Vec<usize>> {
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
pub(super) fn istrides(dims: &[usize]) -> OpResult<Vec<isize>> {
    strides_of(dims)?
        .into_iter()
        .map(|s| isize::try_from(s).map_err(|_| format!("shape {dims:?} is too large")))
        .collect()
}

/// A size from the model: negative (or, on wasm32, >= 2^32) is an error.
pub(super) fn to_usize(v: i64, what: &str) -> OpResult<usize> {
    usize::try_from(v).map_err(|_| format!("{what} {v} is not a valid size"))
}

/// A dimension list from the model (Expand's shape, ConstantOfShape's, Tile's repeats).
pub(super) fn to_dims(v: &[i64], what: &str) -> OpResult<Vec<usize>> {
    v.iter().map(|&d| to_usize(d, what)).collect()
}

/// `a` normalised against `rank`, which must be at least 1.
pub(super) fn axis_in(a: i64, rank: usize) -> OpResult<usize> {
    let v = axis(a, rank)?;
    if v >= rank {
        return Err(format!("axis {a} is out of range for rank {rank}"));
    }
    Ok(v)
}

/// Axes normalised against `rank`; a repeated axis is an error.
pub(super) fn axes_in(axes: &[i64], rank: usize) -> OpResult<Vec<usize>> {
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
pub(super) fn wrap_index(i: i64, dim: usize, what: &str) -> OpResult<usize> {
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
pub(super) fn positions(t: &Tensor, dim: usize, what: &str) -> OpResult<Vec<usize>> {
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
pub(super) fn int_list(t: &Tensor, what: &str) -> OpResult<Vec<i64>> {
    t.to_i64s().map_err(|e| format!("{what}: {e}"))
}

/// The one integer of a scalar (or one-element) input.
pub(super) fn one_int(v: &[i64], what: &str) -> OpResult<i64> {
    match v {
        [x] => Ok(*x),
        _ => Err(format!("{what} must have one value, it has {}", v.len())),
    }
}

/// A list of integers that older opsets give as an attribute and newer ones as an input: known
/// at load (the attribute, or a constant input) or read when the node runs.
pub(super) enum Ints {
    Absent,
    Known(Vec<i64>),
    Input(usize),
}

impl Ints {
    pub(super) fn attr(ctx: &NodeCtx, name: &str) -> Ints {
        ctx.ints(name).map_or(Ints::Absent, Ints::Known)
    }

    pub(super) fn input(ctx: &NodeCtx, i: usize, what: &str) -> OpResult<Ints> {
        if !ctx.given(i) {
            return Ok(Ints::Absent);
        }
        Ok(match ctx.consts.get(i).copied().flatten() {
            Some(t) => Ints::Known(int_list(t, what)?),
            None => Ints::Input(i),
        })
    }

    /// Input `i` from opset `since` on, the attribute `name` before.
    pub(super) fn since(ctx: &NodeCtx, since: i64, name: &str, i: usize) -> OpResult<Ints> {
        if ctx.opset >= since {
            Ints::input(ctx, i, name)
        } else {
            Ok(Ints::attr(ctx, name))
        }
    }

    pub(super) fn get<'a>(
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

    pub(super) fn need<'a>(
        &'a self,
        inputs: &[Option<&Tensor>],
        what: &str,
    ) -> OpResult<Cow<'a, [i64]>> {
        self.get(inputs, what)?
            .ok_or_else(|| format!("{what} is missing"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

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
            err(run1("Reshape", &[], &[&x, &i64s_of(spec)]));
        }
        err(run1(
            "Reshape",
            &[int("allowzero", 1)],
            &[&x, &i64s_of(&[0, -1])],
        ));
        err(run1("Expand", &[], &[&x, &i64s_of(&[-1, 3])]));
        err(run1("Expand", &[], &[&x, &i64s_of(&[HUGE, HUGE, 3])]));
        err(run1("Expand", &[], &[&x, &i64s_of(&[1 << 20, 1 << 20, 3])]));
        err(run1("Tile", &[], &[&x, &i64s_of(&[-1, 1])]));
        err(run1("Tile", &[], &[&x, &i64s_of(&[1])]));
        err(run1("Tile", &[], &[&x, &i64s_of(&[HUGE, HUGE])]));
        err(run1("ConstantOfShape", &[], &[&i64s_of(&[-1])]));
        err(run1(
            "ConstantOfShape",
            &[],
            &[&i64s_of(&[1 << 31, 1 << 31])],
        ));
        err(run1(
            "ConstantOfShape",
            &[],
            &[&i64s_of(&[i64::MAX, i64::MAX, 0])],
        ));
        err(run1("Flatten", &[int("axis", 3)], &[&x]));
        err(run1("Squeeze", &[], &[&x, &i64s_of(&[0])]));
        err(run1("Squeeze", &[], &[&x, &i64s_of(&[2])]));
        err(run1("Unsqueeze", &[], &[&x, &i64s_of(&[0, 0])]));
        err(run1("Unsqueeze", &[], &[&x, &i64s_of(&[3, -1])]));
        err(run1("Unsqueeze", &[], &[&x, &i64s_of(&[4])]));
        // Data shorter than its shape.
        let bad = Tensor {
            shape: vec![4, 4],
            data: Data::F32(vec![1.0]),
        };
        err(run1("Transpose", &[], &[&bad]));
        err(run1("Gather", &[], &[&bad, &scalar(3)]));
        err(run1("Pad", &[], &[&bad, &i64s_of(&[1, 1, 1, 1])]));
    }

    #[test]
    fn hostile_axes_and_indices_are_errors() {
        let x = iota(&[2, 3, 4]);
        for perm in [&[0, 0, 1][..], &[0, 1], &[0, 1, 3], &[-1, 0, 1]] {
            err(run1("Transpose", &[ints("perm", perm)], &[&x]));
        }
        err(run1("Gather", &[int("axis", 3)], &[&x, &scalar(0)]));
        err(run1("Gather", &[int("axis", 1)], &[&x, &scalar(3)]));
        err(run1("Gather", &[int("axis", 1)], &[&x, &scalar(-4)]));
        err(run1("Gather", &[int("axis", 1)], &[&x, &scalar(i64::MIN)]));
        err(run1("Gather", &[], &[&Tensor::scalar_f32(1.0), &scalar(0)]));
        let g = run1("Gather", &[int("axis", 1)], &[&x, &scalar(-3)]).unwrap();
        assert_eq!(g.shape, [2, 4]);
        let idx = Tensor::i64(vec![3, 1, 1], vec![0, 2, 1]);
        err(run1("GatherElements", &[int("axis", 1)], &[&x, &idx]));
        let idx = Tensor::i64(vec![1, 3, 1], vec![0, 1, 4]);
        err(run1("GatherElements", &[int("axis", 2)], &[&x, &idx]));
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
            &[int("batch_dims", 1)],
            &[&x, &Tensor::i64(vec![3, 1], vec![0; 3])],
        ));
        err(run1(
            "GatherND",
            &[int("batch_dims", -1)],
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
            &[string("reduction", "max")],
            &[
                &Tensor::bool(vec![1], vec![true]),
                &Tensor::i64(vec![1, 1], vec![0]),
                &Tensor::bool(vec![1], vec![false]),
            ],
        ));
        err(run1(
            "ScatterND",
            &[string("reduction", "sum")],
            &[&x, &idx, &upd],
        ));
        err(run1("CumSum", &[], &[&x, &scalar(3)]));
        err(run1("CumSum", &[], &[&x, &i64s_of(&[0, 1])]));
        err(run1(
            "CumSum",
            &[],
            &[&Tensor::bool(vec![1], vec![true]), &scalar(0)],
        ));
        err(run1("Concat", &[int("axis", 0)], &[&x, &iota(&[2, 3, 5])]));
        err(run1("Concat", &[int("axis", 3)], &[&x, &x]));
        err(run1(
            "Concat",
            &[int("axis", 0)],
            &[&x, &Tensor::i64(vec![2, 3, 4], vec![0; 24])],
        ));
        err(run1(
            "Concat",
            &[int("axis", 0)],
            &[&Tensor::scalar_f32(1.0)],
        ));
        err(run1("Concat", &[], &[&x]));
        err(run1(
            "OneHot",
            &[],
            &[&i64s_of(&[1]), &scalar(0), &i64s_of(&[0, 1])],
        ));
        err(run1(
            "OneHot",
            &[int("axis", 2)],
            &[&i64s_of(&[1]), &scalar(3), &i64s_of(&[0, 1])],
        ));
        err(run1(
            "OneHot",
            &[],
            &[&i64s_of(&[1]), &scalar(3), &i64s_of(&[0, 1, 2])],
        ));
        let oh = run1(
            "OneHot",
            &[],
            &[&i64s_of(&[5, -1, i64::MIN]), &scalar(3), &i64s_of(&[0, 1])],
        )
        .unwrap();
        assert_eq!(oh.data, Data::I64(vec![0, 0, 0, 0, 0, 1, 0, 0, 0]));
        err(run1("Trilu", &[], &[&i64s_of(&[1, 2])]));
        let t = run1("Trilu", &[], &[&x, &scalar(i64::MIN)]).unwrap();
        assert_eq!(t, x);
        let t = run1("Trilu", &[int("upper", 0)], &[&x, &scalar(i64::MAX)]).unwrap();
        assert_eq!(t, x);
    }

    #[test]
    fn hostile_slices_splits_and_pads_are_errors() {
        let x = iota(&[2, 3, 4]);
        let slice = |s: &[i64], e: &[i64], a: &[i64], st: &[i64]| {
            run1(
                "Slice",
                &[],
                &[&x, &i64s_of(s), &i64s_of(e), &i64s_of(a), &i64s_of(st)],
            )
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
        let split = |sizes: &[i64], n: usize| run_op("Split", &[], &[&x, &i64s_of(sizes)], n);
        assert!(split(&[1, 1], 2).is_ok());
        assert!(split(&[1, 2], 2).is_err());
        assert!(split(&[3, -1], 2).is_err());
        assert!(split(&[1, 1], 3).is_err());
        assert!(run_op("Split", &[], &[&x], 3).is_err());
        assert!(run_op("Split", &[int("num_outputs", 3)], &[&x], 2).is_err());
        assert!(run_op("Split", &[int("axis", 2)], &[&x], 0).is_err());
        let pad = |p: &[i64], mode: &str| run1("Pad", &[string("mode", mode)], &[&x, &i64s_of(p)]);
        err(pad(&[0, 0, -3, 0, 0, -2], "constant"));
        err(pad(&[0, 0, 0, 0, 0, -5], "reflect"));
        err(pad(&[0, 0, 0, 0], "edge"));
        err(pad(&[0, 0, HUGE, 0, 0, HUGE], "constant"));
        err(pad(&[0, 0, i64::MAX, 0, 0, i64::MAX], "constant"));
        err(pad(&[0; 6], "symmetric"));
        let empty = Tensor::f32(vec![0, 2], vec![]);
        err(run1(
            "Pad",
            &[string("mode", "edge")],
            &[&empty, &i64s_of(&[1, 0, 0, 0])],
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
        // Reflection further than the axis is long is refused, as onnxruntime does.
        let r = run1(
            "Pad",
            &[string("mode", "reflect")],
            &[&iota(&[3]), &i64s_of(&[2, 3])],
        );
        assert_eq!(
            r.unwrap_err(),
            "Reflect padding of 2+3 needs at least 4 values along axis 0, the input has 3"
        );
        let r = run1(
            "Pad",
            &[string("mode", "reflect")],
            &[&iota(&[3]), &i64s_of(&[2, 2])],
        )
        .unwrap();
        assert_eq!(r.as_f32().unwrap(), [2., 1., 0., 1., 2., 1., 0.]);
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
        let top = |k: i64| run_op("TopK", &[], &[&x, &i64s_of(&[k])], 2);
        assert!(top(4).is_err());
        assert!(top(-1).is_err());
        assert!(top(i64::MIN).is_err());
        assert!(run_op("TopK", &[], &[&x, &i64s_of(&[1, 1])], 2).is_err());
        let t = top(0).unwrap();
        assert_eq!(t[0].shape, [2, 0]);
        err(run1(
            "DepthToSpace",
            &[int("blocksize", 0)],
            &[&iota(&[1, 4, 1, 1])],
        ));
        err(run1(
            "DepthToSpace",
            &[int("blocksize", -2)],
            &[&iota(&[1, 4, 1, 1])],
        ));
        err(run1(
            "DepthToSpace",
            &[int("blocksize", 3)],
            &[&iota(&[1, 4, 1, 1])],
        ));
        err(run1(
            "DepthToSpace",
            &[int("blocksize", 1 << 33)],
            &[&iota(&[1, 4, 1, 1])],
        ));
        err(run1(
            "SpaceToDepth",
            &[int("blocksize", 2)],
            &[&iota(&[1, 1, 3, 2])],
        ));
        err(run1(
            "SpaceToDepth",
            &[int("blocksize", 2)],
            &[&iota(&[4, 2])],
        ));
        let e = run1(
            "DepthToSpace",
            &[int("blocksize", 2)],
            &[&iota(&[0, 4, 1 << 20, 1 << 20])],
        )
        .unwrap();
        assert_eq!(e.shape, [0, 1, 1 << 21, 1 << 21]);
    }
}

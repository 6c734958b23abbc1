//! Helpers shared by the pooling, normalisation, softmax, reduction and resize operators: the
//! element types of their generic kernels ([`Elem`]), integer folds, axis lists, attributes
//! that later opsets turned into inputs ([`Param`]) and the `[outer, n, inner]` view of a
//! tensor around one axis.

use std::borrow::Cow;

use super::super::tensor::{axis, volume, OpResult, Tensor};
use super::{f32s, input, NodeCtx};

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The element types of the generic kernels (max pooling, Max/Min/Sum/Prod reductions, ArgMax).
/// Integer arithmetic wraps, as in onnxruntime.
pub(super) trait Elem: Copy + PartialOrd {
    const LOWEST: Self;
    const HIGHEST: Self;
    const ZERO: Self;
    const ONE: Self;
    fn add(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
}

macro_rules! int_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            const LOWEST: Self = <$t>::MIN;
            const HIGHEST: Self = <$t>::MAX;
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
        }
    )*};
}
int_elem!(i64, i32, u8, i8);

impl Elem for f32 {
    const LOWEST: Self = f32::NEG_INFINITY;
    const HIGHEST: Self = f32::INFINITY;
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self + o
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self * o
    }
}

impl Elem for bool {
    const LOWEST: Self = false;
    const HIGHEST: Self = true;
    const ZERO: Self = false;
    const ONE: Self = true;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self | o
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self & o
    }
}

/// Folds `map` of each element of `v` with `op`, starting from `id`, in 8 independent lanes (the
/// integer types' reductions; float32 has [`fold_f`]).
#[inline(always)]
pub(super) fn fold<T: Copy>(v: &[T], id: T, map: impl Fn(T) -> T, op: impl Fn(T, T) -> T) -> T {
    let (octets, rest) = v.as_chunks::<8>();
    let mut acc = [id; 8];
    for c in octets {
        for l in 0..8 {
            acc[l] = op(acc[l], map(c[l]));
        }
    }
    let mut r = id;
    for &x in rest {
        r = op(r, map(x));
    }
    for a in acc {
        r = op(r, a);
    }
    r
}

/// A possibly negative axis list normalised against `rank`; repeated axes are an error.
pub(super) fn axes_list(axes: &[i64], rank: usize) -> OpResult<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = axis(a, rank)?;
        if a >= rank {
            return Err(format!("axis {a} is out of range for rank {rank}"));
        }
        if out.contains(&a) {
            return Err(format!("axes {axes:?} repeat axis {a}"));
        }
        out.push(a);
    }
    Ok(out)
}

/// An attribute-turned-input: not given, known at load (a constant), or read from input `i` at
/// run time.
pub(super) enum Param<T> {
    Absent,
    Known(T),
    Input(usize),
}

impl<T: Clone> Param<T> {
    /// Input `i` (`name`) of the node being built, parsed with `parse` when it is a constant.
    pub(super) fn of_input(
        ctx: &NodeCtx,
        i: usize,
        name: &str,
        parse: fn(&Tensor) -> OpResult<T>,
    ) -> OpResult<Self> {
        if !ctx.given(i) {
            return Ok(Param::Absent);
        }
        match ctx.consts.get(i).copied().flatten() {
            Some(t) => parse(t)
                .map(Param::Known)
                .map_err(|e| format!("input {name}: {e}")),
            None => Ok(Param::Input(i)),
        }
    }

    /// The value: known, read from the inputs, or `None` when not given.
    pub(super) fn get<'a>(
        &'a self,
        inputs: &[Option<&Tensor>],
        name: &str,
        parse: fn(&Tensor) -> OpResult<T>,
    ) -> OpResult<Option<Cow<'a, T>>> {
        match self {
            Param::Absent => Ok(None),
            Param::Known(v) => Ok(Some(Cow::Borrowed(v))),
            Param::Input(i) => parse(input(inputs, *i, name)?)
                .map(|v| Some(Cow::Owned(v)))
                .map_err(|e| format!("input {name}: {e}")),
        }
    }
}

pub(super) fn parse_ints(t: &Tensor) -> OpResult<Vec<i64>> {
    t.to_i64s()
}

pub(super) fn parse_floats(t: &Tensor) -> OpResult<Vec<f32>> {
    t.as_f32().map(<[f32]>::to_vec)
}

/// A float32 scalar (or one-element tensor).
pub(super) fn scalar_f32(t: &Tensor, name: &str) -> OpResult<f32> {
    match f32s(t, name)? {
        [v] => Ok(*v),
        v => Err(format!("input {name} has {} values, expected one", v.len())),
    }
}

/// The sizes of `[outer, n, inner]` around axis `a` of `shape`.
pub(super) fn split3(shape: &[usize], a: usize) -> OpResult<(usize, usize, usize)> {
    let n = shape.get(a).copied().unwrap_or(1);
    Ok((
        volume(&shape[..a.min(shape.len())])?,
        n,
        volume(shape.get(a + 1..).unwrap_or(&[]))?,
    ))
}

/// The shape of a reduction's result: the reduced axes become 1, or go with `keepdims` off.
pub(super) fn reduced_shape(shape: &[usize], reduced: &[bool], keepdims: bool) -> Vec<usize> {
    shape
        .iter()
        .zip(reduced)
        .filter_map(|(&d, &r)| match (r, keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// How many outputs the node names (the trailing unnamed ones are not counted).
pub(super) fn named_outputs(ctx: &NodeCtx) -> usize {
    ctx.node
        .output
        .iter()
        .rposition(|o| !o.is_empty())
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::super::super::tensor::Data;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn empty_inputs_give_empty_outputs() {
        let e = empty(&[0, 3, 4, 4]);
        let k = vec![ints("kernel_shape", &[2, 2])];
        assert_eq!(run("MaxPool", 12, k, &[&e]).unwrap()[0].shape, [0, 3, 3, 3]);
        assert!(run("Softmax", 13, vec![], &[&e]).unwrap()[0].is_empty());
        assert!(run("LRN", 13, vec![int("size", 3)], &[&e]).unwrap()[0].is_empty());
        let sum = run(
            "ReduceSum",
            11,
            vec![ints("axes", &[1])],
            &[&empty(&[2, 0, 3])],
        );
        assert_eq!(sum.unwrap()[0].data, Data::F32(vec![0.0; 6]));
        // Dimensions whose product overflows, next to a zero one.
        let odd = empty(&[0, 1 << 40, 1 << 40]);
        let _ = run("ReduceMax", 13, vec![ints("axes", &[1])], &[&odd]);
        let _ = run("ArgMax", 13, vec![int("axis", 1)], &[&odd]);
        let _ = run("LRN", 13, vec![int("size", 3)], &[&odd]);
        let _ = run("Softmax", 11, vec![], &[&odd]);
        let _ = run("MaxPool", 12, vec![ints("kernel_shape", &[1])], &[&odd]);
        let bn = [&odd, &x(&[1]), &x(&[1]), &x(&[1]), &x(&[1])];
        let _ = run("BatchNormalization", 15, vec![], &bn);
        fails(
            run("ArgMax", 13, vec![int("axis", 1)], &[&empty(&[2, 0])]),
            "empty",
        );
    }

    #[test]
    fn axes_out_of_range_or_repeated_are_errors() {
        let t = x(&[2, 3, 4]);
        fails(run("Softmax", 13, vec![int("axis", 3)], &[&t]), "axis 3");
        fails(run("Softmax", 11, vec![int("axis", -4)], &[&t]), "axis -4");
        fails(
            run("LogSoftmax", 13, vec![int("axis", i64::MIN)], &[&t]),
            "out of range",
        );
        fails(run("ArgMin", 13, vec![int("axis", 7)], &[&t]), "axis 7");
        fails(
            run("ReduceSum", 11, vec![ints("axes", &[1, -2])], &[&t]),
            "repeat",
        );
        fails(
            run("ReduceMean", 13, vec![ints("axes", &[3])], &[&t]),
            "axis 3",
        );
        fails(
            run("ReduceMax", 18, vec![], &[&t, &i64s_of(&[0, 0])]),
            "repeat",
        );
        fails(
            run("ReduceMax", 18, vec![], &[&t, &f32s_of(&[0.0])]),
            "axes",
        );
        let axes = [None, Some(&f32s_of(&[1.0]))];
        fails(build("ReduceL2", 18, vec![], &axes, 1), "input axes");
        fails(
            run("LayerNormalization", 17, vec![int("axis", 5)], &[&t, &t]),
            "axis 5",
        );
        let layer = run("LayerNormalization", 17, vec![], &[&t, &x(&[3])]);
        fails(layer, "Scale has 3 values, expected 4");
    }

    #[test]
    fn unsupported_types_are_errors() {
        let i = Tensor::i64(vec![2, 2], vec![1, 2, 3, 4]);
        fails(run("ReduceMean", 13, vec![], &[&i]), "int64");
        fails(run("ReduceL1", 13, vec![], &[&i]), "int64");
        fails(run("Softmax", 13, vec![], &[&i]), "float32");
        let b = Tensor::bool(vec![2], vec![true, false]);
        fails(run("ReduceSum", 13, vec![], &[&b]), "bool");
    }
}

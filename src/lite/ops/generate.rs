//! Operators that make a tensor from attributes, shapes or indices: Constant, ConstantOfShape,
//! Range, OneHot, and Trilu (a triangular mask of its input).

use super::super::tensor::{alloc_len, alloc_len_of, Data, OpResult, Tensor, MAX_ELEMENTS};
use super::data::*;
use super::dims::*;
use super::{input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("ConstantOfShape", build_constant_of_shape),
    ("Range", build_range),
    ("Constant", build_constant),
    ("Trilu", build_trilu),
    ("OneHot", build_one_hot),
];

// ---------------------------------------------------------------------------------------------
// Constant, ConstantOfShape, Range

struct Constant {
    value: Tensor,
}

fn build_constant(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let value = if let Some(t) = ctx.tensor("value")? {
        t
    } else if ctx.has("value_float") {
        Tensor::scalar_f32(ctx.float("value_float", 0.0))
    } else if let Some(v) = ctx.floats("value_floats") {
        Tensor::f32(vec![v.len()], v)
    } else if ctx.has("value_int") {
        Tensor::i64(vec![], vec![ctx.int("value_int", 0)])
    } else if let Some(v) = ctx.ints("value_ints") {
        Tensor::i64(vec![v.len()], v)
    } else if ctx.has("sparse_value") {
        return Err("sparse_value is not supported by the lite build".into());
    } else if ctx.has("value_string") || ctx.has("value_strings") {
        return Err("string constants are not supported by the lite build".into());
    } else {
        return Err("the node has no value attribute".into());
    };
    Ok(Box::new(Constant { value }))
}

impl Op for Constant {
    fn run(&self, _: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        Ok(vec![self.value.clone()])
    }
}

struct ConstantOfShape {
    value: Tensor,
    shape: Ints,
    /// A float32 output of a constant shape, filled at load a piece at a time (see `prepare`).
    folded: Option<(Vec<usize>, usize, Vec<f32>)>,
}

fn build_constant_of_shape(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let value = ctx.tensor("value")?.unwrap_or(Tensor::scalar_f32(0.0));
    if value.len() != 1 {
        return Err(format!("value has {} elements, expected one", value.len()));
    }
    Ok(Box::new(ConstantOfShape {
        value,
        shape: Ints::input(ctx, 0, "shape")?,
        folded: None,
    }))
}

impl Op for ConstantOfShape {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let shape = to_dims(&self.shape.need(inputs, "shape")?, "shape value")?;
        let len = alloc_len_of(&shape, self.value.dtype())?;
        let data = with_elem!(&self.value.data, T => {
            let v = T::of(&self.value.data).and_then(|s| s.first().copied()).unwrap_or_default();
            T::wrap(vec![v; len])
        });
        Ok(vec![Tensor::new(shape, data)?])
    }

    /// With a constant shape, a float32 output is filled here, 1 M values a call, so that a
    /// load can pause in between: the `onnx` package's light alexnet and zfnet512 make each
    /// weight this way, up to 151 MB. Other dtypes are computed by `run` as the engine folds.
    fn prepare(&mut self, consts: &[Option<&Tensor>], floats: usize) -> OpResult<bool> {
        let (Data::F32(v), Some(Some(_))) = (&self.value.data, consts.first()) else {
            return Ok(true);
        };
        let v = v.first().copied().unwrap_or(0.0);
        if self.folded.is_none() {
            let shape = to_dims(&self.shape.need(consts, "shape")?, "shape value")?;
            // Within the engine's allowance for a fold: over it, the engine computes the output
            // at run time, under the session's budget.
            let len = alloc_len::<f32>(&shape)?;
            let mut data = Vec::new();
            data.try_reserve_exact(len)
                .map_err(|_| format!("cannot allocate the {shape:?} float32 output"))?;
            self.folded = Some((shape, len, data));
        }
        let Some((_, len, data)) = self.folded.as_mut() else {
            return Ok(true);
        };
        let n = floats.min(*len - data.len());
        data.resize(data.len() + n, v);
        Ok(data.len() == *len)
    }

    fn take_folded(&mut self) -> Option<Vec<Tensor>> {
        match self.folded.take() {
            Some((shape, len, data)) if data.len() == len => Some(vec![Tensor::f32(shape, data)]),
            other => {
                self.folded = other;
                None
            }
        }
    }
}

struct Range;

fn build_range(_: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Range))
}

/// The one element of a Range input.
fn range_arg<T: Elem>(inputs: &[Option<&Tensor>], i: usize, name: &str) -> OpResult<T> {
    match elems::<T>(input(inputs, i, name)?, name)? {
        [v] => Ok(*v),
        v => Err(format!(
            "input {name} has {} elements, expected one",
            v.len()
        )),
    }
}

fn range_int<T: Elem + Into<i64> + TryFrom<i64>>(inputs: &[Option<&Tensor>]) -> OpResult<Tensor> {
    let start: i64 = range_arg::<T>(inputs, 0, "start")?.into();
    let limit: i64 = range_arg::<T>(inputs, 1, "limit")?.into();
    let delta: i64 = range_arg::<T>(inputs, 2, "delta")?.into();
    if delta == 0 {
        return Err("delta is 0".into());
    }
    let (diff, dl) = (limit as i128 - start as i128, delta as i128);
    let n = (diff / dl + i128::from(diff % dl != 0 && (diff < 0) == (dl < 0))).max(0);
    let n = usize::try_from(n).map_err(|_| "the range is too long")?;
    // Allocated at its length: collected from a fallible iterator, whose size is unknown, the
    // vector grew by doubling, and past 2^27 int64s asked wasm32 for more than it can address
    // (a panic, found by the fuzzer on wasm32).
    let mut v = Vec::with_capacity(alloc_len::<T>(&[n])?);
    for i in 0..n {
        let value = i64::try_from(start as i128 + i as i128 * dl)
            .ok()
            .and_then(|v| T::try_from(v).ok())
            .ok_or("a range value overflows")?;
        v.push(value);
    }
    tensor(vec![n], v)
}

impl Op for Range {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let first = input(inputs, 0, "start")?;
        match &first.data {
            Data::F32(_) => {
                let start = range_arg::<f32>(inputs, 0, "start")?;
                let limit = range_arg::<f32>(inputs, 1, "limit")?;
                let delta = range_arg::<f32>(inputs, 2, "delta")?;
                if delta == 0.0 {
                    return Err("delta is 0".into());
                }
                let n = ((limit - start) as f64 / delta as f64).ceil();
                if n.is_nan() || n > MAX_ELEMENTS as f64 {
                    return Err(format!(
                        "the range from {start} to {limit} by {delta} is too long"
                    ));
                }
                let n = n.max(0.0) as usize;
                alloc_len::<f32>(&[n])?;
                let v = (0..n).map(|i| start + i as f32 * delta).collect();
                Ok(vec![Tensor::f32(vec![n], v)])
            }
            Data::I64(_) => Ok(vec![range_int::<i64>(inputs)?]),
            Data::I32(_) => Ok(vec![range_int::<i32>(inputs)?]),
            _ => Err(format!(
                "Range computes on float32, int64 and int32, not {}",
                first.dtype()
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Trilu

struct Trilu {
    upper: bool,
    k: Ints,
}

fn build_trilu(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Trilu {
        upper: ctx.int("upper", 1) != 0,
        k: Ints::input(ctx, 1, "k")?,
    }))
}

impl Op for Trilu {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let k = match self.k.get(inputs, "k")? {
            Some(v) => one_int(&v, "k")?,
            None => 0,
        };
        let (rows, cols) = match x.shape[..] {
            [.., r, c] => (r, c),
            _ => return Err(format!("input has shape {:?}, expected a matrix", x.shape)),
        };
        let upper = self.upper;
        let data = with_elem!(&x.data, T => {
            let mut out = elems::<T>(x, "input")?.to_vec();
            if rows > 0 && cols > 0 {
                for (n, row) in out.chunks_exact_mut(cols).enumerate() {
                    let i = (n % rows) as i128;
                    // Upper keeps j >= i + k, lower keeps j <= i + k.
                    let edge = i + k as i128 + i128::from(!upper);
                    let edge = edge.clamp(0, cols as i128) as usize;
                    let zero = if upper { &mut row[..edge] } else { &mut row[edge..] };
                    zero.fill(T::default());
                }
            }
            T::wrap(out)
        });
        Ok(vec![Tensor::new(x.shape.clone(), data)?])
    }
}

// ---------------------------------------------------------------------------------------------
// OneHot

struct OneHot {
    axis: i64,
}

fn build_one_hot(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(OneHot {
        axis: ctx.int("axis", -1),
    }))
}

/// The integers of `t`, float32 truncated towards zero (NaN and infinities out of any range).
fn truncated(t: &Tensor, what: &str) -> OpResult<Vec<i64>> {
    match &t.data {
        Data::F32(v) => Ok(v
            .iter()
            .map(|&x| if x.is_finite() { x as i64 } else { i64::MIN })
            .collect()),
        _ => int_list(t, what),
    }
}

impl Op for OneHot {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let it = input(inputs, 0, "indices")?;
        let depth = one_int(&truncated(input(inputs, 1, "depth")?, "depth")?, "depth")?;
        let vt = input(inputs, 2, "values")?;
        let depth = usize::try_from(depth)
            .ok()
            .filter(|&d| d > 0)
            .ok_or_else(|| format!("depth {depth} is not a positive size"))?;
        let ids = truncated(it, "indices")?;
        if count(&it.shape)? != ids.len() {
            return Err("the indices do not match their shape".into());
        }
        let a = axis_in(self.axis, it.rank() + 1)?;
        let mut shape = it.shape[..a].to_vec();
        shape.push(depth);
        shape.extend_from_slice(&it.shape[a..]);
        let len = alloc_len_of(&shape, vt.dtype())?;
        let inner = count(&it.shape[a..])?;
        let di = depth as i64;
        let data = with_elem!(&vt.data, T => {
            let (off, on) = match elems::<T>(vt, "values")? {
                [off, on] => (*off, *on),
                v => return Err(format!("values has {} elements, expected [off, on]", v.len())),
            };
            let mut out = vec![off; len];
            if inner > 0 {
                for (o, row) in ids.chunks_exact(inner).enumerate() {
                    for (i, &v) in row.iter().enumerate() {
                        let v = if v < 0 { v.saturating_add(di) } else { v };
                        if (0..di).contains(&v) {
                            out[(o * depth + v as usize) * inner + i] = on;
                        }
                    }
                }
            }
            T::wrap(out)
        });
        Ok(vec![Tensor::new(shape, data)?])
    }
}

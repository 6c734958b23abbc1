//! Operators that cut, join and extend tensors along their axes: Concat, Split, Slice, Expand,
//! Tile and Pad.

use super::super::tensor::{alloc_len, alloc_len_of, broadcast, volume, Data, OpResult, Tensor};
use super::data::*;
use super::dims::*;
use super::transpose::{for_each_offset, view};
use super::{input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("Concat", build_concat),
    ("Split", build_split),
    ("Slice", build_slice),
    ("Expand", build_expand),
    ("Tile", build_tile),
    ("Pad", build_pad),
];

// ---------------------------------------------------------------------------------------------
// Concat, Split, Slice

struct Concat {
    axis: i64,
}

fn build_concat(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    if !ctx.has("axis") && ctx.opset >= 4 {
        return Err("the axis attribute is missing".into());
    }
    Ok(Box::new(Concat {
        axis: ctx.int("axis", 1),
    }))
}

fn concat<T: Elem>(ts: &[&Tensor], a: usize, shape: &[usize]) -> OpResult<Vec<T>> {
    let len = alloc_len::<T>(shape)?;
    if len == 0 {
        return Ok(Vec::new());
    }
    let outer = count(&shape[..a])?;
    let inner = count(&shape[a + 1..])?;
    let parts = ts
        .iter()
        .map(|t| Ok((elems::<T>(t, "inputs")?, mul(t.shape[a], inner)?)))
        .collect::<OpResult<Vec<_>>>()?;
    let mut out = Vec::with_capacity(len);
    for o in 0..outer {
        for &(s, blk) in &parts {
            out.extend_from_slice(&s[o * blk..(o + 1) * blk]);
        }
    }
    Ok(out)
}

impl Op for Concat {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let ts = (0..inputs.len())
            .map(|i| input(inputs, i, "inputs"))
            .collect::<OpResult<Vec<&Tensor>>>()?;
        let first = ts.first().ok_or("there are no inputs")?;
        let r = first.rank();
        if r == 0 {
            return Err("cannot concatenate scalars".into());
        }
        let a = axis_in(self.axis, r)?;
        let mut shape = first.shape.clone();
        shape[a] = 0;
        for t in &ts {
            let fits = t.rank() == r && (0..r).all(|k| k == a || t.shape[k] == first.shape[k]);
            if !fits {
                return Err(format!(
                    "cannot concatenate shapes {:?} and {:?} along axis {a}",
                    first.shape, t.shape
                ));
            }
            shape[a] = shape[a]
                .checked_add(t.shape[a])
                .ok_or("the result is too large")?;
        }
        let data = with_elem!(&first.data, T => T::wrap(concat::<T>(&ts, a, &shape)?));
        Ok(vec![Tensor::new(shape, data)?])
    }
}

struct Split {
    axis: i64,
    split: Ints,
    num_outputs: Option<usize>,
    outputs: usize,
}

fn build_split(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let outputs = ctx.node.output.len();
    if outputs == 0 {
        return Err("the node has no outputs".into());
    }
    let num_outputs = if ctx.opset >= 18 && ctx.has("num_outputs") {
        let n = ctx.int("num_outputs", 0);
        if usize::try_from(n).ok() != Some(outputs) {
            return Err(format!(
                "num_outputs is {n} but the node has {outputs} outputs"
            ));
        }
        Some(outputs)
    } else {
        None
    };
    Ok(Box::new(Split {
        axis: ctx.int("axis", 0),
        split: Ints::since(ctx, 13, "split", 1)?,
        num_outputs,
        outputs,
    }))
}

impl Op for Split {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let r = x.rank();
        if r == 0 {
            return Err("cannot split a scalar".into());
        }
        let a = axis_in(self.axis, r)?;
        let d = x.shape[a];
        let n = self.outputs;
        let sizes: Vec<usize> = match (self.split.get(inputs, "split")?, self.num_outputs) {
            (Some(s), _) => {
                let s = to_dims(&s, "split size")?;
                let total = s.iter().try_fold(0usize, |t, &v| t.checked_add(v));
                if s.len() != n || total != Some(d) {
                    return Err(format!(
                        "split sizes {s:?} do not cut the {d} elements of axis {a} into {n} \
                         outputs"
                    ));
                }
                s
            }
            (None, Some(_)) => {
                let chunk = d.div_ceil(n);
                (0..n)
                    .map(|i| chunk.min(d.saturating_sub(i * chunk)))
                    .collect()
            }
            (None, None) => {
                if d % n != 0 {
                    return Err(format!(
                        "axis {a} of size {d} does not split into {n} equal parts"
                    ));
                }
                vec![d / n; n]
            }
        };
        let outer = count(&x.shape[..a])?;
        let inner = count(&x.shape[a + 1..])?;
        let row = isize::try_from(mul(d, inner)?).map_err(|_| "the input is too large")?;
        let mut at = 0;
        sizes
            .iter()
            .map(|&sz| {
                let mut shape = x.shape.clone();
                shape[a] = sz;
                let data = view(x, at * inner, &[outer, sz * inner], &[row, 1])?;
                at += sz;
                Tensor::new(shape, data)
            })
            .collect()
    }
}

struct Slice {
    starts: Ints,
    ends: Ints,
    axes: Ints,
    steps: Ints,
}

fn build_slice(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let op = if ctx.opset >= 10 {
        Slice {
            starts: Ints::input(ctx, 1, "starts")?,
            ends: Ints::input(ctx, 2, "ends")?,
            axes: Ints::input(ctx, 3, "axes")?,
            steps: Ints::input(ctx, 4, "steps")?,
        }
    } else {
        Slice {
            starts: Ints::attr(ctx, "starts"),
            ends: Ints::attr(ctx, "ends"),
            axes: Ints::attr(ctx, "axes"),
            steps: Ints::Absent,
        }
    };
    if matches!(op.starts, Ints::Absent) || matches!(op.ends, Ints::Absent) {
        return Err("starts and ends are required".into());
    }
    Ok(Box::new(op))
}

/// The first position and count of a Slice of an axis of size `d` (ONNX's clamping rules).
fn slice_axis(d: usize, start: i64, end: i64, step: i64) -> OpResult<(usize, usize)> {
    if step == 0 {
        return Err("a slice step is 0".into());
    }
    if d == 0 {
        return Ok((0, 0));
    }
    let (d, st) = (d as i128, step as i128);
    let norm = |v: i64| if v < 0 { v as i128 + d } else { v as i128 };
    let (mut s, mut e) = (norm(start), norm(end));
    let n = if st > 0 {
        s = s.clamp(0, d);
        e = e.clamp(0, d);
        if e > s {
            (e - s + st - 1) / st
        } else {
            0
        }
    } else {
        s = s.clamp(0, d - 1);
        e = e.clamp(-1, d - 1);
        if s > e {
            (s - e - st - 1) / -st
        } else {
            0
        }
    };
    Ok((s.min(d - 1) as usize, n as usize))
}

impl Op for Slice {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let r = x.rank();
        let starts = self.starts.need(inputs, "starts")?;
        let ends = self.ends.need(inputs, "ends")?;
        let k = starts.len();
        let axes = match self.axes.get(inputs, "axes")? {
            Some(a) => axes_in(&a, r)?,
            None => (0..k).collect(),
        };
        let steps = self.steps.get(inputs, "steps")?;
        if ends.len() != k || axes.len() != k || steps.as_ref().is_some_and(|s| s.len() != k) {
            return Err(format!(
                "starts, ends, axes and steps have different lengths ({k}, {}, {}, {})",
                ends.len(),
                axes.len(),
                steps.as_ref().map_or(k, |s| s.len())
            ));
        }
        if k > r {
            return Err(format!("{k} slices for an input of rank {r}"));
        }
        let st = istrides(&x.shape)?;
        let mut dims = x.shape.clone();
        let mut strides = st.clone();
        let mut base = 0usize;
        for (i, &a) in axes.iter().enumerate() {
            let step = steps.as_ref().map_or(1, |s| s[i]);
            let (first, n) = slice_axis(x.shape[a], starts[i], ends[i], step)?;
            dims[a] = n;
            // With two or more elements, |step| < the axis' size.
            strides[a] = if n > 1 {
                st[a] * isize::try_from(step).map_err(|_| "a slice step is too large")?
            } else {
                0
            };
            base += first * st[a] as usize;
        }
        if volume(&dims)? == 0 {
            return Ok(vec![empty_like(x, dims)?]);
        }
        let data = view(x, base, &dims, &strides)?;
        Ok(vec![Tensor::new(dims, data)?])
    }
}

// ---------------------------------------------------------------------------------------------
// Expand, Tile, Pad

struct Expand {
    shape: Ints,
}

fn build_expand(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Expand {
        shape: Ints::input(ctx, 1, "shape")?,
    }))
}

impl Op for Expand {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let target = to_dims(&self.shape.need(inputs, "shape")?, "shape value")?;
        let shape = broadcast(&x.shape, &target)?;
        alloc_len_of(&shape, x.dtype())?;
        let r = shape.len();
        let st = istrides(&x.shape)?;
        let pad = r - x.rank();
        let strides: Vec<isize> = (0..r)
            .map(|k| match k.checked_sub(pad) {
                Some(i) if x.shape[i] == shape[k] => st[i],
                _ => 0,
            })
            .collect();
        let data = view(x, 0, &shape, &strides)?;
        Ok(vec![Tensor::new(shape, data)?])
    }
}

struct Tile {
    repeats: Ints,
}

fn build_tile(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Tile {
        repeats: Ints::input(ctx, 1, "repeats")?,
    }))
}

impl Op for Tile {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let reps = to_dims(&self.repeats.need(inputs, "repeats")?, "repeat count")?;
        if reps.len() != x.rank() {
            return Err(format!(
                "{} repeats for an input of rank {}",
                reps.len(),
                x.rank()
            ));
        }
        let shape = x
            .shape
            .iter()
            .zip(&reps)
            .map(|(&d, &n)| mul(d, n))
            .collect::<OpResult<Vec<usize>>>()?;
        alloc_len_of(&shape, x.dtype())?;
        // The result is x viewed as [r0, d0, r1, d1, ...] with stride 0 along each rk.
        let st = istrides(&x.shape)?;
        let mut dims = Vec::with_capacity(2 * reps.len());
        let mut strides = Vec::with_capacity(2 * reps.len());
        for k in 0..reps.len() {
            dims.extend([reps[k], x.shape[k]]);
            strides.extend([0, st[k]]);
        }
        let data = view(x, 0, &dims, &strides)?;
        Ok(vec![Tensor::new(shape, data)?])
    }
}

#[derive(Clone, Copy, PartialEq)]
enum PadMode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

struct Pad {
    mode: PadMode,
    pads: Ints,
    axes: Ints,
    /// The `value` attribute of opsets before 11 (later, input 2).
    value: Option<f32>,
}

fn build_pad(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let mode = match ctx.string("mode").as_deref() {
        None | Some("constant") => PadMode::Constant,
        Some("reflect") => PadMode::Reflect,
        Some("edge") => PadMode::Edge,
        Some("wrap") => PadMode::Wrap,
        Some(m) => return Err(format!("mode '{m}' is not constant, reflect, edge or wrap")),
    };
    let old = ctx.opset < 11;
    let pads = Ints::since(ctx, 11, "pads", 1)?;
    if matches!(pads, Ints::Absent) {
        return Err("the pads are missing".into());
    }
    Ok(Box::new(Pad {
        mode,
        pads,
        axes: if ctx.opset >= 18 {
            Ints::input(ctx, 3, "axes")?
        } else {
            Ints::Absent
        },
        value: old.then(|| ctx.float("value", 0.0)),
    }))
}

/// Where each position of an axis of the padded result reads the input (of size `d`), for the
/// modes that read the input everywhere.
fn pad_positions(mode: PadMode, d: usize, begin: i64, out: usize) -> OpResult<Vec<usize>> {
    if d == 0 {
        return match out {
            0 => Ok(vec![]),
            _ => Err("cannot pad an empty axis in reflect, edge or wrap mode".into()),
        };
    }
    let di = d as i128;
    Ok((0..out)
        .map(|i| {
            let c = i as i128 - begin as i128;
            let p = match mode {
                PadMode::Edge | PadMode::Constant => c.clamp(0, di - 1),
                PadMode::Wrap => c.rem_euclid(di),
                PadMode::Reflect if d == 1 => 0,
                PadMode::Reflect => {
                    let m = c.rem_euclid(2 * (di - 1));
                    if m >= di {
                        2 * (di - 1) - m
                    } else {
                        m
                    }
                }
            };
            p as usize
        })
        .collect())
}

/// Pad in constant mode: the result filled with `value`, then the part of the input that lands
/// in it (negative pads crop) copied row by row.
fn pad_constant<T: Elem>(
    src: &[T],
    ishape: &[usize],
    oshape: &[usize],
    begins: &[i64],
    value: T,
) -> OpResult<Vec<T>> {
    let mut out = vec![value; alloc_len::<T>(oshape)?];
    let r = ishape.len();
    // The box of the input that lands in the result, where it starts in each.
    let mut region = vec![0usize; r];
    let (mut src_at, mut dst_at) = (0usize, 0usize);
    let (is, os) = (strides_of(ishape)?, strides_of(oshape)?);
    for k in 0..r {
        let b = begins[k] as i128;
        let (skip, start) = ((-b).max(0), b.max(0));
        let n = (ishape[k] as i128 - skip).min(oshape[k] as i128 - start);
        if n <= 0 {
            return Ok(out);
        }
        region[k] = n as usize;
        src_at += skip as usize * is[k];
        dst_at += start as usize * os[k];
    }
    if r == 0 {
        out.copy_from_slice(src);
        return Ok(out);
    }
    let w = region[r - 1];
    for_each_offset(&region[..r - 1], &is[..r - 1], &os[..r - 1], |a, b| {
        let (a, b) = (src_at + a, dst_at + b);
        out[b..b + w].copy_from_slice(&src[a..a + w]);
    });
    Ok(out)
}

/// Pad in the reflect, edge and wrap modes: each element of the result read from the input at
/// the positions [`pad_positions`] gives along each axis.
fn pad_gather<T: Elem>(
    src: &[T],
    ishape: &[usize],
    pos: &[Vec<usize>],
    len: usize,
) -> OpResult<Vec<T>> {
    let r = ishape.len();
    if r == 0 {
        return Ok(src.to_vec());
    }
    let mut out = Vec::with_capacity(len);
    let is = strides_of(ishape)?;
    let odims: Vec<usize> = pos.iter().map(Vec::len).collect();
    let last = &pos[r - 1];
    let mut idx = vec![0usize; r - 1];
    loop {
        let off: usize = (0..r - 1).map(|k| pos[k][idx[k]] * is[k]).sum();
        let row = &src[off..off + ishape[r - 1]];
        out.extend(last.iter().map(|&p| row[p]));
        let mut k = r - 1;
        loop {
            if k == 0 {
                return Ok(out);
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < odims[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

impl Op for Pad {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let r = x.rank();
        let pads = self.pads.need(inputs, "pads")?;
        let axes = match self.axes.get(inputs, "axes")? {
            Some(a) => axes_in(&a, r)?,
            None => (0..r).collect(),
        };
        let n = axes.len();
        if pads.len() != 2 * n {
            return Err(format!(
                "{} pads for {n} axes (expected begins then ends, {} values)",
                pads.len(),
                2 * n
            ));
        }
        let mut begins = vec![0i64; r];
        let mut shape = x.shape.clone();
        for (i, &a) in axes.iter().enumerate() {
            let (b, e) = (pads[i], pads[n + i]);
            let most = b.max(e);
            if self.mode == PadMode::Reflect && most > 0 && most as u64 >= x.shape[a] as u64 {
                // As onnxruntime: a reflection reads no further than the axis is long.
                return Err(format!(
                    "Reflect padding of {b}+{e} needs at least {} values along axis {a}, the \
                     input has {}",
                    most as i128 + 1,
                    x.shape[a]
                ));
            }
            begins[a] = b;
            let d = x.shape[a] as i128 + b as i128 + e as i128;
            shape[a] = usize::try_from(d).map_err(|_| {
                format!(
                    "pads {b} and {e} leave axis {a} of size {} with size {d}",
                    x.shape[a]
                )
            })?;
        }
        let len = volume(&shape)?;
        if len == 0 {
            return Ok(vec![empty_like(x, shape)?]);
        }
        let data = with_elem!(&x.data, T => {
            let src = elems::<T>(x, "data")?;
            let out = if self.mode == PadMode::Constant {
                let value = match (self.value, inputs.get(2).copied().flatten()) {
                    (Some(v), _) => T::from_f32(v),
                    (None, Some(t)) => {
                        let v = elems::<T>(t, "constant_value")?;
                        v.first().copied().unwrap_or_default()
                    }
                    (None, None) => T::default(),
                };
                pad_constant(src, &x.shape, &shape, &begins, value)?
            } else {
                let pos = (0..r)
                    .map(|k| pad_positions(self.mode, x.shape[k], begins[k], shape[k]))
                    .collect::<OpResult<Vec<_>>>()?;
                pad_gather(src, &x.shape, &pos, len)?
            };
            T::wrap(out)
        });
        Ok(vec![Tensor::new(shape, data)?])
    }
}

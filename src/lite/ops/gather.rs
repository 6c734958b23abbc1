//! Indexed reads and writes: Gather, GatherElements, GatherND and ScatterND.

use super::super::tensor::{alloc_len_of, Data, OpResult, Tensor};
use super::data::*;
use super::dims::*;
use super::transpose::for_each_offset;
use super::{input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("Gather", build_gather),
    ("GatherElements", build_gather_elements),
    ("GatherND", build_gather_nd),
    ("ScatterND", build_scatter_nd),
];

// ---------------------------------------------------------------------------------------------
// Gather, GatherElements, GatherND, ScatterND

struct Gather {
    axis: i64,
}

fn build_gather(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Gather {
        axis: ctx.int("axis", 0),
    }))
}

fn gather<T: Clone>(src: &[T], d: usize, inner: usize, ids: &[usize], len: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(len);
    for base in (0..src.len()).step_by(d * inner) {
        if inner == 1 {
            out.extend(ids.iter().map(|&i| src[base + i].clone()));
        } else {
            for &i in ids {
                let at = base + i * inner;
                out.extend_from_slice(&src[at..at + inner]);
            }
        }
    }
    out
}

impl Op for Gather {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let it = input(inputs, 1, "indices")?;
        if x.rank() == 0 {
            return Err("cannot gather from a scalar".into());
        }
        let a = axis_in(self.axis, x.rank())?;
        let d = x.shape[a];
        let ids = positions(it, d, "indices")?;
        let mut shape = x.shape[..a].to_vec();
        shape.extend_from_slice(&it.shape);
        shape.extend_from_slice(&x.shape[a + 1..]);
        let len = alloc_len_of(&shape, x.dtype())?;
        let inner = count(&x.shape[a + 1..])?;
        // Strings too: skl2onnx selects a pipeline's string columns with Gather.
        if let Data::Str(v) = &x.data {
            let v = if len == 0 {
                vec![]
            } else {
                gather(v, d, inner, &ids, len)
            };
            return Ok(vec![Tensor::new(shape, Data::Str(v))?]);
        }
        if len == 0 {
            return Ok(vec![empty_like(x, shape)?]);
        }
        let data =
            with_elem!(&x.data, T => T::wrap(gather(elems::<T>(x, "data")?, d, inner, &ids, len)));
        Ok(vec![Tensor::new(shape, data)?])
    }
}

struct GatherElements {
    axis: i64,
}

fn build_gather_elements(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(GatherElements {
        axis: ctx.int("axis", 0),
    }))
}

impl Op for GatherElements {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let it = input(inputs, 1, "indices")?;
        let r = x.rank();
        if r == 0 {
            return Err("cannot gather from a scalar".into());
        }
        let a = axis_in(self.axis, r)?;
        if it.rank() != r || (0..r).any(|k| k != a && it.shape[k] > x.shape[k]) {
            return Err(format!(
                "indices of shape {:?} do not fit data of shape {:?} along axis {a}",
                it.shape, x.shape
            ));
        }
        let ids = positions(it, x.shape[a], "indices")?;
        let xs = strides_of(&x.shape)?;
        let step = xs[a];
        let mut sa = xs;
        sa[a] = 0;
        let sb = strides_of(&it.shape)?;
        let data = with_elem!(&x.data, T => {
            let src = elems::<T>(x, "data")?;
            let mut out = vec![T::default(); ids.len()];
            for_each_offset(&it.shape, &sa, &sb, |o, j| out[j] = src[o + ids[j] * step]);
            T::wrap(out)
        });
        Ok(vec![Tensor::new(it.shape.clone(), data)?])
    }
}

/// The index tuples of GatherND and ScatterND: the offset in data of the block each one picks,
/// the block's size, and the shape of the result (GatherND) or of the updates (ScatterND).
/// The first `b` axes of data and indices are batch axes.
fn nd_offsets(
    dshape: &[usize],
    it: &Tensor,
    b: usize,
) -> OpResult<(Vec<usize>, usize, Vec<usize>)> {
    let (r, q) = (dshape.len(), it.rank());
    let m = it.shape.last().copied().unwrap_or(0);
    if q == 0 || b >= q.min(r) || m == 0 || m > r - b || it.shape[..b] != dshape[..b] {
        return Err(format!(
            "indices of shape {:?} do not index data of shape {dshape:?} with {b} batch axes",
            it.shape
        ));
    }
    let ids = int_list(it, "indices")?;
    if count(&it.shape)? != ids.len() {
        return Err("the indices do not match their shape".into());
    }
    let ds = strides_of(dshape)?;
    let inner = count(&dshape[b + m..])?;
    let batches = count(&dshape[..b])?;
    let batch_len = count(&dshape[b..])?;
    let tuples = count(&it.shape[b..q - 1])?;
    let mut offs = Vec::with_capacity(mul(batches, tuples)?);
    let mut tup = ids.chunks_exact(m);
    for bi in (0..batches).take_while(|_| tuples > 0) {
        for _ in 0..tuples {
            let t = tup.next().ok_or("the indices do not match their shape")?;
            let mut off = bi * batch_len;
            for (k, &i) in t.iter().enumerate() {
                off += wrap_index(i, dshape[b + k], "index")? * ds[b + k];
            }
            offs.push(off);
        }
    }
    let mut shape = it.shape[..q - 1].to_vec();
    shape.extend_from_slice(&dshape[b + m..]);
    Ok((offs, inner, shape))
}

struct GatherNd {
    batch_dims: i64,
}

fn build_gather_nd(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(GatherNd {
        batch_dims: ctx.int("batch_dims", 0),
    }))
}

impl Op for GatherNd {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let it = input(inputs, 1, "indices")?;
        let b = to_usize(self.batch_dims, "batch_dims")?;
        let (offs, inner, shape) = nd_offsets(&x.shape, it, b)?;
        let len = alloc_len_of(&shape, x.dtype())?;
        let data = with_elem!(&x.data, T => {
            let src = elems::<T>(x, "data")?;
            let mut out = Vec::with_capacity(len);
            for &o in &offs {
                out.extend_from_slice(&src[o..o + inner]);
            }
            T::wrap(out)
        });
        Ok(vec![Tensor::new(shape, data)?])
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Reduction {
    None,
    Add,
    Mul,
    Max,
    Min,
}

struct ScatterNd {
    reduction: Reduction,
}

fn build_scatter_nd(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let reduction = match ctx.string("reduction").as_deref() {
        None | Some("none") => Reduction::None,
        Some("add") => Reduction::Add,
        Some("mul") => Reduction::Mul,
        Some("max") => Reduction::Max,
        Some("min") => Reduction::Min,
        Some(r) => return Err(format!("reduction '{r}' is not none, add, mul, max or min")),
    };
    Ok(Box::new(ScatterNd { reduction }))
}

/// Writes the blocks of `upd` at `offs` in `out`, combined with what is there by `f`.
fn scatter_blocks<T: Copy>(
    out: &mut [T],
    offs: &[usize],
    inner: usize,
    upd: &[T],
    f: impl Fn(T, T) -> T,
) {
    for (&o, u) in offs.iter().zip(upd.chunks_exact(inner.max(1))) {
        for (d, &v) in out[o..o + inner].iter_mut().zip(u) {
            *d = f(*d, v);
        }
    }
}

impl Op for ScatterNd {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let it = input(inputs, 1, "indices")?;
        let ut = input(inputs, 2, "updates")?;
        let (offs, inner, ushape) = nd_offsets(&x.shape, it, 0)?;
        if ut.shape != ushape {
            return Err(format!(
                "updates have shape {:?}, expected {ushape:?}",
                ut.shape
            ));
        }
        fn run<T: Num>(
            x: &Tensor,
            ut: &Tensor,
            offs: &[usize],
            inner: usize,
            red: Reduction,
        ) -> OpResult<Data> {
            let mut out = elems::<T>(x, "data")?.to_vec();
            let upd = elems::<T>(ut, "updates")?;
            match red {
                Reduction::None => scatter_blocks(&mut out, offs, inner, upd, |_, u| u),
                Reduction::Add => scatter_blocks(&mut out, offs, inner, upd, T::add),
                Reduction::Mul => scatter_blocks(&mut out, offs, inner, upd, T::mul),
                Reduction::Max => scatter_blocks(&mut out, offs, inner, upd, |a, u| {
                    if T::after(u, a) {
                        u
                    } else {
                        a
                    }
                }),
                Reduction::Min => scatter_blocks(&mut out, offs, inner, upd, |a, u| {
                    if T::after(a, u) {
                        u
                    } else {
                        a
                    }
                }),
            }
            Ok(T::wrap(out))
        }
        let data = match (&x.data, self.reduction) {
            (Data::Bool(_), Reduction::None) => {
                let mut out = elems::<bool>(x, "data")?.to_vec();
                scatter_blocks(
                    &mut out,
                    &offs,
                    inner,
                    elems::<bool>(ut, "updates")?,
                    |_, u| u,
                );
                Data::Bool(out)
            }
            (d, red) => {
                with_num!(d, "ScatterND with a reduction", T => run::<T>(x, ut, &offs, inner, red))?
            }
        };
        Ok(vec![Tensor::new(x.shape.clone(), data)?])
    }
}

//! Operators that keep the elements and change the shape or read it: Reshape, Flatten, Squeeze,
//! Unsqueeze, Identity, Shape and Size.

use super::super::tensor::{OpResult, Tensor};
use super::data::*;
use super::dims::*;
use super::{input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("Reshape", build_reshape),
    ("Flatten", build_flatten),
    ("Squeeze", build_squeeze),
    ("Unsqueeze", build_unsqueeze),
    ("Identity", build_identity),
    ("Shape", build_shape),
    ("Size", build_size),
];

// ---------------------------------------------------------------------------------------------
// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Shape, Size

struct Reshape {
    shape: Ints,
    allowzero: bool,
}

fn build_reshape(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let shape = Ints::since(ctx, 5, "shape", 1)?;
    if matches!(shape, Ints::Absent) {
        return Err("the target shape is missing".into());
    }
    Ok(Box::new(Reshape {
        shape,
        allowzero: ctx.int("allowzero", 0) != 0,
    }))
}

/// The shape Reshape gives `dims` for the target `spec`: 0 copies the input's dimension (unless
/// `allowzero`), one -1 takes what is left.
fn reshape_dims(dims: &[usize], spec: &[i64], allowzero: bool) -> OpResult<Vec<usize>> {
    let total = count(dims)?;
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &v) in spec.iter().enumerate() {
        out.push(match v {
            -1 => {
                if infer.replace(i).is_some() {
                    return Err(format!("the target shape {spec:?} has more than one -1"));
                }
                1
            }
            0 if !allowzero => *dims.get(i).ok_or_else(|| {
                format!(
                    "the 0 at position {i} of the target shape {spec:?} copies a dimension the \
                     input (shape {dims:?}) does not have"
                )
            })?,
            v => usize::try_from(v)
                .map_err(|_| format!("the target shape {spec:?} has the invalid size {v}"))?,
        });
    }
    let bad = || format!("cannot reshape {dims:?} ({total} elements) to {spec:?}");
    let known = count(&out).map_err(|_| bad())?;
    match infer {
        Some(i) => {
            if known == 0 || total % known != 0 {
                return Err(bad());
            }
            out[i] = total / known;
        }
        None if known != total => return Err(bad()),
        None => {}
    }
    Ok(out)
}

impl Op for Reshape {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let spec = self.shape.need(inputs, "shape")?;
        let dims = reshape_dims(&x.shape, &spec, self.allowzero)?;
        Ok(vec![same_data(x, dims)?])
    }
}

struct Flatten {
    axis: i64,
}

fn build_flatten(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Flatten {
        axis: ctx.int("axis", 1),
    }))
}

impl Op for Flatten {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let r = x.rank() as i64;
        if self.axis < -r || self.axis > r {
            return Err(format!(
                "axis {} is out of range for rank {r} (Flatten allows -{r}..={r})",
                self.axis
            ));
        }
        let a = if self.axis < 0 {
            self.axis + r
        } else {
            self.axis
        } as usize;
        let dims = vec![count(&x.shape[..a])?, count(&x.shape[a..])?];
        Ok(vec![same_data(x, dims)?])
    }
}

struct Squeeze {
    axes: Ints,
}

fn build_squeeze(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Squeeze {
        axes: Ints::since(ctx, 13, "axes", 1)?,
    }))
}

impl Op for Squeeze {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        // Empty axes, like none, squeeze every axis of size 1.
        let axes = self.axes.get(inputs, "axes")?.filter(|a| !a.is_empty());
        let dims = match axes {
            None => x.shape.iter().copied().filter(|&d| d != 1).collect(),
            Some(axes) => {
                let axes = axes_in(&axes, x.rank())?;
                if let Some(&a) = axes.iter().find(|&&a| x.shape[a] != 1) {
                    return Err(format!(
                        "cannot squeeze axis {a} of shape {:?}: its size is not 1",
                        x.shape
                    ));
                }
                x.shape
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !axes.contains(i))
                    .map(|(_, &d)| d)
                    .collect()
            }
        };
        Ok(vec![same_data(x, dims)?])
    }
}

struct Unsqueeze {
    axes: Ints,
}

fn build_unsqueeze(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let axes = Ints::since(ctx, 13, "axes", 1)?;
    if matches!(axes, Ints::Absent) {
        return Err("the axes are missing".into());
    }
    Ok(Box::new(Unsqueeze { axes }))
}

impl Op for Unsqueeze {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let axes = self.axes.need(inputs, "axes")?;
        let rank = x.rank() + axes.len();
        let axes = axes_in(&axes, rank)?;
        let mut rest = x.shape.iter();
        let dims = (0..rank)
            .map(|i| {
                if axes.contains(&i) {
                    1
                } else {
                    rest.next().copied().unwrap_or(1)
                }
            })
            .collect();
        Ok(vec![same_data(x, dims)?])
    }
}

struct Identity;

fn build_identity(_: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Identity))
}

impl Op for Identity {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        Ok(vec![input(inputs, 0, "input")?.clone()])
    }
}

struct Shape {
    start: i64,
    end: Option<i64>,
}

fn build_shape(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Shape {
        start: ctx.int("start", 0),
        end: ctx.has("end").then(|| ctx.int("end", 0)),
    }))
}

impl Op for Shape {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let r = x.rank() as i64;
        let clamp = |v: i64| (if v < 0 { v.saturating_add(r) } else { v }).clamp(0, r) as usize;
        let start = clamp(self.start);
        let end = clamp(self.end.unwrap_or(r)).max(start);
        let v: Vec<i64> = x.shape[start..end].iter().map(|&d| d as i64).collect();
        Ok(vec![Tensor::i64(vec![v.len()], v)])
    }
}

struct Size;

fn build_size(_: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Size))
}

impl Op for Size {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        Ok(vec![Tensor::i64(vec![], vec![x.len() as i64])])
    }
}

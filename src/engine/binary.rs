//! Element-wise f32 `Add`, `Sub`, `Mul`, `Div`, `Max`, `Min`, and comparisons of f32, i32 or i64
//! (to bool), with broadcasting, for the nodes tract's optimiser leaves as generic `TypedBinOp`s:
//! shapes with symbols (MiniLM's `[batch, sequence, 384]`), broadcasts of both operands
//! (magika's `[1, 512, 1] * [1, 1, 256]` and its one-hot `[1, 2048, 1] == [1, 1, 257]`), and
//! per-channel scales it has no kernel for on wasm (PP-OCR's `[3, 96, 88] * [1, 1, 88]`).
//! tract evaluates those through ndarray's generic strided iteration, one closure call per
//! element; here the shapes are known at run time, so the work becomes runs of contiguous
//! elements that the compiler vectorises.

use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_hir::internal::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    Eq,
    Ne,
    Lt,
    Gt,
    Lte,
    Gte,
}

impl Kind {
    fn of(op: &TypedBinOp) -> Option<Kind> {
        Some(match op.0.name() {
            "Add" => Kind::Add,
            "Sub" => Kind::Sub,
            "Mul" => Kind::Mul,
            "Div" => Kind::Div,
            "Max" => Kind::Max,
            "Min" => Kind::Min,
            "Eq" => Kind::Eq,
            "NE" => Kind::Ne,
            "LT" => Kind::Lt,
            "GT" => Kind::Gt,
            "LTE" => Kind::Lte,
            "GTE" => Kind::Gte,
            _ => return None,
        })
    }

    fn is_comparison(self) -> bool {
        matches!(
            self,
            Kind::Eq | Kind::Ne | Kind::Lt | Kind::Gt | Kind::Lte | Kind::Gte
        )
    }

    /// Whether the kernel computes this operation on inputs of `input` giving `output`.
    fn takes(self, input: DatumType, output: DatumType) -> bool {
        if self.is_comparison() {
            matches!(input, DatumType::F32 | DatumType::I32 | DatumType::I64)
                && output == DatumType::Bool
        } else {
            input == DatumType::F32 && output == DatumType::F32
        }
    }
}

/// Replaces every `TypedBinOp` the kernel covers; it keeps the original to fall back on.
pub(super) fn replace_generic(model: &mut TypedModel) -> TractResult<()> {
    for id in 0..model.nodes().len() {
        let Some(op) = model.node(id).op_as::<TypedBinOp>() else {
            continue;
        };
        let Some(kind) = Kind::of(op) else {
            continue;
        };
        let fallback = op.clone();
        let covered = {
            let facts = model.node_input_facts(id)?;
            let output = model.node(id).outputs[0].fact.datum_type;
            facts.len() == 2
                && facts[0].datum_type == facts[1].datum_type
                && kind.takes(facts[0].datum_type, output)
        };
        if !covered {
            continue;
        }
        model.node_mut(id).op = Box::new(Broadcast { kind, fallback });
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Broadcast {
    kind: Kind,
    fallback: TypedBinOp,
}

impl Op for Broadcast {
    fn name(&self) -> StaticName {
        format!("Broadcast{:?}", self.kind).into()
    }

    op_as_typed_op!();
}

impl EvalOp for Broadcast {
    op_out_of_plan!();

    fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        use DatumType::{F32, I32, I64};
        let (a, b) = (&inputs[0], &inputs[1]);
        let fast = match (self.kind, a.datum_type(), b.datum_type()) {
            (Kind::Add, F32, F32) => apply(a, b, |x: f32, y: f32| x + y)?,
            (Kind::Sub, F32, F32) => apply(a, b, |x: f32, y: f32| x - y)?,
            (Kind::Mul, F32, F32) => apply(a, b, |x: f32, y: f32| x * y)?,
            (Kind::Div, F32, F32) => apply(a, b, |x: f32, y: f32| x / y)?,
            (Kind::Max, F32, F32) => apply(a, b, f32::max)?,
            (Kind::Min, F32, F32) => apply(a, b, f32::min)?,
            (kind, F32, F32) => compare::<f32>(kind, a, b)?,
            (kind, I32, I32) => compare::<i32>(kind, a, b)?,
            (kind, I64, I64) => compare::<i64>(kind, a, b)?,
            _ => None,
        };
        match fast {
            Some(out) => Ok(tvec!(out.into_tvalue())),
            None => self.fallback.eval(ctx, inputs),
        }
    }
}

impl TypedOp for Broadcast {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.fallback.output_facts(inputs)
    }
}

/// Whether `t` is plain memory in row-major order. Unit axes may carry any stride (tract's
/// `insert_axis` copies its neighbour's), as they never move through memory.
pub(super) fn is_row_major(t: &Tensor) -> bool {
    t.has_plain_ram_storage()
        && (t.shape().iter().zip(t.strides()))
            .zip(Tensor::natural_strides(t.shape()))
            .all(|((&dim, &stride), natural)| dim == 1 || stride == natural)
}

/// `f` over `a` and `b` broadcast together, or `None` for inputs this kernel does not take
/// (strides that are not the natural ones of the shape, shapes that do not broadcast). `f` is a
/// closure, not a function pointer, so that it is inlined into the loops and vectorised.
fn apply<T: Datum + Copy, O: Datum + Copy + Default>(
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(T, T) -> O + Copy,
) -> TractResult<Option<Tensor>> {
    if !is_row_major(a) || !is_row_major(b) {
        return Ok(None);
    }
    let Some(plan) = Loops::new(a.shape(), b.shape()) else {
        return Ok(None);
    };
    let xa = a.try_as_plain_ram()?.as_slice::<T>()?;
    let xb = b.try_as_plain_ram()?.as_slice::<T>()?;
    let mut out = vec![O::default(); plan.len()];
    plan.run(xa, xb, &mut out, f);
    let out = tract_ndarray::ArrayD::from_shape_vec(plan.shape, out)?;
    Ok(Some(out.into_tensor()))
}

/// A comparison to bool; `None` for an arithmetic kind.
fn compare<T: Datum + Copy + PartialOrd>(
    kind: Kind,
    a: &Tensor,
    b: &Tensor,
) -> TractResult<Option<Tensor>> {
    match kind {
        Kind::Eq => apply(a, b, |x: T, y: T| x == y),
        Kind::Ne => apply(a, b, |x: T, y: T| x != y),
        Kind::Lt => apply(a, b, |x: T, y: T| x < y),
        Kind::Gt => apply(a, b, |x: T, y: T| x > y),
        Kind::Lte => apply(a, b, |x: T, y: T| x <= y),
        Kind::Gte => apply(a, b, |x: T, y: T| x >= y),
        _ => Ok(None),
    }
}

/// A broadcast as nested loops: the output's shape, and per axis (adjacent axes merged where
/// both operands allow) its length and each operand's step, 0 where it is broadcast.
struct Loops {
    shape: Vec<usize>,
    axes: Vec<(usize, usize, usize)>,
}

impl Loops {
    fn new(a: &[usize], b: &[usize]) -> Option<Loops> {
        let rank = a.len().max(b.len());
        let pad = |s: &[usize]| -> Vec<usize> {
            let mut v = vec![1; rank - s.len()];
            v.extend_from_slice(s);
            v
        };
        let (a, b) = (pad(a), pad(b));
        let mut shape = Vec::with_capacity(rank);
        for (&x, &y) in a.iter().zip(&b) {
            shape.push(match (x, y) {
                _ if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => return None,
            });
        }
        // Natural strides, 0 on broadcast axes; innermost axis last.
        let steps = |s: &[usize]| -> Vec<usize> {
            let mut steps = vec![0; rank];
            let mut stride = 1;
            for axis in (0..rank).rev() {
                steps[axis] = if s[axis] == 1 { 0 } else { stride };
                stride *= s[axis];
            }
            steps
        };
        let (sa, sb) = (steps(&a), steps(&b));
        let mut axes: Vec<(usize, usize, usize)> = Vec::with_capacity(rank);
        for axis in (0..rank).rev() {
            let (len, step_a, step_b) = (shape[axis], sa[axis], sb[axis]);
            if len == 1 {
                continue;
            }
            // Merge into the inner axis when each operand continues it (or broadcasts both).
            if let Some(inner) = axes.last_mut() {
                let continues = |step: usize, inner_step: usize| {
                    (step == 0 && inner_step == 0) || (step != 0 && step == inner_step * inner.0)
                };
                if continues(step_a, inner.1) && continues(step_b, inner.2) {
                    inner.0 *= len;
                    continue;
                }
            }
            axes.push((len, step_a, step_b));
        }
        axes.reverse();
        Some(Loops { shape, axes })
    }

    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    fn run<T: Copy, O: Copy>(&self, a: &[T], b: &[T], out: &mut [O], f: impl Fn(T, T) -> O + Copy) {
        if out.is_empty() {
            return;
        }
        let Some(&(inner, step_a, step_b)) = self.axes.last() else {
            // Every axis has length 1.
            if let Some(o) = out.first_mut() {
                *o = f(a[0], b[0]);
            }
            return;
        };
        let outer = &self.axes[..self.axes.len() - 1];
        let mut index = vec![0usize; outer.len()];
        let (mut oa, mut ob) = (0usize, 0usize);
        for chunk in out.chunks_exact_mut(inner) {
            match (step_a, step_b) {
                (1, 1) => {
                    let (xa, xb) = (&a[oa..oa + inner], &b[ob..ob + inner]);
                    for ((o, &x), &y) in chunk.iter_mut().zip(xa).zip(xb) {
                        *o = f(x, y);
                    }
                }
                (1, 0) => {
                    let y = b[ob];
                    for (o, &x) in chunk.iter_mut().zip(&a[oa..oa + inner]) {
                        *o = f(x, y);
                    }
                }
                (0, 1) => {
                    let x = a[oa];
                    for (o, &y) in chunk.iter_mut().zip(&b[ob..ob + inner]) {
                        *o = f(x, y);
                    }
                }
                _ => chunk.fill(f(a[oa], b[ob])),
            }
            // Odometer over the outer axes.
            for (axis, &(len, sa, sb)) in outer.iter().enumerate().rev() {
                index[axis] += 1;
                oa += sa;
                ob += sb;
                if index[axis] < len {
                    break;
                }
                index[axis] = 0;
                oa -= sa * len;
                ob -= sb * len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The broadcast by index arithmetic, element by element.
    fn reference(a: &[usize], b: &[usize], xa: &[f32], xb: &[f32]) -> (Vec<usize>, Vec<f32>) {
        let rank = a.len().max(b.len());
        let pad = |s: &[usize]| [vec![1; rank - s.len()], s.to_vec()].concat();
        let (a, b) = (pad(a), pad(b));
        let shape: Vec<usize> = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| if x == 1 { y } else { x })
            .collect();
        let n: usize = shape.iter().product();
        let offset = |s: &[usize], index: &[usize]| {
            s.iter()
                .zip(index)
                .fold(0, |acc, (&d, &i)| acc * d + if d == 1 { 0 } else { i })
        };
        let mut out = Vec::with_capacity(n);
        for flat in 0..n {
            let mut index = vec![0; rank];
            let mut rest = flat;
            for axis in (0..rank).rev() {
                index[axis] = rest % shape[axis];
                rest /= shape[axis];
            }
            out.push(xa[offset(&a, &index)] - 2.0 * xb[offset(&b, &index)]);
        }
        (shape, out)
    }

    #[test]
    fn broadcasts_like_numpy() {
        let cases: [(&[usize], &[usize]); 9] = [
            (&[2, 3, 4], &[2, 3, 4]),
            (&[2, 3, 4], &[1, 1, 4]),
            (&[3, 4], &[2, 3, 1]),
            (&[1, 5, 1], &[1, 1, 6]),
            (&[2, 1, 3, 1], &[4, 1, 5]),
            (&[2, 3], &[]),
            (&[], &[4]),
            (&[1, 1], &[1]),
            (&[0, 3], &[1, 3]),
        ];
        for (a, b) in cases {
            let xa: Vec<f32> = (0..a.iter().product()).map(|i| i as f32 * 0.5).collect();
            let xb: Vec<f32> = (0..b.iter().product()).map(|i| 1.0 + i as f32).collect();
            let loops = Loops::new(a, b).unwrap();
            let mut out = vec![0.0; loops.len()];
            loops.run(&xa, &xb, &mut out, |x, y| x - 2.0 * y);
            let (shape, want) = reference(a, b, &xa, &xb);
            assert_eq!(loops.shape, shape, "{a:?} {b:?}");
            assert_eq!(out, want, "{a:?} {b:?}");
        }
        assert!(Loops::new(&[2, 3], &[3, 2]).is_none());
    }
}

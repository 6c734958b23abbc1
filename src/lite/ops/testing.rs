//! Helpers shared by the operators' tests: attributes of a `NodeProto`, building one operator by
//! name from [`registry`](super::registry) (or the internal one) and running it, and small test tensors.

use super::super::pb;
use super::super::tensor::{Data, OpResult, Tensor};
use super::{internal_registry, registry, NodeCtx, Op};

pub(super) fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        i: v,
        r#type: 2,
        ..Default::default()
    }
}

pub(super) fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        ints: v.to_vec(),
        r#type: 7,
        ..Default::default()
    }
}

pub(super) fn float(name: &str, v: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        f: v,
        r#type: 1,
        ..Default::default()
    }
}

pub(super) fn string(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        s: v.as_bytes().to_vec(),
        r#type: 3,
        ..Default::default()
    }
}

pub(super) fn strings(name: &str, v: &[&str]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        r#type: 8,
        ..Default::default()
    }
}

/// Builds `op` at `opset` with `attrs`, inputs whose constant values are `consts` (None: a
/// run-time input) and `outputs` named outputs.
pub(super) fn build(
    op: &str,
    opset: i64,
    attrs: Vec<pb::AttributeProto>,
    consts: &[Option<&Tensor>],
    outputs: usize,
) -> OpResult<Box<dyn Op>> {
    let n = consts.len().max(1);
    let node = pb::NodeProto {
        op_type: op.into(),
        attribute: attrs,
        input: (0..n).map(|i| format!("i{i}")).collect(),
        output: (0..outputs).map(|i| format!("o{i}")).collect(),
        ..Default::default()
    };
    let ctx = NodeCtx {
        op_type: op,
        node: &node,
        consts: consts.to_vec(),
        present: vec![true; n],
        opset,
    };
    let (_, b) = registry()
        .into_iter()
        .chain(internal_registry())
        .find(|(name, _)| *name == op)
        .expect("registered");
    let mut built = b(&ctx)?;
    while !built.prepare(consts, usize::MAX)? {}
    Ok(built)
}

/// Builds and runs `op` on `inputs` (all run-time inputs).
pub(super) fn run(
    op: &str,
    opset: i64,
    attrs: Vec<pb::AttributeProto>,
    inputs: &[&Tensor],
) -> OpResult<Vec<Tensor>> {
    let consts = vec![None; inputs.len()];
    let inputs: Vec<Option<&Tensor>> = inputs.iter().map(|&t| Some(t)).collect();
    build(op, opset, attrs, &consts, 1)?.run(&inputs)
}

/// Builds `op` with every input a constant, as the engine's `Rebuild` does for an operator whose
/// weights the model computes, and runs it.
pub(super) fn run_consts(
    op: &str,
    opset: i64,
    attrs: Vec<pb::AttributeProto>,
    inputs: &[&Tensor],
) -> OpResult<Vec<Tensor>> {
    let args: Vec<Option<&Tensor>> = inputs.iter().map(|&t| Some(t)).collect();
    build(op, opset, attrs, &args, 1)?.run(&args)
}

/// Builds `op` at opset 21 (every input a run-time value) with `outputs` named outputs and runs
/// it.
pub(super) fn run_op(
    op: &str,
    attrs: &[pb::AttributeProto],
    inputs: &[&Tensor],
    outputs: usize,
) -> OpResult<Vec<Tensor>> {
    let consts = vec![None; inputs.len()];
    let built = build(op, 21, attrs.to_vec(), &consts, outputs)?;
    let args: Vec<Option<&Tensor>> = inputs.iter().map(|&t| Some(t)).collect();
    built.run(&args)
}

/// [`run_op`]'s only output.
pub(super) fn run1(op: &str, attrs: &[pb::AttributeProto], inputs: &[&Tensor]) -> OpResult<Tensor> {
    let mut out = run_op(op, attrs, inputs, 1)?;
    out.pop().ok_or_else(|| "no output".into())
}

#[track_caller]
pub(super) fn fails<T>(r: OpResult<T>, fragment: &str) {
    match r {
        Ok(_) => panic!("expected an error mentioning {fragment:?}"),
        Err(e) => assert!(e.contains(fragment), "{e:?} should mention {fragment:?}"),
    }
}

/// The error of `r`, which must be one.
#[track_caller]
pub(super) fn err<T>(r: OpResult<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

/// A float32 tensor of `shape` holding -3 to 3 in turn.
pub(super) fn x(shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::f32(
        shape.to_vec(),
        (0..n).map(|i| (i % 7) as f32 - 3.0).collect(),
    )
}

/// A float32 tensor of `shape` holding 0, 1, 2...
pub(super) fn iota(shape: &[usize]) -> Tensor {
    let n = shape.iter().product::<usize>();
    Tensor::f32(shape.to_vec(), (0..n).map(|i| i as f32).collect())
}

/// A float32 tensor of `shape` without elements (which the shape may not allow).
pub(super) fn empty(shape: &[usize]) -> Tensor {
    Tensor {
        shape: shape.to_vec(),
        data: Data::F32(vec![]),
    }
}

pub(super) fn f32s_of(v: &[f32]) -> Tensor {
    Tensor::f32(vec![v.len()], v.to_vec())
}

pub(super) fn i64s_of(v: &[i64]) -> Tensor {
    Tensor::i64(vec![v.len()], v.to_vec())
}

pub(super) fn scalar(v: i64) -> Tensor {
    Tensor::i64(vec![], vec![v])
}

/// Builds `op` at opset 17 (every input a run-time value) and runs it: its first output.
pub(super) fn eval(
    op: &str,
    attrs: Vec<pb::AttributeProto>,
    inputs: &[&Tensor],
) -> OpResult<Tensor> {
    Ok(run(op, 17, attrs, inputs)?.remove(0))
}

pub(super) fn f(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::f32(shape.to_vec(), v.to_vec())
}

pub(super) fn i(shape: &[usize], v: &[i64]) -> Tensor {
    Tensor::i64(shape.to_vec(), v.to_vec())
}

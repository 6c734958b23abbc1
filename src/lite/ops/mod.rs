//! The lite engine's operators. Each is built once per node at load, from the node's attributes
//! and whichever of its inputs are constants (convolution and MatMul weights are packed then),
//! and run on every call.

mod binary;
mod cast;
mod common;
mod conv;
mod data;
mod dims;
mod elementwise;
mod gather;
mod gemv;
mod generate;
mod ml;
mod norm;
mod pool;
mod quant;
mod reduce;
mod reshape;
mod resize;
mod rnn;
mod scan;
mod simd;
mod slice;
mod softmax;
#[cfg(test)]
mod testing;
mod transpose;
mod unary;

use super::f16;
pub use ml::zipmap_output;
pub use quant::{qdq_matmuls, INTERNAL_DOMAIN};

use super::pb;
use super::tensor::{Data, OpResult, Tensor, TYPES};

/// A node's computation, built at load.
pub trait Op: Send + Sync {
    /// Computes the node's outputs. `inputs` has one entry per input of the node, `None` for an
    /// omitted optional input (an empty name in the model).
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>>;

    /// Offers the node that alone consumes this node's only output. An operator that can apply
    /// it to its result (Conv followed by Relu, Clip or BatchNormalization, for example) does so
    /// from now on and returns true: the engine then drops the other node. `next.consts` holds
    /// its constant inputs; its first input is this node's output.
    fn fuse(&mut self, next: &NodeCtx) -> bool {
        let _ = next;
        false
    }

    /// Load-time work left once the operator is built (packing constant weights), done about
    /// `floats` values at a time so that a load can pause in between: true once none is left.
    /// The engine calls it until then, before the operator runs or is offered a node to fuse.
    /// `consts` are the node's constant inputs, as its builder was given them.
    fn prepare(&mut self, consts: &[Option<&Tensor>], floats: usize) -> OpResult<bool> {
        let _ = (consts, floats);
        Ok(true)
    }

    /// For a node whose inputs are all constant, its outputs if `prepare` computed them (taken
    /// once); `None` has the engine fold the node by running it.
    fn take_folded(&mut self) -> Option<Vec<Tensor>> {
        None
    }
}

/// What an operator's builder knows about its node at load.
pub struct NodeCtx<'a> {
    pub op_type: &'a str,
    /// The ONNX node, for its attributes.
    pub node: &'a pb::NodeProto,
    /// One entry per input: the value when it is a constant (an initializer, a Constant node's
    /// output, or computed from constants at load), `None` otherwise or when omitted.
    pub consts: Vec<Option<&'a Tensor>>,
    /// Whether each input is given (not omitted with an empty name).
    pub present: Vec<bool>,
    /// The opset version of the node's domain.
    pub opset: i64,
}

/// What [`NodeCtx::const_input`] says of an input computed at run time: the engine then builds
/// that node's operator again at each run, from the values of the run.
pub const NOT_CONSTANT: &str = "to be a constant of the model";

/// Builds an operator for a node.
pub type Builder = fn(&NodeCtx) -> OpResult<Box<dyn Op>>;

/// Every operator of the lite engine, by ONNX name (default domain).
pub fn registry() -> Vec<(&'static str, Builder)> {
    let mut ops = vec![];
    ops.extend_from_slice(conv::OPS);
    ops.extend_from_slice(unary::OPS);
    ops.extend_from_slice(binary::OPS);
    ops.extend_from_slice(cast::OPS);
    ops.extend_from_slice(pool::OPS);
    ops.extend_from_slice(norm::OPS);
    ops.extend_from_slice(softmax::OPS);
    ops.extend_from_slice(reduce::OPS);
    ops.extend_from_slice(resize::OPS);
    ops.extend_from_slice(rnn::OPS);
    ops.extend_from_slice(reshape::OPS);
    ops.extend_from_slice(transpose::OPS);
    ops.extend_from_slice(slice::OPS);
    ops.extend_from_slice(gather::OPS);
    ops.extend_from_slice(generate::OPS);
    ops.extend_from_slice(scan::OPS);
    ops.extend_from_slice(quant::OPS);
    ops
}

/// The operators of the engine's own domain, [`INTERNAL_DOMAIN`], which its load-time rewrites
/// write (not a model).
pub fn internal_registry() -> Vec<(&'static str, Builder)> {
    quant::INTERNAL_OPS.to_vec()
}

/// The lite engine's operators of the `ai.onnx.ml` domain (scikit-learn models), by name.
pub fn ml_registry() -> Vec<(&'static str, Builder)> {
    ml::OPS.to_vec()
}

impl NodeCtx<'_> {
    fn attr(&self, name: &str) -> Option<&pb::AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.attr(name).is_some()
    }

    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).map(|a| a.i).unwrap_or(default)
    }

    pub fn float(&self, name: &str, default: f32) -> f32 {
        self.attr(name).map(|a| a.f).unwrap_or(default)
    }

    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.attr(name).map(|a| a.ints.clone())
    }

    pub fn floats(&self, name: &str) -> Option<Vec<f32>> {
        self.attr(name).map(|a| a.floats.clone())
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.attr(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    pub fn tensor(&self, name: &str) -> OpResult<Option<Tensor>> {
        match self.attr(name).and_then(|a| a.t.as_ref()) {
            Some(t) => from_proto(t).map(Some),
            None => Ok(None),
        }
    }

    /// Input `i`'s constant value, or an error saying the lite engine needs it constant.
    pub fn const_input(&self, i: usize, what: &str) -> OpResult<&Tensor> {
        self.consts
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| format!("the lite build needs input {i} ({what}) {NOT_CONSTANT}"))
    }

    /// Whether input `i` is given.
    pub fn given(&self, i: usize) -> bool {
        self.present.get(i).copied().unwrap_or(false)
    }
}

/// Input `i` of a node at run time, or an error naming it when it is missing.
pub fn input<'a>(inputs: &[Option<&'a Tensor>], i: usize, name: &str) -> OpResult<&'a Tensor> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| format!("input {i} ({name}) is missing"))
}

/// A float32 tensor's elements, or an error naming the input.
pub fn f32s<'a>(t: &'a Tensor, name: &str) -> OpResult<&'a [f32]> {
    t.as_f32().map_err(|e| format!("input {name}: {e}"))
}

/// Decodes a `TensorProto` (initializer or attribute) whose data is inside the model.
pub fn from_proto(t: &pb::TensorProto) -> OpResult<Tensor> {
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("tensor '{}' has dimension {d}", t.name)))
        .collect::<OpResult<Vec<usize>>>()?;
    if !t.external_data.is_empty() || t.data_location == Some(1) {
        return Err(format!(
            "tensor '{}' keeps its data in an external file, which onnxlet cannot read",
            t.name
        ));
    }
    let raw = &t.raw_data;
    fn le<const N: usize, T>(raw: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
        raw.chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks_exact")))
            .collect()
    }
    let data = match t.data_type {
        1 if !raw.is_empty() => Data::F32(le(raw, f32::from_le_bytes)),
        1 => Data::F32(t.float_data.clone()),
        7 if !raw.is_empty() => Data::I64(le(raw, i64::from_le_bytes)),
        7 => Data::I64(t.int64_data.clone()),
        6 if !raw.is_empty() => Data::I32(le(raw, i32::from_le_bytes)),
        6 => Data::I32(t.int32_data.clone()),
        9 if !raw.is_empty() => Data::Bool(raw.iter().map(|&b| b != 0).collect()),
        9 => Data::Bool(t.int32_data.iter().map(|&b| b != 0).collect()),
        2 if !raw.is_empty() => Data::U8(raw.to_vec()),
        2 => Data::U8(t.int32_data.iter().map(|&b| b as u8).collect()),
        3 if !raw.is_empty() => Data::I8(raw.iter().map(|&b| b as i8).collect()),
        3 => Data::I8(t.int32_data.iter().map(|&b| b as i8).collect()),
        8 => Data::Str(
            t.string_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        ),
        // float16, kept as float32; without raw data, each value's bits are in an int32.
        10 if !raw.is_empty() => Data::F32(le(raw, |b| f16::to_f32(u16::from_le_bytes(b)))),
        10 => Data::F32(
            t.int32_data
                .iter()
                .map(|&b| f16::to_f32(b as u16))
                .collect(),
        ),
        other => {
            return Err(format!(
                "tensor '{}' has ONNX element type {other}, which the lite build does not \
                 compute with (it has {TYPES})",
                t.name
            ))
        }
    };
    Tensor::new(shape, data).map_err(|e| format!("tensor '{}' has {e}", t.name))
}

//! Decoding a model's weights with as few copies alive at once as possible.
//!
//! Decoding a whole `ModelProto` copies every initializer out of the model's bytes, and tract
//! then copies each one again into a tensor while the protobuf is alive: three copies of the
//! weights at the peak. Here the protobuf is walked field by field instead. Everything but the
//! top-level initializers is decoded first; then the initializers are turned into tensors
//! straight from the bytes, last one first, and the bytes are cut behind each one, so the
//! buffer shrinks as the tensors grow. The graph handed to tract holds small placeholders,
//! which [`restore`] swaps for the real tensors once tract has parsed it.

use std::ops::Range;
use std::sync::Arc;

use prost::Message;
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::{bail, ensure, format_err};
use tract_onnx::tract_hir::ops::konst::Const;

use crate::error::{Error, Result};

/// Field numbers in onnx.proto.
const MODEL_GRAPH: u32 = 7;
const GRAPH_INITIALIZER: u32 = 5;
const TENSOR_RAW_DATA: u32 = 9;

/// Placeholders are empty tensors of shape `[0, PLACEHOLDER + index]`: unique, so tract does
/// not merge them, and unlike any real constant.
const PLACEHOLDER: usize = 0x6f6e_0000;

/// The bytes are only shrunk when that frees at least this much.
const SHRINK_STEP: usize = 1 << 20;

/// A decoded model, and the tensors its placeholders stand for (empty when there are none).
pub(super) struct Decoded {
    pub proto: pb::ModelProto,
    pub weights: Vec<Arc<Tensor>>,
}

/// One field of a protobuf message: the whole record, and the payload of a length-delimited one.
struct Field {
    number: u32,
    record: Range<usize>,
    payload: Range<usize>,
}

fn invalid(what: impl std::fmt::Display) -> Error {
    Error::invalid_model(format!("not a valid ONNX model: {what}"))
}

fn varint(bytes: &[u8], pos: &mut usize, end: usize) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes[..end]
            .get(*pos)
            .ok_or_else(|| invalid("the protobuf ends inside a varint"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(invalid("a protobuf varint is longer than 10 bytes"))
}

/// The fields of the message in `bytes[range]`, in order.
fn fields(bytes: &[u8], range: Range<usize>) -> Result<Vec<Field>> {
    let mut fields = vec![];
    let mut pos = range.start;
    while pos < range.end {
        let start = pos;
        let key = varint(bytes, &mut pos, range.end)?;
        let number = (key >> 3) as u32;
        let skip = match key & 7 {
            0 => {
                varint(bytes, &mut pos, range.end)?;
                0
            }
            1 => 8,
            2 => usize::try_from(varint(bytes, &mut pos, range.end)?)
                .map_err(|_| invalid("a protobuf field is too long"))?,
            5 => 4,
            other => return Err(invalid(format!("unsupported protobuf wire type {other}"))),
        };
        let payload = pos..pos
            .checked_add(skip)
            .filter(|&e| e <= range.end)
            .ok_or_else(|| {
                invalid(format!(
                    "field {number} runs past the end of its message (the model is truncated?)"
                ))
            })?;
        pos = payload.end;
        fields.push(Field {
            number,
            record: start..pos,
            payload,
        });
    }
    Ok(fields)
}

fn merge<M: Message>(message: &mut M, bytes: &[u8]) -> Result<()> {
    message.merge(bytes).map_err(invalid)
}

/// Decodes `bytes` (consumed) into a model whose top-level initializers are placeholders for
/// [`Decoded::weights`]. Models with top-level `If` nodes are decoded whole instead: their
/// branches are specialised on the protobuf later, which needs the real initializers.
pub(super) fn decode(mut bytes: Vec<u8>) -> Result<Decoded> {
    let top = fields(&bytes, 0..bytes.len())?;
    let graphs: Vec<&Field> = top.iter().filter(|f| f.number == MODEL_GRAPH).collect();
    let [graph_field] = graphs[..] else {
        return decode_whole(bytes);
    };
    let mut proto = pb::ModelProto::default();
    for field in top.iter().filter(|f| f.number != MODEL_GRAPH) {
        merge(&mut proto, &bytes[field.record.clone()])?;
    }
    let mut graph = pb::GraphProto::default();
    let mut initializers = vec![];
    for field in fields(&bytes, graph_field.payload.clone())? {
        if field.number == GRAPH_INITIALIZER {
            initializers.push(field);
        } else {
            merge(&mut graph, &bytes[field.record])?;
        }
    }
    if graph.node.iter().any(|n| n.op_type == "If") {
        return decode_whole(bytes);
    }
    let mut placeholders = Vec::with_capacity(initializers.len());
    let mut weights = Vec::with_capacity(initializers.len());
    // Last first: everything after an initializer has been decoded by the time the bytes are
    // cut at its start.
    for (index, field) in initializers.iter().enumerate().rev() {
        let (placeholder, tensor) = weight(&bytes, field.payload.clone(), index)?;
        placeholders.push(placeholder);
        weights.push(Arc::new(tensor));
        bytes.truncate(field.record.start);
        if bytes.capacity() - bytes.len() >= SHRINK_STEP {
            bytes.shrink_to_fit();
        }
    }
    drop(bytes);
    placeholders.reverse();
    weights.reverse();
    graph.initializer = placeholders;
    proto.graph = Some(graph);
    Ok(Decoded { proto, weights })
}

fn decode_whole(bytes: Vec<u8>) -> Result<Decoded> {
    let proto = pb::ModelProto::decode(bytes.as_slice()).map_err(invalid)?;
    Ok(Decoded {
        proto,
        weights: vec![],
    })
}

/// The initializer in `bytes[payload]` as a tensor, and its placeholder.
fn weight(bytes: &[u8], payload: Range<usize>, index: usize) -> Result<(pb::TensorProto, Tensor)> {
    let mut meta = pb::TensorProto::default();
    let mut raw = None;
    for field in fields(bytes, payload.clone())? {
        if field.number == TENSOR_RAW_DATA {
            raw = Some(field.payload);
        } else {
            merge(&mut meta, &bytes[field.record])?;
        }
    }
    let name = meta.name.clone();
    let context = |e: TractError| invalid(format!("initializer '{name}': {e:#}"));
    let tensor = match raw {
        Some(raw) => from_raw(&meta, &bytes[raw]).map_err(context)?,
        None => {
            tract_onnx::tensor::load_tensor(&*tract_onnx::data_resolver::default(), &meta, None)
                .map_err(context)?
        }
    };
    let placeholder = pb::TensorProto {
        name: meta.name,
        data_type: meta.data_type,
        dims: vec![0, (PLACEHOLDER + index) as i64],
        ..Default::default()
    };
    Ok((placeholder, tensor))
}

/// A tensor from an initializer's `raw_data` (little-endian, as ONNX stores it).
fn from_raw(meta: &pb::TensorProto, raw: &[u8]) -> TractResult<Tensor> {
    let onnx_type = pb::tensor_proto::DataType::try_from(meta.data_type)
        .map_err(|_| format_err!("unknown ONNX element type {}", meta.data_type))?;
    let dt: DatumType = onnx_type.try_into()?;
    let shape = meta
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format_err!("negative dimension {d}")))
        .collect::<TractResult<Vec<usize>>>()?;
    let plain = [
        DatumType::U8,
        DatumType::U16,
        DatumType::U32,
        DatumType::U64,
        DatumType::I8,
        DatumType::I16,
        DatumType::I32,
        DatumType::I64,
        DatumType::F16,
        DatumType::F32,
        DatumType::F64,
    ];
    if dt == DatumType::Bool {
        // SAFETY: any byte is a valid u8.
        let bytes = unsafe { Tensor::from_raw_dt(DatumType::U8, &shape, raw)? };
        return Ok(bytes
            .into_plain_array::<u8>()?
            .mapv(|x| x != 0)
            .into_tensor());
    }
    ensure!(
        plain.contains(&dt),
        "raw data of type {dt:?} is not supported"
    );
    // SAFETY: every bit pattern is a valid value of these plain numeric types, and
    // `from_raw_dt` checks the length against the shape.
    unsafe { Tensor::from_raw_dt(dt, &shape, raw) }
}

/// Replaces the placeholders in a model tract parsed from [`Decoded::proto`] by the tensors.
pub(super) fn restore(model: &mut InferenceModel, weights: &[Arc<Tensor>]) -> TractResult<()> {
    if weights.is_empty() {
        return Ok(());
    }
    let mut found = vec![false; weights.len()];
    for id in 0..model.nodes().len() {
        let index = match model.node(id).op_as::<Const>().map(|c| c.val().shape()) {
            Some(&[0, n]) if (PLACEHOLDER..PLACEHOLDER + weights.len()).contains(&n) => {
                n - PLACEHOLDER
            }
            _ => continue,
        };
        let weight = weights[index].clone();
        let node = model.node_mut(id);
        node.outputs[0].fact = TypedFact::try_from(weight.clone())?.into();
        node.op = Const::new(weight)?.into();
        found[index] = true;
    }
    if let Some(missing) = found.iter().position(|f| !f) {
        bail!("initializer #{missing} was lost while parsing the graph");
    }
    Ok(())
}

//! Specialisation of top-level `If` nodes whose condition follows from constants and a few
//! small inputs (a sample rate, a mode flag). tract analyses both branches of an `If`, so a
//! model whose branches only make sense for one value of such an input cannot be typed as
//! is; for given input values, the condition is computed with tract and the taken branch
//! replaces the `If`.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::tensor::HostTensor;

/// The nodes a value depends on, in graph order, and the graph inputs it reads; `None` when
/// it depends on a node with a subgraph (whose captured values are not followed).
fn ancestors(graph: &pb::GraphProto, value: &str) -> Option<(Vec<usize>, Vec<String>)> {
    let producers: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(ix, n)| n.output.iter().map(move |o| (o.as_str(), ix)))
        .collect();
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let mut nodes = HashSet::new();
    let mut inputs = vec![];
    let mut todo = vec![value];
    while let Some(name) = todo.pop() {
        if name.is_empty() || initializers.contains(name) {
            continue;
        }
        if let Some(&ix) = producers.get(name) {
            let node = &graph.node[ix];
            if node
                .attribute
                .iter()
                .any(|a| a.g.is_some() || !a.graphs.is_empty())
            {
                return None;
            }
            if nodes.insert(ix) {
                todo.extend(node.input.iter().map(String::as_str));
            }
        } else if !inputs.iter().any(|i| i == name) {
            inputs.push(name.to_string());
        }
    }
    let mut nodes: Vec<usize> = nodes.into_iter().collect();
    nodes.sort_unstable();
    Some((nodes, inputs))
}

/// Names of the graph inputs that the conditions of top-level `If` nodes depend on.
pub(super) fn condition_inputs(proto: &pb::ModelProto) -> Vec<String> {
    let Some(graph) = proto.graph.as_ref() else {
        return vec![];
    };
    let mut names = vec![];
    for node in graph.node.iter().filter(|n| n.op_type == "If") {
        if let Some((_, inputs)) = node.input.first().and_then(|c| ancestors(graph, c)) {
            for input in inputs {
                if !names.contains(&input) {
                    names.push(input);
                }
            }
        }
    }
    names
}

/// Computes `value` from constants, the values of `values` and the shapes of `inputs`, or
/// `None` when it needs anything else (or tract cannot fold it).
fn evaluate(
    onnx: &tract_onnx::Onnx,
    proto: &pb::ModelProto,
    value: &str,
    inputs: &HashMap<&str, (&HostTensor, bool)>,
) -> Option<Tensor> {
    let graph = proto.graph.as_ref()?;
    let (nodes, needed) = ancestors(graph, value)?;
    let used: HashSet<&str> = nodes
        .iter()
        .flat_map(|&ix| graph.node[ix].input.iter().map(String::as_str))
        .collect();
    let mut initializer: Vec<pb::TensorProto> = graph
        .initializer
        .iter()
        .filter(|t| used.contains(t.name.as_str()))
        .cloned()
        .collect();
    let mut sources = vec![];
    for name in &needed {
        let (tensor, known) = inputs.get(name.as_str())?;
        if *known {
            initializer.push(pb::TensorProto {
                name: name.clone(),
                dims: tensor.dims().iter().map(|&d| d as i64).collect(),
                data_type: crate::onnx_types::dtype_to_onnx(tensor.dtype()),
                raw_data: tensor.data().to_vec(),
                ..Default::default()
            });
        } else {
            let declared = graph.input.iter().find(|v| &v.name == name)?.clone();
            sources.push((declared, *tensor));
        }
    }
    let sub = pb::ModelProto {
        ir_version: proto.ir_version,
        opset_import: proto.opset_import.clone(),
        graph: Some(pb::GraphProto {
            node: nodes.iter().map(|&ix| graph.node[ix].clone()).collect(),
            initializer,
            input: sources
                .iter()
                .map(|(declared, _)| declared.clone())
                .collect(),
            output: vec![pb::ValueInfoProto {
                name: value.to_string(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut model = onnx.model_for_proto_model(&sub).ok()?;
    for (ix, (_, tensor)) in sources.iter().enumerate() {
        let fact = InferenceFact::dt_shape(
            super::convert::dtype_to_tract(tensor.dtype()),
            tensor.dims(),
        );
        model.set_input_fact(ix, fact).ok()?;
    }
    let typed = model.into_typed().and_then(|m| m.into_decluttered()).ok()?;
    let konst = typed.output_fact(0).ok()?.konst.clone()?;
    Some((*konst).clone())
}

/// Replaces the `If` at `ix` by the nodes of its taken branch.
fn inline(graph: &mut pb::GraphProto, ix: usize, take_then: bool) -> TractResult<()> {
    let node = graph.node.remove(ix);
    let branch = if take_then {
        "then_branch"
    } else {
        "else_branch"
    };
    let body = node
        .attribute
        .iter()
        .find(|a| a.name == branch)
        .and_then(|a| a.g.clone())
        .with_context(|| format!("If node '{}' has no {branch}", node.name))?;
    let mut nodes = body.node;
    for (k, (inner, outer)) in body.output.iter().zip(&node.output).enumerate() {
        // A branch may name its output like the `If`'s own (optimum's merged decoders do): its
        // nodes then make the value already, and an Identity from a name to itself would be a
        // loop.
        if !outer.is_empty() && inner.name != *outer {
            nodes.push(pb::NodeProto {
                name: format!("{}.{branch}.{k}", node.name),
                op_type: "Identity".into(),
                input: vec![inner.name.clone()],
                output: vec![outer.clone()],
                ..Default::default()
            });
        }
    }
    graph.initializer.extend(body.initializer);
    graph.node.splice(ix..ix, nodes);
    Ok(())
}

/// The model with every top-level `If` whose condition follows from constants, input shapes
/// and the values of the `known` inputs replaced by its taken branch (repeatedly, so nested
/// ones brought to the top level are specialised too).
pub(super) fn specialise(
    onnx: &tract_onnx::Onnx,
    proto: &pb::ModelProto,
    inputs: &HashMap<&str, (&HostTensor, bool)>,
) -> TractResult<pb::ModelProto> {
    let mut proto = proto.clone();
    'search: loop {
        let graph = proto.graph.as_ref().context("the model has no graph")?;
        for (ix, node) in graph.node.iter().enumerate() {
            if node.op_type != "If" {
                continue;
            }
            let Some(cond) = node.input.first() else {
                continue;
            };
            if let Some(value) = evaluate(onnx, &proto, cond, inputs) {
                let take_then = value
                    .cast_to_scalar::<bool>()
                    .with_context(|| format!("the condition of If node '{}'", node.name))?;
                inline(proto.graph.as_mut().unwrap(), ix, take_then)?;
                continue 'search;
            }
        }
        return Ok(proto);
    }
}

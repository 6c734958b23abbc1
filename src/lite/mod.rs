//! The lite engine: onnxlet's own interpreter for common float32 models, built instead of
//! tract's engine in the lite build (`--no-default-features --features lite`, shipped as
//! `onnxlet_lite_bg.wasm`). It exists for size: the whole module is a fraction of tract's (see
//! docs/size.md). It computes the operators of `ops::registry()` on float32 (and the integer
//! types of shape arithmetic), with shapes known only when the model runs.
//!
//! Loading decodes the protobuf, checks every operator against the registry, rewrites a QDQ
//! model's MatMuls to multiply integers, turns the initializers into constants, builds each
//! node's operator (which packs its weights), computes the nodes whose inputs are all constant,
//! and offers each operator the node that alone consumes its output (Conv + Relu, ...). Running
//! walks the steps in the model's order and frees each value after its last use.

mod f16;
mod ops;
mod par;
mod pb;
mod tensor;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prost::bytes::Bytes;
use prost::Message;

use crate::error::{Error, ErrorCode, Result};
use crate::loading::{self, Load};
use crate::memory;
use crate::model_buffer::ModelBuffer;
use crate::model_rules;
use crate::onnx_types::{dtype_from_onnx, pin_declared};
use crate::tensor::{DType, Dim, HostTensor, ValueInfo};
use ops::{NodeCtx, Op};
use tensor::{Data, OpResult, Tensor, TYPES};

/// The engine's name, as `engineName()` tells JS.
pub const NAME: &str = "lite";

/// Nothing to set: the lite engine's kernels split their work on whichever pool runs them
/// (`par::tasks`), and a model runs on the threads build's pool (src/pool.rs).
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub(crate) fn use_thread_pool(_: &Arc<rayon::ThreadPool>) {}

/// A loaded model: the declared inputs and outputs, and its main graph.
pub(crate) struct Engine {
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    graph: Graph,
}

/// A graph ready to run: its steps in order, the constants they read, and where its inputs and
/// outputs live. A subgraph (an `If` branch) is one too.
struct Graph {
    consts: Vec<Arc<Tensor>>,
    steps: Vec<Step>,
    values: usize,
    /// The values the caller fills: the graph's inputs, then the values it captures from the
    /// enclosing graphs.
    input_values: Vec<usize>,
    output_slots: Vec<Slot>,
}

/// Where a value is: a constant of the model, or the result of an input or a step.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    Const(usize),
    Value(usize),
}

/// A name a subgraph reads from an enclosing graph: a constant there (shared, not copied), or a
/// value the enclosing step passes in when it runs.
enum Captured {
    Const(Arc<Tensor>),
    Value,
}

struct Step {
    op: Box<dyn Op>,
    op_type: String,
    name: String,
    inputs: Vec<Option<Slot>>,
    /// The value each output is stored in, `None` when the model leaves it unnamed.
    outputs: Vec<Option<usize>>,
    /// Values no later step reads, dropped after this one.
    free: Vec<usize>,
}

impl Engine {
    /// Loads a model from its bytes, freed once decoded.
    pub fn load(bytes: Vec<u8>, overrides: &[(String, usize)]) -> Result<Engine> {
        Engine::from_proto(decode(Bytes::from(bytes))?, overrides)
    }

    /// Loads the model in `buffer`. Its bytes go back there when the checks of what this engine
    /// supports fail, so that a model it cannot run can be handed to the tract module; otherwise
    /// the weights are read from them in place, and the peak stays about twice the model's size.
    /// (What only building finds unsupported, e.g. a 3-D convolution, is refused without the
    /// bytes.)
    pub fn load_buffer(buffer: &mut ModelBuffer, overrides: &[(String, usize)]) -> Result<Engine> {
        loading::finish(Engine::load_buffer_in_steps(buffer, overrides)?)
    }

    /// [`Engine::load_buffer`] as a load polled in slices (see `crate::loading`): the checks
    /// are done (and the bytes taken) before it returns, the graph is built in steps.
    pub fn load_buffer_in_steps(
        buffer: &mut ModelBuffer,
        overrides: &[(String, usize)],
    ) -> Result<Load<Engine>> {
        // The weights are slices of the model's bytes (no copy), each turned into a tensor as
        // the graph is built; the bytes are freed once the last one is.
        let bytes = Bytes::from(buffer.take_bytes());
        match decode(bytes.clone()).and_then(|proto| Checked::new(proto, overrides)) {
            Ok(checked) => Ok(Box::pin(checked.build())),
            Err(e) => {
                // Back in the buffer (not copied: the decoded slices are gone), for the tract
                // module to load a model this engine cannot run.
                buffer.restore(Vec::from(bytes));
                Err(e)
            }
        }
    }

    fn from_proto(proto: pb::ModelProto, overrides: &[(String, usize)]) -> Result<Engine> {
        loading::finish(Checked::new(proto, overrides)?.build())
    }

    /// Whether inputs that share a symbolic dimension must agree on its value: never here, where
    /// every value is sized from the fed shapes (see `session::check_feed`).
    pub fn binds_symbols(&self) -> bool {
        false
    }

    /// Runs the model with a memory budget of `max_memory_bytes` of heap in use.
    pub fn run(&self, inputs: Vec<HostTensor>, max_memory_bytes: usize) -> Result<Vec<HostTensor>> {
        par::on_pool(move || memory::with_budget(max_memory_bytes, || self.run_now(inputs)))
    }

    fn run_now(&self, inputs: Vec<HostTensor>) -> Result<Vec<HostTensor>> {
        fn named<'a>(
            what: &'a str,
            values: &'a [ValueInfo],
            i: usize,
        ) -> impl Fn(Error) -> Error + 'a {
            let name = values.get(i).map(|v| v.name.as_str()).unwrap_or("");
            move |e: Error| Error::new(e.code, format!("{what} '{name}': {}", e.message))
        }
        let inputs = inputs
            .into_iter()
            .enumerate()
            .map(|(i, t)| from_host(t).map_err(named("input", &self.inputs, i)))
            .collect::<Result<Vec<Tensor>>>()?;
        let results = self.graph.run(inputs, |i| {
            format!(
                "output '{}' is an output the lite build does not compute{TRACT_HINT}",
                self.outputs.get(i).map(|o| o.name.as_str()).unwrap_or("")
            )
        })?;
        results
            .into_iter()
            .zip(&self.outputs)
            .enumerate()
            .map(|(i, (t, declared))| {
                to_host(t, declared.dtype).map_err(named("output", &self.outputs, i))
            })
            .collect()
    }
}

/// A decoded model whose operators, declared inputs and element types the lite engine has.
struct Checked {
    graph: pb::GraphProto,
    opset: i64,
    input_names: Vec<String>,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
}

impl Checked {
    fn new(proto: pb::ModelProto, overrides: &[(String, usize)]) -> Result<Checked> {
        let pb::ModelProto {
            graph,
            opset_import,
            ..
        } = proto;
        let imports = || opset_import.iter().map(|o| (o.domain.as_str(), o.version));
        let opset = model_rules::check_opsets(imports())?;
        let graph = graph.ok_or_else(|| {
            Error::invalid_model("not a valid ONNX model: the model has no graph")
        })?;
        model_rules::check_graph(&graph)?;
        check_operators(&graph, imports())?;
        check_element_types(&graph)?;
        let opset = match opset {
            Some(v) => v,
            // A model of ai.onnx.ml operators alone need not import the default domain.
            None if graph.node.iter().all(|n| n.domain == "ai.onnx.ml") => {
                model_rules::MAX_DEFAULT_OPSET
            }
            None => {
                return Err(Error::invalid_model(
                    "not a valid ONNX model: it imports no default-domain opset",
                ))
            }
        };
        let initialized: HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let input_names: Vec<String> = graph
            .input
            .iter()
            .filter(|v| !initialized.contains(v.name.as_str()))
            .map(|v| v.name.clone())
            .collect();
        let output_names: Vec<String> = graph.output.iter().map(|v| v.name.clone()).collect();
        let mut inputs = declared_infos(&graph, &input_names, true)?;
        let outputs = declared_infos(&graph, &output_names, false)?;
        pin_declared(&mut inputs, overrides)?;
        for info in &inputs {
            if !LITE_DTYPES.contains(&info.dtype) {
                return Err(Error::new(
                    ErrorCode::UnsupportedOperator,
                    format!(
                        "input '{}' is {}, which the lite build does not compute with (it has \
                         {TYPES}){TRACT_HINT}",
                        info.name, info.dtype
                    ),
                ));
            }
        }
        Ok(Checked {
            graph,
            opset,
            input_names,
            inputs,
            outputs,
        })
    }

    async fn build(self) -> Result<Engine> {
        let Checked {
            graph,
            opset,
            input_names,
            inputs,
            outputs,
        } = self;
        let graph = Graph::build_in_steps(graph, opset, &input_names, vec![], true).await?;
        Ok(Engine {
            inputs,
            outputs,
            graph,
        })
    }
}

/// The heap one constant fold at load may take, at least: more if the model's weights are larger
/// (twice their size), so that a model whose folded weights are big still folds them. 512 MiB
/// folds the 151 MB fully connected weights that the `onnx` package's light models (alexnet,
/// zfnet512) compute with ConstantOfShape; at 64 MiB they were filled and packed again at every
/// run (4x onnxruntime-web). What all folds take together stays within the session's memory
/// budget, or the default budget (2 GiB): a few bytes cannot make a load of more.
const FOLD_ALLOWANCE: usize = 512 << 20;

/// Values an operator's load-time work ([`Op::prepare`]) writes between two points where a load
/// may pause: 4 MiB, a few milliseconds of packing.
const PREPARE_FLOATS: usize = 1 << 20;

/// The element types the lite engine computes with (float16 as float32).
const LITE_DTYPES: [DType; 8] = [
    DType::Float32,
    DType::Float16,
    DType::Int64,
    DType::Int32,
    DType::Bool,
    DType::Uint8,
    DType::Int8,
    DType::String,
];

/// Refuses, before anything is built, a graph (subgraphs included) with an initializer, a
/// constant or a cast of an element type the lite engine does not compute with: a float64
/// model goes to the tract engine whole.
fn check_element_types(graph: &pb::GraphProto) -> Result<()> {
    let lite = |code: i32| dtype_from_onnx(code).is_some_and(|d| LITE_DTYPES.contains(&d));
    let refuse = |what: String, code: i32| {
        let dtype = dtype_from_onnx(code)
            .map(|d| d.to_string())
            .unwrap_or_else(|| format!("ONNX element type {code}"));
        Err(Error::new(
            ErrorCode::UnsupportedOperator,
            format!(
                "{what} is {dtype}, which the lite build does not compute with (it has \
                 {TYPES}){TRACT_HINT}"
            ),
        ))
    };
    for t in &graph.initializer {
        if !lite(t.data_type) {
            return refuse(format!("initializer '{}'", t.name), t.data_type);
        }
    }
    for node in &graph.node {
        for a in &node.attribute {
            let typed = match (node.op_type.as_str(), a.name.as_str()) {
                ("Constant" | "ConstantOfShape", "value") => a.t.as_ref().map(|t| t.data_type),
                ("Cast", "to") => i32::try_from(a.i).ok(),
                _ => None,
            };
            if let Some(code) = typed.filter(|&c| !lite(c)) {
                let name = if node.name.is_empty() {
                    node.output.first().map(String::as_str).unwrap_or("")
                } else {
                    &node.name
                };
                return refuse(
                    format!("{} node '{name}': its {}", node.op_type, a.name),
                    code,
                );
            }
            for g in a.g.iter().chain(&a.graphs) {
                check_element_types(g)?;
            }
        }
    }
    Ok(())
}

impl Graph {
    /// Builds a graph whose inputs are `input_names` (filled by the caller, in this order) and
    /// which reads the names of `captured` from the enclosing graphs (the `Captured::Value` ones
    /// are filled after the inputs, in this order).
    fn build(
        graph: pb::GraphProto,
        opset: i64,
        input_names: &[String],
        captured: Vec<(String, Captured)>,
    ) -> Result<Graph> {
        loading::finish(Graph::build_in_steps(
            graph,
            opset,
            input_names,
            captured,
            false,
        ))
    }

    /// [`Graph::build`], pausing between initializers and between nodes (see `crate::loading`)
    /// and reporting its progress there when `top` (the model's main graph).
    async fn build_in_steps(
        mut graph: pb::GraphProto,
        opset: i64,
        input_names: &[String],
        captured: Vec<(String, Captured)>,
        top: bool,
    ) -> Result<Graph> {
        // A QDQ model's MatMuls multiply its integers (the names read by subgraphs stay).
        let elsewhere: Vec<String> = graph.node.iter().flat_map(subgraph_names).collect();
        ops::qdq_matmuls(&mut graph, &elsewhere);
        let work = (graph.initializer.len() + graph.node.len()).max(1) as f64;
        let mut done = 0usize;
        let registry: HashMap<&str, ops::Builder> = ops::registry().into_iter().collect();
        let ml_registry: HashMap<&str, ops::Builder> = ops::ml_registry().into_iter().collect();
        let internal: HashMap<&str, ops::Builder> = ops::internal_registry().into_iter().collect();
        let mut consts: Vec<Arc<Tensor>> = vec![];
        let mut names: HashMap<String, Slot> = HashMap::new();
        let mut values = 0;
        let mut input_values = vec![];
        let mut bind_value = |names: &mut HashMap<String, Slot>, name: &str| {
            names.insert(name.to_string(), Slot::Value(values));
            input_values.push(values);
            values += 1;
        };
        for name in input_names {
            bind_value(&mut names, name);
        }
        for (name, c) in captured {
            match c {
                Captured::Const(t) => {
                    names.insert(name, Slot::Const(consts.len()));
                    consts.push(t);
                }
                Captured::Value => bind_value(&mut names, &name),
            }
        }
        let mut weight_bytes = 0usize;
        for init in std::mem::take(&mut graph.initializer) {
            if top {
                loading::pause(done as f64 / work).await;
                done += 1;
            }
            let t = ops::from_proto(&init)
                .map_err(|e| Error::invalid_model(format!("initializer {e}")))?;
            let size = t.dtype().size().unwrap_or(1);
            weight_bytes = weight_bytes.saturating_add(t.len().saturating_mul(size));
            names.insert(init.name, Slot::Const(consts.len()));
            consts.push(Arc::new(t));
        }
        let fold_allowance = FOLD_ALLOWANCE.max(weight_bytes.saturating_mul(2));
        let output_names: Vec<String> = graph.output.iter().map(|v| v.name.clone()).collect();

        // How many readers each name has (subgraphs included): an operator may take over the node
        // that alone reads its output.
        let subgraph_reads: Vec<Vec<String>> = graph.node.iter().map(subgraph_names).collect();
        let mut readers: HashMap<&str, usize> = HashMap::new();
        for name in graph
            .node
            .iter()
            .flat_map(|n| &n.input)
            .chain(subgraph_reads.iter().flatten())
            .chain(&output_names)
        {
            *readers.entry(name.as_str()).or_default() += 1;
        }

        let mut steps: Vec<Step> = vec![];
        for (node, reads) in graph.node.iter().zip(&subgraph_reads) {
            if top {
                loading::pause(done as f64 / work).await;
                done += 1;
            }
            let node_name = if node.name.is_empty() {
                node.output.first().cloned().unwrap_or_default()
            } else {
                node.name.clone()
            };
            let at = |msg: String| format!("{} node '{node_name}': {msg}", node.op_type);
            let slot_of = |name: &String| -> Result<Option<Slot>> {
                if name.is_empty() {
                    return Ok(None);
                }
                names.get(name).copied().map(Some).ok_or_else(|| {
                    Error::invalid_model(at(format!(
                        "input '{name}' is not produced by any earlier node, graph input \
                         or initializer"
                    )))
                })
            };
            let mut slots = node
                .input
                .iter()
                .map(slot_of)
                .collect::<Result<Vec<Option<Slot>>>>()?;
            let ctx_consts = |slots: &[Option<Slot>], order: &[usize]| -> Vec<Option<&Tensor>> {
                order
                    .iter()
                    .map(|&i| match slots[i] {
                        Some(Slot::Const(c)) => Some(&*consts[c]),
                        _ => None,
                    })
                    .collect()
            };

            // Fusion into the step producing this node's first (or, for Add and Mul, second)
            // input, when that step has one output and this node is its only reader.
            let order = fusion_order(node, &slots);
            if let Some(order) = order {
                let source = &node.input[order[0]];
                let producer = match slots[order[0]] {
                    Some(Slot::Value(v)) => steps.iter().rposition(|s| {
                        s.outputs.iter().flatten().count() == 1 && s.outputs.contains(&Some(v))
                    }),
                    _ => None,
                };
                let alone = readers.get(source.as_str()) == Some(&1) && node.output.len() == 1;
                if let (Some(p), true) = (producer, alone) {
                    let ctx = NodeCtx {
                        op_type: &node.op_type,
                        node,
                        consts: ctx_consts(&slots, &order),
                        present: order.iter().map(|&i| slots[i].is_some()).collect(),
                        opset,
                    };
                    if steps[p].op.fuse(&ctx) {
                        let out = steps[p].outputs.iter().flatten().next().copied();
                        if let (Some(v), Some(name)) = (out, node.output.first()) {
                            names.insert(name.clone(), Slot::Value(v));
                            steps[p].name = format!("{} + {node_name}", steps[p].name);
                            continue;
                        }
                    }
                }
            }

            let mut op: Box<dyn Op> = if node.op_type == "If" {
                // The names the branches read from this graph become inputs of the step.
                let captured: Vec<(String, Option<Slot>)> = reads
                    .iter()
                    .map(|n| slot_of(n).map(|s| (n.clone(), s)))
                    .collect::<Result<_>>()?;
                let op = IfOp::build(node, opset, &captured, &consts)
                    .map_err(|e| Error::new(e.code, at(e.message)))?;
                slots.extend(
                    captured
                        .iter()
                        .filter(|(_, s)| matches!(s, Some(Slot::Value(_))))
                        .map(|(_, s)| *s),
                );
                Box::new(op)
            } else {
                let registry = match node.domain.as_str() {
                    "ai.onnx.ml" => &ml_registry,
                    ops::INTERNAL_DOMAIN => &internal,
                    _ => &registry,
                };
                let build = registry.get(node.op_type.as_str()).ok_or_else(|| {
                    Error::new(
                        ErrorCode::UnsupportedOperator,
                        at("not in the lite build".into()),
                    )
                })?;
                let all: Vec<usize> = (0..slots.len()).collect();
                let ctx = NodeCtx {
                    op_type: &node.op_type,
                    node,
                    consts: ctx_consts(&slots, &all),
                    present: slots.iter().map(Option::is_some).collect(),
                    opset,
                };
                match build(&ctx) {
                    Ok(op) => op,
                    // Weights computed at run time: the operator is built at each run.
                    Err(e) if e.contains(ops::NOT_CONSTANT) => Box::new(Rebuild {
                        build: *build,
                        node: detached(node),
                        opset,
                    }),
                    Err(e) => return Err(load_error(at(e))),
                }
            };
            // A node whose inputs are all constant is computed once, here (folded), within an
            // allowance (see FOLD_ALLOWANCE) and the memory budget: an output beyond them (a few
            // bytes of ConstantOfShape that expand to gigabytes) is computed when the model
            // runs, under the session's budget.
            let constant = slots.iter().all(|s| !matches!(s, Some(Slot::Value(_))));
            let limit = constant.then(|| {
                memory::heap_usage()
                    .allocated
                    .saturating_add(fold_allowance)
                    .min(memory::budget().unwrap_or(memory::DEFAULT_MAX_MEMORY_BYTES))
            });
            // The operator's load-time work (packing its weights, filling a constant), a piece
            // at a time: a load pauses in between, so that it can be aborted, or the page draw a
            // frame.
            let all: Vec<usize> = (0..slots.len()).collect();
            let mut over_budget = false;
            {
                let args = ctx_consts(&slots, &all);
                loop {
                    let prepared = match limit {
                        Some(l) => memory::with_budget(l, || op.prepare(&args, PREPARE_FLOATS)),
                        None => op.prepare(&args, PREPARE_FLOATS),
                    };
                    match prepared {
                        Ok(true) => break,
                        Ok(false) if top => loading::pause(done as f64 / work).await,
                        Ok(false) => {}
                        Err(e) if constant && e.contains(memory::OVER_BUDGET) => {
                            over_budget = true;
                            break;
                        }
                        Err(e) => return Err(load_error(at(e))),
                    }
                }
            }
            if let (Some(limit), false) = (limit, over_budget) {
                let folded = match op.take_folded() {
                    Some(results) => Some(results),
                    None => {
                        match memory::with_budget(limit, || op.run(&ctx_consts(&slots, &all))) {
                            Ok(results) => Some(results),
                            Err(e) if e.contains(memory::OVER_BUDGET) => None,
                            Err(e) => return Err(load_error(at(e))),
                        }
                    }
                };
                if let Some(results) = folded {
                    for (name, t) in node.output.iter().zip(results) {
                        if !name.is_empty() {
                            names.insert(name.clone(), Slot::Const(consts.len()));
                            consts.push(Arc::new(t));
                        }
                    }
                    continue;
                }
            }
            let outputs = node
                .output
                .iter()
                .map(|name| {
                    (!name.is_empty()).then(|| {
                        names.insert(name.clone(), Slot::Value(values));
                        values += 1;
                        values - 1
                    })
                })
                .collect();
            steps.push(Step {
                op,
                op_type: node.op_type.clone(),
                name: node_name,
                inputs: slots,
                outputs,
                free: vec![],
            });
        }

        let output_slots = output_names
            .iter()
            .map(|name| {
                names.get(name).copied().ok_or_else(|| {
                    Error::invalid_model(format!("output '{name}' is not produced by any node"))
                })
            })
            .collect::<Result<Vec<Slot>>>()?;
        free_after_last_use(&mut steps, &output_slots);
        Ok(Graph {
            consts,
            steps,
            values,
            input_values,
            output_slots,
        })
    }

    /// Runs the graph on `inputs` (its inputs, then its captured values). `missing(i)` is the
    /// message for output `i` when no step computed it.
    fn run(&self, inputs: Vec<Tensor>, missing: impl Fn(usize) -> String) -> Result<Vec<Tensor>> {
        let mut values: Vec<Option<Tensor>> = (0..self.values).map(|_| None).collect();
        for (&v, t) in self.input_values.iter().zip(inputs) {
            values[v] = Some(t);
        }
        for step in &self.steps {
            let results = {
                let args = step
                    .inputs
                    .iter()
                    .map(|slot| match *slot {
                        None => None,
                        Some(Slot::Const(c)) => self.consts.get(c).map(|t| &**t),
                        Some(Slot::Value(v)) => values.get(v).and_then(Option::as_ref),
                    })
                    .collect::<Vec<Option<&Tensor>>>();
                if let Some(i) = step
                    .inputs
                    .iter()
                    .zip(&args)
                    .position(|(s, a)| s.is_some() && a.is_none())
                {
                    return Err(Error::new(
                        ErrorCode::UnsupportedOperator,
                        format!(
                            "{} node '{}': its input {i} is an output the lite build does not \
                             compute{TRACT_HINT}",
                            step.op_type, step.name
                        ),
                    ));
                }
                step.op.run(&args).map_err(|e| {
                    op_error(
                        format!("{} node '{}': {e}", step.op_type, step.name),
                        Error::computing,
                    )
                })?
            };
            // What the checks before each tensor did not foresee (an operator's scratch
            // memory, say) stops the run after the step that went over the budget.
            if let Some(over) = memory::overrun() {
                return Err(Error::new(
                    ErrorCode::ResourceLimit,
                    format!(
                        "{} node '{}': took the heap to {} bytes, {over}",
                        step.op_type, step.name, over.in_use
                    ),
                ));
            }
            for (out, t) in step.outputs.iter().zip(results) {
                if let Some(v) = *out {
                    values[v] = Some(t);
                }
            }
            for &v in &step.free {
                values[v] = None;
            }
        }
        self.output_slots
            .iter()
            .enumerate()
            .map(|(i, slot)| match *slot {
                Slot::Const(c) => Ok((*self.consts[c]).clone()),
                Slot::Value(v) => {
                    // The same value may be two outputs: the last takes it.
                    let again = self.output_slots[i + 1..].contains(slot);
                    let t = if again {
                        values[v].clone()
                    } else {
                        values[v].take()
                    };
                    t.ok_or_else(|| Error::new(ErrorCode::UnsupportedOperator, missing(i)))
                }
            })
            .collect()
    }
}

/// A node whose operator needs as constants inputs the model computes (a Conv's weights, say):
/// built again at each run from that run's values, which the builder then sees as constants.
struct Rebuild {
    build: ops::Builder,
    node: pb::NodeProto,
    opset: i64,
}

impl Op for Rebuild {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let ctx = NodeCtx {
            op_type: &self.node.op_type,
            node: &self.node,
            consts: inputs.to_vec(),
            present: inputs.iter().map(Option::is_some).collect(),
            opset: self.opset,
        };
        let mut op = (self.build)(&ctx)?;
        while !op.prepare(inputs, usize::MAX)? {}
        op.run(inputs)
    }
}

/// `If`: runs one of two subgraphs on a boolean condition. The branches read names of the
/// enclosing graph: its constants are shared with them, and its values come as extra inputs of
/// the step, after the condition.
struct IfOp {
    then_branch: Graph,
    else_branch: Graph,
    /// For each branch, the step inputs it takes (indices into the step's inputs), in the order
    /// of its captured values.
    then_inputs: Vec<usize>,
    else_inputs: Vec<usize>,
}

impl IfOp {
    /// `captured` are the names both branches read from the enclosing graph, with their slots
    /// there, in the order they follow the condition among the step's inputs (values only).
    fn build(
        node: &pb::NodeProto,
        opset: i64,
        captured: &[(String, Option<Slot>)],
        consts: &[Arc<Tensor>],
    ) -> Result<IfOp> {
        let branch = |name: &str| -> Result<(Graph, Vec<usize>)> {
            let graph = node
                .attribute
                .iter()
                .find(|a| a.name == name)
                .and_then(|a| a.g.clone())
                .ok_or_else(|| Error::invalid_model(format!("the {name} attribute is missing")))?;
            let reads: HashSet<String> = free_names(&graph).into_iter().collect();
            let mut value_index = 1;
            let mut inputs = vec![];
            let mut names = vec![];
            for (n, slot) in captured {
                match slot {
                    Some(Slot::Value(_)) => {
                        if reads.contains(n) {
                            names.push((n.clone(), Captured::Value));
                            inputs.push(value_index);
                        }
                        value_index += 1;
                    }
                    Some(Slot::Const(c)) if reads.contains(n) => {
                        names.push((n.clone(), Captured::Const(consts[*c].clone())));
                    }
                    _ => {}
                }
            }
            let graph = Graph::build(graph, opset, &[], names)
                .map_err(|e| Error::new(e.code, format!("{name}: {}", e.message)))?;
            Ok((graph, inputs))
        };
        let (then_branch, then_inputs) = branch("then_branch")?;
        let (else_branch, else_inputs) = branch("else_branch")?;
        if then_branch.output_slots.len() != else_branch.output_slots.len() {
            return Err(Error::invalid_model(format!(
                "then_branch has {} outputs and else_branch {}",
                then_branch.output_slots.len(),
                else_branch.output_slots.len()
            )));
        }
        Ok(IfOp {
            then_branch,
            else_branch,
            then_inputs,
            else_inputs,
        })
    }
}

impl Op for IfOp {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let cond = ops::input(inputs, 0, "cond")?;
        let take = match &cond.data {
            Data::Bool(v) if v.len() == 1 => v[0],
            _ => {
                return Err(format!(
                    "the condition must be one bool, got {} of shape {:?}",
                    cond.dtype(),
                    cond.shape
                ))
            }
        };
        let (graph, which, name) = if take {
            (&self.then_branch, &self.then_inputs, "then_branch")
        } else {
            (&self.else_branch, &self.else_inputs, "else_branch")
        };
        let args = which
            .iter()
            .map(|&i| ops::input(inputs, i, "captured value").cloned())
            .collect::<OpResult<Vec<Tensor>>>()?;
        graph
            .run(args, |i| format!("its output {i} is not computed"))
            .map_err(|e| format!("{name}: {}", e.message))
    }
}

/// The names a node's subgraphs read from the graphs around them, sorted.
fn subgraph_names(node: &pb::NodeProto) -> Vec<String> {
    let mut names: Vec<String> = node
        .attribute
        .iter()
        .flat_map(|a| a.g.iter().chain(&a.graphs))
        .flat_map(free_names)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The names `graph` (its nodes and their subgraphs) reads without defining them.
fn free_names(graph: &pb::GraphProto) -> Vec<String> {
    let mut defined: HashSet<&str> = graph
        .initializer
        .iter()
        .map(|t| t.name.as_str())
        .chain(graph.input.iter().map(|v| v.name.as_str()))
        .collect();
    let mut free = vec![];
    let mut read = |name: &str, defined: &HashSet<&str>| {
        if !name.is_empty() && !defined.contains(name) {
            free.push(name.to_string());
        }
    };
    for node in &graph.node {
        for name in &node.input {
            read(name, &defined);
        }
        for name in subgraph_names(node) {
            read(&name, &defined);
        }
        defined.extend(node.output.iter().map(String::as_str));
    }
    for v in &graph.output {
        read(&v.name, &defined);
    }
    free.sort();
    free.dedup();
    free
}

/// Appended to errors about what the lite build lacks.
const TRACT_HINT: &str =
    ". The tract engine runs it (env.wasm.build 'auto', the default, loads it for such a model; \
     docs/api.md#the-engines-and-their-modules)";

/// The names of the operators the lite build implements.
pub(crate) fn operator_names() -> Vec<String> {
    let mut names: Vec<String> = (ops::registry().into_iter())
        .chain(ops::ml_registry())
        .map(|(n, _)| n.to_string())
        .collect();
    names.push("If".into());
    names
}

/// An operator's error. Operators name "the lite build" in what only this engine lacks (a
/// dtype, a 3-D convolution): that is `UNSUPPORTED_OPERATOR`, with the way to the tract engine;
/// anything else is `otherwise` (a defect of the model at load, a failure while running).
fn op_error(message: String, otherwise: fn(String) -> Error) -> Error {
    if message.contains(memory::OVER_BUDGET) {
        Error::new(ErrorCode::ResourceLimit, message)
    } else if message.contains(TRACT_HINT) {
        // Already classified, inside an `If` branch.
        Error::new(ErrorCode::UnsupportedOperator, message)
    } else if message.contains("the lite build") {
        Error::new(
            ErrorCode::UnsupportedOperator,
            format!("{message}{TRACT_HINT}"),
        )
    } else {
        otherwise(message)
    }
}

fn load_error(message: String) -> Error {
    op_error(message, Error::invalid_model)
}

/// A copy of `node` that holds no slice of the model's bytes (see `Engine::load_buffer_in_steps`):
/// kept for the life of the session, it must not keep the whole model alive.
fn detached(node: &pb::NodeProto) -> pb::NodeProto {
    let mut node = node.clone();
    for a in &mut node.attribute {
        for t in a.t.iter_mut().chain(a.tensors.iter_mut()) {
            t.raw_data = Bytes::copy_from_slice(&t.raw_data);
        }
    }
    node
}

fn decode(bytes: Bytes) -> Result<pb::ModelProto> {
    pb::ModelProto::decode(bytes)
        .map_err(|e| Error::invalid_model(format!("not a valid ONNX model: {e}")))
}

model_rules::proto_views!(self::pb);

/// Reports every node (subgraphs included) whose operator the lite build does not implement,
/// before building any: only default-domain operators of its registry, `If`, and the
/// `ai.onnx.ml` operators of its ML registry.
fn check_operators<'a>(
    graph: &pb::GraphProto,
    imports: impl IntoIterator<Item = (&'a str, i64)> + Clone,
) -> Result<()> {
    let known: HashSet<&str> = ops::registry().iter().map(|(n, _)| *n).collect();
    let ml: HashSet<&str> = ops::ml_registry().iter().map(|(n, _)| *n).collect();
    let (missing, ops) = model_rules::unsupported(graph, imports, |n| {
        ((n.domain.is_empty() || n.domain == "ai.onnx")
            && (known.contains(n.op_type.as_str()) || n.op_type == "If"))
            || (n.domain == "ai.onnx.ml" && ml.contains(n.op_type.as_str()))
    });
    let hint = crate::full_build::lite_hint(ops.iter().map(String::as_str));
    model_rules::unsupported_error(&missing, " in the lite build", &hint)
}

/// The order in which `node`'s inputs are offered to the step producing one of them, or `None`
/// when the node cannot be fused: the first must be a computed value and the rest constants.
/// Add and Mul are commutative, so their constant may come first.
fn fusion_order(node: &pb::NodeProto, slots: &[Option<Slot>]) -> Option<Vec<usize>> {
    let is_value = |i: usize| matches!(slots.get(i), Some(Some(Slot::Value(_))));
    let first = if is_value(0) {
        0
    } else if matches!(node.op_type.as_str(), "Add" | "Mul") && slots.len() == 2 && is_value(1) {
        1
    } else {
        return None;
    };
    let mut order = vec![first];
    order.extend((0..slots.len()).filter(|&i| i != first));
    order[1..].iter().all(|&i| !is_value(i)).then_some(order)
}

/// Fills each step's `free` list with the values read (or produced) for the last time there.
fn free_after_last_use(steps: &mut [Step], outputs: &[Slot]) {
    let mut last: HashMap<usize, usize> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        for v in step.outputs.iter().flatten() {
            last.insert(*v, i);
        }
        for slot in step.inputs.iter().flatten() {
            if let Slot::Value(v) = slot {
                last.insert(*v, i);
            }
        }
    }
    for slot in outputs {
        if let Slot::Value(v) = slot {
            last.remove(v);
        }
    }
    for (v, i) in last {
        steps[i].free.push(v);
    }
}

/// The elements of a feed, copied (the feed's bytes are freed after).
fn from_host(t: HostTensor) -> Result<Tensor> {
    tensor::alloc_len_of(t.dims(), t.dtype()).map_err(Error::computing)?;
    let dims = t.dims().to_vec();
    let b = t.data();
    fn le<const N: usize, T>(b: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
        b.chunks_exact(N)
            .map(|c| {
                let mut a = [0; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    let data = match t.dtype() {
        DType::Float32 => Data::F32(le(b, f32::from_le_bytes)),
        DType::Int64 => Data::I64(le(b, i64::from_le_bytes)),
        DType::Int32 => Data::I32(le(b, i32::from_le_bytes)),
        DType::Bool => Data::Bool(b.iter().map(|&x| x != 0).collect()),
        DType::Uint8 => Data::U8(b.to_vec()),
        DType::Int8 => Data::I8(b.iter().map(|&x| x as i8).collect()),
        DType::Float16 => Data::F32(le(b, |h| f16::to_f32(u16::from_le_bytes(h)))),
        DType::String => Data::Str(t.strings().unwrap_or_default()),
        other => {
            return Err(Error::invalid_input(format!(
                "the lite build does not compute with {other} tensors"
            )))
        }
    };
    Tensor::new(dims, data).map_err(Error::invalid_input)
}

/// An output for the host, as `declared`: float16 outputs are kept as float32 inside the engine.
fn to_host(t: Tensor, declared: DType) -> Result<HostTensor> {
    if let (DType::Float16, Data::F32(v)) = (declared, &t.data) {
        tensor::alloc_len_of(&t.shape, DType::Float16).map_err(Error::computing)?;
        let bytes = v
            .iter()
            .flat_map(|&x| f16::from_f32(x).to_le_bytes())
            .collect();
        return HostTensor::new(DType::Float16, t.shape, bytes);
    }
    let dtype = t.dtype();
    tensor::alloc_len_of(&t.shape, dtype).map_err(Error::computing)?;
    let bytes = match t.data {
        Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Data::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Data::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Data::Bool(v) => v.iter().map(|&x| x as u8).collect(),
        Data::U8(v) => v,
        Data::I8(v) => v.iter().map(|&x| x as u8).collect(),
        Data::Str(v) => return HostTensor::from_strings(t.shape, &v),
    };
    HostTensor::new(dtype, t.shape, bytes)
}

/// Inputs or outputs as the ONNX graph declares them.
fn declared_infos(
    graph: &pb::GraphProto,
    names: &[String],
    inputs: bool,
) -> Result<Vec<ValueInfo>> {
    let declared = if inputs { &graph.input } else { &graph.output };
    names
        .iter()
        .map(|name| {
            let tensor = declared
                .iter()
                .find(|v| &v.name == name)
                .and_then(|v| v.r#type.as_ref())
                .and_then(|t| t.value.as_ref())
                .map(|pb::type_proto::Value::TensorType(t)| t);
            let Some(tensor) = tensor else {
                // A ZipMap's sequence of maps comes back as the tensor it maps.
                return ops::zipmap_output(graph, name)
                    .filter(|_| !inputs)
                    .ok_or_else(|| {
                        Error::invalid_model(format!("'{name}' has no declared tensor type"))
                    });
            };
            let dtype = dtype_from_onnx(tensor.elem_type).ok_or_else(|| {
                Error::invalid_model(format!(
                    "'{name}' has ONNX element type {}, which onnxlet cannot exchange with JS",
                    tensor.elem_type
                ))
            })?;
            let shape = tensor
                .shape
                .iter()
                .flat_map(|s| &s.dim)
                .map(|d| match &d.value {
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) if *v >= 0 => {
                        Dim::Fixed(*v as usize)
                    }
                    Some(pb::tensor_shape_proto::dimension::Value::DimParam(p))
                        if !p.is_empty() && p != "?" =>
                    {
                        Dim::Symbolic(p.clone())
                    }
                    _ => Dim::Unknown,
                })
                .collect();
            Ok(ValueInfo {
                name: name.clone(),
                dtype,
                shape,
            })
        })
        .collect()
}

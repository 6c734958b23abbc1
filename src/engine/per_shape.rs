//! Models tract cannot type with symbolic dimensions: they are typed and optimised again for
//! each new combination of input shapes. Where shapes are not enough either (a shape, axis or
//! condition read from an input's value), small inputs are baked in as constants, and their
//! values become part of the plan's key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::ops::konst::Const;

use super::branches;
use super::convert::{dtype_to_tract, to_tract};
use super::plan::{optimise, with_uniform_memo};
use crate::error::{Error, Result};
use crate::tensor::{format_shape, HostTensor, ValueInfo};

/// How many plans are kept.
const PLAN_CACHE_SIZE: usize = 8;

/// Inputs with at most this many elements may be baked in as constants.
const MAX_BAKED_ELEMENTS: usize = 64;

/// Input shapes, and the bytes of the inputs a plan was specialised on.
type Key = Vec<(Vec<usize>, Option<Vec<u8>>)>;

/// A plan, and which inputs it takes (the others were baked in).
#[derive(Clone)]
pub(super) struct Prepared {
    pub plan: Arc<TypedSimplePlan>,
    pub fed: Vec<bool>,
}

pub(super) struct PerShape {
    source: Source,
    state: Mutex<State>,
}

enum Source {
    Model(Box<InferenceModel>),
    /// The model has `If` nodes whose conditions read inputs: re-parsed with the taken
    /// branches inlined for each combination of those inputs' values.
    Branches {
        onnx: Box<tract_onnx::Onnx>,
        proto: Box<pb::ModelProto>,
        inputs: Vec<String>,
    },
}

#[derive(Default)]
struct State {
    /// Set once preparing with shapes alone failed: small inputs are baked in from then on.
    bake_small: bool,
    /// Most recently used last.
    plans: Vec<(Key, Prepared)>,
}

fn is_small(t: &HostTensor) -> bool {
    t.dims().iter().product::<usize>() <= MAX_BAKED_ELEMENTS
}

impl State {
    fn lookup(&mut self, key: &Key) -> Option<Prepared> {
        let pos = self.plans.iter().position(|(k, _)| k == key)?;
        let entry = self.plans.remove(pos);
        let prepared = entry.1.clone();
        self.plans.push(entry);
        Some(prepared)
    }

    fn insert(&mut self, key: Key, prepared: Prepared) {
        if self.plans.len() == PLAN_CACHE_SIZE {
            self.plans.remove(0);
        }
        self.plans.push((key, prepared));
    }
}

impl PerShape {
    /// `proto` is needed (and only given) when `conditions`, the inputs that `If` conditions
    /// read, is not empty.
    pub fn new(
        onnx: tract_onnx::Onnx,
        proto: Option<pb::ModelProto>,
        model: InferenceModel,
        conditions: Vec<String>,
    ) -> PerShape {
        let source = match proto {
            Some(proto) if !conditions.is_empty() => Source::Branches {
                onnx: Box::new(onnx),
                proto: Box::new(proto),
                inputs: conditions,
            },
            _ => Source::Model(Box::new(model)),
        };
        PerShape {
            source,
            state: Mutex::default(),
        }
    }

    /// The plan for these inputs, from the cache or prepared now.
    pub fn prepare(&self, infos: &[ValueInfo], inputs: &[HostTensor]) -> Result<Prepared> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !state.bake_small {
            let key = self.key(infos, inputs, false);
            if let Some(prepared) = state.lookup(&key) {
                return Ok(prepared);
            }
            match self.build(infos, inputs, &key, false, !state.plans.is_empty()) {
                Ok(prepared) => {
                    state.insert(key, prepared.clone());
                    return Ok(prepared);
                }
                Err(e) if !inputs.iter().any(is_small) => return Err(e),
                Err(_) => state.bake_small = true,
            }
        }
        let key = self.key(infos, inputs, true);
        if let Some(prepared) = state.lookup(&key) {
            return Ok(prepared);
        }
        let prepared = self.build(infos, inputs, &key, true, !state.plans.is_empty())?;
        state.insert(key, prepared.clone());
        Ok(prepared)
    }

    fn key(&self, infos: &[ValueInfo], inputs: &[HostTensor], bake_small: bool) -> Key {
        let conditions: &[String] = match &self.source {
            Source::Branches { inputs, .. } => inputs,
            Source::Model(_) => &[],
        };
        inputs
            .iter()
            .zip(infos)
            .map(|(t, info)| {
                let specialise = bake_small || conditions.contains(&info.name);
                let value = (specialise && is_small(t)).then(|| t.data().to_vec());
                (t.dims().to_vec(), value)
            })
            .collect()
    }

    fn build(
        &self,
        infos: &[ValueInfo],
        inputs: &[HostTensor],
        key: &Key,
        bake: bool,
        ran_before: bool,
    ) -> Result<Prepared> {
        let describe = |e: TractError| {
            let shapes: Vec<String> = key.iter().map(|(dims, _)| format_shape(dims)).collect();
            let shapes = shapes.join(", ");
            if format!("{e:#}").contains(crate::memory::OVER_BUDGET) {
                // A constant made for these inputs (a fed shape) is over the run's budget.
                Error::computing(format!(
                    "preparing the model for input shapes {shapes}: {e:#}"
                ))
            } else if ran_before {
                // The model was prepared for other inputs: it is these that it cannot run on
                // (silero-vad fed a chunk too short for its padding).
                Error::invalid_input(format!(
                    "the model cannot run on input shapes {shapes} (it ran on others): {e:#}"
                ))
            } else {
                Error::invalid_model(format!(
                    "preparing the model for input shapes {shapes}: {e:#}"
                ))
            }
        };
        let mut model = match &self.source {
            Source::Model(model) => (**model).clone(),
            Source::Branches { onnx, proto, .. } => {
                let known: HashMap<&str, (&HostTensor, bool)> = inputs
                    .iter()
                    .zip(infos)
                    .zip(key)
                    .map(|((t, info), (_, value))| (info.name.as_str(), (t, value.is_some())))
                    .collect();
                let proto = branches::specialise(onnx, proto, &known).map_err(describe)?;
                onnx.model_for_proto_model(&proto).map_err(describe)?
            }
        };
        for (ix, t) in inputs.iter().enumerate() {
            let fact = InferenceFact::dt_shape(dtype_to_tract(t.dtype()), t.dims());
            model.set_input_fact(ix, fact).map_err(describe)?;
        }
        let mut fed = vec![true; inputs.len()];
        if bake {
            let outlets = model.input_outlets().map_err(describe)?.to_vec();
            let mut kept = vec![];
            for (ix, (outlet, (_, value))) in outlets.iter().zip(key).enumerate() {
                if value.is_some() {
                    let tensor = to_tract(inputs[ix].clone())?.into_arc_tensor();
                    model.node_mut(outlet.node).op =
                        Box::new(Const::new(tensor).map_err(describe)?);
                    fed[ix] = false;
                } else {
                    kept.push(*outlet);
                }
            }
            model.set_input_outlets(&kept).map_err(describe)?;
        }
        let plan = with_uniform_memo(|| model.into_typed().and_then(|m| optimise(m, true)))
            .map_err(describe)?;
        Ok(Prepared { plan, fed })
    }
}

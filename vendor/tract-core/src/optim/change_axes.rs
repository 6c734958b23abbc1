use super::OptimizerSession;
use super::TypedPass;
use crate::internal::*;
use crate::model::*;
use crate::ops::dummy::Dummy;
use crate::ops::einsum::EinSum;
use crate::ops::konst::Const;
use std::collections::HashSet;
use std::collections::hash_map::Entry;
use std::fmt::Debug;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use crate::ops::change_axes::*;

/// onnxlet: the third field keeps the changes the search found blocked across the calls of one
/// run of the pass, where upstream started each call (one per patch applied) afresh. A change
/// blocked somewhere in a model's batch axis, for instance, walked most of the model again after
/// every patch: two thirds of the pass's time on densenet121. A patch can unblock a change kept
/// here, which this run of the pass then misses; the optimizer runs the pass again until a run
/// finds nothing, and that run starts empty and applies no patch, as upstream's last run does.
#[derive(Clone, Default)]
pub struct ChangeAxes(HashSet<crate::ops::change_axes::AxisChange>, usize, Blocked);

/// onnxlet: the multiplicative word hash of rustc's `FxHasher`, for the maps of node ids, outlets
/// and axis changes the search below fills for every change it explores: hashing them with std's
/// SipHash was a tenth of the search. Keys are the model's own ids, so there is nothing to defend
/// against.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type Fx = BuildHasherDefault<FxHasher>;
type FxHashMap<K, V> = HashMap<K, V, Fx>;
type FxHashSet<K> = HashSet<K, Fx>;

/// The axis changes a search has met, checked by the next searches: [`change_axes_with`] stops
/// at a change met before.
trait Explored {
    fn contains(&self, change: &AxisChange) -> bool;
    /// Whether `change` is new.
    fn insert(&mut self, change: AxisChange) -> bool;
}

impl<S: BuildHasher> Explored for HashSet<AxisChange, S> {
    fn contains(&self, change: &AxisChange) -> bool {
        HashSet::contains(self, change)
    }
    fn insert(&mut self, change: AxisChange) -> bool {
        HashSet::insert(self, change)
    }
}

/// onnxlet: the changes met by the searches that failed since the pass was reset. The changes a
/// successful search met are taken out again: they are on the nodes its patch replaces.
#[derive(Clone, Default)]
struct Blocked {
    changes: FxHashSet<AxisChange>,
    /// The changes the current search added.
    added: Vec<AxisChange>,
}

impl Blocked {
    /// Runs one search from `change`, keeping what it met only if it fails.
    #[allow(clippy::type_complexity)]
    fn search(
        &mut self,
        model: &TypedModel,
        change: &AxisChange,
        locked: &[OutletId],
    ) -> TractResult<Option<(TypedModelPatch, TVec<(InOut, AxisOp)>)>> {
        self.added.clear();
        let found = change_axes_with(model, change, locked, &[], self)?;
        if found.is_some() {
            for change in self.added.drain(..) {
                self.changes.remove(&change);
            }
        }
        Ok(found)
    }
}

impl Explored for Blocked {
    fn contains(&self, change: &AxisChange) -> bool {
        self.changes.contains(change)
    }
    fn insert(&mut self, change: AxisChange) -> bool {
        let new = self.changes.insert(change.clone());
        if new {
            self.added.push(change);
        }
        new
    }
}

impl Debug for ChangeAxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChangeAxes")
    }
}

impl TypedPass for ChangeAxes {
    fn reset(&mut self) -> TractResult<()> {
        self.0.clear();
        self.1 = 0;
        self.2 = Blocked::default();
        Ok(())
    }
    fn next(
        &mut self,
        _session: &mut OptimizerSession,
        model: &TypedModel,
    ) -> TractResult<Option<TypedModelPatch>> {
        let mut interfaces = model.output_outlets()?.to_vec();
        interfaces.extend(model.input_outlets()?.iter());
        for node in &model.nodes[self.1..] {
            if node.op_is::<Dummy>() {
                continue;
            }
            for suggestion in node.op.suggested_axis_changes()? {
                let outlet = suggestion.0.as_outlet(node);
                let change = AxisChange { outlet, op: suggestion.1 };
                if self.0.insert(change.clone())
                    && let Some((patch, _)) = self
                        .2
                        .search(model, &change, &interfaces)
                        .with_context(|| format!("Making patch for {change:?} from {node}"))?
                {
                    self.1 = node.id;
                    return Ok(Some(patch));
                }
            }
            for (slot, fact) in node.outputs.iter().enumerate() {
                for (ix, dim) in fact.fact.shape.iter().enumerate() {
                    if dim.is_one() {
                        let change =
                            AxisChange { outlet: OutletId::new(node.id, slot), op: AxisOp::Rm(ix) };
                        if self.0.insert(change.clone())
                            && let Some((patch, _)) =
                                self.2.search(model, &change, &interfaces).with_context(|| {
                                    format!("Making patch for {change:?} from {node}")
                                })?
                        {
                            self.1 = node.id;
                            return Ok(Some(patch));
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

#[allow(clippy::type_complexity)]
pub fn change_axes(
    model: &TypedModel,
    change: &AxisChange,
    locked: &[OutletId],
    bounds: &[TVec<OutletId>],
    explored: &mut HashSet<AxisChange>,
) -> TractResult<Option<(TypedModelPatch, TVec<(InOut, AxisOp)>)>> {
    change_axes_with(model, change, locked, bounds, explored)
}

/// [`change_axes`] with any set of explored changes (onnxlet: the pass keeps its [`Blocked`]).
#[allow(clippy::type_complexity)]
fn change_axes_with(
    model: &TypedModel,
    change: &AxisChange,
    locked: &[OutletId],
    bounds: &[TVec<OutletId>],
    explored: &mut impl Explored,
) -> TractResult<Option<(TypedModelPatch, TVec<(InOut, AxisOp)>)>> {
    if explored.contains(change) {
        debug!("  Not considering change because deja vu {change:?}");
        return Ok(None);
    }
    if model
        .node(change.outlet.node)
        .op_as::<Const>()
        .is_some_and(|c| c.val().volume() == 1 && c.val().is_plain_ram())
    {
        debug!("  Not considering change from const {change:?}");
        return Ok(None);
    }
    debug!("  Considering change {change:?}");
    let mut todo_changes = vec![(change.clone(), None)];
    let mut changed_wires: FxHashMap<TVec<OutletId>, AxisOp> = FxHashMap::default();
    let bound_outlets = |o: OutletId| -> TVec<OutletId> {
        bounds.iter().find(|b| b.contains(&o)).cloned().unwrap_or_else(|| tvec!(o))
    };
    changed_wires.insert(bound_outlets(change.outlet), change.op.clone());
    let mut changed_ops: FxHashMap<usize, Box<dyn TypedOp>> = FxHashMap::default();
    // onnxlet: constants to change, made only if the search succeeds (Const::axis_change_applies).
    let mut changed_consts: FxHashMap<usize, AxisOp> = FxHashMap::default();
    let mut rewired_scalar_input: FxHashMap<InletId, (OutletId, AxisOp)> = Default::default();
    while let Some((change, emitter)) = todo_changes.pop() {
        rule_if!(explored.insert(change.clone()));
        let outlet_group = bound_outlets(change.outlet);
        for &outlet in &outlet_group {
            if locked.contains(&outlet) {
                debug!("    Change {change:?} blocked by locked interface {outlet:?}");
                return Ok(None);
            }
            let mut interfaces: Vec<(usize, InOut)> = vec![(outlet.node, InOut::Out(outlet.slot))];
            for inlet in model.outlet_successors(outlet) {
                interfaces.push((inlet.node, InOut::In(inlet.slot)));
            }
            for (node_id, io) in interfaces {
                if Some(node_id) == emitter {
                    continue;
                }
                let node = model.node(node_id);
                // if this is a revisit...
                let op = if let Some(op) = changed_ops.get(&node_id) {
                    trace!("  Change {:?} revisiting {}", change, model.node(node_id));
                    if op.is::<EinSum>() {
                        // FIXME Einsum can swallow any combination of axis change on all interfaces
                        op
                    } else {
                        debug!("  Change {:?} blocked: revisiting {}", change, model.node(node_id));
                        return Ok(None);
                    }
                } else if changed_consts.contains_key(&node_id) {
                    debug!("  Change {:?} blocked: revisiting {}", change, model.node(node_id));
                    return Ok(None);
                } else {
                    &node.op
                };
                let deferred = op
                    .downcast_ref::<Const>()
                    .filter(|_| io == InOut::Out(0))
                    .and_then(|konst| konst.axis_change_applies(&change.op));
                let more = if let Some(applies) = deferred {
                    applies.then(|| {
                        changed_consts.insert(node_id, change.op.clone());
                        AxisChangeConsequence {
                            substitute_op: None,
                            wire_changes: tvec!((io, change.op.clone())),
                        }
                    })
                } else {
                    op.change_axes(model, node, io, &change.op)
                        .with_context(|| format!("Propagating {change:?} to node {node}"))?
                };
                if more.is_none() {
                    debug!("    Propagation of {change:?} blocked by {node}");
                    return Ok(None);
                }
                let AxisChangeConsequence { substitute_op, wire_changes } = more.unwrap();
                trace!("    Change {:?} enters {} from {:?}", change.op, node, io);
                trace!("       propagates as {wire_changes:?}");
                if let Some(op) = substitute_op {
                    trace!("       replace op by {op:?}");
                    changed_ops.insert(node.id, op);
                }
                for (wire, op) in wire_changes.into_iter() {
                    let outlet = wire.as_outlet(node);
                    // stop upstram propagation to a scalar constant: we will clone it and alter it
                    // at patch generation time
                    if let InOut::In(inlet) = wire
                        && model
                            .node(outlet.node)
                            .op_as::<Const>()
                            .is_some_and(|k| k.val().volume() == 1)
                    {
                        rewired_scalar_input.insert(InletId::new(node.id, inlet), (outlet, op));
                        continue;
                    }
                    let outlet_group = bound_outlets(wire.as_outlet(node));
                    match changed_wires.entry(outlet_group.clone()) {
                        Entry::Vacant(entry) => {
                            trace!("         {wire:?} {op:?} change on {outlet_group:?} is new");
                            entry.insert(op.clone());
                            todo_changes
                                .push((AxisChange { outlet: outlet_group[0], op }, Some(node_id)));
                        }
                        Entry::Occupied(previous) => {
                            if *previous.get() == op {
                                trace!(
                                    "         {wire:?} {op:?} change on {outlet_group:?} already done"
                                );
                            } else {
                                debug!(
                                    "         {wire:?} {op:?} change on {outlet_group:?} conflicting with {previous:?}. Blocked."
                                );
                                return Ok(None);
                            }
                        }
                    }
                }
            }
        }
    }
    debug!("Translating {change:?} to patch");
    let mut patch = TypedModelPatch::new(format!("{change:?}"));
    let mut replaced_wires: FxHashMap<OutletId, OutletId> = FxHashMap::default();
    let nodes_to_replace = changed_wires
        .keys()
        .flat_map(|outlets| outlets.iter().map(|o| o.node))
        .chain(changed_ops.keys().copied())
        .collect::<FxHashSet<usize>>();
    // onnxlet: only the changed nodes are visited, each after the changed nodes it reads directly
    // (what it reads through unchanged nodes is tapped from the model), and the consumers outside
    // the patch of each replaced wire are shunted to its replacement. Upstream walked the whole
    // model's evaluation order for each patch: quadratic in the model's size over a pass.
    for node_id in changed_nodes_in_order(model, &nodes_to_replace) {
        let node = model.node(node_id);
        let mut inputs = tvec!();
        for (slot, orig) in node.inputs.iter().enumerate() {
            let tgt = if let Some((outlet, alteration)) =
                rewired_scalar_input.get(&InletId::new(node_id, slot))
            {
                let const_node = model.node(outlet.node);
                let mut value = const_node.op_as::<Const>().unwrap().val().clone().into_tensor();
                alteration.change_tensor(&mut value, false)?;
                let name = model.unique_name(&const_node.name);
                patch.add_const(name, value)?
            } else {
                *replaced_wires
                    .entry(*orig)
                    .or_insert_with(|| patch.tap_model(model, *orig).unwrap())
            };
            inputs.push(tgt);
        }
        let op: Box<dyn TypedOp> = if let Some(change) = changed_consts.get(&node_id) {
            let konst = node.op_as::<Const>().context("a changed constant")?;
            Box::new(konst.with_axis_change(change)?.context("a constant's axis change")?)
        } else {
            changed_ops.get(&node_id).cloned().unwrap_or_else(|| node.op.clone())
        };
        let new_wires = patch
            .wire_node(&node.name, op.clone(), &inputs)
            .with_context(|| format!("wriring changed_op {op:?}"))?;
        if new_wires.len() == 1
            && patch.node(new_wires[0].node).op_is::<crate::ops::source::TypedSource>()
        {
            patch.inputs.insert(new_wires[0].node, node_id);
        }
        for (ix, w) in new_wires.iter().enumerate() {
            replaced_wires.insert((node_id, ix).into(), *w);
        }
    }
    for (orig, replacement) in &replaced_wires {
        if nodes_to_replace.contains(&orig.node)
            && model.outlet_successors(*orig).iter().any(|s| !nodes_to_replace.contains(&s.node))
        {
            patch.shunt_outside(model, *orig, *replacement)?;
        }
    }
    for output in model.output_outlets()? {
        if let Some(replacement) = replaced_wires.get(output) {
            unsafe {
                patch.shunt_outside_unchecked(*output, *replacement)?;
            }
        }
    }
    let mut interface_change = tvec!();
    for (ix, input) in model.input_outlets()?.iter().enumerate() {
        if let Some(change) = changed_wires.get(&bound_outlets(*input)) {
            interface_change.push((InOut::In(ix), change.clone()));
        }
    }
    for (ix, output) in model.output_outlets()?.iter().enumerate() {
        if let Some(change) = changed_wires.get(&bound_outlets(*output)) {
            interface_change.push((InOut::Out(ix), change.clone()));
        }
    }
    debug!("Patch ready for {change:?}");
    Ok(Some((patch, interface_change)))
}

/// `nodes`, each after those of `nodes` that it reads directly.
fn changed_nodes_in_order(model: &TypedModel, nodes: &FxHashSet<usize>) -> Vec<usize> {
    let mut roots: Vec<usize> = nodes.iter().copied().collect();
    roots.sort_unstable();
    let mut order = Vec::with_capacity(roots.len());
    let mut placed = FxHashSet::default();
    for root in roots {
        let mut stack = vec![(root, false)];
        while let Some((id, inputs_placed)) = stack.pop() {
            if placed.contains(&id) {
                continue;
            }
            if inputs_placed {
                placed.insert(id);
                order.push(id);
                continue;
            }
            stack.push((id, true));
            for input in model.node(id).inputs.iter().rev() {
                if nodes.contains(&input.node) && !placed.contains(&input.node) {
                    stack.push((input.node, false));
                }
            }
        }
    }
    order
}

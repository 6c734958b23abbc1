use std::collections::HashSet;
use std::fmt::{Debug, Display};
use std::ops::{Deref, DerefMut};

use tract_data::itertools::{Itertools, izip};

use crate::internal::*;
use crate::model::*;

/// A change to apply to a model.
///
/// Actually structured around a model that represent the new nodes to be
/// inserted, plus information about how to connect these new nodes to the
/// pre-existing graph.
#[derive(Clone, Debug)]
pub struct ModelPatch<F, O>
where
    F: Fact + Clone + 'static,
    O: Display + Debug + AsRef<dyn Op> + AsMut<dyn Op> + Clone + 'static,
{
    /// patch label for auditing and debugging
    pub context: Vec<String>,
    /// optimizer will ignore this patch in node to node loop if it was already
    /// encountered
    pub dont_apply_twice: Option<String>,
    /// the model-like 'patch' of nodes to add to the model
    pub model: Graph<F, O>,
    /// map of replaced inputs (patch node id to model node id)
    pub inputs: HashMap<usize, usize>,
    /// map of patch inputs to model wires
    pub taps: HashMap<OutletId, OutletId>,
    /// map of old model wires to be replaced by wires from the patch
    pub shunts: HashMap<OutletId, OutletId>,
    /// operations to discard from the model
    pub obliterate: Vec<usize>,
}

impl<F, O> Default for ModelPatch<F, O>
where
    F: Fact + Clone + 'static,
    O: Display + Debug + AsRef<dyn Op> + AsMut<dyn Op> + Clone + 'static,
{
    fn default() -> ModelPatch<F, O> {
        ModelPatch {
            context: vec![],
            dont_apply_twice: None,
            model: Graph::default(),
            inputs: HashMap::default(),
            taps: HashMap::new(),
            shunts: HashMap::new(),
            obliterate: vec![],
        }
    }
}

impl<F, O> Deref for ModelPatch<F, O>
where
    F: Fact + Clone + 'static,
    O: Display + Debug + AsRef<dyn Op> + AsMut<dyn Op> + Clone + 'static,
{
    type Target = Graph<F, O>;
    fn deref(&self) -> &Graph<F, O> {
        &self.model
    }
}

impl<F, O> DerefMut for ModelPatch<F, O>
where
    F: Fact + Clone + 'static,
    O: Display + Debug + AsRef<dyn Op> + AsMut<dyn Op> + Clone + 'static,
{
    fn deref_mut(&mut self) -> &mut Graph<F, O> {
        &mut self.model
    }
}

impl<F, O> ModelPatch<F, O>
where
    F: Fact + Clone + 'static,
    O: Display + Debug + AsRef<dyn Op> + AsMut<dyn Op> + Clone + 'static,
    Graph<F, O>: SpecialOps<F, O>,
{
    pub fn new(s: impl Into<String>) -> Self {
        Self::default().with_context(s)
    }

    pub fn push_context(&mut self, s: impl Into<String>) {
        self.context.push(s.into());
    }

    pub fn with_context(mut self, s: impl Into<String>) -> Self {
        self.context.push(s.into());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.model.nodes.is_empty() && self.shunts.is_empty() && self.obliterate.is_empty()
    }

    /// Draw a tap from a preexisting node.
    ///
    /// returns an OutletId usable in the little "patch" model
    pub fn tap_model(&mut self, model: &Graph<F, O>, outlet: OutletId) -> TractResult<OutletId> {
        let fact = model.outlet_fact(outlet)?;
        let id = self.add_source(
            format!("tap.{}-{}/{}", model.node(outlet.node).name, outlet.node, outlet.slot),
            dyn_clone::clone(fact),
        )?;
        self.taps.insert(id, outlet);
        Ok(id)
    }

    /// Draw taps from a preexisting node.
    ///
    /// returns an OutletId usable in the little "patch" model
    pub fn taps<'a>(
        &mut self,
        model: &Graph<F, O>,
        outlets: impl IntoIterator<Item = &'a OutletId>,
    ) -> TractResult<TVec<OutletId>> {
        outlets.into_iter().map(|o| self.tap_model(model, *o)).collect::<TractResult<TVec<_>>>()
    }

    pub unsafe fn shunt_outside_unchecked(
        &mut self,
        outlet: OutletId,
        by: OutletId,
    ) -> TractResult<()> {
        self.shunts.insert(outlet, by);
        Ok(())
    }

    /// Replace an Outlet in the target model by one from the patch.
    pub fn shunt_outside(
        &mut self,
        model: &Graph<F, O>,
        outlet: OutletId,
        by: OutletId,
    ) -> TractResult<()> {
        let original_fact = model.outlet_fact(outlet)?;
        let new_fact = self.model.outlet_fact(by)?;
        if !original_fact.compatible_with(new_fact) {
            bail!(
                "Trying to substitute a {:?} by {:?} as output #{} of {}.\n{:?}",
                original_fact,
                new_fact,
                outlet.slot,
                model.node(outlet.node),
                self
            );
        }
        self.shunts.insert(outlet, by);
        Ok(())
    }

    pub fn obliterate(&mut self, node: usize) -> TractResult<()> {
        self.obliterate.push(node);
        Ok(())
    }

    /// Convenience method creating a patch that replaces a single operation.
    pub fn replace_single_op<IO: Into<O>>(
        patched_model: &Graph<F, O>,
        node: &Node<F, O>,
        inputs: &[OutletId],
        new_op: IO,
    ) -> TractResult<ModelPatch<F, O>> {
        let mut patch = ModelPatch::default();
        let new_op = new_op.into();
        let inputs = patch.taps(patched_model, inputs)?;
        let wires = patch.wire_node(&node.name, new_op, &inputs)?;
        for (ix, o) in wires.iter().enumerate() {
            patch.shunt_outside(patched_model, OutletId::new(node.id, ix), *o)?;
        }
        patch.obliterate(node.id)?;
        Ok(patch)
    }

    /// Convenience method creating a patch that fuses an op with the next one.
    pub fn fuse_with_next<IO: Into<O>>(
        patched_model: &Graph<F, O>,
        node: &Node<F, O>,
        new_op: IO,
    ) -> TractResult<ModelPatch<F, O>> {
        let mut patch = ModelPatch::default();
        let succ = if let Some(succ) = patched_model.single_succ(node.id)? {
            succ
        } else {
            bail!("Non single successor fuse attempt")
        };
        let inputs = patch.taps(patched_model, &node.inputs)?;
        let output = patch.wire_node(&node.name, new_op.into(), &inputs)?;
        patch.shunt_outside(patched_model, succ.id.into(), output[0])?;
        Ok(patch)
    }

    /// Convenience method creating a patch that shunts the given node.
    pub fn shunt_one_op(
        patched_model: &Graph<F, O>,
        node: &Node<F, O>,
    ) -> TractResult<Option<ModelPatch<F, O>>> {
        ensure!(node.inputs.len() == 1);
        ensure!(node.outputs.len() == 1);
        if patched_model.outputs.contains(&node.id.into())
            && patched_model.outputs.contains(&node.inputs[0])
        {
            Ok(None)
        } else {
            Self::rewire(patched_model, &node.inputs, &[node.id.into()], &|_p, xs| Ok(xs.into()))
                .with_context(|| format!("Shunting {node}"))
                .map(Some)
        }
    }

    #[allow(clippy::type_complexity)]
    pub fn rewire(
        patched_model: &Graph<F, O>,
        from: &[OutletId],
        to: &[OutletId],
        wiring: &dyn Fn(&mut Self, &[OutletId]) -> TractResult<TVec<OutletId>>,
    ) -> TractResult<ModelPatch<F, O>> {
        let mut patch = ModelPatch::default();
        let taps = patch.taps(patched_model, from)?;
        let news = wiring(&mut patch, &taps)?;
        if news.len() != to.len() {
            bail!(
                "Wrong number of outputs for rewiring, expected {}, function returned {}",
                to.len(),
                news.len()
            );
        }
        for (new, &old) in izip!(news, to) {
            patch.shunt_outside(patched_model, old, new)?;
        }
        Ok(patch)
    }

    /// Convenience method creating a patch that replace a single unary operation.
    pub fn single_unary_op<IO: Into<O>>(
        patched_model: &Graph<F, O>,
        node: &Node<F, O>,
        new_op: IO,
    ) -> TractResult<ModelPatch<F, O>> {
        Self::replace_single_op(patched_model, node, &[node.inputs[0]], new_op)
    }

    /// Convenience method creating a patch that insert an unary op on an outlet.
    pub fn intercept<IO: Into<O>>(
        patched_model: &Graph<F, O>,
        outlet: OutletId,
        name: impl Into<String>,
        new_op: IO,
        fact: F,
    ) -> TractResult<ModelPatch<F, O>> {
        let mut patch = ModelPatch::default();
        let tap = patch.tap_model(patched_model, outlet)?;
        let new_id = patch.add_node(name, new_op, tvec!(fact))?;
        patch.add_edge(tap, InletId::new(new_id, 0))?;
        patch.shunt_outside(patched_model, outlet, OutletId::new(new_id, 0))?;
        Ok(patch)
    }

    pub fn wire_node(
        &mut self,
        name: impl Into<String>,
        op: impl Into<O>,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let mut name = name.into();
        if self.nodes.iter().any(|n| n.name == *name) {
            for i in 1.. {
                let s = format!("{name}#{i}");
                if self.nodes.iter().all(|n| n.name != s) {
                    name = s;
                    break;
                }
            }
        }
        self.model.wire_node(name, op.into(), inputs)
    }

    /// Apply all changes in the patch to the target model.
    pub fn apply(self, target: &mut Graph<F, O>) -> TractResult<()> {
        self.apply_with_names(target, None)
    }

    /// [`ModelPatch::apply`], with `names` the names of `target`'s nodes (kept up to date), which
    /// it then looks names up in instead of scanning the target (onnxlet: see [`NodeNames`]).
    pub fn apply_with_names(
        self,
        target: &mut Graph<F, O>,
        mut names: Option<&mut NodeNames>,
    ) -> TractResult<()> {
        let prior_target_inputs = target.input_outlets()?.len();
        let prior_target_outputs = target.output_outlets()?.len();
        let ModelPatch {
            model: patch,
            taps: mut mapping,
            shunts: shunt_outlet_by,
            obliterate,
            inputs: replaced_inputs,
            ..
        } = self;
        // onnxlet: the nodes added below are the ones from this id on (upstream kept a set of them).
        let first_new = target.nodes.len();
        let mut all_inputs = HashMap::new(); // new_node_id_in_model -> [ patch_outlet_id ]
        let mut model_input_outlets = target.input_outlets()?.to_vec();
        for node in patch.nodes {
            if <Graph<F, O>>::is_source(&node.op)
                && mapping.contains_key(&OutletId::new(node.id, 0))
            {
                // this is a tap
                continue;
            }
            let Node { id: patch_node_id, name, inputs, op, outputs } = node;
            let n_outputs = outputs.len();
            // Upstream searches the whole target here for a node equal to this one, comparing
            // ops first (whole tensors, for constants) on every node. Its `continue` only
            // continues that search, and the mappings it records are overwritten just below,
            // so the search had no effect; it is removed (onnxlet: session-create time).
            let facts = outputs.into_iter().map(|of| of.fact).collect();
            let added_node_id = target.add_node(name, op, facts)?;
            for ix in 0..n_outputs {
                mapping.insert(OutletId::new(patch_node_id, ix), OutletId::new(added_node_id, ix));
            }
            all_inputs.insert(added_node_id, inputs);
            if <Graph<F, O>>::is_source(&target.node(added_node_id).op) {
                // this is actually an input replacement
                model_input_outlets.iter_mut().for_each(|oo| {
                    if oo.node == replaced_inputs[&patch_node_id] {
                        oo.node = added_node_id;
                    }
                });
            }
        }
        debug_assert_eq!(target.input_outlets()?.len(), prior_target_inputs);
        debug_assert_eq!(target.output_outlets()?.len(), prior_target_outputs);
        for (&outlet, &by) in shunt_outlet_by.iter().sorted() {
            let replace_by = mapping[&by];
            let succs = target.nodes()[outlet.node].outputs[outlet.slot].successors.clone();
            for succ in succs {
                target.add_edge(replace_by, succ)?;
            }
            for o in target.outputs.iter_mut() {
                if *o == outlet {
                    *o = replace_by;
                }
            }
            if let Some(label) = target.outlet_labels.remove(&outlet) {
                target.set_outlet_label(replace_by, label)?;
            }
        }
        debug_assert_eq!(target.input_outlets()?.len(), prior_target_inputs);
        debug_assert_eq!(target.output_outlets()?.len(), prior_target_outputs);
        for (&node, inputs) in all_inputs.iter().sorted() {
            for (ix, input) in inputs.iter().enumerate() {
                target.add_edge(mapping[input], InletId::new(node, ix))?;
            }
        }
        debug_assert_eq!(target.input_outlets()?.len(), prior_target_inputs);
        debug_assert_eq!(target.output_outlets()?.len(), prior_target_outputs);
        for node in obliterate {
            target.node_mut(node).op = target.create_dummy();
        }
        debug_assert_eq!(target.input_outlets()?.len(), prior_target_inputs);
        debug_assert_eq!(target.output_outlets()?.len(), prior_target_outputs);
        target.set_input_outlets(&model_input_outlets)?;
        let mut maybe_garbage: HashSet<usize> = shunt_outlet_by.iter().map(|o| o.0.node).collect();
        while let Some(&maybe) = maybe_garbage.iter().next() {
            maybe_garbage.remove(&maybe);
            if !target.outputs.iter().any(|output| output.node == maybe)
                && !target.inputs.iter().any(|input| input.node == maybe)
                && target.node(maybe).outputs.iter().all(|of| of.successors.is_empty())
            {
                target.node_mut(maybe).op = target.create_dummy();
                let dummy_name = format!("Dummy-node-{maybe}");
                if let Some(names) = names.as_mut() {
                    names.renamed(&target.node(maybe).name, &dummy_name);
                }
                target.node_mut(maybe).name = dummy_name;
                target.node_mut(maybe).outputs.clear(); // necessary to drop facts and consts
                let inputs = std::mem::take(&mut target.node_mut(maybe).inputs);
                for &i in &inputs {
                    target.node_mut(i.node).outputs[i.slot].successors.retain(|s| s.node != maybe);
                    maybe_garbage.insert(i.node);
                }
                target.check_edges()?;
            }
        }
        // onnxlet: whether a node that is not new has a new node's name is found in one scan of
        // the target for all the new nodes; upstream scanned the whole target for each new node,
        // new nodes included (up to a tenth of a CNN's session-create time). The renames are the
        // same: a new node is also checked against the other new nodes' names as they are then.
        let new_ids: Vec<usize> = (first_new..target.nodes.len()).collect();
        let mut named_like_old = vec![false; new_ids.len()];
        if let Some(names) = names.as_mut() {
            for &n in &new_ids {
                names.added(&target.nodes[n].name);
            }
            for (ix, &n) in new_ids.iter().enumerate() {
                let name = &target.nodes[n].name;
                let new =
                    new_ids.iter().filter(|&&other| target.nodes[other].name == *name).count();
                named_like_old[ix] = names.count(name) > new;
            }
        } else {
            for node in &target.nodes[..first_new] {
                for (ix, &n) in new_ids.iter().enumerate() {
                    if target.nodes[n].name == node.name {
                        named_like_old[ix] = true;
                    }
                }
            }
        }
        for (ix, &n) in new_ids.iter().enumerate() {
            // A free name: looked up in `names` when there are, else found by scanning `target`.
            let free = |prefix: &str| match names.as_ref() {
                Some(names) => names.unique_name(prefix),
                None => target.unique_name(prefix).into_owned(),
            };
            let renamed = if let Some((prefix, _)) = target.nodes[n].name.split_once('#') {
                Some(free(prefix))
            } else if named_like_old[ix]
                || new_ids
                    .iter()
                    .any(|&other| other != n && target.nodes[other].name == target.nodes[n].name)
            {
                Some(free(&target.nodes[n].name))
            } else {
                None
            };
            if let Some(renamed) = renamed {
                if let Some(names) = names.as_mut() {
                    names.renamed(&target.nodes[n].name, &renamed);
                }
                target.nodes[n].name = renamed;
            }
        }
        Ok(())
    }
}

/// onnxlet: the names of a graph's nodes, counted, for the optimizer to apply its patches with
/// ([`ModelPatch::apply_with_names`]). Applying a patch checks whether each new node's name is
/// taken, and picks free names for those that are: upstream scans every node's name for each, a
/// tenth of a CNN's session creation over the thousands of patches an optimisation applies. The
/// names must be those of the graph as it is: only `apply_with_names` may change the graph while
/// they are in use.
#[derive(Debug, Default, Clone)]
pub struct NodeNames(HashMap<String, usize>);

impl NodeNames {
    pub fn of<F, O>(graph: &Graph<F, O>) -> NodeNames
    where
        F: Fact + Clone + 'static,
        O: Debug + Display + AsRef<dyn Op> + AsMut<dyn Op> + Clone + 'static,
    {
        let mut names = NodeNames(HashMap::with_capacity(graph.nodes.len()));
        for node in &graph.nodes {
            names.added(&node.name);
        }
        names
    }

    fn count(&self, name: &str) -> usize {
        self.0.get(name).copied().unwrap_or(0)
    }

    fn added(&mut self, name: &str) {
        if let Some(count) = self.0.get_mut(name) {
            *count += 1;
        } else {
            self.0.insert(name.to_string(), 1);
        }
    }

    fn renamed(&mut self, from: &str, to: &str) {
        if let Some(count) = self.0.get_mut(from) {
            *count -= 1;
            if *count == 0 {
                self.0.remove(from);
            }
        }
        self.added(to);
    }

    /// A free name for a node about to be added, recorded as taken: `prefix` if no node has it,
    /// else as [`NodeNames::unique_name`] (the ONNX parser names its nodes with it).
    pub fn claim(&mut self, prefix: &str) -> String {
        let name = self.unique_name(prefix);
        self.added(&name);
        name
    }

    /// As [`Graph::unique_name`]: `prefix` if no node has that name, else the first of
    /// `prefix.1`, `prefix.2`... that none has.
    fn unique_name(&self, prefix: &str) -> String {
        if self.count(prefix) == 0 {
            return prefix.to_string();
        }
        (1..).map(|i| format!("{prefix}.{i}")).find(|s| self.count(s) == 0).unwrap()
    }
}

#[cfg(test)]
mod onnxlet_tests {
    use super::*;
    use crate::ops::math::add;

    /// The names of `model`'s nodes once `patch` is applied, with or without `NodeNames`.
    fn names_after(with_names: bool) -> Vec<String> {
        let mut model = TypedModel::default();
        let a = model.add_source("a", f32::fact([2])).unwrap();
        let b = model.wire_node("b", add(), &[a, a]).unwrap()[0];
        let c = model.wire_node("c", add(), &[b, a]).unwrap()[0];
        let d = model.wire_node("d", add(), &[c, b]).unwrap()[0];
        model.select_output_outlets(&[d]).unwrap();
        let mut patch = TypedModelPatch::default();
        let a = patch.tap_model(&model, a).unwrap();
        let b = patch.tap_model(&model, b).unwrap();
        // "c" replaces the old c, which is left without consumers; "b" and "a" are taken; "e"
        // twice; "x#" twice asks for a free name after "x".
        let mut wire = patch.wire_node("c", add(), &[b, a]).unwrap()[0];
        for name in ["b", "a", "e", "e", "x#", "x#"] {
            wire = patch.wire_node(name, add(), &[wire, a]).unwrap()[0];
        }
        patch.shunt_outside(&model, c.node.into(), wire).unwrap();
        let mut names = NodeNames::of(&model);
        patch.apply_with_names(&mut model, with_names.then_some(&mut names)).unwrap();
        if with_names {
            assert_eq!(names.0, NodeNames::of(&model).0);
        }
        model.nodes.iter().map(|n| n.name.clone()).collect()
    }

    // onnxlet: applying a patch with the names looked up in `NodeNames` renames as the scans do.
    #[test]
    fn node_names_rename_as_the_scans_do() {
        let scanned = names_after(false);
        assert_eq!(names_after(true), scanned);
        assert!(scanned.contains(&"Dummy-node-2".to_string()), "{scanned:?}");
        for name in ["b.1", "a.1", "e.1", "x", "x.1"] {
            assert!(scanned.contains(&name.to_string()), "{name} in {scanned:?}");
        }
    }
}

//! The ai.onnx.ml operators of scikit-learn models as skl2onnx writes them: the tree ensembles
//! (TreeEnsembleClassifier and TreeEnsembleRegressor, opsets 1 and 3, and TreeEnsemble of
//! opset 5), LinearClassifier, LinearRegressor, Normalizer and ZipMap. Where the ONNX-ML
//! specification leaves a case open (two classes with one base value, a binary classifier's
//! second score), they do what onnxruntime does, which is what models are checked against.
//!
//! A tree ensemble is flattened at load into one array of nodes, each tree's nodes in
//! breadth-first order, so that a child is always after its parent: no model can make the walk
//! loop. A leaf keeps the range of its weights in a second array. Running walks every tree for
//! each row, with the comparison chosen once for the whole ensemble when all its nodes share one.
//!
//! ZipMap's output is a sequence of maps, which a tensor API cannot return (onnxruntime-web
//! cannot either): it comes back as the float32 `[N, classes]` tensor it maps, its columns in
//! the order of the `classlabels_*` keys (see `zipmap_output`).

use std::collections::HashMap;

use super::super::pb;
use super::super::tensor::{volume, Data, OpResult, Tensor};
use super::{from_proto, input, Builder, NodeCtx, Op};
use crate::tensor::{DType, Dim, ValueInfo};

pub const OPS: &[(&str, Builder)] = &[
    ("LinearClassifier", linear_classifier),
    ("LinearRegressor", linear_regressor),
    ("Normalizer", normalizer),
    ("TreeEnsemble", tree_ensemble),
    ("TreeEnsembleClassifier", tree_classifier),
    ("TreeEnsembleRegressor", tree_regressor),
    ("ZipMap", zipmap),
    ("SVMClassifier", svm::svm_classifier),
    ("SVMRegressor", svm::svm_regressor),
    ("LabelEncoder", encode::label_encoder),
    ("CategoryMapper", encode::category_mapper),
    ("OneHotEncoder", encode::one_hot_encoder),
    ("Scaler", encode::scaler),
    ("Imputer", encode::imputer),
    ("Binarizer", encode::binarizer),
    ("ArrayFeatureExtractor", encode::array_feature_extractor),
    ("FeatureVectorizer", encode::feature_vectorizer),
];

#[path = "ml_encode.rs"]
mod encode;
#[path = "ml_svm.rs"]
mod svm;

// ---------------------------------------------------------------------------------------------
// Attributes

pub(super) fn attr<'a>(ctx: &'a NodeCtx, name: &str) -> Option<&'a pb::AttributeProto> {
    ctx.node.attribute.iter().find(|a| a.name == name)
}

pub(super) fn strings(ctx: &NodeCtx, name: &str) -> Option<Vec<String>> {
    attr(ctx, name).map(|a| {
        a.strings
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    })
}

pub(super) fn ints(ctx: &NodeCtx, name: &str) -> Vec<i64> {
    ctx.ints(name).unwrap_or_default()
}

/// A float list given as `name` (floats) or `name_as_tensor` (a float32 tensor; a float64 one
/// is refused: the lite build computes in float32), empty when neither is.
pub(super) fn floats(ctx: &NodeCtx, name: &str) -> OpResult<Vec<f32>> {
    if let Some(v) = ctx.floats(name).filter(|v| !v.is_empty()) {
        return Ok(v);
    }
    float_tensor(ctx, &format!("{name}_as_tensor"))
}

/// A float32 tensor attribute's elements, empty when absent.
pub(super) fn float_tensor(ctx: &NodeCtx, name: &str) -> OpResult<Vec<f32>> {
    match attr(ctx, name).and_then(|a| a.t.as_ref()) {
        None => Ok(vec![]),
        Some(t) => match from_proto(t)
            .map_err(|e| format!("attribute {name}: {e}"))?
            .data
        {
            Data::F32(v) => Ok(v),
            other => Err(format!(
                "attribute {name} is {}, where float32 is expected",
                Tensor {
                    shape: vec![],
                    data: other
                }
                .dtype()
            )),
        },
    }
}

/// A `post_transform`, as a string (opsets 1 to 3) or an integer (TreeEnsemble).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Transform {
    None,
    Softmax,
    Logistic,
    SoftmaxZero,
    Probit,
}

impl Transform {
    fn parse(ctx: &NodeCtx) -> OpResult<Transform> {
        let name = ctx
            .string("post_transform")
            .unwrap_or_else(|| "NONE".into());
        Ok(match name.as_str() {
            "NONE" => Transform::None,
            "SOFTMAX" => Transform::Softmax,
            "LOGISTIC" => Transform::Logistic,
            "SOFTMAX_ZERO" => Transform::SoftmaxZero,
            "PROBIT" => Transform::Probit,
            other => return Err(format!("unknown post_transform '{other}'")),
        })
    }

    fn from_int(v: i64) -> OpResult<Transform> {
        Ok(match v {
            0 => Transform::None,
            1 => Transform::Softmax,
            2 => Transform::Logistic,
            3 => Transform::SoftmaxZero,
            4 => Transform::Probit,
            other => return Err(format!("unknown post_transform {other}")),
        })
    }

    /// Applies the transform to one row of scores (two or more of them, or one with PROBIT).
    fn apply(self, s: &mut [f32]) {
        match self {
            Transform::None => {}
            Transform::Logistic => s.iter_mut().for_each(|v| *v = logistic(*v)),
            Transform::Probit => s.iter_mut().for_each(|v| *v = probit(*v)),
            Transform::Softmax => {
                let max = s.iter().fold(-f32::MAX, |m, &v| if v > m { v } else { m });
                let mut sum = 0.0;
                for v in s.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                s.iter_mut().for_each(|v| *v /= sum);
            }
            Transform::SoftmaxZero => {
                let max = s.iter().fold(-f32::MAX, |m, &v| if v > m { v } else { m });
                let exp_neg_max = (-max).exp();
                let mut sum = 0.0;
                for v in s.iter_mut() {
                    if v.abs() > 1e-7 {
                        *v = (*v - max).exp();
                        sum += *v;
                    } else {
                        *v *= exp_neg_max;
                    }
                }
                s.iter_mut().for_each(|v| *v /= sum);
            }
        }
    }
}

pub(super) fn logistic(v: f32) -> f32 {
    let e = 1.0 / (1.0 + (-v.abs()).exp());
    if v < 0.0 {
        1.0 - e
    } else {
        e
    }
}

/// onnxruntime's probit: sqrt(2) erfinv(2v - 1), with its approximation of erfinv.
pub(super) fn probit(v: f32) -> f32 {
    let x = 2.0 * v - 1.0;
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let ln = ((1.0 - x) * (1.0 + x)).ln();
    let a = 2.0 / (std::f32::consts::PI * 0.147) + 0.5 * ln;
    let b = ln / 0.147;
    std::f32::consts::SQRT_2 * sign * (-a + (a * a - b).sqrt()).sqrt()
}

/// Writes a one-score row as two columns, as onnxruntime does for a binary classifier whose
/// weights are all for one class (`how`: 0 or 1 when they are all positive, `[1 - p, p]` with p
/// the score or its logistic; 2 or 3 when mixed, `[-s, s]` or both logistics; other values
/// write the score alone). PROBIT writes the probit of the score alone.
fn second_class(score: f32, transform: Transform, how: i32, out: &mut [f32]) {
    if transform == Transform::Probit {
        out[0] = probit(score);
        return;
    }
    match how {
        0 | 1 => {
            let p = if transform == Transform::Logistic {
                logistic(score)
            } else {
                score
            };
            out[0] = 1.0 - p;
            out[1] = p;
        }
        2 | 3 if transform == Transform::Logistic => {
            out[0] = logistic(-score);
            out[1] = logistic(score);
        }
        2 | 3 => {
            out[0] = -score;
            out[1] = score;
        }
        _ => out[0] = score,
    }
}

/// The rows and features of an `[N, F]` (or `[F]`, one row) input, as float32.
pub(super) fn rows(x: &Tensor) -> OpResult<(usize, usize, std::borrow::Cow<'_, [f32]>)> {
    let (n, f) = match x.shape[..] {
        [f] => (1, f),
        [n, f] => (n, f),
        _ => {
            return Err(format!(
                "the input must be [N, features] or [features], got shape {:?}",
                x.shape
            ))
        }
    };
    let data = match &x.data {
        Data::F32(v) => std::borrow::Cow::Borrowed(&v[..]),
        Data::I64(_) | Data::I32(_) => std::borrow::Cow::Owned(x.to_f32s()),
        _ => {
            return Err(format!(
                "the input is {}, where float32, int64 or int32 is expected",
                x.dtype()
            ))
        }
    };
    Ok((n, f, data))
}

/// A classifier's class labels: `classlabels_int64s` (or `classlabels_ints`), or
/// `classlabels_strings`. The operators pick labels by index in `ints`, which for string labels
/// are the indices of the strings (as onnxruntime does: its rules for two classes then give the
/// first or second string where they give 0 or 1).
pub(super) struct Labels {
    pub ints: Vec<i64>,
    pub names: Option<Vec<String>>,
}

impl Labels {
    pub fn len(&self) -> usize {
        self.ints.len()
    }

    /// The label output `[N]`: int64, or the strings at the indices in `picked`.
    pub fn tensor(&self, picked: Vec<i64>) -> Tensor {
        let n = picked.len();
        match &self.names {
            None => Tensor::i64(vec![n], picked),
            Some(names) => Tensor {
                shape: vec![n],
                data: Data::Str(
                    picked
                        .iter()
                        .map(|&i| {
                            usize::try_from(i)
                                .ok()
                                .and_then(|i| names.get(i))
                                .cloned()
                                .unwrap_or_default()
                        })
                        .collect(),
                ),
            },
        }
    }
}

pub(super) fn class_labels(ctx: &NodeCtx, ints_name: &str) -> OpResult<Labels> {
    Ok(
        match strings(ctx, "classlabels_strings").filter(|s| !s.is_empty()) {
            Some(names) => Labels {
                ints: (0..names.len() as i64).collect(),
                names: Some(names),
            },
            None => Labels {
                ints: ints(ctx, ints_name),
                names: None,
            },
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Tree ensembles

/// A leaf: `feature` is [`LEAF`] and `next` the range of its weights.
const LEAF: u32 = u32::MAX;

const LEQ: u8 = 0;
const LT: u8 = 1;
const GTE: u8 = 2;
const GT: u8 = 3;
const EQ: u8 = 4;
const NEQ: u8 = 5;
const MEMBER: u8 = 6;
/// Not a comparison: the ensemble mixes several, each node has its own.
const MIXED: u8 = 7;

#[derive(Clone, Copy, Debug)]
struct Node {
    feature: u32,
    value: f32,
    /// The false and true children; for a leaf, the start and end of its weights.
    next: [u32; 2],
    mode: u8,
    /// Whether a NaN feature takes the true branch.
    nan_true: bool,
    /// For BRANCH_MEMBER, the index of its set in `Forest::sets`.
    set: u32,
}

/// The trees as a model describes them, before flattening: nodes by their position in the
/// model's lists, each with its children's positions.
#[derive(Default)]
struct RawForest {
    nodes: Vec<RawNode>,
    roots: Vec<usize>,
    /// A name for each node in messages: "node 3 of tree 1".
    names: Vec<String>,
}

#[derive(Clone, Default)]
struct RawNode {
    leaf: bool,
    feature: u32,
    value: f32,
    mode: u8,
    nan_true: bool,
    /// False and true children, positions in `RawForest::nodes`.
    next: [usize; 2],
    weights: Vec<(u32, f32)>,
    set: Option<Vec<f32>>,
}

/// How leaf weights combine within a target.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// A tree ensemble ready to run.
#[derive(Debug)]
struct Forest {
    nodes: Vec<Node>,
    roots: Vec<u32>,
    targets: Vec<u32>,
    weights: Vec<f32>,
    sets: Vec<Vec<f32>>,
    /// The comparison of every node, or [`MIXED`].
    mode: u8,
    /// Whether some node sends NaN to its true branch.
    nan_tracks: bool,
    /// The number of features the input must have at least.
    features: usize,
    n_targets: usize,
    aggregate: Aggregate,
}

impl Forest {
    /// Flattens `raw`, each tree breadth-first from its root. A node reached twice is an error,
    /// but for a leaf, which is copied: trees cannot loop.
    fn new(raw: RawForest, n_targets: usize, aggregate: Aggregate) -> OpResult<Forest> {
        let mut nodes: Vec<Node> = vec![];
        let mut targets = vec![];
        let mut weights = vec![];
        let mut sets = vec![];
        let mut seen = vec![false; raw.nodes.len()];
        let mut roots = vec![];
        let mut features = 0;
        let mut nan_tracks = false;
        let mut modes: Option<u8> = None;
        let mut mixed = false;
        for &root in &raw.roots {
            roots.push(u32::try_from(nodes.len()).map_err(|_| "too many tree nodes")?);
            // (position in the model, where the parent's child index goes)
            let mut queue = vec![(root, None::<(usize, usize)>)];
            let mut k = 0;
            while k < queue.len() {
                let (old, parent) = queue[k];
                k += 1;
                let r = &raw.nodes[old];
                if seen[old] && !r.leaf {
                    return Err(format!(
                        "{} is reached twice: the trees must be trees",
                        raw.names[old]
                    ));
                }
                seen[old] = true;
                let at = u32::try_from(nodes.len()).map_err(|_| "too many tree nodes")?;
                if let Some((p, side)) = parent {
                    nodes[p].next[side] = at;
                }
                if r.leaf {
                    let start = targets.len() as u32;
                    for &(t, w) in &r.weights {
                        if t as usize >= n_targets {
                            return Err(format!(
                                "{} has a weight for target or class {t}, of {n_targets}",
                                raw.names[old]
                            ));
                        }
                        targets.push(t);
                        weights.push(w);
                    }
                    let end = u32::try_from(targets.len()).map_err(|_| "too many weights")?;
                    nodes.push(Node {
                        feature: LEAF,
                        value: 0.0,
                        next: [start, end],
                        mode: 0,
                        nan_true: false,
                        set: 0,
                    });
                    continue;
                }
                features = features.max(r.feature as usize + 1);
                nan_tracks |= r.nan_true;
                match modes {
                    None => modes = Some(r.mode),
                    Some(m) if m != r.mode => mixed = true,
                    _ => {}
                }
                let set = match &r.set {
                    Some(s) => {
                        sets.push(s.clone());
                        (sets.len() - 1) as u32
                    }
                    None => 0,
                };
                let here = nodes.len();
                nodes.push(Node {
                    feature: r.feature,
                    value: r.value,
                    next: [0, 0],
                    mode: r.mode,
                    nan_true: r.nan_true,
                    set,
                });
                queue.push((r.next[0], Some((here, 0))));
                queue.push((r.next[1], Some((here, 1))));
            }
        }
        let mode = match modes {
            Some(m) if !mixed && m != MEMBER => m,
            None => LEQ,
            _ => MIXED,
        };
        Ok(Forest {
            nodes,
            roots,
            targets,
            weights,
            sets,
            mode,
            nan_tracks,
            features,
            n_targets,
            aggregate,
        })
    }

    /// The leaf `x` reaches from `root`, with every node comparing by `M` (or its own mode when
    /// `M` is [`MIXED`]) and NaN tracks looked at when `NAN`.
    #[inline(always)]
    fn leaf<const M: u8, const NAN: bool>(&self, root: u32, x: &[f32]) -> &Node {
        let mut n = &self.nodes[root as usize];
        while n.feature != LEAF {
            let v = x[n.feature as usize];
            let t = n.value;
            let mode = if M == MIXED { n.mode } else { M };
            let mut go = match mode {
                LEQ => v <= t,
                LT => v < t,
                GTE => v >= t,
                GT => v > t,
                EQ => v == t,
                NEQ => v != t,
                _ => self.sets[n.set as usize].contains(&v),
            };
            if NAN {
                go |= n.nan_true && v.is_nan();
            }
            n = &self.nodes[n.next[go as usize] as usize];
        }
        n
    }

    /// Every row's aggregated leaf weights, `n_targets` per row, and whether each target got
    /// any weight.
    fn scores(&self, x: &[f32], n: usize, f: usize) -> OpResult<(Vec<f32>, Vec<bool>)> {
        if f < self.features {
            return Err(format!(
                "the trees read feature {} but the input has {f} features",
                self.features - 1
            ));
        }
        let total = volume(&[n, self.n_targets])?;
        let mut scores = vec![0f32; total];
        let mut has = vec![false; total];
        macro_rules! run {
            ($m:expr) => {
                if self.nan_tracks {
                    self.accumulate::<{ $m }, true>(x, f, &mut scores, &mut has)
                } else {
                    self.accumulate::<{ $m }, false>(x, f, &mut scores, &mut has)
                }
            };
        }
        // BRANCH_LEQ alone (what skl2onnx writes) has its own loop; other ensembles take each
        // node's mode, which costs a little time and saves module size.
        match self.mode {
            LEQ => run!(LEQ),
            _ => run!(MIXED),
        }
        Ok((scores, has))
    }

    fn accumulate<const M: u8, const NAN: bool>(
        &self,
        x: &[f32],
        f: usize,
        scores: &mut [f32],
        has: &mut [bool],
    ) {
        let nt = self.n_targets;
        for ((row, s), h) in x
            .chunks_exact(f.max(1))
            .zip(scores.chunks_exact_mut(nt))
            .zip(has.chunks_exact_mut(nt))
        {
            for &root in &self.roots {
                let leaf = self.leaf::<M, NAN>(root, row);
                let [start, end] = leaf.next;
                for i in start as usize..end as usize {
                    let (t, w) = (self.targets[i] as usize, self.weights[i]);
                    s[t] = match self.aggregate {
                        Aggregate::Sum | Aggregate::Average => s[t] + w,
                        Aggregate::Min if h[t] && s[t] <= w => s[t],
                        Aggregate::Max if h[t] && s[t] >= w => s[t],
                        Aggregate::Min | Aggregate::Max => w,
                    };
                    h[t] = true;
                }
            }
        }
    }
}

/// The nodes of TreeEnsembleClassifier and TreeEnsembleRegressor (opsets 1 and 3): `nodes_*`
/// lists, and weights on leaves named by tree and node id (`prefix`: `class` or `target`).
fn raw_forest_v3(ctx: &NodeCtx, prefix: &str) -> OpResult<RawForest> {
    let tree_ids = ints(ctx, "nodes_treeids");
    let node_ids = ints(ctx, "nodes_nodeids");
    let features = ints(ctx, "nodes_featureids");
    let values = floats(ctx, "nodes_values")?;
    let modes = strings(ctx, "nodes_modes").unwrap_or_default();
    let trues = ints(ctx, "nodes_truenodeids");
    let falses = ints(ctx, "nodes_falsenodeids");
    let missing = ints(ctx, "nodes_missing_value_tracks_true");
    let n = tree_ids.len();
    for (name, len) in [
        ("nodes_nodeids", node_ids.len()),
        ("nodes_featureids", features.len()),
        ("nodes_values", values.len()),
        ("nodes_modes", modes.len()),
        ("nodes_truenodeids", trues.len()),
        ("nodes_falsenodeids", falses.len()),
    ] {
        if len != n {
            return Err(format!("{name} has {len} entries and nodes_treeids {n}"));
        }
    }
    if !missing.is_empty() && missing.len() != n {
        return Err(format!(
            "nodes_missing_value_tracks_true has {} entries and nodes_treeids {n}",
            missing.len()
        ));
    }
    let mut at: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
    let mut raw = RawForest::default();
    let mut tree_seen: HashMap<i64, ()> = HashMap::new();
    for i in 0..n {
        let name = format!("node {} of tree {}", node_ids[i], tree_ids[i]);
        if at.insert((tree_ids[i], node_ids[i]), i).is_some() {
            return Err(format!("{name} is defined twice"));
        }
        if tree_seen.insert(tree_ids[i], ()).is_none() {
            raw.roots.push(i);
        }
        let mode = match modes[i].as_str() {
            "BRANCH_LEQ" => LEQ,
            "BRANCH_LT" => LT,
            "BRANCH_GTE" => GTE,
            "BRANCH_GT" => GT,
            "BRANCH_EQ" => EQ,
            "BRANCH_NEQ" => NEQ,
            "LEAF" => MIXED,
            other => return Err(format!("{name} has unknown mode '{other}'")),
        };
        let feature = if mode == MIXED {
            0
        } else {
            u32::try_from(features[i])
                .ok()
                .filter(|&f| f < LEAF)
                .ok_or_else(|| format!("{name} reads feature {}", features[i]))?
        };
        raw.nodes.push(RawNode {
            leaf: mode == MIXED,
            feature,
            value: values[i],
            mode,
            nan_true: missing.get(i) == Some(&1),
            ..RawNode::default()
        });
        raw.names.push(name);
    }
    for i in 0..n {
        if raw.nodes[i].leaf {
            continue;
        }
        for (side, id) in [(0, falses[i]), (1, trues[i])] {
            let child = at.get(&(tree_ids[i], id)).copied().ok_or_else(|| {
                format!(
                    "{}: its {} child, node {id}, is not in the tree",
                    raw.names[i],
                    ["false", "true"][side]
                )
            })?;
            raw.nodes[i].next[side] = child;
        }
    }
    let w_trees = ints(ctx, &format!("{prefix}_treeids"));
    let w_nodes = ints(ctx, &format!("{prefix}_nodeids"));
    let w_ids = ints(ctx, &format!("{prefix}_ids"));
    let w_values = floats(ctx, &format!("{prefix}_weights"))?;
    let m = w_ids.len();
    if w_trees.len() != m || w_nodes.len() != m || w_values.len() != m {
        return Err(format!(
            "{prefix}_ids, {prefix}_treeids, {prefix}_nodeids and {prefix}_weights have {m}, {}, \
             {} and {} entries",
            w_trees.len(),
            w_nodes.len(),
            w_values.len()
        ));
    }
    for k in 0..m {
        let i = at.get(&(w_trees[k], w_nodes[k])).copied().ok_or_else(|| {
            format!(
                "a weight is for node {} of tree {}, which is not in the model",
                w_nodes[k], w_trees[k]
            )
        })?;
        let t = u32::try_from(w_ids[k])
            .map_err(|_| format!("a weight is for target or class {}", w_ids[k]))?;
        raw.nodes[i].weights.push((t, w_values[k]));
    }
    Ok(raw)
}

/// The nodes of TreeEnsemble (ai.onnx.ml opset 5): interior nodes and leaves in two lists.
fn raw_forest_v5(ctx: &NodeCtx) -> OpResult<RawForest> {
    let features = ints(ctx, "nodes_featureids");
    let splits = float_tensor(ctx, "nodes_splits")?;
    let modes: Vec<u8> = match attr(ctx, "nodes_modes").and_then(|a| a.t.as_ref()) {
        Some(t) => match from_proto(t)?.data {
            Data::U8(v) => v,
            _ => return Err("nodes_modes must be a uint8 tensor".into()),
        },
        None => vec![],
    };
    let trues = ints(ctx, "nodes_truenodeids");
    let falses = ints(ctx, "nodes_falsenodeids");
    let true_leafs = ints(ctx, "nodes_trueleafs");
    let false_leafs = ints(ctx, "nodes_falseleafs");
    let missing = ints(ctx, "nodes_missing_value_tracks_true");
    let members = float_tensor(ctx, "membership_values")?;
    let leaf_targets = ints(ctx, "leaf_targetids");
    let leaf_weights = float_tensor(ctx, "leaf_weights")?;
    let n = features.len();
    for (name, len) in [
        ("nodes_splits", splits.len()),
        ("nodes_modes", modes.len()),
        ("nodes_truenodeids", trues.len()),
        ("nodes_falsenodeids", falses.len()),
        ("nodes_trueleafs", true_leafs.len()),
        ("nodes_falseleafs", false_leafs.len()),
    ] {
        if len != n {
            return Err(format!("{name} has {len} entries and nodes_featureids {n}"));
        }
    }
    if !missing.is_empty() && missing.len() != n {
        return Err(format!(
            "nodes_missing_value_tracks_true has {} entries and nodes_featureids {n}",
            missing.len()
        ));
    }
    if leaf_targets.len() != leaf_weights.len() {
        return Err(format!(
            "leaf_targetids has {} entries and leaf_weights {}",
            leaf_targets.len(),
            leaf_weights.len()
        ));
    }
    let mut sets = members.split(|v| v.is_nan());
    let mut raw = RawForest::default();
    for i in 0..n {
        let name = format!("node {i}");
        let mode = modes[i];
        if mode > MEMBER {
            return Err(format!("{name} has unknown mode {mode}"));
        }
        let feature = u32::try_from(features[i])
            .ok()
            .filter(|&f| f < LEAF)
            .ok_or_else(|| format!("{name} reads feature {}", features[i]))?;
        let set = if mode == MEMBER {
            let set = sets.next().ok_or_else(|| {
                format!("{name} is BRANCH_MEMBER but membership_values has no set for it")
            })?;
            Some(set.to_vec())
        } else {
            None
        };
        raw.nodes.push(RawNode {
            leaf: false,
            feature,
            value: splits[i],
            mode,
            nan_true: missing.get(i) == Some(&1),
            set,
            ..RawNode::default()
        });
        raw.names.push(name);
    }
    for (j, (&t, &w)) in leaf_targets.iter().zip(&leaf_weights).enumerate() {
        let t = u32::try_from(t).map_err(|_| format!("leaf {j} is for target {t}"))?;
        raw.nodes.push(RawNode {
            leaf: true,
            weights: vec![(t, w)],
            ..RawNode::default()
        });
        raw.names.push(format!("leaf {j}"));
    }
    let leaves = leaf_targets.len();
    let child = |id: i64, leaf: i64, what: &str, i: usize| -> OpResult<usize> {
        let (base, len) = if leaf == 1 { (n, leaves) } else { (0, n) };
        usize::try_from(id)
            .ok()
            .filter(|&id| id < len)
            .map(|id| base + id)
            .ok_or_else(|| format!("node {i}: its {what} child {id} is out of range"))
    };
    for i in 0..n {
        raw.nodes[i].next = [
            child(falses[i], false_leafs[i], "false", i)?,
            child(trues[i], true_leafs[i], "true", i)?,
        ];
    }
    for &r in &ints(ctx, "tree_roots") {
        let r = usize::try_from(r)
            .ok()
            .filter(|&r| r < n)
            .ok_or_else(|| format!("tree root {r} is not a node"))?;
        raw.roots.push(r);
    }
    Ok(raw)
}

fn aggregate(name: &str) -> OpResult<Aggregate> {
    Ok(match name {
        "SUM" => Aggregate::Sum,
        "AVERAGE" => Aggregate::Average,
        "MIN" => Aggregate::Min,
        "MAX" => Aggregate::Max,
        other => return Err(format!("unknown aggregate_function '{other}'")),
    })
}

/// TreeEnsembleRegressor and TreeEnsemble: `[N, n_targets]` float32.
struct TreeRegressor {
    forest: Forest,
    base: Vec<f32>,
    transform: Transform,
}

fn n_targets(ctx: &NodeCtx) -> OpResult<usize> {
    usize::try_from(ctx.int("n_targets", 1))
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| format!("n_targets is {}", ctx.int("n_targets", 1)))
}

/// Base values: none, or one per target or class (onnxruntime refuses other counts).
fn base_values(ctx: &NodeCtx, n: usize) -> OpResult<Vec<f32>> {
    let base = floats(ctx, "base_values")?;
    if !base.is_empty() && base.len() != n {
        return Err(format!(
            "base_values has {} values, where there are {n} targets or classes",
            base.len()
        ));
    }
    Ok(base)
}

fn tree_regressor(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let nt = n_targets(ctx)?;
    let agg = aggregate(
        &ctx.string("aggregate_function")
            .unwrap_or_else(|| "SUM".into()),
    )?;
    let forest = Forest::new(raw_forest_v3(ctx, "target")?, nt, agg)?;
    Ok(Box::new(TreeRegressor {
        forest,
        base: base_values(ctx, nt)?,
        transform: Transform::parse(ctx)?,
    }))
}

fn tree_ensemble(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let nt = n_targets(ctx)?;
    let agg = match ctx.int("aggregate_function", 1) {
        0 => Aggregate::Average,
        1 => Aggregate::Sum,
        2 => Aggregate::Min,
        3 => Aggregate::Max,
        other => return Err(format!("unknown aggregate_function {other}")),
    };
    let forest = Forest::new(raw_forest_v5(ctx)?, nt, agg)?;
    Ok(Box::new(TreeRegressor {
        forest,
        base: vec![],
        transform: Transform::from_int(ctx.int("post_transform", 0))?,
    }))
}

impl Op for TreeRegressor {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let (n, f, x) = rows(input(inputs, 0, "X")?)?;
        let (mut scores, has) = self.forest.scores(&x, n, f)?;
        let nt = self.forest.n_targets;
        let trees = self.forest.roots.len() as f32;
        let agg = self.forest.aggregate;
        if nt == 1 {
            // One target: a single base value applies, and only PROBIT transforms.
            let origin = if self.base.len() == 1 {
                self.base[0]
            } else {
                0.0
            };
            for (s, &h) in scores.iter_mut().zip(&has) {
                *s = match agg {
                    Aggregate::Sum => *s + origin,
                    Aggregate::Average => *s / trees + origin,
                    _ if h => *s + origin,
                    _ => origin,
                };
                if self.transform == Transform::Probit {
                    *s = probit(*s);
                }
            }
        } else {
            let base = (self.base.len() == nt).then_some(&self.base[..]);
            for (row, h) in scores.chunks_exact_mut(nt).zip(has.chunks_exact(nt)) {
                for (t, s) in row.iter_mut().enumerate() {
                    let b = base.map_or(0.0, |b| b[t]);
                    // onnxruntime reads a target no leaf weighed as 0, base value or not.
                    *s = match agg {
                        _ if !h[t] => 0.0,
                        Aggregate::Sum => *s + b,
                        Aggregate::Average => *s / trees + b,
                        Aggregate::Min | Aggregate::Max => b + *s,
                    };
                }
                self.transform.apply(row);
            }
        }
        Ok(vec![Tensor::f32(vec![n, nt], scores)])
    }
}

/// TreeEnsembleClassifier: the labels `[N]` (int64) and the scores `[N, classes]`.
struct TreeClassifier {
    forest: Forest,
    labels: Labels,
    base: Vec<f32>,
    transform: Transform,
    /// Two classes with weights for only one of them.
    binary: bool,
    all_positive: bool,
}

fn tree_classifier(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let labels = class_labels(ctx, "classlabels_int64s")?;
    if labels.len() < 2 {
        return Err(format!(
            "classlabels_int64s has {} labels, where a classifier needs two or more",
            labels.len()
        ));
    }
    let raw = raw_forest_v3(ctx, "class")?;
    let weights = || raw.nodes.iter().flat_map(|n| &n.weights);
    let mut classes: Vec<u32> = weights().map(|w| w.0).collect();
    classes.sort_unstable();
    classes.dedup();
    let all_positive = weights().all(|w| w.1 >= 0.0);
    let binary = labels.len() == 2 && classes.len() == 1;
    let forest = Forest::new(raw, labels.len(), Aggregate::Sum)?;
    // Two classes may have one base value (onnxruntime adds it to the first class's score).
    let base = match floats(ctx, "base_values")? {
        b if labels.len() == 2 && b.len() == 1 => b,
        _ => base_values(ctx, labels.len())?,
    };
    Ok(Box::new(TreeClassifier {
        forest,
        labels,
        base,
        transform: Transform::parse(ctx)?,
        binary,
        all_positive,
    }))
}

impl TreeClassifier {
    /// Finishes one row's scores into `z`, and returns its label (onnxruntime's rules for two
    /// classes).
    fn finish(&self, s: &mut [f32], has: &mut [bool], z: &mut [f32]) -> i64 {
        let base = &self.base;
        if s.len() > 2 {
            for (k, &b) in base.iter().enumerate().take(s.len()) {
                s[k] = if has[k] { s[k] + b } else { b };
                has[k] = true;
            }
            let mut best: Option<usize> = None;
            for k in 0..s.len() {
                if has[k] && best.is_none_or(|b| s[k] > s[b]) {
                    best = Some(k);
                }
            }
            self.transform.apply(s);
            z.copy_from_slice(s);
            return self.labels.ints[best.unwrap_or(0)];
        }
        let mut how = -1;
        let mut len = 2;
        match base.len() {
            2 if has[1] => {
                s[1] = base[1] + s[0];
                s[0] = -s[1];
                has[1] = true;
            }
            2 => {
                s[1] += base[1];
                s[0] += base[0];
            }
            1 => {
                s[0] += base[0];
                if !has[1] {
                    len = 1;
                }
            }
            0 => {
                how = 3;
                if !has[1] {
                    len = 1;
                }
            }
            _ => {}
        }
        let positive = if len == 2 && has[1] {
            s[1]
        } else if has[0] {
            s[0]
        } else {
            0.0
        };
        let label = if self.binary {
            let (win, h) = if self.all_positive {
                (positive > 0.5, [0, 1])
            } else {
                (positive > 0.0, [2, 3])
            };
            how = if win { h[0] } else { h[1] };
            self.labels.ints[win as usize]
        } else {
            // onnxruntime's label when both classes have weights: 1 or 0, not the labels.
            (positive > 0.0) as i64
        };
        // onnxruntime reads a class no leaf weighed as 0, base value or not.
        for (s, _) in s.iter_mut().zip(has.iter()).filter(|(_, h)| !**h) {
            *s = 0.0;
        }
        if len == 2 {
            self.transform.apply(s);
            z.copy_from_slice(s);
        } else {
            second_class(s[0], self.transform, how, z);
        }
        label
    }
}

impl Op for TreeClassifier {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let (n, f, x) = rows(input(inputs, 0, "X")?)?;
        let (mut scores, mut has) = self.forest.scores(&x, n, f)?;
        let c = self.labels.len();
        let mut z = vec![0f32; scores.len()];
        let mut labels = Vec::with_capacity(n);
        for ((s, h), z) in scores
            .chunks_exact_mut(c)
            .zip(has.chunks_exact_mut(c))
            .zip(z.chunks_exact_mut(c))
        {
            labels.push(self.finish(s, h, z));
        }
        Ok(vec![self.labels.tensor(labels), Tensor::f32(vec![n, c], z)])
    }
}

// ---------------------------------------------------------------------------------------------
// Linear models and Normalizer

/// `X W^T + b` for `[N, F]` rows and `C` rows of coefficients.
fn linear(x: &[f32], n: usize, f: usize, w: &[f32], b: &[f32], c: usize) -> OpResult<Vec<f32>> {
    if w.len() != c * f {
        return Err(format!(
            "coefficients has {} values, where {c} targets or classes of {f} features need {}",
            w.len(),
            c * f
        ));
    }
    let mut out = vec![0f32; volume(&[n, c])?];
    for (row, o) in x.chunks_exact(f.max(1)).zip(out.chunks_exact_mut(c.max(1))) {
        for (k, o) in o.iter_mut().enumerate() {
            let wk = &w[k * f..(k + 1) * f];
            *o = row.iter().zip(wk).map(|(a, b)| a * b).sum::<f32>()
                + b.get(k).copied().unwrap_or(0.0);
        }
    }
    Ok(out)
}

struct LinearClassifier {
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    labels: Labels,
    transform: Transform,
}

fn linear_classifier(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let intercepts = ctx.floats("intercepts").unwrap_or_default();
    let labels = class_labels(ctx, "classlabels_ints")?;
    let classes = intercepts.len();
    if classes == 0 {
        return Err("intercepts is empty: it gives the number of classes".into());
    }
    if (classes > 1 && labels.len() < classes) || (classes == 1 && labels.len() != 2) {
        return Err(format!(
            "{classes} sets of coefficients but {} class labels (a binary classifier, with one \
             set, has two labels)",
            labels.len()
        ));
    }
    Ok(Box::new(LinearClassifier {
        coefficients: ctx.floats("coefficients").unwrap_or_default(),
        intercepts,
        labels,
        transform: Transform::parse(ctx)?,
    }))
}

impl Op for LinearClassifier {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let (n, f, x) = rows(input(inputs, 0, "X")?)?;
        let c = self.intercepts.len();
        let mut scores = linear(&x, n, f, &self.coefficients, &self.intercepts, c)?;
        let labels: Vec<i64> = if c == 1 {
            let (neg, pos) = match self.labels.ints[..] {
                [a, b] => (a, b),
                _ => (0, 1),
            };
            scores
                .iter()
                .map(|&s| if s > 0.0 { pos } else { neg })
                .collect()
        } else {
            scores
                .chunks_exact(c)
                .map(|row| {
                    let mut best = 0;
                    for k in 1..c {
                        if row[k] > row[best] {
                            best = k;
                        }
                    }
                    self.labels.ints[best]
                })
                .collect()
        };
        let z = if c == 1 && self.labels.len() == 2 {
            let mut z = vec![0f32; n * 2];
            for (s, z) in scores.iter().zip(z.chunks_exact_mut(2)) {
                second_class(*s, self.transform, 1, z);
            }
            z
        } else {
            if c > 1 {
                scores
                    .chunks_exact_mut(c)
                    .for_each(|row| self.transform.apply(row));
            } else if self.transform == Transform::Probit {
                scores.iter_mut().for_each(|s| *s = probit(*s));
            }
            scores
        };
        let width = z.len() / n.max(1);
        Ok(vec![
            self.labels.tensor(labels),
            Tensor::f32(vec![n, if n == 0 { c } else { width }], z),
        ])
    }
}

struct LinearRegressor {
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    targets: usize,
    transform: Transform,
}

fn linear_regressor(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let targets = usize::try_from(ctx.int("targets", 1))
        .ok()
        .filter(|&t| t >= 1)
        .ok_or_else(|| format!("targets is {}", ctx.int("targets", 1)))?;
    let intercepts = ctx.floats("intercepts").unwrap_or_default();
    if !intercepts.is_empty() && intercepts.len() != targets {
        return Err(format!(
            "{} intercepts for {targets} targets",
            intercepts.len()
        ));
    }
    Ok(Box::new(LinearRegressor {
        coefficients: ctx.floats("coefficients").unwrap_or_default(),
        intercepts,
        targets,
        transform: Transform::parse(ctx)?,
    }))
}

impl Op for LinearRegressor {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let (n, f, x) = rows(input(inputs, 0, "X")?)?;
        let t = self.targets;
        let mut y = linear(&x, n, f, &self.coefficients, &self.intercepts, t)?;
        if t > 1 {
            y.chunks_exact_mut(t)
                .for_each(|row| self.transform.apply(row));
        } else if self.transform == Transform::Probit {
            y.iter_mut().for_each(|s| *s = probit(*s));
        }
        Ok(vec![Tensor::f32(vec![n, t], y)])
    }
}

#[derive(Clone, Copy)]
enum Norm {
    Max,
    L1,
    L2,
}

struct Normalizer(Norm);

fn normalizer(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let norm = ctx.string("norm").unwrap_or_else(|| "MAX".into());
    Ok(Box::new(Normalizer(match norm.as_str() {
        "MAX" => Norm::Max,
        "L1" => Norm::L1,
        "L2" => Norm::L2,
        other => return Err(format!("unknown norm '{other}'")),
    })))
}

impl Op for Normalizer {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let t = input(inputs, 0, "X")?;
        let (_, f, x) = rows(t)?;
        let mut y = x.into_owned();
        for row in y.chunks_exact_mut(f.max(1)) {
            match self.0 {
                Norm::Max => {
                    let max = row.iter().fold(f32::MIN, |m, &v| m.max(v));
                    if max != 0.0 {
                        row.iter_mut().for_each(|v| *v /= max);
                    }
                }
                Norm::L1 => {
                    let sum: f32 = row.iter().map(|v| v.abs()).sum();
                    if sum != 0.0 {
                        row.iter_mut().for_each(|v| *v /= sum);
                    }
                }
                Norm::L2 => {
                    let sum: f32 = row.iter().map(|v| v * v).sum();
                    if sum != 0.0 {
                        row.iter_mut().for_each(|v| {
                            let r = (*v * *v / sum).sqrt();
                            *v = if *v < 0.0 { -r } else { r };
                        });
                    }
                }
            }
        }
        Ok(vec![Tensor::f32(t.shape.clone(), y)])
    }
}

// ---------------------------------------------------------------------------------------------
// ZipMap

/// ZipMap: its `[N, classes]` float32 input as it is (see the module's documentation).
struct ZipMap {
    keys: usize,
}

fn zipmap(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let keys = ints(ctx, "classlabels_int64s")
        .len()
        .max(strings(ctx, "classlabels_strings").map_or(0, |s| s.len()));
    Ok(Box::new(ZipMap { keys }))
}

impl Op for ZipMap {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        let (n, f, data) = rows(x)?;
        if !matches!(x.data, Data::F32(_)) || f != self.keys {
            return Err(format!(
                "the input must be float32 [N, {}] (one column per key), got {} {:?}",
                self.keys,
                x.dtype(),
                x.shape
            ));
        }
        Ok(vec![Tensor::f32(vec![n, f], data.into_owned())])
    }
}

/// What the lite engine returns for a graph output a ZipMap node writes (a sequence of maps in
/// the model): the float32 `[N, classes]` tensor of its input. `None` for any other output.
pub fn zipmap_output(graph: &pb::GraphProto, name: &str) -> Option<ValueInfo> {
    let node = graph.node.iter().find(|n| {
        n.op_type == "ZipMap" && n.domain == "ai.onnx.ml" && n.output.iter().any(|o| o == name)
    })?;
    let keys = node
        .attribute
        .iter()
        .filter(|a| a.name == "classlabels_int64s" || a.name == "classlabels_strings")
        .map(|a| a.ints.len().max(a.strings.len()))
        .max()
        .unwrap_or(0);
    Some(ValueInfo {
        name: name.to_string(),
        dtype: DType::Float32,
        shape: vec![Dim::Unknown, Dim::Fixed(keys)],
    })
}

#[cfg(test)]
#[path = "ml_tests.rs"]
mod tests;

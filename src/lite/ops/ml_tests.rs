//! Hand-computed cases of the ai.onnx.ml operators. The scikit-learn models of the wild suite
//! (tests/lite.rs, tests/node/wild.test.mjs) check them against onnxruntime at scale.

use super::super::testing::{err, f, fails, float, i, int, ints, string, strings};
use super::*;

fn floats_attr(name: &str, v: &[f32]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        floats: v.to_vec(),
        r#type: 6,
        ..Default::default()
    }
}

fn tensor_attr(name: &str, t: pb::TensorProto) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        t: Some(t),
        r#type: 4,
        ..Default::default()
    }
}

fn build(builder: Builder, attrs: Vec<pb::AttributeProto>) -> OpResult<Box<dyn Op>> {
    let node = pb::NodeProto {
        op_type: "ml".into(),
        domain: "ai.onnx.ml".into(),
        attribute: attrs,
        input: vec!["X".into()],
        output: vec!["Y".into(), "Z".into()],
        ..Default::default()
    };
    let ctx = NodeCtx {
        op_type: "ml",
        node: &node,
        consts: vec![None],
        present: vec![true],
        opset: 3,
    };
    builder(&ctx)
}

fn run(builder: Builder, attrs: Vec<pb::AttributeProto>, x: &Tensor) -> OpResult<Vec<Tensor>> {
    build(builder, attrs)?.run(&[Some(x)])
}

fn values(t: &Tensor) -> Vec<f32> {
    t.as_f32().unwrap().to_vec()
}

#[track_caller]
fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-5 * y.abs().max(1.0), "{a:?} vs {b:?}");
    }
}

/// One split on feature 0 at 1.0 in `mode`: 10 when true, 20 when false (a regressor).
fn stump(mode: &str, nan_true: bool) -> Vec<pb::AttributeProto> {
    let mut a = vec![
        ints("nodes_treeids", &[0, 0, 0]),
        ints("nodes_nodeids", &[0, 1, 2]),
        ints("nodes_featureids", &[0, 0, 0]),
        floats_attr("nodes_values", &[1.0, 0.0, 0.0]),
        strings("nodes_modes", &[mode, "LEAF", "LEAF"]),
        ints("nodes_truenodeids", &[1, 0, 0]),
        ints("nodes_falsenodeids", &[2, 0, 0]),
        ints("target_treeids", &[0, 0]),
        ints("target_nodeids", &[1, 2]),
        ints("target_ids", &[0, 0]),
        floats_attr("target_weights", &[10.0, 20.0]),
        int("n_targets", 1),
    ];
    if nan_true {
        a.push(ints("nodes_missing_value_tracks_true", &[1, 0, 0]));
    }
    a
}

#[test]
fn every_branch_mode_compares_as_the_specification_says() {
    let x = f(&[4, 1], &[0.5, 1.0, 1.5, f32::NAN]);
    // A NaN compares false, so it goes to the false branch but for BRANCH_NEQ.
    for (mode, want) in [
        ("BRANCH_LEQ", [10.0, 10.0, 20.0, 20.0]),
        ("BRANCH_LT", [10.0, 20.0, 20.0, 20.0]),
        ("BRANCH_GTE", [20.0, 10.0, 10.0, 20.0]),
        ("BRANCH_GT", [20.0, 20.0, 10.0, 20.0]),
        ("BRANCH_EQ", [20.0, 10.0, 20.0, 20.0]),
        ("BRANCH_NEQ", [10.0, 20.0, 10.0, 10.0]),
    ] {
        let y = run(tree_regressor, stump(mode, false), &x).unwrap();
        assert_eq!(y[0].shape, [4, 1]);
        assert_eq!(values(&y[0]), want, "{mode}");
        // nodes_missing_value_tracks_true sends NaN to the true branch.
        let y = run(tree_regressor, stump(mode, true), &x).unwrap();
        assert_eq!(values(&y[0])[..3], want[..3], "{mode}");
        assert_eq!(values(&y[0])[3], 10.0, "{mode} with a NaN track");
    }
}

/// Two trees over two features, modes mixed, two targets:
/// tree 0: x0 <= 0 ? (x1 > 5 ? A : B) : C; tree 1: x1 == 2 ? D : E.
fn two_trees(aggregate: &str, transform: &str, base: &[f32]) -> Vec<pb::AttributeProto> {
    vec![
        ints("nodes_treeids", &[0, 0, 0, 0, 0, 1, 1, 1]),
        ints("nodes_nodeids", &[0, 1, 2, 3, 4, 0, 1, 2]),
        ints("nodes_featureids", &[0, 1, 0, 0, 0, 1, 0, 0]),
        floats_attr("nodes_values", &[0.0, 5.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0]),
        strings(
            "nodes_modes",
            &[
                "BRANCH_LEQ",
                "BRANCH_GT",
                "LEAF",
                "LEAF",
                "LEAF",
                "BRANCH_EQ",
                "LEAF",
                "LEAF",
            ],
        ),
        ints("nodes_truenodeids", &[1, 2, 0, 0, 0, 1, 0, 0]),
        ints("nodes_falsenodeids", &[4, 3, 0, 0, 0, 2, 0, 0]),
        // A (0,2): t0 1, t1 2; B (0,3): t0 3; C (0,4): t0 -1, t1 4; D (1,1): t1 8; E (1,2): t0 6.
        ints("target_treeids", &[0, 0, 0, 0, 0, 1, 1]),
        ints("target_nodeids", &[2, 2, 3, 4, 4, 1, 2]),
        ints("target_ids", &[0, 1, 0, 0, 1, 1, 0]),
        floats_attr("target_weights", &[1.0, 2.0, 3.0, -1.0, 4.0, 8.0, 6.0]),
        int("n_targets", 2),
        string("aggregate_function", aggregate),
        string("post_transform", transform),
        floats_attr("base_values", base),
    ]
}

#[test]
fn leaf_weights_aggregate_per_target_with_base_values() {
    // Rows: A + E, B + D, C + D.
    let x = f(&[3, 2], &[-1.0, 6.0, 0.0, 2.0, 1.0, 2.0]);
    let cases: [(&str, [f32; 6]); 4] = [
        ("SUM", [7.0, 2.0, 3.0, 8.0, -1.0, 12.0]),
        ("AVERAGE", [3.5, 1.0, 1.5, 4.0, -0.5, 6.0]),
        ("MIN", [1.0, 2.0, 3.0, 8.0, -1.0, 4.0]),
        ("MAX", [6.0, 2.0, 3.0, 8.0, -1.0, 8.0]),
    ];
    for (agg, want) in cases {
        let y = run(tree_regressor, two_trees(agg, "NONE", &[]), &x).unwrap();
        assert_eq!(y[0].shape, [3, 2]);
        assert_eq!(values(&y[0]), want, "{agg}");
        let y = run(tree_regressor, two_trees(agg, "NONE", &[0.5, -2.0]), &x).unwrap();
        let shifted: Vec<f32> = want
            .iter()
            .enumerate()
            .map(|(i, v)| v + [0.5, -2.0][i % 2])
            .collect();
        assert_eq!(values(&y[0]), shifted, "{agg} with base values");
    }
}

#[test]
fn post_transforms_apply_to_each_row() {
    let x = f(&[2, 2], &[-1.0, 6.0, 0.0, 2.0]);
    // Rows' sums: [7, 2] and [3, 8].
    let softmax = |a: f32, b: f32| {
        let (ea, eb) = ((a - a.max(b)).exp(), (b - a.max(b)).exp());
        [ea / (ea + eb), eb / (ea + eb)]
    };
    let y = run(tree_regressor, two_trees("SUM", "SOFTMAX", &[]), &x).unwrap();
    close(
        &values(&y[0]),
        &[softmax(7.0, 2.0), softmax(3.0, 8.0)].concat(),
    );
    let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
    let y = run(tree_regressor, two_trees("SUM", "LOGISTIC", &[]), &x).unwrap();
    close(
        &values(&y[0]),
        &[sigmoid(7.0), sigmoid(2.0), sigmoid(3.0), sigmoid(8.0)],
    );
    fails(
        build(tree_regressor, two_trees("SUM", "SQUASH", &[])),
        "unknown post_transform 'SQUASH'",
    );
}

#[test]
fn a_classifier_votes_and_labels() {
    // Three classes: the stump's true leaf votes class 2 (0.75) and 0 (0.25), its false leaf
    // class 1.
    let attrs = |transform: &str| {
        vec![
            ints("nodes_treeids", &[0, 0, 0]),
            ints("nodes_nodeids", &[0, 1, 2]),
            ints("nodes_featureids", &[1, 0, 0]),
            floats_attr("nodes_values", &[0.0, 0.0, 0.0]),
            strings("nodes_modes", &["BRANCH_LT", "LEAF", "LEAF"]),
            ints("nodes_truenodeids", &[1, 0, 0]),
            ints("nodes_falsenodeids", &[2, 0, 0]),
            ints("class_treeids", &[0, 0, 0]),
            ints("class_nodeids", &[1, 1, 2]),
            ints("class_ids", &[2, 0, 1]),
            floats_attr("class_weights", &[0.75, 0.25, 1.0]),
            ints("classlabels_int64s", &[7, 8, 9]),
            string("post_transform", transform),
        ]
    };
    let x = f(&[2, 2], &[0.0, -1.0, 0.0, 1.0]);
    let out = run(tree_classifier, attrs("NONE"), &x).unwrap();
    assert_eq!(out[0].as_i64().unwrap(), [9, 8]);
    assert_eq!(out[1].shape, [2, 3]);
    assert_eq!(values(&out[1]), [0.25, 0.0, 0.75, 0.0, 1.0, 0.0]);
    let out = run(tree_classifier, attrs("SOFTMAX"), &x).unwrap();
    let e = [0.25f32.exp(), 1.0, 0.75f32.exp()];
    let s: f32 = e.iter().sum();
    close(&values(&out[1])[..3], &[e[0] / s, e[1] / s, e[2] / s]);
}

#[test]
fn a_binary_classifier_with_weights_for_one_class_scores_both() {
    // As skl2onnx writes a gradient-boosting classifier: raw scores for class 1 only, one base
    // value, LOGISTIC: the scores are [1 - p, p], the label the class p favours.
    let attrs = vec![
        ints("nodes_treeids", &[0, 0, 0]),
        ints("nodes_nodeids", &[0, 1, 2]),
        ints("nodes_featureids", &[0, 0, 0]),
        floats_attr("nodes_values", &[0.0, 0.0, 0.0]),
        strings("nodes_modes", &["BRANCH_LEQ", "LEAF", "LEAF"]),
        ints("nodes_truenodeids", &[1, 0, 0]),
        ints("nodes_falsenodeids", &[2, 0, 0]),
        ints("class_treeids", &[0, 0]),
        ints("class_nodeids", &[1, 2]),
        ints("class_ids", &[0, 0]),
        floats_attr("class_weights", &[-1.5, 2.0]),
        floats_attr("base_values", &[0.5]),
        ints("classlabels_int64s", &[3, 5]),
        string("post_transform", "LOGISTIC"),
    ];
    let out = run(tree_classifier, attrs, &f(&[2, 1], &[-1.0, 1.0])).unwrap();
    assert_eq!(out[0].as_i64().unwrap(), [3, 5]);
    let p = |v: f32| 1.0 / (1.0 + (-v).exp());
    close(
        &values(&out[1]),
        &[1.0 - p(-1.0), p(-1.0), 1.0 - p(2.5), p(2.5)],
    );
}

#[test]
fn tree_ensemble_of_opset_5_has_set_membership() {
    // x0 in {1, 3} ? leaf 0 : (x1 < 0.5 ? leaf 1 : leaf 2), leaves 10, 20, 30; one target.
    let modes = pb::TensorProto {
        dims: vec![2],
        data_type: 2,
        raw_data: vec![MEMBER, LT].into(),
        ..Default::default()
    };
    let floats_tensor = |v: &[f32]| pb::TensorProto {
        dims: vec![v.len() as i64],
        data_type: 1,
        float_data: v.to_vec(),
        ..Default::default()
    };
    let attrs = vec![
        ints("nodes_featureids", &[0, 1]),
        tensor_attr("nodes_splits", floats_tensor(&[0.0, 0.5])),
        tensor_attr("nodes_modes", modes),
        ints("nodes_truenodeids", &[0, 1]),
        ints("nodes_trueleafs", &[1, 1]),
        ints("nodes_falsenodeids", &[1, 2]),
        ints("nodes_falseleafs", &[0, 1]),
        tensor_attr("membership_values", floats_tensor(&[1.0, 3.0, f32::NAN])),
        ints("leaf_targetids", &[0, 0, 0]),
        tensor_attr("leaf_weights", floats_tensor(&[10.0, 20.0, 30.0])),
        ints("tree_roots", &[0]),
        int("n_targets", 1),
    ];
    let x = f(&[4, 2], &[1.0, 9.0, 3.0, 9.0, 2.0, 0.0, 2.0, 1.0]);
    let y = run(tree_ensemble, attrs, &x).unwrap();
    assert_eq!(values(&y[0]), [10.0, 10.0, 20.0, 30.0]);
}

#[test]
fn malformed_trees_are_refused_at_load_and_short_inputs_at_run() {
    // Node 1 sends its true branch back to the root.
    let mut looped = stump("BRANCH_LEQ", false);
    looped[4] = strings("nodes_modes", &["BRANCH_LEQ", "BRANCH_LEQ", "LEAF"]);
    looped[5] = ints("nodes_truenodeids", &[1, 0, 0]);
    looped[6] = ints("nodes_falsenodeids", &[2, 2, 0]);
    fails(build(tree_regressor, looped), "is reached twice");
    let mut orphan = stump("BRANCH_LEQ", false);
    orphan[5] = ints("nodes_truenodeids", &[7, 0, 0]);
    fails(
        build(tree_regressor, orphan),
        "its true child, node 7, is not in the tree",
    );
    let mut short = stump("BRANCH_LEQ", false);
    short[3] = floats_attr("nodes_values", &[1.0]);
    fails(build(tree_regressor, short), "nodes_values has 1 entries");
    let mut far = stump("BRANCH_LEQ", false);
    far[2] = ints("nodes_featureids", &[3, 0, 0]);
    fails(
        run(tree_regressor, far, &f(&[1, 2], &[0.0, 0.0])),
        "the trees read feature 3 but the input has 2 features",
    );
    let e = err(build(tree_classifier, vec![]));
    assert!(e.contains("where a classifier needs two or more"), "{e}");
}

#[test]
fn linear_models_and_normalizer() {
    // Two classes from one set of coefficients: the scores are [1 - s, s].
    let attrs = vec![
        floats_attr("coefficients", &[1.0, -1.0]),
        floats_attr("intercepts", &[0.25]),
        ints("classlabels_ints", &[4, 6]),
    ];
    let out = run(linear_classifier, attrs, &f(&[2, 2], &[1.0, 0.5, 0.0, 1.0])).unwrap();
    assert_eq!(out[0].as_i64().unwrap(), [6, 4]);
    assert_eq!(values(&out[1]), [0.25, 0.75, 1.75, -0.75]);
    let attrs = vec![
        floats_attr("coefficients", &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
        floats_attr("intercepts", &[0.0, 0.0, -1.0]),
        ints("classlabels_ints", &[0, 1, 2]),
    ];
    let out = run(linear_classifier, attrs, &f(&[1, 2], &[2.0, 3.0])).unwrap();
    assert_eq!(out[0].as_i64().unwrap(), [2]);
    assert_eq!(values(&out[1]), [2.0, 3.0, 4.0]);
    let attrs = vec![
        floats_attr("coefficients", &[1.0, 2.0, 3.0, 4.0]),
        floats_attr("intercepts", &[1.0, -1.0]),
        int("targets", 2),
    ];
    let y = run(linear_regressor, attrs, &f(&[1, 2], &[1.0, 1.0])).unwrap();
    assert_eq!(values(&y[0]), [4.0, 6.0]);
    let x = f(&[2, 2], &[3.0, -1.0, 0.0, 0.0]);
    for (norm, want) in [
        ("MAX", [1.0, -1.0 / 3.0, 0.0, 0.0]),
        ("L1", [0.75, -0.25, 0.0, 0.0]),
        ("L2", [3.0 / 10f32.sqrt(), -1.0 / 10f32.sqrt(), 0.0, 0.0]),
    ] {
        let y = run(normalizer, vec![string("norm", norm)], &x).unwrap();
        close(&values(&y[0]), &want);
    }
}

#[test]
fn zipmap_returns_the_tensor_it_maps() {
    let attrs = || vec![ints("classlabels_int64s", &[0, 1, 2])];
    let x = f(&[2, 3], &[0.1, 0.2, 0.7, 0.3, 0.3, 0.4]);
    let y = run(zipmap, attrs(), &x).unwrap();
    assert_eq!(y[0], x);
    fails(run(zipmap, attrs(), &f(&[1, 2], &[0.5, 0.5])), "[N, 3]");
}

fn text(shape: &[usize], v: &[&str]) -> Tensor {
    Tensor::new(
        shape.to_vec(),
        Data::Str(v.iter().map(|s| s.to_string()).collect()),
    )
    .unwrap()
}

fn texts(t: &Tensor) -> Vec<&str> {
    match &t.data {
        Data::Str(v) => v.iter().map(String::as_str).collect(),
        other => panic!("not strings: {other:?}"),
    }
}

#[test]
fn string_class_labels_make_a_string_output() {
    let attrs = vec![
        floats_attr("coefficients", &[1.0, -1.0]),
        floats_attr("intercepts", &[0.25]),
        strings("classlabels_strings", &["no", "yes"]),
    ];
    let out = run(linear_classifier, attrs, &f(&[2, 2], &[1.0, 0.5, 0.0, 1.0])).unwrap();
    assert_eq!(texts(&out[0]), ["yes", "no"]);
    assert_eq!(out[0].shape, [2]);
    assert_eq!(values(&out[1]), [0.25, 0.75, 1.75, -0.75]);
    // A tree classifier whose two classes both have weights: onnxruntime's 0 or 1 picks the
    // first or second string.
    let attrs = vec![
        ints("nodes_treeids", &[0, 0, 0]),
        ints("nodes_nodeids", &[0, 1, 2]),
        ints("nodes_featureids", &[0, 0, 0]),
        floats_attr("nodes_values", &[1.0, 0.0, 0.0]),
        strings("nodes_modes", &["BRANCH_LEQ", "LEAF", "LEAF"]),
        ints("nodes_truenodeids", &[1, 0, 0]),
        ints("nodes_falsenodeids", &[2, 0, 0]),
        ints("class_treeids", &[0, 0, 0, 0]),
        ints("class_nodeids", &[1, 1, 2, 2]),
        ints("class_ids", &[0, 1, 0, 1]),
        floats_attr("class_weights", &[0.8, 0.2, 0.1, 0.9]),
        strings("classlabels_strings", &["setosa", "virginica"]),
    ];
    let out = run(tree_classifier, attrs, &f(&[2, 1], &[0.5, 2.0])).unwrap();
    assert_eq!(texts(&out[0]), ["virginica", "virginica"]);
    assert_eq!(values(&out[1]), [0.8, 0.2, 0.1, 0.9]);
    let zipped = run(
        zipmap,
        vec![strings("classlabels_strings", &["setosa", "virginica"])],
        &out[1],
    )
    .unwrap();
    assert_eq!(zipped[0], out[1]);
}

/// Two classes, one support vector each (e0 and e1), linear kernel.
fn svc2() -> Vec<pb::AttributeProto> {
    vec![
        string("kernel_type", "LINEAR"),
        ints("vectors_per_class", &[1, 1]),
        floats_attr("support_vectors", &[1.0, 0.0, 0.0, 1.0]),
        floats_attr("coefficients", &[1.0, -1.0]),
        floats_attr("rho", &[0.5]),
        ints("classlabels_ints", &[3, 7]),
    ]
}

#[test]
fn svm_classifier_votes_and_scores() {
    use svm::svm_classifier;
    // Decision value s = x0 - x1 + 0.5: class 3 when positive; scores [-s, s].
    let x = f(&[2, 2], &[2.0, 0.0, 0.0, 3.0]);
    let out = run(svm_classifier, svc2(), &x).unwrap();
    assert_eq!(out[0].as_i64().unwrap(), [3, 7]);
    assert_eq!(values(&out[1]), [-2.5, 2.5, 2.5, -2.5]);
    // Platt's probabilities: P(class 3) = 1 - logistic(s * A + B) with A = -1, B = 0.
    let mut attrs = svc2();
    attrs.push(floats_attr("prob_a", &[-1.0]));
    attrs.push(floats_attr("prob_b", &[0.0]));
    let out = run(svm_classifier, attrs, &f(&[1, 2], &[2.0, 0.0])).unwrap();
    assert_eq!(out[0].as_i64().unwrap(), [3]);
    let p = 1.0 / (1.0 + (-2.5f32).exp());
    let z = values(&out[1]);
    assert!(
        (z[0] - p).abs() < 5e-3 && (z[1] - (1.0 - p)).abs() < 5e-3,
        "{z:?}"
    );
    // Three classes, one vector each (e0, e1, e2): the pairs' values are x0 - x1, x0 - x2 and
    // x1 - x2, and each votes for its first class when positive.
    let attrs = vec![
        ints("vectors_per_class", &[1, 1, 1]),
        floats_attr(
            "support_vectors",
            &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        ),
        floats_attr("coefficients", &[1.0, -1.0, -1.0, 1.0, 1.0, -1.0]),
        floats_attr("rho", &[0.0, 0.0, 0.0]),
        strings("classlabels_strings", &["a", "b", "c"]),
    ];
    let x = f(&[2, 3], &[0.0, 0.0, 5.0, 3.0, 1.0, 0.0]);
    let out = run(svm_classifier, attrs, &x).unwrap();
    assert_eq!(texts(&out[0]), ["c", "a"]);
    assert_eq!(values(&out[1]), [0.0, -5.0, -5.0, 2.0, 3.0, 1.0]);
    // liblinear (no support vectors): a score per class, rho[0] added.
    let attrs = vec![
        floats_attr("coefficients", &[1.0, 0.0, 0.0, 1.0]),
        floats_attr("rho", &[0.1]),
        ints("classlabels_ints", &[0, 1]),
    ];
    let out = run(svm_classifier, attrs, &f(&[1, 2], &[0.2, 0.9])).unwrap();
    assert_eq!(out[0].as_i64().unwrap(), [1]);
    close(&values(&out[1]), &[0.3, 1.0]);
    fails(
        run(svm_classifier, svc2(), &f(&[1, 3], &[0.0; 3])),
        "the input has 3 features, where the model has 2",
    );
    let mut short = svc2();
    short[3] = floats_attr("coefficients", &[1.0]);
    fails(build(svm_classifier, short), "coefficients has 1 values");
}

#[test]
fn svm_regressor_kernels() {
    use svm::svm_regressor;
    let model = |kernel: &str, params: &[f32], one_class: i64| {
        vec![
            string("kernel_type", kernel),
            floats_attr("kernel_params", params),
            int("n_supports", 2),
            floats_attr("support_vectors", &[0.0, 0.0, 1.0, 1.0]),
            floats_attr("coefficients", &[2.0, -1.0]),
            floats_attr("rho", &[0.5]),
            int("one_class", one_class),
        ]
    };
    // RBF, gamma 1: 2 exp(0) - exp(-2) + 0.5.
    let y = run(
        svm_regressor,
        model("RBF", &[1.0, 0.0, 3.0], 0),
        &f(&[1, 2], &[0.0, 0.0]),
    );
    close(&values(&y.unwrap()[0]), &[2.5 - (-2f32).exp()]);
    // POLY, (x.v + 1)^2: 2 * 1 - 4 + 0.5; one_class makes it -1.
    let x = f(&[1, 2], &[1.0, 0.0]);
    let y = run(svm_regressor, model("POLY", &[1.0, 1.0, 2.0], 0), &x).unwrap();
    assert_eq!(values(&y[0]), [-1.5]);
    assert_eq!(y[0].shape, [1, 1]);
    let y = run(svm_regressor, model("POLY", &[1.0, 1.0, 2.0], 1), &x).unwrap();
    assert_eq!(values(&y[0]), [-1.0]);
    // SIGMOID: 2 tanh(1) - tanh(2) + 0.5 at x = [1, 0] with gamma 1, coef0 1.
    let y = run(svm_regressor, model("SIGMOID", &[1.0, 1.0, 0.0], 0), &x).unwrap();
    close(&values(&y[0]), &[2.0 * 1f32.tanh() - 2f32.tanh() + 0.5]);
    // Linear (no support vectors): x.w + rho.
    let attrs = vec![
        floats_attr("coefficients", &[1.0, 2.0]),
        floats_attr("rho", &[3.0]),
    ];
    let y = run(svm_regressor, attrs, &f(&[2, 2], &[1.0, 1.0, 0.0, -1.0])).unwrap();
    assert_eq!(values(&y[0]), [6.0, 1.0]);
}

fn build_at(builder: Builder, opset: i64, attrs: Vec<pb::AttributeProto>) -> Box<dyn Op> {
    let node = pb::NodeProto {
        op_type: "ml".into(),
        domain: "ai.onnx.ml".into(),
        attribute: attrs,
        ..Default::default()
    };
    let ctx = NodeCtx {
        op_type: "ml",
        node: &node,
        consts: vec![None],
        present: vec![true],
        opset,
    };
    builder(&ctx).unwrap()
}

#[test]
fn label_encoder_and_category_mapper() {
    use encode::{category_mapper, label_encoder};
    let x = text(&[2, 2], &["b", "z", "a", "b"]);
    let enc = build_at(
        label_encoder,
        2,
        vec![
            strings("keys_strings", &["a", "b"]),
            ints("values_int64s", &[10, 20]),
            int("default_int64", 42),
        ],
    );
    let y = enc.run(&[Some(&x)]).unwrap();
    assert_eq!(y[0].as_i64().unwrap(), [20, 42, 10, 20]);
    assert_eq!(y[0].shape, [2, 2]);
    fails(enc.run(&[Some(&f(&[1], &[1.0]))]), "does not map");
    // Floats to strings; NaN is a key like any other.
    let enc = build_at(
        label_encoder,
        2,
        vec![
            floats_attr("keys_floats", &[0.5, f32::NAN]),
            strings("values_strings", &["half", "missing"]),
        ],
    );
    let y = enc.run(&[Some(&f(&[3], &[f32::NAN, 0.5, 1.0]))]).unwrap();
    assert_eq!(texts(&y[0]), ["missing", "half", "_Unused"]);
    // Opset 1: classes_strings, both ways.
    let enc = build_at(
        label_encoder,
        1,
        vec![
            strings("classes_strings", &["x", "y"]),
            string("default_string", "?"),
        ],
    );
    let y = enc.run(&[Some(&text(&[3], &["y", "x", "w"]))]).unwrap();
    assert_eq!(y[0].as_i64().unwrap(), [1, 0, -1]);
    let y = enc.run(&[Some(&i(&[3], &[1, 5, 0]))]).unwrap();
    assert_eq!(texts(&y[0]), ["y", "?", "x"]);
    let map = build_at(
        category_mapper,
        1,
        vec![
            strings("cats_strings", &["cat", "dog"]),
            ints("cats_int64s", &[3, 8]),
            int("default_int64", 0),
        ],
    );
    let y = map
        .run(&[Some(&text(&[3], &["dog", "cow", "cat"]))])
        .unwrap();
    assert_eq!(y[0].as_i64().unwrap(), [8, 0, 3]);
    let y = map.run(&[Some(&i(&[2], &[3, 4]))]).unwrap();
    assert_eq!(texts(&y[0]), ["cat", "_Unused"]);
}

#[test]
fn one_hot_scaler_imputer_binarizer() {
    use encode::{binarizer, imputer, one_hot_encoder, scaler};
    let enc = || vec![strings("cats_strings", &["r", "g", "b"])];
    let y = run(one_hot_encoder, enc(), &text(&[2, 1], &["b", "x"])).unwrap();
    assert_eq!(y[0].shape, [2, 1, 3]);
    assert_eq!(values(&y[0]), [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    let mut strict = enc();
    strict.push(int("zeros", 0));
    fails(
        run(one_hot_encoder, strict, &text(&[1], &["x"])),
        "is not one of the categories",
    );
    // Numbers are integer categories (floats truncated).
    let y = run(
        one_hot_encoder,
        vec![ints("cats_int64s", &[1, 2])],
        &f(&[2], &[2.7, 1.0]),
    )
    .unwrap();
    assert_eq!(values(&y[0]), [0.0, 1.0, 1.0, 0.0]);
    let attrs = vec![
        floats_attr("offset", &[1.0, 2.0]),
        floats_attr("scale", &[2.0]),
    ];
    let y = run(scaler, attrs, &f(&[2, 2], &[1.0, 2.0, 3.0, 5.0])).unwrap();
    assert_eq!(values(&y[0]), [0.0, 0.0, 4.0, 6.0]);
    let attrs = vec![
        floats_attr("offset", &[1.0, 2.0, 3.0]),
        floats_attr("scale", &[2.0]),
    ];
    fails(
        run(scaler, attrs, &f(&[1, 2], &[1.0, 2.0])),
        "offset has 3 values, where the input has 2 features",
    );
    let attrs = vec![
        floats_attr("imputed_value_floats", &[7.0, 8.0]),
        float("replaced_value_float", f32::NAN),
    ];
    let y = run(imputer, attrs, &f(&[2, 2], &[f32::NAN, 1.0, 2.0, f32::NAN])).unwrap();
    assert_eq!(values(&y[0]), [7.0, 1.0, 2.0, 8.0]);
    let attrs = vec![
        ints("imputed_value_int64s", &[9]),
        int("replaced_value_int64", -1),
    ];
    let y = run(imputer, attrs, &i(&[3], &[-1, 4, -1])).unwrap();
    assert_eq!(y[0].as_i64().unwrap(), [9, 4, 9]);
    let y = run(
        binarizer,
        vec![float("threshold", 0.5)],
        &f(&[3], &[0.5, 0.6, -1.0]),
    )
    .unwrap();
    assert_eq!(values(&y[0]), [0.0, 1.0, 0.0]);
}

#[test]
fn array_feature_extractor_and_feature_vectorizer() {
    use encode::{array_feature_extractor, feature_vectorizer};
    let afe = build(array_feature_extractor, vec![]).unwrap();
    let x = text(&[2, 3], &["a", "b", "c", "d", "e", "f"]);
    let y = afe.run(&[Some(&x), Some(&i(&[2], &[2, 0]))]).unwrap();
    assert_eq!(y[0].shape, [2, 2]);
    assert_eq!(texts(&y[0]), ["c", "a", "f", "d"]);
    // A vector is one row.
    let y = afe
        .run(&[Some(&f(&[3], &[1.0, 2.0, 3.0])), Some(&i(&[1], &[1]))])
        .unwrap();
    assert_eq!(y[0].shape, [1, 1]);
    assert_eq!(values(&y[0]), [2.0]);
    fails(
        afe.run(&[Some(&x), Some(&i(&[1], &[3]))]),
        "index 3 is out of range for 3 features",
    );
    // Inputs cut or padded to their inputdimensions, side by side.
    let fv = build(feature_vectorizer, vec![ints("inputdimensions", &[1, 3])]).unwrap();
    let a = f(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let b = i(&[2, 2], &[5, 6, 7, 8]);
    let y = fv.run(&[Some(&a), Some(&b)]).unwrap();
    assert_eq!(y[0].shape, [2, 4]);
    assert_eq!(values(&y[0]), [1.0, 5.0, 6.0, 0.0, 3.0, 7.0, 8.0, 0.0]);
}

#[test]
fn strings_go_through_gather_and_reshape_only() {
    use super::super::testing::run1;
    let x = text(&[2, 2], &["a", "b", "c", "d"]);
    let y = run1("Gather", &[int("axis", 1)], &[&x, &i(&[1], &[1])]).unwrap();
    assert_eq!(y.shape, [2, 1]);
    assert_eq!(texts(&y), ["b", "d"]);
    let y = run1("Reshape", &[], &[&x, &i(&[1], &[4])]).unwrap();
    assert_eq!(texts(&y), ["a", "b", "c", "d"]);
    fails(
        run1("Cast", &[int("to", 1)], &[&text(&[1], &["1.5"])]),
        "Cast from string is not in the lite build",
    );
    let e = err(run1("Add", &[], &[&x, &x]));
    assert!(e.contains("string"), "{e}");
}

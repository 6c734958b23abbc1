//! Native tests of the lite build (`cargo test --no-default-features --features lite --test
//! lite`): onnxlet's own engine (src/lite/) on the pinned real models against their reference
//! outputs, and its errors.

use onnxlet::{DType, ErrorCode, HostTensor, LoadOptions, Session};

#[path = "support/helpers.rs"]
mod helpers;
#[path = "support/real_models.rs"]
mod real_models;
#[path = "support/reference_cases.rs"]
mod reference_cases;

use helpers::{expect_error, f32_tensor, f32_values, test_model};

/// Every pinned model runs on the lite engine and matches its reference outputs.
#[test]
fn real_models_match_reference_outputs() {
    let index = real_models::index();
    for model in &index.models {
        if let Err(e) = real_models::check(model) {
            panic!("{}: {e}", model.name);
        }
    }
}

/// The threads build splits convolutions and matrix products across its pool (src/lite/par.rs),
/// each output computed as on one thread: on a pool of 3 threads, every real model gives the
/// very bits it gives on one.
#[cfg(feature = "threads")]
#[test]
fn a_pool_of_three_threads_gives_the_bits_of_one() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    for model in &real_models::index().models {
        let one = real_models::outputs(model);
        let three = pool.install(|| real_models::outputs(model));
        let same = one.len() == three.len()
            && one.iter().zip(&three).all(|(a, b)| {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            });
        assert!(same, "{}: 3 threads differ from 1", model.name);
    }
}

#[path = "support/wild_models.rs"]
mod wild_models;

/// Models as converters write them (issue 30): every one runs on the lite engine and agrees
/// with onnxruntime: float16 ones (computed in float32), quantized ones (QDQ, dynamic) and
/// skl2onnx's defaults (the ai.onnx.ml operators, and ZipMap's maps as a tensor).
#[test]
fn wild_models_match_onnxruntime() {
    let index = wild_models::index();
    assert!(
        index.models.len() >= 28,
        "the index lists {}",
        index.models.len()
    );
    for model in &index.models {
        if let Err(e) = wild_models::check(model) {
            panic!("{}: {e}", model.name);
        }
    }
}

/// skl2onnx's default classifier output: ZipMap's sequence of maps comes back as the float32
/// `[N, classes]` tensor it maps (onnxruntime-web cannot return it at all), and the labels
/// alone can be asked for.
#[test]
fn a_zipmap_output_is_the_tensor_of_its_probabilities() {
    let dir = wild_models::dir();
    let bytes = std::fs::read(dir.join("skl_logreg_zipmap/model.onnx")).unwrap();
    let session = Session::load(&bytes, &LoadOptions::default()).unwrap();
    let probability = &session.outputs()[1];
    assert_eq!(probability.name, "output_probability");
    assert_eq!(probability.dtype, DType::Float32);
    assert_eq!(
        probability.shape,
        [onnxlet::Dim::Unknown, onnxlet::Dim::Fixed(3)]
    );
    let x = f32_tensor(&[2, 4], &[5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]);
    let out = session
        .run(
            vec![("X".into(), x.clone())],
            Some(&["output_label".into()]),
        )
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.dims(), [2]);
    let out = session.run(vec![("X".into(), x)], None).unwrap();
    assert_eq!(out[1].1.dims(), [2, 3]);
    for row in f32_values(&out[1].1).chunks(3) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
    }
}

#[path = "support/decoders.rs"]
mod decoders;

/// Text generation with a KV cache (issue 30): optimum's GPT-2 and Llama exports decode
/// onnxruntime's tokens in all three layouts on the lite engine.
#[test]
fn decoders_decode_onnxruntime_tokens() {
    for name in ["gpt2", "llama"] {
        for layout in ["single", "split", "merged"] {
            decoders::check(name, layout).unwrap_or_else(|e| panic!("{name} {layout}: {e}"));
        }
    }
}

#[test]
fn unsupported_operators_are_named_at_load_and_the_next_load_works() {
    expect_error(
        Session::load(&test_model("unsupported_op.onnx"), &LoadOptions::default()),
        ErrorCode::UnsupportedOperator,
        &[
            "unsupported operator FrobnicateTensor (domain ai.onnx, opset 13) at node \
             'weird_node' in the lite build",
            "No onnxlet engine implements it",
        ],
    );
    let session = Session::load(&test_model("add_dynamic.onnx"), &LoadOptions::default()).unwrap();
    let a = f32_tensor(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = f32_tensor(&[2, 3], &[0.5; 6]);
    let out = session
        .run(vec![("a".into(), a), ("b".into(), b)], None)
        .unwrap();
    assert_eq!(out[0].1.dims(), &[2, 3]);
    assert_eq!(f32_values(&out[0].1), [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]);
}

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
    let model = test_model("matmul_seq.onnx");
    for cut in [1, model.len() / 3, model.len() / 2, model.len() - 1] {
        let result = Session::load(&model[..cut], &LoadOptions::default());
        assert!(result.is_err(), "a model cut at {cut} bytes loaded");
    }
    // The whole model still loads and runs: x [1, 2, 4] times W = 0.1 * arange(8) as [4, 2].
    let session = Session::load(&model, &LoadOptions::default()).unwrap();
    let x = f32_tensor(&[1, 2, 4], &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    let y = f32_values(&session.run(vec![("x".into(), x)], None).unwrap()[0].1);
    let want = [0.0, 0.1, 0.6, 0.7];
    assert!(
        y.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
        "{y:?}"
    );
}

#[test]
fn bad_feeds_and_huge_shapes_are_errors_and_the_session_still_works() {
    let session = Session::load(&test_model("add_dynamic.onnx"), &LoadOptions::default()).unwrap();
    let a = || f32_tensor(&[2, 3], &[0.0; 6]);
    let wrong_type = HostTensor::new(DType::Int32, vec![2, 3], vec![0; 24]).unwrap();
    expect_error(
        session.run(vec![("a".into(), wrong_type), ("b".into(), a())], None),
        ErrorCode::InvalidInput,
        &["input 'a'", "expected a float32 tensor, got int32"],
    );
    expect_error(
        session.run(
            vec![
                ("a".into(), a()),
                ("b".into(), f32_tensor(&[2, 2], &[0.0; 4])),
            ],
            None,
        ),
        ErrorCode::InvalidInput,
        &["input 'b'", "dimension 1 must be 3", "got 2"],
    );
    // Inputs that disagree on a symbol are not refused up front (onnxruntime accepts them, and
    // a merged decoder's attention_mask is longer than its declared `sequence_length`): the
    // node that cannot take them fails.
    expect_error(
        session.run(
            vec![
                ("a".into(), a()),
                ("b".into(), f32_tensor(&[5, 3], &[0.0; 15])),
            ],
            None,
        ),
        ErrorCode::RuntimeError,
        &[
            "Add node 'add'",
            "shapes [2, 3] and [5, 3] do not broadcast",
        ],
    );
    assert!(session
        .run(vec![("a".into(), a()), ("b".into(), a())], None)
        .is_ok());

    // A shape read from an input's value: ConstantOfShape checks the volume before allocating.
    let session = Session::load(
        &test_model("huge_intermediate.onnx"),
        &LoadOptions::default(),
    )
    .unwrap();
    let shape = |dims: &[i64]| {
        let bytes = dims.iter().flat_map(|v| v.to_le_bytes()).collect();
        HostTensor::new(DType::Int64, vec![dims.len()], bytes).unwrap()
    };
    expect_error(
        session.run(vec![("shape".into(), shape(&[100000, 100000]))], None),
        ErrorCode::RuntimeError,
        &["ConstantOfShape node", "[100000, 100000]", "elements"],
    );
    let out = session
        .run(vec![("shape".into(), shape(&[3, 4]))], None)
        .unwrap();
    assert_eq!(f32_values(&out[0].1), vec![12.0]);
}

#[test]
fn fetches_select_and_order_outputs() {
    let session = Session::load(&test_model("two_outputs.onnx"), &LoadOptions::default()).unwrap();
    let x = || f32_tensor(&[2, 2], &[1.0, -2.0, 3.0, 0.5]);
    let fetch = ["negated".to_string(), "doubled".to_string()];
    let out = session.run(vec![("x".into(), x())], Some(&fetch)).unwrap();
    assert_eq!(out[0].0, "negated");
    assert_eq!(f32_values(&out[0].1), [-1.0, 2.0, -3.0, -0.5]);
    assert_eq!(f32_values(&out[1].1), [2.0, -4.0, 6.0, 1.0]);
}

#[path = "support/hostile.rs"]
mod hostile;

#[test]
fn hostile_tiny_models_are_errors_naming_the_node() {
    // The lite engine checks sizes against `MAX_ELEMENTS`, so every case runs natively too.
    let failures: Vec<String> = hostile::cases().iter().filter_map(hostile::check).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[path = "support/budget.rs"]
mod budget;

/// The lite engine checks a tensor's size against the budget before allocating it: the message
/// names the tensor's shape, type and size.
#[test]
fn a_tensor_over_the_memory_budget_is_refused_before_it_is_allocated() {
    budget::a_tensor_over_the_budget_is_refused_naming_its_node(&[
        "Expand node 'square'",
        "needs a [16384, 16384] float32 tensor (1.1 GB)",
    ]);
}

#[test]
fn a_small_memory_budget_refuses_a_run_and_a_large_one_runs_it() {
    budget::a_small_budget_refuses_a_normal_run_and_a_large_one_runs_it();
}

/// A few hundred bytes of ConstantOfShape and Transpose would fold into 2 GB at load: the lite
/// engine folds only within an allowance (512 MiB a fold, or twice the weights), so loading allocates
/// next to nothing and the run, under its memory budget, refuses the 1 GB constant by name.
#[test]
fn a_constant_folding_bomb_is_computed_at_run_time_under_the_budget() {
    let model = test_model("budget/fold_bomb.onnx");
    let options = LoadOptions {
        max_memory_bytes: 1 << 29,
        ..LoadOptions::default()
    };
    let before = onnxlet::heap_usage().allocated;
    let session = Session::load(&model, &options).unwrap();
    // Other tests allocate beside this one: the bound is far from the 1 GB a fold would take.
    let grown = onnxlet::heap_usage().allocated.saturating_sub(before);
    assert!(grown < 256 << 20, "loading allocated {grown} bytes");
    expect_error(
        session.run(vec![], None),
        ErrorCode::ResourceLimit,
        &[
            "'make'",
            "needs a [16000, 16000] float32 tensor",
            "maxMemoryBytes = 536870912",
        ],
    );
}

/// Loading in slices (what the JS wrapper does, returning to the event loop between slices so
/// that an abort is seen while a large model loads): with no time per slice, each step builds
/// one initializer or node, progress rises from 0 to 1, and the session equals one loaded at once.
#[test]
fn a_model_loads_in_steps_with_progress_and_runs_as_one_loaded_at_once() {
    let dir = real_models::models_dir();
    let bytes = std::fs::read(dir.join("squeezenet/model.onnx")).unwrap();
    let options = LoadOptions::default();
    let mut buffer = onnxlet::ModelBuffer::new(bytes.len(), &[]).unwrap();
    buffer.append(&bytes).unwrap();
    let mut loading = Session::start_loading(&mut buffer, &options).unwrap();
    assert!(
        buffer.bytes().is_empty(),
        "the checks passed: the bytes are taken"
    );
    let mut progress = vec![loading.progress()];
    let session = loop {
        match loading.step(0.0) {
            Some(result) => break result.unwrap(),
            None => progress.push(loading.progress()),
        }
    };
    // squeezenet has 52 initializers and 66 nodes (some fused into their producers).
    assert!(progress.len() > 100, "{} steps", progress.len());
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        progress.iter().all(|p| (0.0..1.0).contains(p)),
        "{progress:?}"
    );
    assert_eq!(loading.progress(), 1.0);
    assert!(
        loading.step(0.0).unwrap().is_err(),
        "a finished load has no more steps"
    );

    let at_once = Session::load(&bytes, &options).unwrap();
    let input = f32_tensor(&[1, 3, 224, 224], &vec![0.5; 3 * 224 * 224]);
    let name = at_once.inputs()[0].name.clone();
    let a = at_once
        .run(vec![(name.clone(), input.clone())], None)
        .unwrap();
    let b = session.run(vec![(name, input)], None).unwrap();
    assert_eq!(f32_values(&a[0].1), f32_values(&b[0].1));
}

/// A large layer's weights are made a piece at a time, each piece a step of the load: alexnet's
/// first fully connected layer (9216 x 4096 float32, 151 MB, folded at load from a
/// ConstantOfShape) takes dozens of steps to fill, not one, so that an abort or a frame need not
/// wait for all of it. They are not packed at load: a product of one row reads them as stored.
#[test]
fn a_large_layer_is_made_across_many_steps() {
    let bytes = std::fs::read(real_models::models_dir().join("bvlc_alexnet/model.onnx")).unwrap();
    let mut buffer = onnxlet::ModelBuffer::new(bytes.len(), &[]).unwrap();
    buffer.append(&bytes).unwrap();
    let mut loading = Session::start_loading(&mut buffer, &LoadOptions::default()).unwrap();
    let (mut steps, mut longest) = (0, std::time::Duration::ZERO);
    loop {
        let started = std::time::Instant::now();
        let done = loading.step(0.0);
        longest = longest.max(started.elapsed());
        steps += 1;
        if let Some(result) = done {
            result.unwrap();
            break;
        }
    }
    // 17 initializers and 36 nodes; the three fully connected layers' 37.7 M, 16.8 M and 4.1 M
    // weights, filled 1 M values a step, add about 60 (packing them would add 60 more).
    assert!((53 + 55..53 + 100).contains(&steps), "{steps} steps");
    println!("alexnet: {steps} steps, the longest {longest:?}");
}

/// A load dropped part-way (an abort) leaves nothing behind that stops the next one.
#[test]
fn a_load_dropped_part_way_leaves_the_next_load_working() {
    let bytes = std::fs::read(real_models::models_dir().join("squeezenet/model.onnx")).unwrap();
    let mut buffer = onnxlet::ModelBuffer::new(bytes.len(), &[]).unwrap();
    buffer.append(&bytes).unwrap();
    let mut loading = Session::start_loading(&mut buffer, &LoadOptions::default()).unwrap();
    for _ in 0..20 {
        assert!(loading.step(0.0).is_none());
    }
    drop(loading);
    let session = Session::load(&bytes, &LoadOptions::default()).unwrap();
    assert_eq!(session.inputs().len(), 1);
}

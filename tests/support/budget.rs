//! The memory budget (`LoadOptions::max_memory_bytes`, issue 31 class 4), on either engine: a
//! tensor over it is refused with `RESOURCE_LIMIT` naming the node, before it is allocated, and
//! the session runs again afterwards. Used by tests/native.rs (tract) and tests/lite.rs. The
//! heap counters are process-wide and other tests run beside these, so the budgets are far from
//! what those hold: 512 MiB against a 1.07 GB tensor, 1 byte, or no limit.
#![allow(dead_code)]

use onnxlet::{DType, ErrorCode, HostTensor, LoadOptions, Session, DEFAULT_MAX_MEMORY_BYTES};

use super::helpers::{expect_error, f32_tensor, f32_values, test_model};

fn i64_tensor(dims: &[usize], values: &[i64]) -> HostTensor {
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    HostTensor::new(DType::Int64, dims.to_vec(), bytes).unwrap()
}

fn budget(max_memory_bytes: usize) -> LoadOptions {
    LoadOptions {
        max_memory_bytes,
        ..LoadOptions::default()
    }
}

fn expand_feeds(shape: [i64; 2]) -> Vec<(String, HostTensor)> {
    vec![
        ("x".into(), f32_tensor(&[1], &[1.5])),
        ("s".into(), i64_tensor(&[2], &shape)),
    ]
}

/// `tests/models/budget/expand_twice.onnx` fed a [16384, 16384] shape (2^28 elements, the most
/// the lite engine allows in one tensor: 1.07 GB of float32) with a budget of 512 MiB is refused
/// at node 'square', naming the budget; then a small shape runs.
/// `fragments` are what the engine's message must also say.
pub fn a_tensor_over_the_budget_is_refused_naming_its_node(fragments: &[&str]) {
    let session = Session::load(&test_model("budget/expand_twice.onnx"), &budget(1 << 29)).unwrap();
    let mut expected = vec!["'square'", "maxMemoryBytes = 536870912", "in use"];
    expected.extend_from_slice(fragments);
    expect_error(
        session.run(expand_feeds([16384, 16384]), None),
        ErrorCode::ResourceLimit,
        &expected,
    );
    let out = session.run(expand_feeds([3, 2]), None).unwrap();
    assert_eq!(out[0].1.dims(), &[3, 2]);
    assert_eq!(f32_values(&out[0].1), vec![3.0; 6]);
}

/// A budget smaller than anything refuses a run of a normal model; no limit runs it; the default
/// is 2 GiB.
pub fn a_small_budget_refuses_a_normal_run_and_a_large_one_runs_it() {
    assert_eq!(LoadOptions::default().max_memory_bytes, 1 << 31);
    assert_eq!(DEFAULT_MAX_MEMORY_BYTES, 1 << 31);
    let feeds = || {
        vec![
            ("a".to_string(), f32_tensor(&[2, 3], &[1.0; 6])),
            ("b".to_string(), f32_tensor(&[2, 3], &[2.0; 6])),
        ]
    };
    let model = test_model("add_dynamic.onnx");
    let tight = Session::load(&model, &budget(1)).unwrap();
    expect_error(
        tight.run(feeds(), None),
        ErrorCode::ResourceLimit,
        &["maxMemoryBytes = 1;", "over the session's memory budget"],
    );
    let roomy = Session::load(&model, &budget(usize::MAX)).unwrap();
    assert_eq!(
        f32_values(&roomy.run(feeds(), None).unwrap()[0].1),
        vec![3.0; 6]
    );
}

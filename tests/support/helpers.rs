//! Helpers shared by the native test crates (tests/native.rs and tests/lite.rs), each of which
//! uses a part of them.
#![allow(dead_code)]

use std::path::Path;

use onnxlet::{DType, ErrorCode, HostTensor};

/// A model of `tests/models`.
pub fn test_model(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/models")
            .join(name),
    )
    .unwrap()
}

pub fn f32_tensor(dims: &[usize], values: &[f32]) -> HostTensor {
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    HostTensor::new(DType::Float32, dims.to_vec(), bytes).unwrap()
}

pub fn f32_values(t: &HostTensor) -> Vec<f32> {
    assert_eq!(t.dtype(), DType::Float32);
    t.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Asserts that `result` is an error of `code` whose message contains every fragment.
#[track_caller]
pub fn expect_error(result: onnxlet::Result<impl Sized>, code: ErrorCode, fragments: &[&str]) {
    let Err(err) = result else {
        panic!("expected a {code} error, got a result")
    };
    assert_eq!(err.code, code, "{}", err.message);
    for f in fragments {
        assert!(
            err.message.contains(f),
            "message {:?} should mention {:?}",
            err.message,
            f
        );
    }
}

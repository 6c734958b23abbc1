//! Models as today's converters write them (issue 30; `scripts/make-wild-models.py` writes them
//! to `.cache/wild-models` with onnxruntime's outputs): each runs against its reference within the
//! index's tolerance: max |error| <= atol + rtol * max |reference|.
//! Shared by tests/native.rs (tract) and tests/lite.rs.

use std::path::PathBuf;

use onnxlet::{DType, HostTensor};
use serde::Deserialize;

use crate::reference_cases::{self, Case};

#[derive(Deserialize)]
pub struct Index {
    pub models: Vec<WildModel>,
}

#[derive(Deserialize)]
pub struct WildModel {
    pub name: String,
    file: String,
    rtol: f64,
    atol: f64,
    cases: Vec<Case>,
}

pub fn dir() -> PathBuf {
    reference_cases::dir("ONNXLET_WILD_MODELS_DIR", ".cache/wild-models")
}

/// The index, or a panic saying how to make the models.
pub fn index() -> Index {
    reference_cases::index(&dir(), "scripts/make-wild-models.py")
}

fn values(t: &HostTensor) -> Vec<f64> {
    match t.dtype() {
        DType::Float32 => t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        DType::Int64 => t
            .data()
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        DType::Uint8 => t.data().iter().map(|&v| v as f64).collect(),
        DType::Int8 => t.data().iter().map(|&v| v as i8 as f64).collect(),
        other => panic!("no comparison for {other:?}"),
    }
}

/// Loads `model` and runs its cases; panics when an output is off its reference by more than
/// the model's tolerance. A load or run error is returned, for the caller to expect or report.
pub fn check(model: &WildModel) -> onnxlet::Result<()> {
    let mut failures = vec![];
    reference_cases::run_cases(
        &dir(),
        &model.file,
        &model.cases,
        |k, name, actual, expected| {
            assert_eq!(actual.dtype(), expected.dtype(), "{} {name}", model.name);
            // String outputs (class labels) must be identical.
            if expected.dtype() == DType::String {
                if actual.strings() != expected.strings() || actual.dims() != expected.dims() {
                    failures.push(format!(
                        "case {k} {name}: {:?} {:?}, where onnxruntime has {:?} {:?}",
                        actual.dims(),
                        actual.strings(),
                        expected.dims(),
                        expected.strings()
                    ));
                }
                return;
            }
            let (a, e) = (values(actual), values(expected));
            let diff = a
                .iter()
                .zip(&e)
                // A NaN where the reference has a number counts as infinitely off.
                .map(|(a, b)| {
                    if a.is_nan() != b.is_nan() {
                        f64::INFINITY
                    } else {
                        (a - b).abs()
                    }
                })
                .fold(0f64, f64::max);
            let scale = e.iter().fold(0f64, |m, v| m.max(v.abs()));
            let allowed = model.atol + model.rtol * scale;
            if diff > allowed {
                failures.push(format!(
                    "case {k} {name}: max |error| {diff:e} > {allowed:e} (atol {:e} + rtol {:e} \
                 * max |reference| {scale:e})",
                    model.atol, model.rtol
                ));
            }
        },
    )?;
    assert!(
        failures.is_empty(),
        "{}: {}",
        model.name,
        failures.join("; ")
    );
    Ok(())
}

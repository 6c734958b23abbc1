//! The pinned real models of `.cache/models` (written by `scripts/fetch-models.py`) run against
//! their reference outputs. Shared by the native tests of the default build (tests/native.rs)
//! and of the lite build (tests/lite.rs).

use std::path::PathBuf;

use serde::Deserialize;

use crate::helpers::f32_values;
use crate::reference_cases::{self, Case};

#[derive(Deserialize)]
pub struct Index {
    pub models: Vec<ModelEntry>,
}

#[derive(Deserialize)]
pub struct ModelEntry {
    pub name: String,
    file: String,
    classifier: bool,
    cases: Vec<Case>,
}

pub fn models_dir() -> PathBuf {
    reference_cases::dir("ONNXLET_MODELS_DIR", ".cache/models")
}

/// The models' index, or a panic saying how to fetch them.
pub fn index() -> Index {
    reference_cases::index(&models_dir(), "scripts/fetch-models.py")
}

/// max |a - b| / max |b|: the error relative to the output's magnitude.
fn relative_error(actual: &[f32], expected: &[f32]) -> f64 {
    let scale = expected
        .iter()
        .fold(0f64, |m, v| m.max(v.abs() as f64))
        .max(f64::MIN_POSITIVE);
    let diff = actual
        .iter()
        .zip(expected)
        .fold(0f64, |m, (a, b)| m.max((*a as f64 - *b as f64).abs()));
    diff / scale
}

/// The index of the largest value of each row, or `None` for a row whose top is tied.
fn argmax_rows(values: &[f32], row: usize) -> Vec<Option<usize>> {
    values
        .chunks(row)
        .map(|r| {
            let mut sorted: Vec<(usize, f32)> = r.iter().copied().enumerate().collect();
            sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
            let unique = sorted.len() < 2 || sorted[0].1 - sorted[1].1 > 1e-6 * sorted[0].1.abs();
            unique.then_some(sorted[0].0)
        })
        .collect()
}

/// Loads `model` and runs each of its cases; panics when an output differs from the reference
/// (relative error above 1e-4, or a classifier's top-1 class changes). A load or run error is
/// returned, for the caller to expect or report.
pub fn check(model: &ModelEntry) -> onnxlet::Result<()> {
    let dir = models_dir();
    reference_cases::run_cases(
        &dir,
        &model.file,
        &model.cases,
        |k, name, actual, expected| {
            let (a, e) = (f32_values(actual), f32_values(expected));
            let err = relative_error(&a, &e);
            assert!(
                err <= 1e-4,
                "{} case {k} {name}: relative error {err:e}",
                model.name
            );
            if model.classifier && name == model.cases[k].first_output() {
                // Classes are everything but the batch axis ([1, 1000, 1, 1] is one row of 1000).
                let row = expected.dims()[1..].iter().product();
                for (got, want) in argmax_rows(&a, row).iter().zip(argmax_rows(&e, row)) {
                    if want.is_some() {
                        assert_eq!(*got, want, "{} case {k}: top-1 differs", model.name);
                    }
                }
            }
        },
    )
}

/// Loads `model` and runs each of its cases: every output's values, in order.
#[allow(dead_code)] // the lite tests' (threads build only)
pub fn outputs(model: &ModelEntry) -> Vec<Vec<f32>> {
    let mut all = vec![];
    reference_cases::run_cases(&models_dir(), &model.file, &model.cases, |_, _, got, _| {
        all.push(f32_values(got))
    })
    .unwrap_or_else(|e| panic!("{}: {e}", model.name));
    all
}

//! Models as today's converters write them (issue 30; `scripts/make-wild-models.py` writes them
//! to `.cache/wild-models` with onnxruntime's outputs): each runs against its reference within the
//! index's tolerance: max |error| <= atol + rtol * max |reference|.
//! Shared by tests/native.rs (tract) and tests/lite.rs.

use std::path::{Path, PathBuf};

use onnxlet::{DType, HostTensor, LoadOptions, Session};
use serde::Deserialize;

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

#[derive(Deserialize)]
struct Case {
    inputs: Vec<TensorFile>,
    outputs: Vec<TensorFile>,
}

#[derive(Deserialize)]
struct TensorFile {
    name: String,
    #[serde(rename = "type")]
    dtype: String,
    dims: Vec<usize>,
    file: String,
}

pub fn dir() -> PathBuf {
    std::env::var_os("ONNXLET_WILD_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/wild-models"))
}

/// The index, or a panic saying how to make the models.
pub fn index() -> Index {
    let path = dir().join("index.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `python3 scripts/make-wild-models.py` (or `npm test`)",
            path.display()
        )
    }))
    .unwrap()
}

fn read_tensor(f: &TensorFile) -> HostTensor {
    let data = std::fs::read(dir().join(&f.file)).unwrap();
    HostTensor::new(DType::parse(&f.dtype).unwrap(), f.dims.clone(), data).unwrap()
}

fn values(t: &HostTensor) -> Vec<f64> {
    match t.dtype() {
        DType::Float32 => t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        DType::Uint8 => t.data().iter().map(|&v| v as f64).collect(),
        DType::Int8 => t.data().iter().map(|&v| v as i8 as f64).collect(),
        other => panic!("no comparison for {other:?}"),
    }
}

/// Loads `model` and runs its cases; panics when an output is off its reference by more than
/// the model's tolerance. A load or run error is returned, for the caller to expect or report.
pub fn check(model: &WildModel) -> onnxlet::Result<()> {
    let bytes = std::fs::read(dir().join(&model.file)).unwrap();
    let session = Session::load(&bytes, &LoadOptions::default())?;
    let mut failures = vec![];
    for (k, case) in model.cases.iter().enumerate() {
        let feeds = case
            .inputs
            .iter()
            .map(|f| (f.name.clone(), read_tensor(f)))
            .collect();
        let outputs = session.run(feeds, None)?;
        for ((name, actual), expected) in outputs.iter().zip(&case.outputs) {
            assert_eq!(name, &expected.name);
            let expected = read_tensor(expected);
            assert_eq!(actual.dims(), expected.dims(), "{} {name}", model.name);
            assert_eq!(actual.dtype(), expected.dtype(), "{} {name}", model.name);
            let (a, e) = (values(actual), values(&expected));
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
        }
    }
    assert!(
        failures.is_empty(),
        "{}: {}",
        model.name,
        failures.join("; ")
    );
    Ok(())
}

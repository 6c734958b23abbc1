//! What the model suites with reference outputs share (the pinned real models of
//! `tests/support/real_models.rs`, the converters' models of `tests/support/wild_models.rs`):
//! an `index.json` in a cache directory, whose models each list cases of input and output
//! tensors stored as raw little-endian files beside it.

use std::path::{Path, PathBuf};

use onnxlet::{DType, HostTensor, LoadOptions, Session};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// One run of a model: its inputs, and the reference outputs in declaration order.
#[derive(Deserialize)]
pub struct Case {
    inputs: Vec<TensorFile>,
    outputs: Vec<TensorFile>,
}

impl Case {
    /// The name of the first output.
    pub fn first_output(&self) -> &str {
        &self.outputs[0].name
    }
}

#[derive(Deserialize)]
struct TensorFile {
    name: String,
    #[serde(rename = "type")]
    dtype: String,
    dims: Vec<usize>,
    file: String,
}

/// A suite's cache directory: `$env_var`, or `default` under the crate.
pub fn dir(env_var: &str, default: &str) -> PathBuf {
    std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(default))
}

/// The suite's index in `dir`, or a panic saying that `script` makes it.
pub fn index<T: DeserializeOwned>(dir: &Path, script: &str) -> T {
    let path = dir.join("index.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `python3 {script}` (or `npm test`)",
            path.display()
        )
    }))
    .unwrap()
}

fn read_tensor(dir: &Path, f: &TensorFile) -> HostTensor {
    let data = std::fs::read(dir.join(&f.file)).unwrap();
    HostTensor::new(DType::parse(&f.dtype).unwrap(), f.dims.clone(), data).unwrap()
}

/// Loads the model `file` of `dir` and runs each case, handing `compare` the case's number,
/// each output's name, and the output beside its reference (same name and dims checked). A
/// load or run error is returned, for the caller to expect or report.
pub fn run_cases(
    dir: &Path,
    file: &str,
    cases: &[Case],
    mut compare: impl FnMut(usize, &str, &HostTensor, &HostTensor),
) -> onnxlet::Result<()> {
    let bytes = std::fs::read(dir.join(file)).unwrap();
    let session = Session::load(&bytes, &LoadOptions::default())?;
    for (k, case) in cases.iter().enumerate() {
        let feeds = case
            .inputs
            .iter()
            .map(|f| (f.name.clone(), read_tensor(dir, f)))
            .collect();
        let outputs = session.run(feeds, None)?;
        assert_eq!(outputs.len(), case.outputs.len(), "{file}");
        for ((name, actual), expected) in outputs.iter().zip(&case.outputs) {
            assert_eq!(name, &expected.name);
            let expected = read_tensor(dir, expected);
            assert_eq!(actual.dims(), expected.dims(), "{file} {name}");
            compare(k, name, actual, &expected);
        }
    }
    Ok(())
}

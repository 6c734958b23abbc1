//! A greedy decode loop over optimum's decoder exports (issue 30; `tests/models/decoders`, made
//! by `scripts/export-decoders.py` with onnxruntime's tokens and logits): prefill the prompt, then
//! one token at a time, feeding each step's `present.*` back as `past_key_values.*`, in each of
//! the three layouts. The same loop as tests/support/decoders.mjs. Shared by tests/native.rs
//! (tract) and tests/lite.rs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use onnxlet::{DType, HostTensor, LoadOptions, Session};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Reference {
    pub prompt: Vec<i64>,
    pub new_tokens: usize,
    pub models: HashMap<String, Model>,
}

#[derive(Deserialize)]
pub struct Model {
    pub kv_heads: usize,
    pub head_dim: usize,
    pub tokens: Vec<usize>,
    pub logits: Vec<Vec<f32>>,
}

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models/decoders")
}

pub fn reference() -> Reference {
    let text = std::fs::read_to_string(dir().join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The file of the first step and of every later one, per layout.
fn files(layout: &str) -> (&'static str, &'static str) {
    match layout {
        "single" => ("model.onnx", "model.onnx"),
        "split" => ("decoder_model.onnx", "decoder_with_past_model.onnx"),
        "merged" => ("decoder_model_merged.onnx", "decoder_model_merged.onnx"),
        _ => panic!("unknown layout {layout}"),
    }
}

fn int64(values: impl IntoIterator<Item = i64>, dims: Vec<usize>) -> HostTensor {
    let bytes = values.into_iter().flat_map(|v| v.to_le_bytes()).collect();
    HostTensor::new(DType::Int64, dims, bytes).unwrap()
}

fn f32s(t: &HostTensor) -> Vec<f32> {
    t.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// What a decode gave: the new tokens, the last row of the first two steps' logits, and each
/// step's time in ms.
pub struct Decoded {
    pub tokens: Vec<usize>,
    pub logits: Vec<Vec<f32>>,
    pub times: Vec<f64>,
}

pub fn decode(reference: &Reference, name: &str, layout: &str) -> onnxlet::Result<Decoded> {
    let model = &reference.models[name];
    let (first_file, later_file) = files(layout);
    let load = |file: &str| {
        let bytes = std::fs::read(dir().join(name).join(file)).unwrap();
        Session::load(&bytes, &LoadOptions::default())
    };
    let first = load(first_file)?;
    let later_own = (later_file != first_file)
        .then(|| load(later_file))
        .transpose()?;
    let later = later_own.as_ref().unwrap_or(&first);
    let mut past: Option<HashMap<String, HostTensor>> = None;
    let mut past_len = 0usize;
    let mut feed_ids = reference.prompt.clone();
    let mut decoded = Decoded {
        tokens: vec![],
        logits: vec![],
        times: vec![],
    };
    for step in 0..reference.new_tokens {
        let session = if step == 0 { &first } else { later };
        let n = feed_ids.len();
        let mut feeds = vec![("input_ids".to_string(), int64(feed_ids.clone(), vec![1, n]))];
        for input in session.inputs() {
            let name = input.name.as_str();
            let value = match name {
                "attention_mask" => int64(vec![1; past_len + n], vec![1, past_len + n]),
                "position_ids" => int64((past_len..past_len + n).map(|i| i as i64), vec![1, n]),
                "use_cache_branch" => {
                    HostTensor::new(DType::Bool, vec![1], vec![past.is_some() as u8]).unwrap()
                }
                _ if name.starts_with("past_key_values.") => match &past {
                    Some(past) => past[&name.replace("past_key_values.", "present.")].clone(),
                    None => HostTensor::new(
                        DType::Float32,
                        vec![1, model.kv_heads, 0, model.head_dim],
                        vec![],
                    )
                    .unwrap(),
                },
                _ => continue,
            };
            feeds.push((name.to_string(), value));
        }
        let start = Instant::now();
        let outputs = session.run(feeds, None)?;
        decoded.times.push(start.elapsed().as_secs_f64() * 1e3);
        let mut present = HashMap::new();
        for (name, value) in outputs {
            if name == "logits" {
                let vocab = value.dims()[2];
                let values = f32s(&value);
                let row = values[values.len() - vocab..].to_vec();
                let token = (0..vocab)
                    .reduce(|a, b| if row[b] > row[a] { b } else { a })
                    .unwrap();
                decoded.tokens.push(token);
                if step < 2 {
                    decoded.logits.push(row);
                }
                feed_ids = vec![token as i64];
            } else if name.starts_with("present.") {
                present.insert(name, value);
            }
        }
        past = Some(present);
        past_len += n;
    }
    Ok(decoded)
}

/// Decodes `name` in `layout` and checks onnxruntime's tokens and, within 1e-3 of the largest
/// |logit|, its logits.
pub fn check(name: &str, layout: &str) -> Result<Decoded, String> {
    let reference = reference();
    let decoded = decode(&reference, name, layout).map_err(|e| format!("{e}"))?;
    let model = &reference.models[name];
    if decoded.tokens != model.tokens {
        return Err(format!(
            "tokens {:?}, onnxruntime {:?}",
            decoded.tokens, model.tokens
        ));
    }
    for (step, (actual, expected)) in decoded.logits.iter().zip(&model.logits).enumerate() {
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        let error = actual
            .iter()
            .zip(expected)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        if error > 1e-3 * scale {
            return Err(format!(
                "step {step}: logits off by {error} (max |logit| {scale})"
            ));
        }
    }
    Ok(decoded)
}

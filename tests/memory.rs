//! Peak heap while loading the largest real model: at most two copies of the weights at once.
//! (Its own test binary: the heap counters are process-wide.)

use std::path::PathBuf;

use onnxlet::{heap_usage, reset_peak, LoadOptions, ModelBuffer, Session};

fn model_path(name: &str) -> PathBuf {
    let dir = std::env::var_os("ONNXLET_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache/models"));
    dir.join(name).join("model.onnx")
}

#[test]
fn loading_minilm_peaks_below_twice_its_size() {
    let path = model_path("minilm");
    let file = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-models.py)", path.display()));
    let size = file.len();
    let baseline = heap_usage().allocated;
    // As the JS wrapper does: chunks into a buffer sized from Content-Length.
    let mut buffer = ModelBuffer::new(size, &["sha256".to_string()]).unwrap();
    for chunk in file.chunks(1 << 16) {
        buffer.append(chunk).unwrap();
    }
    drop(file);
    let before_load = heap_usage().allocated;
    reset_peak();
    let session = Session::from_buffer(&mut buffer, &LoadOptions::default()).unwrap();
    let usage = heap_usage();
    let peak = usage.peak - baseline.min(before_load - size);
    println!(
        "model {size} bytes; heap above baseline: peak {peak} ({:.2}x), after load {} ({:.2}x)",
        peak as f64 / size as f64,
        usage.allocated - (before_load - size),
        (usage.allocated - (before_load - size)) as f64 / size as f64
    );
    assert!(
        peak <= 2 * size,
        "peak heap while loading was {peak} bytes above the baseline, more than twice the \
         model's {size} bytes"
    );
    drop(session);
}

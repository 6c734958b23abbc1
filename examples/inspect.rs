//! Loads each ONNX file given on the command line and prints its inputs and outputs.
//!
//! `cargo run --example inspect -- model.onnx [more.onnx ...]`

use onnxlet::{tensor::format_shape, LoadOptions, Session};

fn main() {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
                continue;
            }
        };
        let started = std::time::Instant::now();
        match Session::load(&bytes, &LoadOptions::default()) {
            Ok(session) => {
                println!("{path}: loaded in {:.0?}", started.elapsed());
                for (kind, values) in [("input", session.inputs()), ("output", session.outputs())] {
                    for v in values {
                        println!("  {kind} {} {} {}", v.name, v.dtype, format_shape(&v.shape));
                    }
                }
            }
            Err(e) => {
                println!("{path}: {e}");
                failed = true;
            }
        }
    }
    std::process::exit(failed as i32);
}

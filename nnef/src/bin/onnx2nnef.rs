//! Converts ONNX models to tract's NNEF tar format, loadable by the NNEF-only core.
//!
//! `onnx2nnef model.onnx out.nnef.tar [NAME=VALUE ...]`: the ONNX model is typed and decluttered by
//! tract (the work the browser then skips), symbolic dimensions named on the command line are
//! pinned, and the result is written with the `tract_onnx` extension for ONNX-only operators.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    use std::collections::HashMap;
    use tract_onnx::prelude::*;
    use tract_onnx::WithOnnx;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, pins @ ..] = args.as_slice() else {
        anyhow::bail!("usage: onnx2nnef model.onnx out.nnef.tar [NAME=VALUE ...]");
    };
    let started = std::time::Instant::now();
    let mut model = tract_onnx::onnx().model_for_path(input)?.into_typed()?.into_decluttered()?;
    if !pins.is_empty() {
        let mut subs = HashMap::new();
        for pin in pins {
            let (name, value) = pin.split_once('=').ok_or_else(|| anyhow::anyhow!("bad pin {pin}"))?;
            let symbol = model
                .symbols
                .get(name)
                .ok_or_else(|| anyhow::anyhow!("no symbol {name} in the model"))?;
            subs.insert(symbol, TDim::Val(value.parse()?));
        }
        model = model.set_symbols(&subs)?.into_decluttered()?;
    }
    let nnef = tract_nnef::nnef().with_onnx();
    let file = std::fs::File::create(output)?;
    nnef.write_to_tar(&model, std::io::BufWriter::new(file))?;
    // Reload to be sure the file is complete and self-contained.
    let reloaded = nnef.model_for_path(output)?;
    reloaded.into_optimized()?;
    println!(
        "{input} -> {output}: {} bytes, {} nodes, {:.1?}",
        std::fs::metadata(output)?.len(),
        model.nodes().len(),
        started.elapsed()
    );
    Ok(())
}

//! Converts ONNX models to tract's NNEF tar format, loadable by the NNEF-only core.
//!
//! `onnx2nnef model.onnx out.nnef.tar [--input NAME=TYPE:D,D,..]... [--const NAME=TYPE:D,..=FILE]... [--pin SYM=VALUE]...`
//!
//! The ONNX model is typed and decluttered by tract (the work the browser then skips) and written
//! with the `tract_onnx` extension for ONNX-only operators. Models tract cannot type with the
//! declared (symbolic) shapes need `--input` facts (a dim may be a symbol name); inputs that select
//! `If` branches can be baked in as constants with `--const` (raw little-endian bytes in FILE);
//! `--pin` fixes a symbolic dimension.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    use std::collections::HashMap;
    use tract_onnx::prelude::*;
    use tract_onnx::tract_hir::ops::konst::Const;
    use tract_onnx::WithOnnx;

    fn datum_type(name: &str) -> anyhow::Result<DatumType> {
        Ok(match name {
            "float32" | "f32" => f32::datum_type(),
            "float16" | "f16" => f16::datum_type(),
            "float64" | "f64" => f64::datum_type(),
            "int64" | "i64" => i64::datum_type(),
            "int32" | "i32" => i32::datum_type(),
            "int8" | "i8" => i8::datum_type(),
            "uint8" | "u8" => u8::datum_type(),
            "bool" => bool::datum_type(),
            _ => anyhow::bail!("unknown type {name}"),
        })
    }

    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut positional, mut inputs, mut consts, mut pins) = (vec![], vec![], vec![], vec![]);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| anyhow::anyhow!("{arg} needs a value"));
        match arg.as_str() {
            "--input" => inputs.push(value()?),
            "--const" => consts.push(value()?),
            "--pin" => pins.push(value()?),
            _ => positional.push(arg.clone()),
        }
    }
    let [input, output] = positional.as_slice() else {
        anyhow::bail!("usage: onnx2nnef model.onnx out.nnef.tar [--input NAME=TYPE:D,D] [--const NAME=TYPE:D,D=FILE] [--pin SYM=VALUE]");
    };
    let started = std::time::Instant::now();
    let mut model = tract_onnx::onnx().model_for_path(input)?;
    let input_index = |model: &InferenceModel, name: &str| -> anyhow::Result<usize> {
        let outlets = model.input_outlets()?;
        outlets
            .iter()
            .position(|o| model.node(o.node).name == name)
            .ok_or_else(|| anyhow::anyhow!("no input {name}"))
    };
    for spec in &inputs {
        let (name, fact) = spec.split_once('=').ok_or_else(|| anyhow::anyhow!("bad --input {spec}"))?;
        let (dt, dims) = fact.split_once(':').unwrap_or((fact, ""));
        let shape: TVec<TDim> = dims
            .split(',')
            .filter(|d| !d.is_empty())
            .map(|d| d.parse::<i64>().map(TDim::Val).unwrap_or_else(|_| model.symbols.sym(d).into()))
            .collect();
        let ix = input_index(&model, name)?;
        model.set_input_fact(ix, InferenceFact::dt_shape(datum_type(dt)?, shape))?;
    }
    for spec in &consts {
        let mut parts = spec.splitn(3, '=');
        let (Some(name), Some(fact), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
            anyhow::bail!("bad --const {spec}");
        };
        let (dt, dims) = fact.split_once(':').unwrap_or((fact, ""));
        let dims: Vec<usize> = dims.split(',').filter(|d| !d.is_empty()).map(str::parse).collect::<Result<_, _>>()?;
        let bytes = std::fs::read(file)?;
        let tensor = unsafe { Tensor::from_raw_dt(datum_type(dt)?, &dims, &bytes)? };
        let ix = input_index(&model, name)?;
        let outlets = model.input_outlets()?.to_vec();
        model.node_mut(outlets[ix].node).op = Box::new(Const::new(tensor.into_arc_tensor())?);
        let kept: Vec<OutletId> = outlets.iter().enumerate().filter(|(i, _)| *i != ix).map(|(_, o)| *o).collect();
        model.set_input_outlets(&kept)?;
    }
    let mut model = model.into_typed()?.into_decluttered()?;
    if !pins.is_empty() {
        let mut subs = HashMap::new();
        for pin in &pins {
            let (name, value) = pin.split_once('=').ok_or_else(|| anyhow::anyhow!("bad --pin {pin}"))?;
            let symbol = model.symbols.get(name).ok_or_else(|| anyhow::anyhow!("no symbol {name}"))?;
            subs.insert(symbol, TDim::Val(value.parse()?));
        }
        model = model.set_symbols(&subs)?.into_decluttered()?;
    }
    let nnef = tract_nnef::nnef().with_onnx();
    let file = std::fs::File::create(output)?;
    nnef.write_to_tar(&model, std::io::BufWriter::new(file))?;
    // Reload and optimise, to be sure the file is complete and self-contained.
    nnef.model_for_path(output)?.into_optimized()?;
    println!(
        "{input} -> {output}: {} bytes, {} nodes, {:.1?}",
        std::fs::metadata(output)?.len(),
        model.nodes().len(),
        started.elapsed()
    );
    Ok(())
}

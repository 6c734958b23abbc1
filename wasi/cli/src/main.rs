//! `onnxlet`, the command-line runner for WASI hosts (wasmtime, Bacalhau's wasm engine, ...):
//! `.npy` files in, `.npy` files out. See docs/wasi.md.

mod npy;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use onnxlet::tensor::format_shape;
use onnxlet::{HostTensor, LoadOptions, Session, ValueInfo};

const USAGE: &str = "\
usage: onnxlet run MODEL [--input NAME=FILE.npy]... --output-dir DIR [--output NAME]... [--dim SYMBOL=SIZE]...
       onnxlet run MODEL --info
       onnxlet info MODEL

Runs an ONNX model on .npy inputs and writes each output to DIR/NAME.npy (characters other than
letters, digits, '.', '_' and '-' in NAME become '_'). A model with one input also takes
--input FILE.npy. --output selects outputs (all by default); --dim pins a symbolic dimension.
--info prints the model's inputs and outputs. Exit status: 0 on success, 1 when the model or an
input is refused or fails, 2 on a usage error.";

/// A failure: its message, and whether it is a usage error (exit status 2) or not (1).
struct Failure {
    message: String,
    usage: bool,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        usage: true,
    }
}

fn failure(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        usage: false,
    }
}

impl From<onnxlet::Error> for Failure {
    fn from(e: onnxlet::Error) -> Failure {
        failure(e.to_string())
    }
}

/// What the command line asks for.
#[derive(Debug, Default, PartialEq)]
struct Command {
    model: PathBuf,
    info: bool,
    inputs: Vec<(Option<String>, PathBuf)>,
    outputs: Vec<String>,
    output_dir: Option<PathBuf>,
    dims: Vec<(String, usize)>,
}

fn parse(args: &[String]) -> Result<Command, Failure> {
    let mut command = Command::default();
    let (info, rest) = match args.split_first() {
        Some((verb, rest)) if verb == "run" => (false, rest),
        Some((verb, rest)) if verb == "info" => (true, rest),
        Some((verb, _)) if verb == "--help" || verb == "-h" || verb == "help" => {
            return Err(usage(""))
        }
        Some((verb, _)) => return Err(usage(format!("unknown command '{verb}'"))),
        None => return Err(usage("no command")),
    };
    command.info = info;
    let mut model = None;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        let mut value = |flag: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| usage(format!("{flag} needs a value")))
        };
        match arg.as_str() {
            "--info" => command.info = true,
            "--input" | "-i" => {
                let v = value(arg)?;
                command.inputs.push(match v.split_once('=') {
                    Some((name, file)) => (Some(name.to_string()), file.into()),
                    None => (None, v.into()),
                });
            }
            "--output" | "-o" => command.outputs.push(value(arg)?),
            "--output-dir" | "-d" => command.output_dir = Some(value(arg)?.into()),
            "--dim" => {
                let v = value(arg)?;
                let (name, size) = v
                    .split_once('=')
                    .and_then(|(n, s)| Some((n.to_string(), s.parse().ok()?)))
                    .ok_or_else(|| usage(format!("--dim takes SYMBOL=SIZE, got '{v}'")))?;
                command.dims.push((name, size));
            }
            "--help" | "-h" => return Err(usage("")),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(usage(format!("unknown option '{flag}'")))
            }
            path if model.is_none() => model = Some(PathBuf::from(path)),
            extra => return Err(usage(format!("unexpected argument '{extra}'"))),
        }
    }
    command.model = model.ok_or_else(|| usage("no MODEL given"))?;
    if !command.info && command.output_dir.is_none() {
        return Err(usage("--output-dir is required to run a model"));
    }
    Ok(command)
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        failure(format!(
            "cannot read {what} {}: {e}{}",
            path.display(),
            preopen_hint(&e)
        ))
    })
}

/// Under WASI a path outside every preopened directory is "not found" or "not permitted".
fn preopen_hint(e: &std::io::Error) -> &'static str {
    if cfg!(target_os = "wasi")
        && matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
        )
    {
        " (is its directory mounted, e.g. wasmtime --dir?)"
    } else {
        ""
    }
}

fn describe(list: &[ValueInfo]) -> String {
    let mut out = String::new();
    for v in list {
        let _ = writeln!(out, "  {}: {} {}", v.name, v.dtype, format_shape(&v.shape));
    }
    out
}

/// The file name an output is written to.
fn file_name(output: &str) -> String {
    let safe: String = output
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // ".", ".." and the empty name are not file names.
    if safe.chars().all(|c| c == '.') {
        format!("{}_.npy", safe)
    } else {
        format!("{safe}.npy")
    }
}

fn main_inner(args: &[String]) -> Result<(), Failure> {
    let command = parse(args)?;
    let options = LoadOptions {
        free_dimension_overrides: command.dims.clone(),
        ..LoadOptions::default()
    };
    let bytes = read_file(&command.model, "the model")?;
    let session = Session::from_bytes(bytes, &options)?;
    if command.info {
        print!(
            "engine: {}\ninputs:\n{}outputs:\n{}",
            onnxlet::ENGINE,
            describe(session.inputs()),
            describe(session.outputs())
        );
        return Ok(());
    }
    let mut feeds: Vec<(String, HostTensor)> = Vec::new();
    for (name, path) in &command.inputs {
        let name = match (name, session.inputs()) {
            (Some(name), _) => name.clone(),
            (None, [only]) => only.name.clone(),
            (None, inputs) => {
                return Err(usage(format!(
                    "--input {}: the model has {} inputs, so name it: --input NAME=FILE.npy (inputs: {})",
                    path.display(),
                    inputs.len(),
                    inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
                )))
            }
        };
        let tensor = npy::read(&read_file(path, "input")?)
            .map_err(|e| failure(format!("input '{name}' ({}): {e}", path.display())))?;
        feeds.push((name, tensor));
    }
    let fetches = (!command.outputs.is_empty()).then_some(&command.outputs[..]);
    let outputs = session.run(feeds, fetches)?;
    let dir = command.output_dir.unwrap_or_default();
    let mut written: Vec<(String, &str)> = Vec::new();
    for (name, tensor) in &outputs {
        let file = file_name(name);
        if let Some((_, other)) = written.iter().find(|(f, _)| *f == file) {
            return Err(failure(format!(
                "outputs '{other}' and '{name}' would both be written to {file}: select one with --output"
            )));
        }
        let path = dir.join(&file);
        let bytes = npy::write(tensor).map_err(|e| failure(format!("output '{name}': {e}")))?;
        std::fs::write(&path, bytes).map_err(|e| {
            failure(format!(
                "cannot write output '{name}' to {}: {e}{}",
                path.display(),
                preopen_hint(&e)
            ))
        })?;
        println!(
            "{name}: {} {} -> {}",
            tensor.dtype(),
            format_shape(tensor.dims()),
            path.display()
        );
        written.push((file, name));
    }
    Ok(())
}

fn main() -> ExitCode {
    // Release builds abort on panic: say what happened before the trap.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("onnxlet: internal error (a bug, please report it): {info}");
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    match main_inner(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { message, usage }) => {
            if usage {
                if !message.is_empty() {
                    eprintln!("onnxlet: {message}\n");
                }
                eprintln!("{USAGE}");
                // `--help` is not an error.
                if message.is_empty() {
                    return ExitCode::SUCCESS;
                }
                ExitCode::from(2)
            } else {
                eprintln!("onnxlet: {message}");
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_the_command_line() {
        let c = parse(&args(
            "run m.onnx --input x=a.npy -i b.npy --output-dir out -o y --dim N=2",
        ))
        .ok()
        .unwrap();
        assert_eq!(c.model, PathBuf::from("m.onnx"));
        assert_eq!(
            c.inputs,
            vec![(Some("x".into()), "a.npy".into()), (None, "b.npy".into())]
        );
        assert_eq!(c.outputs, ["y"]);
        assert_eq!(c.dims, [("N".to_string(), 2)]);
        assert!(parse(&args("info m.onnx")).ok().unwrap().info);
        assert!(parse(&args("run m.onnx --info")).ok().unwrap().info);
        for (line, expected) in [
            ("", "no command"),
            ("go m.onnx", "unknown command 'go'"),
            ("run --info", "no MODEL"),
            ("run m.onnx", "--output-dir is required"),
            ("run m.onnx --output-dir", "--output-dir needs a value"),
            ("run m.onnx --frobnicate", "unknown option"),
            ("run m.onnx n.onnx --info", "unexpected argument 'n.onnx'"),
            ("run m.onnx --info --dim N", "--dim takes SYMBOL=SIZE"),
        ] {
            let err = parse(&args(line)).err().unwrap();
            assert!(
                err.usage && err.message.contains(expected),
                "{line}: {}",
                err.message
            );
        }
    }

    #[test]
    fn output_file_names_stay_in_the_directory() {
        assert_eq!(file_name("target_label"), "target_label.npy");
        assert_eq!(file_name("dense/BiasAdd:0"), "dense_BiasAdd_0.npy");
        assert_eq!(file_name(".."), ".._.npy");
        assert_eq!(file_name(""), "_.npy");
    }
}

//! onnxlet as a WebAssembly component (wasm32-wasip2): the `inference` interface of
//! wasi/wit/onnxlet.wit on [`onnxlet::Session`]. See docs/wasi.md.

wit_bindgen::generate!({
    path: "../wit",
    world: "onnxlet",
});

use exports::onnxlet::runtime::inference::{
    Dim, Dtype, Error, ErrorCode, Guest, GuestSession, Session, Tensor, ValueInfo,
};
use onnxlet::{DType, HostTensor, LoadOptions};

struct Component;

export!(Component);

impl Guest for Component {
    type Session = Model;

    fn engine() -> String {
        onnxlet::ENGINE.to_string()
    }
}

/// The `session` resource.
struct Model(onnxlet::Session);

impl GuestSession for Model {
    fn load(model: Vec<u8>, dims: Vec<(String, u64)>) -> Result<Session, Error> {
        load(model, dims)
    }

    fn load_file(path: String, dims: Vec<(String, u64)>) -> Result<Session, Error> {
        let model = std::fs::read(&path).map_err(|e| Error {
            code: ErrorCode::InvalidArgument,
            message: format!(
                "cannot read the model {path}: {e} (is its directory preopened by the host?)"
            ),
        })?;
        load(model, dims)
    }

    fn inputs(&self) -> Vec<ValueInfo> {
        self.0.inputs().iter().map(value_info).collect()
    }

    fn outputs(&self) -> Vec<ValueInfo> {
        self.0.outputs().iter().map(value_info).collect()
    }

    fn run(&self, feeds: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>, Error> {
        let feeds = feeds
            .into_iter()
            .map(|(name, t)| {
                let dims = t
                    .shape
                    .iter()
                    .map(|&d| usize_of(d, "dimension"))
                    .collect::<Result<_, _>>()?;
                let tensor = HostTensor::new(from_dtype(t.dtype), dims, t.data).map_err(|e| {
                    error(onnxlet::Error::new(
                        e.code,
                        format!("input '{name}': {}", e.message),
                    ))
                })?;
                Ok((name, tensor))
            })
            .collect::<Result<_, Error>>()?;
        let outputs = self.0.run(feeds, None).map_err(error)?;
        Ok(outputs
            .into_iter()
            .map(|(name, t)| {
                let tensor = Tensor {
                    dtype: to_dtype(t.dtype()),
                    shape: t.dims().iter().map(|&d| d as u64).collect(),
                    data: t.into_data(),
                };
                (name, tensor)
            })
            .collect())
    }
}

fn load(model: Vec<u8>, dims: Vec<(String, u64)>) -> Result<Session, Error> {
    let free_dimension_overrides = dims
        .into_iter()
        .map(|(name, size)| Ok((name, usize_of(size, "dimension")?)))
        .collect::<Result<_, Error>>()?;
    let options = LoadOptions {
        free_dimension_overrides,
        ..LoadOptions::default()
    };
    let session = onnxlet::Session::from_bytes(model, &options).map_err(error)?;
    Ok(Session::new(Model(session)))
}

fn usize_of(value: u64, what: &str) -> Result<usize, Error> {
    usize::try_from(value).map_err(|_| Error {
        code: ErrorCode::InvalidArgument,
        message: format!("{what} {value} does not fit in wasm32's address space"),
    })
}

fn error(e: onnxlet::Error) -> Error {
    use onnxlet::ErrorCode as C;
    let code = match e.code {
        C::InvalidModel => ErrorCode::InvalidModel,
        C::UnsupportedOperator => ErrorCode::UnsupportedOperator,
        C::InvalidInput => ErrorCode::InvalidInput,
        C::InvalidArgument => ErrorCode::InvalidArgument,
        C::RuntimeError => ErrorCode::RuntimeError,
        C::ResourceLimit => ErrorCode::ResourceLimit,
    };
    Error {
        code,
        message: e.message,
    }
}

fn value_info(v: &onnxlet::ValueInfo) -> ValueInfo {
    let shape = v
        .shape
        .iter()
        .map(|d| match d {
            onnxlet::Dim::Fixed(n) => Dim::Fixed(*n as u64),
            onnxlet::Dim::Symbolic(s) => Dim::Symbolic(s.clone()),
            onnxlet::Dim::Unknown => Dim::Unknown,
        })
        .collect();
    ValueInfo {
        name: v.name.clone(),
        dtype: to_dtype(v.dtype),
        shape,
    }
}

/// The WIT enum and onnxlet's, variant for variant (both matches exhaustive).
macro_rules! dtypes {
    ($($v:ident),*) => {
        fn to_dtype(dtype: DType) -> Dtype {
            match dtype { $(DType::$v => Dtype::$v),* }
        }

        fn from_dtype(dtype: Dtype) -> DType {
            match dtype { $(Dtype::$v => DType::$v),* }
        }
    };
}

dtypes!(
    Float32, Float64, Float16, Int8, Uint8, Int16, Uint16, Int32, Uint32, Int64, Uint64, Bool,
    String
);

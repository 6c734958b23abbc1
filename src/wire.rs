//! The values that cross the Rust/JS boundary (serialised by serde in src/wasm.rs) and their
//! TypeScript declarations, [`TYPESCRIPT`], which wasm-bindgen emits into the glue's `.d.ts`
//! (`pkg/onnxlet.d.ts`) for js/ to import. The unit test below fails when the two drift apart.

use serde::{Deserialize, Serialize};

use crate::tensor::{Dim, ValueInfo};

/// The TypeScript declarations of the structs below, emitted into the glue's `.d.ts`.
// rustc does not count its use in `typescript_custom_section` (src/wasm.rs), which emits it.
#[allow(dead_code)]
pub const TYPESCRIPT: &str = r#"
/** A tensor element type's name, as the module reads and writes it. */
export type WireTensorType = 'float32' | 'float64' | 'float16' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool' | 'string';

/** A tensor as it crosses into and out of the module (or a worker): little-endian bytes. */
export interface WireValue {
  name: string;
  type: WireTensorType;
  dims: number[];
  data: Uint8Array;
}

/** A model input or output as the module describes it: a symbolic dimension is its name. */
export interface WireMetadata {
  name: string;
  type: WireTensorType;
  shape: (number | string)[];
}

/** The options of `WasmSession.fromBuffer`. */
export interface WireLoadOptions {
  freeDimensionOverrides?: [string, number][];
  maxMemoryBytes?: number;
}

/** An operator the module loads: its verified opsets `[lowest, highest]`, if any. */
export interface WireOperator {
  domain: string;
  name: string;
  opsets: [number, number] | null;
}

/** The module's memory: heap bytes in use, the most in use at once, the linear memory's size. */
export interface WireMemoryUsage {
  heapAllocated: number;
  heapPeak: number;
  memoryBytes: number;
}
"#;

/// `WireLoadOptions`.
#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename_all = "camelCase")]
pub struct LoadOptions {
    #[serde(default)]
    pub free_dimension_overrides: Vec<(String, usize)>,
    /// The session's memory budget in bytes; the default when absent.
    #[serde(default)]
    pub max_memory_bytes: Option<u64>,
}

/// One dimension of `WireMetadata.shape`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum WireDim<'a> {
    Fixed(usize),
    Symbolic(&'a str),
}

/// `WireMetadata`.
#[derive(Serialize)]
pub struct Metadata<'a> {
    pub name: &'a str,
    #[serde(rename = "type")]
    pub dtype: &'static str,
    pub shape: Vec<WireDim<'a>>,
}

impl<'a> From<&'a ValueInfo> for Metadata<'a> {
    fn from(info: &'a ValueInfo) -> Self {
        Metadata {
            name: &info.name,
            dtype: info.dtype.name(),
            shape: info
                .shape
                .iter()
                .map(|d| match d {
                    Dim::Fixed(v) => WireDim::Fixed(*v),
                    Dim::Symbolic(s) => WireDim::Symbolic(s),
                    Dim::Unknown => WireDim::Symbolic("?"),
                })
                .collect(),
        }
    }
}

/// `WireValue`, as a feed arrives.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub struct Feed {
    pub name: String,
    #[serde(rename = "type")]
    pub dtype: String,
    pub dims: Vec<usize>,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// `WireValue`, as an output leaves.
#[derive(Serialize)]
pub struct Output<'a> {
    pub name: &'a str,
    #[serde(rename = "type")]
    pub dtype: &'static str,
    pub dims: &'a [usize],
    #[serde(with = "serde_bytes")]
    pub data: &'a [u8],
}

/// `WireOperator`.
#[derive(Serialize)]
pub struct Operator<'a> {
    pub domain: &'static str,
    pub name: &'a str,
    pub opsets: Option<(u32, u32)>,
}

/// `WireMemoryUsage`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryUsage {
    pub heap_allocated: usize,
    pub heap_peak: usize,
    pub memory_bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DType;
    use serde_json::Value;

    /// The field names of `interface name` (or the members of `type name`) in [`TYPESCRIPT`].
    fn declared(name: &str) -> Vec<String> {
        let interface = format!("export interface {name} {{");
        if let Some(start) = TYPESCRIPT.find(&interface) {
            let body = &TYPESCRIPT[start + interface.len()..];
            let body = &body[..body.find('}').expect("an interface ends")];
            let mut fields: Vec<String> = body
                .lines()
                .filter_map(|l| l.trim().split_once(':'))
                .map(|(field, _)| field.trim_end_matches('?').to_string())
                .collect();
            fields.sort();
            return fields;
        }
        let alias = format!("export type {name} = ");
        let start = TYPESCRIPT.find(&alias).expect("declared") + alias.len();
        let body = &TYPESCRIPT[start..];
        body[..body.find(';').expect("a type ends")]
            .split('|')
            .map(|m| m.trim().trim_matches('\'').to_string())
            .collect()
    }

    fn keys(value: impl Serialize) -> Vec<String> {
        match serde_json::to_value(value).unwrap() {
            Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn tensor_types_are_the_dtypes() {
        let names: Vec<String> = DType::ALL.iter().map(|d| d.name().to_string()).collect();
        assert_eq!(declared("WireTensorType"), names);
    }

    #[test]
    fn values_match_their_declaration() {
        let output = Output {
            name: "y",
            dtype: "float32",
            dims: &[1],
            data: &[0; 4],
        };
        assert_eq!(keys(&output), declared("WireValue"));
        let feed = Feed {
            name: "x".into(),
            dtype: "float32".into(),
            dims: vec![1],
            data: vec![0; 4],
        };
        assert_eq!(keys(&feed), declared("WireValue"));
        // What the declaration describes is what a feed reads.
        let json = serde_json::json!({ "name": "x", "type": "float32", "dims": [1], "data": [0, 0, 0, 0] });
        let read: Feed = serde_json::from_value(json).unwrap();
        assert_eq!((read.name.as_str(), read.data.len()), ("x", 4));
    }

    #[test]
    fn metadata_matches_its_declaration() {
        let info = ValueInfo {
            name: "x".into(),
            dtype: DType::Int64,
            shape: vec![Dim::Symbolic("batch".into()), Dim::Fixed(3), Dim::Unknown],
        };
        let metadata = Metadata::from(&info);
        assert_eq!(keys(&metadata), declared("WireMetadata"));
        assert_eq!(
            serde_json::to_value(&metadata).unwrap()["shape"],
            serde_json::json!(["batch", 3, "?"])
        );
    }

    #[test]
    fn options_operators_and_memory_match_their_declarations() {
        let options = LoadOptions {
            free_dimension_overrides: vec![("batch".into(), 1)],
            max_memory_bytes: Some(1 << 20),
        };
        assert_eq!(keys(&options), declared("WireLoadOptions"));
        let operator = Operator {
            domain: "",
            name: "Add",
            opsets: Some((7, 22)),
        };
        assert_eq!(keys(&operator), declared("WireOperator"));
        let usage = MemoryUsage {
            heap_allocated: 0,
            heap_peak: 0,
            memory_bytes: 0,
        };
        assert_eq!(keys(&usage), declared("WireMemoryUsage"));
    }
}

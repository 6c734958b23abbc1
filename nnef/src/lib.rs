//! Size experiment: the smallest onnxlet-like core, loading models pre-converted to tract's NNEF
//! tar format (`onnx2nnef`), with the `tract_onnx` extension for ONNX-only operators, and no ONNX
//! protobuf parser, no `tract-hir` inference and no `tract-onnx`.
//!
//! Tensors cross the boundary in one packed buffer: per tensor, a dtype byte (ONNX
//! `TensorProto.DataType` code), rank (u32 LE), dims (u32 LE each), then the data bytes.
#![cfg(target_arch = "wasm32")]

use std::sync::Arc;

use tract_nnef::internal::*;
use tract_onnx_opl::WithOnnx;
use wasm_bindgen::prelude::*;

unsafe extern "C" {
    fn __wasm_call_ctors();
}

#[wasm_bindgen(start)]
fn start() {
    // SAFETY: called once per instance, before any other export (registers tract's kernels).
    unsafe { __wasm_call_ctors() };
}

const TYPES: [(u8, DatumType); 12] = [
    (1, DatumType::F32),
    (2, DatumType::U8),
    (3, DatumType::I8),
    (4, DatumType::U16),
    (5, DatumType::I16),
    (6, DatumType::I32),
    (7, DatumType::I64),
    (9, DatumType::Bool),
    (10, DatumType::F16),
    (11, DatumType::F64),
    (12, DatumType::U32),
    (13, DatumType::U64),
];

fn err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A model loaded from an NNEF tar, optimised and ready to run.
#[wasm_bindgen]
pub struct NnefSession {
    plan: Arc<TypedSimplePlan>,
}

#[wasm_bindgen]
impl NnefSession {
    /// Loads an NNEF tar (as written by `onnx2nnef`).
    #[wasm_bindgen(constructor)]
    pub fn new(tar: &[u8]) -> Result<NnefSession, JsError> {
        let nnef = tract_nnef::nnef().with_onnx();
        let model = nnef.model_for_read(&mut &*tar).map_err(|e| err(format!("{e:#}")))?;
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| err(format!("{e:#}")))?;
        Ok(NnefSession { plan })
    }

    /// Runs the model on packed inputs (in declaration order); returns the packed outputs.
    pub fn run(&self, packed: &[u8]) -> Result<Vec<u8>, JsError> {
        let mut inputs = TVec::new();
        let mut at = 0;
        let mut u32_at = |at: &mut usize| {
            let v = u32::from_le_bytes(packed[*at..*at + 4].try_into().unwrap()) as usize;
            *at += 4;
            v
        };
        while at < packed.len() {
            let code = packed[at];
            at += 1;
            let dt = TYPES.iter().find(|(c, _)| *c == code).ok_or_else(|| err("bad dtype"))?.1;
            let rank = u32_at(&mut at);
            let dims: Vec<usize> = (0..rank).map(|_| u32_at(&mut at)).collect();
            let len = dims.iter().product::<usize>() * dt.size_of();
            let t = unsafe { Tensor::from_raw_dt(dt, &dims, &packed[at..at + len]) }.map_err(err)?;
            at += len;
            inputs.push(t.into_tvalue());
        }
        let outputs = self.plan.run(inputs).map_err(|e| err(format!("{e:#}")))?;
        let mut out = vec![];
        for o in outputs {
            let mut t = o.into_tensor();
            if t.datum_type() == DatumType::TDim {
                t = t.cast_to::<i64>().map_err(err)?.into_owned();
            }
            let code = TYPES.iter().find(|(_, d)| *d == t.datum_type()).ok_or_else(|| err("bad dtype"))?.0;
            out.push(code);
            out.extend((t.rank() as u32).to_le_bytes());
            for d in t.shape() {
                out.extend((*d as u32).to_le_bytes());
            }
            out.extend(t.try_as_plain_ram().map_err(err)?.as_bytes());
        }
        Ok(out)
    }
}

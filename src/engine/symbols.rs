//! Free dimensions pinned to values (`freeDimensionOverrides`) in a symbolically typed model.
//! Models typed per shape pin theirs on the declared inputs (`onnx_types::pin_declared`).

use std::collections::HashMap;

use tract_onnx::prelude::*;

use super::convert::model_error;
use crate::error::{Error, Result};
use crate::onnx_types::unknown_symbol;

/// `model` with the symbols named in `overrides` replaced by their values; an unknown name is an
/// `INVALID_ARGUMENT` that lists the model's symbols.
pub(super) fn pin_symbols(model: &TypedModel, overrides: &[(String, usize)]) -> Result<TypedModel> {
    let mut subs = HashMap::new();
    for (name, value) in overrides {
        let Some(symbol) = model.symbols.get(name) else {
            return Err(unknown_symbol(
                name,
                model.symbols.all_symbols().iter().map(|s| s.to_string()),
            ));
        };
        let value = i64::try_from(*value).map_err(|_| {
            Error::invalid_argument(format!("override {name}={value} is too large"))
        })?;
        subs.insert(symbol, TDim::Val(value));
    }
    model.set_symbols(&subs).map_err(|e| model_error(&e))
}

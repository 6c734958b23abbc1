//! The operators that only onnxlet's full build has (cargo feature `full`, shipped as
//! `onnxlet_full_bg.wasm`), so that the default build can say where an operator it lacks is.
//!
//! The list is the full build's registry minus the default build's. Tests keep it exact: this
//! module's tests check that no listed operator is registered in the default build and that
//! every one is in the full build, and `tests/node/builds.test.mjs` compares it with the
//! difference between the two shipped modules' `supportedOperators()`.

/// Operators registered with `--features full` and not with the default features, by name.
pub(crate) const FULL_ONLY_OPERATORS: &[&str] = &[
    // transformers
    "Attention",
    "GroupQueryAttention",
    "MultiHeadAttention",
    // fft
    "BlackmanWindow",
    "DFT",
    "HammingWindow",
    "HannWindow",
    "MelWeightMatrix",
    "STFT",
    // ml (ai.onnx.ml)
    "CategoryMapper",
    "LinearClassifier",
    "LinearRegressor",
    "Normalizer",
    "TreeEnsembleClassifier",
];

/// What to append to an `UNSUPPORTED_OPERATOR` message whose missing operators are `missing`:
/// where to find those of them that the full build has, or nothing.
pub(crate) fn hint<'a>(missing: impl IntoIterator<Item = &'a str>) -> String {
    let mut in_full: Vec<&str> = missing
        .into_iter()
        .filter(|op| FULL_ONLY_OPERATORS.contains(op))
        .collect();
    in_full.sort_unstable();
    in_full.dedup();
    let names = match in_full.as_slice() {
        [] => return String::new(),
        [one] => format!("{one} is"),
        [init @ .., last] => format!("{} and {last} are", init.join(", ")),
    };
    let how = if cfg!(target_arch = "wasm32") {
        "onnxlet_full_bg.wasm: set env.wasm.build = 'full'"
    } else {
        "cargo feature `full`"
    };
    format!(". {names} only in onnxlet's full build ({how}; see the README)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine;

    #[test]
    fn the_list_is_the_full_registry_minus_the_default_one() {
        let registered = engine::operator_names();
        for op in FULL_ONLY_OPERATORS {
            assert_eq!(
                registered.iter().any(|r| r == op),
                cfg!(feature = "full"),
                "{op}: FULL_ONLY_OPERATORS is out of date (tests/node/builds.test.mjs prints the list)"
            );
        }
    }

    #[test]
    fn the_hint_names_only_full_build_operators() {
        assert_eq!(hint(["FrobnicateTensor"]), "");
        let one = hint(["DFT", "FrobnicateTensor"]);
        assert!(
            one.starts_with(". DFT is only in onnxlet's full build ("),
            "{one}"
        );
        let three = hint(["STFT", "DFT", "TreeEnsembleClassifier", "DFT"]);
        assert!(
            three.starts_with(". DFT, STFT and TreeEnsembleClassifier are only in"),
            "{three}"
        );
    }
}

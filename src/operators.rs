//! The operators the loader accepts, listed from the registry it checks models against.

use crate::engine;
use crate::verified_opsets::VERIFIED_OPSETS;

/// The ONNX-ML operators (domain `ai.onnx.ml`), from the ONNX specification; every other
/// registered operator is in the default domain.
const ML_OPERATORS: &[&str] = &[
    "ArrayFeatureExtractor",
    "Binarizer",
    "CastMap",
    "CategoryMapper",
    "DictVectorizer",
    "FeatureVectorizer",
    "Imputer",
    "LabelEncoder",
    "LinearClassifier",
    "LinearRegressor",
    "Normalizer",
    "OneHotEncoder",
    "SVMClassifier",
    "SVMRegressor",
    "Scaler",
    "TreeEnsemble",
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "ZipMap",
];

/// An operator a model may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorInfo {
    /// `ai.onnx` or `ai.onnx.ml`.
    pub domain: &'static str,
    pub name: String,
    /// The lowest and highest opset at which the operator passes the ONNX backend node tests,
    /// natively and in wasm (see `docs/operators.md`); `None` when no node test covers it, and in
    /// the lite build (`tests/conformance/expected-pass-lite.txt` lists the cases it passes).
    pub verified_opsets: Option<(u32, u32)>,
}

/// Every operator the loader accepts, sorted by domain and name. A model using any other
/// operator is rejected at load with `UNSUPPORTED_OPERATOR`.
pub fn supported_operators() -> Vec<OperatorInfo> {
    let mut operators: Vec<OperatorInfo> = engine::operator_names()
        .into_iter()
        .map(|name| {
            let domain = if ML_OPERATORS.contains(&name.as_str()) {
                "ai.onnx.ml"
            } else {
                "ai.onnx"
            };
            // The table is the tract builds' node-test results: the lite build claims none.
            let verified_opsets = VERIFIED_OPSETS
                .iter()
                .filter(|_| !cfg!(feature = "lite"))
                .find(|(d, n, ..)| *d == domain && *n == name)
                .map(|&(_, _, low, high)| (low, high));
            OperatorInfo {
                domain,
                name,
                verified_opsets,
            }
        })
        .collect();
    operators.sort_by(|a, b| (a.domain, &a.name).cmp(&(b.domain, &b.name)));
    operators
}

/// Tests of the default and full builds' registries (the lite one is tested in tests/lite.rs).
#[cfg(all(test, feature = "tract"))]
mod tests {
    use super::*;
    use crate::full_build::FULL_ONLY_OPERATORS;

    #[test]
    fn every_verified_operator_is_registered() {
        let operators = supported_operators();
        // The node tests run on the full build; the default build lacks some of its operators.
        let in_this_build =
            |name: &str| cfg!(feature = "full") || !FULL_ONLY_OPERATORS.contains(&name);
        for (domain, name, ..) in VERIFIED_OPSETS.iter().filter(|v| in_this_build(v.1)) {
            assert!(
                operators
                    .iter()
                    .any(|o| o.domain == *domain && o.name == *name),
                "{domain}::{name} passes node tests but is not in the registry"
            );
        }
        let conv = operators.iter().find(|o| o.name == "Conv").unwrap();
        assert_eq!(conv.domain, "ai.onnx");
        assert!(conv.verified_opsets.is_some());
        assert_eq!(
            operators
                .iter()
                .any(|o| o.domain == "ai.onnx.ml" && o.name == "TreeEnsembleClassifier"),
            cfg!(feature = "ml")
        );
        assert!(!operators.iter().any(|o| o.name == "FrobnicateTensor"));
    }
}

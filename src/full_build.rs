//! Which of onnxlet's builds has which operator, so that an engine that lacks one can say where
//! it is: the tract engine's default build (`onnxlet_bg.wasm`), and the operators that only its
//! full build has (cargo feature `full`, shipped as `onnxlet_full_bg.wasm`).
//!
//! Tests keep both lists exact: this module's tests check [`TRACT_OPERATORS`] against the
//! default build's registry, and that no operator of [`FULL_ONLY_OPERATORS`] is registered in
//! the default build and every one is in the full build; `tests/node/builds.test.mjs` compares
//! the second with the difference between the two shipped modules' `supportedOperators()`.

/// The operators of the tract engine's default build (its registry, every domain), by name.
#[cfg_attr(not(feature = "lite"), allow(dead_code))]
pub(crate) const TRACT_OPERATORS: &[&str] = &[
    "Abs",
    "Acos",
    "Acosh",
    "Add",
    "And",
    "ArgMax",
    "ArgMin",
    "ArrayFeatureExtractor",
    "Asin",
    "Asinh",
    "Atan",
    "Atanh",
    "AveragePool",
    "BatchNormalization",
    "BiasGelu",
    "BitShift",
    "BitwiseAnd",
    "BitwiseNot",
    "BitwiseOr",
    "BitwiseXor",
    "Cast",
    "CastLike",
    "Ceil",
    "Celu",
    "Clip",
    "Compress",
    "Concat",
    "Constant",
    "ConstantLike",
    "ConstantOfShape",
    "Conv",
    "ConvInteger",
    "ConvTranspose",
    "Cos",
    "Cosh",
    "CumSum",
    "DepthToSpace",
    "DequantizeLinear",
    "Div",
    "Dropout",
    "DynamicQuantizeLinear",
    "Einsum",
    "Elu",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "EyeLike",
    "FastGelu",
    "Flatten",
    "Floor",
    "GRU",
    "Gather",
    "GatherBlockQuantized",
    "GatherElements",
    "GatherND",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalLpPool",
    "GlobalMaxPool",
    "Greater",
    "GreaterOrEqual",
    "GridSample",
    "GroupNormalization",
    "HardSigmoid",
    "HardSwish",
    "Hardmax",
    "Identity",
    "If",
    "InstanceNormalization",
    "IsInf",
    "IsNaN",
    "LRN",
    "LSTM",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "LogSoftmax",
    "LpNormalization",
    "MatMul",
    "MatMulInteger",
    "MatMulNBits",
    "Max",
    "MaxPool",
    "Mean",
    "MeanVarianceNormalization",
    "Min",
    "Mish",
    "Mod",
    "Mul",
    "Multinomial",
    "Neg",
    "NonMaxSuppression",
    "NonZero",
    "Not",
    "OneHot",
    "Or",
    "PRelu",
    "Pad",
    "ParametricSoftplus",
    "Pow",
    "QLinearConv",
    "QLinearMatMul",
    "QuantizeLinear",
    "QuickGelu",
    "RMSNormalization",
    "RNN",
    "RandomNormal",
    "RandomNormalLike",
    "RandomUniform",
    "RandomUniformLike",
    "Range",
    "Reciprocal",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
    "Relu",
    "Reshape",
    "Resize",
    "RotaryEmbedding",
    "Round",
    "Rsqrt",
    "ScaledTanh",
    "Scan",
    "Scatter",
    "ScatterElements",
    "ScatterND",
    "Selu",
    "Shape",
    "Shrink",
    "Sigmoid",
    "Sign",
    "SimplifiedLayerNormalization",
    "Sin",
    "Sinh",
    "Size",
    "SkipLayerNormalization",
    "SkipSimplifiedLayerNormalization",
    "Slice",
    "Softmax",
    "Softplus",
    "Softsign",
    "SpaceToDepth",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Swish",
    "Tan",
    "Tanh",
    "ThresholdedRelu",
    "Tile",
    "TopK",
    "Transpose",
    "Trilu",
    "Unsqueeze",
    "Where",
    "Xor",
];

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

/// The `ai.onnx.ml` operators of the lite engine (`src/lite/ops/ml.rs`, scikit-learn models),
/// which tract lacks or has in the full build only. A lite-build test keeps the list exact.
pub(crate) const LITE_ML_OPERATORS: &[&str] = &[
    "ArrayFeatureExtractor",
    "Binarizer",
    "CategoryMapper",
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

/// What to append to an `UNSUPPORTED_OPERATOR` message of the tract engine whose missing
/// operators are `missing`: where to find those of them that the full build or the lite engine
/// has, or nothing.
#[cfg_attr(feature = "lite", allow(dead_code))]
pub(crate) fn hint<'a>(missing: impl IntoIterator<Item = &'a str>) -> String {
    let missing = sorted(missing);
    let in_lite: Vec<&str> = (missing.iter().copied())
        .filter(|op| LITE_ML_OPERATORS.contains(op))
        .collect();
    let mut out = full_hint(missing.iter().copied());
    if !in_lite.is_empty() {
        out += &format!(
            ". The lite engine runs {} (env.wasm.build 'auto', the default, or 'lite'; \
             docs/api.md#scikit-learn-models)",
            names(&in_lite)
        );
    }
    out
}

/// Where to find those of `missing` that only the full build has, or nothing.
fn full_hint<'a>(missing: impl IntoIterator<Item = &'a str>) -> String {
    let in_full = sorted(
        missing
            .into_iter()
            .filter(|op| FULL_ONLY_OPERATORS.contains(op)),
    );
    let verb = if in_full.len() == 1 { "is" } else { "are" };
    if in_full.is_empty() {
        return String::new();
    }
    let how = if cfg!(target_arch = "wasm32") {
        "onnxlet_full_bg.wasm: set env.wasm.build = 'full'"
    } else {
        "cargo feature `full`"
    };
    format!(
        ". {} {verb} only in onnxlet's full build ({how}; \
         docs/api.md#the-engines-and-their-modules)",
        names(&in_full)
    )
}

/// What to append to the lite engine's `UNSUPPORTED_OPERATOR` message for operators `missing`
/// (none of which it implements): which engine runs them, or that none does.
#[cfg_attr(not(feature = "lite"), allow(dead_code))]
pub(crate) fn lite_hint<'a>(missing: impl IntoIterator<Item = &'a str>) -> String {
    let missing = sorted(missing);
    let (tract, other): (Vec<&str>, Vec<&str>) =
        missing.iter().partition(|op| TRACT_OPERATORS.contains(op));
    let none: Vec<&str> = other
        .iter()
        .copied()
        .filter(|op| !FULL_ONLY_OPERATORS.contains(op))
        .collect();
    let all = |part: &[&str]| part.len() == missing.len();
    let them = |part: &[&str]| match (all(part), part.len()) {
        (true, 1) => "it".to_string(),
        (true, _) => "them".to_string(),
        (false, _) => names(part),
    };
    let mut out = String::new();
    if !tract.is_empty() {
        out += &format!(
            ". The tract engine runs {} (env.wasm.build 'auto', the default, loads it for such \
             a model; docs/api.md#the-engines-and-their-modules)",
            them(&tract)
        );
    }
    out += &full_hint(other.iter().copied());
    if !none.is_empty() {
        out += &format!(". No onnxlet engine implements {}", them(&none));
    }
    out
}

fn sorted<'a>(list: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut list: Vec<&str> = list.into_iter().collect();
    list.sort_unstable();
    list.dedup();
    list
}

/// `a`, `a and b`, `a, b and c`.
fn names(list: &[&str]) -> String {
    match list {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "tract")]
    use crate::engine;

    #[test]
    #[cfg(feature = "tract")]
    fn the_tract_list_is_the_default_registry() {
        let mut registered = engine::operator_names();
        registered.sort_unstable();
        registered.dedup();
        if cfg!(not(feature = "full")) {
            assert_eq!(
                registered, TRACT_OPERATORS,
                "TRACT_OPERATORS is out of date: it must be the default build's registry"
            );
        }
        for op in TRACT_OPERATORS {
            assert!(registered.iter().any(|r| r == op), "{op} is not registered");
        }
    }

    #[test]
    fn the_lite_hint_says_which_engine_runs_what() {
        assert_eq!(
            lite_hint(["Einsum"]),
            ". The tract engine runs it (env.wasm.build 'auto', the default, loads it for such a \
             model; docs/api.md#the-engines-and-their-modules)"
        );
        assert_eq!(
            lite_hint(["DictVectorizer", "DictVectorizer"]),
            ". No onnxlet engine implements it"
        );
        let mixed = lite_hint(["DictVectorizer", "DFT", "Einsum", "Scan", "Frobnicate"]);
        assert!(
            mixed.starts_with(". The tract engine runs Einsum and Scan ("),
            "{mixed}"
        );
        assert!(
            mixed.contains(". DFT is only in onnxlet's full build ("),
            "{mixed}"
        );
        assert!(
            mixed.ends_with(". No onnxlet engine implements DictVectorizer and Frobnicate"),
            "{mixed}"
        );
    }

    #[test]
    #[cfg(feature = "lite")]
    fn the_lite_ml_list_is_the_lite_registry() {
        let ml: Vec<String> = crate::supported_operators()
            .into_iter()
            .filter(|o| o.domain == "ai.onnx.ml")
            .map(|o| o.name)
            .collect();
        assert_eq!(ml, LITE_ML_OPERATORS, "LITE_ML_OPERATORS is out of date");
    }

    #[test]
    fn the_tract_hint_names_the_lite_engine_for_scikit_learn_operators() {
        let h = hint(["ZipMap", "TreeEnsembleClassifier", "DFT"]);
        assert!(
            h.starts_with(". DFT and TreeEnsembleClassifier are only in onnxlet's full build ("),
            "{h}"
        );
        assert!(
            h.ends_with(
                ". The lite engine runs TreeEnsembleClassifier and ZipMap (env.wasm.build \
                 'auto', the default, or 'lite'; docs/api.md#scikit-learn-models)"
            ),
            "{h}"
        );
    }

    #[test]
    #[cfg(feature = "tract")]
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
    #[cfg(feature = "tract")]
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

//! The operators kept with the `op-allowlist` feature: those of onnxlet's 14 test models.
//! `insert` is inlined at each registration with a constant name, so this match folds away and
//! the builders of other operators are dropped by the linker.

#[inline(always)]
pub(crate) fn allowed(op: &str) -> bool {
    matches!(
        op,
        "Add" | "AveragePool" | "BatchNormalization" | "Cast" | "Clip" | "Concat" | "Constant"
            | "ConstantOfShape" | "Conv" | "ConvTranspose" | "Div" | "Dropout" | "Equal" | "Erf"
            | "Exp" | "Expand" | "Gather" | "Gemm" | "GlobalAveragePool" | "GlobalMaxPool"
            | "HardSigmoid" | "Identity" | "If" | "LRN" | "LSTM" | "MatMul" | "Max" | "MaxPool"
            | "Mul" | "Not" | "Pad" | "Pow" | "Reciprocal" | "ReduceMax" | "ReduceMean"
            | "ReduceSum" | "Relu" | "Reshape" | "Resize" | "Shape" | "Sigmoid" | "Size"
            | "Slice" | "Softmax" | "Sqrt" | "Squeeze" | "Sub" | "Sum" | "Tanh" | "Transpose"
            | "Unsqueeze"
    )
}

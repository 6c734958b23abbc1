//! The hostile models of issue 31 (`tests/models/hostile/`, written by
//! `tests/support/write-hostile-models.mjs` from `hostile-models.mjs`, which the Node tests run
//! through both wasm modules): each must be an error naming its node, or the exact answer, never
//! a panic. Used by tests/native.rs (tract) and tests/lite.rs.
#![allow(dead_code)]

use std::path::Path;

use onnxlet::{DType, HostTensor, LoadOptions, Session};

pub const P32: i64 = 1 << 32;
pub const P40: i64 = 1 << 40;

pub fn i64_tensor(dims: &[usize], values: &[i64]) -> HostTensor {
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    HostTensor::new(DType::Int64, dims.to_vec(), bytes).unwrap()
}

fn f32_range(dims: &[usize]) -> HostTensor {
    let n: usize = dims.iter().product();
    let bytes = (1..=n).flat_map(|v| (v as f32).to_le_bytes()).collect();
    HostTensor::new(DType::Float32, dims.to_vec(), bytes).unwrap()
}

/// What a case must give.
pub enum Expect {
    /// An error whose message names the node and contains the fragment (or one of its
    /// `|`-separated alternatives: the engines word some errors differently).
    Error(&'static str),
    /// The output's dims and int64 values (float32 outputs: the values as i64).
    Exact(&'static [usize], &'static [i64]),
}

pub struct Case {
    pub file: &'static str,
    pub node: &'static str,
    pub feeds: Vec<(String, HostTensor)>,
    pub expect: Expect,
    /// Whether a 64-bit usize makes this case allocate its huge output natively (a real
    /// allocation of gigabytes, not a wrap-around): such cases run in wasm only.
    pub allocates_natively: bool,
}

fn x(dims: &[usize]) -> Vec<(String, HostTensor)> {
    vec![("x".into(), f32_range(dims))]
}

pub fn cases() -> Vec<Case> {
    use Expect::*;
    let case = |file, node, feeds, expect| Case {
        file,
        node,
        feeds,
        expect,
        allocates_natively: false,
    };
    let ab = || {
        vec![
            ("a".to_string(), i64_tensor(&[1], &[i64::MIN])),
            ("b".to_string(), i64_tensor(&[1], &[-1])),
        ]
    };
    let huge = |mut c: Case| {
        c.allocates_natively = true;
        c
    };
    vec![
        case(
            "range_with_a_constant_step_of_0",
            "bad_range",
            vec![],
            Error("delta"),
        ),
        case(
            "range_with_a_fed_step_of_0",
            "bad_range",
            vec![("d".into(), i64_tensor(&[], &[0]))],
            Error("delta"),
        ),
        // A 1 GiB range (its vector overflowed wasm32's addresses as it grew): run in wasm.
        huge(case(
            "range_of_2_27_3_int64_values",
            "long_range",
            vec![("d".into(), i64_tensor(&[], &[2]))],
            Exact(&[], &[(1 << 28) + 4]),
        )),
        case("mod_of_int64_min_by_1", "bad_mod", ab(), Exact(&[1], &[0])),
        // tract folded these at load through its unsigned dimension arithmetic: a panic.
        case(
            "mod_of_the_constants_int64_min_and_1",
            "bad_mod",
            vec![],
            Exact(&[1], &[0]),
        ),
        case(
            "div_of_the_constants_7_and_1",
            "bad_div",
            vec![],
            Exact(&[1], &[-7]),
        ),
        case(
            "mod_of_the_constants_7_and_0",
            "bad_mod",
            vec![],
            Error("zero"),
        ),
        // Integer overflow wraps, as in onnxruntime (and Mul, Neg, Abs): no panic.
        case(
            "div_of_int64_min_by_1",
            "bad_div",
            ab(),
            Exact(&[1], &[i64::MIN]),
        ),
        case(
            "transpose_with_a_repeated_perm",
            "bad_transpose",
            x(&[2, 2]),
            Error("perm"),
        ),
        case(
            "transpose_with_a_perm_out_of_range",
            "bad_transpose",
            x(&[2, 2]),
            Error("perm"),
        ),
        case(
            "squeeze_with_an_axis_out_of_range",
            "bad_squeeze",
            x(&[1, 3]),
            Error("5"),
        ),
        case(
            "maxpool_with_a_stride_of_0",
            "bad_maxpool",
            x(&[1, 1, 4, 4]),
            Error("stride"),
        ),
        case(
            "conv_with_a_group_of_2_62",
            "bad_conv",
            x(&[1, 1, 4, 4]),
            Error("group|unify"),
        ),
        case(
            "conv_with_a_stride_of_0",
            "bad_conv",
            x(&[1, 1, 4, 4]),
            Error("stride"),
        ),
        case(
            "expand_to_a_negative_size",
            "bad_expand",
            x(&[1]),
            Error("-2"),
        ),
        // The lite build has no Einsum: UNSUPPORTED_OPERATOR, naming the node.
        case(
            "einsum_equation_ij_k_an_output_label_no_input_has",
            "bad_einsum",
            x(&[2, 2]),
            Error("einsum"),
        ),
        case(
            "einsum_equation_i_i_one_label_for_a_rank_2_input",
            "bad_einsum",
            x(&[2, 2]),
            Error("einsum"),
        ),
        case(
            "einsum_equation_ij_jk_kl_il_three_operands_for_two_inputs",
            "bad_einsum",
            x(&[2, 2]),
            Error("einsum"),
        ),
        case(
            "einsum_equation_ij_ij_ij_two_arrows",
            "bad_einsum",
            x(&[2, 2]),
            Error("einsum"),
        ),
        case(
            "einsum_equation_ij_jj_an_output_label_twice",
            "bad_einsum",
            x(&[2, 2]),
            Error("einsum"),
        ),
        case(
            "einsum_equation_i_j_not_a_letter",
            "bad_einsum",
            x(&[2, 2]),
            Error("einsum"),
        ),
        case(
            "einsum_equation_empty",
            "bad_einsum",
            x(&[2, 2]),
            Error("einsum"),
        ),
        case(
            "a_graph_output_no_node_produces",
            "'z'",
            x(&[3]),
            Error("output"),
        ),
        case(
            "gather_at_constant_index_2_32_2",
            "bad_gather",
            x(&[3]),
            Error("4294967298"),
        ),
        huge(case(
            "expand_to_2_32_3",
            "bad_expand",
            x(&[1]),
            Error("4294967299"),
        )),
        huge(case(
            "pad_by_2_32_1",
            "bad_pad",
            x(&[3]),
            Error("4294967300"),
        )),
        case(
            "slice_2_32_1_2_32_3_of_3_elements",
            "bad_slice",
            x(&[3]),
            Exact(&[0], &[]),
        ),
        case(
            "reshape_to_a_fed_shape_2_32_2_2",
            "bad_reshape",
            vec![
                ("x".into(), f32_range(&[2, 2])),
                ("s".into(), i64_tensor(&[2], &[P32 + 2, 2])),
            ],
            Error("4294967298"),
        ),
        huge(case(
            "expand_to_2_40",
            "bad_expand",
            x(&[1]),
            Error("1099511627776"),
        )),
        huge(case(
            "tile_2_40_times",
            "bad_tile",
            x(&[1]),
            Error("1099511627776"),
        )),
        case(
            "topk_of_k_2_40",
            "bad_topk",
            x(&[3]),
            Error("1099511627776"),
        ),
        huge(case(
            "constantofshape_2_40",
            "bad_constantofshape",
            vec![],
            Error("1099511627776"),
        )),
        huge(case(
            "constantofshape_of_a_fed_shape_2_40",
            "bad_constantofshape",
            vec![("s".into(), i64_tensor(&[1], &[P40]))],
            Error("1099511627776"),
        )),
        // Panics of the tract engine found by the generated cases (hostile-generator.mjs).
        case(
            "constantofshape_of_a_negative_shape",
            "bad_constantofshape",
            vec![],
            Error("-7"),
        ),
        case(
            "flatten_with_an_axis_out_of_range",
            "bad_flatten",
            x(&[2, 2]),
            Error("axis 3"),
        ),
        case(
            "split_into_two_sizes_with_one_output",
            "bad_split",
            x(&[3]),
            Error("split sizes"),
        ),
        case(
            "maxpool_with_pads_for_one_axis_of_two",
            "bad_maxpool",
            x(&[1, 1, 4, 4]),
            Error("pads"),
        ),
        case(
            "maxpool_with_pads_of_2_31_1",
            "bad_maxpool",
            x(&[1, 1, 4, 4]),
            Error("2147483647"),
        ),
        case(
            "averagepool_with_strides_for_four_axes_of_two",
            "bad_averagepool",
            x(&[1, 1, 4, 4]),
            Error("strides"),
        ),
        case(
            "conv_with_dilations_for_one_axis_of_two",
            "bad_conv",
            x(&[1, 1, 4, 4]),
            Error("dilations"),
        ),
        case(
            "topk_with_an_axis_out_of_range",
            "bad_topk",
            x(&[3]),
            Error("axis -7"),
        ),
        case(
            "depthtospace_with_a_blocksize_of_2_40",
            "bad_depthtospace",
            x(&[1, 4, 1, 1]),
            Error("1099511627776"),
        ),
        case("topk_of_k_1", "bad_topk", x(&[3]), Error("-1")),
        case(
            "averagepool_with_a_kernel_of_0",
            "bad_averagepool",
            x(&[1, 1, 4, 4]),
            Error("kernel_shape"),
        ),
        case(
            "pad_by_2_63_1",
            "bad_pad",
            x(&[3]),
            Error("92233720368547758"),
        ),
    ]
}

/// Loads and runs `case`, returning a description of what went wrong, if anything.
pub fn check(case: &Case) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/models/hostile")
        .join(format!("{}.onnx", case.file));
    let bytes = std::fs::read(path).unwrap();
    let result = Session::load(&bytes, &LoadOptions::default())
        .and_then(|s| s.run(case.feeds.clone(), None));
    match (&case.expect, result) {
        (Expect::Error(fragment), Err(e)) => {
            let message = e.message.to_lowercase();
            let named = e.message.contains(case.node)
                && fragment
                    .split('|')
                    .any(|f| message.contains(&f.to_lowercase()));
            // A panic caught natively (`internal error while ...`) is a crash in wasm.
            (!named || e.message.contains("internal error")).then(|| {
                format!(
                    "{}: {e} should name {} and say {fragment:?}",
                    case.file, case.node
                )
            })
        }
        (Expect::Error(_), Ok(out)) => Some(format!(
            "{}: expected an error, got outputs of dims {:?}",
            case.file,
            out.iter()
                .map(|(_, t)| t.dims().to_vec())
                .collect::<Vec<_>>()
        )),
        (Expect::Exact(dims, values), Ok(out)) => {
            let t = &out[0].1;
            let got: Vec<i64> = match t.dtype() {
                DType::Int64 => t
                    .data()
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
                _ => t
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as i64)
                    .collect(),
            };
            (t.dims() != *dims || got != *values).then(|| {
                format!(
                    "{}: expected {dims:?} {values:?}, got {:?} {got:?}",
                    case.file,
                    t.dims()
                )
            })
        }
        (Expect::Exact(..), Err(e)) => Some(format!("{}: expected a result, got {e}", case.file)),
    }
}

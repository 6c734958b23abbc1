//! Recurrent operators on float32, for inference: LSTM, GRU and RNN (opsets 7 to 22, layout 1
//! from opset 14).
//!
//! Each direction's W and R are packed transposed, in panels of `NR` columns (at load when they
//! are constants). A run computes the input projection of every time step in one product with
//! the biases added, then each step adds the hidden state times R and applies the gates row by
//! row of the batch. The hidden and cell states live in the Y_h and Y_c outputs as the steps go.
//! The products and the sigmoid and tanh are written in wasm SIMD (module `simd`), with scalar
//! twins for other targets.

use super::super::tensor::{alloc_len, volume, Data, OpResult, Tensor, MAX_ELEMENTS};
use super::{f32s, input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] =
    &[("GRU", build_gru), ("LSTM", build_lstm), ("RNN", build_rnn)];

/// Columns of a packed panel: four wasm vectors, one row of accumulators per row of the input.
const NR: usize = 16;

// ---------------------------------------------------------------------------------------------
// Activations

/// e^x, within about 1 ulp for x in [-87, 88] (clamped there): a Cody-Waite reduction to
/// [-ln2/2, ln2/2] and Cephes' polynomial, scaled by 2^n through the exponent bits. Branch-free,
/// as `simd::exp4` computes it on four lanes.
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    /// 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let x = if x < -87.0 { -87.0 } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // n is in [-126, 127]: a normal power of two.
    let bits = (t.to_bits() as i32)
        .wrapping_sub(0x4B40_0000)
        .wrapping_add(127)
        << 23;
    e * f32::from_bits(bits as u32)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-x))
}

/// tanh within about 2 ulp: from e^(-2|x|), or its odd Taylor series near 0 where that loses
/// precision.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let a = f32::from_bits(x.to_bits() & 0x7fff_ffff);
    let e = exp_approx(-2.0 * a);
    let far = (1.0 - e) / (1.0 + e);
    let a2 = a * a;
    let near = a
        * (1.0
            + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0 + a2 * (62.0 / 2835.0)))));
    let t = if a < 0.25 { near } else { far };
    f32::from_bits(t.to_bits() | (x.to_bits() & 0x8000_0000))
}

fn sigmoid_all(v: &mut [f32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let v = simd::map4(v, simd::sigmoid4);
    v.iter_mut().for_each(|x| *x = sigmoid(*x));
}

fn tanh_all(v: &mut [f32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let v = simd::map4(v, simd::tanh4);
    v.iter_mut().for_each(|x| *x = tanh(*x));
}

/// An activation function of a recurrent operator, with its alpha and beta.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Relu,
    Tanh,
    Sigmoid,
    Affine(f32, f32),
    LeakyRelu(f32),
    ThresholdedRelu(f32),
    ScaledTanh(f32, f32),
    HardSigmoid(f32, f32),
    Elu(f32),
    Softsign,
    Softplus,
}

impl Act {
    /// The function named `name` (any case), taking its alpha and beta (only if it has them)
    /// from the lists in order, or the ONNX operator's defaults when they run out.
    fn parse(
        name: &str,
        alphas: &mut impl Iterator<Item = f32>,
        betas: &mut impl Iterator<Item = f32>,
    ) -> OpResult<Act> {
        let mut alpha = |d: f32| alphas.next().unwrap_or(d);
        let mut beta = |d: f32| betas.next().unwrap_or(d);
        Ok(match name.to_ascii_lowercase().as_str() {
            "relu" => Act::Relu,
            "tanh" => Act::Tanh,
            "sigmoid" => Act::Sigmoid,
            "affine" => Act::Affine(alpha(1.0), beta(0.0)),
            "leakyrelu" => Act::LeakyRelu(alpha(0.01)),
            "thresholdedrelu" => Act::ThresholdedRelu(alpha(1.0)),
            "scaledtanh" => Act::ScaledTanh(alpha(1.0), beta(1.0)),
            "hardsigmoid" => Act::HardSigmoid(alpha(0.2), beta(0.5)),
            "elu" => Act::Elu(alpha(1.0)),
            "softsign" => Act::Softsign,
            "softplus" => Act::Softplus,
            _ => {
                return Err(format!(
                    "activation '{name}' is not one of Relu, Tanh, Sigmoid, Affine, LeakyRelu, \
                     ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus"
                ))
            }
        })
    }

    /// Applies the function to every element of `v`.
    fn apply(self, v: &mut [f32]) {
        match self {
            Act::Relu => v
                .iter_mut()
                .for_each(|x| *x = if *x < 0.0 { 0.0 } else { *x }),
            Act::Tanh => tanh_all(v),
            Act::Sigmoid => sigmoid_all(v),
            Act::Affine(a, b) => v.iter_mut().for_each(|x| *x = a * *x + b),
            Act::LeakyRelu(a) => v
                .iter_mut()
                .for_each(|x| *x = if *x < 0.0 { a * *x } else { *x }),
            Act::ThresholdedRelu(a) => v
                .iter_mut()
                .for_each(|x| *x = if *x > a { *x } else { 0.0 }),
            Act::ScaledTanh(a, b) => v.iter_mut().for_each(|x| *x = a * tanh(b * *x)),
            Act::HardSigmoid(a, b) => v.iter_mut().for_each(|x| *x = (a * *x + b).clamp(0.0, 1.0)),
            Act::Elu(a) => v
                .iter_mut()
                .for_each(|x| *x = if *x < 0.0 { a * x.exp_m1() } else { *x }),
            Act::Softsign => v.iter_mut().for_each(|x| *x /= 1.0 + x.abs()),
            Act::Softplus => v
                .iter_mut()
                .for_each(|x| *x = if *x > 20.0 { *x } else { x.exp().ln_1p() }),
        }
    }
}

/// Bounds every element of `v` to `[-c, c]` (the `clip` attribute), if given.
fn clip(v: &mut [f32], c: Option<f32>) {
    if let Some(c) = c {
        v.iter_mut().for_each(|x| {
            *x = if *x > c {
                c
            } else if *x < -c {
                -c
            } else {
                *x
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Packed weights and their product

/// A k x n matrix M packed for `out += a * M`: panels of `NR` columns (zero past n), each k
/// rows of `NR` values.
struct Panels {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl Panels {
    /// M from `src`, which holds M transposed (n rows of k values, as ONNX stores W and R).
    fn pack(src: &[f32], n: usize, k: usize) -> OpResult<Panels> {
        let len = volume(&[n.div_ceil(NR), k, NR])?;
        if n.checked_mul(k).is_none_or(|nk| nk > src.len()) {
            return Err(format!(
                "internal: a {n}x{k} matrix does not fit in {} values",
                src.len()
            ));
        }
        let mut data = vec![0f32; len];
        if k > 0 {
            for (col, row) in src.chunks_exact(k).take(n).enumerate() {
                let base = (col / NR) * k * NR + col % NR;
                let dst = data.get_mut(base..).unwrap_or_default();
                for (d, &v) in dst.iter_mut().step_by(NR).zip(row) {
                    *d = v;
                }
            }
        }
        Ok(Panels { k, n, data })
    }
}

/// One row of the input against one panel.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn panel1(panel: &[[f32; NR]], a0: &[f32]) -> [f32; NR] {
    let (mut c0, mut c1) = ([0f32; NR], [0f32; NR]);
    let (pairs, rest) = panel.as_chunks::<2>();
    let (ap, arest) = a0.as_chunks::<2>();
    for (w, x) in pairs.iter().zip(ap) {
        for l in 0..NR {
            c0[l] += x[0] * w[0][l];
            c1[l] += x[1] * w[1][l];
        }
    }
    for (w, &x) in rest.iter().zip(arest) {
        for l in 0..NR {
            c0[l] += x * w[l];
        }
    }
    for l in 0..NR {
        c0[l] += c1[l];
    }
    c0
}

/// Two rows of the input against one panel.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn panel2(panel: &[[f32; NR]], a0: &[f32], a1: &[f32]) -> ([f32; NR], [f32; NR]) {
    let (mut c0, mut c1) = ([0f32; NR], [0f32; NR]);
    for ((w, &x0), &x1) in panel.iter().zip(a0).zip(a1) {
        for l in 0..NR {
            c0[l] += x0 * w[l];
            c1[l] += x1 * w[l];
        }
    }
    (c0, c1)
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use simd::{panel1, panel2};

/// The hot loops in wasm SIMD: the release profile's opt-level "z" leaves LLVM's vectorisers
/// off. Each computes exactly what its scalar counterpart does, four lanes at a time.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::NR;
    use std::arch::wasm32::*;

    #[inline(always)]
    fn load(s: &[f32; 4]) -> v128 {
        // SAFETY: `s` is 16 readable bytes; the read is unaligned.
        unsafe { (s.as_ptr() as *const v128).read_unaligned() }
    }

    #[inline(always)]
    fn store(d: &mut [f32; 4], v: v128) {
        // SAFETY: `d` is 16 writable bytes; the write is unaligned.
        unsafe { (d.as_mut_ptr() as *mut v128).write_unaligned(v) }
    }

    const _: () = assert!(NR == 16);

    /// The four vectors of a panel row.
    #[inline(always)]
    fn load16(w: &[f32; NR]) -> (v128, v128, v128, v128) {
        let p = w.as_ptr() as *const v128;
        // SAFETY: `w` is 64 readable bytes: four unaligned vectors.
        unsafe {
            (
                p.read_unaligned(),
                p.add(1).read_unaligned(),
                p.add(2).read_unaligned(),
                p.add(3).read_unaligned(),
            )
        }
    }

    #[inline(always)]
    fn unload16(a: v128, b: v128, c: v128, d: v128) -> [f32; NR] {
        let mut out = [0f32; NR];
        let p = out.as_mut_ptr() as *mut v128;
        // SAFETY: `out` is 64 writable bytes: four unaligned vectors.
        unsafe {
            p.write_unaligned(a);
            p.add(1).write_unaligned(b);
            p.add(2).write_unaligned(c);
            p.add(3).write_unaligned(d);
        }
        out
    }

    /// `f` on every full group of 4 elements of `v`; returns the elements left.
    #[inline(always)]
    pub fn map4(v: &mut [f32], f: impl Fn(v128) -> v128) -> &mut [f32] {
        let (chunks, rest) = v.as_chunks_mut::<4>();
        for c in chunks {
            store(c, f(load(c)));
        }
        rest
    }

    /// `super::exp_approx` on four lanes.
    #[inline(always)]
    fn exp4(x: v128) -> v128 {
        let magic = f32x4_splat(12_582_912.0);
        let x = f32x4_pmax(x, f32x4_splat(-87.0));
        let x = f32x4_pmin(x, f32x4_splat(88.0));
        let t = f32x4_add(f32x4_mul(x, f32x4_splat(std::f32::consts::LOG2_E)), magic);
        let n = f32x4_sub(t, magic);
        let r = f32x4_sub(x, f32x4_mul(n, f32x4_splat(0.693_359_4)));
        let r = f32x4_sub(r, f32x4_mul(n, f32x4_splat(-2.121_944_4e-4)));
        let horner = |p: v128, c: f32| f32x4_add(f32x4_mul(p, r), f32x4_splat(c));
        let p = horner(f32x4_splat(1.987_569_1e-4), 1.398_199_9e-3);
        let p = horner(p, 8.333_452e-3);
        let p = horner(p, 4.166_579_6e-2);
        let p = horner(p, 1.666_666_5e-1);
        let p = horner(p, 0.5);
        let e = f32x4_add(
            f32x4_add(f32x4_mul(f32x4_mul(p, r), r), r),
            f32x4_splat(1.0),
        );
        let bits = i32x4_shl(
            i32x4_add(i32x4_sub(t, i32x4_splat(0x4B40_0000)), i32x4_splat(127)),
            23,
        );
        f32x4_mul(e, bits)
    }

    #[inline(always)]
    pub fn sigmoid4(x: v128) -> v128 {
        let one = f32x4_splat(1.0);
        f32x4_div(one, f32x4_add(one, exp4(f32x4_neg(x))))
    }

    /// `super::tanh` on four lanes.
    #[inline(always)]
    pub fn tanh4(x: v128) -> v128 {
        let one = f32x4_splat(1.0);
        let a = f32x4_abs(x);
        let e = exp4(f32x4_mul(f32x4_splat(-2.0), a));
        let far = f32x4_div(f32x4_sub(one, e), f32x4_add(one, e));
        let a2 = f32x4_mul(a, a);
        let horner = |p: v128, c: f32| f32x4_add(f32x4_mul(p, a2), f32x4_splat(c));
        let p = horner(f32x4_splat(62.0 / 2835.0), -17.0 / 315.0);
        let p = horner(p, 2.0 / 15.0);
        let p = horner(p, -1.0 / 3.0);
        let p = horner(p, 1.0);
        let near = f32x4_mul(a, p);
        let t = v128_bitselect(near, far, f32x4_lt(a, f32x4_splat(0.25)));
        v128_or(t, v128_and(x, u32x4_splat(0x8000_0000)))
    }

    /// One row of the input against one panel: even and odd k in separate accumulators.
    #[inline(always)]
    pub fn panel1(panel: &[[f32; NR]], a0: &[f32]) -> [f32; NR] {
        let z = f32x4_splat(0.0);
        let (mut c0, mut c1, mut c2, mut c3) = (z, z, z, z);
        let (mut d0, mut d1, mut d2, mut d3) = (z, z, z, z);
        let (pairs, rest) = panel.as_chunks::<2>();
        let (ap, arest) = a0.as_chunks::<2>();
        for ([w, v], [x, y]) in pairs.iter().zip(ap) {
            let (s, t) = (f32x4_splat(*x), f32x4_splat(*y));
            let (w0, w1, w2, w3) = load16(w);
            let (v0, v1, v2, v3) = load16(v);
            c0 = f32x4_add(c0, f32x4_mul(s, w0));
            c1 = f32x4_add(c1, f32x4_mul(s, w1));
            c2 = f32x4_add(c2, f32x4_mul(s, w2));
            c3 = f32x4_add(c3, f32x4_mul(s, w3));
            d0 = f32x4_add(d0, f32x4_mul(t, v0));
            d1 = f32x4_add(d1, f32x4_mul(t, v1));
            d2 = f32x4_add(d2, f32x4_mul(t, v2));
            d3 = f32x4_add(d3, f32x4_mul(t, v3));
        }
        for (w, &x) in rest.iter().zip(arest) {
            let s = f32x4_splat(x);
            let (w0, w1, w2, w3) = load16(w);
            c0 = f32x4_add(c0, f32x4_mul(s, w0));
            c1 = f32x4_add(c1, f32x4_mul(s, w1));
            c2 = f32x4_add(c2, f32x4_mul(s, w2));
            c3 = f32x4_add(c3, f32x4_mul(s, w3));
        }
        unload16(
            f32x4_add(c0, d0),
            f32x4_add(c1, d1),
            f32x4_add(c2, d2),
            f32x4_add(c3, d3),
        )
    }

    /// Two rows of the input against one panel.
    #[inline(always)]
    pub fn panel2(panel: &[[f32; NR]], a0: &[f32], a1: &[f32]) -> ([f32; NR], [f32; NR]) {
        let z = f32x4_splat(0.0);
        let (mut c0, mut c1, mut c2, mut c3) = (z, z, z, z);
        let (mut d0, mut d1, mut d2, mut d3) = (z, z, z, z);
        for ((w, &x), &y) in panel.iter().zip(a0).zip(a1) {
            let (s, t) = (f32x4_splat(x), f32x4_splat(y));
            let (w0, w1, w2, w3) = load16(w);
            c0 = f32x4_add(c0, f32x4_mul(s, w0));
            c1 = f32x4_add(c1, f32x4_mul(s, w1));
            c2 = f32x4_add(c2, f32x4_mul(s, w2));
            c3 = f32x4_add(c3, f32x4_mul(s, w3));
            d0 = f32x4_add(d0, f32x4_mul(t, w0));
            d1 = f32x4_add(d1, f32x4_mul(t, w1));
            d2 = f32x4_add(d2, f32x4_mul(t, w2));
            d3 = f32x4_add(d3, f32x4_mul(t, w3));
        }
        (unload16(c0, c1, c2, c3), unload16(d0, d1, d2, d3))
    }
}

fn add_into(out: &mut [f32], at: usize, v: &[f32]) -> OpResult<()> {
    let dst = out.get_mut(at..at + v.len()).ok_or_else(internal)?;
    dst.iter_mut().zip(v).for_each(|(d, &x)| *d += x);
    Ok(())
}

fn internal() -> String {
    "internal: recurrent operands of the wrong size".into()
}

/// `out[r * ldo + j] += sum_kk a[r * lda + kk] * M[kk][j]` for `r < rows`, `j < M.n`.
fn mul_rows(
    m: &Panels,
    a: &[f32],
    lda: usize,
    rows: usize,
    out: &mut [f32],
    ldo: usize,
) -> OpResult<()> {
    let (k, n) = (m.k, m.n);
    if rows == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let fits = |len: usize, ld: usize, w: usize| {
        (rows - 1)
            .checked_mul(ld)
            .and_then(|e| e.checked_add(w))
            .is_some_and(|e| e <= len)
    };
    if ldo < n || !fits(a.len(), lda, k) || !fits(out.len(), ldo, n) {
        return Err(internal());
    }
    let row = |r: usize| a.get(r * lda..r * lda + k).ok_or_else(internal);
    let (chunks, _) = m.data.as_chunks::<NR>();
    // Panel by panel: each stays in cache while the rows go by.
    for (p, panel) in chunks.chunks_exact(k).enumerate() {
        let j0 = p * NR;
        let cols = NR.min(n.saturating_sub(j0));
        let mut r = 0;
        while r + 1 < rows {
            let (c0, c1) = panel2(panel, row(r)?, row(r + 1)?);
            add_into(out, r * ldo + j0, &c0[..cols])?;
            add_into(out, (r + 1) * ldo + j0, &c1[..cols])?;
            r += 2;
        }
        if r < rows {
            let c0 = panel1(panel, row(r)?);
            add_into(out, r * ldo + j0, &c0[..cols])?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The operators' attributes and weights

/// Which recurrent cell a node computes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cell {
    Lstm,
    Gru { linear_before_reset: bool },
    Rnn,
}

impl Cell {
    /// Gates stacked in W, R and each half of B.
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru { .. } => 3,
            Cell::Rnn => 1,
        }
    }

    fn default_acts(self) -> &'static [&'static str] {
        match self {
            Cell::Lstm => &["Sigmoid", "Tanh", "Tanh"],
            Cell::Gru { .. } => &["Sigmoid", "Tanh"],
            Cell::Rnn => &["Tanh"],
        }
    }
}

/// One direction's weights.
struct DirWeights {
    /// W transposed: input_size x gates * hidden.
    w: Panels,
    /// R transposed, hidden x gates * hidden; for GRU only its z and r gates (h is `rh`).
    r: Panels,
    /// GRU: R of the h gate, transposed.
    rh: Option<Panels>,
    /// Added to the input projection: Wb + Rb, but only Wbh for the h gate of a GRU with
    /// linear_before_reset.
    bias: Vec<f32>,
    /// GRU with linear_before_reset: Rbh, added to the h gate's recurrent product.
    rbh: Vec<f32>,
    /// LSTM peepholes of the i, o and f gates (empty without P).
    p: Vec<f32>,
}

struct Weights {
    input: usize,
    hidden: usize,
    dirs: Vec<DirWeights>,
}

/// The rows `d * len..(d + 1) * len` of a tensor's elements.
fn dir_slice<'a>(v: &'a [f32], d: usize, len: usize, what: &str) -> OpResult<&'a [f32]> {
    v.get(d * len..(d + 1) * len)
        .ok_or_else(|| format!("input {what} is smaller than its shape"))
}

/// Checks W, R, B and P against each other and the attributes, and packs them.
fn pack_weights(
    cell: Cell,
    dirs: usize,
    hidden_attr: Option<usize>,
    w: &Tensor,
    r: &Tensor,
    b: Option<&Tensor>,
    p: Option<&Tensor>,
) -> OpResult<Weights> {
    let g = cell.gates();
    let &[rd, rg, hidden] = &r.shape[..] else {
        return Err(format!("input R has shape {:?}, expected rank 3", r.shape));
    };
    if hidden == 0 {
        return Err(format!(
            "input R has shape {:?}: the hidden size is 0",
            r.shape
        ));
    }
    if let Some(h) = hidden_attr.filter(|&h| h != hidden) {
        return Err(format!(
            "hidden_size is {h} but input R has shape {:?} (expected [{dirs}, {}, {h}])",
            r.shape,
            g.saturating_mul(h)
        ));
    }
    let gh = g
        .checked_mul(hidden)
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or("the hidden size is too large")?;
    if rd != dirs || rg != gh {
        return Err(format!(
            "input R has shape {:?}, expected [{dirs}, {gh}, {hidden}]",
            r.shape
        ));
    }
    let &[wd, wg, input] = &w.shape[..] else {
        return Err(format!("input W has shape {:?}, expected rank 3", w.shape));
    };
    if wd != dirs || wg != gh {
        return Err(format!(
            "input W has shape {:?}, expected [{dirs}, {gh}, input_size]",
            w.shape
        ));
    }
    if let Some(b) = b {
        if b.shape != [dirs, 2 * gh] {
            return Err(format!(
                "input B has shape {:?}, expected [{dirs}, {}]",
                b.shape,
                2 * gh
            ));
        }
    }
    if let Some(p) = p {
        if p.shape != [dirs, 3 * hidden] {
            return Err(format!(
                "input P has shape {:?}, expected [{dirs}, {}]",
                p.shape,
                3 * hidden
            ));
        }
    }
    let (wv, rv) = (f32s(w, "W")?, f32s(r, "R")?);
    let bv = b.map(|b| f32s(b, "B")).transpose()?;
    let pv = p.map(|p| f32s(p, "P")).transpose()?;
    let lbr = matches!(
        cell,
        Cell::Gru {
            linear_before_reset: true
        }
    );
    let wlen = volume(&[gh, input])?;
    let rlen = volume(&[gh, hidden])?;
    let dirs = (0..dirs)
        .map(|d| {
            let wd = dir_slice(wv, d, wlen, "W")?;
            let rd = dir_slice(rv, d, rlen, "R")?;
            let (r, rh) = match cell {
                Cell::Gru { .. } => {
                    let split = 2 * hidden * hidden;
                    let (rzr, rh) = (rd.get(..split), rd.get(split..));
                    let (rzr, rh) = rzr.zip(rh).ok_or_else(internal)?;
                    (
                        Panels::pack(rzr, 2 * hidden, hidden)?,
                        Some(Panels::pack(rh, hidden, hidden)?),
                    )
                }
                _ => (Panels::pack(rd, gh, hidden)?, None),
            };
            let mut bias = vec![0f32; gh];
            let mut rbh = if lbr { vec![0f32; hidden] } else { vec![] };
            if let Some(bv) = bv {
                let bd = dir_slice(bv, d, 2 * gh, "B")?;
                let (wb, rb) = bd.split_at(gh);
                for ((o, &x), &y) in bias.iter_mut().zip(wb).zip(rb) {
                    *o = x + y;
                }
                if lbr {
                    let (wbh, rbh_in) = (&wb[2 * hidden..], &rb[2 * hidden..]);
                    bias[2 * hidden..].copy_from_slice(wbh);
                    rbh.copy_from_slice(rbh_in);
                }
            }
            let p = match pv {
                Some(pv) => dir_slice(pv, d, 3 * hidden, "P")?.to_vec(),
                None => vec![],
            };
            Ok(DirWeights {
                w: Panels::pack(wd, gh, input)?,
                r,
                rh,
                bias,
                rbh,
                p,
            })
        })
        .collect::<OpResult<Vec<DirWeights>>>()?;
    Ok(Weights {
        input,
        hidden,
        dirs,
    })
}

/// An LSTM, GRU or RNN node.
struct Recurrent {
    cell: Cell,
    /// 1, or 2 when bidirectional.
    dirs: usize,
    /// A single direction that runs backwards.
    reverse: bool,
    hidden: Option<usize>,
    /// Batch first (layout 1): X is [batch, seq, input] and the states [batch, dirs, hidden].
    batch_first: bool,
    /// Each direction's activations, in ONNX order (LSTM f, g, h; GRU f, g; RNN f).
    acts: Vec<Act>,
    clip: Option<f32>,
    input_forget: bool,
    /// W, R, B and P packed at load, when they are constants.
    weights: Option<Weights>,
    /// Whether the model reads Y (else it is not computed).
    want_y: bool,
}

fn build_lstm(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build(ctx, Cell::Lstm)
}

fn build_gru(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let linear_before_reset = match ctx.int("linear_before_reset", 0) {
        0 => false,
        1 => true,
        v => return Err(format!("linear_before_reset is {v}, expected 0 or 1")),
    };
    build(
        ctx,
        Cell::Gru {
            linear_before_reset,
        },
    )
}

fn build_rnn(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    build(ctx, Cell::Rnn)
}

/// The activations attribute for `dirs` directions (defaults when absent), with their alphas
/// and betas.
fn read_acts(ctx: &NodeCtx, cell: Cell, dirs: usize) -> OpResult<Vec<Act>> {
    let per = cell.default_acts().len();
    let names: Vec<String> = ctx
        .node
        .attribute
        .iter()
        .find(|a| a.name == "activations")
        .map(|a| {
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .filter(|n: &Vec<String>| !n.is_empty())
        .unwrap_or_else(|| {
            (0..dirs)
                .flat_map(|_| cell.default_acts().iter().map(|s| s.to_string()))
                .collect()
        });
    if names.len() != per * dirs {
        return Err(format!(
            "activations has {} functions, expected {} ({per} per direction)",
            names.len(),
            per * dirs
        ));
    }
    let mut alphas = ctx
        .floats("activation_alpha")
        .unwrap_or_default()
        .into_iter();
    let mut betas = ctx
        .floats("activation_beta")
        .unwrap_or_default()
        .into_iter();
    names
        .iter()
        .map(|n| Act::parse(n, &mut alphas, &mut betas))
        .collect()
}

fn build(ctx: &NodeCtx, cell: Cell) -> OpResult<Box<dyn Op>> {
    let (dirs, reverse) = match ctx.string("direction").as_deref() {
        None | Some("forward") => (1, false),
        Some("reverse") => (1, true),
        Some("bidirectional") => (2, false),
        Some(other) => {
            return Err(format!(
                "direction '{other}' is not one of forward, reverse, bidirectional"
            ))
        }
    };
    let batch_first = match ctx.int("layout", 0) {
        0 => false,
        1 if ctx.opset >= 14 => true,
        1 => {
            return Err(format!(
                "layout 1 exists from opset 14, the model imports opset {}",
                ctx.opset
            ))
        }
        v => return Err(format!("layout is {v}, expected 0 or 1")),
    };
    let hidden = if ctx.has("hidden_size") {
        let h = ctx.int("hidden_size", 0);
        let h = usize::try_from(h)
            .ok()
            .filter(|&h| h > 0 && h <= MAX_ELEMENTS)
            .ok_or_else(|| format!("hidden_size is {h}, expected a positive size"))?;
        Some(h)
    } else {
        None
    };
    let clip = if ctx.has("clip") {
        let c = ctx.float("clip", 0.0);
        if c.is_nan() || c <= 0.0 {
            return Err(format!("clip is {c}, expected a positive threshold"));
        }
        Some(c)
    } else {
        None
    };
    let input_forget = match (cell, ctx.int("input_forget", 0)) {
        (_, 0) => false,
        (Cell::Lstm, 1) => true,
        (_, v) => return Err(format!("input_forget is {v}, expected 0 or 1")),
    };
    let acts = read_acts(ctx, cell, dirs)?;

    let konst = |i: usize| ctx.consts.get(i).copied().flatten();
    let const_or_absent = |i: usize| !ctx.given(i) || konst(i).is_some();
    let peepholes = cell == Cell::Lstm && ctx.given(7);
    let weights = match (konst(1), konst(2)) {
        (Some(w), Some(r)) if const_or_absent(3) && (!peepholes || konst(7).is_some()) => {
            let p = if peepholes { konst(7) } else { None };
            Some(pack_weights(cell, dirs, hidden, w, r, konst(3), p)?)
        }
        _ => None,
    };
    let want_y = ctx.node.output.first().is_some_and(|s| !s.is_empty());
    Ok(Box::new(Recurrent {
        cell,
        dirs,
        reverse,
        hidden,
        batch_first,
        acts,
        clip,
        input_forget,
        weights,
        want_y,
    }))
}

// ---------------------------------------------------------------------------------------------
// Running

/// The lengths of sequence_lens (int32, or int64), each checked against `seq`.
fn sequence_lens(t: &Tensor, batch: usize, seq: usize) -> OpResult<Vec<usize>> {
    if !matches!(t.data, Data::I32(_) | Data::I64(_)) {
        return Err(format!(
            "input sequence_lens is {}, expected int32",
            t.dtype()
        ));
    }
    if t.shape != [batch] {
        return Err(format!(
            "input sequence_lens has shape {:?}, expected [{batch}]",
            t.shape
        ));
    }
    t.to_i64s()?
        .into_iter()
        .map(|l| {
            usize::try_from(l)
                .ok()
                .filter(|&l| l <= seq)
                .ok_or_else(|| format!("sequence_lens has {l}, expected a length from 0 to {seq}"))
        })
        .collect()
}

/// An initial state (input `i`), or zeros.
fn initial(
    inputs: &[Option<&Tensor>],
    i: usize,
    name: &str,
    shape: &[usize],
) -> OpResult<Vec<f32>> {
    match inputs.get(i).copied().flatten() {
        Some(t) => {
            if t.shape != shape {
                return Err(format!(
                    "input {name} has shape {:?}, expected {shape:?}",
                    t.shape
                ));
            }
            Ok(f32s(t, name)?.to_vec())
        }
        None => Ok(vec![0f32; alloc_len::<f32>(shape)?]),
    }
}

/// Where rows of a [rows, width] buffer are for one time step: the first and the stride between
/// batch entries.
#[derive(Clone, Copy)]
struct Rows {
    base: usize,
    ld: usize,
}

impl Rows {
    fn at(self, b: usize) -> usize {
        self.base + b * self.ld
    }
}

/// Everything one direction's steps read and write.
struct Pass<'a> {
    dw: &'a DirWeights,
    acts: &'a [Act],
    hidden: usize,
    batch: usize,
    /// The gate pre-activations of every step (the input projection as it starts).
    xw: &'a mut [f32],
    /// The hidden states, and the cell states of an LSTM (empty otherwise), of every direction.
    h: &'a mut [f32],
    c: &'a mut [f32],
    /// Where this direction's rows of `h` and `c` are.
    state: Rows,
    /// GRU: one row of `hidden` per batch entry.
    scratch: &'a mut [f32],
}

fn row_mut(v: &mut [f32], at: usize, len: usize) -> OpResult<&mut [f32]> {
    v.get_mut(at..at + len).ok_or_else(internal)
}

fn tail(v: &[f32], at: usize) -> OpResult<&[f32]> {
    v.get(at..).ok_or_else(internal)
}

fn tail_mut(v: &mut [f32], at: usize) -> OpResult<&mut [f32]> {
    v.get_mut(at..).ok_or_else(internal)
}

/// The input, output and forget peepholes, if any.
fn peepholes(p: &[f32], n: usize) -> Option<(&[f32], &[f32], &[f32])> {
    let (pi, rest) = p.split_at_checked(n)?;
    let (po, pf) = rest.split_at_checked(n)?;
    Some((pi, po, pf)).filter(|_| pf.len() == n)
}

/// `v += p * c`, element by element.
fn add_mul(v: &mut [f32], p: &[f32], c: &[f32]) {
    for ((v, &p), &c) in v.iter_mut().zip(p).zip(c) {
        *v += p * c;
    }
}

impl Recurrent {
    /// One LSTM step (gates i, o, f, c in `g`'s rows), on the batch entries `active` allows.
    fn lstm_step(&self, s: &mut Pass, g: Rows, active: impl Fn(usize) -> bool) -> OpResult<()> {
        let (n, dw) = (s.hidden, s.dw);
        let h_in = tail(s.h, s.state.base)?;
        mul_rows(
            &dw.r,
            h_in,
            s.state.ld,
            s.batch,
            tail_mut(s.xw, g.base)?,
            g.ld,
        )?;
        let &[f, gact, hact] = s.acts else {
            return Err(internal());
        };
        let peep = peepholes(&dw.p, n);
        for b in (0..s.batch).filter(|&b| active(b)) {
            let gates = row_mut(s.xw, g.at(b), 4 * n)?;
            let [gi, go, gf, gc] = gates
                .get_disjoint_mut([0..n, n..2 * n, 2 * n..3 * n, 3 * n..4 * n])
                .map_err(|_| internal())?;
            let h = row_mut(s.h, s.state.at(b), n)?;
            let c = row_mut(s.c, s.state.at(b), n)?;
            if let Some((pi, _, _)) = peep {
                add_mul(gi, pi, c);
            }
            clip(gi, self.clip);
            f.apply(gi);
            if self.input_forget {
                gf.iter_mut()
                    .zip(gi.iter())
                    .for_each(|(o, &i)| *o = 1.0 - i);
            } else {
                if let Some((_, _, pf)) = peep {
                    add_mul(gf, pf, c);
                }
                clip(gf, self.clip);
                f.apply(gf);
            }
            clip(gc, self.clip);
            gact.apply(gc);
            for (((c, &f), &i), &g) in c.iter_mut().zip(gf.iter()).zip(gi.iter()).zip(gc.iter()) {
                *c = f * *c + i * g;
            }
            if let Some((_, po, _)) = peep {
                add_mul(go, po, c);
            }
            clip(go, self.clip);
            f.apply(go);
            gc.copy_from_slice(c);
            hact.apply(gc);
            for ((h, &o), &t) in h.iter_mut().zip(go.iter()).zip(gc.iter()) {
                *h = o * t;
            }
        }
        Ok(())
    }

    /// One GRU step (gates z, r, h in `g`'s rows).
    fn gru_step(
        &self,
        s: &mut Pass,
        g: Rows,
        active: impl Fn(usize) -> bool,
        linear_before_reset: bool,
    ) -> OpResult<()> {
        let (n, dw) = (s.hidden, s.dw);
        let &[f, gact] = s.acts else {
            return Err(internal());
        };
        let rh = dw.rh.as_ref().ok_or_else(internal)?;
        let h_in = tail(s.h, s.state.base)?;
        mul_rows(
            &dw.r,
            h_in,
            s.state.ld,
            s.batch,
            tail_mut(s.xw, g.base)?,
            g.ld,
        )?;
        if linear_before_reset {
            // scratch = H * Rh^T + Rbh, which r scales.
            for row in s.scratch.chunks_exact_mut(n) {
                row.copy_from_slice(&dw.rbh);
            }
            mul_rows(rh, h_in, s.state.ld, s.batch, s.scratch, n)?;
        }
        for b in (0..s.batch).filter(|&b| active(b)) {
            let zr = row_mut(s.xw, g.at(b), 2 * n)?;
            clip(zr, self.clip);
            f.apply(zr);
            if !linear_before_reset {
                // scratch = r * H, which Rh multiplies.
                let r = &zr[n..];
                let h = tail(s.h, s.state.at(b))?;
                let sr = row_mut(s.scratch, b * n, n)?;
                for ((o, &r), &h) in sr.iter_mut().zip(r).zip(h) {
                    *o = r * h;
                }
            }
        }
        if !linear_before_reset {
            mul_rows(
                rh,
                s.scratch,
                n,
                s.batch,
                tail_mut(s.xw, g.base + 2 * n)?,
                g.ld,
            )?;
        }
        for b in (0..s.batch).filter(|&b| active(b)) {
            let gates = row_mut(s.xw, g.at(b), 3 * n)?;
            let [z, r, hg] = gates
                .get_disjoint_mut([0..n, n..2 * n, 2 * n..3 * n])
                .map_err(|_| internal())?;
            if linear_before_reset {
                add_mul(hg, r, row_mut(s.scratch, b * n, n)?);
            }
            clip(hg, self.clip);
            gact.apply(hg);
            let h = row_mut(s.h, s.state.at(b), n)?;
            for ((h, &z), &hg) in h.iter_mut().zip(z.iter()).zip(hg.iter()) {
                *h = (1.0 - z) * hg + z * *h;
            }
        }
        Ok(())
    }

    /// One RNN step.
    fn rnn_step(&self, s: &mut Pass, g: Rows, active: impl Fn(usize) -> bool) -> OpResult<()> {
        let (n, dw) = (s.hidden, s.dw);
        let &[f] = s.acts else {
            return Err(internal());
        };
        let h_in = tail(s.h, s.state.base)?;
        mul_rows(
            &dw.r,
            h_in,
            s.state.ld,
            s.batch,
            tail_mut(s.xw, g.base)?,
            g.ld,
        )?;
        for b in (0..s.batch).filter(|&b| active(b)) {
            let gates = row_mut(s.xw, g.at(b), n)?;
            clip(gates, self.clip);
            f.apply(gates);
            row_mut(s.h, s.state.at(b), n)?.copy_from_slice(gates);
        }
        Ok(())
    }
}

impl Op for Recurrent {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "X")?;
        let x = f32s(xt, "X")?;
        let opt = |i: usize| inputs.get(i).copied().flatten();
        let packed;
        let wts = match &self.weights {
            Some(w) => w,
            None => {
                let p = if self.cell == Cell::Lstm {
                    opt(7)
                } else {
                    None
                };
                let (w, r) = (input(inputs, 1, "W")?, input(inputs, 2, "R")?);
                packed = pack_weights(self.cell, self.dirs, self.hidden, w, r, opt(3), p)?;
                &packed
            }
        };
        let &[d0, d1, input_size] = &xt.shape[..] else {
            return Err(format!("input X has shape {:?}, expected rank 3", xt.shape));
        };
        if input_size != wts.input {
            return Err(format!(
                "input X has shape {:?}: {input_size} inputs, W expects {}",
                xt.shape, wts.input
            ));
        }
        if x.len() != volume(&xt.shape)? {
            return Err("input X is smaller than its shape".into());
        }
        let bf = self.batch_first;
        let (seq, batch) = if bf { (d1, d0) } else { (d0, d1) };
        let (n, dirs) = (wts.hidden, self.dirs);
        let gh = self.cell.gates() * n;
        let lens = opt(4).map(|t| sequence_lens(t, batch, seq)).transpose()?;
        let state_shape = if bf {
            vec![batch, dirs, n]
        } else {
            vec![dirs, batch, n]
        };
        let mut yh = initial(inputs, 5, "initial_h", &state_shape)?;
        let mut yc = match self.cell {
            Cell::Lstm => initial(inputs, 6, "initial_c", &state_shape)?,
            _ => vec![],
        };
        let y_shape = if bf {
            vec![batch, seq, dirs, n]
        } else {
            vec![seq, dirs, batch, n]
        };
        let mut y = if self.want_y {
            vec![0f32; alloc_len::<f32>(&y_shape)?]
        } else {
            vec![]
        };
        let mut xw = vec![0f32; alloc_len::<f32>(&[seq, batch, gh])?];
        let mut scratch = match self.cell {
            Cell::Gru { .. } => vec![0f32; volume(&[batch, n])?],
            _ => vec![],
        };
        let per = self.cell.default_acts().len();

        for (d, dw) in wts.dirs.iter().enumerate() {
            for row in xw.chunks_exact_mut(gh) {
                row.copy_from_slice(&dw.bias);
            }
            mul_rows(&dw.w, x, input_size, seq * batch, &mut xw, gh)?;
            let state = if bf {
                Rows {
                    base: d * n,
                    ld: dirs * n,
                }
            } else {
                Rows {
                    base: d * batch * n,
                    ld: n,
                }
            };
            let mut pass = Pass {
                dw,
                acts: self.acts.get(d * per..(d + 1) * per).ok_or_else(internal)?,
                hidden: n,
                batch,
                xw: &mut xw,
                h: &mut yh,
                c: &mut yc,
                state,
                scratch: &mut scratch,
            };
            let backwards = self.reverse || d == 1;
            for step in 0..seq {
                let t = if backwards { seq - 1 - step } else { step };
                let active = |b: usize| {
                    lens.as_ref()
                        .is_none_or(|l| l.get(b).is_some_and(|&l| t < l))
                };
                if lens.is_some() && !(0..batch).any(active) {
                    continue;
                }
                let g = if bf {
                    Rows {
                        base: t * gh,
                        ld: seq * gh,
                    }
                } else {
                    Rows {
                        base: t * batch * gh,
                        ld: gh,
                    }
                };
                match self.cell {
                    Cell::Lstm => self.lstm_step(&mut pass, g, active)?,
                    Cell::Gru {
                        linear_before_reset,
                    } => self.gru_step(&mut pass, g, active, linear_before_reset)?,
                    Cell::Rnn => self.rnn_step(&mut pass, g, active)?,
                }
                if self.want_y {
                    let yr = if bf {
                        Rows {
                            base: (t * dirs + d) * n,
                            ld: seq * dirs * n,
                        }
                    } else {
                        Rows {
                            base: (t * dirs + d) * batch * n,
                            ld: n,
                        }
                    };
                    for b in (0..batch).filter(|&b| active(b)) {
                        let h = pass.h.get(state.at(b)..state.at(b) + n);
                        row_mut(&mut y, yr.at(b), n)?.copy_from_slice(h.ok_or_else(internal)?);
                    }
                }
            }
        }

        let y = if self.want_y {
            Tensor::f32(y_shape, y)
        } else {
            // Not read by the model.
            Tensor::f32(vec![0], vec![])
        };
        let mut out = vec![y, Tensor::f32(state_shape.clone(), yh)];
        if self.cell == Cell::Lstm {
            out.push(Tensor::f32(state_shape, yc));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::pb;
    use super::super::testing::{err, float, int, string, strings};
    use super::*;

    /// Builds `op` with these attributes and constant inputs (None: a run-time input).
    fn build_op(
        op: &str,
        attrs: Vec<pb::AttributeProto>,
        consts: Vec<Option<&Tensor>>,
        opset: i64,
    ) -> OpResult<Box<dyn Op>> {
        let node = pb::NodeProto {
            op_type: op.into(),
            input: (0..consts.len()).map(|i| format!("in{i}")).collect(),
            output: vec!["Y".into(), "Y_h".into()],
            attribute: attrs,
            ..Default::default()
        };
        let ctx = NodeCtx {
            op_type: op,
            node: &node,
            present: vec![true; consts.len()],
            consts,
            opset,
        };
        match op {
            "LSTM" => build_lstm(&ctx),
            "GRU" => build_gru(&ctx),
            _ => build_rnn(&ctx),
        }
    }

    fn ones(shape: &[usize]) -> Tensor {
        Tensor::f32(shape.to_vec(), vec![0.5; shape.iter().product()])
    }

    #[test]
    fn fast_functions_are_accurate() {
        let mut x = -40f32;
        while x < 40.0 {
            let xd = x as f64;
            let e = exp_approx(x) as f64;
            assert!((e / xd.exp() - 1.0).abs() < 3e-7, "exp({x}) = {e}");
            let s = sigmoid(x) as f64;
            let sr = 1.0 / (1.0 + (-xd).exp());
            assert!((s / sr - 1.0).abs() < 3e-7, "sigmoid({x}) = {s}");
            let t = tanh(x) as f64;
            assert!(
                (t - xd.tanh()).abs() <= 3e-7 * xd.tanh().abs(),
                "tanh({x}) = {t}"
            );
            x += 0.001_23;
        }
        assert_eq!(tanh(1e-30), 1e-30);
        assert_eq!(tanh(-1000.0), -1.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!(sigmoid(-1000.0) < 1e-37);
        assert!(tanh(f32::NAN).is_nan() && sigmoid(f32::NAN).is_nan());
    }

    #[test]
    fn bad_attributes_are_errors() {
        let e = err(build_op("LSTM", vec![int("hidden_size", -3)], vec![], 14));
        assert!(e.contains("hidden_size is -3"), "{e}");
        let e = err(build_op(
            "LSTM",
            vec![int("hidden_size", i64::MAX)],
            vec![],
            14,
        ));
        assert!(e.contains("hidden_size"), "{e}");
        let e = err(build_op("GRU", vec![int("layout", 1)], vec![], 13));
        assert!(e.contains("opset 14"), "{e}");
        let e = err(build_op("GRU", vec![int("layout", 2)], vec![], 14));
        assert!(e.contains("layout is 2"), "{e}");
        let e = err(build_op("RNN", vec![string("direction", "up")], vec![], 14));
        assert!(e.contains("direction 'up'"), "{e}");
        let e = err(build_op(
            "RNN",
            vec![strings("activations", &["Gelu"])],
            vec![],
            14,
        ));
        assert!(e.contains("activation 'Gelu'"), "{e}");
        let acts = strings("activations", &["Tanh", "Tanh"]);
        let e = err(build_op("LSTM", vec![acts], vec![], 14));
        assert!(e.contains("expected 3"), "{e}");
        for c in [0.0, -1.0, f32::NAN] {
            let e = err(build_op("RNN", vec![float("clip", c)], vec![], 14));
            assert!(e.contains("clip"), "{e}");
        }
        let e = err(build_op(
            "GRU",
            vec![int("linear_before_reset", 7)],
            vec![],
            14,
        ));
        assert!(e.contains("linear_before_reset"), "{e}");
        let e = err(build_op("GRU", vec![int("input_forget", 1)], vec![], 14));
        assert!(e.contains("input_forget"), "{e}");
    }

    #[test]
    fn bad_constant_weights_are_errors_at_load() {
        let (w, r) = (ones(&[1, 8, 3]), ones(&[1, 8, 2]));
        let attrs = || vec![int("hidden_size", 3)];
        let e = err(build_op(
            "LSTM",
            attrs(),
            vec![None, Some(&w), Some(&r)],
            14,
        ));
        assert!(e.contains("hidden_size is 3"), "{e}");
        let e = err(build_op("GRU", vec![], vec![None, Some(&w), Some(&r)], 14));
        assert!(e.contains("input R has shape [1, 8, 2]"), "{e}");
        let r0 = ones(&[1, 0, 0]);
        let e = err(build_op("RNN", vec![], vec![None, Some(&w), Some(&r0)], 14));
        assert!(e.contains("hidden size is 0"), "{e}");
        let (w, r, b) = (ones(&[1, 8, 3]), ones(&[1, 8, 2]), ones(&[1, 15]));
        let e = err(build_op(
            "LSTM",
            vec![],
            vec![None, Some(&w), Some(&r), Some(&b)],
            14,
        ));
        assert!(e.contains("input B"), "{e}");
        let bi = vec![string("direction", "bidirectional")];
        let e = err(build_op("LSTM", bi, vec![None, Some(&w), Some(&r)], 14));
        assert!(e.contains("expected [2, 8, 2]"), "{e}");
    }

    #[test]
    fn bad_run_time_inputs_are_errors() {
        let (w, r) = (ones(&[1, 6, 3]), ones(&[1, 6, 2]));
        let op = build_op("GRU", vec![], vec![None, Some(&w), Some(&r)], 14).unwrap();
        let x = ones(&[4, 2, 3]);
        let run = |extra: Vec<Option<&Tensor>>| {
            let mut inputs = vec![Some(&x), Some(&w), Some(&r)];
            inputs.extend(extra);
            op.run(&inputs)
        };
        for lens in [vec![-1, 2], vec![5, 2], vec![i32::MIN, 0]] {
            let t = Tensor::new(vec![2], Data::I32(lens)).unwrap();
            let e = err(run(vec![None, Some(&t)]));
            assert!(e.contains("sequence_lens has"), "{e}");
        }
        let t = Tensor::new(vec![3], Data::I32(vec![1, 1, 1])).unwrap();
        assert!(err(run(vec![None, Some(&t)])).contains("shape [3]"));
        let t = ones(&[2]);
        assert!(err(run(vec![None, Some(&t)])).contains("int32"));
        let h = ones(&[1, 3, 2]);
        let e = err(run(vec![None, None, Some(&h)]));
        assert!(e.contains("initial_h has shape [1, 3, 2]"), "{e}");
        for bad in [ones(&[4, 2]), ones(&[4, 2, 5])] {
            assert!(err(op.run(&[Some(&bad), Some(&w), Some(&r)])).contains("input X"));
        }
        // Huge sizes with no elements: an error, not an allocation.
        let empty = Tensor::f32(vec![1 << 20, 1 << 20, 0], vec![]);
        let (w0, r0) = (ones(&[1, 6, 0]), ones(&[1, 6, 2]));
        let op = build_op("GRU", vec![], vec![None, None, None], 14).unwrap();
        let e = err(op.run(&[Some(&empty), Some(&w0), Some(&r0)]));
        assert!(e.contains("more than"), "{e}");
        // Weights given at run time are checked as at load.
        let op = build_op("LSTM", vec![], vec![None, None, None], 14).unwrap();
        let e = err(op.run(&[Some(&x), Some(&w), Some(&r)]));
        assert!(
            e.contains("input R has shape [1, 6, 2], expected [1, 8, 2]"),
            "{e}"
        );
        let e = err(op.run(&[Some(&x), Some(&w)]));
        assert!(e.contains("input 2 (R) is missing"), "{e}");
    }

    #[test]
    fn empty_sequences_keep_the_initial_state() {
        let (w, r) = (ones(&[1, 2, 3]), ones(&[1, 2, 2]));
        let op = build_op("RNN", vec![], vec![None, Some(&w), Some(&r)], 14).unwrap();
        let x = ones(&[0, 1, 3]);
        let h = Tensor::f32(vec![1, 1, 2], vec![0.25, -0.5]);
        let out = op
            .run(&[Some(&x), Some(&w), Some(&r), None, None, Some(&h)])
            .unwrap();
        assert_eq!(out[0].shape, [0, 1, 1, 2]);
        assert_eq!(out[1], h);
    }
}

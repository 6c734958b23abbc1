//! f32 matrix-product kernels for tract-linalg's wasm tree, sized for the 16 vector registers
//! of x86-64, where most browsers run.
//!
//! tract's own wasm GEMM kernel, `wasm_f32_8x8`, holds a tile of 8x8 outputs in 16 vectors,
//! chosen on Apple silicon, whose 32 NEON registers hold it with room to spare. V8 maps wasm's
//! vectors onto x86's 16 xmm registers, and 16 accumulators plus the operands of one step do not
//! fit: every step spills and reloads. These kernels compute 4 rows by 8 columns at a time in 8
//! accumulators (with two vectors of B and one broadcast of A, 11 registers), the shape XNNPACK
//! ships for wasm on x86:
//! - `onnxlet_wasm_f32_4x8`, a 4x8 tile;
//! - `wasm_f32_8x8_onnxlet`, an 8x8 tile in two passes of 4 rows over the same B panel (from
//!   cache the second time). It shares tract's 8-row packing of A, and so its group with the
//!   matrix-vector kernel `wasm_f32_8x1`: for a product whose `n` is symbolic (a sequence length),
//!   tract picks a pair from one packing group, the group with the most rows, and the matrix
//!   kernel of widest tile in it, the last one listed on a tie. The runnable kernels are listed by
//!   name, and this one's sorts after `wasm_f32_8x8`.
//!
//! A tier above tract's names one of them for every f32 product whose `n` is not 1 (Conv through
//! im2col included): the 4x8 tile where it computes fewer rows, the 8x8 otherwise; matrix-vector
//! products stay on tract's kernels. A step multiplies then adds, as tract's kernel does, so the
//! plain build's outputs are unchanged; with relaxed SIMD the two are one fused multiply-add.

use std::arch::wasm32::*;

use tract_onnx::prelude::DatumType;
use tract_onnx::tract_core::tract_linalg::isa::{Arch, IsaSet};
use tract_onnx::tract_core::tract_linalg::mmm::{DynKernel, FusedKerSpec, Query, Suitable};
use tract_onnx::tract_core::tract_linalg::mmm_routines::MmmRoutine;
use tract_onnx::tract_core::tract_linalg::mmm_tiers::MmmTier;
use tract_onnx::tract_core::tract_linalg::pack::Packing;
use tract_onnx::tract_core::tract_linalg::Scaler;

/// The names the kernels register under (see the module's documentation for the 8x8's).
const NAME_8X8: &str = "wasm_f32_8x8_onnxlet";
const NAME_4X8: &str = "onnxlet_wasm_f32_4x8";

/// `acc + a * b`, multiplied then added, as tract's kernels do.
#[cfg(not(feature = "relaxed-simd"))]
macro_rules! madd {
    ($acc:expr, $a:expr, $b:expr) => {
        f32x4_add($acc, f32x4_mul($a, $b))
    };
}

/// `acc + a * b` in one relaxed instruction: a fused multiply-add where the CPU has one (the
/// kernel function enables the `relaxed-simd` target feature for it; nothing else in the module
/// uses relaxed SIMD).
#[cfg(feature = "relaxed-simd")]
macro_rules! madd {
    ($acc:expr, $a:expr, $b:expr) => {
        f32x4_relaxed_madd($a, $b, $acc)
    };
}

/// Reads or writes one row of the C tile (8 values from `ptr`, `stride` bytes apart).
#[inline(always)]
unsafe fn load_row(ptr: *const u8, stride: isize) -> (v128, v128) {
    unsafe {
        if stride == 4 {
            (
                v128_load(ptr as *const v128),
                v128_load(ptr.add(16) as *const v128),
            )
        } else {
            let at = |i: isize| *(ptr.offset(i * stride) as *const f32);
            (
                f32x4(at(0), at(1), at(2), at(3)),
                f32x4(at(4), at(5), at(6), at(7)),
            )
        }
    }
}

#[inline(always)]
unsafe fn store_row(ptr: *mut u8, stride: isize, lo: v128, hi: v128) {
    unsafe {
        if stride == 4 {
            v128_store(ptr as *mut v128, lo);
            v128_store(ptr.add(16) as *mut v128, hi);
        } else {
            let at = |i: isize| ptr.offset(i * stride) as *mut f32;
            *at(0) = f32x4_extract_lane::<0>(lo);
            *at(1) = f32x4_extract_lane::<1>(lo);
            *at(2) = f32x4_extract_lane::<2>(lo);
            *at(3) = f32x4_extract_lane::<3>(lo);
            *at(4) = f32x4_extract_lane::<0>(hi);
            *at(5) = f32x4_extract_lane::<1>(hi);
            *at(6) = f32x4_extract_lane::<2>(hi);
            *at(7) = f32x4_extract_lane::<3>(hi);
        }
    }
}

/// `op(splat(a), acc)` on one row's two vectors: the operand order of every fused operation but
/// the flipped subtractions.
macro_rules! sv {
    ($op:ident, $a:expr, $lo:expr, $hi:expr) => {{
        let s = f32x4_splat($a);
        ($op(s, $lo), $op(s, $hi))
    }};
}

/// `op(acc, splat(a))`: the flipped subtractions.
macro_rules! vs {
    ($op:ident, $a:expr, $lo:expr, $hi:expr) => {{
        let s = f32x4_splat($a);
        ($op($lo, s), $op($hi, s))
    }};
}

/// `op(cols, acc)`: the 8 per-column values at `p` against one row's two vectors (flipped:
/// `op(acc, cols)`).
macro_rules! per_col {
    ($op:ident, $p:expr, $lo:expr, $hi:expr) => {{
        let c = $p as *const v128;
        ($op(v128_load(c), $lo), $op(v128_load(c.add(1)), $hi))
    }};
    (flipped $op:ident, $p:expr, $lo:expr, $hi:expr) => {{
        let c = $p as *const v128;
        ($op($lo, v128_load(c)), $op($hi, v128_load(c.add(1))))
    }};
}

/// The kernel body for a tile of as many rows as `(row, lo, hi)` triples, each row held as
/// two vectors (columns 0-3 and 4-7). Written out by a macro so that every accumulator is a
/// plain local, whatever the optimisation level of this crate.
macro_rules! kernel {
    ($name:ident; $(($r:literal, $lo:ident, $hi:ident)),+) => {
        /// Runs `spec` on rows `off..off + 4` of the tile; the packed A has `a_stride` rows.
        #[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
        unsafe fn $name(spec: &[FusedKerSpec<f32>], off: usize, a_stride: usize) {
            unsafe {
                $(let mut $lo = f32x4_splat(0.0); let mut $hi = f32x4_splat(0.0);)+
                macro_rules! each {
                    (|$l:ident, $h:ident| $body:expr) => {{
                        $({
                            let $l = $lo;
                            let $h = $hi;
                            ($lo, $hi) = $body;
                        })+
                    }};
                }
                macro_rules! each_row {
                    (|$row:ident, $l:ident, $h:ident| $body:expr) => {{
                        $({
                            let $row = off + $r;
                            let $l = $lo;
                            let $h = $hi;
                            ($lo, $hi) = $body;
                        })+
                    }};
                }
                for op in spec {
                    match *op {
                        FusedKerSpec::Done => break,
                        FusedKerSpec::Clear => each!(|_l, _h| (f32x4_splat(0.0), f32x4_splat(0.0))),
                        FusedKerSpec::LoadTile(_cols, rows) => {
                            let p = rows as *const v128;
                            each_row!(|r, _l, _h| (v128_load(p.add(2 * r)), v128_load(p.add(2 * r + 1))));
                        }
                        FusedKerSpec::ScalarMin(a) => each!(|l, h| sv!(f32x4_min, a, l, h)),
                        FusedKerSpec::ScalarMax(a) => each!(|l, h| sv!(f32x4_max, a, l, h)),
                        FusedKerSpec::ScalarAdd(a) => each!(|l, h| sv!(f32x4_add, a, l, h)),
                        FusedKerSpec::ScalarMul(a) => each!(|l, h| sv!(f32x4_mul, a, l, h)),
                        FusedKerSpec::ScalarSub(a) => each!(|l, h| sv!(f32x4_sub, a, l, h)),
                        FusedKerSpec::ScalarSubF(a) => each!(|l, h| vs!(f32x4_sub, a, l, h)),
                        FusedKerSpec::LeakyRelu(a) => {
                            let s = f32x4_splat(a);
                            let zero = f32x4_splat(0.0);
                            let leaky = |v: v128| v128_bitselect(v, f32x4_mul(s, v), f32x4_gt(v, zero));
                            each!(|l, h| (leaky(l), leaky(h)));
                        }
                        FusedKerSpec::PerRowMin(p) => each_row!(|r, l, h| sv!(f32x4_min, *p.add(r), l, h)),
                        FusedKerSpec::PerRowMax(p) => each_row!(|r, l, h| sv!(f32x4_max, *p.add(r), l, h)),
                        FusedKerSpec::PerRowAdd(p) => each_row!(|r, l, h| sv!(f32x4_add, *p.add(r), l, h)),
                        FusedKerSpec::PerRowMul(p) => each_row!(|r, l, h| sv!(f32x4_mul, *p.add(r), l, h)),
                        FusedKerSpec::PerRowSub(p) => each_row!(|r, l, h| sv!(f32x4_sub, *p.add(r), l, h)),
                        FusedKerSpec::PerRowSubF(p) => each_row!(|r, l, h| vs!(f32x4_sub, *p.add(r), l, h)),
                        FusedKerSpec::PerColMin(p) => each!(|l, h| per_col!(f32x4_min, p, l, h)),
                        FusedKerSpec::PerColMax(p) => each!(|l, h| per_col!(f32x4_max, p, l, h)),
                        FusedKerSpec::PerColAdd(p) => each!(|l, h| per_col!(f32x4_add, p, l, h)),
                        FusedKerSpec::PerColMul(p) => each!(|l, h| per_col!(f32x4_mul, p, l, h)),
                        FusedKerSpec::PerColSub(p) => each!(|l, h| per_col!(f32x4_sub, p, l, h)),
                        FusedKerSpec::PerColSubF(p) => each!(|l, h| per_col!(flipped f32x4_sub, p, l, h)),
                        FusedKerSpec::QScale(shift, rp, mult) => {
                            let scale = Scaler::from_fuse_params(shift, rp, mult).scale;
                            each!(|l, h| sv!(f32x4_mul, scale, l, h));
                        }
                        FusedKerSpec::RoundingShiftRight(shift, _rp) => {
                            each!(|l, h| sv!(f32x4_mul, 2f32.powi(-(shift as i32)), l, h));
                        }
                        FusedKerSpec::ShiftLeft(shift) => {
                            each!(|l, h| sv!(f32x4_mul, 2f32.powi(shift as i32), l, h));
                        }
                        FusedKerSpec::AddUnicast(tile) => {
                            each_row!(|r, l, h| {
                                let ptr = tile.ptr.offset(r as isize * tile.row_byte_stride);
                                let (ml, mh) = load_row(ptr, tile.col_byte_stride);
                                (f32x4_add(l, ml), f32x4_add(h, mh))
                            });
                        }
                        FusedKerSpec::AddRowColProducts(rows, cols) => {
                            let c = cols as *const v128;
                            let (clo, chi) = (v128_load(c), v128_load(c.add(1)));
                            each_row!(|r, l, h| {
                                let s = f32x4_splat(*rows.add(r));
                                (madd!(l, s, clo), madd!(h, s, chi))
                            });
                        }
                        FusedKerSpec::Store(tile) => {
                            each_row!(|r, l, h| {
                                let ptr = tile.ptr.offset(r as isize * tile.row_byte_stride);
                                store_row(ptr, tile.col_byte_stride, l, h);
                                (l, h)
                            });
                        }
                        FusedKerSpec::AddMatMul { k, pa, pb, packing: _ } => {
                            // A is packed [k][MR], B [k][8]: one step reads MR broadcasts of A
                            // and two vectors of B.
                            let mut a = pa as *const f32;
                            let mut b = pb as *const v128;
                            for _ in 0..k {
                                let blo = v128_load(b);
                                let bhi = v128_load(b.add(1));
                                each_row!(|r, l, h| {
                                    let s = v128_load32_splat(a.add(r) as *const u32);
                                    (madd!(l, s, blo), madd!(h, s, bhi))
                                });
                                a = a.add(a_stride);
                                b = b.add(2);
                            }
                        }
                    }
                }
            }
        }
    };
}

kernel!(four_rows; (0, a0, b0), (1, a1, b1), (2, a2, b2), (3, a3, b3));

/// `onnxlet_wasm_f32_4x8`: one pass over a 4-row tile.
unsafe fn kernel_f32_4x8(spec: &[FusedKerSpec<f32>]) -> isize {
    unsafe { four_rows(spec, 0, 4) };
    0
}

/// `wasm_f32_8x8_onnxlet`: two passes over an 8-row tile, rows 0-3 then 4-7. Every fused
/// operation is row by row, so running the whole program for each half gives the same tile.
unsafe fn kernel_f32_8x8(spec: &[FusedKerSpec<f32>]) -> isize {
    unsafe {
        four_rows(spec, 0, 8);
        four_rows(spec, 4, 8);
    }
    0
}

/// The kernel `kernel` as tract-linalg lists it: `MR` rows, 8 columns, written for wasm.
fn make<const MR: usize>(
    name: &str,
    kernel: unsafe fn(&[FusedKerSpec<f32>]) -> isize,
) -> DynKernel<MR, 8, f32> {
    let mut kernel = DynKernel::<MR, 8, f32>::new(name, kernel, f32::packing(MR), f32::packing(8));
    kernel.arch = Some(Arch::Wasm32Simd128);
    kernel
}

/// Names a kernel for every f32 product whose `n` is not 1: the 4x8 tile when `m` leaves 1 to 4
/// rows of a last 8-row tile (it then computes fewer rows), the 8x8 otherwise. tract's tier
/// (precedence 1) answers the rest.
fn preferred(
    _isa: &IsaSet,
    dt: DatumType,
    query: &Query,
    _suitable: &[Suitable],
) -> Option<&'static str> {
    if dt != DatumType::F32 || query.n == Some(1) {
        return None;
    }
    Some(match query.m {
        Some(m) if (1..=4).contains(&(m % 8)) => NAME_4X8,
        _ => NAME_8X8,
    })
}

inventory::submit! {
    MmmRoutine { make: || make::<8>(NAME_8X8, kernel_f32_8x8).mmm() }
}

inventory::submit! {
    MmmRoutine { make: || make::<4>(NAME_4X8, kernel_f32_4x8).mmm() }
}

inventory::submit! {
    MmmTier {
        arch: Some(Arch::Wasm32Simd128),
        precedence: 2,
        name: "onnxlet-wasm-x86",
        applies: |_| true,
        preferred,
    }
}

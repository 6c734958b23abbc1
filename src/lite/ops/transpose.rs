//! Strided copies and the operators that are one: Transpose, DepthToSpace and SpaceToDepth.
//!
//! Most copies of the data-movement operators go through [`gather_view`], which reads a strided
//! view of a tensor (transposed, broadcast, sliced, reversed) in row-major order after merging
//! its axes, so that the inner loop is a contiguous copy, a fill or a 2-D transpose.

use super::super::tensor::{alloc_len, volume, Data, OpResult, Tensor};
use super::data::*;
use super::dims::*;
use super::{input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] = &[
    ("Transpose", build_transpose),
    ("DepthToSpace", build_depth_to_space),
    ("SpaceToDepth", build_space_to_depth),
];

// ---------------------------------------------------------------------------------------------
// Strided copies

/// The elements of a strided view of `src` in row-major order of `dims`: element `i` is
/// `src[base + Σ i_k * strides_k]`. Strides may be 0 (broadcast) or negative (reversed slice).
/// Axes of size 1 are dropped and adjacent axes merged when their strides allow, so the inner
/// loop is a contiguous copy (stride 1), a fill (0), a strided read, or, for a block whose two
/// inner axes swap, a 2-D transpose. Never inlined: [`view`] dispatches on the element type, and
/// with one copy of this per type inlined it was a 24 kB function for V8 to optimise.
#[inline(never)]
pub(super) fn gather_view<T: Copy + 'static>(
    src: &[T],
    base: usize,
    dims: &[usize],
    strides: &[isize],
) -> OpResult<Vec<T>> {
    let len = alloc_len::<T>(dims)?;
    if len == 0 {
        return Ok(Vec::new());
    }
    let (mut lo, mut hi) = (base as i128, base as i128);
    for (&d, &s) in dims.iter().zip(strides) {
        let span = (d as i128 - 1) * s as i128;
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    if dims.len() != strides.len() || lo < 0 || hi >= src.len() as i128 {
        return Err("internal: a strided view reaches outside its tensor".into());
    }
    let mut dd: Vec<usize> = Vec::with_capacity(dims.len());
    let mut ss: Vec<isize> = Vec::with_capacity(dims.len());
    for (&d, &s) in dims.iter().zip(strides) {
        if d == 1 {
            continue;
        }
        match (dd.last_mut(), ss.last_mut()) {
            (Some(pd), Some(ps)) if Some(*ps) == s.checked_mul(d as isize) => {
                *pd *= d;
                *ps = s;
            }
            _ => {
                dd.push(d);
                ss.push(s);
            }
        }
    }
    let mut out = Vec::with_capacity(len);
    let r = dd.len();
    if r == 0 {
        out.push(src[base]);
        return Ok(out);
    }
    let (n, s) = (dd[r - 1], ss[r - 1]);
    let tile = r >= 2 && ss[r - 2] == 1 && s == dd[r - 2] as isize;
    let outer = if tile { r - 2 } else { r - 1 };
    let mut idx = vec![0usize; outer];
    let mut off = base as isize;
    loop {
        let o = off as usize;
        if tile {
            let a = dd[r - 2];
            transpose_block(&src[o..o + a * n], a, n, &mut out);
        } else {
            copy_row(src, o, n, s, &mut out);
        }
        let mut k = outer;
        loop {
            if k == 0 {
                return Ok(out);
            }
            k -= 1;
            idx[k] += 1;
            off += ss[k];
            if idx[k] < dd[k] {
                break;
            }
            off -= ss[k] * dd[k] as isize;
            idx[k] = 0;
        }
    }
}

/// Appends `n` elements of `src` from `o` on, `s` apart.
#[inline(always)]
pub(super) fn copy_row<T: Copy>(src: &[T], o: usize, n: usize, s: isize, out: &mut Vec<T>) {
    match s {
        1 => out.extend_from_slice(&src[o..o + n]),
        0 => out.extend(std::iter::repeat_n(src[o], n)),
        -1 => out.extend(src[o + 1 - n..=o].iter().rev()),
        s if s > 0 => {
            let s = s as usize;
            out.extend((0..n).map(|k| src[o + k * s]));
        }
        s => {
            let a = s.unsigned_abs();
            out.extend((0..n).map(|k| src[o - k * a]));
        }
    }
}

/// Appends the transpose of `blk` (`b` rows of `a`) as `a` rows of `b`. Output rows are written
/// in strips of `STRIP` columns, so that the source rows a strip reads stay in cache.
pub(super) fn transpose_block<T: Copy>(blk: &[T], a: usize, b: usize, out: &mut Vec<T>) {
    const STRIP: usize = 64;
    if b <= STRIP {
        for i in 0..a {
            out.extend((0..b).map(|j| blk[j * a + i]));
        }
        return;
    }
    let start = out.len();
    out.extend(std::iter::repeat_n(blk[0], a * b));
    let dst = &mut out[start..];
    for j0 in (0..b).step_by(STRIP) {
        let j1 = (j0 + STRIP).min(b);
        let src = &blk[j0 * a..j1 * a];
        for (i, row) in dst.chunks_exact_mut(b).enumerate() {
            for (jj, d) in row[j0..j1].iter_mut().enumerate() {
                *d = src[jj * a + i];
            }
        }
    }
}

/// [`gather_view`] of `x`, whatever its element type.
pub(super) fn view(x: &Tensor, base: usize, dims: &[usize], strides: &[isize]) -> OpResult<Data> {
    with_elem!(&x.data, T => Ok(T::wrap(gather_view(elems::<T>(x, "X")?, base, dims, strides)?)))
}

/// Calls `f(a, b)` for each index of `dims` (row-major), with `a` and `b` the offsets
/// `Σ i_k * sa_k` and `Σ i_k * sb_k`.
pub(super) fn for_each_offset(
    dims: &[usize],
    sa: &[usize],
    sb: &[usize],
    mut f: impl FnMut(usize, usize),
) {
    if dims.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; dims.len()];
    let (mut a, mut b) = (0usize, 0usize);
    loop {
        f(a, b);
        let mut k = dims.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            idx[k] += 1;
            a += sa[k];
            b += sb[k];
            if idx[k] < dims[k] {
                break;
            }
            a -= sa[k] * dims[k];
            b -= sb[k] * dims[k];
            idx[k] = 0;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Transpose, DepthToSpace, SpaceToDepth

struct Transpose {
    perm: Option<Vec<i64>>,
}

fn build_transpose(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Transpose {
        perm: ctx.ints("perm"),
    }))
}

impl Op for Transpose {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "data")?;
        let r = x.rank();
        let perm: Vec<usize> = match &self.perm {
            None => (0..r).rev().collect(),
            Some(p) => {
                let mut seen = vec![false; r];
                let bad = || format!("perm {p:?} is not a permutation of the {r} axes");
                if p.len() != r {
                    return Err(bad());
                }
                p.iter()
                    .map(|&a| {
                        let a = usize::try_from(a).ok().filter(|&a| a < r).ok_or_else(bad)?;
                        if std::mem::replace(&mut seen[a], true) {
                            return Err(bad());
                        }
                        Ok(a)
                    })
                    .collect::<OpResult<_>>()?
            }
        };
        let st = istrides(&x.shape)?;
        let dims: Vec<usize> = perm.iter().map(|&a| x.shape[a]).collect();
        let strides: Vec<isize> = perm.iter().map(|&a| st[a]).collect();
        let data = view(x, 0, &dims, &strides)?;
        Ok(vec![Tensor::new(dims, data)?])
    }
}

/// The block size of DepthToSpace and SpaceToDepth.
fn blocksize(ctx: &NodeCtx) -> OpResult<usize> {
    let b = ctx.int("blocksize", 0);
    match usize::try_from(b) {
        Ok(b) if b > 0 => Ok(b),
        _ => Err(format!("blocksize {b} is invalid (a positive size)")),
    }
}

/// The dimensions of a 4-D input.
fn nchw(x: &Tensor) -> OpResult<[usize; 4]> {
    match x.shape[..] {
        [n, c, h, w] => Ok([n, c, h, w]),
        _ => Err(format!(
            "input has shape {:?}, expected 4 dimensions",
            x.shape
        )),
    }
}

/// Whether the `mode` of DepthToSpace (and of SpaceToDepth from opset 25) is CRD (channel,
/// row, column) rather than the default DCR (depth, column, row).
fn crd_mode(ctx: &NodeCtx) -> OpResult<bool> {
    match ctx.string("mode").as_deref() {
        None | Some("DCR") => Ok(false),
        Some("CRD") => Ok(true),
        Some(m) => Err(format!("mode '{m}' is not DCR or CRD")),
    }
}

struct DepthToSpace {
    bs: usize,
    crd: bool,
}

fn build_depth_to_space(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(DepthToSpace {
        bs: blocksize(ctx)?,
        crd: crd_mode(ctx)?,
    }))
}

impl Op for DepthToSpace {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let [n, c, h, w] = nchw(x)?;
        let bs = self.bs;
        let bb = mul(bs, bs)?;
        if c % bb != 0 {
            return Err(format!(
                "{c} channels do not divide into blocks of {bs}x{bs}"
            ));
        }
        let c2 = c / bb;
        let shape = vec![n, c2, mul(h, bs)?, mul(w, bs)?];
        if volume(&shape)? == 0 {
            return Ok(vec![empty_like(x, shape)?]);
        }
        let st = istrides(&x.shape)?;
        let hw = st[1];
        let (bsi, c2i) = (bs as isize, c2 as isize);
        // Output axes (n, c2, h, b1, w, b2).
        let (sc2, sb1, sb2) = if self.crd {
            (bsi * bsi * hw, bsi * hw, hw)
        } else {
            (hw, bsi * c2i * hw, c2i * hw)
        };
        let dims = [n, c2, h, bs, w, bs];
        let strides = [st[0], sc2, st[2], sb1, 1, sb2];
        let data = view(x, 0, &dims, &strides)?;
        Ok(vec![Tensor::new(shape, data)?])
    }
}

struct SpaceToDepth {
    bs: usize,
    crd: bool,
}

fn build_space_to_depth(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(SpaceToDepth {
        bs: blocksize(ctx)?,
        crd: crd_mode(ctx)?,
    }))
}

impl Op for SpaceToDepth {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "input")?;
        let [n, c, h, w] = nchw(x)?;
        let bs = self.bs;
        if h % bs != 0 || w % bs != 0 {
            return Err(format!(
                "height {h} and width {w} must be multiples of the block size {bs}"
            ));
        }
        let (oh, ow) = (h / bs, w / bs);
        let shape = vec![n, mul(c, mul(bs, bs)?)?, oh, ow];
        if volume(&shape)? == 0 {
            return Ok(vec![empty_like(x, shape)?]);
        }
        let st = istrides(&x.shape)?;
        let (wi, bsi) = (st[2], bs as isize);
        // Output axes (n, b1, b2, c, oh, ow), or (n, c, b1, b2, oh, ow) in CRD mode.
        let (dims, strides) = if self.crd {
            ([n, c, bs, bs, oh, ow], [st[0], st[1], wi, 1, bsi * wi, bsi])
        } else {
            ([n, bs, bs, c, oh, ow], [st[0], wi, 1, st[1], bsi * wi, bsi])
        };
        let data = view(x, 0, &dims, &strides)?;
        Ok(vec![Tensor::new(shape, data)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `gather_view` against a direct reading of the view, on random shapes and strides.
    #[test]
    fn strided_views_match_a_direct_reading() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..2000 {
            let rank = rand(5);
            let mut dims: Vec<usize> = (0..rank)
                .map(|_| {
                    let big = rand(4) == 0;
                    1 + rand(if big { 40 } else { 4 })
                })
                .collect();
            let mut strides = vec![0isize; rank];
            let mut base = 0usize;
            let mut span = 1usize;
            for k in (0..rank).rev() {
                let s = match rand(4) {
                    0 => 0,
                    1 => span as isize,
                    2 => -(span as isize),
                    _ => (span * (1 + rand(2))) as isize,
                };
                if s < 0 {
                    base += (dims[k] - 1) * span;
                }
                strides[k] = s;
                span += (dims[k] - 1) * s.unsigned_abs();
            }
            // A random permutation of the axes.
            for k in (1..rank).rev() {
                let j = rand(k + 1);
                strides.swap(k, j);
                dims.swap(k, j);
            }
            let src: Vec<u32> = (0..span as u32 + 3).collect();
            let got = match gather_view(&src, base, &dims, &strides) {
                Ok(v) => v,
                Err(_) => continue,
            };
            let n: usize = dims.iter().product();
            let mut want = Vec::with_capacity(n);
            for i in 0..n {
                let (mut rest, mut off) = (i, base as isize);
                for k in (0..rank).rev() {
                    off += (rest % dims[k]) as isize * strides[k];
                    rest /= dims[k];
                }
                want.push(src[off as usize]);
            }
            assert_eq!(got, want, "dims {dims:?} strides {strides:?} base {base}");
        }
        assert!(gather_view(&[1u8, 2], 0, &[3], &[1]).is_err());
        assert!(gather_view(&[1u8, 2], 1, &[2], &[1]).is_err());
        assert!(gather_view(&[1u8, 2], 0, &[2], &[-1]).is_err());
    }
}

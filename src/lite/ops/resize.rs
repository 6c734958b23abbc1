//! Resize and Upsample: nearest, linear and cubic interpolation, with every coordinate
//! transformation mode, antialiasing, axes and keep_aspect_ratio_policy.

use super::super::tensor::{alloc_len, volume, OpResult, Tensor, MAX_ELEMENTS};
use super::common::*;
use super::simd::*;
use super::{f32s, input, Builder, NodeCtx, Op};

pub(super) const OPS: &[(&str, Builder)] =
    &[("Resize", build_resize), ("Upsample", build_upsample)];

// ---------------------------------------------------------------------------------------------
// Resize and Upsample

#[derive(Clone, Copy, PartialEq, Debug)]
enum Interp {
    Nearest,
    Linear,
    Cubic,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Coord {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfHalfPixelForNn,
    TfCropAndResize,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Round {
    PreferFloor,
    PreferCeil,
    Floor,
    Ceil,
    /// Upsample and Resize-10: floor when enlarging, ceil when shrinking (as onnxruntime).
    Legacy,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Aspect {
    Stretch,
    NotLarger,
    NotSmaller,
}

/// Resize (opset 10+) and Upsample (7-9). The output is computed one resized axis at a time
/// (interpolation is separable), each output position along an axis reading a few input
/// positions with weights computed once per run from the scales (in f64, as the ONNX
/// reference does).
struct Resize {
    interp: Interp,
    coord: Coord,
    round: Round,
    cubic_a: f64,
    exclude_outside: bool,
    extrapolation: f32,
    antialias: bool,
    aspect: Aspect,
    axes: Option<Vec<i64>>,
    scales: Param<Vec<f32>>,
    sizes: Param<Vec<i64>>,
    roi: Param<Vec<f32>>,
}

fn interp_mode(ctx: &NodeCtx, cubic: bool) -> OpResult<Interp> {
    match ctx.string("mode").as_deref().unwrap_or("nearest") {
        "nearest" => Ok(Interp::Nearest),
        "linear" | "bilinear" => Ok(Interp::Linear),
        "cubic" if cubic => Ok(Interp::Cubic),
        other => Err(format!("mode '{other}' is not nearest, linear or cubic")),
    }
}

fn build_upsample(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let scales = if ctx.opset < 9 {
        Param::Known(
            ctx.floats("scales")
                .ok_or("the scales attribute is missing")?,
        )
    } else {
        Param::of_input(ctx, 1, "scales", parse_floats)?
    };
    Ok(Box::new(legacy_resize(interp_mode(ctx, false)?, scales)))
}

/// Upsample and Resize-10: scales only, asymmetric coordinates, legacy rounding.
fn legacy_resize(interp: Interp, scales: Param<Vec<f32>>) -> Resize {
    Resize {
        interp,
        coord: Coord::Asymmetric,
        round: Round::Legacy,
        cubic_a: -0.75,
        exclude_outside: false,
        extrapolation: 0.0,
        antialias: false,
        aspect: Aspect::Stretch,
        axes: None,
        scales,
        sizes: Param::Absent,
        roi: Param::Absent,
    }
}

fn build_resize(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    if ctx.opset < 11 {
        let scales = Param::of_input(ctx, 1, "scales", parse_floats)?;
        return Ok(Box::new(legacy_resize(interp_mode(ctx, false)?, scales)));
    }
    let coord = match ctx
        .string("coordinate_transformation_mode")
        .as_deref()
        .unwrap_or("half_pixel")
    {
        "half_pixel" => Coord::HalfPixel,
        "half_pixel_symmetric" => Coord::HalfPixelSymmetric,
        "pytorch_half_pixel" => Coord::PytorchHalfPixel,
        "align_corners" => Coord::AlignCorners,
        "asymmetric" => Coord::Asymmetric,
        "tf_half_pixel_for_nn" => Coord::TfHalfPixelForNn,
        "tf_crop_and_resize" => Coord::TfCropAndResize,
        other => {
            return Err(format!(
                "coordinate_transformation_mode '{other}' is unknown"
            ))
        }
    };
    let round = match ctx
        .string("nearest_mode")
        .as_deref()
        .unwrap_or("round_prefer_floor")
    {
        "round_prefer_floor" => Round::PreferFloor,
        "round_prefer_ceil" => Round::PreferCeil,
        "floor" => Round::Floor,
        "ceil" => Round::Ceil,
        other => return Err(format!("nearest_mode '{other}' is unknown")),
    };
    let aspect = match ctx
        .string("keep_aspect_ratio_policy")
        .as_deref()
        .unwrap_or("stretch")
    {
        "stretch" => Aspect::Stretch,
        "not_larger" => Aspect::NotLarger,
        "not_smaller" => Aspect::NotSmaller,
        other => return Err(format!("keep_aspect_ratio_policy '{other}' is unknown")),
    };
    let roi = if coord == Coord::TfCropAndResize {
        Param::of_input(ctx, 1, "roi", parse_floats)?
    } else {
        Param::Absent
    };
    Ok(Box::new(Resize {
        interp: interp_mode(ctx, true)?,
        coord,
        round,
        cubic_a: ctx.float("cubic_coeff_a", -0.75) as f64,
        exclude_outside: ctx.int("exclude_outside", 0) != 0,
        extrapolation: ctx.float("extrapolation_value", 0.0),
        antialias: ctx.int("antialias", 0) != 0,
        aspect,
        axes: ctx.ints("axes"),
        scales: Param::of_input(ctx, 2, "scales", parse_floats)?,
        sizes: Param::of_input(ctx, 3, "sizes", parse_ints)?,
        roi,
    }))
}

/// How one axis is resampled: output `o` is the sum of `w[o * n + j] * input[idx[o * n + j]]`
/// for `j < n` (nearest: `n == 1`, no weights), or the extrapolation value where `outside[o]`.
struct Taps {
    out: usize,
    n: usize,
    idx: Vec<usize>,
    w: Vec<f32>,
    outside: Vec<bool>,
    /// Nearest with each input repeated this many times in order (0: not so).
    repeat: usize,
}

/// The most input positions one output position reads (antialiasing widens the window as the
/// scale shrinks).
const MAX_TAPS: usize = 4096;

impl Resize {
    /// The input coordinate of output position `y`, with `out_w = scale * len` (not rounded, as
    /// in the ONNX reference).
    fn coordinate(&self, y: f64, len: f64, out: usize, scale: f64, roi: (f64, f64)) -> f64 {
        let out_w = scale * len;
        match self.coord {
            Coord::HalfPixel => (y + 0.5) / scale - 0.5,
            Coord::HalfPixelSymmetric => {
                let adjustment = out as f64 / out_w;
                let offset = len / 2.0 * (1.0 - adjustment);
                offset + (y + 0.5) / scale - 0.5
            }
            Coord::PytorchHalfPixel if out > 1 => (y + 0.5) / scale - 0.5,
            Coord::PytorchHalfPixel => 0.0,
            Coord::AlignCorners if out_w == 1.0 => 0.0,
            Coord::AlignCorners => y * (len - 1.0) / (out_w - 1.0),
            Coord::Asymmetric => y / scale,
            Coord::TfHalfPixelForNn => (y + 0.5) / scale,
            Coord::TfCropAndResize => {
                let (start, end) = roi;
                let x = if out_w == 1.0 {
                    (end - start) * (len - 1.0) / 2.0
                } else {
                    y * (end - start) * (len - 1.0) / (out_w - 1.0)
                };
                x + start * (len - 1.0)
            }
        }
    }

    fn taps(&self, len: usize, out: usize, scale: f64, roi: (f64, f64)) -> OpResult<Taps> {
        let lenf = len as f64;
        let last = lenf - 1.0;
        let clamp = |i: f64| i.clamp(0.0, last) as usize;
        let crop = self.coord == Coord::TfCropAndResize;
        let s = scale.min(1.0);
        // Taps per output, and the first one's offset from the input position below x.
        let (n, first) = match (self.interp, self.antialias) {
            (Interp::Nearest, _) => (1.0, 0.0),
            (Interp::Linear, false) => (2.0, 0.0),
            (Interp::Cubic, false) => (4.0, -1.0),
            (Interp::Linear, true) => {
                let start = (-1.0 / s).floor() + 1.0;
                (2.0 - 2.0 * start, start)
            }
            (Interp::Cubic, true) => {
                let start = (-2.0 / s).floor() + 1.0;
                (2.0 - 2.0 * start, start)
            }
        };
        let n = match n {
            n if n >= 1.0 && n <= MAX_TAPS as f64 => n as usize,
            n => {
                return Err(format!(
                    "an antialiased scale of {scale} reads {n} inputs per output (at most \
                     {MAX_TAPS})"
                ))
            }
        };
        let total = volume(&[out, n])?;
        let mut t = Taps {
            out,
            n,
            idx: Vec::with_capacity(total),
            w: Vec::with_capacity(if n > 1 { total } else { 0 }),
            outside: vec![],
            repeat: 0,
        };
        let mut c = vec![0f64; n];
        for y in 0..out {
            let x = self.coordinate(y as f64, lenf, out, scale, roi);
            if crop && !(0.0..=last).contains(&x) {
                t.outside.resize(y, false);
                t.outside.push(true);
            }
            if n == 1 {
                let f = x.floor();
                let frac = x - f;
                let i = match self.round {
                    Round::PreferFloor if frac <= 0.5 => f,
                    Round::PreferCeil if frac < 0.5 => f,
                    Round::PreferFloor | Round::PreferCeil => f + 1.0,
                    Round::Floor => f,
                    Round::Ceil => x.ceil(),
                    Round::Legacy if scale < 1.0 => x.ceil(),
                    Round::Legacy => f,
                };
                t.idx.push(clamp(i));
                continue;
            }
            // The input position below x and the distance to it, in (0, 1].
            let (x0, r) = if x == x.floor() {
                (x - 1.0, 1.0)
            } else {
                (x.floor(), x - x.floor())
            };
            self.coefficients(r, s, first, &mut c);
            if self.exclude_outside {
                for (j, cj) in c.iter_mut().enumerate() {
                    let i = x0 + first + j as f64;
                    if i < 0.0 || i > last {
                        *cj = 0.0;
                    }
                }
                let total: f64 = c.iter().sum();
                if total != 0.0 {
                    c.iter_mut().for_each(|v| *v /= total);
                }
            }
            for (j, &cj) in c.iter().enumerate() {
                t.idx.push(clamp(x0 + first + j as f64));
                t.w.push(cj as f32);
            }
        }
        if !t.outside.is_empty() {
            t.outside.resize(out, false);
        }
        if n == 1 && t.outside.is_empty() && len > 0 && out.is_multiple_of(len) {
            let k = out / len;
            if t.idx.iter().enumerate().all(|(o, &i)| i == o / k) {
                t.repeat = k;
            }
        }
        Ok(t)
    }

    /// The weights of the `c.len()` inputs from `x0 + first` on, for a position `r` past `x0`;
    /// `s` is the scale, at most 1 (for antialiasing).
    fn coefficients(&self, r: f64, s: f64, first: f64, c: &mut [f64]) {
        let a = self.cubic_a;
        match (self.interp, self.antialias) {
            (Interp::Linear, false) => {
                if let [c0, c1] = c {
                    (*c0, *c1) = (1.0 - r, r);
                }
            }
            (Interp::Cubic, false) => {
                if let [c0, c1, c2, c3] = c {
                    let (p, q) = (r + 1.0, 2.0 - r);
                    *c0 = ((a * p - 5.0 * a) * p + 8.0 * a) * p - 4.0 * a;
                    *c1 = ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0;
                    *c2 = ((a + 2.0) * (1.0 - r) - (a + 3.0)) * (1.0 - r) * (1.0 - r) + 1.0;
                    *c3 = ((a * q - 5.0 * a) * q + 8.0 * a) * q - 4.0 * a;
                }
            }
            (_, true) => {
                let cubic = self.interp == Interp::Cubic;
                for (j, cj) in c.iter_mut().enumerate() {
                    let d = ((first + j as f64 - r) * s).abs();
                    *cj = if !cubic {
                        (1.0 - d).clamp(0.0, 1.0)
                    } else if d <= 1.0 {
                        ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0
                    } else if d < 2.0 {
                        ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a
                    } else {
                        0.0
                    };
                }
                let total: f64 = c.iter().sum();
                if total != 0.0 {
                    c.iter_mut().for_each(|v| *v /= total);
                }
            }
            (Interp::Nearest, false) => {}
        }
    }

    /// Per axis: its scale and output size.
    fn target(
        &self,
        dims: &[usize],
        axes: &[usize],
        inputs: &[Option<&Tensor>],
    ) -> OpResult<(Vec<f64>, Vec<usize>)> {
        let scales = self.scales.get(inputs, "scales", parse_floats)?;
        let sizes = self.sizes.get(inputs, "sizes", parse_ints)?;
        let scales = scales.filter(|s| !s.is_empty());
        let sizes = sizes.filter(|s| !s.is_empty());
        let mut scale = vec![1f64; dims.len()];
        let mut out = dims.to_vec();
        let count = |what: &str, n: usize| {
            format!(
                "{what} has {n} values, expected {} (one per resized axis)",
                axes.len()
            )
        };
        match (scales, sizes) {
            (Some(s), None) => {
                if s.len() != axes.len() {
                    return Err(count("scales", s.len()));
                }
                for (&a, &v) in axes.iter().zip(s.iter()) {
                    let o = (v as f64 * dims[a] as f64).floor();
                    if !(v > 0.0 && v.is_finite()) || o > MAX_ELEMENTS as f64 {
                        return Err(format!("scale {v} for axis {a} is out of range"));
                    }
                    (scale[a], out[a]) = (v as f64, o as usize);
                }
            }
            (None, Some(z)) => {
                if z.len() != axes.len() {
                    return Err(count("sizes", z.len()));
                }
                for (&a, &v) in axes.iter().zip(z.iter()) {
                    let o = usize::try_from(v)
                        .ok()
                        .filter(|&o| o <= MAX_ELEMENTS)
                        .ok_or_else(|| format!("size {v} for axis {a} is out of range"))?;
                    if dims[a] == 0 && o != 0 {
                        return Err(format!("axis {a} is empty: it cannot be resized to {o}"));
                    }
                    out[a] = o;
                    if dims[a] > 0 {
                        scale[a] = o as f64 / dims[a] as f64;
                    }
                }
                if self.aspect != Aspect::Stretch {
                    let pick = axes.iter().map(|&a| scale[a]);
                    let s = if self.aspect == Aspect::NotLarger {
                        pick.fold(f64::INFINITY, f64::min)
                    } else {
                        pick.fold(0.0, f64::max)
                    };
                    for &a in axes {
                        let o = (s * dims[a] as f64 + 0.5).floor();
                        if o > MAX_ELEMENTS as f64 {
                            return Err(format!("the output size {o} is too large"));
                        }
                        (scale[a], out[a]) = (s, o as usize);
                    }
                }
            }
            (Some(_), Some(_)) => return Err("scales and sizes are both given".into()),
            (None, None) => return Err("neither scales nor sizes is given".into()),
        }
        Ok((scale, out))
    }
}

impl Op for Resize {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let xt = input(inputs, 0, "X")?;
        let x = f32s(xt, "X")?;
        let (dims, r) = (&xt.shape, xt.rank());
        let axes = match &self.axes {
            Some(a) => axes_list(a, r)?,
            None => (0..r).collect(),
        };
        let (scale, out) = self.target(dims, &axes, inputs)?;
        let mut roi = vec![(0.0, 1.0); r];
        if self.coord == Coord::TfCropAndResize {
            let v = self
                .roi
                .get(inputs, "roi", parse_floats)?
                .ok_or("coordinate_transformation_mode tf_crop_and_resize needs input roi")?;
            if v.len() != 2 * axes.len() {
                return Err(format!(
                    "roi has {} values, expected {} (a start and an end per resized axis)",
                    v.len(),
                    2 * axes.len()
                ));
            }
            for (i, &a) in axes.iter().enumerate() {
                roi[a] = (v[i] as f64, v[i + axes.len()] as f64);
            }
        }
        let len = alloc_len::<f32>(&out)?;
        if len == 0 {
            return Ok(vec![Tensor::f32(out, vec![])]);
        }
        if x.is_empty() {
            return Err(format!("input X of shape {dims:?} is empty"));
        }
        let mut passes = vec![];
        for a in 0..r {
            let identity = (scale[a] - 1.0).abs() < 1e-9
                && out[a] == dims[a]
                && (self.coord != Coord::TfCropAndResize || roi[a] == (0.0, 1.0));
            if !identity {
                passes.push((a, self.taps(dims[a], out[a], scale[a], roi[a])?));
            }
        }
        let Some(a0) = passes.iter().map(|p| p.0).min() else {
            return Ok(vec![Tensor::f32(out, x.to_vec())]);
        };
        // Shrinking axes first (less to compute after them); among equal ratios, when
        // enlarging, the inner axis first (the gathers along it then have fewer rows).
        let ratio = |a: usize| out[a] as f64 / dims[a] as f64;
        passes.sort_by(|(p, _), (q, _)| {
            ratio(*p)
                .total_cmp(&ratio(*q))
                .then(if ratio(*p) < 1.0 { p.cmp(q) } else { q.cmp(p) })
        });
        // Each pass's (len, inner, result size) within one block of the axes from a0 on.
        let mut cur = dims[a0..].to_vec();
        let mut plan = vec![];
        for (a, t) in &passes {
            let ra = a - a0;
            let (l, inner) = (cur[ra], volume(&cur[ra + 1..])?);
            cur[ra] = t.out;
            plan.push((l, inner, volume(&cur)?));
        }
        let (ib, ob) = (volume(&dims[a0..])?, volume(&out[a0..])?);
        let mut y = vec![0f32; len];
        let mut bufs: (Vec<f32>, Vec<f32>) = (vec![], vec![]);
        let fill = self.extrapolation;
        for (sb, db) in x.chunks_exact(ib).zip(y.chunks_exact_mut(ob)) {
            for (i, ((_, t), &(l, inner, size))) in passes.iter().zip(&plan).enumerate() {
                let src: &[f32] = if i == 0 { sb } else { &bufs.0 };
                if i + 1 == passes.len() {
                    resample(src, l, inner, t, fill, db);
                } else {
                    bufs.1.clear();
                    bufs.1.resize(size, 0.0);
                    resample(src, l, inner, t, fill, &mut bufs.1);
                    std::mem::swap(&mut bufs.0, &mut bufs.1);
                }
            }
        }
        Ok(vec![Tensor::f32(out, y)])
    }
}

/// Resamples the middle axis of `src` seen as `[outer, len, inner]` into `dst` (`[outer,
/// t.out, inner]`).
fn resample(src: &[f32], len: usize, inner: usize, t: &Taps, fill: f32, dst: &mut [f32]) {
    let (ib, ob, n) = (len * inner, t.out * inner, t.n);
    if ib == 0 || ob == 0 || n == 0 {
        return;
    }
    for (s, d) in src.chunks_exact(ib).zip(dst.chunks_exact_mut(ob)) {
        if inner == 1 {
            gather(s, d, t);
        } else {
            let row = |i: usize| s.get(i * inner..(i + 1) * inner).unwrap_or(&[]);
            let taps = t.idx.chunks_exact(n);
            for (o, (drow, idx)) in d.chunks_exact_mut(inner).zip(taps).enumerate() {
                let w = t.w.get(o * n..(o + 1) * n).unwrap_or(&[]);
                match (idx, w) {
                    ([i], _) => {
                        if let Some(r) = s.get(i * inner..(i + 1) * inner) {
                            drow.copy_from_slice(r);
                        }
                    }
                    ([i0, i1], [w0, w1]) => blend(drow, row(*i0), row(*i1), *w0, *w1),
                    _ => {
                        drow.fill(0.0);
                        for (&i, &wj) in idx.iter().zip(w) {
                            zip_f(drow, row(i), Scale(wj), Add);
                        }
                    }
                }
            }
        }
        for (o, _) in t.outside.iter().enumerate().filter(|(_, &out)| out) {
            if let Some(r) = d.get_mut(o * inner..(o + 1) * inner) {
                r.fill(fill);
            }
        }
    }
}

/// Resamples one contiguous row `s` into `d` (`inner == 1`). Loops without closures or nested
/// iterator adapters: the release profile optimises for size and would not inline them.
fn gather(s: &[f32], d: &mut [f32], t: &Taps) {
    match (t.repeat, t.n) {
        (2, _) => {
            let (pairs, _) = d.as_chunks_mut::<8>();
            let (quads, _) = s.as_chunks::<4>();
            let done = pairs.len().min(quads.len());
            for (d, s) in pairs.iter_mut().zip(quads) {
                F4::load(s).store_doubled(d);
            }
            let (d, s) = (&mut d[8 * done..], &s[4 * done..]);
            for (i, &v) in s.iter().enumerate() {
                if let Some(pair) = d.get_mut(2 * i..2 * i + 2) {
                    pair.fill(v);
                }
            }
        }
        (k, _) if k > 0 => {
            for (i, &v) in s.iter().enumerate() {
                if let Some(run) = d.get_mut(k * i..k * (i + 1)) {
                    run.fill(v);
                }
            }
        }
        (_, 1) => {
            let idx = t.idx.as_slice();
            for o in 0..least(d.len(), idx.len()) {
                d[o] = s.get(idx[o]).copied().unwrap_or(0.0);
            }
        }
        (_, 2) => {
            let (idx, _) = t.idx.as_chunks::<2>();
            let (w, _) = t.w.as_chunks::<2>();
            for o in 0..least(d.len(), least(idx.len(), w.len())) {
                let ([i0, i1], [w0, w1]) = (idx[o], w[o]);
                let a = s.get(i0).copied().unwrap_or(0.0);
                let b = s.get(i1).copied().unwrap_or(0.0);
                d[o] = a * w0 + b * w1;
            }
        }
        (_, n) => {
            for (o, v) in d.iter_mut().enumerate() {
                let (Some(idx), Some(w)) =
                    (t.idx.get(o * n..(o + 1) * n), t.w.get(o * n..(o + 1) * n))
                else {
                    continue;
                };
                let mut acc = 0.0;
                for (&i, &w) in idx.iter().zip(w) {
                    acc += s.get(i).copied().unwrap_or(0.0) * w;
                }
                *v = acc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn bad_resize_targets_are_errors() {
        let t = x(&[1, 1, 4, 4]);
        let none = Tensor::f32(vec![0], vec![]);
        let scales = |v: &[f32]| run("Resize", 13, vec![], &[&t, &none, &f32s_of(v)]);
        for bad in [
            [1.0, 1.0, 0.0, 2.0],
            [1.0, 1.0, -2.0, 2.0],
            [1.0, 1.0, f32::NAN, 1.0],
        ] {
            fails(scales(&bad), "out of range");
        }
        fails(scales(&[1.0, 1.0, f32::INFINITY, 1.0]), "out of range");
        fails(scales(&[1.0, 1.0, 1e30, 1e30]), "out of range");
        fails(scales(&[1.0, 1.0, 1e4, 1e4]), "elements");
        fails(scales(&[2.0, 2.0]), "2 values, expected 4");
        let sizes = |v: &[i64]| run("Resize", 13, vec![], &[&t, &none, &none, &i64s_of(v)]);
        fails(sizes(&[1, 1, -1, 4]), "out of range");
        fails(sizes(&[1, 1, i64::MAX, 4]), "out of range");
        fails(sizes(&[1, 1, 1 << 20, 1 << 20]), "elements");
        let both = [&t, &none, &f32s_of(&[1.0; 4]), &i64s_of(&[1, 1, 4, 4])];
        fails(run("Resize", 13, vec![], &both), "both");
        fails(run("Resize", 13, vec![], &[&t, &none, &none]), "neither");
        let tf = vec![string(
            "coordinate_transformation_mode",
            "tf_crop_and_resize",
        )];
        fails(
            run("Resize", 13, tf.clone(), &[&t, &none, &f32s_of(&[1.0; 4])]),
            "roi",
        );
        let roi = f32s_of(&[0.0, 1.0]);
        fails(
            run("Resize", 13, tf, &[&t, &roi, &f32s_of(&[1.0; 4])]),
            "roi has 2",
        );
        let aa = vec![int("antialias", 1), string("mode", "linear")];
        let tiny = f32s_of(&[1.0, 1.0, 1e-6, 1.0]);
        let wide = x(&[1, 1, 1 << 20, 1]);
        fails(
            run("Resize", 19, aa, &[&wide, &none, &tiny]),
            "inputs per output",
        );
        let axes = vec![ints("axes", &[2, -2])];
        fails(
            run("Resize", 18, axes, &[&t, &none, &f32s_of(&[2.0, 2.0])]),
            "repeat",
        );
        fails(
            build("Upsample", 9, vec![string("mode", "cubic")], &[None; 2], 1),
            "mode",
        );
        fails(build("Upsample", 7, vec![], &[None], 1), "scales");
        let mode = vec![string("nearest_mode", "round")];
        fails(build("Resize", 13, mode, &[None; 3], 1), "nearest_mode");
        let ints_scales = [None, None, Some(&i64s_of(&[1, 1, 2, 2]))];
        fails(build("Resize", 13, vec![], &ints_scales, 1), "input scales");
        fails(
            run(
                "Resize",
                13,
                vec![],
                &[&empty(&[1, 0, 4]), &none, &none, &i64s_of(&[1, 2, 4])],
            ),
            "empty",
        );
    }
}

//! float16 storage: the lite engine keeps float16 values (inputs, initializers, casts) as float32
//! and computes in float32, as onnxruntime's CPU provider does for most float16 operators; values
//! are rounded to float16 where the model says so (a `Cast` to float16) and where they leave the
//! engine (outputs declared float16).

/// The float32 value of the IEEE 754 half-precision number with bits `h` (exact).
pub fn to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from(h >> 10) & 0x1f;
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        // Subnormal: mant × 2^-24, normalised for float32.
        (0, _) => {
            let shift = mant.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | (((mant << shift) & 0x3ff) << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (mant << 13),
        _ => sign | ((exp + 112) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

/// The half-precision bits nearest to `x` (round half to even; overflow to infinity; NaN stays
/// NaN).
pub fn from_f32(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | if mant == 0 { 0x7c00 } else { 0x7e00 };
    }
    // The value's exponent as a half's biased exponent.
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // Subnormal or zero: the 24-bit significand shifted into the 10 subnormal bits.
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rest = m & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        let round = rest > halfway || (rest == halfway && half & 1 == 1);
        return sign | (half + u32::from(round)) as u16;
    }
    let half = ((e as u32) << 10) | (mant >> 13);
    let rest = mant & 0x1fff;
    let round = rest > 0x1000 || (rest == 0x1000 && half & 1 == 1);
    // A carry out of the significand moves to the next exponent (up to infinity): still right.
    sign | (half + u32::from(round)) as u16
}

/// `x` rounded to the nearest float16 value, as float32.
pub fn round(x: f32) -> f32 {
    to_f32(from_f32(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_half_converts_exactly_and_back() {
        for h in 0..=u16::MAX {
            let x = to_f32(h);
            let want = half::f16::from_bits(h).to_f32();
            assert!(
                x.to_bits() == want.to_bits() || (x.is_nan() && want.is_nan()),
                "{h:#x}"
            );
            if !x.is_nan() {
                assert_eq!(from_f32(x), h, "{h:#x} = {x}");
            }
        }
    }

    #[test]
    fn floats_round_to_the_nearest_half_ties_to_even() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..2_000_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Random bits, and values near the half range's edges and rounding ties.
            let x = match i % 3 {
                0 => f32::from_bits(state as u32),
                1 => f32::from_bits((state as u32 & 0x8fff_ffff) | 0x3000_0000),
                _ => {
                    let h = state as u16 & 0x7bfe;
                    (to_f32(h) + to_f32(h + 1)) / 2.0
                }
            };
            let want = half::f16::from_f32(x);
            let got = from_f32(x);
            assert!(
                got == want.to_bits() || (x.is_nan() && want.is_nan()),
                "{x:e}: {got:#x}, expected {:#x}",
                want.to_bits()
            );
        }
        assert_eq!(from_f32(65520.0), 0x7c00, "rounds up to infinity");
        assert_eq!(from_f32(65519.0), 0x7bff);
        assert_eq!(round(1.0 + 1.0 / 2048.0), 1.0, "a tie rounds to even");
        assert_eq!(round(2.0f32.powi(-25)), 0.0);
    }
}

//! Single-precision elementary functions for the f32 mode solver.
//!
//! `libm` (musl's algorithms) evaluates `sinf`/`cosf` with f64 kernels and f64 argument
//! reduction, `hypotf` in f64, and `sqrtf` with integer arithmetic; on a Cortex-M4F, whose
//! FPU has no f64, each of these is hundreds of instructions of software float. Here:
//! - `sqrt`: the FPU's `VSQRT.F32` on hard-float ARM, `Float::sqrt` elsewhere. Both are
//!   correctly rounded, so the result is the same bits everywhere.
//! - `sin_cos`: Cody–Waite reduction by π/2 in three f32 parts and Cephes' single-precision
//!   minimax polynomials on [−π/4, π/4] (≤ 2 ulp; Moshier, *Methods and Programs for
//!   Mathematical Functions*, `sinf.c`); beyond |x| = 8192, where the three-part reduction
//!   loses bits, `libm`'s exact reduction takes over.
//! - `hypot`: √(x² + y²) directly where the squares cannot overflow or underflow, scaled
//!   otherwise.
//!
//! All are plain f32 arithmetic (Rust never contracts into FMA), so host and buoy compute
//! the same bits. The three larger ones are kept out of line: inlined at every call they
//! cost ~9 KiB of flash for ~9 % fewer instructions. Measured on the Cortex-M4 (`cargo
//! xtask forward-cost`): one gi-pekeris environment 8.26 M → 0.60 M instructions (0.50 M
//! since `hypot` tries the direct square root first), with
//! the same f32 accuracy against f64.

use num_complex::Complex;
use num_traits::Float;

/// √x, correctly rounded.
#[inline]
pub(crate) fn sqrt(x: f32) -> f32 {
    #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
    {
        let bits: u32;
        #[allow(unsafe_code)]
        // SAFETY: moves x into s15 (declared clobbered), takes its square root there and
        // moves the result out; no memory is touched.
        unsafe {
            core::arch::asm!(
                "vmov s15, {x}",
                "vsqrt.f32 s15, s15",
                "vmov {y}, s15",
                x = in(reg) x.to_bits(),
                y = lateout(reg) bits,
                out("s15") _,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        f32::from_bits(bits)
    }
    #[cfg(not(all(target_arch = "arm", target_abi = "eabihf")))]
    {
        Float::sqrt(x)
    }
}

/// 4/π.
const FOUR_OVER_PI: f32 = 1.273_239_5;
/// π/4 in three parts; the first two have few enough bits that j·part is exact.
const PI_4_A: f32 = 0.785_156_25;
const PI_4_B: f32 = 2.418_756_5e-4;
const PI_4_C: f32 = 3.774_895e-8;
/// Largest |x| reduced here.
const REDUCTION_LIMIT: f32 = 8192.0;

/// (sin x, cos x).
#[inline(never)]
pub(crate) fn sin_cos(x: f32) -> (f32, f32) {
    let ax = x.abs();
    if ax > REDUCTION_LIMIT || ax.is_nan() {
        // beyond the three-part reduction, ±∞ and NaN: libm
        return Float::sin_cos(x);
    }
    // Octant j, rounded up to even: x = j·π/4 + r with |r| ≤ π/4.
    let mut j = (ax * FOUR_OVER_PI) as u32;
    j += j & 1;
    let y = j as f32;
    let r = ((ax - y * PI_4_A) - y * PI_4_B) - y * PI_4_C;
    let z = r * r;
    let s = ((-1.951_529_6e-4 * z + 8.332_161e-3) * z - 1.666_665_5e-1) * z * r + r;
    let c = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z - 0.5 * z + 1.0;
    let (sin, cos) = match j & 7 {
        0 => (s, c),
        2 => (c, -s),
        4 => (-s, -c),
        _ => (-c, s),
    };
    (if x.is_sign_negative() { -sin } else { sin }, cos)
}

/// √(x² + y²).
#[inline(never)]
pub(crate) fn hypot(x: f32, y: f32) -> f32 {
    // The common case first (every |k|, |γ| and Newton step of the solver): the sum of
    // squares is normal and finite, so √ of it is the answer (bit for bit the branch
    // below would give); a NaN or ∞ fails the test and takes the checks. Measured on the
    // Cortex-M4: hypot was 26 % of a gi-pekeris environment's instructions before.
    let s = x * x + y * y;
    if s > 1e-36 && s < 1e36 {
        return sqrt(s);
    }
    let (a, b) = (x.abs(), y.abs());
    let (big, small) = if a >= b { (a, b) } else { (b, a) };
    if big == f32::INFINITY || small == f32::INFINITY {
        return f32::INFINITY;
    }
    if big.is_nan() || small.is_nan() {
        return f32::NAN;
    }
    // big² and the sum stay normal and finite here; small² may underflow, harmlessly.
    if big > 1e-18 && big < 1e18 {
        return sqrt(a * a + b * b);
    }
    if big == 0.0 {
        return 0.0;
    }
    let t = small / big;
    big * sqrt(1.0 + t * t)
}

/// Principal √z: t = √((|z| + |Re z|)/2) and Im z/(2t), without the polar form
/// (atan2, sin, cos) that `num-complex` uses. Far from 1 (|z| beyond 2^±100, where the
/// half-angle sum could overflow or lose bits as a subnormal) z is scaled by 2^∓64 first and
/// the root by 2^±32 after (exact); infinities and NaN follow C99's `csqrt`. (Written
/// out rather than falling back to `num-complex`'s polar form, which cost the refining
/// buoy 3 KiB of flash and gives NaN parts for infinite z.)
#[inline(never)]
pub(crate) fn complex_sqrt(z: Complex<f32>) -> Complex<f32> {
    let (a, b) = (z.re, z.im);
    if b == 0.0 {
        // On the real axis: the same choices as num-complex, sign of zero included.
        return if a.is_sign_positive() {
            Complex::new(sqrt(a), b)
        } else {
            let r = sqrt(-a);
            Complex::new(0.0, if b.is_sign_positive() { r } else { -r })
        };
    }
    // 2¹⁰⁰, 2⁻¹⁰⁰, 2⁻⁶⁴, 2³² by their exponent fields (exact, and no powi in core)
    let big = f32::from_bits(227 << 23);
    let small = f32::from_bits(27 << 23);
    let h = hypot(a, b);
    if h > small && h < big {
        // the solver's every call: as many compares as the finite check they replace
        return half_angle(a, b, h);
    }
    if !(a.is_finite() && b.is_finite()) {
        return if b.is_infinite() {
            Complex::new(f32::INFINITY, b)
        } else if a.is_nan() || b.is_nan() {
            Complex::new(f32::NAN, f32::NAN)
        } else if a.is_sign_negative() {
            Complex::new(0.0, f32::INFINITY.copysign(b))
        } else {
            Complex::new(a, 0.0f32.copysign(b))
        };
    }
    let (down, up) = (f32::from_bits(63 << 23), f32::from_bits(159 << 23));
    let (a, b, back) = if h >= big {
        (a * down, b * down, up)
    } else {
        (a / down, b / down, 1.0 / up)
    };
    half_angle(a, b, hypot(a, b)) * back
}

/// √(a + ib) for b ≠ 0 from h = |a + ib| within 2^±100, by the half-angle formulas
/// (then t ≥ 2⁻⁵¹: no overflow, underflow or division by zero).
#[inline]
fn half_angle(a: f32, b: f32, h: f32) -> Complex<f32> {
    let t = sqrt(0.5 * (h + a.abs()));
    if a >= 0.0 {
        Complex::new(t, b / (2.0 * t))
    } else {
        Complex::new(b.abs() / (2.0 * t), if b < 0.0 { -t } else { t })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Error of an f32 result against the f64 reference, in units of the f32 spacing at
    /// the reference, floored at 2⁻²⁴ (half an ulp of 1) where the value is tiny.
    fn ulps(got: f32, want: f64) -> f64 {
        let w = (want as f32).abs();
        let ulp = f64::from(f32::from_bits(w.to_bits() + 1) - w).max(f64::from(f32::EPSILON) / 2.0);
        (f64::from(got) - want).abs() / ulp
    }

    #[test]
    fn sin_cos_within_two_ulp_of_f64_across_the_reduced_range() {
        let mut worst: f64 = 0.0;
        let mut x = -REDUCTION_LIMIT;
        while x <= REDUCTION_LIMIT {
            let (s, c) = sin_cos(x);
            let xd = f64::from(x);
            worst = worst.max(ulps(s, xd.sin())).max(ulps(c, xd.cos()));
            x += 0.012_345_67;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        std::println!("worst sin/cos error: {worst:.3} ulp");
    }

    #[test]
    fn sin_cos_small_and_special_arguments() {
        assert_eq!(sin_cos(0.0), (0.0, 1.0));
        assert!(sin_cos(-0.0).0.is_sign_negative());
        for x in [
            1e-30f32,
            1e-6,
            0.5,
            core::f32::consts::FRAC_PI_4,
            core::f32::consts::FRAC_PI_2,
            core::f32::consts::PI,
            -2.0,
            8191.9,
        ] {
            let (s, c) = sin_cos(x);
            assert!(ulps(s, f64::from(x).sin()) <= 2.0, "sin {x}");
            assert!(ulps(c, f64::from(x).cos()) <= 2.0, "cos {x}");
        }
        // beyond the reduction limit and non-finite: libm's results
        assert_eq!(sin_cos(1e6), Float::sin_cos(1e6f32));
        assert!(sin_cos(f32::NAN).0.is_nan() && sin_cos(f32::INFINITY).1.is_nan());
    }

    #[test]
    fn sqrt_is_correctly_rounded() {
        for x in [0.0f32, 1.0, 2.0, 1e-40, 3.4e38, 0.3, 12345.678] {
            assert_eq!(sqrt(x), (f64::from(x).sqrt()) as f32, "{x}");
        }
        assert!(sqrt(-1.0).is_nan());
    }

    #[test]
    fn hypot_matches_f64_and_survives_extremes() {
        for (x, y) in [
            (3.0f32, 4.0),
            (1e-30, 1e-30),
            (1e30, 1e30),
            (-2.5, 1e-3),
            (0.0, -0.0),
            (1e-45, 0.0),
        ] {
            let want = f64::from(x).hypot(f64::from(y));
            let got = hypot(x, y);
            assert!(
                ulps(got, want) <= 1.0 || want == 0.0 && got == 0.0,
                "hypot({x}, {y}) = {got}, want {want}"
            );
        }
        assert_eq!(hypot(f32::INFINITY, f32::NAN), f32::INFINITY);
        assert!(hypot(f32::NAN, 1.0).is_nan());
    }

    #[test]
    fn complex_sqrt_scales_at_the_ends_of_the_range_and_follows_csqrt() {
        // finite z whose t would overflow or underflow: against f64
        for (a, b) in [
            (3e38f32, 3e38f32),
            (-3.4e38, 1e38),
            (1e38, -3.4e38),
            (1e-40, -1e-41),
            (-1e-44, 1e-45),
            (0.0, 1e-45),
        ] {
            let got = complex_sqrt(Complex::new(a, b));
            let want = Complex::new(f64::from(a), f64::from(b)).sqrt();
            let err = (f64::from(got.re) - want.re).hypot(f64::from(got.im) - want.im);
            assert!(
                err <= 2.5e-7 * want.norm(),
                "sqrt({a}, {b}) = {got}, want {want}"
            );
        }
        // infinities and NaN: C99's csqrt (num-complex's polar form gives NaN or −∞
        // parts for some of these, e.g. √(∞ + i) = ∞ + NaN·i)
        let (inf, nan) = (f32::INFINITY, f32::NAN);
        for ((a, b), want) in [
            ((inf, 1.0f32), (inf, 0.0f32)),
            ((inf, -1.0), (inf, -0.0)),
            ((-inf, 1.0), (0.0, inf)),
            ((-inf, -1.0), (0.0, -inf)),
            ((1.0, inf), (inf, inf)),
            ((-1.0, -inf), (inf, -inf)),
            ((nan, inf), (inf, inf)),
            ((nan, 1.0), (nan, nan)),
            ((1.0, nan), (nan, nan)),
        ] {
            let got = complex_sqrt(Complex::new(a, b));
            let same = |x: f32, y: f32| (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits();
            assert!(
                same(got.re, want.0) && same(got.im, want.1),
                "sqrt({a}, {b}) = {got}, want {want:?}"
            );
        }
    }

    #[test]
    fn complex_sqrt_is_the_principal_root_and_agrees_with_num_complex() {
        let cases = [
            (4.0f32, 0.0f32),
            (-4.0, 0.0),
            (-4.0, -0.0),
            (0.0, 2.0),
            (0.0, -2.0),
            (3.0, 4.0),
            (-3.0, 4.0),
            (-3.0, -4.0),
            (1e-3, -1e-9),
            (-1e-3, 1e-9),
            (2.5e-2, 7.0e-6),
            (-0.7, -1e-4),
        ];
        for (a, b) in cases {
            let got = complex_sqrt(Complex::new(a, b));
            let want = Complex::new(f64::from(a), f64::from(b)).sqrt();
            assert!(got.re >= 0.0, "{a} {b}");
            let err = (f64::from(got.re) - want.re).hypot(f64::from(got.im) - want.im);
            assert!(
                err <= 2.5e-7 * want.norm(),
                "sqrt({a}, {b}) = {got}, want {want}"
            );
            assert_eq!(
                got.im.is_sign_negative(),
                want.im.is_sign_negative(),
                "{a} {b}"
            );
        }
    }
}

//! Readable numbers in `no_std` messages (the buoy's text log, the pipeline's setup
//! errors) without `core::fmt`'s float machinery, which costs ~15 KB of flash (measured
//! with `llvm-nm` on the `buoy` build: the two `float_to_decimal_common_*` routines and
//! their tables), more than the headroom the 256 KiB budget leaves (docs/architecture.md,
//! "Budgets"). Written by hand for that size alone: the report frames carry the exact f32
//! values, so a message only has to be readable.

use core::fmt;

/// `x` to [`Decimal::SIGNIFICANT`] significant digits, trailing zeros dropped: fixed-point
/// when 1e-3 ≤ |x| < 1e9, else `d.ddddde±N`; `nan`, `inf`, `-inf` as such.
#[derive(Clone, Copy, Debug)]
pub struct Decimal(pub f32);

impl Decimal {
    /// Significant digits shown.
    pub const SIGNIFICANT: u32 = 6;
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x.is_nan() {
            return f.write_str("nan");
        }
        if x < 0.0 || (x == 0.0 && x.is_sign_negative()) {
            f.write_str("-")?;
        }
        let a = x.abs();
        if a.is_infinite() {
            return f.write_str("inf");
        }
        if a == 0.0 {
            return f.write_str("0");
        }
        // decimal exponent e with 10^e ≤ a < 10^(e+1), in f64 (exact powers up to 1e22)
        let a = f64::from(a);
        let mut e: i32 = 0;
        let mut m = a;
        while m >= 10.0 {
            m /= 10.0;
            e += 1;
        }
        while m < 1.0 {
            m *= 10.0;
            e -= 1;
        }
        let digits = Self::SIGNIFICANT as i32;
        if (-3..9).contains(&e) {
            // fixed point: digits - 1 - e decimals (at least 0)
            let mut decimals = (digits - 1 - e).max(0) as u32;
            let scaled = libm::round(a * 10u64.pow(decimals) as f64) as u64;
            let unit = 10u64.pow(decimals);
            write!(f, "{}", scaled / unit)?;
            let mut frac = scaled % unit;
            while decimals > 0 && frac.is_multiple_of(10) {
                frac /= 10;
                decimals -= 1;
            }
            if decimals > 0 {
                write!(f, ".{frac:0width$}", width = decimals as usize)?;
            }
            Ok(())
        } else {
            // scientific: m.mmmmm e±N
            let unit = 10u64.pow(Self::SIGNIFICANT - 1);
            let mut scaled = libm::round(m * unit as f64) as u64;
            if scaled >= 10 * unit {
                scaled /= 10;
                e += 1;
            }
            let (mut frac, mut width) = (scaled % unit, (Self::SIGNIFICANT - 1) as usize);
            while width > 0 && frac.is_multiple_of(10) {
                frac /= 10;
                width -= 1;
            }
            if width > 0 {
                write!(f, "{}.{frac:0width$}e{e}", scaled / unit)
            } else {
                write!(f, "{}e{e}", scaled / unit)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::format;
    use std::string::String;

    fn show(x: f32) -> String {
        format!("{}", Decimal(x))
    }

    /// Against `core::fmt`'s own rounding to the same significant digits.
    #[test]
    fn agrees_with_core_fmt_to_six_significant_digits() {
        let mut rng = crate::rng::Rng::new(5);
        for _ in 0..20_000 {
            let x = f32::from_bits(rng.next_u32());
            if !x.is_finite() {
                continue;
            }
            let ours: f64 = show(x).parse().unwrap();
            let exact = f64::from(x);
            let rel = if exact == 0.0 {
                ours.abs()
            } else {
                ((ours - exact) / exact).abs()
            };
            assert!(rel <= 5.0e-6 + 1e-12, "{x:e}: {} (rel {rel:e})", show(x));
        }
    }

    #[test]
    fn readable_cases() {
        assert_eq!(show(218.25), "218.25");
        assert_eq!(show(-1562.4), "-1562.4");
        assert_eq!(show(148.0), "148");
        assert_eq!(show(0.5), "0.5");
        assert_eq!(show(0.0), "0");
        assert_eq!(show(-0.0), "-0");
        assert_eq!(show(1.5e-5), "1.5e-5");
        assert_eq!(show(3.0e12), "3e12");
        assert_eq!(show(1.234567e-7), "1.23457e-7");
        assert_eq!(show(999_999.94), "1000000");
        assert_eq!(show(f32::NAN), "nan");
        assert_eq!(show(f32::NEG_INFINITY), "-inf");
    }
}

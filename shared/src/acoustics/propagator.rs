//! Exact solution across one isovelocity fluid layer (no depth mesh).
//!
//! In a layer of thickness h with vertical wavenumber kz (kz² = k_layer² − k²) the pair
//! (ψ, ψ'/ρ) = (u, v) is carried across by the propagator matrix
//!
//! ```text
//! [u]        [  C      ρ·S ] [u]         C = cos(kz·h)
//! [v](h)  =  [ −T/ρ     C  ] [v](0),     S = sin(kz·h)/kz,   T = kz²·S
//! ```
//!
//! C, S and T are entire functions of kz², so the sign (branch) of kz never matters, and
//! evanescent layers (kz² < 0: cosh/sinh) need no special case. Derivatives with respect
//! to kz² (for Newton steps) and the closed-form integrals of u² (for the normalization)
//! are here too; near kz² = 0 they switch to Taylor series to avoid cancellation.

use core::ops::{Add, Div, Mul, Neg, Sub};

use num_complex::Complex;

use super::scalar::Real;

/// The value types the propagator works in: a real `T` for lossless shooting and zero
/// counting, `Complex<T>` for lossy roots.
pub(crate) trait Wave<T: Real>:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Mul<T, Output = Self>
    + Add<T, Output = Self>
    + Div<T, Output = Self>
{
    /// Embeds a real number.
    fn real(x: T) -> Self;
    /// |x|², compared against squared limits (no square root on the hot path).
    fn modulus_sqr(self) -> T;
    /// (cos(kz·h), sin(kz·h)/kz) for kz² away from 0.
    fn trig(kz2: Self, h: T) -> (Self, Self);
}

impl<T: Real> Prop<Complex<T>, T> {
    /// [`Prop::new`] from kz itself (either sign), when the caller needs kz too: one
    /// complex square root saved.
    pub fn from_root(kz: Complex<T>, h: T) -> Self {
        let kz2 = kz * kz;
        if (kz2 * (h * h)).norm_sqr() < T::lit(SERIES_LIMIT * SERIES_LIMIT) {
            return Prop::new(kz2, h);
        }
        let (s, c) = sin_cos(kz * h);
        Prop {
            kz2,
            h,
            c,
            s: s / kz,
            small: false,
        }
    }
}

impl<T: Real> Wave<T> for T {
    fn real(x: T) -> T {
        x
    }
    fn modulus_sqr(self) -> T {
        self * self
    }
    fn trig(kz2: T, h: T) -> (T, T) {
        if kz2 >= T::zero() {
            let kz = kz2.root();
            let (s, c) = (kz * h).sine_cosine();
            (c, s / kz)
        } else {
            let kappa = (-kz2).root();
            ((kappa * h).cosh(), (kappa * h).sinh() / kappa)
        }
    }
}

impl<T: Real> Wave<T> for Complex<T> {
    fn real(x: T) -> Self {
        Complex::new(x, T::zero())
    }
    fn modulus_sqr(self) -> T {
        self.norm_sqr()
    }
    fn trig(kz2: Self, h: T) -> (Self, Self) {
        let kz = T::complex_root(kz2);
        let (s, c) = sin_cos(kz * h);
        (c, s / kz)
    }
}

/// Below this |kz²·h²| the Taylor series are used (10 terms reach full f64 precision).
const SERIES_LIMIT: f64 = 0.25;
/// Number of Taylor terms.
const SERIES_TERMS: usize = 10;

/// The propagator of one layer at one kz².
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prop<W, T> {
    /// kz² in the layer.
    pub kz2: W,
    /// Layer thickness.
    pub h: T,
    /// cos(kz·h).
    pub c: W,
    /// sin(kz·h)/kz.
    pub s: W,
    /// Whether |kz²·h²| is small enough for the series forms.
    small: bool,
}

impl<T: Real, W: Wave<T>> Prop<W, T> {
    /// Propagator of a layer of thickness `h` with vertical wavenumber² `kz2`.
    pub fn new(kz2: W, h: T) -> Self {
        let x = kz2 * (h * h);
        let small = x.modulus_sqr() < T::lit(SERIES_LIMIT * SERIES_LIMIT);
        let (c, s) = if small {
            // C = Σ (−x)ⁿ/(2n)!,  S = h·Σ (−x)ⁿ/(2n+1)!
            let (mut tc, mut ts) = (W::real(T::one()), W::real(h));
            let (mut c, mut s) = (tc, ts);
            for n in 1..SERIES_TERMS {
                let n2 = T::count(2 * n);
                tc = -(tc * x) / (n2 * (n2 - T::one()));
                ts = -(ts * x) / (n2 * (n2 + T::one()));
                c = c + tc;
                s = s + ts;
            }
            (c, s)
        } else {
            W::trig(kz2, h)
        };
        Prop {
            kz2,
            h,
            c,
            s,
            small,
        }
    }

    /// T = kz·sin(kz·h) = kz²·S.
    pub fn t(&self) -> W {
        self.kz2 * self.s
    }

    /// dC/d(kz²) = −h·S/2.
    pub fn dc(&self) -> W {
        -(self.s * self.h) / T::lit(2.0)
    }

    /// dS/d(kz²) = (h·C − S)/(2·kz²).
    pub fn ds(&self) -> W {
        if self.small {
            // h³·Σ_j (−1)^{j+1}(j+1)·x^j/(2j+3)!
            let x = self.kz2 * (self.h * self.h);
            let h3 = self.h * self.h * self.h;
            series(x, |j, fact| {
                let sign = if j % 2 == 0 { -T::one() } else { T::one() };
                sign * T::count(j + 1) / fact
            }) * h3
        } else {
            (self.c * self.h - self.s) / (self.kz2 * T::lit(2.0))
        }
    }

    /// d²S/d(kz²)² = (h·dC − 3·dS)/(2·kz²) away from kz² = 0, `None` near it (no
    /// series is kept: it only sharpens Newton's convergence test).
    pub fn d2s(&self) -> Option<W> {
        (!self.small)
            .then(|| (self.dc() * self.h - self.ds() * T::lit(3.0)) / (self.kz2 * T::lit(2.0)))
    }

    /// dT/d(kz²) = (S + h·C)/2.
    pub fn dt(&self) -> W {
        (self.s + self.c * self.h) / T::lit(2.0)
    }

    /// ∫₀ʰ cos²(kz·s) ds = (h + S·C)/2.
    pub fn int_cc(&self) -> W {
        (self.s * self.c + self.h) / T::lit(2.0)
    }

    /// ∫₀ʰ cos(kz·s)·sin(kz·s)/kz ds = S²/2.
    pub fn int_cs(&self) -> W {
        self.s * self.s / T::lit(2.0)
    }

    /// ∫₀ʰ (sin(kz·s)/kz)² ds = (h − S·C)/(2·kz²).
    pub fn int_ss(&self) -> W {
        if self.small {
            // h³·Σ_j (−1)^j·2^{2j+1}·x^j/(2j+3)!
            let x = self.kz2 * (self.h * self.h);
            let h3 = self.h * self.h * self.h;
            series(x, |j, fact| {
                let sign = if j % 2 == 0 { T::one() } else { -T::one() };
                sign * T::lit(2.0).powi(2 * j as i32 + 1) / fact
            }) * h3
        } else {
            (-(self.s * self.c) + self.h) / (self.kz2 * T::lit(2.0))
        }
    }

    /// Carries (u, v) = (ψ, ψ'/ρ) across the layer of density `rho`.
    pub fn apply(&self, rho: T, u: W, v: W) -> (W, W) {
        (
            self.c * u + self.s * v * rho,
            -(self.t() * u) / rho + self.c * v,
        )
    }

    /// Carries a state (u, v) and its γ-derivative (du, dv) across the layer;
    /// `dkz2` = d(kz²)/dγ = −2γ.
    pub fn tangent(&self, rho: T, s: [W; 4], dkz2: W) -> [W; 4] {
        let [u, v, du, dv] = s;
        let (u1, v1) = self.apply(rho, u, v);
        let (du1, dv1) = self.apply(rho, du, dv);
        let (dc, ds, dt) = (self.dc(), self.ds(), self.dt());
        [
            u1,
            v1,
            du1 + (dc * u + ds * v * rho) * dkz2,
            dv1 + (dc * v - dt * u / rho) * dkz2,
        ]
    }

    /// ∫ u²/ρ over the layer for the state (u, v) at its start.
    pub fn integral(&self, rho: T, u: W, v: W) -> W {
        let b = v * rho;
        (u * u * self.int_cc() + u * b * self.int_cs() * T::lit(2.0) + b * b * self.int_ss()) / rho
    }
}

/// Σ_{j<SERIES_TERMS} coef(j, (2j+3)!)·x^j, with the factorial passed in.
fn series<T: Real, W: Wave<T>>(x: W, coef: impl Fn(usize, T) -> T) -> W {
    let mut fact = T::lit(6.0); // 3!
    let mut pow = W::real(T::one());
    let mut sum = W::real(T::zero());
    for j in 0..SERIES_TERMS {
        sum = sum + pow * coef(j, fact);
        pow = pow * x;
        let a = T::count(2 * j + 4);
        fact = fact * a * (a + T::one());
    }
    sum
}

/// (sin z, cos z) of a complex z from one real sin_cos and one expm1 (about half the
/// cost of separate `sin` and `cos`); expm1 keeps sinh(Im z) accurate for the tiny
/// imaginary parts that carry the attenuation.
pub(crate) fn sin_cos<T: Real>(z: Complex<T>) -> (Complex<T>, Complex<T>) {
    let (s, c) = z.re.sine_cosine();
    if z.im == T::zero() {
        return (Complex::new(s, T::zero()), Complex::new(c, -T::zero() * s));
    }
    let (sinh, cosh) = sinh_cosh(z.im);
    (
        Complex::new(s * cosh, c * sinh),
        Complex::new(c * cosh, -(s * sinh)),
    )
}

/// (sinh b, cosh b). The imaginary parts that carry the attenuation are small (|b| ≲ 0.3
/// for mode shapes, layer phases and e^(ikr) at a few km), and there the Taylor series is
/// cheaper than expm1 (a libm call: 6 % of a gi-pekeris environment on the Cortex-M4)
/// and as accurate: with the terms up to b⁵ (sinh) and b⁶ (cosh) the first omitted ones
/// are b⁶/5040 and b⁸/40320 relative, under the type's half-ulp below |b| = 2⁻⁷ in f64
/// and |b| = 1/4 in f32. Elsewhere expm1 keeps the small-|b| accuracy that e^b − e^−b
/// would lose.
fn sinh_cosh<T: Real>(b: T) -> (T, T) {
    let taylor = if T::epsilon() > T::lit(1e-10) {
        T::lit(0.25)
    } else {
        T::lit(1.0 / 128.0)
    };
    if b.abs() < taylor {
        let b2 = b * b;
        let sinh = b * (T::one() + b2 / T::lit(6.0) * (T::one() + b2 / T::lit(20.0)));
        let cosh = T::one()
            + b2 / T::lit(2.0) * (T::one() + b2 / T::lit(12.0) * (T::one() + b2 / T::lit(30.0)));
        return (sinh, cosh);
    }
    let em = b.exp_m1(); // e^b − 1
    let ep = em + T::one(); // e^b
    let two = T::lit(2.0);
    (
        em * (em + two) / (two * ep),
        T::one() + em * em / (two * ep),
    )
}

/// sin(kz·z)/kz, accurate for small |kz·z| (including kz = 0).
pub(crate) fn sin_over<T: Real>(kz: Complex<T>, z: T) -> Complex<T> {
    let y = kz * z;
    if y.norm_sqr() < T::lit(1e-4) {
        // |y| < 1e-2, compared squared (no square root on the per-depth path)
        let y2 = y * y;
        // z·(1 − y²/6 + y⁴/120); the next term is below 2e-16 relative here.
        (Complex::new(T::one(), T::zero()) - y2 / T::lit(6.0) + y2 * y2 / T::lit(120.0)) * z
    } else {
        sin_cos(y).0 / kz
    }
}

/// Angle of the vector (u, w) reduced to [0, π): the Prüfer angle modulo π.
pub(crate) fn angle_mod_pi<T: Real>(u: T, w: T) -> T {
    let mut a = u.atan2(w);
    if a < T::zero() {
        a = a + T::PI();
    }
    if a >= T::PI() {
        a = a - T::PI();
    }
    a
}

/// Carries a real (u, v) across a layer and counts the zeros of u crossed.
///
/// Prüfer argument: write u = R·sin θ, ρ·v/kz = R·cos θ. In an oscillating layer
/// (kz² > 0) θ advances by exactly kz·h, and every multiple of π it passes is a zero of
/// u, so the count is round((θ₀ + kz·h − θ₁)/π) with θ₀, θ₁ taken modulo π from the
/// end states (robust to rounding: the rounding error is far below π/2). In an
/// evanescent or linear layer u has at most one zero, found from its signs.
pub(crate) fn step_counting<T: Real>(p: &Prop<T, T>, rho: T, u: T, v: T) -> (T, T, usize) {
    let (u1, v1) = p.apply(rho, u, v);
    let zeros = if p.kz2 > T::zero() {
        let kz = p.kz2.root();
        let a0 = angle_mod_pi(u, rho * v / kz);
        let a1 = angle_mod_pi(u1, rho * v1 / kz);
        let turns = ((a0 + kz * p.h - a1) / T::PI()).round();
        turns.to_usize().unwrap_or(0)
    } else {
        usize::from(u != T::zero() && (u1 == T::zero() || (u1 > T::zero()) != (u > T::zero())))
    };
    (u1, v1, zeros)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Series and closed forms agree where both are accurate (just above the switch).
    #[test]
    fn series_match_closed_forms() {
        for &(kz2, h) in &[(0.2401_f64, 1.0), (-0.2401, 1.0), (1e-6, 3.0), (0.02, 3.5)] {
            let p = Prop::<f64, f64>::new(kz2, h);
            let (c, s) = <f64 as Wave<f64>>::trig(kz2, h);
            assert!((p.c - c).abs() < 1e-14 && (p.s - s).abs() < 1e-14 * h);
            let closed_ds = (h * c - s) / (2.0 * kz2);
            let closed_ss = (h - s * c) / (2.0 * kz2);
            let tol = if kz2.abs() * h * h > 0.01 {
                1e-12
            } else {
                1e-4
            };
            assert!((p.ds() - closed_ds).abs() < tol * h.powi(3), "{kz2}");
            assert!((p.int_ss() - closed_ss).abs() < tol * h.powi(3), "{kz2}");
        }
    }

    #[test]
    fn zero_counting_matches_sine() {
        // Pure water layer from the surface: u = ρ·sin(kz z)/kz has ⌊kz·h/π⌋ zeros in (0, h].
        for &h in &[1.0_f64, 3.2, 9.5, 100.3] {
            let kz2 = 1.0;
            let p = Prop::<f64, f64>::new(kz2, h);
            let (_, _, n) = step_counting(&p, 1.3, 0.0, 1.0);
            assert_eq!(n, (h / core::f64::consts::PI).floor() as usize, "h = {h}");
        }
    }
}

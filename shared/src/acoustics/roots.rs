//! Root finders: Brent's method and a safeguarded Newton's method for bracketed real
//! roots, Newton's method in the complex plane for the lossy continuation.

use num_complex::Complex;

use super::scalar::Real;

/// What a bracket [a, b] with end values fa, fb settles before any iteration: a root at
/// an end (`Some(Some(end))`), or no root to find (`Some(None)`: the signs do not bracket
/// one, or an end value is not finite); `None` when the root finder has to iterate.
fn settled_by_ends<T: Real>(a: T, b: T, fa: T, fb: T) -> Option<Option<T>> {
    if fa == T::zero() {
        return Some(Some(a));
    }
    if fb == T::zero() {
        return Some(Some(b));
    }
    if (fa > T::zero()) == (fb > T::zero()) || !fa.is_finite() || !fb.is_finite() {
        return Some(None);
    }
    None
}

/// Brent's method (zeroin) for a root of `f` in [a, b], given f(a)·f(b) ≤ 0.
///
/// Superlinear and never leaves the bracket; stops when the bracket is a few ulps
/// wide (or narrower than `abs_tol`). Returns `None` if the signs do not bracket a root
/// or the iteration limit is hit.
pub(crate) fn brent<T: Real>(
    mut f: impl FnMut(T) -> T,
    a: T,
    b: T,
    fa: T,
    fb: T,
    abs_tol: T,
) -> Option<T> {
    let (mut a, mut b, mut fa, mut fb) = (a, b, fa, fb);
    if let Some(settled) = settled_by_ends(a, b, fa, fb) {
        return settled;
    }
    let two = T::lit(2.0);
    let half = T::lit(0.5);
    let eps = T::epsilon();
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..200 {
        if (fb > T::zero()) == (fc > T::zero()) {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol = two * eps * b.abs() + half * abs_tol;
        let xm = half * (c - b);
        if xm.abs() <= tol || fb == T::zero() {
            return Some(b);
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            // Inverse quadratic (or secant) step.
            let s = fb / fa;
            let (mut p, mut q);
            if a == c {
                p = two * xm * s;
                q = T::one() - s;
            } else {
                let qa = fa / fc;
                let r = fb / fc;
                p = s * (two * xm * qa * (qa - r) - (b - a) * (r - T::one()));
                q = (qa - T::one()) * (r - T::one()) * (s - T::one());
            }
            if p > T::zero() {
                q = -q;
            } else {
                p = -p;
            }
            let bound = (T::lit(3.0) * xm * q - (tol * q).abs()).smaller((e * q).abs());
            if two * p < bound {
                e = d;
                d = p / q;
            } else {
                d = xm;
                e = d;
            }
        } else {
            d = xm;
            e = d;
        }
        a = b;
        fa = fb;
        b = if d.abs() > tol {
            b + d
        } else if xm > T::zero() {
            b + tol
        } else {
            b - tol
        };
        fb = f(b);
        if !fb.is_finite() {
            return None;
        }
    }
    None
}

/// A safeguarded Newton's method (Press et al., *Numerical Recipes*, `rtsafe`) for a
/// root of `f` in [a, b], given f(a)·f(b) < 0 and `f` returning (f, f′).
///
/// Starts at the regula falsi point of the bracket, takes Newton steps while they stay
/// inside the shrinking bracket and shrink fast enough, and bisects otherwise, so it
/// never leaves the bracket. Stops when a step is a few ulps of x, or when quadratic
/// convergence (its constant from the last two steps) predicts that the next one would.
/// Where f′ is as cheap as f (the Pekeris lossless root: the same sin and cos), this
/// takes fewer evaluations than [`brent`]. Returns `None` if the signs do not bracket a
/// root or the iteration limit is hit.
pub(crate) fn newton_bracketed<T: Real>(
    mut f: impl FnMut(T) -> (T, T),
    a: T,
    b: T,
    fa: T,
    fb: T,
) -> Option<T> {
    if let Some(settled) = settled_by_ends(a, b, fa, fb) {
        return settled;
    }
    // f(lo) < 0 < f(hi)
    let (mut lo, mut hi) = if fa < T::zero() { (a, b) } else { (b, a) };
    let two = T::lit(2.0);
    let eps = T::epsilon();
    let loose = eps.root();
    let mut x = a - fa * (b - a) / (fb - fa);
    let mut dx = (b - a).abs();
    let mut last_newton = false;
    for _ in 0..100 {
        let (fx, dfx) = f(x);
        if !fx.is_finite() {
            return None;
        }
        if fx == T::zero() {
            return Some(x);
        }
        if fx < T::zero() {
            lo = x;
        } else {
            hi = x;
        }
        let dx_old = dx;
        // Newton if its step lands inside the bracket and at least halves the last one.
        let inside = dfx.is_finite()
            && dfx != T::zero()
            && ((x - hi) * dfx - fx) * ((x - lo) * dfx - fx) < T::zero()
            && (two * fx).abs() <= (dx_old * dfx).abs();
        if inside {
            dx = fx / dfx;
            x = x - dx;
        } else {
            dx = (hi - lo) / two;
            x = lo + dx;
        }
        let tol = two * eps * x.abs();
        if dx.abs() <= tol || (hi - lo).abs() <= tol {
            return Some(x);
        }
        // e_next ≈ C·dx² with C ≈ |dx|/dx_old²
        if inside && last_newton && dx.abs() <= loose * x.abs() {
            let next = dx.abs() / dx_old * dx.abs() / dx_old * dx.abs();
            if next <= tol {
                return Some(x);
            }
        }
        last_newton = inside;
    }
    None
}

/// F and dF/dγ at one point, and d²F/dγ² where a solver has it in closed form.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slope<T> {
    /// F(γ).
    pub f: Complex<T>,
    /// dF/dγ.
    pub df: Complex<T>,
    /// d²F/dγ², if known.
    pub d2f: Option<Complex<T>>,
}

/// Newton's method on an analytic function given as `x ↦` [`Slope`].
///
/// Stops when a step changes k² = k_b² + γ² by less than a few ulps of |k²| (`scale2`),
/// i.e. the wavenumber is converged, whatever the size of γ itself; or when quadratic
/// convergence predicts that the next step would (this saves the final confirming
/// evaluation): Newton's new error is C·step² with C = |F″/(2F′)| where F″ is known
/// (then one evaluation can suffice from a good start), or C estimated from the last
/// two steps. Sizes are compared squared: no modulus (a square root) per step.
pub(crate) fn newton<T: Real>(
    mut f: impl FnMut(Complex<T>) -> Slope<T>,
    x0: Complex<T>,
    scale2: T,
    max_iter: usize,
) -> Option<Complex<T>> {
    let mut x = x0;
    let tol = T::lit(8.0) * T::epsilon() * scale2;
    let tol2 = tol * tol;
    // (√ε·scale2)²
    let loose2 = T::epsilon() * scale2 * scale2;
    let four = T::lit(4.0);
    let mut last_change2 = T::infinity();
    let mut last_size2 = T::zero();
    for _ in 0..max_iter {
        let Slope {
            f: fx,
            df: dfx,
            d2f,
        } = f(x);
        if fx == Complex::new(T::zero(), T::zero()) {
            return Some(x);
        }
        let step = fx / dfx;
        if !(step.re.is_finite() && step.im.is_finite()) {
            return None;
        }
        x = x - step;
        // |δ(k²)|² = 4·|γ|²·|δγ|²
        let size2 = step.norm_sqr();
        let x2 = x.norm_sqr();
        let change2 = four * x2 * size2;
        if change2 <= tol2 {
            return Some(x);
        }
        if change2 <= loose2 {
            // e_next² = C²·size⁴
            let c2 = match d2f {
                Some(d2f) => (d2f / dfx).norm_sqr() / four,
                None if last_size2 > T::zero() => size2 / last_size2 / last_size2,
                None => T::infinity(),
            };
            let next2 = c2 * size2 * size2;
            if four * x2 * next2 <= tol2 {
                return Some(x);
            }
        }
        // At the rounding floor the change stops shrinking: accept if it is already tiny.
        if change2 >= last_change2 && change2 <= loose2 {
            return Some(x);
        }
        last_change2 = change2;
        last_size2 = size2;
    }
    None
}

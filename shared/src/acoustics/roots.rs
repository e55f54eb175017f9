//! Root finders: Brent's method for bracketed real roots, Newton's method in the
//! complex plane for the lossy continuation.

use num_complex::Complex;

use super::scalar::Real;

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
    if fa == T::zero() {
        return Some(a);
    }
    if fb == T::zero() {
        return Some(b);
    }
    if (fa > T::zero()) == (fb > T::zero()) || !fa.is_finite() || !fb.is_finite() {
        return None;
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
            let bound = (T::lit(3.0) * xm * q - (tol * q).abs()).min((e * q).abs());
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

/// Newton's method on an analytic function given as `x ↦ (f, f')`.
///
/// Stops when a step changes k² = k_b² + γ² by less than a few ulps of |k²| (`scale2`),
/// i.e. the wavenumber is converged, whatever the size of γ itself; or when quadratic
/// convergence, with its constant estimated from the last two steps, predicts that the
/// next step would (this saves the final confirming evaluation).
pub(crate) fn newton<T: Real>(
    mut f: impl FnMut(Complex<T>) -> (Complex<T>, Complex<T>),
    x0: Complex<T>,
    scale2: T,
    max_iter: usize,
) -> Option<Complex<T>> {
    let mut x = x0;
    let tol = T::lit(8.0) * T::epsilon() * scale2;
    let loose = T::epsilon().root() * scale2;
    let two = T::lit(2.0);
    let mut last_change = T::infinity();
    let mut last_step = T::zero();
    for _ in 0..max_iter {
        let (fx, dfx) = f(x);
        if fx == Complex::new(T::zero(), T::zero()) {
            return Some(x);
        }
        let step = fx / dfx;
        if !(step.re.is_finite() && step.im.is_finite()) {
            return None;
        }
        x = x - step;
        // |δ(k²)| = |2·γ·δγ|
        let size = T::complex_abs(step);
        let change = two * T::complex_abs(x) * size;
        if change <= tol {
            return Some(x);
        }
        if last_step > T::zero() && change <= loose {
            // e_next ≈ C·size² with C ≈ size/last_step²
            let next = size / (last_step * last_step) * size * size;
            if two * T::complex_abs(x) * next <= tol {
                return Some(x);
            }
        }
        // At the rounding floor the change stops shrinking: accept if it is already tiny.
        if change >= last_change && change <= loose {
            return Some(x);
        }
        last_change = change;
        last_step = size;
    }
    None
}

//! Independent references shared by the forward-model tests: a characteristic function
//! written from scratch and a zero count by the argument principle.
#![allow(dead_code)]

use num_complex::Complex64 as C64;
use vina_core::acoustics::{Layered, Medium};

/// Independent characteristic function of water / one sediment layer / half-space:
/// F(k) = u_t·w_b + v_t·u_b from the closed-form layer solutions, written here from
/// scratch in terms of k (γ = √(k² − k_b²) principal, analytic for Re k > Re k_b),
/// divided by the size of its two terms.
pub fn characteristic(case: &Layered<f64>, f: f64, k: C64) -> C64 {
    let w = 2.0 * std::f64::consts::PI * f;
    let kc = |m: &Medium<f64>| m.wavenumber(w);
    let kb = kc(&case.basement);
    let gamma = (k * k - kb * kb).sqrt();
    let kw = kc(&case.water);
    let kz = (kw * kw - k * k).sqrt();
    let d = case.depth;
    let (ut, vt) = (case.water.density * (kz * d).sin() / kz, (kz * d).cos());
    let (mut ub, mut wb) = (C64::new(1.0, 0.0), gamma / case.basement.density);
    for layer in case.sediment.iter().rev() {
        let kl = kc(&layer.medium);
        let kz = (kl * kl - k * k).sqrt();
        let (c, s) = (
            (kz * layer.thickness).cos(),
            (kz * layer.thickness).sin() / kz,
        );
        let r = layer.medium.density;
        (ub, wb) = (c * ub + s * wb * r, -(kz * kz * s / r) * ub + c * wb);
    }
    // Divided by a positive scale: zeros and winding unchanged, residuals comparable.
    (ut * wb + vt * ub) / ((ut * wb).norm() + (vt * ub).norm())
}

/// Number of zeros of `f` inside a rectangle of the k plane (argument principle, with
/// segments split until the phase of f turns by less than 0.3 rad along each).
pub fn zeros_in(f: impl Fn(C64) -> C64, re: (f64, f64), im: (f64, f64)) -> i64 {
    fn turn(f: &dyn Fn(C64) -> C64, a: C64, b: C64, fa: C64, fb: C64, depth: u32) -> f64 {
        let step = (fb / fa).arg();
        if step.abs() < 0.3 || depth == 0 {
            assert!(step.abs() < 1.0, "contour passes too close to a zero");
            return step;
        }
        let mid = (a + b) * 0.5;
        let fm = f(mid);
        turn(f, a, mid, fa, fm, depth - 1) + turn(f, mid, b, fm, fb, depth - 1)
    }
    let corners = [
        C64::new(re.0, im.0),
        C64::new(re.1, im.0),
        C64::new(re.1, im.1),
        C64::new(re.0, im.1),
    ];
    let mut total = 0.0;
    for side in 0..4 {
        let (a, b) = (corners[side], corners[(side + 1) % 4]);
        let n = 4000; // initial segments, fine enough that none turns by a full 2π
        let mut prev = f(a);
        for i in 1..=n {
            let (x0, x1) = (
                a + (b - a) * ((i - 1) as f64 / n as f64),
                a + (b - a) * (i as f64 / n as f64),
            );
            let next = f(x1);
            total += turn(&f, x0, x1, prev, next, 40);
            prev = next;
        }
    }
    (total / (2.0 * std::f64::consts::PI)).round() as i64
}

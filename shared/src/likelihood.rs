//! The exact log-likelihood of one observation under the simulator's noise model
//! (docs/architecture.md, "Scenarios, noise and features"), for both feature kinds; generic
//! over [`Real`] (f64 on the host, f32 on the buoy), no heap, no panics.
//!
//! The caller evaluates the clean pressure `g` with the forward model
//! ([`crate::acoustics`]), so this module knows nothing of scenarios. Noise model (the
//! simulator's, `vina-host`'s `observation::add_noise`): for tone f with receivers
//! r = 1…R, `p_f = g_f + n_f`, `n_f ~ CN(0, σ_f²·I)` (real and imaginary parts each
//! N(0, σ_f²/2)), independent across tones, with
//! `σ_f² = (1/R)·Σ_r |g_f,r|² / 10^(SNR/10)`, a known unit source.
//!
//! # Raw pressure
//! The complex Gaussian density, with respect to Lebesgue measure on ℝ^{2TR}:
//!
//! `log p(p | θ) = Σ_f [ −‖p_f − g_f‖²/σ_f² − R·ln(π·σ_f²) ]`.
//!
//! # Relative transfer function
//! The features are the direction `u_f = p_f·e^{−i·arg p_f,1}/‖p_f‖` (unit norm, receiver 1
//! real ≥ 0). Write `p = c·u` with c ∈ ℂ and u on the phase-fixed unit sphere,
//! parametrized by its free coordinates `w = (u_2, …, u_R) ∈ ℂ^k`, k = R − 1,
//! `u_1 = √(1 − ‖w‖²)`. The change of variables `(c, w) ↦ p` has Jacobian `|c|^{2k}`
//! (via `p = p_1·(1, z)`, `z = w/u_1`: `dp = |p_1|^{2k}·dp_1·dz`, `dp_1 = u_1²·dc`,
//! `dz = u_1^{−2k−2}·dw`). The density of u is then the Gaussian density of p with the
//! unknown complex scale c integrated out exactly:
//!
//! `p(u) = ∫_ℂ (πσ²)^{−R}·exp(−‖c·u − g‖²/σ²)·|c|^{2k} dc`.
//!
//! With `m = u^H·g` and `B = ‖g‖² − |m|²` (the energy of g off the direction u),
//! `‖c·u − g‖² = |c − m|² + B`, and the remaining integral is a non-central moment,
//! `E|X|^{2k} = k!·σ^{2k}·L_k(−|m|²/σ²)` for `X ~ CN(m, σ²)` (L_k the Laguerre
//! polynomial), so every power of σ cancels:
//!
//! `log p(u_f | θ) = −B/σ_f² + ln L_k(−|m|²/σ_f²) + ln k! − k·ln π`.
//!
//! This is a density with respect to Lebesgue measure on the free coordinates
//! `(Re u_2, Im u_2, …, Re u_R, Im u_R)` — the feature values after receiver 1's real
//! part, which they determine (as σ → ∞ it tends to `k!/π^k`, the uniform density on the
//! unit ball of ℝ^{2k}). Against the surface measure of the phase-fixed hemisphere
//! the density gains the factor u_1, which does not depend on θ.
//!
//! **Compared with the Bartlett processor.** With `s = 10^(SNR/10)`, σ_f² = ‖g_f‖²/(R·s),
//! and the normalized Bartlett power `β = |u^H g|²/‖g‖² ∈ [0, 1]`:
//! `log p = −R·s·(1 − β) + ln L_k(−R·s·β) + const`, increasing in β. The maximum-likelihood
//! estimate is the Bartlett maximizer, and the exact likelihood adds the temperature R·s
//! (how sharply the data discriminate) and the Laguerre term, `≈ k·ln β` at high SNR.
//! Because σ_f² scales with ‖g_f‖², the result is invariant under `g_f ↦ α_f·g_f` for any
//! complex α_f ≠ 0: an unknown source level and phase per tone drop out, so the same
//! likelihood is exact for the buoy's unknown source.
//!
//! `L_k(−a) = Σ_j C(k, j)·a^j/j!` has only positive terms; it is summed in log space
//! (log-sum-exp), so `a ≈ 500` (R = 5 at 20 dB) stays finite in f32. `B` is computed as
//! `‖g − m·u‖²`, a sum of squares, not as a difference.

use core::fmt;

use crate::acoustics::Real;
use crate::features::FeatureKind;

/// Which input a [`LikelihoodError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The observed features.
    Features,
    /// The modeled clean pressure.
    Pressure,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Features => "observed features",
            Self::Pressure => "modeled pressure",
        })
    }
}

/// Why a log-likelihood could not be evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LikelihoodError {
    /// An input's length does not match tones × receivers (or there are no receivers).
    Length {
        /// Which input.
        input: Input,
        /// Values required.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// An input value is NaN or infinite (`index` into the features, or the pressure
    /// entry `tone · R + receiver`).
    NonFinite {
        /// Which input.
        input: Input,
        /// Index of the offending value.
        index: usize,
    },
    /// The SNR is not finite or its noise variance 10^(−SNR/10) is not a positive finite
    /// number in this float type.
    Snr,
    /// The modeled pressure is zero at this tone (or the noise variance underflows), so
    /// the noise model is degenerate.
    Degenerate {
        /// Tone index.
        tone: usize,
    },
    /// A tone's observed relative transfer function is all zero (not a direction).
    ZeroObservation {
        /// Tone index.
        tone: usize,
    },
}

impl fmt::Display for LikelihoodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Length {
                input,
                expected,
                found,
            } => write!(
                f,
                "{input}: length mismatch: expected {expected} values, found {found}"
            ),
            Self::NonFinite { input, index } => {
                write!(f, "{input}: non-finite value at index {index}")
            }
            Self::Snr => f.write_str("SNR must be finite and give a positive noise variance"),
            Self::Degenerate { tone } => write!(
                f,
                "modeled pressure is zero at tone {tone}: the noise variance is zero"
            ),
            Self::ZeroObservation { tone } => write!(
                f,
                "observed relative transfer function is zero at tone {tone}"
            ),
        }
    }
}

impl core::error::Error for LikelihoodError {}

/// Checks that `observed` has the length `kind` gives for `tones` × `receivers` and only
/// finite values; returns that length.
pub(crate) fn check_observed<T: Real>(
    kind: FeatureKind,
    observed: &[T],
    tones: usize,
    receivers: usize,
) -> Result<usize, LikelihoodError> {
    let expected = kind.len(tones, receivers);
    if observed.len() != expected {
        return Err(LikelihoodError::Length {
            input: Input::Features,
            expected,
            found: observed.len(),
        });
    }
    if let Some(index) = observed.iter().position(|x| !x.is_finite()) {
        return Err(LikelihoodError::NonFinite {
            input: Input::Features,
            index,
        });
    }
    Ok(expected)
}

/// Exact log-likelihood `log p(observed | θ)` of the features `observed` (as
/// [`FeatureKind::compute`] lays them out) given the modeled clean pressure `clean`
/// (tone-major `[re, im]`, `clean[tone · receivers + receiver]`) under the simulator's
/// noise model at `snr_db` (module docs). Normalized: raw pressure against Lebesgue
/// measure on ℝ^{2TR}, relative transfer functions against Lebesgue measure on each tone's
/// free coordinates (receivers 2…R).
///
/// Relative-transfer-function features are taken as a direction: each tone's vector is
/// normalized here, so f32 rounding of the unit norm does not matter.
pub fn log_likelihood<T: Real>(
    kind: FeatureKind,
    observed: &[T],
    clean: &[[T; 2]],
    tones: usize,
    receivers: usize,
    snr_db: T,
) -> Result<T, LikelihoodError> {
    let n = tones * receivers;
    if clean.len() != n || receivers == 0 {
        return Err(LikelihoodError::Length {
            input: Input::Pressure,
            expected: n,
            found: clean.len(),
        });
    }
    let expected = check_observed(kind, observed, tones, receivers)?;
    if let Some(index) = clean
        .iter()
        .position(|c| !(c[0].is_finite() && c[1].is_finite()))
    {
        return Err(LikelihoodError::NonFinite {
            input: Input::Pressure,
            index,
        });
    }
    let inv_snr = inv_snr(snr_db).ok_or(LikelihoodError::Snr)?;
    let per_tone = expected / tones.max(1);
    let mut total = T::zero();
    for (tone, (g, o)) in clean
        .chunks_exact(receivers)
        .zip(observed.chunks_exact(per_tone.max(1)))
        .enumerate()
    {
        total = total
            + match kind {
                FeatureKind::RawPressure => raw_tone(o, g, inv_snr, tone)?,
                FeatureKind::RelativeTransferFunction => rtf_tone(o, g, inv_snr, tone)?,
            };
    }
    Ok(total)
}

/// The noise model's variance of one tone, σ_f² = (1/R)·Σ_r |g_f,r|²·10^(−SNR/10), from
/// its clean pressures `tone` (`[re, im]` per receiver): the one definition, with which
/// the simulator draws noise and the likelihood evaluates it. `None` for a silent tone
/// or an SNR that gives no finite, positive variance.
pub fn noise_variance<T: Real>(tone: &[[T; 2]], snr_db: T) -> Option<T> {
    let (big, s2) = scaled_variance(tone, inv_snr(snr_db)?)?;
    Some(s2 * big * big)
}

/// Noise variance per unit mean power, 10^(−SNR/10); `None` when not finite and positive.
fn inv_snr<T: Real>(snr_db: T) -> Option<T> {
    let v = T::lit(10.0).powf(-snr_db / T::lit(10.0));
    (snr_db.is_finite() && v.is_finite() && v > T::zero()).then_some(v)
}

/// Largest |component| of a complex vector.
fn max_abs<T: Real>(v: &[[T; 2]]) -> T {
    v.iter()
        .fold(T::zero(), |m, c| m.max(c[0].abs()).max(c[1].abs()))
}

/// The scale `big = max|g|` and the noise variance of `g/big`; `None` when degenerate.
fn scaled_variance<T: Real>(g: &[[T; 2]], inv_snr: T) -> Option<(T, T)> {
    let big = max_abs(g);
    if big == T::zero() {
        return None;
    }
    let inv_big = big.recip();
    let power = g
        .iter()
        .map(|c| {
            let (re, im) = (c[0] * inv_big, c[1] * inv_big);
            re * re + im * im
        })
        .fold(T::zero(), |a, b| a + b);
    let s2 = power / T::lit(g.len() as f64) * inv_snr;
    (s2 > T::zero() && s2.is_finite()).then_some((big, s2))
}

/// One tone of raw pressure: `−‖p − g‖²/σ² − R·ln(π·σ²)`, computed on `·/max|g|`.
fn raw_tone<T: Real>(o: &[T], g: &[[T; 2]], inv_snr: T, tone: usize) -> Result<T, LikelihoodError> {
    let (big, s2) = scaled_variance(g, inv_snr).ok_or(LikelihoodError::Degenerate { tone })?;
    let inv_big = big.recip();
    let q = o
        .chunks_exact(2)
        .zip(g)
        .map(|(p, c)| {
            let dr = p[0] * inv_big - c[0] * inv_big;
            let di = p[1] * inv_big - c[1] * inv_big;
            dr * dr + di * di
        })
        .fold(T::zero(), |a, b| a + b);
    let ln_sigma2 = s2.ln() + T::lit(2.0) * big.ln();
    let r = T::lit(g.len() as f64);
    Ok(-q / s2 - r * (T::PI().ln() + ln_sigma2))
}

/// One tone of relative-transfer-function features `[re₁, re₂, im₂, …]`:
/// `−B/σ² + ln L_k(−|m|²/σ²) + ln k! − k·ln π`.
fn rtf_tone<T: Real>(o: &[T], g: &[[T; 2]], inv_snr: T, tone: usize) -> Result<T, LikelihoodError> {
    let (big, s2) = scaled_variance(g, inv_snr).ok_or(LikelihoodError::Degenerate { tone })?;
    let inv_big = big.recip();
    // Observed direction, receiver j as (re, im); receiver 1's imaginary part is 0.
    let u = |j: usize| -> [T; 2] {
        if j == 0 {
            [o.first().copied().unwrap_or(T::zero()), T::zero()]
        } else {
            [
                o.get(2 * j - 1).copied().unwrap_or(T::zero()),
                o.get(2 * j).copied().unwrap_or(T::zero()),
            ]
        }
    };
    let u_big = o.iter().fold(T::zero(), |m, x| m.max(x.abs()));
    if u_big == T::zero() {
        return Err(LikelihoodError::ZeroObservation { tone });
    }
    let inv_u_big = u_big.recip();
    // v = u/max|u|; m = v^H h/‖v‖ with h = g/max|g|.
    let (mut nv2, mut m_re, mut m_im) = (T::zero(), T::zero(), T::zero());
    for (j, c) in g.iter().enumerate() {
        let [vr, vi] = u(j).map(|x| x * inv_u_big);
        let (hr, hi) = (c[0] * inv_big, c[1] * inv_big);
        nv2 = nv2 + vr * vr + vi * vi;
        // conj(v)·h
        m_re = m_re + vr * hr + vi * hi;
        m_im = m_im + vr * hi - vi * hr;
    }
    let inv_nv = nv2.sqrt().recip();
    let (m_re, m_im) = (m_re * inv_nv, m_im * inv_nv);
    // B = ‖h − m·û‖², û = v/‖v‖.
    let b = g
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let [vr, vi] = u(j).map(|x| x * inv_u_big * inv_nv);
            let dr = c[0] * inv_big - (m_re * vr - m_im * vi);
            let di = c[1] * inv_big - (m_re * vi + m_im * vr);
            dr * dr + di * di
        })
        .fold(T::zero(), |a, b| a + b);
    let lambda = (m_re * m_re + m_im * m_im) / s2;
    let b = b / s2;
    if !(lambda.is_finite() && b.is_finite()) {
        return Err(LikelihoodError::Degenerate { tone });
    }
    let k = g.len() - 1;
    Ok(-b + ln_laguerre_neg(k, lambda) + ln_factorial::<T>(k) - T::count(k) * T::PI().ln())
}

/// `ln k!` (k is a receiver count: small): one logarithm of the product while it is
/// finite (k ≤ 34 in f32), a sum of logarithms beyond.
fn ln_factorial<T: Real>(k: usize) -> T {
    let product = (2..=k).fold(T::one(), |acc, j| acc * T::count(j));
    if product.is_finite() {
        product.ln()
    } else {
        (2..=k).fold(T::zero(), |acc, j| acc + T::count(j).ln())
    }
}

/// Terms of [`ln_laguerre_neg`] kept between its two passes (receivers per tone); larger
/// `k` recomputes them.
const LAGUERRE_TERMS: usize = 64;

/// `ln L_k(−a)` for `a ≥ 0` (negative `a` is treated as 0), where
/// `L_k(−a) = Σ_{j=0}^{k} C(k, j)·a^j/j!` is the Laguerre polynomial at −a.
///
/// Every term is positive, so the sum is taken in log space (log-sum-exp over
/// `t_j = ln C(k, j) + j·ln a − ln j!`, built by the ratio `t_j − t_{j−1} =
/// ln a + ln((k − j + 1)/j²)`): finite for any finite `a`, in f32 too. NaN gives NaN.
/// One logarithm a term, the terms kept for the second pass: it runs for every tone of
/// every exact-likelihood evaluation on the buoy.
pub fn ln_laguerre_neg<T: Real>(k: usize, a: T) -> T {
    if a.is_nan() {
        return a;
    }
    if a <= T::zero() || k == 0 {
        return T::zero();
    }
    let ln_a = a.ln();
    let step = |j: usize| ln_a + (T::count(k - j + 1) / (T::count(j) * T::count(j))).ln();
    let mut terms = [T::zero(); LAGUERRE_TERMS];
    let (mut t, mut max) = (T::zero(), T::zero());
    for j in 1..=k {
        t = t + step(j);
        if let Some(slot) = terms.get_mut(j - 1) {
            *slot = t;
        }
        max = max.max(t);
    }
    let (mut t, mut sum) = (T::zero(), (-max).exp());
    for j in 1..=k {
        t = match terms.get(j - 1) {
            Some(&kept) => kept,
            None => t + step(j),
        };
        sum = sum + (t - max).exp();
    }
    max + sum.ln()
}

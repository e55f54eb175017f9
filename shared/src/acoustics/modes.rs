//! Fixed-capacity storage of the normal modes of one environment at one frequency.

use num_complex::Complex;

use super::error::AcousticsError;
use super::propagator::{sin_cos, sin_over};
use super::scalar::Real;

/// One normal mode: its horizontal wavenumber and what is needed to evaluate its
/// normalized shape ψ(z) in the water column.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Mode<T> {
    /// Horizontal wavenumber k_m (rad/m); Im k_m ≤ 0 (decay with FIELD's e^{−ikr}).
    pub k: Complex<T>,
    /// Vertical decay rate in the bottom half-space, γ = √(k² − k_b²), Re γ > 0.
    pub gamma: Complex<T>,
    /// Vertical wavenumber in the water, kz = √(k_w² − k²) (either sign; ψ is even in it).
    pub kz: Complex<T>,
    /// Shape coefficient b: in the water ψ(z) = b·sin(kz·z)/kz, with ψ normalized as in
    /// KRAKEN, ∫ψ²/ρ dz + ψ(H)²/(2·γ·ρ_b) = 1 (unconjugated squares for lossy modes).
    pub coef: Complex<T>,
}

impl<T: Real> Mode<T> {
    /// Normalized mode shape at depth z in the water column (0 ≤ z ≤ D; not checked).
    pub fn shape_in_water(&self, z: T) -> Complex<T> {
        self.coef * sin_over(self.kz, z)
    }

    /// Adds `a`·ψ(z) at each of `depths` (in the water; not checked) to `out`.
    ///
    /// sin(kz·z) is carried from one receiver to the next by angle addition, with
    /// sin/cos(kz·Δz) computed once while the spacing Δz repeats: an equally spaced
    /// array costs two complex sin/cos a mode instead of one a receiver (measured on the
    /// Cortex-M4: a twentieth of a gi-pekeris environment). Each addition rounds by a
    /// few ulps, so the error grows by that much a receiver. Where |kz·z| is small
    /// (kz → 0, where sin(kz·z)/kz needs its series) each depth is evaluated alone.
    pub(crate) fn add_shapes_in_water(&self, a: Complex<T>, depths: &[T], out: &mut [Complex<T>]) {
        let deepest = depths
            .iter()
            .fold(T::zero(), |m, &z| if z > m { z } else { m });
        if (self.kz * deepest).norm_sqr() < T::lit(1e-2) {
            for (p, &z) in out.iter_mut().zip(depths) {
                *p = *p + a * self.shape_in_water(z);
            }
            return;
        }
        let b = a * self.coef / self.kz;
        let mut last: Option<(T, Complex<T>, Complex<T>)> = None;
        let mut step: Option<(T, Complex<T>, Complex<T>)> = None;
        for (p, &z) in out.iter_mut().zip(depths) {
            let (s, c) = match last {
                Some((z0, s0, c0)) => {
                    let d = z - z0;
                    let (sd, cd) = match step {
                        Some((d0, sd, cd)) if d0 == d => (sd, cd),
                        _ => {
                            let (sd, cd) = sin_cos(self.kz * d);
                            step = Some((d, sd, cd));
                            (sd, cd)
                        }
                    };
                    (s0 * cd + c0 * sd, c0 * cd - s0 * sd)
                }
                None => sin_cos(self.kz * z),
            };
            *p = *p + b * s;
            last = Some((z, s, c));
        }
    }

    /// Phase speed ω/Re k (m/s).
    pub fn phase_speed(&self, omega: T) -> T {
        omega / self.k.re
    }
}

/// The modes of one environment at one frequency, in order of decreasing Re k
/// (mode 1 first), stored inline: no heap, capacity `N` chosen by the caller.
#[derive(Clone, Debug)]
pub struct ModeSet<T, const N: usize> {
    modes: [Mode<T>; N],
    len: usize,
    frequency: T,
    water_depth: T,
    lossless_count: usize,
    /// Whether [`Mode::shape_in_water`] holds (isovelocity water); with a sound-speed
    /// profile only the waveguide evaluates shapes.
    analytic_shapes: bool,
}

impl<T: Real, const N: usize> Default for ModeSet<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real, const N: usize> ModeSet<T, N> {
    /// An empty set (fill it with a solver's `modes`).
    pub fn new() -> Self {
        ModeSet {
            modes: [Mode::default(); N],
            len: 0,
            frequency: T::zero(),
            water_depth: T::zero(),
            lossless_count: 0,
            analytic_shapes: true,
        }
    }

    /// The stored modes, mode 1 first.
    pub fn modes(&self) -> &[Mode<T>] {
        self.modes.get(..self.len).unwrap_or(&[])
    }

    /// Number of modes kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no mode is trapped (e.g. below the first mode's cut-off frequency).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The fixed capacity `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Frequency the modes were computed at (Hz).
    pub fn frequency(&self) -> T {
        self.frequency
    }

    /// Angular frequency ω = 2πf.
    pub fn omega(&self) -> T {
        T::lit(2.0) * T::PI() * self.frequency
    }

    /// Water depth of the environment (m): sources and receivers must lie in [0, D].
    pub fn water_depth(&self) -> T {
        self.water_depth
    }

    /// Number of trapped modes of the same environment without attenuation. The lossy
    /// set can hold fewer (KRAKENC's rule drops a mode whose lossy phase speed reaches
    /// the bottom speed: the last mode in ~5 % of `gi-pekeris` draws) or, rarely, one
    /// more (a leaky mode just beyond cut-off that the attenuation makes proper).
    pub fn lossless_count(&self) -> usize {
        self.lossless_count
    }

    /// Whether the modes' shapes are [`Mode::shape_in_water`] (isovelocity water), so
    /// that [`ModeSet::pressure_at`] can evaluate the field without the waveguide.
    pub fn analytic_shapes(&self) -> bool {
        self.analytic_shapes
    }

    /// Keeps only the modes for which `keep` is true, in their order (mode 1 first):
    /// e.g. an Acoustics Toolbox phase-speed window CLOW ≤ ω/Re k ≤ CHIGH.
    pub fn retain(&mut self, mut keep: impl FnMut(&Mode<T>) -> bool) {
        let mut kept = 0;
        for i in 0..self.len {
            let Some(&mode) = self.modes.get(i) else {
                break;
            };
            if keep(&mode) {
                if let Some(slot) = self.modes.get_mut(kept) {
                    *slot = mode;
                }
                kept += 1;
            }
        }
        self.len = kept;
    }

    /// Keeps at most the first `n` modes (largest Re k): FIELD's mode limit M.
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }

    /// Empties the set and records the environment it will hold.
    pub(crate) fn reset(
        &mut self,
        frequency: T,
        water_depth: T,
        lossless_count: usize,
        analytic_shapes: bool,
    ) {
        self.len = 0;
        self.analytic_shapes = analytic_shapes;
        self.frequency = frequency;
        self.water_depth = water_depth;
        self.lossless_count = lossless_count;
    }

    /// Orders the modes by decreasing Re k (mode 1 first).
    pub(crate) fn sort(&mut self) {
        let len = self.len;
        if let Some(modes) = self.modes.get_mut(..len) {
            modes.sort_unstable_by(|a, b| {
                b.k.re
                    .partial_cmp(&a.k.re)
                    .unwrap_or(core::cmp::Ordering::Equal)
            });
        }
    }

    /// Appends a mode, or reports the capacity as too small.
    pub(crate) fn push(&mut self, mode: Mode<T>) -> Result<(), AcousticsError> {
        match self.modes.get_mut(self.len) {
            Some(slot) => {
                *slot = mode;
                self.len += 1;
                Ok(())
            }
            None => Err(AcousticsError::TooManyModes {
                needed: self.lossless_count.max(self.len + 1),
                capacity: N,
            }),
        }
    }
}

/// Most roots a [`Seeds`] keeps.
pub const SEED_CAPACITY: usize = 32;

/// The roots γ of one environment's modes at one frequency, kept to start the modes of a
/// nearby environment from them ([`Waveguide::modes_from`](super::Waveguide::modes_from)):
/// refinement solves hundreds of nearby θ (docs/architecture.md, "Forward model").
#[derive(Clone, Copy, Debug)]
pub struct Seeds<T> {
    gammas: [Complex<T>; SEED_CAPACITY],
    len: usize,
    frequency: T,
}

impl<T: Real> Default for Seeds<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real> Seeds<T> {
    /// No seeds.
    pub fn new() -> Self {
        Seeds {
            gammas: [Complex::new(T::zero(), T::zero()); SEED_CAPACITY],
            len: 0,
            frequency: T::zero(),
        }
    }

    /// The seeds for frequency `freq` (none if they were kept at another frequency).
    pub fn at(&self, freq: T) -> &[Complex<T>] {
        if freq == self.frequency {
            self.gammas.get(..self.len).unwrap_or(&[])
        } else {
            &[]
        }
    }

    /// Keeps the roots of `modes`, when they are the whole set: as many as the lossless
    /// problem has (no mode dropped by KRAKENC's rule, none added near cut-off) and no
    /// more than [`SEED_CAPACITY`]; forgets them otherwise.
    pub fn keep<const N: usize>(&mut self, modes: &ModeSet<T, N>) {
        let all = modes.modes();
        if all.len() == modes.lossless_count() && all.len() <= SEED_CAPACITY {
            for (g, m) in self.gammas.iter_mut().zip(all) {
                *g = m.gamma;
            }
            self.len = all.len();
            self.frequency = modes.frequency();
        } else {
            self.len = 0;
        }
    }
}

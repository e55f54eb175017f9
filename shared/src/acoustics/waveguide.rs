//! What a range-independent environment offers the rest of vina: modes at a frequency
//! and mode shapes at any depth.

use num_complex::Complex;

use super::error::AcousticsError;
use super::modes::{Mode, ModeSet};
use super::scalar::Real;

/// A range-independent waveguide solved by normal modes.
pub trait Waveguide<T: Real> {
    /// Water depth D (m); sources and receivers lie in [0, D].
    fn water_depth(&self) -> T;

    /// Checks every input (finite, positive, bottom faster than the water column, …).
    fn validate(&self) -> Result<(), AcousticsError>;

    /// Number of trapped modes of the lossless problem at `freq` (Hz), to size a
    /// [`ModeSet`]: allow one slot more (see [`ModeSet::lossless_count`]).
    fn lossless_mode_count(&self, freq: T) -> Result<usize, AcousticsError>;

    /// Fills `out` with the trapped modes at `freq` (Hz), mode 1 first.
    ///
    /// Modes kept follow KRAKENC run with c_high = the half-space speed: a mode is kept
    /// when its lossy root is proper (Re γ > 0) and its phase speed ω/Re k is below the
    /// (real) half-space speed. With a lossy bottom the last lossless mode can fail
    /// this and is then dropped, as KRAKENC does; a leaky mode just beyond cut-off can
    /// pass it and is then added. Errors: invalid input, [`AcousticsError::TooManyModes`],
    /// or [`AcousticsError::NoConvergence`] (never a wrong or duplicated mode).
    fn modes<const N: usize>(&self, freq: T, out: &mut ModeSet<T, N>)
    -> Result<(), AcousticsError>;

    /// [`modes`](Self::modes) started from `seeds`, the roots γ of a nearby environment's
    /// modes at the same frequency ([`super::Seeds`]): Newton's method from each, kept
    /// only when the guards of the search hold (same lossless count, every root proper
    /// and distinct), else the full search. Returns whether the seeds were used.
    fn modes_from<const N: usize>(
        &self,
        freq: T,
        seeds: &[Complex<T>],
        out: &mut ModeSet<T, N>,
    ) -> Result<bool, AcousticsError>;

    /// Normalized shape ψ(z) of `mode` (computed by [`modes`](Self::modes) at `freq`)
    /// at any depth z ≥ 0: water column, sediment layers or half-space.
    fn mode_shape(&self, freq: T, mode: &Mode<T>, z: T) -> Result<Complex<T>, AcousticsError>;
}

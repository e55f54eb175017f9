//! One range-independent environment (a draw of every physical parameter) as a waveguide,
//! and its pressure at tones and receivers: the only path from parameter values to
//! pressure. The simulator, `vina observe`, `vina synth`, the exact likelihood, refinement
//! and the buoy all reach the forward model through [`Environment::from_parameters`]
//! (through the scenario's [`crate::template::EnvironmentTemplate`]); `vina forward` builds
//! one from an Acoustics Toolbox `.env` file.

use num_complex::Complex;
use serde::{Deserialize, Serialize};

use crate::acoustics::{
    AcousticsError, Layer, Layered, Medium, ModeSet, Pekeris, Real, Seeds, SspPoint, Waveguide,
};
use crate::limits::{MAX_LAYERS, MAX_SSP_POINTS};
use crate::parameters::{
    BOTTOM, PARAM_COUNT, SEDIMENT, SEDIMENT_THICKNESS, SOURCE_DEPTH, SOURCE_RANGE, WATER,
    WATER_DEPTH,
};

/// Which waveguide the parameters describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaveguideKind {
    /// Isovelocity water over a fluid half-space (sediment parameters unused).
    Pekeris,
    /// Isovelocity water over one isovelocity sediment layer over a half-space.
    Layered,
}

/// One range-independent environment with its source position.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment<T> {
    /// Water depth (m).
    pub water_depth: T,
    /// Water column (with a profile, its speed is not used).
    pub water: Medium<T>,
    /// The water's sound-speed profile, C-linear and constant below its last point
    /// (`crate::acoustics` profile); empty: isovelocity water at `water.speed`.
    pub water_profile: heapless::Vec<SspPoint<T>, MAX_SSP_POINTS>,
    /// Sediment layers from the top down (empty: a Pekeris waveguide).
    pub sediment: heapless::Vec<Layer<T>, MAX_LAYERS>,
    /// Bottom (basement) half-space.
    pub bottom: Medium<T>,
    /// Source depth (m).
    pub source_depth: T,
    /// Source range (m).
    pub source_range: T,
}

impl<T: Real> Environment<T> {
    /// The environment of every parameter's value (`crate::parameters::PARAMETERS` order):
    /// the one place that says which value is which physical quantity.
    pub fn from_parameters(waveguide: WaveguideKind, v: &[T; PARAM_COUNT]) -> Self {
        let medium = |i: usize| Medium::new(v[i], v[i + 1], v[i + 2]);
        let mut sediment = heapless::Vec::new();
        if waveguide == WaveguideKind::Layered {
            // capacity ≥ 1: cannot fail
            let _ = sediment.push(Layer::new(v[SEDIMENT_THICKNESS], medium(SEDIMENT)));
        }
        Self {
            water_depth: v[WATER_DEPTH],
            water: medium(WATER),
            water_profile: heapless::Vec::new(),
            sediment,
            bottom: medium(BOTTOM),
            source_depth: v[SOURCE_DEPTH],
            source_range: v[SOURCE_RANGE],
        }
    }

    /// Trapped modes at `freq_hz` into `out`.
    pub fn modes<const N: usize>(
        &self,
        freq_hz: T,
        out: &mut ModeSet<T, N>,
    ) -> Result<(), AcousticsError> {
        if self.sediment.is_empty() && self.water_profile.is_empty() {
            Pekeris::new(self.water_depth, self.water, self.bottom).modes(freq_hz, out)
        } else {
            self.layered().modes(freq_hz, out)
        }
    }

    /// [`Environment::modes`] started from `seeds` (a nearby environment's roots at this
    /// frequency; see [`Waveguide::modes_from`]), which are then replaced by this
    /// environment's. Returns whether the seeds were used.
    pub fn modes_from<const N: usize>(
        &self,
        freq_hz: T,
        seeds: &mut Seeds<T>,
        out: &mut ModeSet<T, N>,
    ) -> Result<bool, AcousticsError> {
        let from = seeds.at(freq_hz);
        let warm = if self.sediment.is_empty() && self.water_profile.is_empty() {
            Pekeris::new(self.water_depth, self.water, self.bottom).modes_from(freq_hz, from, out)
        } else {
            self.layered().modes_from(freq_hz, from, out)
        };
        match warm {
            Ok(w) => {
                seeds.keep(out);
                Ok(w)
            }
            Err(e) => {
                *seeds = Seeds::new();
                Err(e)
            }
        }
    }

    /// The environment as a layered waveguide (any sediment, any profile).
    pub fn layered(&self) -> Layered<'_, T> {
        Layered::new(self.water_depth, self.water, &self.sediment, self.bottom)
            .with_profile(&self.water_profile)
    }

    /// Pressure of this environment's `modes` (from [`Environment::modes`]) at `range`
    /// and `receiver_depths` from its source depth, into `out` (one slot per receiver).
    pub fn pressure_of<const N: usize>(
        &self,
        modes: &ModeSet<T, N>,
        range: T,
        receiver_depths: &[T],
        out: &mut [Complex<T>],
    ) -> Result<(), AcousticsError> {
        if modes.analytic_shapes() {
            modes.pressure_at(self.source_depth, range, receiver_depths, out)
        } else {
            self.layered()
                .pressure_at(modes, self.source_depth, range, receiver_depths, out)
        }
    }

    /// Complex pressure of one tone at `receiver_depths` (KRAKEN FIELD's convention),
    /// into `out` (one slot per receiver); `modes` is the caller's mode buffer.
    pub fn tone_pressure<const N: usize>(
        &self,
        freq_hz: T,
        receiver_depths: &[T],
        modes: &mut ModeSet<T, N>,
        out: &mut [Complex<T>],
    ) -> Result<(), AcousticsError> {
        self.modes(freq_hz, modes)?;
        self.pressure_of(modes, self.source_range, receiver_depths, out)
    }

    /// Complex pressure at every tone and receiver, tone-major (`[tone · R + receiver]`),
    /// in KRAKEN FIELD's convention, with [`crate::limits::HOST_MODES`] modes on the heap.
    #[cfg(feature = "alloc")]
    pub fn pressure(
        &self,
        tones_hz: &[T],
        receiver_depths: &[T],
    ) -> Result<alloc::vec::Vec<Complex<T>>, AcousticsError> {
        use crate::limits::HOST_MODES;
        let zero = Complex::new(T::zero(), T::zero());
        let mut out = alloc::vec![zero; tones_hz.len() * receiver_depths.len()];
        let mut modes = alloc::boxed::Box::new(ModeSet::<T, HOST_MODES>::new());
        for (&f, row) in tones_hz
            .iter()
            .zip(out.chunks_mut(receiver_depths.len().max(1)))
        {
            self.tone_pressure(f, receiver_depths, &mut modes, row)?;
        }
        Ok(out)
    }
}

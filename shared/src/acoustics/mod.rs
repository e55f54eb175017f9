//! Range-independent normal-mode forward model, generic over f32/f64 (docs/architecture.md,
//! "Forward model").
//!
//! KRAKEN conventions throughout (Porter, *The KRAKEN normal mode program*; Jensen et
//! al., *Computational Ocean Acoustics*, ch. 5), checked against KRAKENC through the
//! `pelagic` port:
//! * complex sound speed c̃ = c + i·α·c²/ω for attenuation in dB/λ, so Im k < 0 and modes
//!   decay with FIELD's e^{−i·k·r};
//! * modes normalized as ∫ψ²/ρ dz + ψ(H)²/(2·γ·ρ_b) = 1 (densities in g/cm³);
//! * pressure p = i·√(2π)·e^{iπ/4}·Σ ψm(zs)·ψm(z)·e^{−i·km·r}/√(km·r), TL = −20·log10|p|;
//! * modes kept as KRAKENC keeps them with c_high = the half-space speed: lossy phase
//!   speed ω/Re k below the half-space speed.
//!
//! [`Pekeris`] solves isovelocity water over a half-space in closed form;
//! [`Layered`] adds isovelocity sediment layers, solved with exact layer propagators.
//! Both find every lossless trapped mode by bracketed root finding (Pekeris: analytic
//! brackets; layered: a Sturm count of mode shape zeros), carry each to the lossy root
//! by predictor–corrector continuation in the attenuation (`search`), and fill a
//! fixed-capacity [`ModeSet`] (no heap, typed errors, no panics). [`ModeSet::pressure_at`]
//! then evaluates the field at many receivers for one source term per mode.
//!
//! Precision (see `shared/tests/acoustics.rs`): f64 roots agree with exact Pekeris roots to
//! ~1e-16 and with fine-mesh KRAKENC to ~1e-11; in f32 (the Cortex-M4F) pressures on
//! `gi-pekeris` draws stay within 3.2e-4 of max|p| of f64 (the f32 rounding of k_m alone
//! moves the phase k_m·r ≈ 1,800 rad by ~1e-4 rad).
//!
//! ```
//! use vina_core::acoustics::{Medium, ModeSet, Pekeris, Waveguide};
//! let guide = Pekeris::new(220.0, Medium::lossless(1560.0, 1.0), Medium::new(1700.0, 1.5, 0.5));
//! let mut modes = ModeSet::<f64, 32>::new();
//! guide.modes(148.0, &mut modes)?;
//! let mut p = [num_complex::Complex::new(0.0, 0.0); 2];
//! modes.pressure_at(60.0, 3000.0, &[30.0, 70.0], &mut p)?;
//! # Ok::<(), vina_core::acoustics::AcousticsError>(())
//! ```

mod error;
mod field;
mod layered;
mod medium;
mod modes;
mod pekeris;
mod profile;
mod propagator;
mod roots;
mod scalar;
mod search;
pub(crate) mod single;
mod waveguide;

pub use error::{AcousticsError, Param};
pub use field::{amplitude_from_dft, tone_signal, transmission_loss};
pub use layered::{Layer, Layered};
pub use medium::Medium;
pub use modes::{Mode, ModeSet, SEED_CAPACITY, Seeds};
pub use pekeris::Pekeris;
pub use profile::{
    MAX_PHASE_STEP, MAX_SPEED_STEP, SspPoint, speed_at, validate as validate_profile,
};
pub use scalar::Real;
pub use waveguide::Waveguide;

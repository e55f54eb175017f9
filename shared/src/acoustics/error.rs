//! Typed errors of the forward model: every bad input has a variant, nothing panics.

use core::fmt;

/// Which input a [`AcousticsError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// Water depth D (m).
    WaterDepth,
    /// Frequency (Hz).
    Frequency,
    /// Sound speed of the water (m/s).
    WaterSpeed,
    /// Density of the water (g/cm³).
    WaterDensity,
    /// Attenuation of the water (dB/λ).
    WaterAttenuation,
    /// Sound speed of the bottom half-space (m/s).
    BottomSpeed,
    /// Density of the bottom half-space (g/cm³).
    BottomDensity,
    /// Attenuation of the bottom half-space (dB/λ).
    BottomAttenuation,
    /// Thickness of sediment layer `i` (0 = just below the water), m.
    LayerThickness(usize),
    /// Sound speed of sediment layer `i` (m/s).
    LayerSpeed(usize),
    /// Density of sediment layer `i` (g/cm³).
    LayerDensity(usize),
    /// Attenuation of sediment layer `i` (dB/λ).
    LayerAttenuation(usize),
    /// Source depth (m).
    SourceDepth,
    /// Depth of receiver `i` (m).
    ReceiverDepth(usize),
    /// Depth at which a mode shape was asked for (m).
    Depth,
    /// Horizontal source–receiver range (m).
    Range,
    /// Depth of sound-speed profile point `i` (m).
    ProfileDepth(usize),
    /// Sound speed of sound-speed profile point `i` (m/s).
    ProfileSpeed(usize),
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::WaterDepth => f.write_str("water depth"),
            Param::Frequency => f.write_str("frequency"),
            Param::WaterSpeed => f.write_str("water sound speed"),
            Param::WaterDensity => f.write_str("water density"),
            Param::WaterAttenuation => f.write_str("water attenuation"),
            Param::BottomSpeed => f.write_str("bottom sound speed"),
            Param::BottomDensity => f.write_str("bottom density"),
            Param::BottomAttenuation => f.write_str("bottom attenuation"),
            Param::LayerThickness(i) => write!(f, "thickness of sediment layer {i}"),
            Param::LayerSpeed(i) => write!(f, "sound speed of sediment layer {i}"),
            Param::LayerDensity(i) => write!(f, "density of sediment layer {i}"),
            Param::LayerAttenuation(i) => write!(f, "attenuation of sediment layer {i}"),
            Param::SourceDepth => f.write_str("source depth"),
            Param::ReceiverDepth(i) => write!(f, "depth of receiver {i}"),
            Param::Depth => f.write_str("depth"),
            Param::Range => f.write_str("range"),
            Param::ProfileDepth(i) => write!(f, "depth of sound-speed profile point {i}"),
            Param::ProfileSpeed(i) => write!(f, "sound speed of profile point {i}"),
        }
    }
}

/// Why the forward model refused an input or could not produce modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcousticsError {
    /// An input is NaN or infinite.
    NotFinite(Param),
    /// An input that must be strictly positive is zero or negative.
    NotPositive(Param),
    /// An attenuation is negative (it would be gain, and modes would grow with range).
    NegativeAttenuation(Param),
    /// The bottom half-space is not faster than the water (Pekeris: c2 ≤ c1) or, for a
    /// layered seabed, than the slowest layer: there are no trapped modes.
    NoTrappedModes,
    /// A source or receiver depth is above the surface or below the seabed (sources and
    /// receivers must lie in the water column, 0 ≤ z ≤ D).
    OutsideWater(Param),
    /// The mode set's fixed capacity is too small for the trapped modes.
    TooManyModes {
        /// Number of trapped modes of the lossless problem (the lossy set can differ by
        /// one; see [`ModeSet::lossless_count`](super::ModeSet::lossless_count)).
        needed: usize,
        /// Capacity of the [`ModeSet`](super::ModeSet).
        capacity: usize,
    },
    /// The root finder did not converge for a mode (1-based), e.g. two modes closer than
    /// the float precision, or a numerical overflow in a very thick evanescent layer.
    NoConvergence {
        /// 1-based mode number.
        mode: usize,
    },
    /// A sound-speed profile without points.
    EmptyProfile,
    /// A sound-speed profile whose first point is not at the surface (z = 0).
    ProfileStart,
    /// Sound-speed profile point `i` is not deeper than the point before it.
    ProfileNotIncreasing(usize),
    /// [`ModeSet::pressure_at`](super::ModeSet::pressure_at) on modes of a water column
    /// with a sound-speed profile, whose shapes only the waveguide can evaluate (use
    /// `Layered::pressure_at`).
    ShapesNeedWaveguide,
    /// `pressure_at` got different numbers of receiver depths and output slots.
    LengthMismatch {
        /// Receiver depths given.
        receivers: usize,
        /// Output slots given.
        outputs: usize,
    },
}

impl fmt::Display for AcousticsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcousticsError::NotFinite(p) => write!(f, "{p} is not a finite number"),
            AcousticsError::NotPositive(p) => write!(f, "{p} must be positive"),
            AcousticsError::NegativeAttenuation(p) => write!(f, "{p} must not be negative"),
            AcousticsError::NoTrappedModes => f.write_str(
                "the bottom half-space must be faster than the water column (no trapped modes)",
            ),
            AcousticsError::OutsideWater(p) => {
                write!(f, "{p} lies outside the water column (0 ≤ z ≤ water depth)")
            }
            AcousticsError::TooManyModes { needed, capacity } => write!(
                f,
                "{needed} trapped modes do not fit a mode set of capacity {capacity}"
            ),
            AcousticsError::NoConvergence { mode } => {
                write!(f, "eigenvalue search did not converge for mode {mode}")
            }
            AcousticsError::EmptyProfile => f.write_str("the sound-speed profile has no points"),
            AcousticsError::ProfileStart => {
                f.write_str("the sound-speed profile must start at the surface (z = 0 m)")
            }
            AcousticsError::ProfileNotIncreasing(i) => write!(
                f,
                "sound-speed profile point {i} is not deeper than the point before it"
            ),
            AcousticsError::ShapesNeedWaveguide => f.write_str(
                "modes of a water column with a sound-speed profile: evaluate the field through the waveguide",
            ),
            AcousticsError::LengthMismatch { receivers, outputs } => {
                write!(f, "{receivers} receiver depths but {outputs} output slots")
            }
        }
    }
}

impl core::error::Error for AcousticsError {}

//! Element-wise activations of the subnet MLPs.

use serde::{Deserialize, Serialize};

/// Activation applied after a dense layer.
///
/// Model files store the variant index (postcard), so the order of the variants is part of
/// the `.vina` format; human-readable formats spell the variants in snake case.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// No activation (the output layer of a subnet).
    Identity,
    /// max(0, x).
    Relu,
    /// x for x ≥ 0, slope·x otherwise.
    LeakyRelu(f32),
    /// Exact GELU, x·Φ(x) with the error function (PyTorch's and Burn's default).
    Gelu,
    /// Hyperbolic tangent.
    Tanh,
}

impl Activation {
    /// The snake-case name (`"identity"`, `"relu"`, `"leaky_relu"`, `"gelu"`, `"tanh"`), as
    /// a training config spells it; LeakyReLU's slope is not part of it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Relu => "relu",
            Self::LeakyRelu(_) => "leaky_relu",
            Self::Gelu => "gelu",
            Self::Tanh => "tanh",
        }
    }

    /// The activation [`Self::name`] spells `name`, LeakyReLU with `leaky_slope`.
    pub fn from_name(name: &str, leaky_slope: f32) -> Option<Self> {
        Some(match name {
            "identity" => Self::Identity,
            "relu" => Self::Relu,
            "leaky_relu" => Self::LeakyRelu(leaky_slope),
            "gelu" => Self::Gelu,
            "tanh" => Self::Tanh,
            _ => return None,
        })
    }

    /// Apply in place.
    pub fn apply(self, values: &mut [f32]) {
        match self {
            Self::Identity => {}
            // a compare and a select (`f32::max` costs ~18 instructions a value on the
            // Cortex-M4: its NaN rule goes through a library call); the same values,
            // NaN included (max(NaN, 0) = 0)
            Self::Relu => values.iter_mut().for_each(|v| {
                if *v <= 0.0 || v.is_nan() {
                    *v = 0.0
                }
            }),
            Self::LeakyRelu(slope) => values.iter_mut().for_each(|v| {
                if *v < 0.0 {
                    *v *= slope
                }
            }),
            Self::Gelu => values.iter_mut().for_each(|v| {
                *v = 0.5 * *v * (1.0 + libm::erff(*v * core::f32::consts::FRAC_1_SQRT_2))
            }),
            Self::Tanh => values.iter_mut().for_each(|v| *v = libm::tanhf(*v)),
        }
    }

    /// Apply to one value.
    pub fn eval(self, v: f32) -> f32 {
        let mut a = [v];
        self.apply(&mut a);
        a[0]
    }

    /// True when the parameters are usable (finite slope in [0, 1] for LeakyReLU).
    pub fn is_valid(self) -> bool {
        match self {
            Self::LeakyRelu(s) => s.is_finite() && (0.0..=1.0).contains(&s),
            _ => true,
        }
    }

    /// Largest slope |f'(x)| (used by the int8 error bound): ≤ 1 except GELU (≈1.129).
    pub fn lipschitz(self) -> f32 {
        match self {
            Self::Gelu => 1.13,
            _ => 1.0,
        }
    }
}

//! Element-wise activations of the subnet MLPs.

use serde::{Deserialize, Serialize};

/// Activation applied after a dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Apply in place.
    pub fn apply(self, values: &mut [f32]) {
        match self {
            Self::Identity => {}
            Self::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
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

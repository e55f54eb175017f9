//! Burn twins of `vina-core`'s dense layers and MLPs, parameter for parameter.
//!
//! Burn keeps a dense weight as `[in, out]` (so a batch is `x·W`); the `.vina` file and
//! `vina-core` keep it row-major `[out][in]`. [`DenseLayer::to_spec`] and
//! [`DenseLayer::from_spec`] transpose, so export is a plain weight copy.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData, activation};
use vina_core::layers::Activation;
use vina_core::rng::Rng;
use vina_core::spec::DenseSpec;

/// Host copy of a float tensor's values.
pub fn to_vec<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.try_to_vec_as::<f32>()
        .expect("a float tensor reads back as Vec<f32>")
}

/// A `[rows, cols]` tensor from row-major values.
pub fn tensor2(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// A rank-1 tensor from values.
pub fn tensor1(values: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// Apply a `vina-core` activation to a batch, with the same formula the firmware uses.
pub fn activate(x: Tensor<2>, act: Activation) -> Tensor<2> {
    match act {
        Activation::Identity => x,
        Activation::Relu => activation::relu(x),
        Activation::LeakyRelu(slope) => activation::leaky_relu(x, f64::from(slope)),
        // Burn's `gelu` is the exact erf form, as in vina-core.
        Activation::Gelu => activation::gelu(x),
        Activation::Tanh => activation::tanh(x),
    }
}

/// `out = act(x·W + b)`.
#[derive(Module, Debug)]
pub struct DenseLayer {
    /// Weights, `[in, out]` (Burn's layout).
    pub weight: Param<Tensor<2>>,
    /// Bias, `[out]`.
    pub bias: Param<Tensor<1>>,
    /// Activation after the affine map.
    #[module(skip)]
    pub activation: Activation,
}

impl DenseLayer {
    /// PyTorch's default initialization, U(±1/√fan_in) for weights and bias, with the
    /// weights scaled by `weight_scale` (0 gives an exact identity coupling at the start).
    pub fn init(
        n_in: usize,
        n_out: usize,
        activation: Activation,
        weight_scale: f32,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let a = 1.0 / (n_in as f32).sqrt();
        let mut uniform = |n: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|_| scale * a * (2.0 * rng.uniform_f32() - 1.0))
                .collect()
        };
        let w = uniform(n_in * n_out, weight_scale);
        let b = uniform(n_out, weight_scale);
        Self {
            weight: Param::from_tensor(tensor2(w, n_in, n_out, device)),
            bias: Param::from_tensor(tensor1(b, device)),
            activation,
        }
    }

    /// Copy a spec's weights (row-major `[out][in]`), transposing to Burn's layout.
    pub fn from_spec(spec: &DenseSpec, device: &Device) -> Self {
        let w = tensor2(spec.weights.clone(), spec.out_dim, spec.in_dim, device).transpose();
        Self {
            weight: Param::from_tensor(w),
            bias: Param::from_tensor(tensor1(spec.bias.clone(), device)),
            activation: spec.activation,
        }
    }

    /// Export as a spec: weights transposed to row-major `[out][in]`.
    pub fn to_spec(&self) -> DenseSpec {
        let [n_in, n_out] = self.weight.val().dims();
        DenseSpec {
            in_dim: n_in,
            out_dim: n_out,
            activation: self.activation,
            weights: to_vec(&self.weight.val().transpose()),
            bias: to_vec(&self.bias.val()),
        }
    }

    /// Forward pass on a batch `[n, in]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = x.matmul(self.weight.val()) + self.bias.val().unsqueeze::<2>();
        activate(y, self.activation)
    }
}

/// A chain of dense layers (a coupling subnet, the condition network or the critic).
#[derive(Module, Debug)]
pub struct Mlp {
    /// Layers, input first.
    pub layers: Vec<DenseLayer>,
}

impl Mlp {
    /// An MLP with the given widths (input, hidden…, output): `hidden_act` after every
    /// layer but the last, which gets `last_act` and weights scaled by `last_scale`.
    pub fn init(
        widths: &[usize],
        hidden_act: Activation,
        last_act: Activation,
        last_scale: f32,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let n = widths.len().saturating_sub(1);
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let last = i + 1 == n;
                let (act, scale) = if last {
                    (last_act, last_scale)
                } else {
                    (hidden_act, 1.0)
                };
                DenseLayer::init(w[0], w[1], act, scale, rng, device)
            })
            .collect();
        Self { layers }
    }

    /// Copy a spec's layers.
    pub fn from_spec(specs: &[DenseSpec], device: &Device) -> Self {
        Self {
            layers: specs
                .iter()
                .map(|s| DenseLayer::from_spec(s, device))
                .collect(),
        }
    }

    /// Export as specs.
    pub fn to_spec(&self) -> Vec<DenseSpec> {
        self.layers.iter().map(DenseLayer::to_spec).collect()
    }

    /// Forward pass on a batch.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.layers.iter().fold(x, |h, l| l.forward(h))
    }

    /// Output width (0 for an empty MLP).
    pub fn out_dim(&self) -> usize {
        self.layers.last().map_or(0, |l| l.bias.val().dims()[0])
    }
}

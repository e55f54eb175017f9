//! Burn twins of `vina-core`'s flow layers and the two model kinds
//! (docs/architecture.md, "Models and losses").
//!
//! Conventions are FrEIA's, exactly as in `vina_core::layers::coupling`: halves
//! `len1 = d/2`, `len2 = d − len1`; subnet outputs `[s | t]`; soft clamp
//! `ŝ = (2·clamp/π)·atan(s/clamp)`; the condition is concatenated after the half in each
//! subnet's first-layer input; ActNorm `y = x·exp(log_scale) + bias`; permutation
//! `y[i] = x[perm[i]]`. Every forward returns the output and log|det J| per sample, and
//! every inverse is exact (up to rounding).

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use vina_core::layers::{Activation, CouplingStyle};
use vina_core::model_file::ModelKind;
use vina_core::rng::Rng;
use vina_core::spec::{Architecture, FlowSpec, ModelSpec};

use super::modules::{Mlp, tensor1, to_vec};

/// Per-sample zeros to start a log-determinant sum.
fn zeros_like_batch(x: &Tensor<2>) -> Tensor<1> {
    Tensor::zeros([x.dims()[0]], &x.device())
}

/// Learned per-dimension affine map, `y = x·exp(log_scale) + bias`.
#[derive(Module, Debug)]
pub struct ActNormLayer {
    /// log of the scale, `[d]`.
    pub log_scale: Param<Tensor<1>>,
    /// Shift, `[d]`.
    pub bias: Param<Tensor<1>>,
}

impl ActNormLayer {
    /// From explicit values.
    pub fn new(log_scale: Vec<f32>, bias: Vec<f32>, device: &Device) -> Self {
        Self {
            log_scale: Param::from_tensor(tensor1(log_scale, device)),
            bias: Param::from_tensor(tensor1(bias, device)),
        }
    }

    fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let ls = self.log_scale.val();
        let ld = zeros_like_batch(&x) + ls.clone().sum();
        let y = x * ls.exp().unsqueeze::<2>() + self.bias.val().unsqueeze::<2>();
        (y, ld)
    }

    fn inverse(&self, y: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let ls = self.log_scale.val();
        let ld = zeros_like_batch(&y) - ls.clone().sum();
        let x = (y - self.bias.val().unsqueeze::<2>()) * ls.neg().exp().unsqueeze::<2>();
        (x, ld)
    }
}

/// Bounded output, `w = logit((v − lo)/(hi − lo))` (no parameters; the twin of
/// `vina_core::layers::Bounded`, same clamp at the box's edges).
#[derive(Module, Debug)]
pub struct BoundedLayer {
    /// Lower bounds, normalized units.
    #[module(skip)]
    pub lo: Vec<f32>,
    /// Upper bounds, normalized units.
    #[module(skip)]
    pub hi: Vec<f32>,
}

impl BoundedLayer {
    fn lo_width(&self, device: &Device) -> (Tensor<2>, Tensor<2>) {
        let width: Vec<f32> = self.lo.iter().zip(&self.hi).map(|(l, h)| h - l).collect();
        (
            tensor1(self.lo.clone(), device).unsqueeze::<2>(),
            tensor1(width, device).unsqueeze::<2>(),
        )
    }

    fn forward(&self, v: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let (lo, width) = self.lo_width(&v.device());
        let edge = vina_core::layers::bounded::EDGE;
        let t = ((v - lo) / width.clone()).clamp(edge, 1.0 - edge);
        let (ln_t, ln_1mt) = (t.clone().log(), t.neg().add_scalar(1.0).log());
        let w = ln_t.clone() - ln_1mt.clone();
        let ld = (ln_t + ln_1mt + width.log())
            .sum_dim(1)
            .squeeze_dim::<1>(1)
            .neg();
        (w, ld)
    }

    fn inverse(&self, w: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let (lo, width) = self.lo_width(&w.device());
        let s = burn::tensor::activation::sigmoid(w.clone());
        let ln_s = burn::tensor::activation::log_sigmoid(w.clone());
        let ln_1ms = burn::tensor::activation::log_sigmoid(w.neg());
        let ld = (ln_s + ln_1ms + width.clone().log())
            .sum_dim(1)
            .squeeze_dim::<1>(1);
        (lo + width * s, ld)
    }
}

/// Fixed permutation `y[i] = x[perm[i]]` (no parameters).
#[derive(Module, Debug)]
pub struct PermuteLayer {
    /// Source index of each output.
    #[module(skip)]
    pub perm: Vec<u16>,
}

impl PermuteLayer {
    fn gather(x: Tensor<2>, idx: impl Iterator<Item = usize>) -> Tensor<2> {
        let idx: Vec<i64> = idx.map(|i| i as i64).collect();
        let n = idx.len();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &x.device());
        x.select(1, idx)
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        Self::gather(x, self.perm.iter().map(|&i| usize::from(i)))
    }

    fn inverse(&self, y: Tensor<2>) -> Tensor<2> {
        let mut inv = vec![0usize; self.perm.len()];
        for (i, &p) in self.perm.iter().enumerate() {
            inv[usize::from(p)] = i;
        }
        Self::gather(y, inv.into_iter())
    }
}

/// Affine coupling block (GLOW two-sided or RealNVP one-sided) with soft-clamped scales.
#[derive(Module, Debug)]
pub struct CouplingLayer {
    /// Subnets in FrEIA order: subnet 0 maps `len1 (+c) → 2·len2`, subnet 1 (GLOW only)
    /// maps `len2 (+c) → 2·len1`.
    pub subnets: Vec<Mlp>,
    /// GLOW or RealNVP.
    #[module(skip)]
    pub style: CouplingStyle,
    /// Soft-clamp level.
    #[module(skip)]
    pub clamp: f32,
    /// Flow dimension.
    #[module(skip)]
    pub dim: usize,
}

/// Soft clamp `(2·clamp/π)·atan(s/clamp)`, as `vina_core::layers::coupling::soft_clamp`.
pub fn soft_clamp(s: Tensor<2>, clamp: f32) -> Tensor<2> {
    s.div_scalar(clamp)
        .atan()
        .mul_scalar(std::f32::consts::FRAC_2_PI * clamp)
}

/// The subnet input: the half, then the condition (if any).
fn with_condition(x: Tensor<2>, c: Option<&Tensor<2>>) -> Tensor<2> {
    match c {
        Some(c) => Tensor::cat(vec![x, c.clone()], 1),
        None => x,
    }
}

/// Split `[s | t]` and soft-clamp `s`.
fn scale_shift(st: Tensor<2>, len: usize, clamp: f32) -> (Tensor<2>, Tensor<2>) {
    let s = soft_clamp(st.clone().narrow(1, 0, len), clamp);
    (s, st.narrow(1, len, len))
}

impl CouplingLayer {
    fn split(&self) -> (usize, usize) {
        (self.dim / 2, self.dim - self.dim / 2)
    }

    /// `x·exp(ŝ) + t` for the half `x`; returns it and Σŝ per sample.
    fn affine(&self, x: Tensor<2>, st: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let len = x.dims()[1];
        let (s, t) = scale_shift(st, len, self.clamp);
        let ld = s.clone().sum_dim(1).squeeze_dim::<1>(1);
        (x * s.exp() + t, ld)
    }

    /// `(y − t)·exp(−ŝ)`; returns it and −Σŝ per sample.
    fn affine_inverse(&self, y: Tensor<2>, st: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let len = y.dims()[1];
        let (s, t) = scale_shift(st, len, self.clamp);
        let ld = s.clone().sum_dim(1).squeeze_dim::<1>(1).neg();
        ((y - t) * s.neg().exp(), ld)
    }

    fn forward(&self, x: Tensor<2>, c: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<1>) {
        let (len1, len2) = self.split();
        let x1 = x.clone().narrow(1, 0, len1);
        let x2 = x.narrow(1, len1, len2);
        let mut ld = zeros_like_batch(&x1);
        let y1 = if self.style == CouplingStyle::Glow {
            let st = self.subnets[1].forward(with_condition(x2.clone(), c));
            let (y1, l) = self.affine(x1, st);
            ld = ld + l;
            y1
        } else {
            x1
        };
        let st = self.subnets[0].forward(with_condition(y1.clone(), c));
        let (y2, l) = self.affine(x2, st);
        (Tensor::cat(vec![y1, y2], 1), ld + l)
    }

    fn inverse(&self, y: Tensor<2>, c: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<1>) {
        let (len1, len2) = self.split();
        let y1 = y.clone().narrow(1, 0, len1);
        let y2 = y.narrow(1, len1, len2);
        let st = self.subnets[0].forward(with_condition(y1.clone(), c));
        let (x2, mut ld) = self.affine_inverse(y2, st);
        let x1 = if self.style == CouplingStyle::Glow {
            let st = self.subnets[1].forward(with_condition(x2.clone(), c));
            let (x1, l) = self.affine_inverse(y1, st);
            ld = ld + l;
            x1
        } else {
            y1
        };
        (Tensor::cat(vec![x1, x2], 1), ld)
    }
}

/// One layer of a flow.
#[derive(Module, Debug)]
pub enum FlowLayer {
    /// ActNorm.
    ActNorm(ActNormLayer),
    /// Bounded output (a cINN's first layer).
    Bounded(BoundedLayer),
    /// Fixed permutation.
    Permute(PermuteLayer),
    /// Affine coupling.
    Coupling(CouplingLayer),
}

/// A stack of flow layers (couplings conditioned on a cINN's c, or not).
#[derive(Module, Debug)]
pub struct Flow {
    /// Layers in forward order.
    pub layers: Vec<FlowLayer>,
}

impl Flow {
    /// A freshly initialized flow of `arch` over `dim` dimensions (conditioned on
    /// `arch.condition_dim()` values): weights and permutations drawn from `rng`; with
    /// `bounds` (normalized lower and upper bounds) a bounded output first.
    pub fn init(
        dim: usize,
        arch: &Architecture,
        bounds: Option<&(Vec<f32>, Vec<f32>)>,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let mut layers = Vec::new();
        if let Some((lo, hi)) = bounds {
            layers.push(FlowLayer::Bounded(BoundedLayer {
                lo: lo.clone(),
                hi: hi.clone(),
            }));
        }
        for _ in 0..arch.blocks {
            if arch.actnorm {
                layers.push(FlowLayer::ActNorm(ActNormLayer::new(
                    vec![0.0; dim],
                    vec![0.0; dim],
                    device,
                )));
            }
            let subnets = arch
                .subnet_widths(dim)
                .iter()
                .map(|widths| {
                    Mlp::init(
                        widths,
                        arch.activation,
                        Activation::Identity,
                        arch.last_layer_scale,
                        rng,
                        device,
                    )
                })
                .collect();
            layers.push(FlowLayer::Coupling(CouplingLayer {
                subnets,
                style: arch.style,
                clamp: arch.clamp,
                dim,
            }));
            let mut perm: Vec<u16> = (0..dim as u16).collect();
            for i in (1..perm.len()).rev() {
                let j = (rng.next_u32() as usize) % (i + 1);
                perm.swap(i, j);
            }
            layers.push(FlowLayer::Permute(PermuteLayer { perm }));
        }
        Self { layers }
    }

    /// Copy a spec's flow layers.
    pub fn from_spec(dim: usize, flow: &[FlowSpec], device: &Device) -> Self {
        let layers = flow
            .iter()
            .map(|f| match f {
                FlowSpec::ActNorm { log_scale, bias } => {
                    FlowLayer::ActNorm(ActNormLayer::new(log_scale.clone(), bias.clone(), device))
                }
                FlowSpec::Permute(p) => FlowLayer::Permute(PermuteLayer { perm: p.clone() }),
                FlowSpec::Bounded { lo, hi } => FlowLayer::Bounded(BoundedLayer {
                    lo: lo.clone(),
                    hi: hi.clone(),
                }),
                FlowSpec::Coupling {
                    style,
                    clamp,
                    subnets,
                } => FlowLayer::Coupling(CouplingLayer {
                    subnets: subnets.iter().map(|s| Mlp::from_spec(s, device)).collect(),
                    style: *style,
                    clamp: *clamp,
                    dim,
                }),
            })
            .collect();
        Self { layers }
    }

    /// Export as specs.
    pub fn to_spec(&self) -> Vec<FlowSpec> {
        self.layers
            .iter()
            .map(|l| match l {
                FlowLayer::ActNorm(a) => FlowSpec::ActNorm {
                    log_scale: to_vec(&a.log_scale.val()),
                    bias: to_vec(&a.bias.val()),
                },
                FlowLayer::Permute(p) => FlowSpec::Permute(p.perm.clone()),
                FlowLayer::Bounded(b) => FlowSpec::Bounded {
                    lo: b.lo.clone(),
                    hi: b.hi.clone(),
                },
                FlowLayer::Coupling(c) => FlowSpec::Coupling {
                    style: c.style,
                    clamp: c.clamp,
                    subnets: c.subnets.iter().map(Mlp::to_spec).collect(),
                },
            })
            .collect()
    }

    /// Forward pass: returns the output and log|det J| per sample.
    pub fn forward(&self, x: Tensor<2>, c: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<1>) {
        let mut ld = zeros_like_batch(&x);
        let mut v = x;
        for layer in &self.layers {
            v = match layer {
                FlowLayer::ActNorm(a) => {
                    let (v, l) = a.forward(v);
                    ld = ld + l;
                    v
                }
                FlowLayer::Bounded(b) => {
                    let (v, l) = b.forward(v);
                    ld = ld + l;
                    v
                }
                FlowLayer::Permute(p) => p.forward(v),
                FlowLayer::Coupling(cp) => {
                    let (v, l) = cp.forward(v, c);
                    ld = ld + l;
                    v
                }
            };
        }
        (v, ld)
    }

    /// Exact inverse: returns the input and log|det J| of the inverse map per sample.
    pub fn inverse(&self, y: Tensor<2>, c: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<1>) {
        let mut ld = zeros_like_batch(&y);
        let mut v = y;
        for layer in self.layers.iter().rev() {
            v = match layer {
                FlowLayer::ActNorm(a) => {
                    let (v, l) = a.inverse(v);
                    ld = ld + l;
                    v
                }
                FlowLayer::Bounded(b) => {
                    let (v, l) = b.inverse(v);
                    ld = ld + l;
                    v
                }
                FlowLayer::Permute(p) => p.inverse(v),
                FlowLayer::Coupling(cp) => {
                    let (v, l) = cp.inverse(v, c);
                    ld = ld + l;
                    v
                }
            };
        }
        (v, ld)
    }
}

/// Conditional INN: x ↔ z given c = h(y).
#[derive(Module, Debug)]
pub struct Cinn {
    /// Condition network h (empty: c = normalized y).
    pub cond_net: Mlp,
    /// Flow over x.
    pub flow: Flow,
}

impl Cinn {
    /// Condition c = h(y) for normalized observations `[n, y_dim]`.
    pub fn condition(&self, y: Tensor<2>) -> Tensor<2> {
        if self.cond_net.layers.is_empty() {
            y
        } else {
            self.cond_net.forward(y)
        }
    }

    /// x → z given c; log|det ∂z/∂x| per sample.
    pub fn forward(&self, x: Tensor<2>, c: &Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        self.flow.forward(x, Some(c))
    }

    /// z → x given c; log|det ∂x/∂z| per sample.
    pub fn inverse(&self, z: Tensor<2>, c: &Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        self.flow.inverse(z, Some(c))
    }
}

/// INN: x padded to the total dimension ↔ [y, z] (Ardizzone et al. 2019).
#[derive(Module, Debug)]
pub struct Inn {
    /// Unconditional flow over the total dimension.
    pub flow: Flow,
}

/// Either model kind; the trainer and exporter work on this.
#[derive(Module, Debug)]
pub enum Network {
    /// Conditional INN.
    Cinn(Cinn),
    /// INN.
    Inn(Inn),
}

/// The dimensions a network takes from its data; the rest of its shape is its
/// [`Architecture`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Physical parameters.
    pub x_dim: usize,
    /// Observation features.
    pub y_dim: usize,
    /// Flow dimension (`x_dim` for a cINN; see [`Architecture::flow_dim_for`]).
    pub flow_dim: usize,
}

impl Network {
    /// A freshly initialized network of `arch` for `dims`, deterministic for `seed`; a
    /// cINN with `arch.bounded` starts its flow with a bounded output over `bounds`
    /// (normalized lower and upper bounds, the prior's box).
    pub fn init(
        arch: &Architecture,
        dims: &Dims,
        bounds: Option<&(Vec<f32>, Vec<f32>)>,
        seed: u64,
        device: &Device,
    ) -> Self {
        let mut rng = Rng::new(seed);
        match arch.kind {
            ModelKind::Cinn => {
                // The last layer keeps the hidden activation, as in `RandomArch`.
                let cond_net = match arch.condition_widths(dims.y_dim) {
                    Some(widths) => Mlp::init(
                        &widths,
                        arch.activation,
                        arch.activation,
                        1.0,
                        &mut rng,
                        device,
                    ),
                    None => Mlp { layers: Vec::new() },
                };
                let bounds = bounds.filter(|_| arch.bounded);
                let flow = Flow::init(dims.x_dim, arch, bounds, &mut rng, device);
                Self::Cinn(Cinn { cond_net, flow })
            }
            ModelKind::Inn => Self::Inn(Inn {
                flow: Flow::init(dims.flow_dim, arch, None, &mut rng, device),
            }),
        }
    }

    /// Copy the weights of a spec (tests, fine-tuning an exported model).
    pub fn from_spec(spec: &ModelSpec, device: &Device) -> Self {
        let flow = Flow::from_spec(spec.flow_dim, &spec.flow, device);
        match spec.kind {
            ModelKind::Cinn => Self::Cinn(Cinn {
                cond_net: Mlp::from_spec(&spec.cond_net, device),
                flow,
            }),
            ModelKind::Inn => Self::Inn(Inn { flow }),
        }
    }

    /// The flow, whatever the kind.
    pub fn flow(&self) -> &Flow {
        match self {
            Self::Cinn(m) => &m.flow,
            Self::Inn(m) => &m.flow,
        }
    }
}

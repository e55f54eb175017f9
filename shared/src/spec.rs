//! Owned model descriptions that encode to `.vina` files (feature `alloc`: host and tests).
//!
//! The exporter fills a [`ModelSpec`] from trained weights; [`ModelSpec::encode`] writes
//! the file with the same record types the firmware decodes, quantizing on the way when
//! asked, and decodes the result once to prove it is valid.
//!
//! [`Architecture`] is the one description of a network's shape: the trainer reads it
//! from a training config's `[model]` table, and [`RandomArch`] builds random models of it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::array::{F32s, f32_bytes};
use crate::error::ModelError;
use crate::features::FeatureKind;
use crate::layers::{
    ActNorm, Activation, Bounded, CouplingStyle, Dense, Permutation, Weights, kernel,
};
use crate::model::Model;
use crate::model_file::{self, FeatureSpec, FlowRecord, Header, ModelKind, Normalization};
use crate::quant;
use crate::rng::Rng;
use crate::template::EnvironmentTemplate;

/// Numeric path of the dense weights in an encoded file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// f32 weights.
    F32,
    /// int8 weights, symmetric, one f32 scale per output channel, in the hidden layers of
    /// the flow's subnets (the condition network and each subnet's output layer stay f32).
    Int8,
}

impl Precision {
    /// Every precision, in the order a help text lists them.
    pub const ALL: [Self; 2] = [Self::F32, Self::Int8];

    /// The name a command line spells (`vina export --quantize`): `"f32"` or `"int8"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Int8 => "int8",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = UnknownPrecision;

    /// The precision [`Precision::name`] spells `s`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPrecision(String::from(s)))
    }
}

/// A name that is no [`Precision`] (the error of its `FromStr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPrecision(pub String);

impl fmt::Display for UnknownPrecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown precision `{}` (expected f32 or int8)", self.0)
    }
}

impl core::error::Error for UnknownPrecision {}

/// An owned dense layer; `weights` is row-major `[out][in]`.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseSpec {
    /// Input width.
    pub in_dim: usize,
    /// Output width.
    pub out_dim: usize,
    /// Activation after the affine map.
    pub activation: Activation,
    /// `out_dim × in_dim` weights, row-major.
    pub weights: Vec<f32>,
    /// `out_dim` biases.
    pub bias: Vec<f32>,
}

/// An owned flow layer.
#[derive(Clone, Debug, PartialEq)]
pub enum FlowSpec {
    /// `y = x·exp(log_scale) + bias`.
    ActNorm {
        /// Log-scales.
        log_scale: Vec<f32>,
        /// Shifts.
        bias: Vec<f32>,
    },
    /// `y[i] = x[perm[i]]`.
    Permute(Vec<u16>),
    /// Bounded output `w = logit((v − lo)/(hi − lo))` (a cINN's first layer; bounds in
    /// normalized units, [`crate::layers::Bounded`]).
    Bounded {
        /// Lower bounds.
        lo: Vec<f32>,
        /// Upper bounds.
        hi: Vec<f32>,
    },
    /// Affine coupling with its subnets (two for GLOW, one for RealNVP).
    Coupling {
        /// GLOW or RealNVP.
        style: CouplingStyle,
        /// Soft-clamp level.
        clamp: f32,
        /// Subnet MLPs, FrEIA order.
        subnets: Vec<Vec<DenseSpec>>,
    },
}

/// Everything in a `.vina` header that is not a weight or a dimension: feature spec,
/// parameter names, normalization statistics and the scenario hash.
#[derive(Clone, Debug, PartialEq)]
pub struct HeaderSpec {
    /// Feature kind.
    pub feature_kind: FeatureKind,
    /// Receivers.
    pub receivers: usize,
    /// Tone frequencies, Hz.
    pub tones_hz: Vec<f32>,
    /// Parameter names, x order.
    pub param_names: Vec<String>,
    /// x normalization means: the network sees `(x − mean)/std`.
    pub x_mean: Vec<f32>,
    /// x normalization standard deviations.
    pub x_std: Vec<f32>,
    /// y normalization means.
    pub y_mean: Vec<f32>,
    /// y normalization standard deviations.
    pub y_std: Vec<f32>,
    /// Scenario hash.
    pub scenario_hash: u64,
}

impl HeaderSpec {
    /// Observation feature count implied by the feature spec.
    pub fn y_dim(&self) -> usize {
        self.feature_kind.len(self.tones_hz.len(), self.receivers)
    }
}

/// An owned model: dimensions, header fields, condition network and flow.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// INN or cINN.
    pub kind: ModelKind,
    /// Physical parameters.
    pub x_dim: usize,
    /// Flow dimension (`x_dim` for a cINN, padded total for an INN).
    pub flow_dim: usize,
    /// Condition width (cINN), 0 for an INN.
    pub cond_dim: usize,
    /// Features, names, normalization, scenario hash.
    pub header: HeaderSpec,
    /// Condition network h (cINN; may be empty: c = normalized y).
    pub cond_net: Vec<DenseSpec>,
    /// Flow layers, forward order.
    pub flow: Vec<FlowSpec>,
    /// The scenario for exact-likelihood refinement on the buoy (`None`: not stored).
    pub template: Option<EnvironmentTemplate<f32>>,
}

/// Byte buffers behind one encoded dense layer.
struct DenseBytes {
    weights: Vec<u8>,
    scales: Vec<u8>,
    bias: Vec<u8>,
}

impl DenseBytes {
    fn new(d: &DenseSpec, precision: Precision) -> Self {
        let bias = f32_bytes(&d.bias);
        match precision {
            Precision::F32 => Self {
                weights: f32_bytes(&d.weights),
                scales: Vec::new(),
                bias,
            },
            Precision::Int8 => {
                // per-row symmetric codes, then laid out in 4-row blocks (zero padding)
                let (n_in, n_out) = (d.in_dim.max(1), d.out_dim);
                let mut row_codes = alloc::vec![0i8; n_in];
                let mut scales = alloc::vec![0.0f32; kernel::i8_padded(n_out)];
                let mut codes =
                    alloc::vec![0u8; kernel::i8_padded(n_out) * kernel::i8_padded(n_in)];
                for (r, row) in d.weights.chunks(n_in).enumerate() {
                    scales[r] = quant::quantize_into(row, &mut row_codes);
                    for (c, &q) in row_codes.iter().enumerate() {
                        codes[kernel::i8_blocked_offset(r, c, n_in)] = q as u8;
                    }
                }
                Self {
                    weights: codes,
                    scales: f32_bytes(&scales),
                    bias,
                }
            }
        }
    }

    fn record<'a>(&'a self, d: &DenseSpec, precision: Precision) -> Dense<'a> {
        Dense {
            in_dim: d.in_dim as u16,
            out_dim: d.out_dim as u16,
            activation: d.activation,
            weights: match precision {
                Precision::F32 => Weights::F32(F32s(&self.weights)),
                Precision::Int8 => Weights::I8Blocked {
                    scales: F32s(&self.scales),
                    codes: &self.weights,
                },
            },
            bias: F32s(&self.bias),
        }
    }
}

fn dim_u16(what: &'static str, v: usize) -> Result<u16, ModelError> {
    u16::try_from(v).map_err(|_| ModelError::CapacityExceeded {
        what,
        capacity: u16::MAX as usize,
        requested: v,
    })
}

impl ModelSpec {
    /// Observation feature count implied by the feature spec.
    pub fn y_dim(&self) -> usize {
        self.header.y_dim()
    }

    /// All dense layers in file order: condition network, then subnets in flow order.
    fn dense_in_order(&self) -> impl Iterator<Item = &DenseSpec> {
        self.cond_net
            .iter()
            .chain(self.flow.iter().flat_map(|f| match f {
                FlowSpec::Coupling { subnets, .. } => subnets.iter().flatten().collect::<Vec<_>>(),
                _ => Vec::new(),
            }))
    }

    /// Encode as a `.vina` file, checking the result by decoding it.
    pub fn encode(&self, precision: Precision) -> Result<Vec<u8>, ModelError> {
        for d in self.dense_in_order() {
            if d.weights.len() != d.in_dim * d.out_dim || d.bias.len() != d.out_dim {
                return Err(ModelError::DimensionMismatch {
                    what: "dense spec weights/bias",
                    expected: d.in_dim * d.out_dim,
                    found: d.weights.len(),
                });
            }
        }
        // int8 applies to the hidden layers of the flow's subnets, the bulk of the
        // per-sample work. The condition network runs once per observation, and a
        // subnet's output layer writes the scales and shifts directly (a few rows): both
        // stay f32, since their rounding would shift every posterior sample the same way
        // (measured: docs/model-format.md).
        let mut precisions: Vec<Precision> = self.cond_net.iter().map(|_| Precision::F32).collect();
        for f in &self.flow {
            if let FlowSpec::Coupling { subnets, .. } = f {
                for s in subnets {
                    precisions.extend((0..s.len()).map(|j| {
                        if j + 1 == s.len() {
                            Precision::F32
                        } else {
                            precision
                        }
                    }));
                }
            }
        }
        let layer_precision = |i: usize| precisions.get(i).copied().unwrap_or(precision);
        let dense_bytes: Vec<DenseBytes> = self
            .dense_in_order()
            .enumerate()
            .map(|(i, d)| DenseBytes::new(d, layer_precision(i)))
            .collect();
        let dense: Vec<Dense<'_>> = self
            .dense_in_order()
            .zip(&dense_bytes)
            .enumerate()
            .map(|(i, (d, b))| b.record(d, layer_precision(i)))
            .collect();

        let flow_bytes: Vec<(Vec<u8>, Vec<u8>)> = self
            .flow
            .iter()
            .map(|f| match f {
                FlowSpec::ActNorm { log_scale, bias } => (f32_bytes(log_scale), f32_bytes(bias)),
                FlowSpec::Bounded { lo, hi } => (f32_bytes(lo), f32_bytes(hi)),
                FlowSpec::Permute(p) => {
                    (p.iter().flat_map(|i| i.to_le_bytes()).collect(), Vec::new())
                }
                FlowSpec::Coupling { .. } => (Vec::new(), Vec::new()),
            })
            .collect();
        let mut flow = Vec::with_capacity(self.flow.len());
        for (f, (a, b)) in self.flow.iter().zip(&flow_bytes) {
            flow.push(match f {
                FlowSpec::ActNorm { .. } => FlowRecord::ActNorm(ActNorm {
                    log_scale: F32s(a),
                    bias: F32s(b),
                }),
                FlowSpec::Permute(_) => FlowRecord::Permute(Permutation { indices: a }),
                FlowSpec::Bounded { .. } => FlowRecord::Bounded(Bounded {
                    lo: F32s(a),
                    hi: F32s(b),
                }),
                FlowSpec::Coupling {
                    style,
                    clamp,
                    subnets,
                } => {
                    let n = |i: usize| -> Result<u8, ModelError> {
                        let len = subnets.get(i).map_or(0, Vec::len);
                        u8::try_from(len).map_err(|_| ModelError::CapacityExceeded {
                            what: "layers per subnet",
                            capacity: u8::MAX as usize,
                            requested: len,
                        })
                    };
                    if subnets.len() != style.subnets() {
                        return Err(ModelError::DimensionMismatch {
                            what: "number of subnets for the coupling style",
                            expected: style.subnets(),
                            found: subnets.len(),
                        });
                    }
                    FlowRecord::Coupling {
                        style: *style,
                        clamp: *clamp,
                        subnet_layers: [n(0)?, n(1)?],
                    }
                }
            });
        }

        let h = &self.header;
        let names = h.param_names.join(",");
        let tones = f32_bytes(&h.tones_hz);
        let norms = [&h.x_mean, &h.x_std, &h.y_mean, &h.y_std].map(|v| f32_bytes(v));
        let header = Header {
            kind: self.kind,
            x_dim: dim_u16("x_dim", self.x_dim)?,
            y_dim: dim_u16("y_dim", self.y_dim())?,
            flow_dim: dim_u16("flow_dim", self.flow_dim)?,
            cond_dim: dim_u16("cond_dim", self.cond_dim)?,
            cond_layers: dim_u16("condition network layers", self.cond_net.len())?,
            features: FeatureSpec {
                kind: h.feature_kind,
                receivers: dim_u16("receivers", h.receivers)?,
                tones_hz: F32s(&tones),
            },
            param_names: &names,
            x_norm: Normalization {
                mean: F32s(&norms[0]),
                std: F32s(&norms[1]),
            },
            y_norm: Normalization {
                mean: F32s(&norms[2]),
                std: F32s(&norms[3]),
            },
            scenario_hash: h.scenario_hash,
        };
        let file = model_file::encode_to_vec(&header, &dense, &flow, self.template.as_ref())?;
        Model::from_bytes(&file)?;
        Ok(file)
    }
}

impl DenseSpec {
    /// Owned copy of a decoded layer (int8 weights are dequantized: code × row scale).
    pub fn from_dense(d: &Dense<'_>) -> Self {
        let (rows, cols) = (d.outputs(), d.inputs());
        let weights = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .map(|(r, c)| d.weight(r, c).unwrap_or(0.0))
            .collect();
        Self {
            in_dim: cols,
            out_dim: rows,
            activation: d.activation,
            weights,
            bias: d.bias.iter().collect(),
        }
    }
}

impl ModelSpec {
    /// Owned copy of a decoded model, so a `.vina` file can be transformed (folded,
    /// re-quantized, exported to ONNX) without the trainer. int8 weights come back
    /// dequantized.
    pub fn from_model(model: &Model<'_>) -> Self {
        use crate::model::FlowLayer;
        let h = model.header();
        let header = HeaderSpec {
            feature_kind: h.features.kind,
            receivers: usize::from(h.features.receivers),
            tones_hz: h.features.tones_hz.iter().collect(),
            param_names: h.param_names.split(',').map(String::from).collect(),
            x_mean: h.x_norm.mean.iter().collect(),
            x_std: h.x_norm.std.iter().collect(),
            y_mean: h.y_norm.mean.iter().collect(),
            y_std: h.y_norm.std.iter().collect(),
            scenario_hash: h.scenario_hash,
        };
        let flow = model
            .flow_layers()
            .iter()
            .map(|layer| match layer {
                FlowLayer::ActNorm(a) => FlowSpec::ActNorm {
                    log_scale: a.log_scale.iter().collect(),
                    bias: a.bias.iter().collect(),
                },
                FlowLayer::Bounded(b) => FlowSpec::Bounded {
                    lo: b.lo.iter().collect(),
                    hi: b.hi.iter().collect(),
                },
                FlowLayer::Permute(p) => FlowSpec::Permute(
                    p.indices
                        .as_chunks::<2>()
                        .0
                        .iter()
                        .map(|b| u16::from_le_bytes(*b))
                        .collect(),
                ),
                FlowLayer::Coupling { block, .. } => FlowSpec::Coupling {
                    style: block.style,
                    clamp: block.clamp,
                    subnets: model
                        .subnets(layer)
                        .iter()
                        .take(block.style.subnets())
                        .map(|s| s.iter().map(DenseSpec::from_dense).collect())
                        .collect(),
                },
            })
            .collect();
        Self {
            kind: h.kind,
            x_dim: usize::from(h.x_dim),
            flow_dim: usize::from(h.flow_dim),
            cond_dim: usize::from(h.cond_dim),
            header,
            cond_net: model
                .condition_net()
                .iter()
                .map(DenseSpec::from_dense)
                .collect(),
            flow,
            template: model.template().cloned(),
        }
    }
}

/// The network architecture: the one description of a network's shape. The trainer reads
/// it from a training config's `[model]` table and builds its Burn modules from it;
/// [`RandomArch`] builds random models of it, so trained and random models have the same
/// layers in the same order.
///
/// The rest of a network's shape comes from its data: `x_dim` parameters (for an INN with
/// `noise_in_x`, plus the noise draws) and `y_dim` observation features.
///
/// In a `[model]` table (serde, human-readable formats) the keys are the field names,
/// except that the hidden activation is two keys: `activation` (`"relu"`, `"leaky_relu"`,
/// `"gelu"` or `"tanh"`) and `leaky_slope` (LeakyReLU's slope, default 0.01). `kind` is
/// `"cinn"` or `"inn"`, `style` `"glow"` or `"real_nvp"`. Absent keys keep the
/// [`Default`] (the on-device cINN, [`RandomArch::default_cinn`]); unknown keys are
/// refused.
#[derive(Clone, Debug, PartialEq)]
pub struct Architecture {
    /// cINN or INN.
    pub kind: ModelKind,
    /// Coupling blocks, each `[ActNorm] → coupling → permutation`.
    pub blocks: usize,
    /// GLOW (two-sided, two subnets) or RealNVP (one-sided, one subnet).
    pub style: CouplingStyle,
    /// Hidden widths of each coupling subnet.
    pub hidden: Vec<usize>,
    /// Hidden activation of the subnets and the condition network (whose output layer
    /// keeps it too); a subnet's output layer has none.
    pub activation: Activation,
    /// Soft clamp of the log-scales.
    pub clamp: f32,
    /// ActNorm before each coupling.
    pub actnorm: bool,
    /// cINN: hidden widths of the condition network h(y).
    pub cond_hidden: Vec<usize>,
    /// cINN: condition width. Equal to `y_dim` with no hidden widths, there is no
    /// condition network: c is the normalized y.
    pub cond_dim: usize,
    /// INN: total dimension (> `y_dim` and ≥ `x_dim`); 0 means `x_dim + y_dim`.
    pub flow_dim: usize,
    /// INN, training: standard deviation of the noise padding x to the total dimension.
    pub pad_noise: f32,
    /// INN, training: x carries the standard-normal draws that made the observation's
    /// noise, so y is a deterministic function of x (the VINA reference set-up;
    /// docs/architecture.md "noise in x"). Needs a data set from `vina simulate` that kept
    /// them.
    pub noise_in_x: bool,
    /// Training: scale of each subnet's last-layer initial weights (0: every block starts
    /// as the identity, which keeps the first steps stable).
    pub last_layer_scale: f32,
    /// cINN: a bounded output ([`FlowSpec::Bounded`], first in the flow) that keeps every
    /// draw inside the prior's box; the trainer takes the bounds from the data set's
    /// scenario. [`RandomArch`] bounds each normalized parameter to ±3.
    pub bounded: bool,
}

impl Default for Architecture {
    /// The on-device cINN: 4 GLOW blocks with ActNorm, subnets 48-48 ReLU, clamp 2, a
    /// condition network y → 64 → 32.
    fn default() -> Self {
        Self {
            kind: ModelKind::Cinn,
            blocks: 4,
            style: CouplingStyle::Glow,
            hidden: alloc::vec![48, 48],
            activation: Activation::Relu,
            clamp: 2.0,
            actnorm: true,
            cond_hidden: alloc::vec![64],
            cond_dim: 32,
            flow_dim: 0,
            pad_noise: 0.01,
            noise_in_x: false,
            last_layer_scale: 0.0,
            bounded: false,
        }
    }
}

impl Architecture {
    /// The VINA paper's INN: 3 GLOW blocks without ActNorm, subnets 64-64 ReLU, total
    /// dimension 88.
    pub fn paper_inn() -> Self {
        Self {
            kind: ModelKind::Inn,
            blocks: 3,
            hidden: alloc::vec![64, 64],
            actnorm: false,
            cond_hidden: Vec::new(),
            cond_dim: 0,
            flow_dim: 88,
            ..Self::default()
        }
    }

    /// Dimension of the flow for `x_dim` inputs and `y_dim` features: `x_dim` for a cINN;
    /// for an INN `flow_dim`, or `x_dim + y_dim` when that is 0.
    pub fn flow_dim_for(&self, x_dim: usize, y_dim: usize) -> usize {
        match self.kind {
            ModelKind::Cinn => x_dim,
            ModelKind::Inn if self.flow_dim == 0 => x_dim + y_dim,
            ModelKind::Inn => self.flow_dim,
        }
    }

    /// Width of the condition every subnet takes after its half: `cond_dim` for a cINN, 0
    /// for an INN.
    pub fn condition_dim(&self) -> usize {
        match self.kind {
            ModelKind::Cinn => self.cond_dim,
            ModelKind::Inn => 0,
        }
    }

    /// Layer widths of the condition network for `y_dim` features (`y_dim`, the hidden
    /// widths, `cond_dim`), or `None` where there is none: an INN, or a cINN with no hidden
    /// widths and `cond_dim == y_dim` (c is the normalized y).
    pub fn condition_widths(&self, y_dim: usize) -> Option<Vec<usize>> {
        let plain = self.cond_hidden.is_empty() && self.cond_dim == y_dim;
        (self.kind == ModelKind::Cinn && !plain).then(|| {
            let mut widths = alloc::vec![y_dim];
            widths.extend(&self.cond_hidden);
            widths.push(self.cond_dim);
            widths
        })
    }

    /// Layer widths of each subnet of a coupling block over `dim` dimensions, in FrEIA
    /// order (halves `len1 = dim/2`, `len2 = dim − len1`): subnet 0 maps `len1` plus the
    /// condition to `2·len2` (scales and shifts), subnet 1 (GLOW only) `len2` plus the
    /// condition to `2·len1`.
    pub fn subnet_widths(&self, dim: usize) -> Vec<Vec<usize>> {
        let (len1, len2) = (dim / 2, dim - dim / 2);
        let widths = |n_in: usize, n_out: usize| {
            let mut w = alloc::vec![n_in + self.condition_dim()];
            w.extend(&self.hidden);
            w.push(n_out);
            w
        };
        match self.style {
            CouplingStyle::Glow => alloc::vec![widths(len1, 2 * len2), widths(len2, 2 * len1)],
            CouplingStyle::RealNvp => alloc::vec![widths(len1, 2 * len2)],
        }
    }
}

/// The `[model]` table spelling of [`Architecture`] (see there): hand-written because one
/// field, the activation, is two keys.
mod model_table {
    use core::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, VariantAccess};
    use serde::ser::{SerializeStruct, Serializer};
    use serde::{Deserialize, Serialize};

    use super::Architecture;
    use crate::layers::Activation;
    use crate::model_file::ModelKind;

    /// The keys, in the order they are written.
    const KEYS: &[&str] = &[
        "kind",
        "blocks",
        "style",
        "hidden",
        "activation",
        "leaky_slope",
        "clamp",
        "actnorm",
        "cond_hidden",
        "cond_dim",
        "flow_dim",
        "pad_noise",
        "noise_in_x",
        "last_layer_scale",
        "bounded",
    ];

    /// The values of `kind`, in the order errors list them (the file format's variant
    /// order is the other way round).
    const KINDS: &[&str] = &["cinn", "inn"];

    /// The values of `activation` (no `identity`: a subnet's hidden layers need one).
    const HIDDEN: &[&str] = &["relu", "leaky_relu", "gelu", "tanh"];

    /// LeakyReLU's slope when a table names none; written for the other activations.
    const DEFAULT_LEAKY_SLOPE: f32 = 0.01;

    impl Serialize for Architecture {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let slope = match self.activation {
                Activation::LeakyRelu(slope) => slope,
                _ => DEFAULT_LEAKY_SLOPE,
            };
            let mut t = s.serialize_struct("Architecture", KEYS.len())?;
            t.serialize_field("kind", &self.kind)?;
            t.serialize_field("blocks", &self.blocks)?;
            t.serialize_field("style", &self.style)?;
            t.serialize_field("hidden", &self.hidden)?;
            t.serialize_field("activation", self.activation.name())?;
            t.serialize_field("leaky_slope", &slope)?;
            t.serialize_field("clamp", &self.clamp)?;
            t.serialize_field("actnorm", &self.actnorm)?;
            t.serialize_field("cond_hidden", &self.cond_hidden)?;
            t.serialize_field("cond_dim", &self.cond_dim)?;
            t.serialize_field("flow_dim", &self.flow_dim)?;
            t.serialize_field("pad_noise", &self.pad_noise)?;
            t.serialize_field("noise_in_x", &self.noise_in_x)?;
            t.serialize_field("last_layer_scale", &self.last_layer_scale)?;
            t.serialize_field("bounded", &self.bounded)?;
            t.end()
        }
    }

    impl<'de> Deserialize<'de> for Architecture {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_struct("Architecture", KEYS, Table)
        }
    }

    /// Reads a table over the default architecture.
    struct Table;

    impl<'de> de::Visitor<'de> for Table {
        type Value = Architecture;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("struct Architecture")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Architecture, A::Error> {
            let mut a = Architecture::default();
            let (mut name, mut slope) = (None, None);
            while let Some(key) = map.next_key_seed(Name::key())? {
                match key {
                    "kind" => {
                        a.kind = match map.next_value_seed(UnitVariant(KINDS))? {
                            "inn" => ModelKind::Inn,
                            _ => ModelKind::Cinn,
                        }
                    }
                    "blocks" => a.blocks = map.next_value()?,
                    "style" => a.style = map.next_value()?,
                    "hidden" => a.hidden = map.next_value()?,
                    "activation" => name = Some(map.next_value_seed(UnitVariant(HIDDEN))?),
                    "leaky_slope" => slope = Some(map.next_value()?),
                    "clamp" => a.clamp = map.next_value()?,
                    "actnorm" => a.actnorm = map.next_value()?,
                    "cond_hidden" => a.cond_hidden = map.next_value()?,
                    "cond_dim" => a.cond_dim = map.next_value()?,
                    "flow_dim" => a.flow_dim = map.next_value()?,
                    "pad_noise" => a.pad_noise = map.next_value()?,
                    "noise_in_x" => a.noise_in_x = map.next_value()?,
                    "last_layer_scale" => a.last_layer_scale = map.next_value()?,
                    "bounded" => a.bounded = map.next_value()?,
                    other => return Err(de::Error::unknown_field(other, KEYS)),
                }
            }
            let default_slope = match a.activation {
                Activation::LeakyRelu(slope) => slope,
                _ => DEFAULT_LEAKY_SLOPE,
            };
            let name = name.unwrap_or(a.activation.name());
            if let Some(activation) = Activation::from_name(name, slope.unwrap_or(default_slope)) {
                a.activation = activation;
            }
            Ok(a)
        }
    }

    /// One of `names` as an identifier (a key, or a variant's name), as a derived struct
    /// or enum reads it: anything else is an unknown field (`field`) or variant.
    #[derive(Clone, Copy)]
    struct Name {
        names: &'static [&'static str],
        field: bool,
    }

    impl Name {
        fn key() -> Self {
            Self {
                names: KEYS,
                field: true,
            }
        }
    }

    impl<'de> DeserializeSeed<'de> for Name {
        type Value = &'static str;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<&'static str, D::Error> {
            d.deserialize_identifier(self)
        }
    }

    impl<'de> de::Visitor<'de> for Name {
        type Value = &'static str;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(if self.field {
                "field identifier"
            } else {
                "variant identifier"
            })
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<&'static str, E> {
            match self.names.iter().find(|n| **n == v) {
                Some(n) => Ok(n),
                None if self.field => Err(E::unknown_field(v, self.names)),
                None => Err(E::unknown_variant(v, self.names)),
            }
        }
    }

    /// A unit variant named one of the names, as a derived enum reads it.
    struct UnitVariant(&'static [&'static str]);

    impl<'de> DeserializeSeed<'de> for UnitVariant {
        type Value = &'static str;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<&'static str, D::Error> {
            d.deserialize_enum("enum", self.0, self)
        }
    }

    impl<'de> de::Visitor<'de> for UnitVariant {
        type Value = &'static str;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a unit variant")
        }

        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<&'static str, A::Error> {
            let (name, variant) = data.variant_seed(Name {
                names: self.0,
                field: false,
            })?;
            variant.unit_variant()?;
            Ok(name)
        }
    }
}

/// A randomly initialized model of an [`Architecture`] (tests, benchmarks, size reports):
/// the architecture, the data shape it is built for, and the scale of the random weights.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomArch {
    /// The network (its training-only fields are not used).
    pub net: Architecture,
    /// Physical parameters.
    pub x_dim: usize,
    /// Feature kind.
    pub feature_kind: FeatureKind,
    /// Tones.
    pub tones: usize,
    /// Receivers.
    pub receivers: usize,
    /// Weights are uniform in ±`weight_scale / √fan_in`.
    pub weight_scale: f32,
}

impl RandomArch {
    /// The default on-device cINN shape on `gi-pekeris` (2 parameters, 7 tones × 5
    /// receivers, relative transfer function), sized for the design's Cortex-M4 budget:
    /// ≈ 20k multiply-accumulates per posterior sample, ≈ 150 kB in f32, ≈ 45 kB in int8.
    pub fn default_cinn() -> Self {
        Self {
            net: Architecture::default(),
            x_dim: 2,
            feature_kind: FeatureKind::RelativeTransferFunction,
            tones: 7,
            receivers: 5,
            weight_scale: 1.0,
        }
    }

    /// The VINA paper's INN: raw pressure (70 features), 3 GLOW blocks, hidden 64, total
    /// dimension 88 (18 latent).
    pub fn paper_inn() -> Self {
        Self {
            net: Architecture::paper_inn(),
            feature_kind: FeatureKind::RawPressure,
            ..Self::default_cinn()
        }
    }

    /// Architectures that together use every layer kind, coupling style, activation and
    /// condition path (tests run each implementation against all of them): the two
    /// defaults, RealNVP with GELU, an odd-width INN with LeakyReLU and ActNorm, and a
    /// cINN conditioned on the normalized features directly (tanh), and a cINN with a bounded
    /// output.
    pub fn coverage_set() -> Vec<Self> {
        let realnvp = Self {
            net: Architecture {
                style: CouplingStyle::RealNvp,
                activation: Activation::Gelu,
                ..Architecture::default()
            },
            x_dim: 3,
            ..Self::default_cinn()
        };
        let odd_inn = Self {
            net: Architecture {
                flow_dim: 75,
                activation: Activation::LeakyRelu(0.1),
                actnorm: true,
                ..Architecture::paper_inn()
            },
            ..Self::paper_inn()
        };
        let tanh_plain_cond = Self {
            net: Architecture {
                cond_hidden: Vec::new(),
                cond_dim: 35,
                activation: Activation::Tanh,
                ..Architecture::default()
            },
            ..Self::default_cinn()
        };
        let bounded = Self {
            net: Architecture {
                bounded: true,
                ..Architecture::default()
            },
            ..Self::default_cinn()
        };
        alloc::vec![
            Self::default_cinn(),
            Self::paper_inn(),
            realnvp,
            odd_inn,
            tanh_plain_cond,
            bounded,
        ]
    }

    /// A model spec with weights drawn from `seed`.
    pub fn build(&self, seed: u64) -> ModelSpec {
        let net = &self.net;
        let mut rng = Rng::new(seed);
        let y_dim = self.feature_kind.len(self.tones, self.receivers);
        let flow_dim = net.flow_dim_for(self.x_dim, y_dim);
        let cond_dim = net.condition_dim();
        let scale = self.weight_scale;
        let mut uniform = move |n: usize, a: f32| -> Vec<f32> {
            (0..n)
                .map(|_| a * (2.0 * rng.uniform_f32() - 1.0))
                .collect()
        };
        let mut mlp = |widths: &[usize], last_act: Activation| -> Vec<DenseSpec> {
            widths
                .windows(2)
                .enumerate()
                .map(|(i, w)| DenseSpec {
                    in_dim: w[0],
                    out_dim: w[1],
                    activation: if i + 2 == widths.len() {
                        last_act
                    } else {
                        net.activation
                    },
                    weights: uniform(w[0] * w[1], scale / libm::sqrtf(w[0] as f32)),
                    bias: uniform(w[1], 0.1),
                })
                .collect()
        };
        // The condition network's output layer keeps the hidden activation.
        let cond_net = net
            .condition_widths(y_dim)
            .map_or_else(Vec::new, |widths| mlp(&widths, net.activation));
        let mut flow = Vec::new();
        if net.bounded && net.kind == ModelKind::Cinn {
            flow.push(FlowSpec::Bounded {
                lo: alloc::vec![-3.0; flow_dim],
                hi: alloc::vec![3.0; flow_dim],
            });
        }
        let mut perm_rng = Rng::new(seed ^ 0x5EED);
        for _ in 0..net.blocks {
            if net.actnorm {
                let mut r = Rng::new(perm_rng.next_u64());
                flow.push(FlowSpec::ActNorm {
                    log_scale: (0..flow_dim).map(|_| 0.2 * r.normal_f32()).collect(),
                    bias: (0..flow_dim).map(|_| 0.2 * r.normal_f32()).collect(),
                });
            }
            flow.push(FlowSpec::Coupling {
                style: net.style,
                clamp: net.clamp,
                subnets: net
                    .subnet_widths(flow_dim)
                    .iter()
                    .map(|widths| mlp(widths, Activation::Identity))
                    .collect(),
            });
            let mut perm: Vec<u16> = (0..flow_dim as u16).collect();
            for i in (1..perm.len()).rev() {
                let j = (perm_rng.next_u32() as usize) % (i + 1);
                perm.swap(i, j);
            }
            flow.push(FlowSpec::Permute(perm));
        }
        let names = (0..self.x_dim).map(|i| alloc::format!("p{i}")).collect();
        ModelSpec {
            kind: net.kind,
            x_dim: self.x_dim,
            flow_dim,
            cond_dim,
            header: HeaderSpec {
                feature_kind: self.feature_kind,
                receivers: self.receivers,
                tones_hz: (0..self.tones).map(|i| 49.0 + 15.0 * i as f32).collect(),
                param_names: names,
                x_mean: (0..self.x_dim).map(|i| 100.0 * (i + 1) as f32).collect(),
                x_std: (0..self.x_dim).map(|i| 1.0 + i as f32).collect(),
                y_mean: alloc::vec![0.0; y_dim],
                y_std: alloc::vec![1.0; y_dim],
                scenario_hash: seed,
            },
            cond_net,
            flow,
            template: None,
        }
    }
}

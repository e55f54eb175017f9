//! A decoded model: the network of a `.vina` file, evaluated in place from its bytes.
//!
//! [`Model::from_bytes`] checks the preamble, CRC and every record once; afterwards the
//! per-observation [`Model::prepare`] (normalize y, run the condition network, cache each
//! subnet's `b + W_c·c`) and the per-sample [`Model::sample`] (an inverse pass of a latent
//! draw) cannot meet an inconsistent size.

use heapless::Vec;

use crate::error::{ModelError, expect_len};
use crate::layers::mlp::{self, FirstLayerInput, Scratch};
use crate::layers::{ActNorm, Bounded, Coupling, Dense, MAX_DIM, MAX_WIDTH, Permutation};
use crate::model_file::{self, DenseWire, FlowRecord, Header, ModelKind, take};
use crate::parameters::{self, Support};
use crate::template::EnvironmentTemplate;
#[cfg(feature = "templates")]
use crate::template::TemplateV2;

pub use crate::limits::{MAX_DENSE, MAX_FLOW_LAYERS};

/// A flow layer with its subnets resolved to the model's dense sequence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FlowLayer<'a> {
    /// ActNorm.
    ActNorm(ActNorm<'a>),
    /// Fixed permutation.
    Permute(Permutation<'a>),
    /// Bounded output: the prior's box ↔ the line (the first layer, cINN only).
    Bounded(Bounded<'a>),
    /// Affine coupling and where its subnets live.
    Coupling {
        /// The block.
        block: Coupling,
        /// Dense layers in subnet 1 and subnet 2.
        subnet_layers: [u8; 2],
        /// Index of subnet 1's first layer in the dense sequence.
        first_dense: u16,
        /// Offset of this block's cached first-layer bases in the context (cINN).
        cache_offset: u16,
    },
}

/// What conditions the flow in a direct [`Model::forward`] / [`Model::inverse`] call.
#[derive(Clone, Copy, Debug)]
pub enum Condition<'c> {
    /// No condition (an INN).
    None,
    /// The condition vector c (cINN), concatenated to each subnet's input.
    Raw(&'c [f32]),
    /// A context filled by [`Model::prepare`] (cINN): reuses the cached `b + W_c·c`.
    Prepared(&'c [f32]),
}

/// A model decoded in place from the bytes of a `.vina` file.
#[derive(Clone, Debug)]
pub struct Model<'a> {
    header: Header<'a>,
    dense: Vec<Dense<'a>, MAX_DENSE>,
    flow: Vec<FlowLayer<'a>, MAX_FLOW_LAYERS>,
    context_len: usize,
    template: Option<EnvironmentTemplate<f32>>,
}

fn capacity(what: &'static str, capacity: usize, requested: usize) -> ModelError {
    ModelError::CapacityExceeded {
        what,
        capacity,
        requested,
    }
}

/// A template must describe the network's own observation and unknowns.
#[cfg(feature = "templates")]
fn validate_template(t: &EnvironmentTemplate<f32>, h: &Header<'_>) -> Result<(), ModelError> {
    t.validate()?;
    let mismatch = |what| Err(ModelError::InvalidValue { what });
    if t.features != h.features.kind
        || t.receiver_depths_m.len() != usize::from(h.features.receivers)
    {
        return mismatch("environment template: features or receivers differ from the header's");
    }
    let same_tones = t.tones_hz.len() == h.features.tones()
        && t.tones_hz
            .iter()
            .zip(h.features.tones_hz.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits());
    if !same_tones {
        return mismatch("environment template: tones differ from the header's");
    }
    if !t.unknown_names().eq(h.param_names.split(',')) {
        return mismatch("environment template: unknowns differ from the header's param_names");
    }
    Ok(())
}

fn validate_header(h: &Header<'_>) -> Result<(), ModelError> {
    let (x, y, d, c) = (
        usize::from(h.x_dim),
        usize::from(h.y_dim),
        usize::from(h.flow_dim),
        usize::from(h.cond_dim),
    );
    if x == 0 || y == 0 || d == 0 {
        return Err(ModelError::InvalidValue {
            what: "x_dim, y_dim and flow_dim must be at least 1",
        });
    }
    if d > MAX_DIM {
        return Err(capacity("flow dimension", MAX_DIM, d));
    }
    if y > MAX_WIDTH || c > MAX_WIDTH {
        return Err(capacity(
            "observation or condition width",
            MAX_WIDTH,
            y.max(c),
        ));
    }
    if h.features.receivers == 0 || h.features.tones() == 0 || !h.features.tones_hz.is_whole() {
        return Err(ModelError::InvalidValue {
            what: "feature spec needs at least one tone and one receiver",
        });
    }
    if !h.features.tones_hz.iter().all(|f| f.is_finite() && f > 0.0) {
        return Err(ModelError::InvalidValue {
            what: "tone frequencies must be finite and positive",
        });
    }
    expect_len("feature spec length vs y_dim", h.features.len(), y)?;
    match h.kind {
        ModelKind::Cinn => {
            expect_len("cINN flow_dim vs x_dim", x, d)?;
            if c == 0 {
                return Err(ModelError::InvalidValue {
                    what: "cINN needs cond_dim of at least 1",
                });
            }
            if h.cond_layers == 0 {
                expect_len("cond_dim without a condition network", y, c)?;
            }
        }
        ModelKind::Inn => {
            if c != 0 || h.cond_layers != 0 {
                return Err(ModelError::InvalidValue {
                    what: "an INN has no condition network (cond_dim and cond_layers must be 0)",
                });
            }
            if d <= y || d < x {
                return Err(ModelError::InvalidValue {
                    what: "INN flow_dim must exceed y_dim and be at least x_dim",
                });
            }
        }
    }
    h.x_norm
        .validate("x normalization (finite mean, positive std)", x)?;
    h.y_norm
        .validate("y normalization (finite mean, positive std)", y)?;
    let names = h.param_names.split(',');
    if names.clone().any(|n| n.trim().is_empty()) {
        return Err(ModelError::InvalidValue {
            what: "parameter names must be non-empty and comma-separated",
        });
    }
    expect_len("parameter names vs x_dim", x, names.count())
}

impl<'a> Model<'a> {
    /// Decode and validate a complete `.vina` file.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let (version, mut cur) = model_file::payload(bytes)?;
        let header: Header<'a> = take(&mut cur, "header")?;
        validate_header(&header)?;

        let n_dense = take::<u32>(&mut cur, "dense layer count")? as usize;
        if n_dense > MAX_DENSE {
            return Err(capacity("dense layers", MAX_DENSE, n_dense));
        }
        let mut dense = Vec::new();
        for _ in 0..n_dense {
            let d: Dense<'a> = if version >= 3 {
                take::<DenseWire<'a>>(&mut cur, "dense layer")?.into_dense(bytes)?
            } else {
                take(&mut cur, "dense layer")?
            };
            if version < 5 && d.quantizes_inputs() {
                return Err(ModelError::Malformed {
                    what: "blocked int8 weights in a file older than format version 5",
                });
            }
            d.validate()?;
            dense
                .push(d)
                .map_err(|_| capacity("dense layers", MAX_DENSE, n_dense))?;
        }

        let cond_layers = usize::from(header.cond_layers);
        let cond_net = dense.get(..cond_layers).ok_or(ModelError::Malformed {
            what: "condition network (fewer dense layers than cond_layers)",
        })?;
        if let (Some(first), Some(last)) = (cond_net.first(), cond_net.last()) {
            expect_len(
                "condition network input",
                usize::from(header.y_dim),
                first.inputs(),
            )?;
            expect_len(
                "condition network output",
                usize::from(header.cond_dim),
                last.outputs(),
            )?;
            for pair in cond_net.windows(2) {
                expect_len(
                    "condition network layer chain",
                    pair[0].outputs(),
                    pair[1].inputs(),
                )?;
            }
        }

        let n_flow = take::<u32>(&mut cur, "flow layer count")? as usize;
        if n_flow > MAX_FLOW_LAYERS {
            return Err(capacity("flow layers", MAX_FLOW_LAYERS, n_flow));
        }
        let dim = usize::from(header.flow_dim);
        let conditioned = header.kind == ModelKind::Cinn;
        let cond_dim = usize::from(header.cond_dim);
        let mut next_dense = cond_layers;
        let mut context_len = if conditioned {
            cond_dim
        } else {
            usize::from(header.y_dim)
        };
        let mut flow = Vec::new();
        for index in 0..n_flow {
            let record: FlowRecord<'a> = take(&mut cur, "flow layer")?;
            let layer = match record {
                FlowRecord::Bounded(b) => {
                    if version < crate::model_file::BOUNDED_VERSION {
                        return Err(ModelError::Malformed {
                            what: "bounded output record in a file older than version 6",
                        });
                    }
                    if !conditioned || index != 0 {
                        return Err(ModelError::Malformed {
                            what: "bounded output: only a cINN's first flow layer",
                        });
                    }
                    b.validate(dim)?;
                    FlowLayer::Bounded(b)
                }
                FlowRecord::ActNorm(a) => {
                    a.validate(dim)?;
                    FlowLayer::ActNorm(a)
                }
                FlowRecord::Permute(p) => {
                    p.validate(dim)?;
                    FlowLayer::Permute(p)
                }
                FlowRecord::Coupling {
                    style,
                    clamp,
                    subnet_layers,
                } => {
                    let block = Coupling { style, clamp, dim };
                    let (n1, n2) = (usize::from(subnet_layers[0]), usize::from(subnet_layers[1]));
                    let s1 = dense.get(next_dense..next_dense + n1);
                    let s2 = dense.get(next_dense + n1..next_dense + n1 + n2);
                    let (Some(s1), Some(s2)) = (s1, s2) else {
                        return Err(ModelError::Malformed {
                            what: "coupling subnets (not enough dense layers)",
                        });
                    };
                    block.validate([s1, s2], if conditioned { cond_dim } else { 0 })?;
                    let layer = FlowLayer::Coupling {
                        block,
                        subnet_layers,
                        first_dense: next_dense as u16,
                        cache_offset: context_len as u16,
                    };
                    if conditioned {
                        context_len += [s1, s2]
                            .iter()
                            .filter_map(|s| s.first())
                            .map(Dense::outputs)
                            .sum::<usize>();
                    }
                    next_dense += n1 + n2;
                    layer
                }
            };
            flow.push(layer)
                .map_err(|_| capacity("flow layers", MAX_FLOW_LAYERS, n_flow))?;
        }
        if next_dense != dense.len() {
            return Err(ModelError::Malformed {
                what: "dense layers not used by any subnet",
            });
        }
        #[cfg(feature = "templates")]
        let template = if version >= 4 {
            take::<Option<EnvironmentTemplate<f32>>>(&mut cur, "environment template")?
        } else if version >= 2 {
            take::<Option<TemplateV2<f32>>>(&mut cur, "environment template")?.map(Into::into)
        } else {
            None
        };
        #[cfg(feature = "templates")]
        if let Some(t) = &template {
            validate_template(t, &header)?;
        }
        // Without the feature (a buoy that does not refine: ~3 KiB of flash) the template
        // record, the rest of the payload, is left undecoded; the CRC covered it.
        #[cfg(not(feature = "templates"))]
        let template: Option<EnvironmentTemplate<f32>> = {
            let _ = version;
            cur = &[];
            None
        };
        if !cur.is_empty() {
            return Err(ModelError::TrailingBytes { count: cur.len() });
        }
        if context_len > u16::MAX as usize {
            return Err(capacity("context length", u16::MAX as usize, context_len));
        }
        Ok(Self {
            header,
            dense,
            flow,
            context_len,
            template,
        })
    }

    /// The file's header.
    pub fn header(&self) -> &Header<'a> {
        &self.header
    }

    /// The scenario the model was exported with (format version 2, `vina export
    /// --scenario`): what exact-likelihood refinement needs. `None` for a file without.
    pub fn template(&self) -> Option<&EnvironmentTemplate<f32>> {
        self.template.as_ref()
    }

    /// The support of posterior parameter `j` (model order): the template's prior when the
    /// file carries one, narrowed by the parameter table's physical bound.
    pub fn support(&self, j: usize) -> Support {
        // A template's unknowns are the header's parameters, in order (checked at decode).
        if let Some(u) = self.template.as_ref().and_then(|t| t.unknowns.get(j)) {
            return Support::of(usize::from(u.param), Some(u.prior.support()));
        }
        let name = self.header.param_names.split(',').nth(j).unwrap_or("");
        parameters::index(name).map_or(Support::UNKNOWN, |i| Support::of(i, None))
    }

    /// All dense layers, condition network first.
    pub fn dense_layers(&self) -> &[Dense<'a>] {
        &self.dense
    }

    /// The flow layers in forward order.
    pub fn flow_layers(&self) -> &[FlowLayer<'a>] {
        &self.flow
    }

    /// The condition network h (empty when c is the normalized observation itself).
    pub fn condition_net(&self) -> &[Dense<'a>] {
        &self.dense[..usize::from(self.header.cond_layers)]
    }

    /// Number of physical parameters.
    pub fn x_dim(&self) -> usize {
        usize::from(self.header.x_dim)
    }

    /// Number of observation features.
    pub fn y_dim(&self) -> usize {
        usize::from(self.header.y_dim)
    }

    /// Dimension of the flow.
    pub fn flow_dim(&self) -> usize {
        usize::from(self.header.flow_dim)
    }

    /// Length of the latent z drawn per posterior sample.
    pub fn latent_dim(&self) -> usize {
        match self.header.kind {
            ModelKind::Cinn => self.flow_dim(),
            ModelKind::Inn => self.flow_dim() - self.y_dim(),
        }
    }

    /// f32 values [`Model::prepare`] needs in its context buffer.
    pub fn context_len(&self) -> usize {
        self.context_len
    }

    /// The subnets of a coupling layer (empty slices for other layers).
    pub fn subnets(&self, layer: &FlowLayer<'a>) -> [&[Dense<'a>]; 2] {
        match *layer {
            FlowLayer::Coupling {
                subnet_layers,
                first_dense,
                ..
            } => {
                let a = usize::from(first_dense);
                let b = a + usize::from(subnet_layers[0]);
                let c = b + usize::from(subnet_layers[1]);
                [
                    self.dense.get(a..b).unwrap_or(&[]),
                    self.dense.get(b..c).unwrap_or(&[]),
                ]
            }
            _ => [&[], &[]],
        }
    }

    /// Multiply-accumulates per posterior sample, with the condition's share cached.
    pub fn macs_per_sample(&self) -> usize {
        let cond = if self.header.kind == ModelKind::Cinn {
            usize::from(self.header.cond_dim)
        } else {
            0
        };
        self.flow
            .iter()
            .flat_map(|l| self.subnets(l))
            .flat_map(|s| s.iter().enumerate())
            .map(|(i, d)| {
                if i == 0 {
                    (d.inputs() - cond) * d.outputs()
                } else {
                    d.macs()
                }
            })
            .sum()
    }

    /// What enters each subnet's first layer of coupling `layer` under `cond`: the
    /// cached condition shares of a prepared context (cINN), or nothing (INN).
    pub fn first_inputs<'c>(
        &self,
        layer: &FlowLayer<'a>,
        cond: Condition<'c>,
    ) -> Result<[FirstLayerInput<'c>; 2], ModelError> {
        if self.header.kind == ModelKind::Inn {
            return Ok([FirstLayerInput::Plain; 2]);
        }
        match cond {
            Condition::None => Err(ModelError::InvalidValue {
                what: "a conditional model needs a condition",
            }),
            Condition::Raw(c) => {
                expect_len("condition", usize::from(self.header.cond_dim), c.len())?;
                Ok([FirstLayerInput::Condition(c); 2])
            }
            Condition::Prepared(ctx) => {
                let FlowLayer::Coupling { cache_offset, .. } = *layer else {
                    return Ok([FirstLayerInput::Plain; 2]);
                };
                let [s1, s2] = self.subnets(layer);
                let w1 = s1.first().map_or(0, Dense::outputs);
                let w2 = s2.first().map_or(0, Dense::outputs);
                let off = usize::from(cache_offset);
                let short = capacity("context buffer", ctx.len(), off + w1 + w2);
                Ok([
                    FirstLayerInput::Cached(ctx.get(off..off + w1).ok_or(short)?),
                    FirstLayerInput::Cached(ctx.get(off + w1..off + w1 + w2).ok_or(short)?),
                ])
            }
        }
    }

    /// Forward pass of the flow (normalized x, padded for an INN) in place; returns
    /// log|det J|.
    pub fn forward(
        &self,
        v: &mut [f32],
        cond: Condition<'_>,
        scratch: &mut Scratch,
    ) -> Result<f32, ModelError> {
        expect_len("flow input", self.flow_dim(), v.len())?;
        let mut log_det = 0.0;
        for layer in &self.flow {
            log_det += match layer {
                FlowLayer::ActNorm(a) => a.forward(v)?,
                FlowLayer::Bounded(b) => b.forward(v)?,
                FlowLayer::Permute(p) => {
                    p.forward(v, &mut scratch.tmp)?;
                    0.0
                }
                FlowLayer::Coupling { block, .. } => block.forward(
                    v,
                    self.subnets(layer),
                    self.first_inputs(layer, cond)?,
                    scratch,
                )?,
            };
        }
        Ok(log_det)
    }

    /// Exact inverse of [`Model::forward`] in place; returns log|det J| of the inverse map.
    pub fn inverse(
        &self,
        v: &mut [f32],
        cond: Condition<'_>,
        scratch: &mut Scratch,
    ) -> Result<f32, ModelError> {
        expect_len("flow input", self.flow_dim(), v.len())?;
        let mut log_det = 0.0;
        for layer in self.flow.iter().rev() {
            log_det += match layer {
                FlowLayer::ActNorm(a) => a.inverse(v)?,
                FlowLayer::Bounded(b) => b.inverse(v)?,
                FlowLayer::Permute(p) => {
                    p.inverse(v, &mut scratch.tmp)?;
                    0.0
                }
                FlowLayer::Coupling { block, .. } => block.inverse(
                    v,
                    self.subnets(layer),
                    self.first_inputs(layer, cond)?,
                    scratch,
                )?,
            };
        }
        Ok(log_det)
    }

    /// Once per observation: normalize the features `y`, run the condition network and
    /// cache every subnet's condition share into `context` (at least
    /// [`Model::context_len`] long).
    pub fn prepare(
        &self,
        y: &[f32],
        context: &mut [f32],
        scratch: &mut Scratch,
    ) -> Result<(), ModelError> {
        let y_dim = self.y_dim();
        expect_len("observation features", y_dim, y.len())?;
        if !y.iter().all(|v| v.is_finite()) {
            return Err(ModelError::NonFiniteInput {
                what: "observation features",
            });
        }
        let short = capacity("context buffer", context.len(), self.context_len);
        let ctx = context.get_mut(..self.context_len).ok_or(short)?;
        let mut y_norm = [0.0f32; MAX_WIDTH];
        let y_norm =
            y_norm
                .get_mut(..y_dim)
                .ok_or(capacity("observation width", MAX_WIDTH, y_dim))?;
        let norm = &self.header.y_norm;
        for ((o, v), (m, s)) in y_norm
            .iter_mut()
            .zip(y)
            .zip(norm.mean.iter().zip(norm.std.iter()))
        {
            *o = (v - m) / s;
        }
        if self.header.kind == ModelKind::Inn {
            ctx[..y_dim].copy_from_slice(y_norm);
            return Ok(());
        }
        let cond_dim = usize::from(self.header.cond_dim);
        let (c, caches) = ctx.split_at_mut(cond_dim);
        let cond_net = self.condition_net();
        if cond_net.is_empty() {
            c.copy_from_slice(y_norm);
        } else {
            mlp::run(
                cond_net,
                y_norm,
                FirstLayerInput::Plain,
                c,
                &mut scratch.a,
                &mut scratch.b,
                &mut scratch.q,
            )?;
        }
        let mut off = 0;
        for layer in &self.flow {
            let FlowLayer::Coupling { block, .. } = layer else {
                continue;
            };
            let (len1, len2) = block.split();
            for (subnet, x_len) in self.subnets(layer).into_iter().zip([len1, len2]) {
                let Some(first) = subnet.first() else {
                    continue;
                };
                let base = caches.get_mut(off..off + first.outputs()).ok_or(capacity(
                    "context buffer",
                    self.context_len,
                    cond_dim + off + first.outputs(),
                ))?;
                mlp::first_layer_base(first, x_len, c, base)?;
                off += first.outputs();
            }
        }
        Ok(())
    }

    /// One posterior sample: the inverse pass of latent `z` (length
    /// [`Model::latent_dim`]) given a prepared `context`, written to `x` in physical units.
    /// Returns log|det ∂x_norm/∂v| of the inverse pass, so that the sample's density is
    /// `log N(z; 0, I) − returned value − Σ log σₓ` for a cINN.
    pub fn sample(
        &self,
        context: &[f32],
        z: &[f32],
        x: &mut [f32],
        scratch: &mut Scratch,
    ) -> Result<f32, ModelError> {
        expect_len("latent", self.latent_dim(), z.len())?;
        expect_len("parameter output", self.x_dim(), x.len())?;
        let ctx = context.get(..self.context_len).ok_or(capacity(
            "context buffer",
            context.len(),
            self.context_len,
        ))?;
        let mut v = [0.0f32; MAX_DIM];
        let v = &mut v[..self.flow_dim()];
        let log_det = match self.header.kind {
            ModelKind::Cinn => {
                v.copy_from_slice(z);
                self.inverse(v, Condition::Prepared(ctx), scratch)?
            }
            ModelKind::Inn => {
                let (vy, vz) = v.split_at_mut(self.y_dim());
                vy.copy_from_slice(&ctx[..self.y_dim()]);
                vz.copy_from_slice(z);
                self.inverse(v, Condition::None, scratch)?
            }
        };
        let norm = &self.header.x_norm;
        for ((o, vi), (m, s)) in x
            .iter_mut()
            .zip(v.iter())
            .zip(norm.mean.iter().zip(norm.std.iter()))
        {
            *o = m + s * vi;
        }
        Ok(log_det)
    }

    /// The flow layers as file records (for re-encoding).
    pub fn flow_records(&self) -> Vec<FlowRecord<'a>, MAX_FLOW_LAYERS> {
        self.flow
            .iter()
            .map(|l| match *l {
                FlowLayer::ActNorm(a) => FlowRecord::ActNorm(a),
                FlowLayer::Bounded(b) => FlowRecord::Bounded(b),
                FlowLayer::Permute(p) => FlowRecord::Permute(p),
                FlowLayer::Coupling {
                    block,
                    subnet_layers,
                    ..
                } => FlowRecord::Coupling {
                    style: block.style,
                    clamp: block.clamp,
                    subnet_layers,
                },
            })
            .collect()
    }

    /// Encode this model as a complete `.vina` file into `out`; returns the length.
    pub fn encode_into(&self, out: &mut [u8]) -> Result<usize, ModelError> {
        model_file::encode_into(
            &self.header,
            &self.dense,
            &self.flow_records(),
            self.template.as_ref(),
            out,
        )
    }

    /// Encode this model as a complete `.vina` file.
    #[cfg(feature = "alloc")]
    pub fn encode_to_vec(&self) -> Result<alloc::vec::Vec<u8>, ModelError> {
        model_file::encode_to_vec(
            &self.header,
            &self.dense,
            &self.flow_records(),
            self.template.as_ref(),
        )
    }
}

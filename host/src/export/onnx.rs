//! ONNX graph of the sampling (inverse) pass (docs/architecture.md, "Model file and export"),
//! built from a [`ModelSpec`] with the ONNX protobuf types that ship with tract-onnx and
//! encoded with prost.
//!
//! Inputs: `y` `[N, y_dim]` (observation features, un-normalized, exactly what
//! `vina-core`'s `Model::prepare` takes) and `z` `[N, latent_dim]`; output `x`
//! `[N, x_dim]` in physical units. Each row is its own observation, so one call can
//! sample many observations or many latents of one observation. The graph spells out
//! `vina-core`'s arithmetic op for op (same normalization, same soft clamp, same
//! coupling order) with opset 17 ops only, so tract and onnxruntime both load it.

use prost::Message;
use tract_onnx::pb::{
    self, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_proto::DataType, tensor_shape_proto::Dimension, tensor_shape_proto::dimension,
    type_proto,
};
use vina_core::layers::{Activation, CouplingStyle};
use vina_core::model_file::ModelKind;
use vina_core::spec::{DenseSpec, FlowSpec, ModelSpec};

/// The opset the graph is written against (≥ 17: docs/architecture.md, "Model file and export").
pub const OPSET: i64 = 17;

/// A graph under construction: nodes, initializers and a name counter.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    next: usize,
}

impl Graph {
    fn fresh(&mut self, base: &str) -> String {
        self.next += 1;
        format!("{base}_{}", self.next)
    }

    fn f32s(&mut self, base: &str, dims: &[usize], data: &[f32]) -> String {
        let name = self.fresh(base);
        self.inits.push(TensorProto {
            name: name.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            float_data: data.to_vec(),
            ..Default::default()
        });
        name
    }

    fn scalar(&mut self, base: &str, v: f32) -> String {
        self.f32s(base, &[], &[v])
    }

    fn i64s(&mut self, base: &str, data: &[i64]) -> String {
        let name = self.fresh(base);
        self.inits.push(TensorProto {
            name: name.clone(),
            dims: vec![data.len() as i64],
            data_type: DataType::Int64 as i32,
            int64_data: data.to_vec(),
            ..Default::default()
        });
        name
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_into(op, inputs, attrs, &out)
    }

    /// A node writing to a chosen output name (the graph's `x`).
    fn node_into(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
        out: &str,
    ) -> String {
        let out = out.to_owned();
        self.nodes.push(NodeProto {
            op_type: op.into(),
            name: out.clone(),
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: vec![out.clone()],
            attribute: attrs,
            ..Default::default()
        });
        out
    }

    /// Columns `[from, to)` of a `[N, d]` tensor.
    fn columns(&mut self, v: &str, from: usize, to: usize) -> String {
        let starts = self.i64s("start", &[from as i64]);
        let ends = self.i64s("end", &[to as i64]);
        let axes = self.i64s("axis", &[1]);
        self.node("Slice", &[v, &starts, &ends, &axes], vec![])
    }

    fn concat(&mut self, parts: &[&str]) -> String {
        self.node("Concat", parts, vec![int_attr("axis", 1)])
    }

    /// `act(v·Wᵀ + b)` for one dense layer.
    fn dense(&mut self, v: &str, d: &DenseSpec) -> String {
        let mut wt = vec![0.0f32; d.in_dim * d.out_dim];
        for r in 0..d.out_dim {
            for c in 0..d.in_dim {
                wt[c * d.out_dim + r] = d.weights[r * d.in_dim + c];
            }
        }
        let w = self.f32s("w", &[d.in_dim, d.out_dim], &wt);
        let b = self.f32s("b", &[d.out_dim], &d.bias);
        let mm = self.node("MatMul", &[v, &w], vec![]);
        let a = self.node("Add", &[&mm, &b], vec![]);
        match d.activation {
            Activation::Identity => a,
            Activation::Relu => self.node("Relu", &[&a], vec![]),
            Activation::LeakyRelu(slope) => {
                self.node("LeakyRelu", &[&a], vec![float_attr("alpha", slope)])
            }
            Activation::Tanh => self.node("Tanh", &[&a], vec![]),
            Activation::Gelu => {
                // 0.5·v·(1 + erf(v/√2)): opset 17 has no Gelu op.
                let k = self.scalar("inv_sqrt2", std::f32::consts::FRAC_1_SQRT_2);
                let half = self.scalar("half", 0.5);
                let one = self.scalar("one", 1.0);
                let s = self.node("Mul", &[&a, &k], vec![]);
                let e = self.node("Erf", &[&s], vec![]);
                let e1 = self.node("Add", &[&e, &one], vec![]);
                let h = self.node("Mul", &[&a, &half], vec![]);
                self.node("Mul", &[&h, &e1], vec![])
            }
        }
    }

    fn mlp(&mut self, v: &str, layers: &[DenseSpec]) -> String {
        layers
            .iter()
            .fold(v.to_owned(), |acc, d| self.dense(&acc, d))
    }

    /// `(y − t)·exp(−ŝ)` with `st = [s | t]` of `len` columns each.
    fn affine_inverse(&mut self, y: &str, st: &str, len: usize, clamp: f32) -> String {
        let s = self.columns(st, 0, len);
        let t = self.columns(st, len, 2 * len);
        let c = self.scalar("clamp", clamp);
        let k = self.scalar("clamp_gain", std::f32::consts::FRAC_2_PI * clamp);
        let q = self.node("Div", &[&s, &c], vec![]);
        let at = self.node("Atan", &[&q], vec![]);
        let sc = self.node("Mul", &[&at, &k], vec![]);
        let neg = self.node("Neg", &[&sc], vec![]);
        let e = self.node("Exp", &[&neg], vec![]);
        let d = self.node("Sub", &[y, &t], vec![]);
        self.node("Mul", &[&d, &e], vec![])
    }

    /// Subnet input: the half, then the condition (if any), as `vina-core` lays it out.
    fn subnet(&mut self, half: &str, cond: Option<&str>, layers: &[DenseSpec]) -> String {
        let input = match cond {
            Some(c) => self.concat(&[half, c]),
            None => half.to_owned(),
        };
        self.mlp(&input, layers)
    }

    fn flow_inverse(&mut self, v: &str, dim: usize, flow: &[FlowSpec], c: Option<&str>) -> String {
        let mut v = v.to_owned();
        for layer in flow.iter().rev() {
            v = match layer {
                FlowSpec::ActNorm { log_scale, bias } => {
                    let b = self.f32s("actnorm_bias", &[dim], bias);
                    let inv: Vec<f32> = log_scale.iter().map(|s| (-s).exp()).collect();
                    let e = self.f32s("actnorm_inv_scale", &[dim], &inv);
                    let d = self.node("Sub", &[&v, &b], vec![]);
                    self.node("Mul", &[&d, &e], vec![])
                }
                FlowSpec::Bounded { lo, hi } => {
                    // lo + (hi − lo)·σ(w)
                    let width: Vec<f32> = lo.iter().zip(hi).map(|(l, h)| h - l).collect();
                    let w = self.f32s("bounded_width", &[dim], &width);
                    let l = self.f32s("bounded_lo", &[dim], lo);
                    let s = self.node("Sigmoid", &[&v], vec![]);
                    let m = self.node("Mul", &[&s, &w], vec![]);
                    self.node("Add", &[&m, &l], vec![])
                }
                FlowSpec::Permute(perm) => {
                    let mut inv = vec![0i64; perm.len()];
                    for (i, &p) in perm.iter().enumerate() {
                        inv[usize::from(p)] = i as i64;
                    }
                    let idx = self.i64s("inverse_permutation", &inv);
                    self.node("Gather", &[&v, &idx], vec![int_attr("axis", 1)])
                }
                FlowSpec::Coupling {
                    style,
                    clamp,
                    subnets,
                } => {
                    let len1 = dim / 2;
                    let len2 = dim - len1;
                    let y1 = self.columns(&v, 0, len1);
                    let y2 = self.columns(&v, len1, dim);
                    let st2 = self.subnet(&y1, c, &subnets[0]);
                    let x2 = self.affine_inverse(&y2, &st2, len2, *clamp);
                    let x1 = if *style == CouplingStyle::Glow {
                        let st1 = self.subnet(&x2, c, &subnets[1]);
                        self.affine_inverse(&y1, &st1, len1, *clamp)
                    } else {
                        y1
                    };
                    self.concat(&[&x1, &x2])
                }
            };
        }
        v
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn float_attr(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

fn tensor_info(name: &str, width: usize) -> ValueInfoProto {
    let dim = |v| Dimension {
        value: Some(v),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        dim(dimension::Value::DimParam("N".into())),
                        dim(dimension::Value::DimValue(width as i64)),
                    ],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Latent width of a spec (x_dim for a cINN, flow_dim − y_dim for an INN).
pub fn latent_dim(spec: &ModelSpec) -> usize {
    match spec.kind {
        ModelKind::Cinn => spec.flow_dim,
        ModelKind::Inn => spec.flow_dim - spec.y_dim(),
    }
}

/// The ONNX model of `spec`'s sampling pass.
pub fn graph(spec: &ModelSpec) -> ModelProto {
    let h = &spec.header;
    let mut g = Graph::default();
    let y_mean = g.f32s("y_mean", &[spec.y_dim()], &h.y_mean);
    let y_std = g.f32s("y_std", &[spec.y_dim()], &h.y_std);
    let centred = g.node("Sub", &["y", &y_mean], vec![]);
    let y_norm = g.node("Div", &[&centred, &y_std], vec![]);
    let v = match spec.kind {
        ModelKind::Cinn => {
            let c = g.mlp(&y_norm, &spec.cond_net);
            g.flow_inverse("z", spec.flow_dim, &spec.flow, Some(&c))
        }
        ModelKind::Inn => {
            let v = g.concat(&[&y_norm, "z"]);
            let v = g.flow_inverse(&v, spec.flow_dim, &spec.flow, None);
            g.columns(&v, 0, spec.x_dim)
        }
    };
    let x_std = g.f32s("x_std", &[spec.x_dim], &h.x_std);
    let x_mean = g.f32s("x_mean", &[spec.x_dim], &h.x_mean);
    let scaled = g.node("Mul", &[&v, &x_std], vec![]);
    g.node_into("Add", &[&x_mean, &scaled], vec![], "x");
    ModelProto {
        ir_version: pb::Version::IrVersion as i64,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "vina".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!(
            "vina {} sampling pass: x = f⁻¹(z; y) for parameters {}",
            match spec.kind {
                ModelKind::Cinn => "cINN",
                ModelKind::Inn => "INN",
            },
            h.param_names.join(", ")
        ),
        graph: Some(GraphProto {
            name: "vina_sample".into(),
            node: g.nodes,
            initializer: g.inits,
            input: vec![
                tensor_info("y", spec.y_dim()),
                tensor_info("z", latent_dim(spec)),
            ],
            output: vec![tensor_info("x", spec.x_dim)],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The encoded ONNX file of `spec`'s sampling pass.
pub fn encode(spec: &ModelSpec) -> Vec<u8> {
    graph(spec).encode_to_vec()
}

/// `metadata_props` key: the CRC-32 of the `.vina` file the graph was exported with (the
/// CRC its preamble stores, `0x` and 8 hex digits). `vina invert --engine tract` refuses
/// a graph whose recorded CRC is not the model's.
pub const MODEL_CRC32_KEY: &str = "vina.model_crc32";
/// `metadata_props` key: that `.vina` file's weight precision (`f32` or `int8`).
pub const MODEL_PRECISION_KEY: &str = "vina.model_precision";
/// `metadata_props` key: the precision of the graph's own weights (always `f32`: an
/// int8 export's graph carries the folded f32 weights it was quantized from).
pub const GRAPH_PRECISION_KEY: &str = "vina.graph_precision";

/// The CRC-32 a `.vina` file's preamble stores (of its payload); `None` for bytes that
/// are not a `.vina` file.
pub fn model_crc32(vina: &[u8]) -> Option<u32> {
    vina_core::model_file::payload(vina).ok()?;
    let c = vina.get(10..14)?;
    Some(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// `f32`, or `int8` when any dense layer of the `.vina` file has int8 weights.
pub fn model_precision(vina: &[u8]) -> Option<&'static str> {
    let model = vina_core::model::Model::from_bytes(vina).ok()?;
    Some(if model.dense_layers().iter().any(|d| d.is_int8()) {
        "int8"
    } else {
        "f32"
    })
}

/// The `metadata_props` linking a graph to the `.vina` file `vina` (its CRC-32 and
/// precision); empty for bytes that are not a `.vina` file.
pub fn link_metadata(vina: &[u8]) -> Vec<pb::StringStringEntryProto> {
    let (Some(crc), Some(precision)) = (model_crc32(vina), model_precision(vina)) else {
        return Vec::new();
    };
    [
        (MODEL_CRC32_KEY, format!("{crc:#010x}")),
        (MODEL_PRECISION_KEY, precision.to_owned()),
        (GRAPH_PRECISION_KEY, "f32".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| pb::StringStringEntryProto {
        key: key.to_owned(),
        value,
    })
    .collect()
}

/// The encoded ONNX file of `spec`'s sampling pass, linked to the `.vina` file `vina`
/// written by the same export ([`link_metadata`]).
pub fn encode_linked(spec: &ModelSpec, vina: &[u8]) -> Vec<u8> {
    let mut g = graph(spec);
    g.metadata_props = link_metadata(vina);
    g.encode_to_vec()
}

/// The value of `key` in a graph's `metadata_props`.
pub fn metadata<'a>(model: &'a ModelProto, key: &str) -> Option<&'a str> {
    model
        .metadata_props
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.as_str())
}

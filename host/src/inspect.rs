//! `vina inspect FILE`: a model file's format version, header, environment template and
//! layer table, or why it was refused.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};
use vina_core::layers::{Dense, Weights};
use vina_core::model::{FlowLayer, Model};
use vina_core::model_file::{FORMAT_VERSION, MIN_FORMAT_VERSION};
use vina_core::template::{EnvironmentTemplate, PARAM_NAMES};

use crate::error::{InputError, read_input_limited};

/// Read and decode `path`, naming the file in any error; an unreadable file is refused
/// like a corrupt one (exit code 2).
pub fn read_model_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = read_input_limited(
        path,
        "model file",
        crate::export::MAX_MODEL_FILE_BYTES,
        crate::export::MAX_MODEL_FILE_TEXT,
    )?;
    Model::from_bytes(&bytes).map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    Ok(bytes)
}

/// The format version of a model file's bytes (`None` when the preamble is refused).
pub fn format_version(bytes: &[u8]) -> Option<u16> {
    vina_core::model_file::payload(bytes).ok().map(|(v, _)| v)
}

/// The name of physical parameter `index` ([`PARAM_NAMES`] order).
fn param_name(index: u64) -> &'static str {
    usize::try_from(index)
        .ok()
        .and_then(|i| PARAM_NAMES.get(i))
        .copied()
        .unwrap_or("?")
}

/// The template as JSON, with f32 values as written (shortest round-trip form), each
/// unknown named and the fixed values keyed by parameter name.
pub fn template_json(t: &EnvironmentTemplate<f32>) -> Value {
    // Through text, so f32 values print as 1532.1, not as their f64 expansion.
    let mut v: Value = serde_json::to_string(t)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        if let Some(Value::Array(us)) = obj.get_mut("unknowns") {
            for u in us.iter_mut().filter_map(Value::as_object_mut) {
                let name = param_name(u.get("param").and_then(Value::as_u64).unwrap_or(u64::MAX));
                u.insert("name".into(), name.into());
            }
        }
        if let Some(Value::Array(values)) = obj.get("values") {
            let named: serde_json::Map<String, Value> = values
                .iter()
                .enumerate()
                .map(|(i, v)| (param_name(i as u64).to_owned(), v.clone()))
                .collect();
            obj.insert("values".into(), Value::Object(named));
        }
    }
    v
}

/// A JSON value on one line: numbers and strings bare, lists comma-separated, a
/// one-variant enum as `Variant(field value, …)`.
fn compact(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(compact).collect::<Vec<_>>().join(", "),
        Value::Object(o) if o.len() == 1 && o.values().all(Value::is_object) => o
            .iter()
            .map(|(k, inner)| format!("{k}({})", compact(inner)))
            .collect(),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k} {}", compact(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The text block of an environment template: every field it holds, in the order the
/// template declares them where known.
fn template_report(s: &mut String, t: &EnvironmentTemplate<f32>) {
    let _ = writeln!(
        s,
        "environment template (for exact-likelihood refinement, `vina invert --refine`)"
    );
    let v = template_json(t);
    let Some(obj) = v.as_object() else {
        return;
    };
    let order = [
        "waveguide",
        "unknowns",
        "values",
        "tones_hz",
        "receiver_depths_m",
        "snr_db",
        "features",
    ];
    let keys = order
        .iter()
        .copied()
        .filter(|k| obj.contains_key(*k))
        .chain(
            obj.keys()
                .map(String::as_str)
                .filter(|k| !order.contains(k)),
        );
    let unknown: Vec<&str> = t.unknown_names().collect();
    for key in keys {
        match key {
            "unknowns" => {
                for (i, (name, u)) in unknown.iter().zip(&t.unknowns).enumerate() {
                    let label = if i == 0 { "unknowns" } else { "" };
                    let _ = writeln!(s, "  {label:<18}{name} ~ {:?}", u.prior);
                }
            }
            "values" => {
                let values = obj.get("values").and_then(Value::as_object);
                let fixed = PARAM_NAMES
                    .iter()
                    .filter(|n| !unknown.contains(n))
                    .filter_map(|n| {
                        values
                            .and_then(|v| v.get(*n))
                            .filter(|v| !v.is_null())
                            .map(|v| (n, v))
                    });
                for (i, (name, value)) in fixed.enumerate() {
                    let label = if i == 0 { "fixed" } else { "" };
                    let _ = writeln!(s, "  {label:<18}{name} = {}", compact(value));
                }
            }
            _ => {
                let _ = writeln!(
                    s,
                    "  {key:<18}{}",
                    obj.get(key).map_or_else(String::new, compact)
                );
            }
        }
    }
}

fn precision(d: &Dense<'_>) -> &'static str {
    match d.weights {
        Weights::F32(_) => "f32",
        Weights::I8 { .. } => "int8",
        Weights::I8Blocked { .. } => "int8 (4-row blocks, q15 activations)",
    }
}

fn dense_row(d: &Dense<'_>) -> String {
    format!(
        "{}→{} {:?} {} ({} weights)",
        d.in_dim,
        d.out_dim,
        d.activation,
        precision(d),
        d.macs()
    )
}

/// The text report.
pub fn report(model: &Model<'_>, file_len: usize) -> String {
    let h = model.header();
    let mut s = String::new();
    let _ = writeln!(s, "kind            {:?}", h.kind);
    let _ = writeln!(s, "parameters      {} ({})", h.x_dim, h.param_names);
    let _ = writeln!(
        s,
        "features        {:?}: {} tones × {} receivers = {} values",
        h.features.kind,
        h.features.tones(),
        h.features.receivers,
        h.y_dim
    );
    let tones: Vec<String> = h.features.tones_hz.iter().map(|f| format!("{f}")).collect();
    let _ = writeln!(s, "tones (Hz)      {}", tones.join(", "));
    let _ = writeln!(
        s,
        "flow dim        {} (latent {}), condition dim {}",
        h.flow_dim,
        model.latent_dim(),
        h.cond_dim
    );
    let means: Vec<String> = h.x_norm.mean.iter().map(|v| format!("{v}")).collect();
    let stds: Vec<String> = h.x_norm.std.iter().map(|v| format!("{v}")).collect();
    let _ = writeln!(
        s,
        "x normalization mean [{}], std [{}]",
        means.join(", "),
        stds.join(", ")
    );
    let _ = writeln!(s, "scenario hash   {:016x}", h.scenario_hash);
    let _ = writeln!(
        s,
        "size            {file_len} bytes; {} MACs per posterior sample; context {} floats",
        model.macs_per_sample(),
        model.context_len()
    );
    s.push('\n');
    match model.template() {
        Some(t) => template_report(&mut s, t),
        None => {
            let _ = writeln!(
                s,
                "environment template none (store one with `vina export --scenario`)"
            );
        }
    }
    let _ = writeln!(s, "\n#   layer");
    for (i, d) in model.condition_net().iter().enumerate() {
        let _ = writeln!(s, "h{i:<2} condition dense {}", dense_row(d));
    }
    for (i, layer) in model.flow_layers().iter().enumerate() {
        match layer {
            FlowLayer::ActNorm(a) => {
                let _ = writeln!(s, "{i:<3} ActNorm ({} dims)", a.log_scale.len());
            }
            FlowLayer::Bounded(b) => {
                let _ = writeln!(
                    s,
                    "{i:<3} Bounded output ({} dims, the prior's box)",
                    b.lo.len()
                );
            }
            FlowLayer::Permute(p) => {
                let _ = writeln!(s, "{i:<3} Permute ({} dims)", p.len());
            }
            FlowLayer::Coupling { block, .. } => {
                let _ = writeln!(
                    s,
                    "{i:<3} Coupling {:?}, clamp {}",
                    block.style, block.clamp
                );
                for (k, net) in model.subnets(layer).iter().enumerate() {
                    for d in *net {
                        let _ = writeln!(s, "      subnet {} dense {}", k + 1, dense_row(d));
                    }
                }
            }
        }
    }
    s
}

/// The JSON report.
pub fn report_json(model: &Model<'_>, file_len: usize) -> serde_json::Value {
    let h = model.header();
    let dense = |d: &Dense<'_>| json!({"in": d.in_dim, "out": d.out_dim, "activation": format!("{:?}", d.activation), "precision": precision(d)});
    let layers: Vec<_> = model
        .flow_layers()
        .iter()
        .map(|l| match l {
            FlowLayer::ActNorm(a) => json!({"type": "actnorm", "dim": a.log_scale.len()}),
            FlowLayer::Bounded(b) => json!({"type": "bounded", "dim": b.lo.len(),
                "lo": b.lo.iter().collect::<Vec<_>>(), "hi": b.hi.iter().collect::<Vec<_>>()}),
            FlowLayer::Permute(p) => json!({"type": "permute", "dim": p.len()}),
            FlowLayer::Coupling { block, .. } => json!({
                "type": "coupling", "style": format!("{:?}", block.style), "clamp": block.clamp,
                "subnets": model.subnets(l).iter().map(|n| n.iter().map(dense).collect::<Vec<_>>()).collect::<Vec<_>>(),
            }),
        })
        .collect();
    json!({
        "kind": format!("{:?}", h.kind),
        "parameters": h.param_names.split(',').collect::<Vec<_>>(),
        "x_dim": h.x_dim, "y_dim": h.y_dim, "flow_dim": h.flow_dim, "cond_dim": h.cond_dim,
        "latent_dim": model.latent_dim(),
        "features": {"kind": format!("{:?}", h.features.kind), "receivers": h.features.receivers,
                      "tones_hz": h.features.tones_hz.iter().collect::<Vec<_>>()},
        "x_mean": h.x_norm.mean.iter().collect::<Vec<_>>(), "x_std": h.x_norm.std.iter().collect::<Vec<_>>(),
        "scenario_hash": format!("{:016x}", h.scenario_hash),
        "file_bytes": file_len,
        "macs_per_sample": model.macs_per_sample(),
        "context_len": model.context_len(),
        "condition_net": model.condition_net().iter().map(dense).collect::<Vec<_>>(),
        "flow": layers,
        "environment_template": model.template().map_or(Value::Null, template_json),
    })
}

/// The format-version line of the text report.
fn version_line(version: Option<u16>) -> String {
    let v = version.map_or_else(|| "?".into(), |v| v.to_string());
    format!(
        "format version  {v} (this build reads {MIN_FORMAT_VERSION}–{FORMAT_VERSION}, writes {FORMAT_VERSION})\n"
    )
}

/// `vina inspect`.
pub fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let bytes = read_model_bytes(path)?;
    let model =
        Model::from_bytes(&bytes).map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    let version = format_version(&bytes);
    if json {
        let mut v = report_json(&model, bytes.len());
        if let Some(obj) = v.as_object_mut() {
            obj.insert("format_version".into(), json!(version));
        }
        crate::outln!("{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        crate::out!("{}{}", version_line(version), report(&model, bytes.len()))?;
    }
    Ok(())
}

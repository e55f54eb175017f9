//! `vina inspect FILE`: a model file's header and layer table, or why it was refused.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde_json::json;
use vina_core::layers::{Dense, Weights};
use vina_core::model::{FlowLayer, Model};

use crate::error::InputError;

/// Read and decode `path`, naming the file in any error.
pub fn read_model_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    Model::from_bytes(&bytes).map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    Ok(bytes)
}

fn precision(d: &Dense<'_>) -> &'static str {
    match d.weights {
        Weights::F32(_) => "f32",
        Weights::I8 { .. } => "int8",
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
    let _ = writeln!(s, "\n#   layer");
    for (i, d) in model.condition_net().iter().enumerate() {
        let _ = writeln!(s, "h{i:<2} condition dense {}", dense_row(d));
    }
    for (i, layer) in model.flow_layers().iter().enumerate() {
        match layer {
            FlowLayer::ActNorm(a) => {
                let _ = writeln!(s, "{i:<3} ActNorm ({} dims)", a.log_scale.len());
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
    })
}

/// `vina inspect`.
pub fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let bytes = read_model_bytes(path)?;
    let model =
        Model::from_bytes(&bytes).map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&model, bytes.len()))?
        );
    } else {
        print!("{}", report(&model, bytes.len()));
    }
    Ok(())
}

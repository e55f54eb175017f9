//! `spec::Architecture`, the one description of a network's shape: its `[model]` table
//! spelling (serde, here through JSON), the shapes it gives the trainer and `RandomArch`,
//! and `Precision`'s names.

use vina_core::layers::{Activation, CouplingStyle};
use vina_core::model_file::ModelKind;
use vina_core::spec::{Architecture, Precision, RandomArch};

#[test]
fn the_table_keeps_its_keys_and_defaults() {
    let json = serde_json::to_string(&Architecture::default()).unwrap();
    assert_eq!(
        json,
        r#"{"kind":"cinn","blocks":4,"style":"glow","hidden":[48,48],"activation":"relu","leaky_slope":0.01,"clamp":2.0,"actnorm":true,"cond_hidden":[64],"cond_dim":32,"flow_dim":0,"pad_noise":0.01,"noise_in_x":false,"last_layer_scale":0.0,"bounded":false}"#
    );
    let empty: Architecture = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, Architecture::default());
    for arch in RandomArch::coverage_set().into_iter().map(|a| a.net) {
        let json = serde_json::to_string(&arch).unwrap();
        assert_eq!(
            serde_json::from_str::<Architecture>(&json).unwrap(),
            arch,
            "{json}"
        );
    }
}

#[test]
fn the_activation_is_a_name_and_a_slope_in_any_order() {
    for json in [
        r#"{"activation":"leaky_relu","leaky_slope":0.2}"#,
        r#"{"leaky_slope":0.2,"activation":"leaky_relu"}"#,
    ] {
        let a: Architecture = serde_json::from_str(json).unwrap();
        assert_eq!(a.activation, Activation::LeakyRelu(0.2), "{json}");
    }
    let a: Architecture = serde_json::from_str(r#"{"activation":"leaky_relu"}"#).unwrap();
    assert_eq!(a.activation, Activation::LeakyRelu(0.01));
    let a: Architecture = serde_json::from_str(
        r#"{"activation":"gelu","leaky_slope":0.2,"style":"real_nvp","kind":"inn"}"#,
    )
    .unwrap();
    assert_eq!(
        (a.activation, a.style, a.kind),
        (Activation::Gelu, CouplingStyle::RealNvp, ModelKind::Inn)
    );
}

#[test]
fn unknown_keys_and_values_are_refused_by_name() {
    let err = |json: &str| {
        serde_json::from_str::<Architecture>(json)
            .unwrap_err()
            .to_string()
    };
    assert!(err(r#"{"foo":1}"#).starts_with("unknown field `foo`, expected one of `kind`"));
    for name in ["identity", "swish"] {
        let e = err(&format!(r#"{{"activation":"{name}"}}"#));
        assert!(
            e.starts_with(&format!(
                "unknown variant `{name}`, expected one of `relu`, `leaky_relu`, `gelu`, `tanh`"
            )),
            "{e}"
        );
    }
    assert!(
        err(r#"{"kind":"dnn"}"#).starts_with("unknown variant `dnn`, expected `cinn` or `inn`")
    );
}

#[test]
fn shapes_follow_the_kind_and_style() {
    let cinn = Architecture::default();
    assert_eq!(cinn.flow_dim_for(2, 35), 2);
    assert_eq!(cinn.condition_widths(35), Some(vec![35, 64, 32]));
    assert_eq!(
        cinn.subnet_widths(3),
        vec![vec![1 + 32, 48, 48, 4], vec![2 + 32, 48, 48, 2]]
    );
    let plain = Architecture {
        cond_hidden: Vec::new(),
        cond_dim: 35,
        style: CouplingStyle::RealNvp,
        ..cinn
    };
    assert_eq!(plain.condition_widths(35), None);
    assert_eq!(plain.subnet_widths(2), vec![vec![1 + 35, 48, 48, 2]]);
    let inn = Architecture::paper_inn();
    assert_eq!((inn.flow_dim_for(2, 70), inn.condition_dim()), (88, 0));
    assert_eq!(inn.condition_widths(70), None);
    let auto = Architecture { flow_dim: 0, ..inn };
    assert_eq!(auto.flow_dim_for(2, 70), 72);
}

#[test]
fn precisions_parse_their_names() {
    for p in Precision::ALL {
        assert_eq!(p.name().parse::<Precision>(), Ok(p));
        assert_eq!(p.to_string(), p.name());
    }
    assert!("int4".parse::<Precision>().is_err());
}

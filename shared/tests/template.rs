//! The environment template's physical checks (`EnvironmentTemplate::validate`) over the
//! whole prior box, and that a model file whose template breaks them is refused at decode.

use vina_core::error::ModelError;
use vina_core::model::Model;
use vina_core::model_file;
use vina_core::parameters::{BOTTOM, SOURCE_DEPTH, WATER, WATER_DEPTH};
use vina_core::prior::Prior;
use vina_core::template::EnvironmentTemplate;

fn committed_model() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/gi-pekeris-cinn.vina"
    );
    std::fs::read(path).unwrap()
}

fn committed_template() -> EnvironmentTemplate<f32> {
    let bytes = committed_model();
    Model::from_bytes(&bytes)
        .unwrap()
        .template()
        .unwrap()
        .clone()
}

fn what(t: &EnvironmentTemplate<f32>) -> &'static str {
    match t.validate() {
        Err(ModelError::InvalidValue { what }) => what,
        other => panic!("expected an invalid-value error, got {other:?}"),
    }
}

/// Feeds the committed gi-pekeris template (water depth U(200.5, 236.5), receivers 30–190 m,
/// source 60 m, water speed U(1532, 1592), bottom 1700 m/s) with one field broken at a time;
/// each is refused naming the field, the unbroken template passes.
#[test]
fn physical_checks_name_the_field() {
    let ok = committed_template();
    ok.validate().unwrap();
    assert_eq!(ok.ranges()[WATER_DEPTH], (200.5, 236.5));

    let mut t = ok.clone();
    t.receiver_depths_m[1] = 20.0; // 30, 20, 110, …
    assert!(what(&t).contains("receiver depths not increasing"));

    let mut t = ok.clone();
    t.receiver_depths_m[0] = -1.0;
    assert!(what(&t).contains("receiver"));

    let mut t = ok.clone();
    *t.receiver_depths_m.last_mut().unwrap() = 201.0; // below the shallowest seabed, 200.5 m
    assert!(what(&t).contains("receiver lies below the seabed"));

    let mut t = ok.clone();
    t.values[SOURCE_DEPTH] = 210.0; // in the water for some depths, not for 200.5 m
    assert!(what(&t).contains("source depth"));

    let mut t = ok.clone();
    t.values[BOTTOM] = 1590.0; // slower than the fastest water, 1592 m/s
    assert!(what(&t).contains("bottom sound speed"));

    let mut t = ok.clone();
    t.unknowns[1].prior = Prior::TruncatedNormal {
        mean: 1560.0,
        std: 10.0,
        min: 1500.0,
        max: 1750.0, // reaches the bottom's 1700 m/s
    };
    assert_eq!(t.unknowns[1].param as usize, WATER);
    assert!(what(&t).contains("bottom sound speed"));
    t.unknowns[1].prior = Prior::TruncatedNormal {
        mean: 1560.0,
        std: 10.0,
        min: 1500.0,
        max: 1699.0,
    };
    t.validate().unwrap();

    let mut t = ok.clone();
    t.values[BOTTOM] = f32::NAN;
    assert!(what(&t).contains("not finite"));

    let mut t = ok.clone();
    t.tones_hz[0] = 0.0;
    assert!(what(&t).contains("tone"));

    let mut t = ok.clone();
    t.unknowns[0].prior = Prior::Uniform {
        min: -1.0,
        max: 236.5,
    };
    assert!(what(&t).contains("below its bound"));
}

/// A model file whose template puts a receiver below the seabed is refused by
/// `Model::from_bytes`; the same file with the committed template decodes.
#[test]
fn decode_validates_the_template() {
    let bytes = committed_model();
    let model = Model::from_bytes(&bytes).unwrap();
    let mut bad = committed_template();
    *bad.receiver_depths_m.last_mut().unwrap() = 230.0;
    let mut out = vec![0u8; bytes.len() + 4096];
    let encode = |t: &EnvironmentTemplate<f32>, out: &mut [u8]| {
        model_file::encode_into(
            model.header(),
            model.dense_layers(),
            &model.flow_records(),
            Some(t),
            out,
        )
        .unwrap()
    };
    let n = encode(&committed_template(), &mut out);
    assert!(Model::from_bytes(&out[..n]).is_ok());
    let n = encode(&bad, &mut out);
    match Model::from_bytes(&out[..n]) {
        Err(ModelError::InvalidValue { what }) => {
            assert!(what.contains("receiver lies below the seabed"), "{what}")
        }
        Err(e) => panic!("wrong error: {e:?}"),
        Ok(_) => panic!("a template with a receiver below the seabed decoded"),
    }
}

//! Build script: put `memory.x` where the linker finds it, and provide the model built
//! into flash. The default is the committed, trained `models/gi-pekeris-cinn.vina` (f32)
//! and `models/gi-pekeris-cinn-int8.vina` (int8, feature `int8-model`), and on the boards
//! (one four-channel ADC) `models/gi-pekeris-4rx-cinn{,-int8}.vina`;
//! `VINA_MODEL=path/to/model.vina` selects another. A file of an older format version is
//! re-encoded in the current one, whose aligned arrays the kernels read in place
//! (docs/model-format.md); the model is validated at boot (CRC, version, dimensions), not
//! here, so a corrupt file is embedded as it is and gives the firmware's fault report. `VINA_RECORDING=path` embeds a recording for the
//! `buoy` binary's replay source and links with 4 MiB of flash
//! (`memory-qemu.x`), since recordings are test data, not firmware. A board feature
//! (`board-stm32f411`, `board-stm32f405`) links with that board's memory map
//! (`boards/*/memory.x`) instead.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let recording = env::var_os("VINA_RECORDING");
    // A real board's memory map when its feature is on (`boards/NAME/memory.x`): a
    // recording embedded there must fit the part's flash, or the link fails.
    let memory = if env::var_os("CARGO_FEATURE_BOARD_STM32F411").is_some() {
        "boards/stm32f411/memory.x"
    } else if env::var_os("CARGO_FEATURE_BOARD_STM32F405").is_some() {
        "boards/stm32f405/memory.x"
    } else if recording.is_some() {
        "memory-qemu.x"
    } else {
        "memory-budget.x"
    };
    fs::copy(memory, out.join("memory.x")).expect("memory layouts are next to build.rs");
    println!("cargo:rustc-link-search={}", out.display());
    // defmt's interned strings need its linker script (the `defmt` feature, Cortex-M only)
    let bare_metal = env::var("TARGET").is_ok_and(|t| t.ends_with("-none-eabihf"));
    let defmt = ["CARGO_FEATURE_DEFMT", "CARGO_FEATURE_BOARD"].map(env::var_os);
    if bare_metal && defmt.iter().any(Option::is_some) {
        println!("cargo:rustc-link-arg=-Tdefmt.x");
    }
    println!("cargo:rerun-if-changed=memory-budget.x");
    println!("cargo:rerun-if-changed=memory-qemu.x");
    println!("cargo:rerun-if-changed=boards");
    println!("cargo:rerun-if-env-changed=VINA_MODEL");
    println!("cargo:rerun-if-env-changed=VINA_RECORDING");
    let rec = match &recording {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(path).display());
            fs::read(path).expect("VINA_RECORDING names a readable recording")
        }
        None => Vec::new(),
    };
    fs::write(out.join("recording.vrec"), rec).expect("OUT_DIR is writable");

    // The boards read one ADS131M04: four channels, so their default is the four-receiver
    // model (models/README.md); QEMU and Linux builds replay five-channel recordings.
    let board = env::var_os("CARGO_FEATURE_BOARD").is_some();
    let scenario = if board {
        "gi-pekeris-4rx"
    } else {
        "gi-pekeris"
    };
    for (name, suffix) in [("model_f32.vina", ""), ("model_int8.vina", "-int8")] {
        let default = format!("../models/{scenario}-cinn{suffix}.vina");
        let path = env::var_os("VINA_MODEL").map_or_else(|| PathBuf::from(default), PathBuf::from);
        embed_model(&path, &out.join(name));
    }
    // `buoy_linux` replays five-channel recordings with the default model and reads one
    // ADS131M04 (four channels) with the four-receiver one: it carries both.
    if env::var_os("CARGO_FEATURE_LINUX").is_some() {
        let path = PathBuf::from("../models/gi-pekeris-4rx-cinn.vina");
        embed_model(&path, &out.join("model_4rx_f32.vina"));
    }
}

/// Copy the model at `path` to `to`, re-encoded in the current format version when it
/// reads (a file that does not is copied as it is: the firmware refuses it at boot).
fn embed_model(path: &std::path::Path, to: &std::path::Path) {
    println!("cargo:rerun-if-changed={}", path.display());
    let bytes = fs::read(path).unwrap_or_else(|e| {
        panic!(
            "model {}: {e} (set VINA_MODEL to a .vina file)",
            path.display()
        )
    });
    let current = vina_core::model::Model::from_bytes(&bytes)
        .ok()
        .and_then(|m| m.encode_to_vec().ok())
        .unwrap_or(bytes);
    fs::write(to, current).expect("OUT_DIR is writable");
}

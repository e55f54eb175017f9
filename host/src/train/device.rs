//! Which Burn device trains (docs/architecture.md, "Models and losses"): the pure-Rust CPU
//! backend `flex` by default, a GPU through Burn's own backends when vina-host is built with
//! their cargo feature (`--features cuda` or `--features wgpu`). Scale-out is Burn's job; the
//! trainer only names the device.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::error::refuse;

/// A training device, as named in the config (`device = "flex"`) or by `vina train
/// --device`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DeviceName {
    /// Burn's pure-Rust CPU backend (always built).
    #[default]
    Flex,
    /// NVIDIA GPU 0 through CubeCL CUDA (cargo feature `cuda`).
    Cuda,
    /// The default GPU adapter through wgpu (cargo feature `wgpu`).
    Wgpu,
}

impl DeviceName {
    /// The Burn device, or a clear error when this build lacks its backend.
    pub fn device(self) -> anyhow::Result<Device> {
        let missing = |feature: &str| {
            Err(refuse(format!(
                "training device {feature}: this vina was built without Burn's {feature} \
                 backend; rebuild with `cargo build -p vina-host --features {feature}`"
            )))
        };
        match self {
            Self::Flex => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            Self::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            Self::Cuda => missing("cuda"),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(not(feature = "wgpu"))]
            Self::Wgpu => missing("wgpu"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_a_device_and_missing_backends_are_refused() {
        let c: crate::train::TrainConfig = toml::from_str("device = \"cuda\"").unwrap();
        assert_eq!(c.device, DeviceName::Cuda);
        assert_eq!(
            crate::train::TrainConfig::default().device,
            DeviceName::Flex
        );
        assert!(DeviceName::Flex.device().is_ok());
        #[cfg(not(feature = "cuda"))]
        {
            let e = DeviceName::Cuda.device().unwrap_err().to_string();
            assert!(e.contains("--features cuda"), "{e}");
        }
        #[cfg(not(feature = "wgpu"))]
        assert!(DeviceName::Wgpu.device().is_err());
    }
}

use std::sync::Mutex;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::TrainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendKind {
    /// burn's pure-Rust CPU backend (`flex`), SIMD where the target has it.
    Cpu,
    /// burn's wgpu backend: WebGPU in the browser, Vulkan/Metal/DX12 natively.
    Wgpu,
}

/// An opened device with autodiff, and the sentence that tells the user what runs.
#[derive(Debug, Clone)]
pub struct Backend {
    pub device: Device,
    pub label: String,
}

impl Backend {
    pub async fn open(kind: BackendKind) -> Result<Self, TrainError> {
        match kind {
            BackendKind::Cpu => Ok(Self { device: Device::flex().autodiff(), label: "CPU (burn flex)".into() }),
            BackendKind::Wgpu => {
                // wgpu's runtime can be initialised once per process, and a page trains many times.
                static OPENED: Mutex<Option<Backend>> = Mutex::new(None);
                if let Some(backend) = OPENED.lock().ok().and_then(|b| b.clone()) {
                    return Ok(backend);
                }
                let (device, setup) = Device::wgpu_options()
                    .init_with_setup_async()
                    .await
                    .map_err(|e| TrainError::NoGpu(e.to_string()))?;
                let info = setup.adapter.get_info();
                let api = match info.backend {
                    burn::tensor::wgpu::wgpu::Backend::BrowserWebGpu => "WebGPU".to_string(),
                    other => format!("wgpu/{other:?}"),
                };
                let mut label = api;
                if !info.name.is_empty() {
                    label = format!("{label}: {}", info.name);
                }
                if info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu {
                    label.push_str(" (software adapter)");
                }
                let backend = Self { device: device.autodiff(), label };
                if let Ok(mut slot) = OPENED.lock() {
                    *slot = Some(backend.clone());
                }
                Ok(backend)
            }
        }
    }
}

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::TrainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendKind {
    /// burn's pure-Rust CPU backend (`flex`), SIMD where the target has it.
    Cpu,
    /// burn's wgpu backend: WebGPU in the browser, Vulkan/Metal/DX12 natively.
    Wgpu,
    /// The GPU where it is a hardware one and wins a short trial, else the CPU
    /// ([`crate::bench::choose`]).
    Auto,
}

/// An opened device with autodiff, and the sentence that tells the user what runs.
#[derive(Debug, Clone)]
pub struct Backend {
    /// `Cpu` or `Wgpu`, never `Auto`.
    pub kind: BackendKind,
    pub device: Device,
    pub label: String,
    /// A wgpu adapter that runs on the CPU (SwiftShader, llvmpipe): far slower than burn's own
    /// CPU backend.
    pub software: bool,
}

impl Backend {
    /// Opens the CPU or the GPU; `Auto` is resolved by [`crate::bench::choose`], which needs the
    /// model and data for its trial, and opens the CPU here.
    pub async fn open(kind: BackendKind) -> Result<Self, TrainError> {
        match kind {
            BackendKind::Cpu | BackendKind::Auto => Ok(Self {
                kind: BackendKind::Cpu,
                device: Device::flex().autodiff(),
                label: "CPU (burn flex)".into(),
                software: false,
            }),
            BackendKind::Wgpu => open_gpu().await,
        }
    }
}

/// wgpu's adapter, opened once per process: its runtime can be initialised only once, and a page
/// trains many times.
#[cfg(feature = "gpu")]
async fn open_gpu() -> Result<Backend, TrainError> {
    use std::sync::Mutex;

    static OPENED: Mutex<Option<Backend>> = Mutex::new(None);
    if let Some(backend) = OPENED.lock().ok().and_then(|b| b.clone()) {
        return Ok(backend);
    }
    let (device, setup) =
        Device::wgpu_options().init_with_setup_async().await.map_err(|e| TrainError::NoGpu(e.to_string()))?;
    let info = setup.adapter.get_info();
    let api = match info.backend {
        burn::tensor::wgpu::wgpu::Backend::BrowserWebGpu => "WebGPU".to_string(),
        other => format!("wgpu/{other:?}"),
    };
    let mut label = api;
    if !info.name.is_empty() {
        label = format!("{label}: {}", info.name);
    }
    let software = info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu;
    if software {
        label.push_str(" (software adapter)");
    }
    let backend = Backend { kind: BackendKind::Wgpu, device: device.autodiff(), label, software };
    if let Ok(mut slot) = OPENED.lock() {
        *slot = Some(backend.clone());
    }
    Ok(backend)
}

#[cfg(not(feature = "gpu"))]
async fn open_gpu() -> Result<Backend, TrainError> {
    Err(TrainError::NoGpu("this build has no GPU backend".into()))
}

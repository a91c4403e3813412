use burn::prelude::*;
use cnn_models::Analysis;
use cnn_models::analysis::BYTES;
use cnn_models::units::bytes;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::checkpoint::CheckpointError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendKind {
    /// burn's pure-Rust CPU backend (`flex`), SIMD where the target has it.
    Cpu,
    /// burn's wgpu backend: WebGPU in the browser, Vulkan/Metal/DX12 natively.
    Wgpu,
    /// wgpu pinned to Vulkan, natively: any Vulkan driver (NVIDIA, AMD, Intel, Mesa's lavapipe).
    /// Kernels reach it as WGSL translated by naga, not through cubecl's own SPIR-V compiler
    /// (burn's `vulkan` feature): every kernel compiled that way, burn's own included, crashes
    /// lavapipe (Mesa 22.3.6 and 25.0.7) in `vkCreateComputePipelines`.
    Vulkan,
    /// The GPU where it is a hardware one and wins a short trial, else the CPU
    /// ([`crate::bench::choose`]).
    Auto,
}

/// An opened device with autodiff, and the sentence that tells the user what runs.
#[derive(Debug, Clone)]
pub struct OpenedDevice {
    /// `Cpu`, `Wgpu` or `Vulkan`, never `Auto`.
    pub kind: BackendKind,
    pub device: Device,
    pub label: String,
    /// A wgpu adapter that runs on the CPU (SwiftShader, llvmpipe): far slower than burn's own
    /// CPU backend.
    pub software: bool,
    pub capacity: Capacity,
}

/// What a device can hold, where it is known; a run that needs more is refused before it starts
/// ([`OpenedDevice::check_fits`]), instead of failing an allocation halfway through a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Bytes for the whole run's training memory ([`Analysis::training_memory`]).
    pub memory: Option<u64>,
    /// Bytes of the largest single tensor (a GPU's largest storage buffer).
    pub buffer: Option<u64>,
}

/// The CPU in a browser lives in wasm32's 4 GiB address space, shared with the data set and its
/// resized copy (up to 512 MiB) and the code: 3 GiB is what a run's estimate may take. Natively
/// the operating system decides.
#[cfg(target_arch = "wasm32")]
const CPU_CAPACITY: Capacity = Capacity { memory: Some(3 << 30), buffer: None };
#[cfg(not(target_arch = "wasm32"))]
const CPU_CAPACITY: Capacity = Capacity { memory: None, buffer: None };

const SMALLER: &str = "choose a smaller batch or image size";

impl OpenedDevice {
    /// Opens the CPU or the GPU; `Auto` is resolved by [`crate::bench::choose`], which needs the
    /// model and data for its trial, and opens the CPU here.
    pub async fn open(kind: BackendKind) -> Result<Self, TrainError> {
        crate::constructors::run();
        match kind {
            BackendKind::Cpu | BackendKind::Auto => Ok(Self {
                kind: BackendKind::Cpu,
                device: Device::flex().autodiff(),
                label: "CPU (burn flex)".into(),
                software: false,
                capacity: CPU_CAPACITY,
            }),
            BackendKind::Wgpu | BackendKind::Vulkan => open_gpu(kind).await,
        }
    }

    /// Refuses, with a sentence, a run of the analysed model at `batch` that this device cannot
    /// hold: its training memory, its largest layer output for the batch, its largest weights.
    pub fn check_fits(&self, analysis: &Analysis, batch: usize) -> Result<(), TrainError> {
        let too_large = |what: String| TrainError::TooLarge { what, device: self.label.clone() };
        if let Some(memory) = self.capacity.memory {
            let needed = analysis.training_memory(batch);
            if needed > memory {
                return Err(too_large(format!(
                    "a batch of {batch} needs about {} to train (weights, their gradients and every layer's \
                     output), more than the {} it can give a run: {SMALLER}",
                    bytes(needed),
                    bytes(memory)
                )));
            }
        }
        if let Some(buffer) = self.capacity.buffer {
            let size = |row: &cnn_models::Row| row.shape.iter().product::<usize>() as u64;
            // The first of equal rows (a conv before its ReLU): `max_by_key` keeps the last.
            if let Some(row) = analysis.rows.iter().rev().max_by_key(|r| r.params) {
                let weights = BYTES * row.params as u64;
                if weights > buffer {
                    return Err(too_large(format!(
                        "{}'s weights take {}, more than the largest buffer it has ({}): choose a \
                         narrower model or the CPU",
                        row.name,
                        bytes(weights),
                        bytes(buffer)
                    )));
                }
            }
            if let Some(row) = analysis.rows.iter().rev().max_by_key(|r| size(r)) {
                let output = BYTES * size(row) * batch as u64;
                if output > buffer {
                    return Err(too_large(format!(
                        "{}'s output for a batch of {batch} takes {}, more than the largest buffer it \
                         has ({}): {SMALLER}",
                        row.name,
                        bytes(output),
                        bytes(buffer)
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The GPU's options for `kind`: wgpu's own choice of API, or Vulkan natively.
#[cfg(feature = "gpu")]
fn gpu_options(kind: BackendKind) -> Result<burn::tensor::wgpu::WgpuOptions, TrainError> {
    let options = Device::wgpu_options();
    match kind {
        BackendKind::Vulkan if cfg!(not(target_arch = "wasm32")) => {
            Ok(options.graphics_api(burn::tensor::wgpu::WgpuBackend::Vulkan))
        }
        BackendKind::Vulkan => Err(TrainError::NoGpu("a browser offers WebGPU, not Vulkan".into())),
        _ => Ok(options),
    }
}

/// A GPU opened in this process, with the wgpu handles it runs on.
#[cfg(feature = "gpu")]
struct Opened {
    backend: OpenedDevice,
    setup: burn::tensor::wgpu::WgpuSetup,
}

/// The GPUs opened, at most one per kind: wgpu's runtime for a kind can be initialised only once
/// per process, and a page trains many times.
#[cfg(feature = "gpu")]
static OPENED: std::sync::Mutex<Vec<Opened>> = std::sync::Mutex::new(Vec::new());

/// What `read` takes from the GPU opened for `kind`, if one was.
#[cfg(feature = "gpu")]
fn opened<T>(kind: BackendKind, read: impl FnOnce(&Opened) -> T) -> Option<T> {
    OPENED.lock().ok()?.iter().find(|o| o.backend.kind == kind).map(read)
}

/// wgpu's adapter for `kind`, opened once per process; opened afresh, as a new device on a new
/// adapter, where the one opened before was lost.
#[cfg(feature = "gpu")]
async fn open_gpu(kind: BackendKind) -> Result<OpenedDevice, TrainError> {
    let (device, setup) = match opened(kind, |o| (o.backend.clone(), o.setup.clone())) {
        Some((backend, setup)) => match lost(&backend.device).await {
            false => return Ok(backend),
            true => reopen(&setup).await?,
        },
        None => gpu_options(kind)?.init_with_setup_async().await.map_err(|e| TrainError::NoGpu(e.to_string()))?,
    };
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
    let limits = setup.device.limits();
    // cubecl's own largest allocation: a tensor is one buffer, bound whole to a kernel.
    let buffer = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
    let capacity = Capacity { memory: None, buffer: Some(buffer) };
    default_kernels(software, &info.name);
    let backend = OpenedDevice { kind, device: device.autodiff(), label, software, capacity };
    if let Ok(mut opened) = OPENED.lock() {
        opened.retain(|o| o.backend.kind != kind);
        opened.push(Opened { backend: backend.clone(), setup });
    }
    Ok(backend)
}

/// A device's failure as the user hears it: where the device turns out to be a lost GPU, that
/// sentence. A read in flight when a GPU goes fails first with a plain mapping error: a browser
/// rejects it at once, and reports the loss only once its GPU process has answered. So the device
/// is asked again for up to two seconds before the failure is taken as it came.
pub(crate) async fn lost_or(why: String, device: &Device) -> TrainError {
    #[cfg(feature = "gpu")]
    for _ in 0..20 {
        match probe(device).await {
            Err(lost @ TrainError::GpuLost(_)) => return lost,
            Ok(_) => break,
            Err(_) => crate::sleep(100).await,
        }
    }
    let _ = device;
    TrainError::Device(why)
}

/// The GPU kernels an adapter runs unless the user chose: ours everywhere; the product cubek's
/// tiled one on a hardware GPU, our blocked one on a software adapter, in 16x16 blocks on Mesa's
/// llvmpipe and lavapipe (`name`), 8x8 elsewhere (SwiftShader, which browsers name or not). On
/// SwiftShader that trained `vgg11-r4` 3.7x as fast as burn's direct kernels; on lavapipe
/// `vgg11-r4` 1.4-1.5x and `resnet-small` 1.5x as fast as burn's kernels tuned by its autotune,
/// with cubek's tiled product below ours (README, "The GPU path").
#[cfg(feature = "gpu")]
fn default_kernels(software: bool, name: &str) {
    use cnn_kernels::gpu::matmul::{Tiles, default_tiles};
    use cnn_kernels::gpu::{Kernels, default_kernels};
    default_kernels(Kernels::Ours);
    if software {
        default_tiles(if name.contains("llvmpipe") { Tiles::Blocked16 } else { Tiles::Blocked });
    }
}

/// Whether `device` was lost: wgpu says so once, to cubecl, which then fails every read.
#[cfg(feature = "gpu")]
async fn lost(device: &Device) -> bool {
    matches!(probe(device).await, Err(TrainError::GpuLost(_)))
}

/// One value written to `device` and read back.
#[cfg(feature = "gpu")]
async fn probe(device: &Device) -> Result<Vec<f32>, TrainError> {
    let probe = Tensor::<1>::from_data([0.0f32], &device.clone().without_autodiff());
    let read = probe.into_data_async().await.map_err(crate::readback::execution)?;
    read.try_into_vec::<f32>().map_err(crate::readback::data_error)
}

/// A device like the lost one (its features and limits), on the adapter the instance gives now:
/// a browser hands an adapter out for one device only. burn registers it as a new runtime.
#[cfg(feature = "gpu")]
async fn reopen(lost: &burn::tensor::wgpu::WgpuSetup) -> Result<(Device, burn::tensor::wgpu::WgpuSetup), TrainError> {
    use burn::tensor::wgpu::wgpu;
    let gone = |e: String| TrainError::NoGpu(format!("the GPU was lost and cannot be opened again: {e}"));
    let options =
        wgpu::RequestAdapterOptions { power_preference: wgpu::PowerPreference::HighPerformance, ..Default::default() };
    let adapter = lost.instance.request_adapter(&options).await.map_err(|e| gone(e.to_string()))?;
    let descriptor = wgpu::DeviceDescriptor {
        label: Some("cnn-playground, reopened"),
        required_features: lost.device.features(),
        required_limits: lost.device.limits(),
        ..Default::default()
    };
    let (device, queue) = adapter.request_device(&descriptor).await.map_err(|e| gone(e.to_string()))?;
    let setup = burn::tensor::wgpu::WgpuSetup {
        instance: lost.instance.clone(),
        adapter,
        device,
        queue,
        backend: lost.backend,
    };
    let device = Device::wgpu_options().setup(setup.clone()).init().map_err(|e| gone(e.to_string()))?;
    Ok((device, setup))
}

/// Destroys the GPU device opened for `kind`, as a driver reset or a crashed GPU process would
/// (what WebGL's `WEBGL_lose_context` does for WebGL): for tests of what a run does when its GPU
/// goes. Whether one was open.
#[cfg(feature = "gpu")]
pub fn lose_gpu(kind: BackendKind) -> bool {
    let Some(device) = opened(kind, |o| o.setup.device.clone()) else { return false };
    device.destroy();
    // Natively wgpu reports the loss at the device's next maintenance, and an operation on it
    // before then is an error that cubecl takes for a bug (it panics): a poll maintains it now.
    // A browser reports the loss by itself, soon after.
    let _ = device.poll(burn::tensor::wgpu::wgpu::PollType::Poll);
    true
}

#[cfg(not(feature = "gpu"))]
async fn open_gpu(_: BackendKind) -> Result<OpenedDevice, TrainError> {
    Err(TrainError::NoGpu("this build has no GPU backend".into()))
}

/// burn 0.22 loads an optimiser's stored state on `Device::default()` and moves it to the run's
/// device at the next step. A build with the GPU makes that wgpu's device, which in a browser
/// exists only once opened, and whose tensors a browser cannot read back to the CPU at once (the
/// move panics): there a checkpoint resumes on WebGPU only, and on the CPU in the threaded
/// worker, built without the GPU. Natively wgpu opens itself and reads back when asked.
#[cfg(all(feature = "gpu", target_arch = "wasm32"))]
pub(crate) fn check_resumes_on(backend: &OpenedDevice) -> Result<(), CheckpointError> {
    if backend.kind == BackendKind::Wgpu {
        return Ok(());
    }
    Err(CheckpointError::Optimizer(
        "in this worker a run resumes on WebGPU only (the optimiser's state is loaded on the GPU, and a browser \
         cannot hand it to the CPU); resume it on WebGPU, or on the CPU once its thread pool is ready"
            .into(),
    ))
}

#[cfg(not(all(feature = "gpu", target_arch = "wasm32")))]
pub(crate) fn check_resumes_on(_: &OpenedDevice) -> Result<(), CheckpointError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use cnn_models::{InputSpec, Preset};

    use super::*;

    fn device(label: &str, capacity: Capacity) -> OpenedDevice {
        let device = Device::flex().autodiff();
        OpenedDevice { kind: BackendKind::Wgpu, device, label: label.into(), software: false, capacity }
    }

    fn analysis(preset: &str, size: usize) -> Analysis {
        let spec = Preset::find(preset).expect("a preset").spec();
        spec.analyze(InputSpec::fashion_mnist(size)).expect("an analysis")
    }

    #[test]
    fn runs_a_device_cannot_hold_are_refused_with_what_is_too_large() {
        // WebGPU's default largest storage buffer: 128 MiB.
        let gpu = device("a GPU", Capacity { memory: None, buffer: Some(128 << 20) });
        // VGG-11's first fully connected layer: 25,088 x 4,096 weights and 4,096 biases.
        let error = gpu.check_fits(&analysis("vgg11", 224), 1).unwrap_err().to_string();
        assert_eq!(
            error,
            "a GPU cannot hold this run: fc 1 / linear's weights take 392.016 MiB, more than the largest \
             buffer it has (128.000 MiB): choose a narrower model or the CPU"
        );
        // VGG-11/4 at 56 px: the first conv's output is 16 x 56 x 56 values per image.
        let small = analysis("vgg11-r4", 56);
        gpu.check_fits(&small, 128).unwrap();
        let error = gpu.check_fits(&small, 4096).unwrap_err().to_string();
        assert_eq!(
            error,
            "a GPU cannot hold this run: block 1 / conv 1's output for a batch of 4096 takes 784.000 MiB, \
             more than the largest buffer it has (128.000 MiB): choose a smaller batch or image size"
        );

        // The browser's CPU: 3 GiB for a run.
        let cpu = device("CPU (burn flex)", Capacity { memory: Some(3 << 30), buffer: None });
        cpu.check_fits(&small, 128).unwrap();
        let error = cpu.check_fits(&small, 4096).unwrap_err().to_string();
        assert_eq!(
            error,
            "CPU (burn flex) cannot hold this run: a batch of 4096 needs about 4.429 GiB to train (weights, \
             their gradients and every layer's output), more than the 3.000 GiB it can give a run: choose a \
             smaller batch or image size"
        );
    }
}

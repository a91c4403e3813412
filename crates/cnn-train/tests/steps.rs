//! Training steps on real Fashion-MNIST images lower the loss on every backend: natively on the
//! CPU, and in headless Chromium (wasm-bindgen-test) on WebGPU and on the CPU. First a VGG on
//! held-out images with each optimiser, then every family of the chapter, through its own code path at widths small
//! enough for a software GPU; our GPU kernels against the CPU's on WebGPU; and what a trained
//! network sees in one picture, the same on WebGPU as on the CPU. One file, so one test binary per target: each links burn anew (about ten
//! minutes on two cores).

use cnn_data::{BatchPlan, Dataset, Split};
use cnn_models::{ModelSpec, VggSpec};
use cnn_train::{BackendKind, OpenedDevice, Optimizer, TrainSpec, Trainer};

// Compiled in, so the browser test needs no server; it still goes through gzip and the IDX reader.
static IMAGES: &[u8] = include_bytes!("../../../public/data/fashion-mnist/t10k-images-idx3-ubyte.gz");
static LABELS: &[u8] = include_bytes!("../../../public/data/fashion-mnist/t10k-labels-idx1-ubyte.gz");

/// Twenty steps of a tiny VGG with `optimizer` at `lr` must lower the loss on held-out images.
async fn twenty_steps_lower_the_held_out_loss(kind: BackendKind, optimizer: Optimizer, lr: f64) {
    let data = Dataset::from_gz(Split::Test, IMAGES, LABELS).unwrap().head(320);
    let backend = OpenedDevice::open(kind).await.unwrap();
    let tiny = ModelSpec::Vgg(VggSpec { arch: vec![(1, 8), (1, 16)], head_width: 64, dropout: 0.0 });
    let spec = TrainSpec { learning_rate: lr, optimizer, seed: 7, ..TrainSpec::new(tiny, 28) };
    let mut trainer = Trainer::new(&spec, &backend.device).unwrap();
    let plan = BatchPlan { batch_size: 16, image_size: 28, seed: 3 };
    let held_out: Vec<usize> = (0..160).collect();
    let before = trainer.evaluate([plan.batch(&data, &held_out)]).await.unwrap();
    let order = plan.shuffled(data.len(), 0);
    for indices in plan.chunks(&order).iter().take(20) {
        trainer.step(&plan.batch(&data, indices), lr).await.unwrap();
    }
    let after = trainer.evaluate([plan.batch(&data, &held_out)]).await.unwrap();
    let message = format!("{} with {optimizer:?}: loss {} -> {} over 20 steps", backend.label, before.loss, after.loss);
    assert!(after.loss < 0.9 * before.loss, "{message}");
    report(&message);
}

/// Every optimiser the page offers, at a rate that suits it.
async fn every_optimiser_trains(kind: BackendKind) {
    let optimisers = [
        (Optimizer::default(), 0.05),
        (Optimizer::Sgd { momentum: 0.9, nesterov: false }, 0.01),
        (Optimizer::Sgd { momentum: 0.9, nesterov: true }, 0.01),
        (Optimizer::adam(), 0.002),
        (Optimizer::adamw(), 0.002),
    ];
    for (optimizer, lr) in optimisers {
        twenty_steps_lower_the_held_out_loss(kind, optimizer, lr).await;
    }
}

const SIZE: usize = 28;

/// A family's spec at a width a software GPU trains in seconds, and how to train it: at what
/// learning rate, on how many images for how many passes, and how far below the first pass's
/// mean loss a later pass must get.
struct Tiny {
    spec: ModelSpec,
    lr: f64,
    images: usize,
    passes: usize,
    factor: f32,
}

/// Measured with `cnn train --train-images 64 --batch-size 16 --epochs 8` on these specs, seeds 0,
/// 1, 2 and 11, natively on the CPU and on wgpu: the best later pass reached 0.45-0.54 of the
/// first (AlexNet), 0.50-0.82 (VGG, ResNet, ResNeXt, DenseNet, AnyNet) and 0.87-0.96 (GoogLeNet,
/// deep without batch norm, like the book's, so slow to leave the 2.30 plateau).
///
/// NiN is slower still: its class maps pass a ReLU before the global average pool, so each class
/// map a step pushes below zero drops out. Over 64 images it sat at 2.25-2.30 for 8 passes, and
/// for 12 passes over 256. On one batch of 16, 32 steps at lr 0.2 took it to 0.77-0.98 of its
/// first loss on eight seeds (0-6 and 11), on both backends.
fn tiny(family: &str) -> Tiny {
    let json = match family {
        "alexnet" => {
            r#"{"kind":"alexnet","convs":[{"channels":16,"kernel":5,"stride":1,"padding":2,"pool":true},
                {"channels":32,"kernel":3,"stride":1,"padding":1,"pool":true}],"head":[64],"dropout":0.0}"#
        }
        "vgg" => r#"{"kind":"vgg","arch":[[1,8],[2,16]],"head_width":64,"dropout":0.0}"#,
        "nin" => r#"{"kind":"nin","blocks":[[16,3,1,1],[32,3,1,1]],"dropout":0.0}"#,
        "googlenet" => r#"{"kind":"googlenet","stem":[8,16],"stages":[[[8,[8,8],[4,4],4]],[[8,[8,16],[4,8],8]]]}"#,
        "resnet" => r#"{"kind":"resnet","stem_channels":8,"stages":[[1,8],[1,16]]}"#,
        "resnext" => {
            r#"{"kind":"resnet","stem_channels":8,"stages":[[1,16],[1,32]],
                "block":{"resnext":{"group_width":4,"bottleneck":0.5}}}"#
        }
        "densenet" => r#"{"kind":"densenet","stem_channels":8,"growth_rate":8,"arch":[2,2]}"#,
        "anynet" => r#"{"kind":"anynet","stem_channels":8,"stages":[[1,16,8,1.0],[1,32,8,1.0]]}"#,
        other => panic!("no tiny {other}"),
    };
    let spec = serde_json::from_str(json).unwrap();
    let (lr, images, passes, factor) = match family {
        "alexnet" => (0.05, 64, 8, 0.95),
        "nin" => (0.2, 16, 32, 0.98),
        "googlenet" => (0.1, 64, 8, 0.98),
        _ => (0.1, 64, 8, 0.92),
    };
    Tiny { spec, lr, images, passes, factor }
}

/// Passes over real images: the mean training loss of a later pass must get well below that of
/// the first (the best later pass, as one step too far can spike the last).
async fn trains(family: &str, kind: BackendKind) {
    let Tiny { spec, lr, images, passes, factor } = tiny(family);
    let data = Dataset::from_gz(Split::Test, IMAGES, LABELS).unwrap().head(images);
    let backend = OpenedDevice::open(kind).await.unwrap();
    let spec = TrainSpec { learning_rate: lr, seed: 11, ..TrainSpec::new(spec, SIZE) };
    let mut trainer = Trainer::new(&spec, &backend.device).unwrap();
    let plan = BatchPlan { batch_size: 16, image_size: SIZE, seed: 5 };
    let mut pass_loss = Vec::new();
    for pass in 0..passes {
        let order = plan.shuffled(data.len(), pass);
        let mut sum = 0.0;
        let chunks = plan.chunks(&order);
        for indices in &chunks {
            sum += trainer.step(&plan.batch(&data, indices), lr).await.unwrap().loss;
        }
        pass_loss.push(sum / chunks.len() as f32);
    }
    let message = format!("{family} on {}: mean loss per pass {pass_loss:.3?}", backend.label);
    let best = pass_loss[1..].iter().copied().fold(f32::INFINITY, f32::min);
    assert!(best < factor * pass_loss[0], "{message}");
    report(&message);
}

/// A test per family and backend, so a failure names both.
macro_rules! families {
    ($($family:ident),*) => {
        #[cfg(not(target_arch = "wasm32"))]
        mod cpu {
            #[test]
            fn every_optimiser() {
                pollster::block_on(super::every_optimiser_trains(cnn_train::BackendKind::Cpu));
            }

            $(#[test]
            fn $family() {
                pollster::block_on(super::trains(stringify!($family), cnn_train::BackendKind::Cpu));
            })*
        }

        #[cfg(target_arch = "wasm32")]
        mod webgpu {
            use wasm_bindgen_test::wasm_bindgen_test;

            #[wasm_bindgen_test]
            async fn every_optimiser() {
                let label = cnn_train::OpenedDevice::open(cnn_train::BackendKind::Wgpu).await.unwrap().label;
                assert!(label.starts_with("WebGPU"), "the browser's wgpu should run on WebGPU, got {label}");
                super::every_optimiser_trains(cnn_train::BackendKind::Wgpu).await;
            }

            $(#[wasm_bindgen_test]
            async fn $family() {
                super::trains(stringify!($family), cnn_train::BackendKind::Wgpu).await;
            })*
        }

        #[cfg(target_arch = "wasm32")]
        mod browser_cpu {
            use wasm_bindgen_test::wasm_bindgen_test;

            #[wasm_bindgen_test]
            async fn every_optimiser() {
                super::every_optimiser_trains(cnn_train::BackendKind::Cpu).await;
            }

            $(#[wasm_bindgen_test]
            async fn $family() {
                super::trains(stringify!($family), cnn_train::BackendKind::Cpu).await;
            })*
        }
    };
}

families!(alexnet, vgg, nin, googlenet, resnet, resnext, densenet, anynet);

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Our GPU kernels (cnn-kernels' `gpu`: convolutions as unfolded products, linear layers) give
/// what the CPU's give on WebGPU, forward and both gradients, on shapes of every kind.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn gpu_kernels_equal_the_cpu_kernels_on_webgpu() {
    let cpu = OpenedDevice::open(BackendKind::Cpu).await.unwrap();
    let webgpu = OpenedDevice::open(BackendKind::Wgpu).await.unwrap();
    cnn_kernels::gpu::check::convolutions(&cpu.device, &webgpu.device).await;
    cnn_kernels::gpu::check::linear_layers(&cpu.device, &webgpu.device).await;
    cnn_kernels::gpu::check::batch_norms(&cpu.device, &webgpu.device).await;
    cnn_kernels::gpu::check::relus_and_sgd_steps(&cpu.device, &webgpu.device).await;
    report(&format!("convolutions and linear layers on {} equal the CPU's", webgpu.label));
}

/// What a trained network makes of one picture is the same on WebGPU as on the CPU: the class
/// probabilities, and the saliency, activation and feature maps (their grey levels within 2 of
/// 255: the two devices sum in other orders).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_look_on_webgpu_agrees_with_the_cpu() {
    use cnn_train::{Checkpoint, Checkpoints, RunControl, explain, train_from};
    let data = Dataset::from_gz(Split::Test, IMAGES, LABELS).unwrap().head(32);
    let cpu = OpenedDevice::open(BackendKind::Cpu).await.unwrap();
    let spec = TrainSpec { seed: 11, batch_size: 16, learning_rate: 0.1, ..TrainSpec::new(tiny("resnet").spec, SIZE) };
    let mut saved = None;
    let keep = Checkpoints { resume: None, keep: Some(Box::new(|c: Checkpoint| saved = Some(c))) };
    train_from(&spec, &data, &data, &cpu, &RunControl::default(), keep, |_| {}).await.unwrap();
    let checkpoint = saved.unwrap();
    let picture = explain::test_picture(&checkpoint, &data, 3).unwrap();
    let request = explain::ExplainRequest { class: Some(2), row: Some(1) };
    let on_cpu = explain::explain(&checkpoint, &picture, request, &cpu).await.unwrap();
    let webgpu = OpenedDevice::open(BackendKind::Wgpu).await.unwrap();
    let on_gpu = explain::explain(&checkpoint, &picture, request, &webgpu).await.unwrap();
    for (a, b) in on_cpu.probabilities.iter().zip(&on_gpu.probabilities) {
        assert!((a - b).abs() < 1e-4, "{:?} {:?}", on_cpu.probabilities, on_gpu.probabilities);
    }
    let pairs = [
        ("saliency", Some(&on_cpu.saliency), Some(&on_gpu.saliency)),
        ("activation", on_cpu.activation.as_ref(), on_gpu.activation.as_ref()),
        ("features", on_cpu.features.as_ref(), on_gpu.features.as_ref()),
    ];
    for (what, a, b) in pairs {
        let (a, b) =
            (a.unwrap_or_else(|| panic!("{what} on the CPU")), b.unwrap_or_else(|| panic!("{what} on WebGPU")));
        assert_eq!((a.count, a.height, a.width), (b.count, b.height, b.width), "{what}");
        let off = a.grey.iter().zip(&b.grey).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        assert!(off <= 2, "{what}: grey levels differ by up to {off}");
    }
    report(&format!("one picture on {}: probabilities {:?}", webgpu.label, on_gpu.probabilities));
}

#[cfg(not(target_arch = "wasm32"))]
fn report(message: &str) {
    eprintln!("{message}");
}

#[cfg(target_arch = "wasm32")]
fn report(message: &str) {
    wasm_bindgen_test::console_log!("{message}");
}

/// A run on WebGPU keeps a checkpoint after every epoch, as the page's runs do (read back
/// asynchronously: a synchronous read panics here); a GPU lost after it (destroyed, as a driver
/// reset would) stops the run with a sentence, the checkpoint holds what the GPU had, and the
/// next run opens the GPU afresh.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_webgpu_run_keeps_its_checkpoint_when_the_gpu_is_lost() {
    use cnn_train::{Checkpoint, Checkpoints, Event, RunControl, TrainError, evaluate, train_from};
    let data = Dataset::from_gz(Split::Test, IMAGES, LABELS).unwrap().head(64);
    let webgpu = OpenedDevice::open(BackendKind::Wgpu).await.unwrap();
    let spec = TrainSpec {
        epochs: 2,
        batch_size: 16,
        learning_rate: 0.002,
        optimizer: Optimizer::adam(),
        ..TrainSpec::new(tiny("vgg").spec, SIZE)
    };
    let mut kept = Vec::new();
    let keep = Checkpoints {
        resume: None,
        keep: Some(Box::new(|c: Checkpoint| {
            kept.push(c);
            assert!(cnn_train::backend::lose_gpu(BackendKind::Wgpu));
        })),
    };
    let mut epochs = Vec::new();
    let on_event = |e| {
        if let Event::Epoch(stats) = e {
            epochs.push(stats)
        }
    };
    let error = train_from(&spec, &data, &data, &webgpu, &RunControl::default(), keep, on_event).await.unwrap_err();
    assert!(matches!(error, TrainError::GpuLost(_)), "{error:?}");
    let checkpoint = Checkpoint::from_bytes(&kept.pop().unwrap().to_bytes()).unwrap();
    assert_eq!((checkpoint.epoch, epochs.len()), (1, 1));
    let cpu = OpenedDevice::open(BackendKind::Cpu).await.unwrap();
    let on_cpu = evaluate(&checkpoint, &data, &cpu).await.unwrap();
    assert!((on_cpu.loss - epochs[0].test_loss).abs() < 1e-4, "CPU {}, WebGPU {}", on_cpu.loss, epochs[0].test_loss);

    let again = OpenedDevice::open(BackendKind::Wgpu).await.unwrap();
    let mut trainer = Trainer::new(&spec, &again.device).unwrap();
    let plan = BatchPlan { batch_size: 16, image_size: SIZE, seed: 1 };
    assert!(trainer.step(&plan.batch(&data, &(0..16).collect::<Vec<_>>()), 0.002).await.unwrap().loss.is_finite());
    report(&format!("{}: {error}; the checkpoint of epoch 1 measures {} on the CPU", webgpu.label, on_cpu.loss));
}

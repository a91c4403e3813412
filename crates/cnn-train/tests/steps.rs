//! Twenty SGD steps on real Fashion-MNIST images lower the loss, on every backend: natively on the
//! CPU, and in headless Chromium (wasm-bindgen-test) on WebGPU and on the CPU.

use cnn_data::{BatchPlan, Dataset, Split};
use cnn_models::{InputSpec, ModelSpec, VggSpec};
use cnn_train::{Backend, BackendKind, Trainer};

// Compiled in, so the browser test needs no server; it still goes through gzip and the IDX reader.
static IMAGES: &[u8] = include_bytes!("../../../public/data/fashion-mnist/t10k-images-idx3-ubyte.gz");
static LABELS: &[u8] = include_bytes!("../../../public/data/fashion-mnist/t10k-labels-idx1-ubyte.gz");

async fn twenty_steps_lower_the_loss(kind: BackendKind) {
    let data = Dataset::from_gz(Split::Test, IMAGES, LABELS).unwrap().head(320);
    let backend = Backend::open(kind).await.unwrap();
    let tiny = ModelSpec::Vgg(VggSpec { arch: vec![(1, 8), (1, 16)], head_width: 64, dropout: 0.0 });
    let mut trainer = Trainer::new(&tiny, InputSpec::fashion_mnist(28), &backend.device, 0.05).unwrap();
    let plan = BatchPlan { batch_size: 16, image_size: 28, seed: 3 };
    let held_out: Vec<usize> = (0..160).collect();
    let before = trainer.evaluate([plan.batch(&data, &held_out)]).await.unwrap();
    let order = plan.shuffled(data.len(), 0);
    for indices in plan.chunks(&order).iter().take(20) {
        trainer.step(&plan.batch(&data, indices)).await.unwrap();
    }
    let after = trainer.evaluate([plan.batch(&data, &held_out)]).await.unwrap();
    let message = format!("{}: loss {} -> {} over 20 steps", backend.label, before.loss, after.loss);
    assert!(after.loss < 0.9 * before.loss, "{message}");
    report(&message);
}

#[cfg(not(target_arch = "wasm32"))]
fn report(message: &str) {
    eprintln!("{message}");
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn cpu_steps_lower_the_loss() {
    pollster::block_on(twenty_steps_lower_the_loss(BackendKind::Cpu));
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    use super::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    async fn webgpu_steps_lower_the_loss() {
        let label = Backend::open(BackendKind::Wgpu).await.unwrap().label;
        assert!(label.starts_with("WebGPU"), "the browser's wgpu should run on WebGPU, got {label}");
        twenty_steps_lower_the_loss(BackendKind::Wgpu).await;
    }

    #[wasm_bindgen_test]
    async fn cpu_steps_lower_the_loss() {
        twenty_steps_lower_the_loss(BackendKind::Cpu).await;
    }
}

#[cfg(target_arch = "wasm32")]
fn report(message: &str) {
    wasm_bindgen_test::console_log!("{message}");
}

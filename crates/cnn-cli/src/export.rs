//! `cnn export`: a checkpoint's weights as safetensors for PyTorch, with reference logits.

use std::path::PathBuf;

use clap::Parser;
use cnn_data::{Dataset, Split};
use cnn_train::export::export_safetensors;
use cnn_train::{BackendKind, OpenedDevice};

use crate::train::read_checkpoint;

#[derive(Parser)]
pub struct ExportArgs {
    /// A checkpoint written by `cnn train --save`.
    #[arg(long)]
    weights: PathBuf,
    /// Where the safetensors go; the reference logits go beside it, as `.reference.json`.
    #[arg(long)]
    out: PathBuf,
    /// How many test images the reference holds.
    #[arg(long, default_value_t = 16)]
    examples: usize,
    /// Folder with Debian's Fashion-MNIST `.gz` files.
    #[arg(long, default_value = "public/data/fashion-mnist")]
    data: PathBuf,
}

pub async fn run(args: ExportArgs) -> Result<(), String> {
    let checkpoint = read_checkpoint(&args.weights)?;
    let test = Dataset::load_dir(&args.data, Split::Test).map_err(|e| e.to_string())?.head(args.examples);
    let cpu = OpenedDevice::open(BackendKind::Cpu).await.map_err(|e| e.to_string())?;
    let device = cpu.device.clone().without_autodiff();
    let reference =
        export_safetensors(&checkpoint, &args.out, &test, args.examples, &device).map_err(|e| e.to_string())?;
    let reference_path = args.out.with_extension("reference.json");
    let json = serde_json::json!({"spec": checkpoint.spec, "reference": reference});
    std::fs::write(&reference_path, json.to_string())
        .map_err(|e| format!("cannot write {}: {e}", reference_path.display()))?;
    println!(
        "wrote {} and {} ({} test images' logits)",
        args.out.display(),
        reference_path.display(),
        reference.shape[0]
    );
    Ok(())
}

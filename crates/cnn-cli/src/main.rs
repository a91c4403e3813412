//! `cnn`: the playground natively. `train` runs its training on wgpu (Vulkan/Metal/DX12) or the
//! CPU; `summary` and `compare` print the layer tables the page shows.

mod alloc;
mod export;
mod table;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use cnn_data::{Dataset, Split};
use cnn_models::{InputSpec, ModelSpec, Preset};
use cnn_train::bench::{Trial, measure};
use cnn_train::inspect::{self, predict};
use cnn_train::{BackendKind, OpenedDevice};

#[global_allocator]
static ALLOCATOR: alloc::StepAllocator = alloc::StepAllocator;

#[derive(Parser)]
#[command(name = "cnn", about = "Train the playground's CNNs on Fashion-MNIST from the command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a preset with a recipe (the book's by default) and print a table per epoch.
    Train(train::TrainArgs),
    /// Print a model's layer table: output shapes, parameters, MACs, activation memory.
    Summary(SummaryArgs),
    /// Print two models' totals side by side, with their ratio.
    Compare(CompareArgs),
    /// Measure a checkpoint's model on the test images.
    Eval(EvalArgs),
    /// Write a checkpoint's weights as safetensors for PyTorch (`dev/torch_check.py` loads them).
    Export(export::ExportArgs),
    /// Time training steps after a warm-up: examples/s and achieved GFLOP/s, one row per setting.
    Bench(BenchArgs),
    /// Print a model's spec as JSON: a preset to edit and pass back with `--model file.json`.
    Spec {
        /// A preset name or a JSON spec file.
        #[arg(long)]
        model: String,
    },
    /// List the model presets with their size, parameters and MACs on Fashion-MNIST.
    Presets,
}

/// A preset, or a JSON spec file, and the input it sees.
#[derive(Parser)]
struct ModelArgs {
    /// A preset name (see `cnn presets`) or a JSON spec file (`{"kind": "vgg", ...}`).
    #[arg(long, default_value = "vgg11-r4")]
    model: String,
    /// Input images are SIZE x SIZE pixels; the preset's own size when left out.
    #[arg(long)]
    size: Option<usize>,
    #[arg(long, default_value_t = 1)]
    channels: usize,
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// The batch size of the training-memory estimate.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
}

#[derive(Parser)]
struct SummaryArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// One row per outermost block instead of one per layer.
    #[arg(long)]
    blocks: bool,
}

#[derive(Parser)]
struct CompareArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The model to compare against (preset or JSON file), at the same input.
    #[arg(long)]
    with: String,
}

#[derive(Parser)]
struct EvalArgs {
    /// A checkpoint written by `cnn train --save`.
    #[arg(long)]
    weights: PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
    /// How many test images to measure on (the first N of 10,000).
    #[arg(long, default_value_t = 10_000)]
    test_images: usize,
    /// Folder with Debian's Fashion-MNIST `.gz` files.
    #[arg(long, default_value = "public/data/fashion-mnist")]
    data: PathBuf,
    /// Also print the accuracy of each class, the confusion matrix and the surest mistakes.
    #[arg(long)]
    confusion: bool,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum BackendArg {
    Cpu,
    /// wgpu on the API it picks (Vulkan, Metal, DX12 or OpenGL).
    Wgpu,
    /// wgpu pinned to Vulkan (NVIDIA, AMD, Intel, Mesa), whatever API wgpu would otherwise pick.
    Vulkan,
    /// The GPU (Vulkan first) where it is a hardware one and trains faster in a short trial, else
    /// the CPU.
    Auto,
}

#[derive(Parser)]
struct BenchArgs {
    /// Presets or JSON spec files, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "vgg11-r4,resnet-small")]
    model: Vec<String>,
    #[arg(long, value_delimiter = ',', default_value = "56,84")]
    size: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "32,128")]
    batch_size: Vec<usize>,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
    /// Untimed steps first (kernel compilation, allocator growth).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// One JSON object per row instead of a table.
    #[arg(long)]
    json: bool,
    /// Folder with Debian's Fashion-MNIST `.gz` files.
    #[arg(long, default_value = "public/data/fashion-mnist")]
    data: PathBuf,
    /// Instead of training steps, products of two square matrices of these sizes (comma-separated),
    /// `--steps` of them after one untimed: GFLOP/s, on a GPU for our kernels and burn's.
    #[arg(long, value_delimiter = ',')]
    matmul: Vec<usize>,
}

fn main() -> ExitCode {
    alloc::keep_freed_memory();
    // The benchmark's A/Bs of the GPU path: burn's kernels or ours, whatever the adapter's
    // default, and our product's first strategy.
    use cnn_kernels::gpu::{Kernels, choose_kernels, matmul};
    match std::env::var("CNN_GPU_KERNELS").as_deref() {
        Ok("burn") => choose_kernels(Kernels::Burns),
        Ok("ours") => choose_kernels(Kernels::Ours),
        _ => {}
    }
    if let Some(tiles) = std::env::var("CNN_GPU_MATMUL").ok().as_deref().and_then(matmul::Tiles::named) {
        matmul::choose_tiles(tiles);
    }
    match Cli::parse().command {
        Command::Presets => {
            print!("{}", table::presets());
            Ok(())
        }
        Command::Summary(args) => summary(args),
        Command::Compare(args) => compare(args),
        Command::Train(args) => pollster::block_on(train::run(args)),
        Command::Bench(args) => pollster::block_on(bench(args)),
        Command::Eval(args) => pollster::block_on(eval(args)),
        Command::Export(args) => pollster::block_on(export::run(args)),
        Command::Spec { model } => load_model(&model).and_then(|(spec, _)| {
            println!("{}", serde_json::to_string(&spec).map_err(|e| e.to_string())?);
            Ok(())
        }),
    }
    .map_or_else(
        |message| {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        },
        |()| ExitCode::SUCCESS,
    )
}

/// A preset by name, or a spec read from a JSON file; with the preset's size as the default.
fn load_model(name: &str) -> Result<(ModelSpec, Option<usize>), String> {
    if let Some(p) = Preset::find(name) {
        return Ok((p.spec(), Some(p.size)));
    }
    let path = std::path::Path::new(name);
    if !path.exists() {
        let names = cnn_models::presets::preset_names();
        return Err(format!("there is no model preset or spec file {name:?}; the presets are {names}"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let spec = serde_json::from_str(&text).map_err(|e| format!("{name} is not a model spec: {e}"))?;
    Ok((spec, None))
}

fn analyze(args: &ModelArgs, name: &str) -> Result<cnn_models::Analysis, String> {
    let (spec, preset_size) = load_model(name)?;
    let size = args.size.or(preset_size).ok_or("give the input size with --size")?;
    let input = InputSpec { channels: args.channels, size, classes: args.classes };
    spec.analyze(input).map_err(|e| e.to_string())
}

fn summary(args: SummaryArgs) -> Result<(), String> {
    let analysis = analyze(&args.model, &args.model.model)?;
    print!("{}", table::summary(&args.model.model, &analysis, args.blocks, args.model.batch_size));
    Ok(())
}

fn compare(args: CompareArgs) -> Result<(), String> {
    let left = analyze(&args.model, &args.model.model)?;
    let right = analyze(&args.model, &args.with)?;
    let rows = cnn_models::compare::compare(&left, &right, args.model.batch_size);
    print!("{}", table::comparison(&args.model.model, &args.with, &rows, args.model.batch_size));
    Ok(())
}

fn backend_kind(arg: BackendArg) -> BackendKind {
    match arg {
        BackendArg::Cpu => BackendKind::Cpu,
        BackendArg::Wgpu => BackendKind::Wgpu,
        BackendArg::Vulkan => BackendKind::Vulkan,
        BackendArg::Auto => BackendKind::Auto,
    }
}

async fn eval(args: EvalArgs) -> Result<(), String> {
    if args.backend == BackendArg::Auto {
        return Err("cnn eval measures on one backend: choose --backend cpu, wgpu or vulkan".into());
    }
    let checkpoint = train::read_checkpoint(&args.weights)?;
    let test = Dataset::load_dir(&args.data, Split::Test).map_err(|e| e.to_string())?.head(args.test_images);
    let backend = OpenedDevice::open(backend_kind(args.backend)).await.map_err(|e| e.to_string())?;
    let stats = cnn_train::evaluate(&checkpoint, &test, &backend).await.map_err(|e| e.to_string())?;
    println!(
        "{}: after {} epochs, on {} test images at {} px: loss {:.4}, accuracy {:.3}",
        args.weights.display(),
        checkpoint.epoch,
        stats.examples,
        checkpoint.spec.image_size,
        stats.loss,
        stats.accuracy()
    );
    if args.confusion {
        let predictions = predict(&checkpoint, &test, &backend).await.map_err(|e| e.to_string())?;
        print!("{}", inspect::report(&predictions));
    }
    Ok(())
}

/// The benchmark table's name for our native `backend`.
fn system(backend: BackendArg) -> &'static str {
    match backend {
        BackendArg::Cpu => "ours-native-cpu",
        BackendArg::Vulkan => "ours-native-vulkan",
        _ => "ours-native-wgpu",
    }
}

/// `cnn bench --matmul`: the products alone, for each kernel choice a GPU has.
async fn bench_matmul(args: &BenchArgs, backend: &OpenedDevice) -> Result<(), String> {
    use cnn_kernels::gpu::{Kernels, choose_kernels};
    let choices: &[(Kernels, &str)] = match args.backend {
        BackendArg::Cpu => &[(Kernels::Ours, "ours")],
        _ => &[(Kernels::Ours, "ours"), (Kernels::Burns, "burn")],
    };
    if !args.json {
        println!("backend: {}; {} timed products after one", backend.label, args.steps);
        println!("{:>6} {:>8} {:>8}", "size", "kernels", "GFLOP/s");
    }
    for &size in &args.matmul {
        for &(kernels, name) in choices {
            choose_kernels(kernels);
            let gflops = cnn_train::bench::matmul(size, args.steps, backend).await.map_err(|e| e.to_string())?;
            if args.json {
                let row = serde_json::json!({"system": system(args.backend), "backend": backend.label, "matmul": size,
                    "kernels": name, "gflops": gflops, "software": backend.software});
                println!("{row}");
            } else {
                println!("{size:>6} {name:>8} {gflops:>8.1}");
            }
        }
    }
    Ok(())
}

async fn bench(args: BenchArgs) -> Result<(), String> {
    if args.backend == BackendArg::Auto {
        return Err("cnn bench times one backend: choose --backend cpu, wgpu or vulkan".into());
    }
    // A software adapter (llvmpipe, lavapipe) gets its row too, marked as such: its speed says
    // nothing of a GPU's, but its ratios between kernels do.
    let backend = OpenedDevice::open(backend_kind(args.backend)).await.map_err(|e| e.to_string())?;
    if !args.matmul.is_empty() {
        return bench_matmul(&args, &backend).await;
    }
    let most = args.batch_size.iter().max().copied().unwrap_or(0) * (args.warmup + args.steps);
    let data = Dataset::load_dir(&args.data, Split::Train).map_err(|e| e.to_string())?.head(most);
    if !args.json {
        println!("backend: {}; {} warm-up and {} timed steps", backend.label, args.warmup, args.steps);
        println!("{:<16} {:>5} {:>6} {:>11} {:>8}", "model", "size", "batch", "examples/s", "GFLOP/s");
    }
    for name in &args.model {
        let (model, _) = load_model(name)?;
        for &size in &args.size {
            let macs = model.analyze(InputSpec::fashion_mnist(size)).map_err(|e| e.to_string())?.totals().macs();
            for &batch_size in &args.batch_size {
                let trial = Trial { image_size: size, batch_size, warmup: args.warmup, steps: args.steps };
                let speed = measure(&model, trial, &data, &backend).await.map_err(|e| e.to_string())?;
                // A training step is about three forward passes, and a MAC two floating-point operations.
                let gflops = 3.0 * 2.0 * macs as f64 * speed.examples_per_sec / 1e9;
                if args.json {
                    let system = system(args.backend);
                    let row = serde_json::json!({"system": system, "backend": backend.label, "model": name, "size": size,
                        "batch": batch_size, "examples_per_sec": speed.examples_per_sec, "macs": macs,
                        "software": backend.software});
                    println!("{row}");
                } else {
                    println!("{name:<16} {size:>5} {batch_size:>6} {:>11.1} {gflops:>8.1}", speed.examples_per_sec);
                }
            }
        }
    }
    Ok(())
}

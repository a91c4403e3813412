//! `cnn train`: the playground's training, natively, on wgpu (Vulkan/Metal/DX12) or the CPU.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use cnn_data::{Dataset, Split};
use cnn_models::{ModelSpec, PRESETS};
use cnn_train::{Backend, BackendKind, Cancel, Event, TrainSpec, train};

#[derive(Parser)]
#[command(name = "cnn", about = "Train the playground's CNNs on Fashion-MNIST from the command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a preset and print a table per epoch.
    Train(TrainArgs),
    /// List the model presets.
    Presets,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Cpu,
    Wgpu,
}

#[derive(Parser)]
struct TrainArgs {
    /// A preset name (see `cnn presets`).
    #[arg(long, default_value = "vgg-small")]
    model: String,
    /// Images are resized to SIZE x SIZE pixels.
    #[arg(long, default_value_t = 56)]
    size: usize,
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// How many training images to use (the first N of 60,000).
    #[arg(long, default_value_t = 60_000)]
    train_images: usize,
    /// How many test images to measure on (the first N of 10,000).
    #[arg(long, default_value_t = 10_000)]
    test_images: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder with Debian's Fashion-MNIST `.gz` files.
    #[arg(long, default_value = "public/data/fashion-mnist")]
    data: PathBuf,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Presets => {
            for (name, what) in PRESETS {
                println!("{name:14} {what}");
            }
            ExitCode::SUCCESS
        }
        Command::Train(args) => match pollster::block_on(run(args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run(args: TrainArgs) -> Result<(), String> {
    let names = || PRESETS.map(|(n, _)| n).join(", ");
    let model = ModelSpec::preset(&args.model)
        .ok_or_else(|| format!("there is no model preset {:?}; the presets are {}", args.model, names()))?;
    let spec = TrainSpec {
        batch_size: args.batch_size,
        learning_rate: args.lr,
        epochs: args.epochs,
        seed: args.seed,
        ..TrainSpec::new(model, args.size)
    };
    let train_set = Dataset::load_dir(&args.data, Split::Train).map_err(|e| e.to_string())?.head(args.train_images);
    let test_set = Dataset::load_dir(&args.data, Split::Test).map_err(|e| e.to_string())?.head(args.test_images);
    let kind = match args.backend {
        BackendArg::Cpu => BackendKind::Cpu,
        BackendArg::Wgpu => BackendKind::Wgpu,
    };
    let backend = Backend::open(kind).await.map_err(|e| e.to_string())?;
    println!("backend: {}", backend.label);
    let mut last_print = 0;
    train(&spec, &train_set, &test_set, &backend.device, &Cancel::default(), |event| match event {
        Event::Started { params, train_images, test_images, steps_per_epoch } => {
            println!("{}: {params} parameters; {train_images} training and {test_images} test images at {} px, {steps_per_epoch} steps per epoch", args.model, args.size);
            println!("{:>5} {:>10} {:>9} {:>9} {:>8} {:>10} {:>8}", "epoch", "train loss", "train acc", "test loss", "test acc", "examples/s", "seconds");
        }
        Event::Step { epoch, step, steps, loss, examples_per_sec, .. } if step == steps || step >= last_print + 50 => {
            last_print = if step == steps { 0 } else { step };
            eprintln!("  epoch {epoch} step {step}/{steps}: loss {loss:.4}, {examples_per_sec:.1} examples/s");
        }
        Event::Epoch(s) => println!(
            "{:>5} {:>10.4} {:>9.3} {:>9.4} {:>8.3} {:>10.1} {:>8.1}",
            s.epoch, s.train_loss, s.train_accuracy, s.test_loss, s.test_accuracy, s.examples_per_sec, s.seconds
        ),
        _ => {}
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

//! `cnn train`: a recipe by name (or the page's settings as JSON), each setting overridable by a
//! flag, then a table per epoch.

use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use cnn_data::{Dataset, Split};
use cnn_models::Preset;
use cnn_train::bench::choose;
use cnn_train::{
    Checkpoint, Checkpoints, Event, OpenedDevice, Optimizer, Recipe, RunControl, Schedule, StepReport, TrainSpec,
    train_from,
};

use crate::{BackendArg, backend_kind, load_model};

#[derive(Clone, Copy, ValueEnum)]
enum RecipeArg {
    /// The book's: plain SGD at the chapter's rate for the network, batch 128, 10 epochs.
    D2l,
    /// Nesterov momentum, weight decay, warm-up and cosine, crops and flips, label smoothing.
    Modern,
    /// The page's first run: Adam with a cosine for 3 epochs at batch 64.
    Quick,
}

#[derive(Clone, Copy, ValueEnum)]
enum OptimizerArg {
    Sgd,
    Momentum,
    Nesterov,
    Adam,
    Adamw,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScheduleArg {
    Constant,
    /// The rate times --step-gamma every --step-every epochs.
    Step,
    Cosine,
}

const DEFAULT_MODEL: &str = "vgg11-r4";
const DEFAULT_SIZE: usize = 56;

#[derive(Parser)]
pub struct TrainArgs {
    /// A preset name (see `cnn presets`) or a JSON spec file.
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: String,
    /// Images are resized to SIZE x SIZE pixels.
    #[arg(long, default_value_t = DEFAULT_SIZE)]
    size: usize,
    /// The settings to start from; the flags below change single ones.
    #[arg(long, value_enum, default_value = "d2l")]
    recipe: RecipeArg,
    /// A run's settings as JSON (a `TrainSpec`, as the page shows them), instead of --model,
    /// --size and --recipe; the fields it leaves out take the book's values (`--recipe d2l`).
    #[arg(long, conflicts_with_all = ["model", "size", "recipe"])]
    settings: Option<PathBuf>,
    /// Write a checkpoint (weights, optimiser state, settings, epochs so far) after every epoch.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Go on from a checkpoint with its own settings (only --epochs may change, to train longer).
    #[arg(long, conflicts_with_all = ["model", "size", "recipe", "settings"])]
    resume: Option<PathBuf>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    batch_size: Option<usize>,
    /// The peak learning rate (the recipe's default is the chapter's rate for the network).
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerArg>,
    /// The momentum of --optimizer momentum or nesterov.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    #[arg(long)]
    weight_decay: Option<f64>,
    #[arg(long, value_enum)]
    schedule: Option<ScheduleArg>,
    #[arg(long, default_value_t = 3)]
    step_every: usize,
    #[arg(long, default_value_t = 0.1)]
    step_gamma: f64,
    /// Epochs of linear warm-up (fractions allowed).
    #[arg(long)]
    warmup: Option<f64>,
    /// Pixels of padding for random crops of training images; 0 for none.
    #[arg(long)]
    crop_padding: Option<usize>,
    /// Mirror half the training images at random.
    #[arg(long)]
    flip: Option<bool>,
    #[arg(long)]
    label_smoothing: Option<f64>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
    /// How many training images to use (the first N of 60,000; all of them unless given). A
    /// resumed run uses its own.
    #[arg(long)]
    train_images: Option<usize>,
    /// How many test images to measure on (the first N of 10,000; all of them unless given). A
    /// resumed run uses its own.
    #[arg(long)]
    test_images: Option<usize>,
    /// Folder with Debian's Fashion-MNIST `.gz` files.
    #[arg(long, default_value = "public/data/fashion-mnist")]
    data: PathBuf,
}

impl TrainArgs {
    /// The run these arguments describe: the recipe or the settings file, then each flag given.
    fn spec(&self) -> Result<TrainSpec, String> {
        let mut spec = match &self.settings {
            Some(path) => settings_file(path)?,
            None => {
                let recipe = match self.recipe {
                    RecipeArg::D2l => Recipe::D2l,
                    RecipeArg::Modern => Recipe::Modern,
                    RecipeArg::Quick => Recipe::Quick,
                };
                recipe_for(&self.model, self.size, recipe)?
            }
        };
        set(&mut spec.epochs, self.epochs);
        set(&mut spec.batch_size, self.batch_size);
        set(&mut spec.learning_rate, self.lr);
        set(&mut spec.weight_decay, self.weight_decay);
        set(&mut spec.warmup_epochs, self.warmup);
        set(&mut spec.augment.crop_padding, self.crop_padding);
        set(&mut spec.augment.flip, self.flip);
        set(&mut spec.label_smoothing, self.label_smoothing);
        set(&mut spec.seed, self.seed);
        if let Some(optimizer) = self.optimizer {
            spec.optimizer = match optimizer {
                OptimizerArg::Sgd => Optimizer::Sgd { momentum: 0.0, nesterov: false },
                OptimizerArg::Momentum => Optimizer::Sgd { momentum: self.momentum, nesterov: false },
                OptimizerArg::Nesterov => Optimizer::Sgd { momentum: self.momentum, nesterov: true },
                OptimizerArg::Adam => Optimizer::adam(),
                OptimizerArg::Adamw => Optimizer::adamw(),
            };
        }
        if let Some(schedule) = self.schedule {
            spec.schedule = match schedule {
                ScheduleArg::Constant => Schedule::Constant,
                ScheduleArg::Step => Schedule::Step { every: self.step_every, gamma: self.step_gamma },
                ScheduleArg::Cosine => Schedule::Cosine,
            };
        }
        Ok(spec)
    }
}

/// `recipe`'s settings for the preset or spec file `model` at `size` pixels.
fn recipe_for(model: &str, size: usize, recipe: Recipe) -> Result<TrainSpec, String> {
    let (spec, _) = load_model(model)?;
    // A spec file has no chapter rate; VGG's is a fair start for a new network.
    let lr = Preset::find(model).map_or(0.05, |p| p.d2l_lr);
    Ok(recipe.apply(TrainSpec::new(spec, size), lr))
}

/// A run's settings from a JSON file: the fields it gives, and for those it leaves out the book's
/// values (`--recipe d2l`) for its model (a spec, or a preset's name; `vgg11-r4` where it names
/// none) at its size (56 pixels where it gives none). A field no run has is refused, so that a
/// misspelt one is not silently ignored.
fn settings_file(path: &Path) -> Result<TrainSpec, String> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {file}: {e}"))?;
    let not_settings = |why: String| format!("{file} is not a run's settings: {why}");
    let given: serde_json::Value = serde_json::from_str(&text).map_err(|e| not_settings(e.to_string()))?;
    let serde_json::Value::Object(mut given) = given else {
        return Err(not_settings("it must be a JSON object of settings, such as {\"epochs\": 3}".into()));
    };
    let model = match given.get("model") {
        Some(serde_json::Value::String(name)) => {
            let name = name.clone();
            given.remove("model");
            name
        }
        _ => DEFAULT_MODEL.to_owned(),
    };
    let size = match given.get("image_size") {
        Some(size) => size
            .as_u64()
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| not_settings(format!("its image_size is {size}: it must be a whole number of pixels")))?,
        None => DEFAULT_SIZE,
    };
    let serde_json::Value::Object(mut settings) =
        serde_json::to_value(recipe_for(&model, size, Recipe::D2l)?).map_err(|e| e.to_string())?
    else {
        return Err(not_settings("its defaults are not an object".into()));
    };
    for (key, value) in given {
        if !settings.contains_key(&key) {
            let known: Vec<&str> = settings.keys().map(String::as_str).collect();
            return Err(not_settings(format!("it has no setting {key:?} (the settings are {})", known.join(", "))));
        }
        settings.insert(key, value);
    }
    serde_json::from_value(serde_json::Value::Object(settings)).map_err(|e| not_settings(e.to_string()))
}

pub async fn run(args: TrainArgs) -> Result<(), String> {
    let resume = args.resume.as_deref().map(read_checkpoint).transpose()?;
    let spec = match &resume {
        Some(checkpoint) => {
            TrainSpec { epochs: args.epochs.unwrap_or(checkpoint.spec.epochs), ..checkpoint.spec.clone() }
        }
        None => args.spec()?,
    };
    if let Some(checkpoint) = &resume {
        checkpoint.check_resumes(&spec).map_err(|e| e.to_string())?;
    }
    let (train_images, test_images) = images(&args, resume.as_ref())?;
    let train_set = Dataset::load_dir(&args.data, Split::Train).map_err(|e| e.to_string())?.head(train_images);
    let test_set = Dataset::load_dir(&args.data, Split::Test).map_err(|e| e.to_string())?.head(test_images);
    let backend = match args.backend {
        BackendArg::Auto => {
            let (backend, why) =
                choose(&spec.model, spec.image_size, spec.batch_size, &train_set).await.map_err(|e| e.to_string())?;
            println!("{why}");
            backend
        }
        kind => OpenedDevice::open(backend_kind(kind)).await.map_err(|e| e.to_string())?,
    };
    println!("backend: {}", backend.label);
    println!("settings: {}", serde_json::to_string(&recipe_only(&spec)).map_err(|e| e.to_string())?);
    let name = if args.settings.is_some() { "the model" } else { args.model.as_str() };
    let mut last_print = 0;
    let mut save_failed = None;
    let keep = args.save.as_ref().map(|path| {
        let save_failed = &mut save_failed;
        Box::new(move |checkpoint: Checkpoint| {
            if let Err(e) = write_atomically(path, &checkpoint.to_bytes()) {
                *save_failed = Some(format!("cannot write the checkpoint {}: {e}", path.display()));
            }
        }) as Box<dyn FnMut(Checkpoint)>
    });
    let checkpoints = Checkpoints { resume, keep };
    let result = train_from(&spec, &train_set, &test_set, &backend, &RunControl::default(), checkpoints, |event| match event {
        Event::Started { params, train_images, test_images, steps_per_epoch } => {
            println!("{name}: {params} parameters; {train_images} training and {test_images} test images at {} px, {steps_per_epoch} steps per epoch", spec.image_size);
            println!("{:>5} {:>10} {:>9} {:>9} {:>8} {:>10} {:>8}", "epoch", "train loss", "train acc", "test loss", "test acc", "examples/s", "seconds");
        }
        Event::Step(StepReport { epoch, step, steps, loss, examples_per_sec, learning_rate, .. })
            if step == steps || step >= last_print + 50 =>
        {
            last_print = if step == steps { 0 } else { step };
            eprintln!("  epoch {epoch} step {step}/{steps}: loss {loss:.4}, lr {learning_rate:.4}, {examples_per_sec:.1} examples/s");
        }
        Event::Epoch(s) => println!(
            "{:>5} {:>10.4} {:>9.3} {:>9.4} {:>8.3} {:>10.1} {:>8.1}",
            s.epoch, s.train_loss, s.train_accuracy, s.test_loss, s.test_accuracy, s.examples_per_sec, s.seconds
        ),
        _ => {}
    })
    .await;
    result.map_err(|e| e.to_string())?;
    save_failed.map_or(Ok(()), Err)
}

/// The training and test images a run uses: a resumed run's own (so that it goes on as if it had
/// never stopped), else the flags' counts or all of them.
fn images(args: &TrainArgs, resume: Option<&Checkpoint>) -> Result<(usize, usize), String> {
    let used = resume.and_then(|c| c.images);
    let train = args.train_images.or(used.map(|u| u.0)).unwrap_or(60_000);
    let test = args.test_images.or(used.map(|u| u.1)).unwrap_or(10_000);
    if let Some(checkpoint) = resume {
        checkpoint
            .check_images((train, test))
            .map_err(|e| format!("{e}: leave out --train-images and --test-images (or give those)"))?;
    }
    Ok((train, test))
}

pub fn read_checkpoint(path: &std::path::Path) -> Result<Checkpoint, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let checkpoint = Checkpoint::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if !checkpoint.verified {
        eprintln!(
            "note: {} has no checksum (it was written before checkpoints had one), so it could not be checked for damage",
            path.display()
        );
    }
    Ok(checkpoint)
}

/// Writes next to `path` and renames, so that a run stopped mid-write leaves the last checkpoint whole.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// The settings without the model's layers, which would fill a screen.
fn recipe_only(spec: &TrainSpec) -> serde_json::Value {
    let mut value = serde_json::to_value(spec).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.remove("model");
    }
    value
}

#![cfg(not(target_arch = "wasm32"))]
//! Trains on the real Fashion-MNIST (`bash dev/fetch-data.sh` puts it in `public/data/`).

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cnn_data::{Dataset, Split};
use cnn_models::{ModelSpec, VggSpec};
use cnn_train::{
    BackendKind, EpochStats, Event, OpenedDevice, Optimizer, RunControl, StepReport, TrainError, TrainSpec, train,
};

/// burn's random numbers (initial weights, dropout) come from one generator per backend in the
/// process, which the test harness's threads would share and interleave: each test here holds
/// this lock, so that every run draws its own sequence and repeats exactly.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_run_at_a_time() -> MutexGuard<'static, ()> {
    ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn load(split: Split, n: usize) -> Dataset {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../public/data/fashion-mnist");
    Dataset::load_dir(&dir, split).unwrap_or_else(|e| panic!("{e} (run `bash dev/fetch-data.sh`)")).head(n)
}

/// A VGG in d2l's pattern, down-scaled to 28 pixels so that the test runs in well under a minute.
fn small_vgg() -> ModelSpec {
    ModelSpec::Vgg(VggSpec { arch: vec![(1, 16), (1, 32), (1, 64)], head_width: 256, dropout: 0.5 })
}

/// Runs `train` to completion on burn's CPU backend.
fn train_on_cpu(
    spec: &TrainSpec,
    (train_set, test_set): (&Dataset, &Dataset),
    control: &RunControl,
    on_event: impl FnMut(Event),
) -> Result<Vec<EpochStats>, TrainError> {
    pollster::block_on(async {
        let cpu = OpenedDevice::open(BackendKind::Cpu).await?;
        train(spec, train_set, test_set, &cpu, control, on_event).await
    })
}

#[test]
fn small_vgg_reaches_70_percent_on_real_test_images() {
    let _one = one_run_at_a_time();
    let spec =
        TrainSpec { batch_size: 32, learning_rate: 0.05, epochs: 5, seed: 42, ..TrainSpec::new(small_vgg(), 28) };
    let (train_set, test_set) = (load(Split::Train, 3_000), load(Split::Test, 1_000));
    let mut steps = 0;
    let history = train_on_cpu(&spec, (&train_set, &test_set), &RunControl::default(), |e| {
        if let Event::Step(_) = e {
            steps += 1;
        }
    })
    .unwrap();
    for epoch in &history {
        eprintln!("{epoch:?}");
    }
    assert_eq!(steps, 5 * 94);
    let last = history.last().unwrap();
    assert!(history[0].train_loss > last.train_loss, "training loss went down: {history:?}");
    assert!(last.test_accuracy >= 0.70, "test accuracy {} < 0.70", last.test_accuracy);
}

#[test]
fn cancel_stops_before_the_first_step() {
    let _one = one_run_at_a_time();
    let control = RunControl::default();
    control.stop();
    let mut events = Vec::new();
    let spec = TrainSpec::new(small_vgg(), 28);
    let history =
        train_on_cpu(&spec, (&load(Split::Test, 64), &load(Split::Test, 32)), &control, |e| events.push(e)).unwrap();
    assert!(history.is_empty());
    assert!(
        matches!(
            events[..],
            [Event::Started { train_images: 64, test_images: 32, steps_per_epoch: 2, .. }, Event::Cancelled]
        ),
        "{events:?}"
    );
}

#[test]
fn a_paused_run_waits_after_its_step_and_counts_no_paused_time() {
    let _one = one_run_at_a_time();
    let control = RunControl::default();
    control.pause(true);
    let (step_done, steps_seen) = std::sync::mpsc::channel();
    let releaser = control.clone();
    // Lets the run go on 300 ms after its first step, saying how many steps came meanwhile.
    let release = std::thread::spawn(move || {
        steps_seen.recv().expect("the first step");
        std::thread::sleep(Duration::from_millis(300));
        let while_paused = steps_seen.try_iter().count();
        releaser.pause(false);
        while_paused
    });
    let spec = TrainSpec { batch_size: 32, epochs: 1, ..TrainSpec::new(small_vgg(), 28) };
    let (wall, mut steps) = (Instant::now(), 0);
    let history = train_on_cpu(&spec, (&load(Split::Test, 128), &load(Split::Test, 32)), &control, |e| {
        if let Event::Step(_) = e {
            steps += 1;
            let _ = step_done.send(());
        }
    })
    .unwrap();
    let wall = wall.elapsed().as_secs_f64();
    assert_eq!(release.join().unwrap(), 0, "no step while paused");
    assert_eq!(steps, 4);
    assert!(history[0].seconds <= wall - 0.3, "the pause is not counted: {} s of {wall} s", history[0].seconds);
}

#[test]
fn a_spec_too_deep_for_the_image_is_refused_before_training() {
    let _one = one_run_at_a_time();
    let spec = TrainSpec::new(ModelSpec::preset("vgg11-r4").unwrap(), 28);
    let err = train_on_cpu(&spec, (&load(Split::Test, 8), &load(Split::Test, 8)), &RunControl::default(), |_| {})
        .unwrap_err();
    assert!(err.to_string().starts_with("block 5 / max-pool (max-pool 2x2/2 pad 0) gets a 1x1 map"), "{err}");
}

#[test]
fn cancel_stops_the_measurement_on_test_images() {
    let _one = one_run_at_a_time();
    let control = RunControl::default();
    let mut events = Vec::new();
    let spec = TrainSpec::new(small_vgg(), 28);
    let history = train_on_cpu(&spec, (&load(Split::Test, 32), &load(Split::Test, 1_000)), &control, |e| {
        if matches!(e, Event::Evaluating { .. }) {
            control.stop();
        }
        events.push(e);
    })
    .unwrap();
    assert!(history.is_empty(), "no epoch is reported when its measurement was cancelled");
    assert!(matches!(events[..], [.., Event::Evaluating { epoch: 1 }, Event::Cancelled]), "{events:?}");
}

/// The mean training loss over the last of `epochs` epochs of the small VGG with `optimizer`.
fn last_train_loss(optimizer: Optimizer, epochs: usize) -> f32 {
    let spec = TrainSpec {
        batch_size: 32,
        learning_rate: 0.01,
        epochs,
        seed: 9,
        optimizer,
        ..TrainSpec::new(small_vgg(), 28)
    };
    let history =
        train_on_cpu(&spec, (&load(Split::Train, 640), &load(Split::Test, 64)), &RunControl::default(), |_| {})
            .unwrap();
    history.last().unwrap().train_loss
}

#[test]
fn momentum_reaches_a_lower_loss_than_plain_sgd_in_the_same_steps() {
    let _one = one_run_at_a_time();
    let plain = last_train_loss(Optimizer::default(), 3);
    let momentum = last_train_loss(Optimizer::Sgd { momentum: 0.9, nesterov: false }, 3);
    eprintln!("third epoch's training loss: plain SGD {plain}, momentum {momentum}");
    assert!(momentum < 0.8 * plain, "plain SGD {plain}, momentum {momentum}");
}

#[test]
fn a_diverging_run_stops_at_once_with_a_sentence_and_keeps_what_it_recorded() {
    let _one = one_run_at_a_time();
    // A rate far too high: the loss leaves any meaningful range within a few steps.
    let spec = TrainSpec { batch_size: 16, learning_rate: 1e4, epochs: 3, ..TrainSpec::new(small_vgg(), 28) };
    let mut steps = Vec::new();
    let err = train_on_cpu(&spec, (&load(Split::Train, 320), &load(Split::Test, 32)), &RunControl::default(), |e| {
        if let Event::Step(StepReport { step, loss, learning_rate, .. }) = e {
            steps.push((step, loss, learning_rate));
        }
    })
    .unwrap_err();
    let TrainError::Diverged { epoch: 1, step, .. } = err else { panic!("{err}") };
    assert_eq!(steps.len(), step - 1, "every step before the bad one was reported: {steps:?}");
    assert!(steps.iter().all(|&(_, loss, lr)| loss.is_finite() && lr == 1e4), "{steps:?}");
    let sentence = err.to_string();
    assert!(sentence.starts_with("the run diverged: the loss "), "{sentence}");
    assert!(
        sentence.contains(&format!(
            "at step {step} of epoch 1, at learning rate 10000; try a lower learning rate (for example 1000)"
        )),
        "{sentence}"
    );
}

/// Epoch figures without the wall-clock ones, which no two runs share.
fn figures(stats: &EpochStats) -> [f32; 4] {
    [stats.train_loss, stats.train_accuracy, stats.test_loss, stats.test_accuracy]
}

#[test]
fn a_run_resumed_from_a_checkpoint_equals_one_that_never_stopped() {
    let _one = one_run_at_a_time();
    use cnn_train::{Checkpoint, Checkpoints, Recipe, train_from};
    // Dropout, momentum, weight decay, a cosine after a warm-up, crops and flips: every piece of
    // state a resumed run must get back.
    let modern = Recipe::Modern.apply(TrainSpec::new(small_vgg(), 28), 0.02);
    let spec = TrainSpec { epochs: 3, batch_size: 32, seed: 5, ..modern };
    let data = (load(Split::Train, 320), load(Split::Test, 128));
    let whole = train_on_cpu(&spec, (&data.0, &data.1), &RunControl::default(), |_| {}).unwrap();

    let mut saved = Vec::new();
    let keep = Checkpoints { resume: None, keep: Some(Box::new(|c: Checkpoint| saved.push(c.to_bytes()))) };
    let control = RunControl::default();
    // Stopped during epoch 2, after epoch 1's checkpoint.
    let stopped = pollster::block_on(async {
        let cpu = OpenedDevice::open(BackendKind::Cpu).await.unwrap();
        train_from(&spec, &data.0, &data.1, &cpu, &control, keep, |e| {
            if let Event::Step(StepReport { epoch: 2, step: 3, .. }) = e {
                control.stop();
            }
        })
        .await
        .unwrap()
    });
    assert_eq!(stopped.len(), 1);
    assert_eq!(saved.len(), 1);
    let checkpoint = Checkpoint::from_bytes(&saved[0]).unwrap();
    assert_eq!(checkpoint.epoch, 1);

    let mut replayed = Vec::new();
    let resumed = pollster::block_on(async {
        let cpu = OpenedDevice::open(BackendKind::Cpu).await.unwrap();
        let from = Checkpoints { resume: Some(checkpoint), keep: None };
        train_from(&spec, &data.0, &data.1, &cpu, &RunControl::default(), from, |e| {
            if let Event::Epoch(stats) = e {
                replayed.push(stats.epoch);
            }
        })
        .await
        .unwrap()
    });
    assert_eq!(replayed, [1, 2, 3], "the checkpoint's epoch first, then the new ones");
    let (whole, resumed): (Vec<_>, Vec<_>) =
        (whole.iter().map(figures).collect(), resumed.iter().map(figures).collect());
    eprintln!("uninterrupted {whole:?}\nresumed       {resumed:?}");
    assert_eq!(resumed, whole);
}

#[test]
fn a_checkpoint_of_another_model_is_refused_and_changes_nothing() {
    let _one = one_run_at_a_time();
    use cnn_train::{Checkpoint, Checkpoints, train_from};
    let spec = TrainSpec { epochs: 1, ..TrainSpec::new(small_vgg(), 28) };
    let data = (load(Split::Test, 32), load(Split::Test, 32));
    let mut saved = None;
    let keep = Checkpoints { resume: None, keep: Some(Box::new(|c: Checkpoint| saved = Some(c))) };
    pollster::block_on(async {
        let cpu = OpenedDevice::open(BackendKind::Cpu).await.unwrap();
        train_from(&spec, &data.0, &data.1, &cpu, &RunControl::default(), keep, |_| {}).await.unwrap()
    });
    let mut checkpoint = saved.unwrap();
    // Claim the weights belong to a wider VGG: the settings match, the tensors do not.
    let wider = ModelSpec::Vgg(VggSpec { arch: vec![(1, 32), (1, 32), (1, 64)], head_width: 256, dropout: 0.5 });
    checkpoint.spec = TrainSpec { model: wider, epochs: 1, ..spec.clone() };
    let run = TrainSpec { epochs: 2, ..checkpoint.spec.clone() };
    let err = pollster::block_on(async {
        let cpu = OpenedDevice::open(BackendKind::Cpu).await.unwrap();
        let from = Checkpoints { resume: Some(checkpoint), keep: None };
        train_from(&run, &data.0, &data.1, &cpu, &RunControl::default(), from, |_| {}).await.unwrap_err()
    });
    assert!(err.to_string().starts_with("the checkpoint's weights do not fit this model: "), "{err}");
}

#[test]
fn a_checkpoint_evaluates_to_its_last_epochs_test_figures_and_exports_as_safetensors() {
    let _one = one_run_at_a_time();
    use cnn_train::{Checkpoint, Checkpoints, evaluate, explain, export, inspect, train_from};
    let spec = TrainSpec { epochs: 1, batch_size: 16, ..TrainSpec::new(small_vgg(), 28) };
    let data = (load(Split::Train, 64), load(Split::Test, 48));
    let (history, evaluated, bytes, predictions) = pollster::block_on(async {
        let cpu = OpenedDevice::open(BackendKind::Cpu).await.unwrap();
        let mut saved = None;
        let keep = Checkpoints { resume: None, keep: Some(Box::new(|c: Checkpoint| saved = Some(c.to_bytes()))) };
        let history = train_from(&spec, &data.0, &data.1, &cpu, &RunControl::default(), keep, |_| {}).await.unwrap();
        let checkpoint = Checkpoint::from_bytes(&saved.unwrap()).unwrap();
        assert_eq!(checkpoint.images, Some((64, 48)), "the images the run used");
        let evaluated = evaluate(&checkpoint, &data.1, &cpu).await.unwrap();
        let bytes = export::safetensors(&checkpoint, &cpu.device.clone().without_autodiff()).unwrap();
        let predictions = inspect::predict(&checkpoint, &data.1, &cpu).await.unwrap();
        // One picture looked at alone gets the probabilities it got among the test batches.
        let picture = explain::test_picture(&checkpoint, &data.1, 5).unwrap();
        let look = explain::explain(&checkpoint, &picture, explain::ExplainRequest::default(), &cpu).await.unwrap();
        for (alone, batched) in look.probabilities.iter().zip(predictions.row(5)) {
            assert!((alone - batched).abs() < 1e-5, "{:?} {:?}", look.probabilities, predictions.row(5));
        }
        assert_eq!(look.class, predictions.predicted(5).0);
        (history, evaluated, bytes, predictions)
    });
    // Every image's probabilities sum to 1, and the confusion matrix holds the evaluation's count.
    assert_eq!(predictions.len(), 48);
    for i in 0..48 {
        assert!((predictions.row(i).iter().sum::<f32>() - 1.0).abs() < 1e-4, "image {i}: {:?}", predictions.row(i));
    }
    let labels: Vec<usize> = data.1.labels.iter().map(|&l| l as usize).collect();
    assert_eq!(predictions.labels, labels);
    let confusion = predictions.confusion();
    assert_eq!((confusion.total(), confusion.correct()), (48, evaluated.correct));
    assert_eq!(evaluated.examples, 48);
    assert_eq!(evaluated.correct as f32 / 48.0, history[0].test_accuracy);
    assert!((evaluated.loss - history[0].test_loss).abs() < 1e-5, "{evaluated:?} {history:?}");
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let index: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    assert!(index["__metadata__"]["cnn-playground.spec"].as_str().unwrap().contains("\"kind\":\"vgg\""), "{index}");
    // The first convolution: 16 filters of 1x3x3, in PyTorch's layout.
    let conv = index.as_object().unwrap().values().find(|t| t["shape"] == serde_json::json!([16, 1, 3, 3]));
    assert!(conv.is_some(), "{index}");
}

/// On Vulkan (Mesa's lavapipe where there is no GPU, as in CI) a step from the CPU's
/// weights on the same real batch has the CPU's loss within 1e-3, and steps lower the loss (on
/// lavapipe the third pass's mean was 0.78 of the first step's loss; five leave a margin).
#[cfg(feature = "gpu")]
#[test]
fn vulkan_matches_the_cpu_and_trains_on_real_images() {
    use cnn_data::BatchPlan;
    use cnn_train::Trainer;

    let _one = one_run_at_a_time();
    let data = load(Split::Train, 256);
    let model = ModelSpec::Vgg(VggSpec { arch: vec![(1, 16), (1, 32), (2, 64)], head_width: 256, dropout: 0.0 });
    let spec = TrainSpec { seed: 3, ..TrainSpec::new(model, 28) };
    let plan = BatchPlan { batch_size: 32, image_size: 28, seed: 1 };
    let batches: Vec<_> = plan.chunks(&plan.shuffled(data.len(), 0)).iter().map(|i| plan.batch(&data, i)).collect();
    pollster::block_on(async {
        let cpu = OpenedDevice::open(BackendKind::Cpu).await.unwrap();
        let vulkan = OpenedDevice::open(BackendKind::Vulkan).await.unwrap_or_else(|e| panic!("{e}"));
        let mut on_cpu = Trainer::new(&spec, &cpu.device).unwrap();
        let mut on_vulkan = Trainer::new(&spec, &vulkan.device).unwrap();
        on_vulkan.load_weights(&on_cpu.save_state().await.unwrap().0).unwrap();
        let first_cpu = on_cpu.step(&batches[0], spec.learning_rate).await.unwrap().loss;
        let mut losses = vec![on_vulkan.step(&batches[0], spec.learning_rate).await.unwrap().loss];
        eprintln!("{}: first step's loss {} (CPU {first_cpu})", vulkan.label, losses[0]);
        assert!((losses[0] - first_cpu).abs() < 1e-3, "Vulkan {} against the CPU's {first_cpu}", losses[0]);
        for pass in 0..5 {
            let mut sum = 0.0;
            for batch in &batches {
                sum += on_vulkan.step(batch, 0.1).await.unwrap().loss;
            }
            losses.push(sum / batches.len() as f32);
            eprintln!("pass {pass}: mean loss {}", losses.last().unwrap());
        }
        assert!(*losses.last().unwrap() < 0.8 * losses[0], "losses on {}: {losses:?}", vulkan.label);
    });
}

/// A GPU lost mid-run (destroyed here, as a driver reset would) stops the run with a sentence
/// after the epoch its checkpoint holds; that checkpoint holds the GPU's weights (read back
/// asynchronously, as a browser needs) and resumes on the CPU; and the GPU opens afresh.
#[cfg(feature = "gpu")]
#[test]
fn a_lost_gpu_stops_the_run_with_a_sentence_and_its_checkpoint_resumes_on_the_cpu() {
    use cnn_train::backend::lose_gpu;
    use cnn_train::{Checkpoint, Checkpoints, Trainer, evaluate, train_from};

    let _one = one_run_at_a_time();
    let tiny = ModelSpec::Vgg(VggSpec { arch: vec![(1, 8), (1, 16)], head_width: 64, dropout: 0.0 });
    // Adam: two moments per weight to read back, besides the weights.
    let spec = TrainSpec {
        epochs: 3,
        batch_size: 32,
        learning_rate: 0.002,
        optimizer: Optimizer::adam(),
        ..TrainSpec::new(tiny, 28)
    };
    let (train_set, test_set) = (load(Split::Train, 128), load(Split::Test, 64));
    pollster::block_on(async {
        let vulkan = OpenedDevice::open(BackendKind::Vulkan).await.unwrap_or_else(|e| panic!("{e}"));
        let mut kept = Vec::new();
        let keep = Checkpoints {
            resume: None,
            keep: Some(Box::new(|c: Checkpoint| {
                kept.push(c);
                assert!(lose_gpu(BackendKind::Vulkan), "a Vulkan device to lose");
            })),
        };
        let mut epochs = Vec::new();
        let on_event = |e| {
            if let Event::Epoch(stats) = e {
                epochs.push(stats)
            }
        };
        let error = train_from(&spec, &train_set, &test_set, &vulkan, &RunControl::default(), keep, on_event)
            .await
            .unwrap_err();
        let sentence = error.to_string();
        eprintln!("{sentence}");
        assert!(matches!(error, TrainError::GpuLost(_)), "{error:?}");
        assert!(sentence.starts_with("the GPU was lost (") && sentence.ends_with("resume it on the CPU"), "{sentence}");
        assert_eq!((epochs.len(), kept.len()), (1, 1), "epoch 1 ran and was kept, epoch 2 stopped");
        let checkpoint = kept.pop().unwrap();
        assert_eq!(checkpoint.epoch, 1);

        // The weights kept are the GPU's: the CPU measures what the GPU measured after epoch 1.
        let cpu = OpenedDevice::open(BackendKind::Cpu).await.unwrap();
        let on_cpu = evaluate(&checkpoint, &test_set, &cpu).await.unwrap();
        let (loss, accuracy) = (on_cpu.loss, on_cpu.correct as f32 / on_cpu.examples as f32);
        assert!((loss - epochs[0].test_loss).abs() < 1e-4, "CPU {loss}, GPU {}", epochs[0].test_loss);
        assert_eq!(accuracy, epochs[0].test_accuracy);

        let from = Checkpoints { resume: Some(checkpoint), keep: None };
        let resumed =
            train_from(&spec, &train_set, &test_set, &cpu, &RunControl::default(), from, |_| {}).await.unwrap();
        assert_eq!(resumed.len(), 3);
        assert_eq!(resumed[0], epochs[0]);
        assert!(resumed[2].train_loss < resumed[0].train_loss, "{resumed:?}");

        // The next run opens a new device on the adapter and trains there.
        let again = OpenedDevice::open(BackendKind::Vulkan).await.unwrap();
        let mut trainer = Trainer::new(&spec, &again.device).unwrap();
        let batch = cnn_data::BatchPlan { batch_size: 32, image_size: 28, seed: 1 }
            .batch(&train_set, &(0..32).collect::<Vec<_>>());
        assert!(trainer.step(&batch, 0.002).await.unwrap().loss.is_finite());
    });
}

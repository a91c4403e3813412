//! The messages between the page and its workers, whole, damaged and made up: each decodes to the
//! message sent or to a sentence, quickly; never a panic. A panic in the worker would end its
//! run, one in the page would freeze it.

use std::time::{Duration, Instant};

use cnn_models::ModelSpec;
use cnn_train::bench::Trial;
use cnn_train::explain::ExplainRequest;
use cnn_train::{BackendKind, EpochStats, Event, StepReport, TrainSpec};
use cnn_worker::protocol::{FromWorker, Picture, ToWorker, encode, read};
use proptest::prelude::*;

fn model() -> ModelSpec {
    ModelSpec::preset("resnet-small").expect("a preset")
}

/// One of each message the page sends (their numbers as the page's own are).
fn to_worker() -> Vec<ToWorker> {
    let spec = TrainSpec::new(model(), 28);
    let backend = BackendKind::Cpu;
    vec![
        ToWorker::Train {
            spec,
            backend,
            train_images: 640,
            test_images: 64,
            run: Some(1_765_000_000_000),
            resume: true,
        },
        ToWorker::Cancel,
        ToWorker::Pause(true),
        ToWorker::Choose { model: model(), image_size: 56, batch_size: 32 },
        ToWorker::Evaluate { run: 7, test_images: 10_000, backend },
        ToWorker::Export { run: 7 },
        ToWorker::Inspect { run: 7, test_images: 2_000, backend: BackendKind::Wgpu },
        ToWorker::Explain {
            run: 7,
            backend,
            picture: Picture::Pixels { width: 280, height: 280 },
            request: ExplainRequest { class: Some(3), row: Some(2) },
            bytes: vec![],
        },
        ToWorker::Explain {
            run: 7,
            backend,
            picture: Picture::Test(9_999),
            request: ExplainRequest::default(),
            bytes: vec![],
        },
        ToWorker::LoseGpu,
        ToWorker::Bench {
            model: model(),
            trial: Trial { image_size: 56, batch_size: 32, warmup: 2, steps: 5 },
            backend,
            kernels: Some("blocked".into()),
        },
        ToWorker::BenchMatmul { size: 1024, repeats: 3, backend: BackendKind::Wgpu, kernels: "blocked".into() },
    ]
}

/// One of each message the workers send.
fn from_worker() -> Vec<FromWorker> {
    let stats = EpochStats {
        epoch: 2,
        train_loss: 0.41,
        train_accuracy: 0.85,
        test_loss: f32::INFINITY,
        test_accuracy: 0.83,
        examples_per_sec: 655.0,
        seconds: 15.3,
    };
    vec![
        FromWorker::Loaded { train_images: 60_000, test_images: 10_000, cpu_threads: 2 },
        FromWorker::LoadFailed("the data could not be fetched".into()),
        FromWorker::Backend { label: "WebGPU (SwiftShader)".into(), why: Some("faster by 2x".into()) },
        FromWorker::Chosen { backend: BackendKind::Cpu, why: "the CPU trained 3x faster".into() },
        FromWorker::Resumed { epochs: 3 },
        FromWorker::NotStored("The checkpoint could not be stored: quota.".into()),
        FromWorker::Event(Event::Started {
            params: 1_234_567,
            train_images: 640,
            test_images: 64,
            steps_per_epoch: 20,
        }),
        FromWorker::Event(Event::Step(StepReport {
            epoch: 1,
            step: 7,
            steps: 20,
            loss: f32::NAN,
            accuracy: 0.5,
            batch_loss: f32::INFINITY,
            batch_accuracy: 0.25,
            examples_per_sec: 100.0,
            learning_rate: 0.05,
        })),
        FromWorker::Event(Event::Epoch(stats)),
        FromWorker::Event(Event::Cancelled),
        FromWorker::Finished,
        FromWorker::Failed("the loss diverged".into()),
        FromWorker::GpuLost("the GPU was lost".into()),
        FromWorker::Evaluated { run: 7, result: Ok((0.4, 0.85, 10_000)) },
        FromWorker::Evaluated { run: 7, result: Err("no checkpoint".into()) },
        FromWorker::Exported { run: 7, bytes: vec![] },
        FromWorker::Refused("The safetensors could not be made.".into()),
        FromWorker::Memory { wasm_bytes: 212 << 20 },
    ]
}

fn messages() -> Vec<String> {
    to_worker().iter().map(encode).chain(from_worker().iter().map(encode)).collect()
}

/// Decodes `json` both ways, as the worker and the page do; every refusal a sentence.
fn decode_both(json: &str) -> Result<(), TestCaseError> {
    let started = Instant::now();
    for why in [read::<ToWorker>(json).err(), read::<FromWorker>(json).err()].into_iter().flatten() {
        prop_assert!(why.starts_with("the message is not one this build reads (") && why.len() > 45, "{why}");
    }
    prop_assert!(started.elapsed() < Duration::from_millis(500), "{:?} for {} bytes", started.elapsed(), json.len());
    Ok(())
}

#[test]
fn every_message_reads_back_as_sent() {
    for message in to_worker() {
        let json = encode(&message);
        let back: ToWorker = read(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(encode(&back), json);
    }
    for message in from_worker() {
        let json = encode(&message);
        let back: FromWorker = read(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        // NaN and infinities are not JSON: they travel as null, and read back as NaN.
        assert_eq!(encode(&back), json);
    }
}

#[test]
fn deep_nesting_and_huge_numbers_are_sentences() {
    for json in [
        "[".repeat(100_000),
        format!("{}{}", "{\"Pause\":".repeat(50_000), "}".repeat(50_000)),
        r#"{"Evaluate":{"run":1e400,"test_images":-1,"backend":"Cpu"}}"#.to_string(),
        r#"{"Explanation":{"run":1,"backend":"Cpu","picture":{"Pixels":{"width":4294967296,"height":1}},"request":{}}}"#
            .to_string(),
        String::new(),
    ] {
        decode_both(&json).unwrap_or_else(|e| panic!("{e}"));
        assert!(read::<ToWorker>(&json).is_err(), "{}", &json[..json.len().min(80)]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..Default::default() })]

    /// A message cut short or with bytes changed (a stale worker script, a bug on either side).
    #[test]
    fn a_damaged_message_is_a_message_or_a_sentence(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<char>()), 0..4),
    ) {
        let all = messages();
        let mut chars: Vec<char> = which.get(&all).chars().collect();
        for (at, c) in changes {
            let at = at.index(chars.len());
            chars[at] = c;
        }
        chars.truncate(cut.index(chars.len() + 1));
        decode_both(&chars.into_iter().collect::<String>())?;
    }

    #[test]
    fn any_text_is_a_message_or_a_sentence(json in prop_oneof!["\\PC{0,300}", "[\\[\\]{}\":,0-9a-zA-Z]{0,300}"]) {
        decode_both(&json)?;
    }
}

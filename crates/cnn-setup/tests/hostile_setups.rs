//! Setups as a stranger's link, a damaged link or a careless learner could bring them: each is a
//! setup or a sentence, quickly; never a panic. The links' fragments are what the page reads
//! before it shows anything, so a slow one would freeze a tab.

use std::time::{Duration, Instant};

use cnn_models::{InputSpec, ModelSpec};
use cnn_setup::link::{self, MAX_PACKED};
use cnn_setup::{Form, Setup, spec_text};
use proptest::prelude::*;

/// A refusal the page shows as it is: words, not a panic or a bare code.
fn is_sentence(text: &str) -> bool {
    text.len() > 20 && text.contains(' ') && !text.contains("panic")
}

/// A field as a learner could type it: numbers in and out of range, words, nothing.
fn typed() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u64..2000).prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| f.to_string()),
        1 => Just(u64::MAX.to_string()),
        1 => Just("1e999".to_string()),
        1 => Just("-1".to_string()),
        1 => Just(String::new()),
        1 => "\\PC{0,12}",
    ]
}

fn choice(options: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(options).prop_map(str::to_string), 1 => "\\PC{0,8}"]
}

fn form() -> impl Strategy<Value = Form> {
    let numbers = prop::collection::vec(typed(), 14);
    let choices = (
        choice(&["sgd", "momentum", "nesterov", "adam", "adamw"]),
        choice(&["constant", "step", "cosine"]),
        choice(&["auto", "webgpu", "cpu"]),
    );
    (numbers, choices, any::<bool>()).prop_map(|(n, (optimizer, schedule, backend), flip)| Form {
        size: n[0].clone(),
        train_images: n[1].clone(),
        test_images: n[2].clone(),
        epochs: n[3].clone(),
        batch_size: n[4].clone(),
        learning_rate: n[5].clone(),
        optimizer,
        momentum: n[6].clone(),
        weight_decay: n[7].clone(),
        schedule,
        step_every: n[8].clone(),
        step_gamma: n[9].clone(),
        warmup: n[10].clone(),
        crop_padding: n[11].clone(),
        flip,
        label_smoothing: n[12].clone(),
        seed: n[13].clone(),
        backend,
    })
}

/// A spec's text: a preset's, one with a block of a billion layers, or anything at all.
fn spec_text() -> impl Strategy<Value = String> {
    let preset = prop::sample::select(cnn_models::PRESETS.iter().map(|p| p.name).collect::<Vec<_>>())
        .prop_map(|name| spec_text::format(&ModelSpec::preset(name).expect("a preset")));
    prop_oneof![
        3 => preset,
        1 => Just(r#"{"kind": "vgg", "arch": [[1000000000, 8]], "head_width": 64, "dropout": 0.5}"#.to_string()),
        1 => "\\PC{0,200}",
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    (spec_text(), form()).prop_map(|(spec, form)| Setup { spec, form })
}

/// Reads `fragment` as the page does when it opens, and says how long it took.
fn read(fragment: &str) -> (Option<Result<Setup, String>>, Duration) {
    let started = Instant::now();
    let read = link::read(fragment);
    (read, started.elapsed())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..Default::default() })]

    #[test]
    fn a_setup_comes_back_from_its_link(setup in setup()) {
        let fragment = link::fragment(&setup);
        prop_assert!(fragment.len() <= MAX_PACKED + "#setup=".len(), "{} characters", fragment.len());
        let (back, took) = read(&fragment);
        prop_assert_eq!(back, Some(Ok(setup)));
        prop_assert!(took < Duration::from_secs(1), "{took:?}");
    }

    /// A link cut short, or with characters changed on the way (a mail client, a chat).
    #[test]
    fn a_damaged_link_is_a_setup_or_a_sentence(setup in setup(), cut in any::<prop::sample::Index>(),
                                               changes in prop::collection::vec((any::<prop::sample::Index>(), any::<char>()), 0..4)) {
        let fragment = link::fragment(&setup);
        let mut chars: Vec<char> = fragment.chars().collect();
        for (at, c) in changes {
            let at = at.index(chars.len());
            chars[at] = c;
        }
        chars.truncate(cut.index(chars.len() + 1));
        let damaged: String = chars.into_iter().collect();
        let (back, took) = read(&damaged);
        if let Some(Err(why)) = &back {
            prop_assert!(is_sentence(why), "{why}");
        }
        prop_assert!(took < Duration::from_secs(1), "{took:?} for {} characters", damaged.len());
    }

    /// Anything after `#setup=`: lz-string's alphabet (the worst case for its decoder), or any text.
    #[test]
    fn any_fragment_is_a_setup_or_a_sentence(packed in prop_oneof![
        "[A-Za-z0-9+$-]{0,4000}",
        "\\PC{0,400}",
    ]) {
        let (back, took) = read(&format!("#setup={packed}"));
        match back {
            Some(Err(why)) => prop_assert!(is_sentence(&why), "{why}"),
            Some(Ok(_)) => {}
            None => prop_assert!(false, "a #setup= fragment is read"),
        }
        prop_assert!(took < Duration::from_secs(1), "{took:?}");
    }

    /// The form as typed (or as a link or a stored form brought it): a run or a sentence.
    #[test]
    fn any_form_is_a_run_or_a_sentence(form in form(), spec in spec_text()) {
        let started = Instant::now();
        let model = spec_text::parse(&spec);
        let size = form.size.trim().parse().unwrap_or(28);
        let analysis = model.clone().and_then(|m| {
            m.analyze(InputSpec { channels: 1, size, classes: 10 }).map_err(|e| e.to_string())
        });
        match form.parse(model, analysis, (60_000, 10_000)) {
            Ok(run) => {
                prop_assert!((1..=60_000).contains(&run.train_images) && (1..=10_000).contains(&run.test_images));
                prop_assert_eq!(run.spec.image_size, size);
            }
            Err(why) => prop_assert!(is_sentence(&why), "{why}"),
        }
        prop_assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
}

/// The page's first setup, read back as a reload reads the form it stored.
#[test]
fn the_default_form_reads_back_and_parses() {
    let form = Form::default();
    let stored: Form = serde_json::from_str(&serde_json::to_string(&form).expect("a form")).expect("read back");
    assert_eq!(stored, form);
    // A stored form from an older page lacks fields: they take the defaults.
    let older: Form = serde_json::from_str(r#"{"size": "56"}"#).expect("an older form");
    assert_eq!(older, Form { size: "56".into(), ..Form::default() });
}

/// A fragment of exactly the largest length the page reads, made of lz-string's most expensive
/// pattern (one repeated character grows the dictionary with every code): read in well under a
/// second, where an unbounded one held a tab for minutes.
#[test]
fn the_longest_fragment_read_is_quick() {
    for pattern in ["A", "AB", "gq", "+-"] {
        let packed = pattern.repeat(MAX_PACKED / pattern.len());
        let (back, took) = read(&format!("#setup={packed}"));
        assert!(matches!(back, Some(Err(_))), "{pattern}: {back:?}");
        assert!(took < Duration::from_millis(500), "{pattern}: {took:?}");
    }
}

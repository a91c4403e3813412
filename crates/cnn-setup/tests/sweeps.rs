//! Sweeps and lessons as the page builds them, the chapter ships them and a stranger's link brings
//! them: the runs they make, their CSV, and bad ones refused with a sentence before anything is
//! queued.

use std::time::{Duration, Instant};

use cnn_models::ModelSpec;
use cnn_setup::lesson::{self, Access, Control, Lesson, Plan};
use cnn_setup::link::{self, Linked};
use cnn_setup::outcome::{self, Outcome};
use cnn_setup::sweep::{ASK_ABOVE, Axis, MAX_RUNS, Setting, Sweep};
use cnn_setup::{Form, Setup, spec_text};
use proptest::prelude::*;

const DATA: (usize, usize) = (60_000, 10_000);

fn base() -> Setup {
    Setup { spec: spec_text::format(&ModelSpec::preset("resnet-small").expect("a preset")), form: Form::default() }
}

fn sweep(axes: &[(Setting, &str)]) -> Sweep {
    let axes = axes.iter().map(|&(s, values)| Axis::parse(s, values).expect("an axis")).collect();
    Sweep { base: base(), axes }
}

fn is_sentence(text: &str) -> bool {
    text.len() > 20 && text.contains(' ') && !text.contains("panic")
}

#[test]
fn a_size_sweep_makes_one_run_per_size() {
    let sweep = sweep(&[(Setting::Size, "28, 56")]);
    assert_eq!(sweep.runs(), 2);
    let runs = sweep.requests(DATA).expect("two runs");
    let sizes: Vec<usize> = runs.iter().map(|(_, r)| r.spec.image_size).collect();
    assert_eq!(sizes, [28, 56]);
    assert_eq!(runs[1].0.label(), "Image size 56");
    // Everything else is the base's.
    let base = base().form.parse(spec_text::parse(&base().spec), Ok(dummy_analysis()), DATA).expect("the base");
    assert_eq!(runs[0].1.spec, base.spec);
    assert_eq!(runs[1].1.spec.epochs, base.spec.epochs);
    assert_eq!(runs[1].1.train_images, base.train_images);
}

fn dummy_analysis() -> cnn_models::Analysis {
    spec_text::analyze(&spec_text::parse(&base().spec), "28").expect("resnet-small at 28 px")
}

#[test]
fn two_settings_make_every_combination_first_slowest() {
    let sweep = sweep(&[(Setting::Model, "vgg11-r4 resnet-small"), (Setting::Seed, "1,2,3")]);
    let points = sweep.points().expect("six runs");
    let labels: Vec<String> = points.iter().map(|p| p.label()).collect();
    assert_eq!(labels[0], "Model vgg11-r4, Seed 1");
    assert_eq!(labels[2], "Model vgg11-r4, Seed 3");
    assert_eq!(labels[3], "Model resnet-small, Seed 1");
    assert_eq!(points.len(), 6);
    let vgg = spec_text::parse(&points[0].setup.spec).expect("a spec");
    assert_eq!(Some(vgg), ModelSpec::preset("vgg11-r4"));
    // VGG-11's five halvings at the base's 28 px leave nothing: the run is named with its sentence.
    let why = sweep.requests(DATA).expect_err("vgg11-r4 at 28 px");
    assert!(why.starts_with("run 1 of the sweep (Model vgg11-r4, Seed 1) cannot train: "), "{why}");
}

#[test]
fn recipes_are_compared_at_the_sweeps_epochs() {
    let mut sweep = sweep(&[(Setting::Recipe, "d2l, modern")]);
    sweep.base.form.epochs = "2".into();
    let runs = sweep.requests(DATA).expect("two runs");
    for (_, run) in &runs {
        assert_eq!(run.spec.epochs, 2);
    }
    assert!(!runs[0].1.spec.augment.flip && runs[1].1.spec.augment.flip);
    assert!(runs[1].1.spec.label_smoothing > 0.0);
}

#[test]
fn augmentation_values_set_crops_and_flips() {
    let runs = sweep(&[(Setting::Augment, "none crops flips crops+flips")]).requests(DATA).expect("four runs");
    let got: Vec<(usize, bool)> =
        runs.iter().map(|(_, r)| (r.spec.augment.crop_padding, r.spec.augment.flip)).collect();
    assert_eq!(got, [(0, false), (4, false), (0, true), (4, true)]);
}

#[test]
fn bad_sweeps_are_sentences() {
    let refused = |axes: Vec<Axis>| Sweep { base: base(), axes }.check().expect_err("refused");
    let axis = |setting, values: &[&str]| Axis { setting, values: values.iter().map(|v| v.to_string()).collect() };
    let cases = [
        (refused(vec![]), "needs a setting"),
        (refused(vec![axis(Setting::Size, &[])]), "lists no values"),
        (refused(vec![axis(Setting::Size, &["28", "28"])]), "twice"),
        (refused(vec![axis(Setting::Seed, &["1"]), axis(Setting::Seed, &["2"])]), "both settings"),
        (
            refused(vec![axis(Setting::Seed, &["1"]), axis(Setting::Size, &["28"]), axis(Setting::BatchSize, &["8"])]),
            "at most 2",
        ),
        (refused(vec![axis(Setting::Model, &["vgg99"])]), "a preset's name"),
        (refused(vec![axis(Setting::LearningRate, &["-1"])]), "a number above 0"),
        (refused(vec![axis(Setting::LearningRate, &["NaN"])]), "a number above 0"),
        (refused(vec![axis(Setting::Optimizer, &["lbfgs"])]), "adamw"),
        (refused(vec![axis(Setting::Size, &["big"])]), "a whole number"),
    ];
    for (why, says) in cases {
        assert!(is_sentence(&why) && why.contains(says), "{why:?} should say {says:?}");
    }
    let seeds: Vec<String> = (0..100).map(|s| s.to_string()).collect();
    let sizes: Vec<String> = (20..25).map(|s| s.to_string()).collect();
    let big = Sweep {
        base: base(),
        axes: vec![Axis { setting: Setting::Seed, values: seeds }, Axis { setting: Setting::Size, values: sizes }],
    };
    assert_eq!(big.runs(), 500);
    assert!(big.check().expect_err("too many").contains(&MAX_RUNS.to_string()));
    // Between ASK_ABOVE and MAX_RUNS a sweep is made; the page asks before it queues it.
    let asked = sweep(&[(Setting::Seed, &(0..60).map(|s| s.to_string()).collect::<Vec<_>>().join(","))]);
    assert!(asked.runs() > ASK_ABOVE && asked.check().is_ok());
}

#[test]
fn the_csv_has_a_row_per_run_under_its_settings() {
    let sweep = sweep(&[(Setting::Model, "resnet-small"), (Setting::Size, "28,56")]);
    let analysis = dummy_analysis();
    let mut done = Outcome::planned(vec!["resnet-small".into(), "28".into()], Some(&analysis), 128);
    (done.state, done.epochs, done.final_accuracy, done.best_accuracy) = ("finished".into(), 2, Some(0.85), Some(0.86));
    done.seconds_per_epoch = Some(12.5);
    let failed = Outcome {
        state: "failed: out of memory, \"again\"".into(),
        ..Outcome::planned(vec!["resnet-small".into(), "56".into()], None, 128)
    };
    let csv = outcome::csv(&sweep, &[done.clone(), failed]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("model,size,state,parameters,dense_share,macs,"), "{}", lines[0]);
    let params = analysis.totals().params();
    assert!(lines[1].starts_with(&format!("resnet-small,28,finished,{params},")), "{}", lines[1]);
    assert!(lines[1].ends_with(",2,0.8500,0.8600,12.50"), "{}", lines[1]);
    assert_eq!(lines[2], "resnet-small,56,\"failed: out of memory, \"\"again\"\"\",,,,,,0,,,");
    assert_eq!(done.memory, Some(analysis.training_memory(128)));
}

#[test]
fn every_lesson_of_the_chapter_loads_and_trains() {
    let lessons = lesson::chapter();
    assert!(lessons.len() >= 8, "{}", lessons.len());
    for (id, lesson) in &lessons {
        lesson.check().unwrap_or_else(|why| panic!("{id}: {why}"));
        let Plan::Sweep(sweep) = &lesson.plan else { panic!("{id} is a sweep") };
        let runs = sweep.requests(DATA).unwrap_or_else(|why| panic!("{id}: {why}"));
        assert!((2..=ASK_ABOVE).contains(&runs.len()), "{id}: {} runs", runs.len());
        for (point, run) in &runs {
            // Minutes on a laptop's CPU: a few thousand images, an epoch or two.
            assert!(run.train_images <= 5000 && run.spec.epochs <= 2, "{id} {}: {run:?}", point.label());
        }
        assert_eq!(lesson.access(Control::Model), Access::Locked, "{id}");
        assert_eq!(lesson::find(id).as_ref(), Some(lesson));
        // Its link opens it whole.
        match link::read_any(&link::lesson_fragment(lesson)) {
            Some(Ok(Linked::Lesson(back))) => assert_eq!(&*back, lesson),
            other => panic!("{id}: {other:?}"),
        }
    }
}

#[test]
fn the_cost_lesson_shows_where_alexnet_and_vgg_spend() {
    let lesson = lesson::find("alexnet-vgg-cost").expect("the lesson");
    let Plan::Sweep(sweep) = &lesson.plan else { panic!("a sweep") };
    let rows: Vec<Outcome> = sweep
        .points()
        .expect("two runs")
        .iter()
        .map(|p| {
            let analysis = spec_text::analyze(&spec_text::parse(&p.setup.spec), &p.setup.form.size).expect("a table");
            Outcome::planned(vec![], Some(&analysis), 128)
        })
        .collect();
    // d2l's AlexNet and VGG-11 for one channel and ten classes at 224 px (PyTorch's counts).
    assert_eq!(rows[0].params, Some(46_764_746));
    assert_eq!(rows[1].params, Some(128_806_154));
    // Most parameters are dense, most computation convolutional, in both.
    for row in &rows {
        assert!(row.dense_share.expect("a share") > 0.85 && row.conv_share.expect("a share") > 0.9, "{row:?}");
    }
}

#[test]
fn a_teachers_lesson_keeps_its_locks_through_a_link() {
    let lesson = Lesson {
        title: "Batch size".into(),
        source: String::new(),
        question: "What does a larger batch do to the time per epoch?".into(),
        look: String::new(),
        plan: Plan::Sweep(sweep(&[(Setting::BatchSize, "32, 256")])),
        locked: vec![Control::Model, Control::Epochs],
        hidden: vec![Control::Backend, Control::Epochs],
    };
    let Some(Ok(Linked::Lesson(back))) = link::read_any(&link::lesson_fragment(&lesson)) else { panic!("read back") };
    assert_eq!(back.access(Control::Model), Access::Locked);
    assert_eq!(back.access(Control::Epochs), Access::Hidden);
    assert_eq!(back.access(Control::Size), Access::Open);
    let untitled = Lesson { title: " ".into(), ..lesson.clone() };
    let Some(Err(why)) = link::read_any(&link::lesson_fragment(&untitled)) else { panic!("refused") };
    assert!(why.contains("needs a title") && why.contains("defaults"), "{why}");
}

#[test]
fn a_sweep_link_with_an_unknown_key_or_a_bad_sweep_is_a_sentence() {
    let packed = |json: &str| format!("#sweep={}", lz_str::compress_to_encoded_uri_component(json));
    let base = serde_json::to_string(&base()).expect("json");
    for json in [
        format!(r#"{{"base": {base}, "axes": [{{"setting": "size", "values": ["28"]}}], "extra": 1}}"#),
        format!(r#"{{"base": {base}, "axes": [{{"setting": "colour", "values": ["red"]}}]}}"#),
        format!(r#"{{"base": {base}, "axes": []}}"#),
        format!(r#"{{"base": {base}, "axes": [{{"setting": "size", "values": []}}]}}"#),
        "[1, 2".to_string(),
    ] {
        match link::read_any(&packed(&json)) {
            Some(Err(why)) => assert!(is_sentence(&why) && why.contains("defaults"), "{why}"),
            other => panic!("{json}: {other:?}"),
        }
    }
}

fn any_sweep() -> impl Strategy<Value = Sweep> {
    let setting = prop::sample::select(Setting::ALL.to_vec());
    let value = prop_oneof![
        3 => (0u64..300).prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec!["vgg11-r4", "resnet-small", "adam", "crops+flips", "d2l", "own", "0.01"]).prop_map(str::to_string),
        1 => "\\PC{0,10}",
    ];
    let axis = (setting, prop::collection::vec(value, 0..6)).prop_map(|(setting, values)| Axis { setting, values });
    prop::collection::vec(axis, 0..4).prop_map(|axes| Sweep { base: base(), axes })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..Default::default() })]

    /// Any sweep, as a link brings it: read back whole and checked, or refused with a sentence;
    /// where it is made, every run trains or the first that cannot is named. Quickly.
    #[test]
    fn any_sweep_is_runs_or_a_sentence(sweep in any_sweep()) {
        let started = Instant::now();
        match link::read_any(&link::sweep_fragment(&sweep)) {
            Some(Ok(Linked::Sweep(back))) => {
                prop_assert_eq!(&back, &sweep);
                if let Err(why) = back.requests(DATA) {
                    prop_assert!(why.starts_with("run "), "{}", why);
                }
            }
            Some(Err(why)) => prop_assert!(is_sentence(&why), "{}", why),
            other => prop_assert!(false, "{:?}", other),
        }
        prop_assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
}

#[test]
fn control_ids_are_their_link_names() {
    for control in Control::ALL {
        assert_eq!(serde_json::to_string(&control).expect("json"), format!("\"{}\"", control.id()));
    }
    for setting in Setting::ALL {
        assert_eq!(serde_json::to_string(&setting).expect("json"), format!("\"{}\"", setting.id()));
        assert_eq!(Setting::from_id(setting.id()), Some(setting));
    }
}

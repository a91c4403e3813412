//! `cnn train` on the real Fashion-MNIST (`bash dev/fetch-data.sh` puts it in `public/data/`): a
//! run on part of the data, stopped and resumed, prints what a run that never stopped prints; a
//! settings file takes the book's values for what it leaves out.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../public/data/fashion-mnist")
}

/// A folder of this test's own, emptied.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cnn-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn cnn(args: &[&str]) -> Output {
    let data = data();
    let mut all = vec!["--data", data.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    Command::new(env!("CARGO_BIN_EXE_cnn")).arg("train").args(all).output().expect("the cnn binary runs")
}

/// The epoch rows' figures (epoch, losses, accuracies), without their speed and time.
fn epochs(output: &Output) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "cnn failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let rows = stdout.lines().filter(|l| l.split_whitespace().next().is_some_and(|w| w.parse::<usize>().is_ok()));
    rows.map(|l| l.split_whitespace().take(5).collect::<Vec<_>>().join(" ")).collect()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn a_run_on_part_of_the_data_resumes_with_its_own_images() {
    let dir = scratch("resume");
    // A small VGG at 28 px: a few seconds an epoch on 64 images.
    let spec = r#"{"kind":"vgg","arch":[[1,8],[1,16]],"head_width":64,"dropout":0.5}"#;
    let model = dir.join("small.json");
    std::fs::write(&model, spec).expect("the spec is written");
    let (ckpt, model) = (dir.join("run.ckpt"), path(&model).to_owned());
    let run = ["--model", &model, "--size", "28", "--batch-size", "16", "--train-images", "64", "--test-images", "32"];
    let whole = epochs(&cnn(&[&run[..], &["--epochs", "2"]].concat()));
    let first = epochs(&cnn(&[&run[..], &["--epochs", "1", "--save", path(&ckpt)]].concat()));
    let resumed = cnn(&["--resume", path(&ckpt), "--epochs", "2"]);
    assert_eq!(whole.len(), 2, "{whole:?}");
    assert_eq!(first, whole[..1], "the first epoch");
    // The first row is the checkpoint's history; the second is trained again, on its 64 images
    // (4 steps of 16 an epoch, not the 3,750 of all 60,000).
    assert_eq!(epochs(&resumed), whole, "the resumed run");
    assert!(String::from_utf8_lossy(&resumed.stdout).contains("64 training and 32 test images"));

    let other = cnn(&["--resume", path(&ckpt), "--epochs", "2", "--train-images", "128"]);
    let said = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(1), "{said}");
    assert!(
        said.contains("used its first 64 training and 32 test images") && said.contains("leave out --train-images"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_settings_file_takes_the_books_values_for_what_it_leaves_out() {
    let dir = scratch("settings");
    let file = dir.join("run.json");
    let images = ["--train-images", "16", "--test-images", "16"];
    std::fs::write(&file, r#"{"epochs": 1, "seed": 3}"#).expect("the settings are written");
    let output = cnn(&[&["--settings", path(&file)][..], &images].concat());
    assert_eq!(epochs(&output).len(), 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The book's VGG recipe at 56 px, with the file's epochs and seed.
    let settings = stdout.lines().find_map(|l| l.strip_prefix("settings: ")).expect("the settings line");
    let settings: serde_json::Value = serde_json::from_str(settings).expect("settings as JSON");
    let expected = r#"{"augment":{"crop_padding":0,"flip":false},"batch_size":128,"epochs":1,"image_size":56,
        "label_smoothing":0.0,"learning_rate":0.05,"optimizer":{"kind":"sgd","momentum":0.0,"nesterov":false},
        "schedule":{"kind":"constant"},"seed":3,"warmup_epochs":0.0,"weight_decay":0.0}"#;
    assert_eq!(settings, serde_json::from_str::<serde_json::Value>(expected).expect("JSON"));
    assert!(stdout.contains("vgg11-r4") || stdout.contains("the model"), "{stdout}");

    std::fs::write(&file, r#"{"epochs": 1, "learning_rte": 0.1}"#).expect("the settings are written");
    let output = cnn(&[&["--settings", path(&file)][..], &images].concat());
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains(r#"it has no setting "learning_rte""#) && said.contains("learning_rate"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

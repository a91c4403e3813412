//! What tells overlaid runs apart: each run's settings in a learner's words, and a legend label
//! that names only the ones that differ between the runs drawn together.

use cnn_models::Preset;
use cnn_train::{Optimizer, Schedule};

use crate::state::run::Run;

/// A run's settings as (what, value) pairs in the words of the training form.
fn settings(run: &Run) -> Vec<(&'static str, String)> {
    let s = &run.settings;
    let model = Preset::of(&s.model).map_or("own spec", |p| p.name);
    let optimizer = match s.optimizer {
        Optimizer::Sgd { momentum: 0.0, .. } => "SGD".to_string(),
        Optimizer::Sgd { momentum, nesterov: false } => format!("momentum {momentum}"),
        Optimizer::Sgd { momentum, nesterov: true } => format!("Nesterov {momentum}"),
        Optimizer::Adam { .. } => "Adam".into(),
        Optimizer::AdamW { .. } => "AdamW".into(),
    };
    let schedule = match s.schedule {
        Schedule::Constant => "constant rate".to_string(),
        Schedule::Step { every, gamma } => format!("×{gamma} every {every} epochs"),
        Schedule::Cosine => "cosine".into(),
    };
    vec![
        ("model", model.to_string()),
        ("size", format!("{} px", s.image_size)),
        ("images", format!("{} images", run.images.0)),
        ("optimizer", optimizer),
        ("rate", format!("lr {}", s.learning_rate)),
        ("batch", format!("batch {}", s.batch_size)),
        ("epochs", format!("{} epochs", s.epochs)),
        ("schedule", schedule),
        ("warmup", format!("warm-up {}", s.warmup_epochs)),
        ("decay", format!("wd {}", s.weight_decay)),
        ("crops", format!("crops {}", s.augment.crop_padding)),
        ("flips", if s.augment.flip { "flips" } else { "no flips" }.into()),
        ("smoothing", format!("smoothing {}", s.label_smoothing)),
        ("seed", format!("seed {}", s.seed)),
    ]
}

/// A legend label for each of `runs`: its name, and where they are two or more, the settings in
/// which it differs from any of the others ("Run 2: vgg11-r4, 56 px — lr 0.05, batch 64").
pub fn labels(runs: &[&Run]) -> Vec<String> {
    let all: Vec<_> = runs.iter().map(|r| settings(r)).collect();
    let differs = |i: usize| all.iter().any(|other| other[i].1 != all[0][i].1);
    runs.iter()
        .zip(&all)
        .map(|(run, mine)| {
            let words: Vec<_> = (0..mine.len()).filter(|&i| differs(i)).map(|i| mine[i].1.clone()).collect();
            if words.is_empty() { run.name.clone() } else { format!("{} — {}", run.name, words.join(", ")) }
        })
        .collect()
}

//! A sweep: one or two of a run's settings, each with the values to try, over a base setup. It
//! expands into one run per combination, which the page trains one after another as ordinary
//! runs. The page builds it from the form, a link carries it ([`link`](crate::link)), and the
//! chapter's lessons are made of them ([`lesson`](crate::lesson)).

use cnn_models::{PRESETS, Preset};
use cnn_train::Recipe;
use serde::{Deserialize, Serialize};

use crate::{RunRequest, Setup, spec_text};

/// A sweep varies one setting, or two against each other.
pub const MAX_AXES: usize = 2;
/// Above this many runs the page asks before it queues them.
pub const ASK_ABOVE: usize = 50;
/// The most runs a sweep may hold, asked or not: a crafted link listing thousands of values would
/// otherwise queue weeks of training and fill the runs list.
pub const MAX_RUNS: usize = 400;
/// The most values one setting may list.
pub const MAX_VALUES: usize = 100;
/// In the model setting: the base setup's own spec, as the editor holds it.
pub const OWN_SPEC: &str = "own";

/// A setting a sweep can vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    Model,
    Recipe,
    Size,
    Optimizer,
    LearningRate,
    BatchSize,
    Augment,
    Seed,
}

impl Setting {
    /// In the order their values are put into a run: a recipe's rate depends on the model, and a
    /// recipe sets the optimiser, rate and augmentation that the settings after it then change.
    pub const ALL: [Setting; 8] = [
        Setting::Model,
        Setting::Recipe,
        Setting::Size,
        Setting::Optimizer,
        Setting::LearningRate,
        Setting::BatchSize,
        Setting::Augment,
        Setting::Seed,
    ];

    /// Its name in a link, the page's select and the CSV's header.
    pub fn id(self) -> &'static str {
        match self {
            Setting::Model => "model",
            Setting::Recipe => "recipe",
            Setting::Size => "size",
            Setting::Optimizer => "optimizer",
            Setting::LearningRate => "learning-rate",
            Setting::BatchSize => "batch-size",
            Setting::Augment => "augment",
            Setting::Seed => "seed",
        }
    }

    pub fn from_id(id: &str) -> Option<Setting> {
        Setting::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Its name for people.
    pub fn label(self) -> &'static str {
        match self {
            Setting::Model => "Model",
            Setting::Recipe => "Recipe",
            Setting::Size => "Image size",
            Setting::Optimizer => "Optimizer",
            Setting::LearningRate => "Learning rate",
            Setting::BatchSize => "Batch size",
            Setting::Augment => "Augmentation",
            Setting::Seed => "Seed",
        }
    }

    /// Whether its values are numbers, which a chart places to scale (the others get a tick each).
    pub fn numeric(self) -> bool {
        matches!(self, Setting::Size | Setting::LearningRate | Setting::BatchSize | Setting::Seed)
    }

    /// Values to start from when the learner picks this setting.
    pub fn example(self) -> &'static str {
        match self {
            Setting::Model => "vgg11-r4, resnet-small",
            Setting::Recipe => "d2l, quick, modern",
            Setting::Size => "28, 56",
            Setting::Optimizer => "sgd, momentum, adam",
            Setting::LearningRate => "0.01, 0.05, 0.1",
            Setting::BatchSize => "64, 128, 256",
            Setting::Augment => "none, crops+flips",
            Setting::Seed => "1, 2, 3",
        }
    }

    /// What a value may be, for a sentence that refuses one.
    fn allowed(self) -> String {
        match self {
            Setting::Model => {
                let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
                format!("a preset's name ({}) or {OWN_SPEC:?} for the spec in the editor", names.join(", "))
            }
            Setting::Recipe => "d2l, quick or modern".into(),
            Setting::Optimizer => "sgd, momentum, nesterov, adam or adamw".into(),
            Setting::Augment => "none, crops, flips or crops+flips".into(),
            Setting::Size | Setting::BatchSize | Setting::Seed => "a whole number".into(),
            Setting::LearningRate => "a number above 0".into(),
        }
    }

    /// `value` put into `setup`, or why it cannot be. Numbers are only checked to be numbers here:
    /// whether the run can train at them is the form's and the model table's to say.
    fn apply(self, value: &str, setup: &mut Setup) -> Result<(), String> {
        let wrong = || format!("{} cannot be {value:?}: it takes {}", self.label(), self.allowed());
        let form = &mut setup.form;
        match self {
            Setting::Model if value == OWN_SPEC => {}
            Setting::Model => setup.spec = spec_text::format(&Preset::find(value).ok_or_else(wrong)?.spec()),
            Setting::Recipe => {
                let recipe = match value {
                    "d2l" => Recipe::D2l,
                    "quick" => Recipe::Quick,
                    "modern" => Recipe::Modern,
                    _ => return Err(wrong()),
                };
                // Recipes compared at the sweep's budget: the epochs stay the base's.
                let model = spec_text::parse(&setup.spec).ok();
                *form = crate::Form { epochs: form.epochs.clone(), ..form.with_recipe(recipe, model.as_ref()) };
            }
            Setting::Optimizer if ["sgd", "momentum", "nesterov", "adam", "adamw"].contains(&value) => {
                form.optimizer = value.into();
            }
            Setting::Optimizer => return Err(wrong()),
            Setting::Augment => {
                let (crops, flip) = match value {
                    "none" => (false, false),
                    "crops" => (true, false),
                    "flips" => (false, true),
                    "crops+flips" => (true, true),
                    _ => return Err(wrong()),
                };
                // d2l's and the modern recipe's padding, where the base crops none.
                let padding = form.crop_padding.trim().parse::<usize>().ok().filter(|&p| p > 0).unwrap_or(4);
                form.crop_padding = if crops { padding.to_string() } else { "0".into() };
                form.flip = flip;
            }
            Setting::LearningRate => {
                value.parse::<f64>().ok().filter(|r| r.is_finite() && *r > 0.0).ok_or_else(wrong)?;
                form.learning_rate = value.into();
            }
            Setting::Size | Setting::BatchSize | Setting::Seed => {
                value.parse::<u64>().map_err(|_| wrong())?;
                let field = match self {
                    Setting::Size => &mut form.size,
                    Setting::BatchSize => &mut form.batch_size,
                    _ => &mut form.seed,
                };
                *field = value.into();
            }
        }
        Ok(())
    }
}

/// One setting and the values to try.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    pub setting: Setting,
    pub values: Vec<String>,
}

impl Axis {
    /// The values as typed, separated by commas or spaces.
    pub fn parse(setting: Setting, text: &str) -> Result<Axis, String> {
        let values: Vec<String> =
            text.split([',', ' ', '\n', '\t']).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).collect();
        let axis = Axis { setting, values };
        axis.check()?;
        Ok(axis)
    }

    fn check(&self) -> Result<(), String> {
        let label = self.setting.label();
        match self.values.len() {
            0 => return Err(format!("{label} lists no values to try")),
            n if n > MAX_VALUES => {
                return Err(format!("{label} lists {n} values, more than the {MAX_VALUES} a sweep takes"));
            }
            _ => {}
        }
        if let Some((i, value)) = self.values.iter().enumerate().find(|&(i, v)| self.values[..i].contains(v)) {
            return Err(format!("{label} lists {value:?} twice (as value {} and before)", i + 1));
        }
        Ok(())
    }

    /// Its values as the table and the chart show them.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.setting.label(), self.values.join(", "))
    }
}

/// One run of a sweep: the values it takes and the setup they make.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// In the sweep's axes' order.
    pub values: Vec<(Setting, String)>,
    pub setup: Setup,
}

impl Point {
    /// Its values in a few words: "Image size 56, Seed 2".
    pub fn label(&self) -> String {
        let parts: Vec<String> = self.values.iter().map(|(s, v)| format!("{} {v}", s.label())).collect();
        parts.join(", ")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// What every run starts from: the spec and form the sweep was made from.
    pub base: Setup,
    pub axes: Vec<Axis>,
}

impl Sweep {
    /// How many runs it makes.
    pub fn runs(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).fold(1, usize::saturating_mul)
    }

    /// What is wrong with it before any run is made, in a sentence: too few or too many settings,
    /// one listed twice, values it cannot take, or more runs than any sweep may queue.
    pub fn check(&self) -> Result<(), String> {
        self.points().map(|_| ())
    }

    /// Every run it makes, first axis slowest; or the first thing wrong, as a sentence.
    pub fn points(&self) -> Result<Vec<Point>, String> {
        match self.axes.len() {
            0 => return Err("a sweep needs a setting to vary".into()),
            n if n > MAX_AXES => return Err(format!("a sweep varies at most {MAX_AXES} settings, this one {n}")),
            _ => {}
        }
        if self.axes.len() == 2 && self.axes[0].setting == self.axes[1].setting {
            return Err(format!("{} is listed as both settings of the sweep", self.axes[0].setting.label()));
        }
        for axis in &self.axes {
            axis.check()?;
        }
        if self.runs() > MAX_RUNS {
            return Err(format!("the sweep makes {} runs, more than the {MAX_RUNS} a sweep may queue", self.runs()));
        }
        let mut points = vec![vec![]];
        for axis in &self.axes {
            points = points
                .into_iter()
                .flat_map(|done: Vec<(Setting, String)>| {
                    axis.values.iter().map(move |v| [done.clone(), vec![(axis.setting, v.clone())]].concat())
                })
                .collect();
        }
        points.into_iter().map(|values| self.point(values)).collect()
    }

    fn point(&self, values: Vec<(Setting, String)>) -> Result<Point, String> {
        let mut setup = self.base.clone();
        for setting in Setting::ALL {
            if let Some((_, value)) = values.iter().find(|(s, _)| *s == setting) {
                setting.apply(value, &mut setup)?;
            }
        }
        Ok(Point { values, setup })
    }

    /// Every run ready to train on data of `data_len` training and test images; or the first
    /// that cannot, named by its values, with the sentence that says why.
    pub fn requests(&self, data_len: (usize, usize)) -> Result<Vec<(Point, RunRequest)>, String> {
        let points = self.points()?;
        let mut requests = Vec::with_capacity(points.len());
        for (i, point) in points.into_iter().enumerate() {
            let spec = spec_text::parse(&point.setup.spec);
            let analysis = spec_text::analyze(&spec, &point.setup.form.size);
            match point.setup.form.parse(spec, analysis, data_len) {
                Ok(request) => requests.push((point, request)),
                Err(why) => return Err(format!("run {} of the sweep ({}) cannot train: {why}", i + 1, point.label())),
            }
        }
        Ok(requests)
    }
}

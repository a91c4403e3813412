//! Lessons: a question, and the setup or sweep that answers it, loaded in one click. The chapter's
//! exercises come with the page ([`chapter`]); a teacher writes their own, with the form's
//! controls they lock or hide, and sends it as a link ([`link`](crate::link)).

use cnn_models::ModelSpec;
use cnn_train::Recipe;
use serde::{Deserialize, Serialize};

use crate::sweep::{Axis, Setting, Sweep};
use crate::{Form, Setup, spec_text};

/// The longest title, question or note a lesson may carry (a link is bounded anyway; this keeps a
/// crafted one from pushing the page's controls off the screen).
pub const MAX_TEXT: usize = 2000;

/// A control of the form a teacher can lock (shown, not editable) or hide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Control {
    /// The spec editor and the model presets.
    Model,
    Size,
    /// The training and test image counts.
    Images,
    Recipe,
    Optimizer,
    LearningRate,
    Momentum,
    WeightDecay,
    Schedule,
    Warmup,
    Epochs,
    BatchSize,
    /// Crops and flips.
    Augment,
    LabelSmoothing,
    Seed,
    Backend,
    /// The sweep's settings and values.
    Sweep,
}

impl Control {
    pub const ALL: [Control; 17] = [
        Control::Model,
        Control::Size,
        Control::Images,
        Control::Recipe,
        Control::Optimizer,
        Control::LearningRate,
        Control::Momentum,
        Control::WeightDecay,
        Control::Schedule,
        Control::Warmup,
        Control::Epochs,
        Control::BatchSize,
        Control::Augment,
        Control::LabelSmoothing,
        Control::Seed,
        Control::Backend,
        Control::Sweep,
    ];

    /// Its name in a link and in the page's element ids.
    pub fn id(self) -> &'static str {
        match self {
            Control::Model => "model",
            Control::Size => "size",
            Control::Images => "images",
            Control::Recipe => "recipe",
            Control::Optimizer => "optimizer",
            Control::LearningRate => "learning-rate",
            Control::Momentum => "momentum",
            Control::WeightDecay => "weight-decay",
            Control::Schedule => "schedule",
            Control::Warmup => "warmup",
            Control::Epochs => "epochs",
            Control::BatchSize => "batch-size",
            Control::Augment => "augment",
            Control::LabelSmoothing => "label-smoothing",
            Control::Seed => "seed",
            Control::Backend => "backend",
            Control::Sweep => "sweep",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Control::Model => "Model",
            Control::Size => "Image size",
            Control::Images => "Image counts",
            Control::Recipe => "Recipe",
            Control::Optimizer => "Optimizer",
            Control::LearningRate => "Learning rate",
            Control::Momentum => "Momentum",
            Control::WeightDecay => "Weight decay",
            Control::Schedule => "Schedule",
            Control::Warmup => "Warm-up",
            Control::Epochs => "Epochs",
            Control::BatchSize => "Batch size",
            Control::Augment => "Augmentation",
            Control::LabelSmoothing => "Label smoothing",
            Control::Seed => "Seed",
            Control::Backend => "Backend",
            Control::Sweep => "Sweep",
        }
    }
}

/// How a lesson leaves a control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Open,
    Locked,
    Hidden,
}

/// What a lesson loads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Plan {
    Setup(Setup),
    Sweep(Sweep),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub title: String,
    /// Where the question comes from ("d2l 8.2 (VGG), exercise 1"); empty for a teacher's own.
    #[serde(default)]
    pub source: String,
    pub question: String,
    /// What to read in the results once the runs are done.
    #[serde(default)]
    pub look: String,
    pub plan: Plan,
    #[serde(default)]
    pub locked: Vec<Control>,
    #[serde(default)]
    pub hidden: Vec<Control>,
}

impl Lesson {
    /// What is wrong with a lesson a link brought, in a sentence.
    pub fn check(&self) -> Result<(), String> {
        if self.title.trim().is_empty() || self.question.trim().is_empty() {
            return Err("a lesson needs a title and a question".into());
        }
        let texts =
            [("title", &self.title), ("source", &self.source), ("question", &self.question), ("note", &self.look)];
        for (what, text) in texts {
            if text.chars().count() > MAX_TEXT {
                return Err(format!("the lesson's {what} is longer than {MAX_TEXT} characters"));
            }
        }
        match &self.plan {
            Plan::Setup(_) => Ok(()),
            Plan::Sweep(sweep) => sweep.check(),
        }
    }

    /// Whether the learner may change `control`: hidden wins over locked.
    pub fn access(&self, control: Control) -> Access {
        if self.hidden.contains(&control) {
            Access::Hidden
        } else if self.locked.contains(&control) {
            Access::Locked
        } else {
            Access::Open
        }
    }

    /// The setup it opens the form with: its own, or its sweep's base.
    pub fn setup(&self) -> &Setup {
        match &self.plan {
            Plan::Setup(setup) => setup,
            Plan::Sweep(sweep) => &sweep.base,
        }
    }
}

/// A setup for `model` at `size` px with the quick recipe, small enough to train in a minute or
/// two on a laptop's CPU: `train` training images, a thousand test images, `epochs` epochs.
fn small(model: &str, size: usize, train: usize, epochs: usize) -> Setup {
    let spec = ModelSpec::preset(model).unwrap_or_else(|| cnn_models::PRESETS[0].spec());
    let form = Form { size: size.to_string(), ..Form::default() }.with_recipe(Recipe::Quick, Some(&spec));
    let form = Form {
        train_images: train.to_string(),
        test_images: "1000".into(),
        epochs: epochs.to_string(),
        backend: "auto".into(),
        ..form
    };
    Setup { spec: spec_text::format(&spec), form }
}

fn sweep(base: Setup, setting: Setting, values: &[&str]) -> Plan {
    let axis = Axis { setting, values: values.iter().map(|v| v.to_string()).collect() };
    Plan::Sweep(Sweep { base, axes: vec![axis] })
}

fn lesson(title: &str, source: &str, question: &str, look: &str, plan: Plan, locked: &[Control]) -> Lesson {
    let (title, source, question, look) = (title.into(), source.into(), question.into(), look.into());
    Lesson { title, source, question, look, plan, locked: locked.to_vec(), hidden: vec![] }
}

/// The chapter's exercises that a few short runs answer, each by an id the page's menu and its
/// address use. Every one is a sweep of one setting with the others locked, so that the table
/// compares like with like.
pub fn chapter() -> Vec<(&'static str, Lesson)> {
    use Control::{Model, Size};
    let models =
        |names: &[&str], size, train, epochs| sweep(small(names[0], size, train, epochs), Setting::Model, names);
    vec![
        (
            "alexnet-vgg-cost",
            lesson(
                "AlexNet against VGG-11: what they cost",
                "d2l 8.2 (VGG), exercise 1",
                "Compare the parameters of AlexNet and VGG-11 at 224 px, and the computation (multiply-adds) of their \
             convolutional and fully connected layers. Where does each network spend its parameters, and where its \
             computation?",
                "The table fills in before anything trains: parameters, their share in the fully connected layers, and \
             multiply-adds with their share in the convolutions. No need to train (a step at 224 px takes seconds).",
                models(&["alexnet", "vgg11"], 224, 1000, 1),
                &[Model, Size],
            ),
        ),
        (
            "vgg-deeper",
            lesson(
                "VGG-16 and VGG-19 from the paper's table",
                "d2l 8.2 (VGG), exercise 3",
                "Build VGG-16 and VGG-19 from Table 1 of the VGG paper. What do the extra convolutions cost against \
             VGG-11, in parameters and in computation?",
                "Compare the rows: the parameters hardly grow (the extra layers are 3x3 convolutions), the multiply-adds \
             do. The model view shows each one's layers.",
                models(&["vgg11", "vgg16", "vgg19"], 224, 1000, 1),
                &[Model, Size],
            ),
        ),
        (
            "vgg-image-size",
            lesson(
                "VGG at smaller images",
                "d2l 8.2 (VGG), exercise 4",
                "Upsampling Fashion-MNIST from 28 to 224 px is wasteful. Train the book's narrow VGG-11 at 32, 56, 84 \
             and 96 px: what does each size cost in time, and what does it give in accuracy? (Below 32 px, VGG's five \
             halvings leave nothing to pool.)",
                "Read the time per epoch against the accuracy: time grows with the square of the size, accuracy much \
             less.",
                sweep(small("vgg11-r4", 56, 3000, 1), Setting::Size, &["32", "56", "84", "96"]),
                &[Model],
            ),
        ),
        (
            "resnet-vgg",
            lesson(
                "ResNet against VGG for the same budget",
                "d2l 8.6 (ResNet)",
                "Train a small ResNet and the narrow VGG-11 on the same images for the same epochs. Which learns more, \
             and which is faster per epoch?",
                "Compare the best test accuracy with the time per epoch and the multiply-adds: the chart against MACs \
             shows what each network gets for its computation.",
                models(&["vgg11-r4", "resnet-small"], 56, 3000, 2),
                &[Model, Size],
            ),
        ),
        (
            "regnet-stages",
            lesson(
                "RegNetX with four stages",
                "d2l 8.8 (Designing CNN architectures), exercise 1",
                "Increase RegNetX's stages from three to four (depths and widths growing). Does the deeper network do \
             better, and what does it cost?",
                "Compare accuracy, parameters and time per epoch of the two rows.",
                models(&["regnetx32", "anynet-4stage"], 56, 3000, 2),
                &[Model, Size],
            ),
        ),
        (
            "anynet-resnet-blocks",
            lesson(
                "AnyNet with ResNet blocks",
                "d2l 8.8 (Designing CNN architectures), exercise 2",
                "Replace RegNetX's ResNeXt blocks (grouped convolutions) by plain ResNet blocks. How does the network \
             do?",
                "Compare accuracy with parameters and MACs: grouped convolutions save computation.",
                models(&["regnetx32", "anynet-resnet"], 56, 3000, 2),
                &[Model, Size],
            ),
        ),
        (
            "vionet",
            lesson(
                "VioNets: breaking RegNetX's rules",
                "d2l 8.8 (Designing CNN architectures), exercise 3",
                "Three networks each violate one of RegNetX's design principles: widths that narrow, stages that get \
             shallower, and parameters not shared across stages. How do they do, and which principle matters most?",
                "Compare each VioNet's row with RegNetX's, the first: accuracy, parameters and time per epoch.",
                models(&["regnetx32", "vionet-narrowing", "vionet-shallowing", "vionet-unshared"], 56, 3000, 2),
                &[Model, Size],
            ),
        ),
        (
            "recipes",
            lesson(
                "Plain SGD, Adam and a modern recipe",
                "d2l 8.6 (ResNet), with the recipes of chapter 12",
                "Train one small ResNet with the book's plain SGD, with Adam, and with the modern recipe (Nesterov \
             momentum, warm-up, cosine schedule, crops, flips, label smoothing), for the same epochs. Which learns \
             fastest here, and which would you trust for longer runs?",
                "Compare the test accuracy after each epoch (tick the runs to overlay their curves).",
                sweep(small("resnet-small", 28, 5000, 2), Setting::Recipe, &["d2l", "quick", "modern"]),
                &[Model, Size, Control::Epochs],
            ),
        ),
        (
            "seeds",
            lesson(
                "How much is luck?",
                "",
                "Train the same network three times with different seeds. How far apart are the accuracies, and what \
             does that say about a difference of half a point between two architectures?",
                "The spread of the three rows is the noise floor of every comparison in these lessons.",
                sweep(small("resnet-small", 28, 3000, 1), Setting::Seed, &["1", "2", "3"]),
                &[Model, Size],
            ),
        ),
    ]
}

/// The chapter's lesson `id`.
pub fn find(id: &str) -> Option<Lesson> {
    chapter().into_iter().find(|(i, _)| *i == id).map(|(_, l)| l)
}

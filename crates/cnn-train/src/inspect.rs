//! What a trained network gets right and wrong on the test images: every image's class
//! probabilities, the confusion matrix with the accuracy of each class, and the mistakes the
//! network was surest of.

use cnn_data::{CLASS_NAMES, Dataset};
use serde::{Deserialize, Serialize};

use crate::run::with_weights;
use crate::{Checkpoint, OpenedDevice, TrainError};

/// Fashion-MNIST's classes.
pub const CLASSES: usize = CLASS_NAMES.len();

/// Every test image's true class and predicted probabilities, in the data set's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictions {
    pub labels: Vec<usize>,
    /// [`CLASSES`] probabilities for each image, image after image.
    pub probabilities: Vec<f32>,
}

/// A wrong prediction: which image, its class, the class predicted and with what probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mistake {
    pub image: usize,
    pub label: usize,
    pub predicted: usize,
    pub probability: f32,
}

impl Predictions {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i`'s probabilities, one per class.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.probabilities[i * CLASSES..(i + 1) * CLASSES]
    }

    /// The class image `i` is given, and its probability.
    pub fn predicted(&self, i: usize) -> (usize, f32) {
        most_likely(self.row(i))
    }

    pub fn confusion(&self) -> Confusion {
        Confusion::from_pairs((0..self.len()).map(|i| (self.labels[i], self.predicted(i).0)))
    }

    /// The `n` wrong predictions made with the highest probability, highest first.
    pub fn mistakes(&self, n: usize) -> Vec<Mistake> {
        let mut wrong: Vec<Mistake> = (0..self.len())
            .filter_map(|image| {
                let (predicted, probability) = self.predicted(image);
                let label = self.labels[image];
                (predicted != label).then_some(Mistake { image, label, predicted, probability })
            })
            .collect();
        wrong.sort_by(|a, b| b.probability.total_cmp(&a.probability).then(a.image.cmp(&b.image)));
        wrong.truncate(n);
        wrong
    }
}

/// The most probable class of one image's `probabilities` and its probability (the first of
/// equals, as argmax).
pub(crate) fn most_likely(probabilities: &[f32]) -> (usize, f32) {
    let first = (0, probabilities[0]);
    probabilities.iter().enumerate().fold(first, |best, (c, &p)| if p > best.1 { (c, p) } else { best })
}

/// How many images of each true class (rows) went to each predicted class (columns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub counts: [[usize; CLASSES]; CLASSES],
}

impl Confusion {
    /// From (true class, predicted class) pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut confusion = Confusion::default();
        for (label, predicted) in pairs {
            confusion.counts[label][predicted] += 1;
        }
        confusion
    }

    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    pub fn correct(&self) -> usize {
        (0..CLASSES).map(|c| self.counts[c][c]).sum()
    }

    pub fn accuracy(&self) -> f32 {
        self.correct() as f32 / self.total().max(1) as f32
    }

    /// The test images of class `c`.
    pub fn class_count(&self, c: usize) -> usize {
        self.counts[c].iter().sum()
    }

    /// The share of each class's images predicted as that class; none for a class without images.
    pub fn class_accuracy(&self) -> [Option<f32>; CLASSES] {
        std::array::from_fn(|c| {
            let n = self.class_count(c);
            (n > 0).then(|| self.counts[c][c] as f32 / n as f32)
        })
    }

    /// The matrix as a table for a terminal: counts, each row's share of its class in brackets.
    pub fn table(&self) -> String {
        let mut out =
            format!("{:<12}{}\n", "true \\ pred", (0..CLASSES).map(|c| format!("{c:>12}")).collect::<String>());
        for (label, row) in self.counts.iter().enumerate() {
            let n = self.class_count(label).max(1) as f32;
            let cells: String = row.iter().map(|&k| format!("{:>6} ({:>3.0}%)", k, 100.0 * k as f32 / n)).collect();
            out.push_str(&format!("{:<12}{cells}\n", format!("{label} {}", short(CLASS_NAMES[label]))));
        }
        out
    }
}

/// The accuracy of each class, the confusion matrix and the ten surest mistakes, for a terminal.
pub fn report(predictions: &Predictions) -> String {
    let confusion = predictions.confusion();
    let mut out = String::from("\nclass          images  accuracy\n");
    for (c, accuracy) in confusion.class_accuracy().iter().enumerate() {
        let accuracy = accuracy.map_or("–".into(), |a| format!("{:.3}", a));
        out.push_str(&format!("{c} {:<12} {:>6}  {accuracy:>8}\n", CLASS_NAMES[c], confusion.class_count(c)));
    }
    out.push_str(&format!("\nconfusion matrix (rows: true class, columns: predicted)\n{}", confusion.table()));
    out.push_str("\nsurest mistakes\nimage  true          predicted     probability\n");
    for m in predictions.mistakes(10) {
        out.push_str(&format!(
            "{:>5}  {:<12}  {:<12}  {:.3}\n",
            m.image, CLASS_NAMES[m.label], CLASS_NAMES[m.predicted], m.probability
        ));
    }
    out
}

/// A class name cut to fit a column.
fn short(name: &str) -> &str {
    name.get(..9).unwrap_or(name)
}

/// The class probabilities the checkpoint's model gives every image of `test`, at its settings'
/// image size and batch size (its weights only, as [`crate::evaluate`]).
pub async fn predict(
    checkpoint: &Checkpoint,
    test: &Dataset,
    backend: &OpenedDevice,
) -> Result<Predictions, TrainError> {
    let (trainer, plan, resized) = with_weights(checkpoint, test, backend)?;
    let test = resized.as_ref().unwrap_or(test);
    let order: Vec<usize> = (0..test.len()).collect();
    let batches: Vec<_> = plan.chunks(&order).into_iter().map(|ix| plan.batch(test, &ix)).collect();
    let labels = batches.iter().flat_map(|b| b.labels.iter().map(|&l| l as usize)).collect();
    let probabilities = trainer.probabilities(batches).await?;
    Ok(Predictions { labels, probabilities })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six images: class 0 right twice, class 1 right once and taken for 0 once, class 2 taken
    /// for 1 with 0.9 and for 0 with 0.5.
    fn predictions() -> Predictions {
        let mut probabilities = Vec::new();
        for (class, p) in [(0, 0.8), (0, 0.6), (1, 0.7), (0, 0.55), (1, 0.9), (0, 0.5)] {
            let mut row = [(1.0 - p) / (CLASSES - 1) as f32; CLASSES];
            row[class] = p;
            probabilities.extend(row);
        }
        Predictions { labels: vec![0, 0, 1, 1, 2, 2], probabilities }
    }

    #[test]
    fn the_confusion_matrix_of_known_predictions() {
        let confusion = predictions().confusion();
        let mut want = [[0; CLASSES]; CLASSES];
        (want[0][0], want[1][1], want[1][0], want[2][1], want[2][0]) = (2, 1, 1, 1, 1);
        assert_eq!(confusion.counts, want);
        assert_eq!((confusion.total(), confusion.correct()), (6, 3));
        let accuracy = confusion.class_accuracy();
        assert_eq!(accuracy[..4], [Some(1.0), Some(0.5), Some(0.0), None]);
    }

    #[test]
    fn class_accuracies_weighted_by_class_counts_give_the_overall_accuracy() {
        let confusion = predictions().confusion();
        let weighted: f32 = (0..CLASSES)
            .filter_map(|c| confusion.class_accuracy()[c].map(|a| a * confusion.class_count(c) as f32))
            .sum::<f32>()
            / confusion.total() as f32;
        assert!((weighted - confusion.accuracy()).abs() < 1e-6);
        assert_eq!(confusion.accuracy(), 0.5);
    }

    #[test]
    fn the_surest_mistakes_come_first() {
        let mistakes = predictions().mistakes(5);
        let seen: Vec<_> = mistakes.iter().map(|m| (m.image, m.label, m.predicted)).collect();
        assert_eq!(seen, [(4, 2, 1), (3, 1, 0), (5, 2, 0)]);
        assert_eq!(mistakes[0].probability, 0.9);
    }
}

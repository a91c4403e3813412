//! A sweep's results as its table, chart and CSV show them: one row per run, with what the model
//! table says before anything trains and what the run's epochs measured.

use cnn_models::Analysis;

use crate::sweep::Sweep;

/// One run of a sweep.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The run's values, in the sweep's axes' order.
    pub values: Vec<String>,
    /// "queued", "training", "finished", "stopped" or why it failed.
    pub state: String,
    pub params: Option<usize>,
    /// The share of the parameters in fully connected layers.
    pub dense_share: Option<f64>,
    /// Multiply-adds per example, forward.
    pub macs: Option<u64>,
    /// The share of the multiply-adds in convolutions.
    pub conv_share: Option<f64>,
    /// Bytes to train at the run's batch size, as the model table estimates them.
    pub memory: Option<u64>,
    pub epochs: usize,
    pub final_accuracy: Option<f32>,
    pub best_accuracy: Option<f32>,
    pub seconds_per_epoch: Option<f64>,
}

impl Outcome {
    /// A run's row before it trains: the model table's figures at its size and batch size.
    pub fn planned(values: Vec<String>, analysis: Option<&Analysis>, batch: usize) -> Outcome {
        let totals = analysis.map(Analysis::totals);
        let share = |part: f64, whole: f64| (whole > 0.0).then(|| part / whole);
        Outcome {
            values,
            state: "queued".into(),
            params: totals.as_ref().map(|t| t.params()),
            dense_share: totals.as_ref().and_then(|t| share(t.dense_params as f64, t.params() as f64)),
            macs: totals.as_ref().map(|t| t.macs()),
            conv_share: totals.as_ref().and_then(|t| share(t.conv_macs as f64, t.macs() as f64)),
            memory: analysis.map(|a| a.training_memory(batch)),
            ..Outcome::default()
        }
    }
}

/// The rows as CSV, one line per run under a header that names the sweep's settings.
pub fn csv(sweep: &Sweep, rows: &[Outcome]) -> String {
    let mut header: Vec<String> = sweep.axes.iter().map(|a| a.setting.id().to_string()).collect();
    header.extend(
        [
            "state",
            "parameters",
            "dense_share",
            "macs",
            "conv_share",
            "training_memory_bytes",
            "epochs",
            "final_test_accuracy",
            "best_test_accuracy",
            "seconds_per_epoch",
        ]
        .map(String::from),
    );
    let mut out = line(&header);
    for row in rows {
        let mut cells = row.values.clone();
        let text = |v: Option<String>| v.unwrap_or_default();
        cells.extend([
            row.state.clone(),
            text(row.params.map(|p| p.to_string())),
            text(row.dense_share.map(|s| format!("{s:.4}"))),
            text(row.macs.map(|m| m.to_string())),
            text(row.conv_share.map(|s| format!("{s:.4}"))),
            text(row.memory.map(|m| m.to_string())),
            row.epochs.to_string(),
            text(row.final_accuracy.map(|a| format!("{a:.4}"))),
            text(row.best_accuracy.map(|a| format!("{a:.4}"))),
            text(row.seconds_per_epoch.map(|s| format!("{s:.2}"))),
        ]);
        out.push_str(&line(&cells));
    }
    out
}

/// One CSV line: cells with a comma, a quote or a line break quoted, their quotes doubled.
fn line(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| if c.contains([',', '"', '\n', '\r']) { format!("\"{}\"", c.replace('"', "\"\"")) } else { c.clone() })
        .collect();
    format!("{}\n", quoted.join(","))
}

//! Two models side by side: the chapter's "VGG against AlexNet" table, with a ratio per row.

use crate::Analysis;
use crate::graph::OpKind;

#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub what: &'static str,
    pub left: u64,
    pub right: u64,
    /// Whether the values are bytes, for display.
    pub bytes: bool,
}

impl CompareRow {
    /// `left / right`; none where `right` is zero.
    pub fn ratio(&self) -> Option<f64> {
        (self.right != 0).then(|| self.left as f64 / self.right as f64)
    }
}

/// The figures both tables share, left against right, with training memory at `batch`.
pub fn compare(left: &Analysis, right: &Analysis, batch: usize) -> Vec<CompareRow> {
    let figures = |a: &Analysis| {
        let t = a.totals();
        let count = |kind: OpKind| a.rows.iter().filter(|r| r.kind == kind).count() as u64;
        [
            count(OpKind::Conv),
            count(OpKind::Linear),
            t.conv_params as u64,
            t.dense_params as u64,
            t.params() as u64,
            t.conv_macs,
            t.dense_macs,
            t.macs(),
            t.activations,
            a.training_memory(batch),
        ]
    };
    const WHAT: [(&str, bool); 10] = [
        ("convolutional layers", false),
        ("linear layers", false),
        ("conv parameters", false),
        ("linear parameters", false),
        ("parameters", false),
        ("conv MACs", false),
        ("linear MACs", false),
        ("MACs", false),
        ("activations per example", false),
        ("training memory", true),
    ];
    let (l, r) = (figures(left), figures(right));
    WHAT.iter()
        .zip(l.into_iter().zip(r))
        .map(|(&(what, bytes), (left, right))| CompareRow { what, left, right, bytes })
        .collect()
}

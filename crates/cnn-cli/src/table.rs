//! Plain-text tables for the terminal.

use std::fmt::Write;

use cnn_models::analysis::BYTES;
use cnn_models::compare::CompareRow;
use cnn_models::units::{bytes, si, thousands};
use cnn_models::{Analysis, InputSpec, PRESETS};

fn shape([c, h, w]: [usize; 3]) -> String {
    if h == 1 && w == 1 { format!("{c}") } else { format!("{c}x{h}x{w}") }
}

pub fn summary(name: &str, a: &Analysis, blocks: bool, batch: usize) -> String {
    let mut out = String::new();
    let i = a.input;
    let _ = writeln!(out, "{name} ({}), input {}x{}x{}, {} classes", a.family, i.channels, i.size, i.size, i.classes);
    let _ = writeln!(
        out,
        "{:<44} {:<40} {:>12} {:>13} {:>16} {:>11}",
        "layer", "does", "output", "params", "MACs", "activations"
    );
    let rows = if blocks { a.blocks() } else { a.rows.clone() };
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<44} {:<40} {:>12} {:>13} {:>16} {:>11}",
            format!("{}{}", "  ".repeat(r.depth), r.name.rsplit(" / ").next().unwrap_or(&r.name)),
            if blocks { String::new() } else { r.op.clone() },
            shape(r.shape),
            thousands(r.params as u64),
            thousands(r.macs),
            bytes(BYTES * r.activations),
        );
    }
    let t = a.totals();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "parameters: {} conv + {} linear = {} ({})",
        thousands(t.conv_params as u64),
        thousands(t.dense_params as u64),
        thousands(t.params() as u64),
        bytes(BYTES * t.params() as u64)
    );
    let _ = writeln!(
        out,
        "MACs per example: {} conv + {} linear = {} ({}MAC)",
        thousands(t.conv_macs),
        thousands(t.dense_macs),
        thousands(t.macs()),
        si(t.macs())
    );
    let _ = writeln!(out, "activations per example: {}", bytes(BYTES * t.activations));
    let _ = writeln!(
        out,
        "training memory at batch {batch} (weights, gradients, activations): about {}",
        bytes(a.training_memory(batch))
    );
    out
}

pub fn comparison(left: &str, right: &str, rows: &[CompareRow], batch: usize) -> String {
    let mut out = String::new();
    let ratio = format!("{left} / {right}");
    let _ = writeln!(out, "{:<26} {:>18} {:>18} {:>12}", "", left, right, ratio);
    for r in rows {
        let show = |v: u64| if r.bytes { bytes(v) } else { thousands(v) };
        let what = if r.bytes { format!("{} (batch {batch})", r.what) } else { r.what.to_string() };
        let ratio = r.ratio().map_or_else(|| "-".into(), |x| format!("{x:.2}"));
        let _ = writeln!(out, "{:<26} {:>18} {:>18} {:>12}", what, show(r.left), show(r.right), ratio);
    }
    out
}

/// Every preset at its own input size on one-channel images with 10 classes.
pub fn presets() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<18} {:>6} {:>13} {:>16}  what", "preset", "input", "parameters", "MACs");
    for p in PRESETS {
        let figures = p.spec().analyze(InputSpec::fashion_mnist(p.size)).map(|a| a.totals());
        let (params, macs) = match figures {
            Ok(t) => (thousands(t.params() as u64), thousands(t.macs())),
            Err(e) => (e.to_string(), String::new()),
        };
        let _ = writeln!(out, "{:<18} {:>6} {:>13} {:>16}  {}", p.name, format!("{}px", p.size), params, macs, p.about);
    }
    out
}

//! The spec as the learner edits it: JSON laid out like d2l's tuples, one block per line.

use cnn_models::{Analysis, InputSpec, ModelSpec};
use serde_json::Value;

/// Objects one key per line; arrays of arrays or objects one element per line; anything else on
/// one line. serde_json's pretty printer puts every number of `[[1, 64], [1, 128]]` on its own line.
pub fn format(spec: &ModelSpec) -> String {
    let value = serde_json::to_value(spec).unwrap_or(Value::Null);
    let mut out = String::new();
    write(&value, 0, &mut out);
    out
}

fn write(value: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent + 1);
    match value {
        Value::Object(map) => {
            out.push_str("{\n");
            for (i, (key, v)) in map.iter().enumerate() {
                out.push_str(&format!("{pad}{}: ", Value::String(key.clone())));
                write(v, indent + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}}}", "  ".repeat(indent)));
        }
        Value::Array(items) if items.iter().any(|v| v.is_array() || v.is_object()) => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&format!("{pad}{}", compact(v)));
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}]", "  ".repeat(indent)));
        }
        other => out.push_str(&compact(other)),
    }
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default().replace(',', ", ").replace(':', ": ")
}

/// The spec in `text`, or a sentence saying where it is wrong.
pub fn parse(text: &str) -> Result<ModelSpec, String> {
    serde_json::from_str(text).map_err(|e| format!("the spec is not a model: {e}"))
}

/// The table of `spec` at `size` pixels of Fashion-MNIST, or the sentence saying why there is none.
pub fn analyze(spec: &Result<ModelSpec, String>, size: &str) -> Result<Analysis, String> {
    let spec = spec.as_ref().map_err(Clone::clone)?;
    let size: usize = size.trim().parse().map_err(|_| format!("the image size must be a number, got {size:?}"))?;
    spec.analyze(InputSpec::fashion_mnist(size)).map_err(|e| e.to_string())
}

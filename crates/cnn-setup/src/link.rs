//! The whole setup (the spec as typed and the training form) in the page's address, compressed
//! with lz-string as code playgrounds do, so that a link a teacher sends opens the same exercise.

use serde::{Deserialize, Serialize};

use crate::Form;

const PREFIX: &str = "#setup=";

/// The longest packed setup a link may carry. lz-string's output can grow with the square of its
/// input, so a long crafted fragment could hold a tab for minutes; the page's own setups (a
/// spec of a few kilobytes and the form) pack to well under this.
pub const MAX_PACKED: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// The spec as the editor holds it, valid or not.
    pub spec: String,
    pub form: Form,
}

/// The address fragment that carries `setup`.
pub fn fragment(setup: &Setup) -> String {
    // A struct of strings and a bool: serialising it cannot fail.
    let json = serde_json::to_string(setup).unwrap_or_default();
    format!("{PREFIX}{}", lz_str::compress_to_encoded_uri_component(json.as_str()))
}

/// The setup an address fragment carries: none where it carries none, or the sentence that says
/// why it cannot be read.
pub fn read(fragment: &str) -> Option<Result<Setup, String>> {
    let packed = fragment.strip_prefix(PREFIX)?;
    if packed.len() > MAX_PACKED {
        return Some(Err(format!(
            "The link's setup is {} characters long, more than the {MAX_PACKED} this page reads (its own \
             links are far shorter), so the page opens with its defaults.",
            packed.len()
        )));
    }
    let json = lz_str::decompress_from_encoded_uri_component(packed)
        .and_then(|wide| String::from_utf16(&wide).ok())
        .filter(|json| !json.is_empty());
    Some(match json {
        None => Err("The link's setup cannot be read (it was cut short or changed), so the page opens with its \
                     defaults."
            .into()),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            format!("The link's setup is not one this page reads ({e}), so the page opens with its defaults.")
        }),
    })
}

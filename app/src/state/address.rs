//! What the page's address brought when it opened: a setup, a sweep or a lesson, or the sentence
//! that says why it could not be opened.

use cnn_setup::link::{self, Linked};

pub fn opened() -> Option<Result<Linked, String>> {
    let hash = web_sys::window()?.location().hash().ok()?;
    link::read_any(&hash)
}

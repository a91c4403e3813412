//! A run's setup as the page holds it before any tensor exists: the spec as the learner typed it
//! ([`spec_text`]), the training form's fields as typed ([`form`]), and both in a link's address
//! ([`link`]). Everything here reads text a learner or a stranger's link wrote, so it builds and
//! is fuzzed natively (tests/hostile_setups.rs): each input is a setup or a sentence, quickly.

pub mod form;
pub mod link;
pub mod spec_text;

pub use form::{Form, RunRequest};
pub use link::Setup;

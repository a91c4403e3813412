//! A run's setup as the page holds it before any tensor exists: the spec as the learner typed it
//! ([`spec_text`]), the training form's fields as typed ([`form`]), sweeps of one or two of its
//! settings ([`sweep`], their results in [`outcome`]), the chapter's lessons and a teacher's own
//! ([`lesson`]), and all of them in a link's address ([`link`]); the spec and the form together
//! are a [`Setup`]. Everything here reads text a learner or a stranger's link wrote, so it builds
//! and is fuzzed natively (tests/hostile_setups.rs, tests/sweeps.rs): each input is a setup or a
//! sentence, quickly.

pub mod form;
pub mod lesson;
pub mod link;
pub mod outcome;
pub mod setup;
pub mod spec_text;
pub mod sweep;

pub use form::{Form, RunRequest};
pub use setup::Setup;

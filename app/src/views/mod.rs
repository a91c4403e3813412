//! How the page looks: each view lays out state from [`crate::state`] and calls its methods or
//! the callbacks it is given. A view keeps no state beyond a field being typed, and does no
//! tensor math: the numbers come from `cnn-models` and the workers.

pub mod charts;
pub mod explain;
pub mod form;
pub mod inspect;
pub mod legend;
pub mod lessons;
pub mod model;
pub mod pictures;
pub mod progress;
pub mod runs;
pub mod sweep;
pub mod train;

//! A whole setup: the spec as the editor holds it and the training form, as a link, a sweep's
//! base and a lesson carry them.

use serde::{Deserialize, Serialize};

use crate::Form;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// The spec as the editor holds it, valid or not.
    pub spec: String,
    pub form: Form,
}

//! The browser's training worker, in two builds that run the same loop ([`worker::run`]):
//! - `trainer` (a binary of the `app` crate, built by trunk with the page): WebGPU, and the CPU
//!   on one thread;
//! - `trainer-threads` (built by `dev/build-threads.sh`): the CPU on every core, for pages that
//!   are cross-origin isolated (shared memory needs it), without WebGPU.
//!
//! The page and the workers speak the JSON messages of [`protocol`].

pub mod data;
pub mod protocol;
pub mod requests;
pub mod store;
pub mod worker;

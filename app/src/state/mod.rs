//! What the page holds, apart from how it is shown. Data flows one way: the workers' messages
//! reach the [`session`], which moves the rest; the views read them and call their methods.
//! - [`setup`]: the spec and the training form being edited, kept and carried by the address;
//! - [`live`]: the run in progress ([`live::Phase`], status, figures, progress);
//! - [`runs`]: the runs list; [`run`]: one run as stored; [`tabs`]: what other tabs say;
//! - [`inspector`]: inside a trained run;
//! - [`sweeps`]: the sweep being written and the one queued (`sweeping` trains it);
//! - [`lessons`]: the lesson open; [`address`]: what the page's address brought;
//! - [`session`]: the workers, the commands (train, resume, upload, pause, stop, inspect) and,
//!   in `messages`, where each worker message goes.

pub mod address;
pub mod inspector;
pub mod lessons;
pub mod live;
mod messages;
pub mod run;
pub mod runs;
pub mod session;
pub mod setup;
mod sweeping;
pub mod sweeps;
pub mod tabs;
mod upload;

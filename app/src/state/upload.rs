//! A checkpoint file the learner uploads: read and checked on the page (a malformed one goes no
//! further), stored, then evaluated by a worker, which loads its weights into its model; only
//! then is it listed as a run.

use cnn_train::Checkpoint;
use cnn_worker::protocol::ToWorker;
use leptos::prelude::*;

use super::run::Run;
use super::session::{Session, Upload};
use crate::files;

/// Said of an uploaded checkpoint without a checksum.
const UNVERIFIED: &str =
    " It has no checksum (it was written before checkpoints had one), so it could not be checked for damage.";

impl Session {
    /// Reads, checks and stores `file`, and asks a worker to evaluate it.
    pub fn upload(self, file: web_sys::File) {
        let Some(len) = self.live.data_len.get_untracked() else { return };
        let runs = self.runs;
        let name = file.name();
        runs.uploaded.set(Some(format!("Reading “{name}”…")));
        leptos::task::spawn_local(async move {
            let refuse =
                |why: String| runs.uploaded.set(Some(format!("“{name}” cannot be used: {why}. Nothing was changed.")));
            let bytes = match files::read(&file).await {
                Ok(bytes) => bytes,
                Err(why) => return refuse(why),
            };
            let checkpoint = match Checkpoint::from_bytes(&bytes) {
                Ok(checkpoint) => checkpoint,
                Err(why) => return refuse(why.to_string()),
            };
            let id = js_sys::Date::now() as u64;
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(stem, _)| stem);
            let run = Run::uploaded(id, format!("{stem} (uploaded)"), &checkpoint, len);
            let stored = js_sys::Uint8Array::from(bytes.as_slice());
            if let Err(why) = cnn_worker::store::put(cnn_worker::store::CHECKPOINTS, id, &stored).await {
                return refuse(format!("it cannot be stored ({why})"));
            }
            let test_images = run.images.1.min(len.1);
            runs.uploaded.set(Some(format!("Evaluating “{name}” on {test_images} test images…")));
            self.uploading.set_value(Some(Upload { run, file: name.clone(), verified: checkpoint.verified }));
            // On the CPU's threads where they are ready, else in the main worker.
            let backend = self.setup.measuring();
            self.send_for(backend, &ToWorker::Evaluate { run: id, test_images, backend });
        });
    }

    /// The worker's evaluation of the upload stored as `run`: listed, or refused with its sentence.
    pub(super) fn evaluated(self, run: u64, result: Result<(f32, f32, usize), String>) {
        let runs = self.runs;
        let Some(Upload { run: uploaded, file, verified }) = self.uploading.try_update_value(Option::take).flatten()
        else {
            return;
        };
        if uploaded.id != run {
            return;
        }
        match result {
            Ok((loss, accuracy, images)) => {
                let unverified = if verified { "" } else { UNVERIFIED };
                runs.uploaded.set(Some(format!(
                    "“{file}” is listed as “{}”: test accuracy {:.1}%, loss {loss:.4}, on {images} test images.{unverified}",
                    uploaded.name,
                    accuracy * 100.0
                )));
                runs.add(uploaded);
            }
            Err(why) => {
                runs.uploaded.set(Some(format!("“{file}” cannot be used: {why}. Nothing was changed.")));
                // Its checkpoint was stored to be evaluated; no run names it.
                leptos::task::spawn_local(async move { drop(cnn_worker::store::delete(run).await) });
            }
        }
    }
}

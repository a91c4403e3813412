//! The session trains a sweep: queued from the form (after asking, above `ASK_ABOVE` runs), then
//! one run after another whenever the page is idle and ready, which includes after a reload (the
//! run a reload cut off goes on from its checkpoint). The learner's Stop stops the queue; Go on
//! takes it up again.

use cnn_setup::Setup;
use cnn_setup::sweep::{ASK_ABOVE, Sweep};
use leptos::prelude::*;

use super::session::Session;
use super::sweeps::{self, Next, Queued};

impl Session {
    /// Queues the sweep the form describes over the form's setup, asks first where it makes more
    /// than `ASK_ABOVE` runs, or says why it cannot start.
    pub fn sweep(self) {
        let Some(len) = self.live.data_len.get_untracked() else { return };
        let base = Setup { spec: self.setup.spec_text.get_untracked(), form: self.setup.form.get_untracked() };
        let sweep = self.sweeps.draft.with_untracked(|d| d.sweep(base)).and_then(|s| s.requests(len).map(|_| s));
        match sweep {
            Err(why) => self.sweeps.note.set(Some(format!("The sweep cannot start: {why}."))),
            Ok(sweep) if sweep.runs() > ASK_ABOVE => self.sweeps.asking.set(Some(sweep)),
            Ok(sweep) => self.queue(sweep),
        }
    }

    /// The learner's answer to "queue all these runs?".
    pub fn confirm_sweep(self, yes: bool) {
        let asked = self.sweeps.asking.try_update(Option::take).flatten();
        if let (true, Some(sweep)) = (yes, asked) {
            self.queue(sweep);
        }
    }

    /// Takes a stopped sweep up again: its cut-off run goes on, then the rest.
    pub fn go_on_sweep(self) {
        self.sweeps.note.set(None);
        self.sweeps.queued.update(|q| q.iter_mut().for_each(|q| q.stopped = false));
    }

    fn queue(self, sweep: Sweep) {
        let settings: Vec<&str> = sweep.axes.iter().map(|a| a.setting.label()).collect();
        let name = format!("Sweep of {}", settings.join(" and ").to_lowercase());
        let queued =
            Queued { id: js_sys::Date::now() as u64, name, runs: vec![None; sweep.runs()], sweep, stopped: false };
        self.sweeps.note.set(None);
        self.sweeps.queued.set(Some(queued));
    }

    /// Whenever nothing trains, the page is ready, the stored runs are read and a sweep waits:
    /// its next run.
    pub(super) fn keep_sweeping(self) {
        Effect::new(move |_| {
            let idle = !self.live.phase.get().running();
            let waiting = self.sweeps.queued.with(|q| q.as_ref().is_some_and(|q| !q.stopped));
            if idle && waiting && self.ready() && self.runs.loaded.get() {
                self.runs.list.track();
                untrack(|| self.sweep_next());
            }
        });
    }

    fn sweep_next(self) {
        let Some(queued) = self.sweeps.queued.get_untracked() else { return };
        match self.runs.list.with_untracked(|list| sweeps::next(&queued, list)) {
            Next::Busy => {}
            Next::Done => {
                self.sweeps.note.set(Some(format!("{} is done: {} runs.", queued.name, queued.runs.len())));
                self.sweeps.stop();
            }
            Next::Resume(id) => self.resume(id),
            Next::Start(i) => {
                let Some(len) = self.live.data_len.get_untracked() else { return };
                let point = queued.sweep.requests(len).and_then(|mut runs| {
                    (i < runs.len()).then(|| runs.swap_remove(i)).ok_or_else(|| "its runs changed".to_string())
                });
                match point {
                    Ok((point, run)) => {
                        let name = format!("Sweep · {}", point.label());
                        let id = self.runs.start_named(run.spec.clone(), run.images(), name);
                        self.sweeps.queued.update(|q| {
                            if let Some(slot) = q.as_mut().and_then(|q| q.runs.get_mut(i)) {
                                *slot = Some(id);
                            }
                        });
                        self.launch_on(run, false, point.setup.form.backend_kind());
                    }
                    Err(why) => {
                        self.sweeps.note.set(Some(format!("The sweep stopped: {why}.")));
                        self.sweeps.stop();
                    }
                }
            }
        }
    }
}

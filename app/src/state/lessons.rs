//! The lesson open in the page, if any: the chapter's, picked from the menu, or a teacher's, from
//! a link. It loads its setup (and sweep) once, shows its question above everything, and locks or
//! hides the controls it names; it stays open across reloads until the learner leaves it.

use cnn_setup::lesson::{Access, Control, Lesson, Plan};
use cnn_setup::link::{self, Linked};
use leptos::prelude::*;

use super::setup::Setup;
use super::sweeps::{Draft, Sweeps};
use crate::storage;

const KEY: &str = "cnn-playground.lesson";

/// The lesson this browser had open.
pub fn kept() -> Option<Lesson> {
    storage::load_json(KEY)
}

/// Whether the address brought `kept` again: the page reloaded with the lesson open, and keeps
/// what the learner changed since it opened rather than the lesson's setup.
pub fn reopened(linked: &Result<Linked, String>, kept: Option<&Lesson>) -> bool {
    matches!(linked, Ok(Linked::Lesson(lesson)) if Some(&**lesson) == kept)
}

#[derive(Clone, Copy)]
pub struct Lessons {
    pub open: RwSignal<Option<Lesson>>,
}

impl Lessons {
    /// A lesson a link brings; else none where a link brings something else; else `kept`.
    pub fn load(linked: Option<&Result<Linked, String>>, kept: Option<Lesson>) -> Self {
        let open = match linked {
            Some(Ok(Linked::Lesson(lesson))) => Some((**lesson).clone()),
            Some(_) => None,
            None => kept,
        };
        let open = RwSignal::new(open);
        Effect::new(move |_| open.with(|l| storage::save_json(KEY, l)));
        Lessons { open }
    }

    /// How the open lesson leaves `control` (open where there is none).
    pub fn access(self, control: Control) -> Access {
        self.open.with(|l| l.as_ref().map_or(Access::Open, |l| l.access(control)))
    }

    /// The open lesson's address, which the page keeps while it is open.
    pub fn fragment(self) -> Option<String> {
        self.open.with(|l| l.as_ref().map(link::lesson_fragment))
    }

    /// Opens `lesson`: its setup in the form, its sweep in the sweep's fields.
    pub fn start(self, lesson: Lesson, setup: Setup, sweeps: Sweeps) {
        let base = lesson.setup().clone();
        setup.spec_text.set(base.spec);
        setup.form.set(base.form);
        if let Plan::Sweep(sweep) = &lesson.plan {
            sweeps.draft.set(Draft::of(sweep));
        }
        sweeps.note.set(None);
        self.open.set(Some(lesson));
    }

    pub fn leave(self) {
        self.open.set(None);
    }
}

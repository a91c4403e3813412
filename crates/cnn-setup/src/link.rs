//! The whole setup (the spec as typed and the training form), a sweep or a lesson in the page's
//! address, compressed with lz-string as code playgrounds do, so that a link a teacher sends opens
//! the same exercise.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Setup;
use crate::lesson::Lesson;
use crate::sweep::Sweep;

const SETUP: &str = "#setup=";
const SWEEP: &str = "#sweep=";
const LESSON: &str = "#lesson=";

/// The longest packed setup a link may carry. lz-string's output can grow with the square of its
/// input, so a long crafted fragment could hold a tab for minutes; the page's own setups (a
/// spec of a few kilobytes and the form) pack to well under this.
pub const MAX_PACKED: usize = 16 * 1024;

/// What a link opens.
#[derive(Debug, Clone, PartialEq)]
pub enum Linked {
    Setup(Setup),
    Sweep(Sweep),
    Lesson(Box<Lesson>),
}

impl Linked {
    /// The sweep it brings: a sweep's own, or a lesson's.
    pub fn sweep(&self) -> Option<&Sweep> {
        match self {
            Linked::Sweep(sweep) => Some(sweep),
            Linked::Lesson(lesson) => match &lesson.plan {
                crate::lesson::Plan::Sweep(sweep) => Some(sweep),
                crate::lesson::Plan::Setup(_) => None,
            },
            Linked::Setup(_) => None,
        }
    }
}

/// The address fragment that carries `setup`.
pub fn fragment(setup: &Setup) -> String {
    pack(SETUP, setup)
}

/// The address fragment that carries `sweep`.
pub fn sweep_fragment(sweep: &Sweep) -> String {
    pack(SWEEP, sweep)
}

/// The address fragment that carries `lesson`.
pub fn lesson_fragment(lesson: &Lesson) -> String {
    pack(LESSON, lesson)
}

fn pack(prefix: &str, value: &impl Serialize) -> String {
    // Structs of strings, numbers and enums: serialising them cannot fail.
    let json = serde_json::to_string(value).unwrap_or_default();
    format!("{prefix}{}", lz_str::compress_to_encoded_uri_component(json.as_str()))
}

/// The setup an address fragment carries: none where it carries none, or the sentence that says
/// why it cannot be read.
pub fn read(fragment: &str) -> Option<Result<Setup, String>> {
    unpack(SETUP, fragment, "setup")
}

/// Whatever an address fragment carries (a setup, a sweep or a lesson), checked as far as it can
/// be without the data: a sweep's points and a lesson's plan are expanded, so a link that would
/// queue nonsense is a sentence before anything is shown.
pub fn read_any(fragment: &str) -> Option<Result<Linked, String>> {
    if let Some(setup) = read(fragment) {
        return Some(setup.map(Linked::Setup));
    }
    if let Some(sweep) = unpack::<Sweep>(SWEEP, fragment, "sweep") {
        return Some(sweep.and_then(|s| s.check().map_err(|why| refused("sweep", &why)).map(|()| Linked::Sweep(s))));
    }
    let lesson = unpack::<Lesson>(LESSON, fragment, "lesson")?;
    Some(lesson.and_then(|l| l.check().map_err(|why| refused("lesson", &why)).map(|()| Linked::Lesson(Box::new(l)))))
}

fn refused(what: &str, why: &str) -> String {
    format!("The link's {what} cannot be opened ({why}), so the page opens with its defaults.")
}

fn unpack<T: DeserializeOwned>(prefix: &str, fragment: &str, what: &str) -> Option<Result<T, String>> {
    let packed = fragment.strip_prefix(prefix)?;
    if packed.len() > MAX_PACKED {
        return Some(Err(format!(
            "The link's {what} is {} characters long, more than the {MAX_PACKED} this page reads (its own \
             links are far shorter), so the page opens with its defaults.",
            packed.len()
        )));
    }
    let json = lz_str::decompress_from_encoded_uri_component(packed)
        .and_then(|wide| String::from_utf16(&wide).ok())
        .filter(|json| !json.is_empty());
    Some(match json {
        None => Err(format!(
            "The link's {what} cannot be read (it was cut short or changed), so the page opens with its defaults."
        )),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            format!("The link's {what} is not one this page reads ({e}), so the page opens with its defaults.")
        }),
    })
}

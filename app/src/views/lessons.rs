//! Lessons on the page: the menu of the chapter's exercises, the open lesson's question above
//! everything, and a teacher's form that turns the current setup (or sweep) into a lesson link
//! with the controls they lock or hide.

use cnn_setup::lesson::{self, Access, Control, Lesson, Plan};
use cnn_setup::link;
use leptos::prelude::*;

use crate::state::lessons::Lessons;
use crate::state::setup::Setup;
use crate::state::sweeps::Sweeps;

/// The lessons menu and the open lesson's card.
#[component]
pub fn LessonView(lessons: Lessons, setup: Setup, sweeps: Sweeps) -> impl IntoView {
    let chapter = lesson::chapter();
    let pick = move |id: String| match lesson::find(&id) {
        Some(lesson) => lessons.start(lesson, setup, sweeps),
        None => lessons.leave(),
    };
    // The menu names the chapter's lesson that is open (none for a teacher's own).
    let current = move || {
        lessons.open.with(|open| {
            let open = open.as_ref()?;
            lesson::chapter().into_iter().find(|(_, l)| l == open).map(|(id, _)| id)
        })
    };
    view! {
        <div class="lessons">
            <label>"Lessons"
                <select id="lesson-choice" prop:value=move || current().unwrap_or("") on:change=move |ev| pick(event_target_value(&ev))>
                    <option value="">"(none: your own setup)"</option>
                    {chapter.iter().map(|(id, l)| view! { <option value=*id>{l.title.clone()}</option> }).collect_view()}
                </select>
            </label>
        </div>
        {move || lessons.open.get().map(|l| view! {
            <section id="lesson" class="lesson" aria-label="Lesson">
                <h2 id="lesson-title">{l.title.clone()}</h2>
                {(!l.source.is_empty()).then(|| view! { <p class="note" id="lesson-source">{l.source.clone()}</p> })}
                <p id="lesson-question" class="question">{l.question.clone()}</p>
                {(!l.look.is_empty()).then(|| view! { <p id="lesson-look">{l.look.clone()}</p> })}
                {(!l.locked.is_empty() || !l.hidden.is_empty()).then(|| view! {
                    <p class="note" id="lesson-locks">{locks(&l)}</p>
                })}
                <button id="lesson-leave" type="button" on:click=move |_| lessons.leave()>"Leave the lesson"</button>
            </section>
        })}
    }
}

/// What the lesson fixed, in a sentence.
fn locks(lesson: &Lesson) -> String {
    let names = |access| {
        let names: Vec<&str> =
            Control::ALL.into_iter().filter(|&c| lesson.access(c) == access).map(Control::label).collect();
        names.join(", ")
    };
    let (locked, hidden) = (names(Access::Locked), names(Access::Hidden));
    match (locked.is_empty(), hidden.is_empty()) {
        (false, false) => format!("This lesson fixes: {locked}; and hides: {hidden}."),
        (false, true) => format!("This lesson fixes: {locked}."),
        _ => format!("This lesson hides: {hidden}."),
    }
}

/// A teacher's lesson: a title, a question, a note, the setup or the sweep as the page holds
/// them now, and each control left open, locked or hidden; made into a link to send.
#[component]
pub fn TeachView(setup: Setup, sweeps: Sweeps) -> impl IntoView {
    let (title, question, look) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let with_sweep = RwSignal::new(false);
    let access = RwSignal::new(vec![Access::Open; Control::ALL.len()]);
    let made = RwSignal::new(None::<Result<String, String>>);
    let make = move |_| {
        let base = cnn_setup::Setup { spec: setup.spec_text.get_untracked(), form: setup.form.get_untracked() };
        let plan = if with_sweep.get_untracked() {
            sweeps.draft.with_untracked(|d| d.sweep(base)).map(Plan::Sweep)
        } else {
            Ok(Plan::Setup(base))
        };
        let chosen = |want| {
            access.with_untracked(|a| {
                Control::ALL.into_iter().zip(a).filter(|(_, a)| **a == want).map(|(c, _)| c).collect()
            })
        };
        let lesson = plan.and_then(|plan| {
            let lesson = Lesson {
                title: title.get_untracked(),
                source: String::new(),
                question: question.get_untracked(),
                look: look.get_untracked(),
                plan,
                locked: chosen(Access::Locked),
                hidden: chosen(Access::Hidden),
            };
            lesson.check().map(|()| lesson)
        });
        made.set(Some(
            lesson.map(|l| address(&link::lesson_fragment(&l))).map_err(|why| format!("No link yet: {why}.")),
        ));
    };
    let pick = move |i: usize, value: String| {
        let chosen = match value.as_str() {
            "locked" => Access::Locked,
            "hidden" => Access::Hidden,
            _ => Access::Open,
        };
        access.update(|a| a[i] = chosen);
    };
    view! {
        <details id="teach" class="teach">
            <summary>"Write a lesson (for teachers)"</summary>
            <p class="note">"The lesson opens with the setup the page holds now (or its sweep), shows your question first, and leaves the learner only the controls you leave open."</p>
            <div class="controls">
                <label>"Title"<input id="teach-title" prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev)) /></label>
                <label>"Question"<textarea id="teach-question" rows="3" prop:value=move || question.get() on:input=move |ev| question.set(event_target_value(&ev))></textarea></label>
                <label>"What to look at"<textarea id="teach-look" rows="2" prop:value=move || look.get() on:input=move |ev| look.set(event_target_value(&ev))></textarea></label>
                <label class="check"><input id="teach-with-sweep" type="checkbox" on:change=move |ev| with_sweep.set(event_target_checked(&ev)) />"with the sweep as set below"</label>
            </div>
            <div class="controls teach-access">
                {Control::ALL.into_iter().enumerate().map(|(i, c)| view! {
                    <label>{c.label()}
                        <select id=format!("teach-{}", c.id()) on:change=move |ev| pick(i, event_target_value(&ev))>
                            <option value="open">"open"</option>
                            <option value="locked">"locked"</option>
                            <option value="hidden">"hidden"</option>
                        </select>
                    </label>
                }).collect_view()}
            </div>
            <button id="teach-make" type="button" on:click=make>"Make the link"</button>
            {move || made.get().map(|m| match m {
                Ok(url) => view! { <input id="teach-link" readonly prop:value=url /> }.into_any(),
                Err(why) => view! { <p id="teach-error" class="error">{why}</p> }.into_any(),
            })}
        </details>
    }
}

/// This page's address with `fragment`.
pub fn address(fragment: &str) -> String {
    let location = web_sys::window().map(|w| w.location());
    let here = location.and_then(|l| Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?))).unwrap_or_default();
    format!("{here}{fragment}")
}

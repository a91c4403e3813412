//! The page: the lessons, the model view, the training form and its run, the sweep, the charts,
//! the runs list and the inspection of a trained run. It only wires the [`state`](crate::state)
//! to the [`views`](crate::views): what each shows, and which command each button calls.

use leptos::prelude::*;

use crate::state::address;
use crate::state::lessons::{self, Lessons};
use crate::state::live::Live;
use crate::state::runs::Runs;
use crate::state::session::Session;
use crate::state::setup::Setup;
use crate::state::sweeps::{Draft, Sweeps};
use crate::views::inspect::InspectView;
use crate::views::lessons::{LessonView, TeachView};
use crate::views::model::ModelView;
use crate::views::runs::RunsView;
use crate::views::sweep::SweepView;
use crate::views::train::TrainView;
use crate::workers::has_webgpu;

#[component]
pub fn App() -> impl IntoView {
    let kept = lessons::kept();
    // A reload of an open lesson keeps what the learner changed since it opened.
    let linked = address::opened().filter(|l| !lessons::reopened(l, kept.as_ref()));
    let lessons = Lessons::load(linked.as_ref(), kept);
    provide_context(lessons);
    let setup = Setup::load(linked.as_ref(), Signal::derive(move || lessons.fragment()));
    let sweeps = Sweeps::load(
        linked.as_ref().and_then(|l| l.as_ref().ok()).and_then(cnn_setup::link::Linked::sweep).map(Draft::of),
    );
    let live = Live::new(has_webgpu());
    let runs = Runs::load();
    let session = Session::new(setup, live, runs, sweeps);
    session.start();

    let form = setup.form;
    let on_preset = Callback::new(move |size: usize| form.update(|f| f.size = size.to_string()));
    let batch = Signal::derive(move || form.with(|f| f.batch_size.clone()));
    let busy = Signal::derive(move || live.phase.get().running());
    let ready = Signal::derive(move || session.ready());
    let can_sweep = Signal::derive(move || live.data_len.get().is_some() && !busy.get());
    let inspector = session.inspector;
    view! {
        <h1>"CNN playground"</h1>
        <p class="lede">"The networks of d2l's “Modern CNNs” chapter: read their layers, change them, and train them on the real Fashion-MNIST, in your browser, on your GPU through WebGPU."</p>
        <LessonView lessons setup sweeps />
        <ModelView spec_text=setup.spec_text analysis=setup.analysis batch on_preset />
        <TrainView live setup runs
            train=Callback::new(move |()| session.train())
            pause=Callback::new(move |()| session.pause())
            stop=Callback::new(move |()| session.stop()) />
        <SweepView sweeps runs can_start=can_sweep
            sweep=Callback::new(move |()| session.sweep())
            confirm=Callback::new(move |yes| session.confirm_sweep(yes))
            go_on=Callback::new(move |()| session.go_on_sweep())
            stop=Callback::new(move |()| { sweeps.stop(); session.stop() }) />
        <RunsView runs busy ready
            resume=Callback::new(move |id| session.resume(id))
            export=Callback::new(move |id| session.export(id))
            upload=Callback::new(move |file| session.upload(file))
            inspect=Callback::new(move |id| session.inspect(id)) />
        <InspectView inspector />
        <TeachView setup sweeps />
    }
}

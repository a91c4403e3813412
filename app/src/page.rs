//! The page: the model view, the training form and its run, the charts, the runs list and the
//! inspection of a trained run. It only wires the [`state`](crate::state) to the
//! [`views`](crate::views): what each shows, and which command each button calls.

use leptos::prelude::*;

use crate::state::live::Live;
use crate::state::runs::Runs;
use crate::state::session::Session;
use crate::state::setup::Setup;
use crate::views::inspect::InspectView;
use crate::views::model::ModelView;
use crate::views::runs::RunsView;
use crate::views::train::TrainView;
use crate::workers::has_webgpu;

#[component]
pub fn App() -> impl IntoView {
    let setup = Setup::load();
    let live = Live::new(has_webgpu());
    let runs = Runs::load();
    let session = Session::new(setup, live, runs);
    session.start();

    let form = setup.form;
    let on_preset = Callback::new(move |size: usize| form.update(|f| f.size = size.to_string()));
    let batch = Signal::derive(move || form.with(|f| f.batch_size.clone()));
    let busy = Signal::derive(move || live.phase.get().running());
    let ready = Signal::derive(move || session.ready());
    let inspector = session.inspector;
    view! {
        <h1>"CNN playground"</h1>
        <p class="lede">"The networks of d2l's “Modern CNNs” chapter: read their layers, change them, and train them on the real Fashion-MNIST, in your browser, on your GPU through WebGPU."</p>
        <ModelView spec_text=setup.spec_text analysis=setup.analysis batch on_preset />
        <TrainView live setup runs
            train=Callback::new(move |()| session.train())
            pause=Callback::new(move |()| session.pause())
            stop=Callback::new(move |()| session.stop()) />
        <RunsView runs busy ready
            resume=Callback::new(move |id| session.resume(id))
            export=Callback::new(move |id| session.export(id))
            upload=Callback::new(move |file| session.upload(file))
            inspect=Callback::new(move |id| session.inspect(id)) />
        <InspectView inspector />
    }
}

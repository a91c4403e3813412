//! The training worker (the `trainer` binary), in a dedicated worker, so that CPU training never
//! blocks the page (WebGPU is available in workers too).

use std::cell::RefCell;
use std::rc::Rc;

use cnn_data::{Dataset, Split};
use cnn_train::bench::{choose, measure};
use cnn_train::{Backend, BackendKind, Cancel, train};
// Not leptos's spawn_local: its executor is set up by mounting a page, and a worker mounts none.
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::spawn_local;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::data;
use crate::protocol::{FromWorker, ToWorker, decode, encode};

#[derive(Default)]
struct State {
    data: Option<Rc<(Dataset, Dataset)>>,
    cancel: Cancel,
}

fn post(scope: &DedicatedWorkerGlobalScope, message: &FromWorker) {
    // Posting a string to the page fails only if the page is gone; nothing is left to tell then.
    let _ = scope.post_message(&encode(message).into());
}

pub fn run() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let state = Rc::new(RefCell::new(State::default()));

    let on_message = {
        let (scope, state) = (scope.clone(), state.clone());
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = state.borrow().data.clone();
            match (decode::<ToWorker>(&event.data()), data) {
                (Some(ToWorker::Cancel), _) => state.borrow().cancel.cancel(),
                (Some(ToWorker::Train { spec, backend, train_images, test_images }), Some(data)) => {
                    let cancel = Cancel::default();
                    state.borrow_mut().cancel = cancel.clone();
                    let scope = scope.clone();
                    spawn_local(async move {
                        let result = async {
                            let (train_set, test_set) = &*data;
                            let (train_set, test_set) = (train_set.head(train_images), test_set.head(test_images));
                            let (backend, why) = match backend {
                                BackendKind::Auto => {
                                    let (backend, why) =
                                        choose(&spec.model, spec.image_size, spec.batch_size, &train_set).await?;
                                    (backend, Some(why))
                                }
                                kind => (Backend::open(kind).await?, None),
                            };
                            post(&scope, &FromWorker::Backend { label: backend.label.clone(), why });
                            train(&spec, &train_set, &test_set, &backend.device, &cancel, |e| {
                                post(&scope, &FromWorker::Event(e))
                            })
                            .await
                        }
                        .await;
                        post(
                            &scope,
                            &match result {
                                Ok(_) => FromWorker::Finished,
                                Err(e) => FromWorker::Failed(e.to_string()),
                            },
                        );
                    });
                }
                (Some(ToWorker::Bench { model, trial, backend }), Some(data)) => {
                    let scope = scope.clone();
                    spawn_local(async move {
                        let result = async {
                            let backend = Backend::open(backend).await?;
                            let speed = measure(&model, trial, &data.0, &backend.device).await?;
                            Ok::<_, cnn_train::TrainError>(FromWorker::Speed { backend: backend.label, speed })
                        }
                        .await;
                        post(&scope, &result.unwrap_or_else(|e| FromWorker::Failed(e.to_string())));
                    });
                }
                (Some(_), None) => post(&scope, &FromWorker::Failed("the data is not loaded yet".into())),
                (None, _) => {
                    post(&scope, &FromWorker::Failed("the worker got a message it does not understand".into()))
                }
            }
        })
    };
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker does.
    on_message.forget();

    spawn_local(async move {
        let loaded = async { Ok::<_, String>((data::load(Split::Train).await?, data::load(Split::Test).await?)) }.await;
        match loaded {
            Ok((train_set, test_set)) => {
                post(&scope, &FromWorker::Loaded { train_images: train_set.len(), test_images: test_set.len() });
                state.borrow_mut().data = Some(Rc::new((train_set, test_set)));
            }
            Err(message) => post(&scope, &FromWorker::LoadFailed(message)),
        }
    });
}

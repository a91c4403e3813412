//! The page's other tabs on the same stored runs. IndexedDB is shared by every tab of the site,
//! but each tab keeps its own list: without a word between them, a second tab would show a run
//! another tab trains as stopped (a tab that closes mid-run leaves it so) and offer to resume or
//! delete it under the tab training it. A `BroadcastChannel` carries what changed.

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{BroadcastChannel, MessageEvent};

const CHANNEL: &str = "cnn-playground-runs";

/// What a tab tells the others.
#[derive(Debug, Serialize, Deserialize)]
pub enum Said {
    /// A tab opened: the others store what they train again, which tells it.
    Opened,
    /// A run's record as it was just stored (its JSON, as in IndexedDB).
    Stored(String),
    Deleted(u64),
}

/// This tab's end of the channel; none where the browser has no `BroadcastChannel`.
#[derive(Clone)]
pub struct Tabs(Option<BroadcastChannel>);

impl Tabs {
    /// Opens the channel; `heard` gets what the other tabs say (never what this one says).
    pub fn open(mut heard: impl FnMut(Said) + 'static) -> Self {
        let Ok(channel) = BroadcastChannel::new(CHANNEL) else { return Tabs(None) };
        let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // Only another tab of this site posts here; a page of another version may say what
            // this one cannot read, and is not answered.
            if let Some(said) = event.data().as_string().and_then(|json| serde_json::from_str(&json).ok()) {
                heard(said);
            }
        });
        channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
        // It lives as long as the page does.
        handler.forget();
        Tabs(Some(channel))
    }

    pub fn say(&self, said: &Said) {
        let (Some(channel), Ok(json)) = (&self.0, serde_json::to_string(said)) else { return };
        // Posting fails only on a closed channel, which this page never closes.
        let _ = channel.post_message(&json.into());
    }
}

//! What the learner typed survives a reload, in `localStorage`.

fn local_storage() -> Option<web_sys::Storage> {
    // Reading `localStorage` throws where storage is off (some private modes): then nothing is kept.
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// Best effort: a full or disabled storage loses the copy, never the page's state.
pub fn save(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

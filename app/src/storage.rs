//! What the learner typed survives a reload, in `localStorage`.

fn local_storage() -> Option<web_sys::Storage> {
    // Reading `localStorage` throws where storage is off (some private modes): then nothing is kept.
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// What `key` holds read as a `T`; none where it holds nothing or something else (a kept value
/// from an older page that no longer reads).
pub fn load_json<T: serde::de::DeserializeOwned>(key: &str) -> Option<T> {
    load(key).and_then(|json| serde_json::from_str(&json).ok())
}

/// Keeps `value` as JSON (best effort, as [`save`]).
pub fn save_json(key: &str, value: &impl serde::Serialize) {
    // The page's own types of strings, numbers and enums: serialising them cannot fail.
    save(key, &serde_json::to_string(value).unwrap_or_default());
}

/// Best effort: a full or disabled storage loses the copy, never the page's state.
pub fn save(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

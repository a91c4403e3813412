//! The browser's stored runs: one IndexedDB database (through `idb`), shared by the page, which
//! keeps each run's record, and the training worker, which keeps each run's latest checkpoint
//! under the same key. Its layout lives here so that both open it alike.

use idb::{Database, ObjectStore, TransactionMode, TransactionResult};
use wasm_bindgen::JsValue;

/// Run records (JSON strings), keyed by the run's id.
pub const RUNS: &str = "runs";
/// The latest checkpoint of each run (bytes), keyed by the run's id.
pub const CHECKPOINTS: &str = "checkpoints";
const DATABASE: &str = "cnn-playground";
/// Raised whenever a store is added; opening at a higher version adds what is missing.
const LAYOUT: u32 = 2;

fn sentence(error: idb::Error) -> String {
    format!("the browser's storage refused it ({error})")
}

async fn open() -> Result<Database, String> {
    let stores = [RUNS, CHECKPOINTS].map(ObjectStore::builder);
    let builder = stores.into_iter().fold(Database::builder(DATABASE).version(LAYOUT), |b, s| b.add_object_store(s));
    builder.build().await.map_err(sentence)
}

fn key(id: u64) -> JsValue {
    JsValue::from_f64(id as f64)
}

/// Waits for `tx` to finish. Not `commit()`: a transaction whose requests have all answered
/// commits on its own once the event loop turns, and committing it again throws.
async fn committed(tx: idb::Transaction) -> Result<(), String> {
    match tx.await.map_err(sentence)? {
        TransactionResult::Committed => Ok(()),
        TransactionResult::Aborted => Err("the browser's storage did not keep it (the write was aborted)".into()),
    }
}

/// Runs `work` on a connection of its own, closed after it: idb's `Database` does not close on
/// drop, so every read and write left a connection open for the life of the tab or worker (the
/// page stores its run at every epoch, the worker its checkpoint).
async fn with_database<T>(work: impl AsyncFnOnce(&Database) -> Result<T, String>) -> Result<T, String> {
    let db = open().await?;
    let done = work(&db).await;
    db.close();
    done
}

/// Writes `value` under `id` in `store`, over what was there. A full quota is an error here.
pub async fn put(store: &str, id: u64, value: &JsValue) -> Result<(), String> {
    with_database(async |db| {
        let tx = db.transaction(&[store], TransactionMode::ReadWrite).map_err(sentence)?;
        let request = tx.object_store(store).map_err(sentence)?.put(value, Some(&key(id))).map_err(sentence)?;
        request.await.map_err(sentence)?;
        committed(tx).await
    })
    .await
}

pub async fn get(store: &str, id: u64) -> Result<Option<JsValue>, String> {
    with_database(async |db| {
        let tx = db.transaction(&[store], TransactionMode::ReadOnly).map_err(sentence)?;
        tx.object_store(store).map_err(sentence)?.get(key(id)).map_err(sentence)?.await.map_err(sentence)
    })
    .await
}

pub async fn get_all(store: &str) -> Result<Vec<JsValue>, String> {
    with_database(async |db| {
        let tx = db.transaction(&[store], TransactionMode::ReadOnly).map_err(sentence)?;
        tx.object_store(store).map_err(sentence)?.get_all(None, None).map_err(sentence)?.await.map_err(sentence)
    })
    .await
}

/// Removes `id` from every store: a run and its checkpoint go together.
pub async fn delete(id: u64) -> Result<(), String> {
    with_database(async |db| {
        let tx = db.transaction(&[RUNS, CHECKPOINTS], TransactionMode::ReadWrite).map_err(sentence)?;
        for store in [RUNS, CHECKPOINTS] {
            tx.object_store(store).map_err(sentence)?.delete(key(id)).map_err(sentence)?.await.map_err(sentence)?;
        }
        committed(tx).await
    })
    .await
}

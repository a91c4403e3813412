use cnn_data::{Dataset, Split};

/// Where `trunk` puts the Debian files (copied from `public/data/`).
const BASE: &str = "data/fashion-mnist";

async fn fetch(name: &str) -> Result<Vec<u8>, String> {
    let url = format!("{BASE}/{name}");
    let response = gloo_net::http::Request::get(&url).send().await.map_err(|e| format!("cannot fetch {url}: {e}"))?;
    if !response.ok() {
        return Err(format!(
            "cannot fetch {url}: the server answered {} {}",
            response.status(),
            response.status_text()
        ));
    }
    response.binary().await.map_err(|e| format!("cannot read {url}: {e}"))
}

pub async fn load(split: Split) -> Result<Dataset, String> {
    let images = fetch(&split.images_file()).await?;
    let labels = fetch(&split.labels_file()).await?;
    Dataset::from_gz(split, &images, &labels).map_err(|e| e.to_string())
}

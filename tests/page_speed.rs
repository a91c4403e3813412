//! Examples per second of VGG-small at 56 pixels, batch 32, as the page reports them, on WebGPU
//! and on the CPU backend: `cargo bench -p e2e` (after `trunk build --release`).

#[path = "support.rs"]
mod support;

use support::{browser, click, dist, serve, set_field, text, wait_for};

#[tokio::main]
async fn main() {
    let images: usize = std::env::var("BENCH_IMAGES").ok().and_then(|n| n.parse().ok()).unwrap_or(320);
    let port = serve(dist());
    let (client, _driver) = browser().await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.expect("open the page");
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    set_field(&client, "train-images", &images.to_string()).await;
    set_field(&client, "size", "56").await;
    set_field(&client, "batch-size", "32").await;
    for backend in ["webgpu", "cpu"] {
        client
            .execute(
                "const e = document.getElementById('backend-choice'); e.value = arguments[0]; \
                 e.dispatchEvent(new Event('change', { bubbles: true }));",
                vec![backend.into()],
            )
            .await
            .expect("choose a backend");
        click(&client, "train").await;
        wait_for(&client, "status", 3600, |s| s == "Done." || s == "Training stopped.").await;
        let speed = text(&client, "speed").await;
        let label = text(&client, "backend").await;
        println!("vgg-small, 56 px, batch 32, {images} images on {label}: {speed}");
    }
    client.close().await.expect("close the browser");
}

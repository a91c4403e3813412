//! Examples per second of VGG-11/4 (the page's default spec, `vgg11-r4`) at 56 pixels, batch 32,
//! as the page reports them after ten training steps, on WebGPU and on the CPU backend:
//! `cargo bench -p e2e` (after the trunk build).

#[path = "support.rs"]
mod support;

use support::{browser, choose_backend, click, dist, serve, set_field, text, wait_for};

#[tokio::main]
async fn main() {
    let steps: usize = std::env::var("BENCH_STEPS").ok().and_then(|n| n.parse().ok()).unwrap_or(10);
    let port = serve(dist());
    let (client, _driver) = browser().await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.expect("open the page");
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    set_field(&client, "size", "56").await;
    set_field(&client, "batch-size", "32").await;
    set_field(&client, "train-images", &(32 * (steps + 1)).to_string()).await;
    for backend in ["webgpu", "cpu"] {
        choose_backend(&client, backend).await;
        click(&client, "train").await;
        let marker = format!("step {steps} of");
        wait_for(&client, "status", 3600, |s| s.contains(&marker)).await;
        let (speed, label) = (text(&client, "speed").await, text(&client, "backend").await);
        println!("vgg11-r4, 56 px, batch 32, first {steps} steps, on {label}: {speed}");
        click(&client, "cancel").await;
        wait_for(&client, "status", 600, |s| s == "Cancelled.").await;
    }
    client.close().await.expect("close the browser");
}

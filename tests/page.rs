//! The built site (`trunk build --release` -> `dist/`) served on localhost and driven in headless
//! Chromium through chromedriver, as a learner would use it.

mod support;

use support::{browser, click, dist, serve, set_field, text, wait_for};

#[tokio::test(flavor = "multi_thread")]
async fn training_on_the_page_shows_a_changing_loss_on_webgpu() {
    let dist = dist();
    assert!(dist.join("index.html").exists(), "no {}: run `trunk build --release` first", dist.display());
    let port = serve(dist);
    let (client, _driver) = browser().await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.expect("open the page");

    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    assert_eq!(text(&client, "status").await, "Ready: 60000 training and 10000 test images.");

    // Bad input: VGG-small cannot take 28-pixel images, and the page says why instead of failing.
    set_field(&client, "size", "28").await;
    click(&client, "train").await;
    let error = wait_for(&client, "error", 10, |e| !e.is_empty()).await;
    assert!(error.contains("max-pool of VGG block 5 gets a 1x1 map"), "{error}");

    set_field(&client, "size", "56").await;
    set_field(&client, "train-images", "256").await;
    click(&client, "train").await;
    let first = wait_for(&client, "loss", 300, |l| l.parse::<f32>().is_ok()).await;
    let backend = text(&client, "backend").await;
    assert!(backend.starts_with("WebGPU"), "the page should train on WebGPU, shows {backend:?}");
    let later = wait_for(&client, "loss", 300, |l| l != first).await;
    assert!(later.parse::<f32>().is_ok_and(f32::is_finite), "loss {first} became {later:?}");
    assert_eq!(text(&client, "error").await, "");
    client.close().await.expect("close the browser");
}

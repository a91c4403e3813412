//! The built site (`trunk build --release` -> `dist/`) served on localhost and driven in headless
//! Chromium through chromedriver, as a learner would use it.

mod support;

use std::time::{Duration, Instant};

use support::{browser, choose_backend, click, dist, serve, set_field, text, wait_for};

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
    click(&client, "cancel").await;
    wait_for(&client, "status", 120, |s| s == "Cancelled.").await;

    // Heavy steps on the CPU backend run in the worker: the page answers at once all the while.
    choose_backend(&client, "cpu").await;
    set_field(&client, "size", "84").await;
    set_field(&client, "batch-size", "64").await;
    click(&client, "train").await;
    wait_for(&client, "status", 120, |s| s.contains("step 1 of")).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..15 {
        let asked = Instant::now();
        client.execute("return document.getElementById('status').textContent", vec![]).await.expect("run a script");
        slowest = slowest.max(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text(&client, "backend").await.starts_with("CPU"));
    assert!(slowest < Duration::from_millis(500), "the page took {slowest:?} to answer while training");
    click(&client, "cancel").await;
    wait_for(&client, "status", 120, |s| s == "Cancelled.").await;
    client.close().await.expect("close the browser");
}

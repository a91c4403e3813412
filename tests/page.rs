//! The built site (`trunk build --release` -> `dist/`) served on localhost and driven in headless
//! Chromium through chromedriver, as a learner would use it.

mod support;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use support::{
    browser, choose, choose_backend, click, css_text, dist, screenshots, serve, set_field, text, value, wait_for,
};

#[tokio::test(flavor = "multi_thread")]
async fn training_on_the_page_shows_a_changing_loss_on_webgpu() {
    let dist = dist();
    assert!(dist.join("index.html").exists(), "no {}: run `trunk build --release` first", dist.display());
    let port = serve(dist);
    let (client, _driver) = browser().await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.expect("open the page");

    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    assert_eq!(text(&client, "status").await, "Ready: 60000 training and 10000 test images.");
    // Every id names one element, and the preset menu names the spec that is loaded.
    let ids = "const ids = [...document.querySelectorAll('[id]')].map(e => e.id); \
               return ids.filter((id, i) => ids.indexOf(id) !== i);";
    let repeated = client.execute(ids, vec![]).await.expect("list the ids");
    assert_eq!(repeated, serde_json::json!([]), "ids used twice");
    assert_eq!(value(&client, "model").await, "resnet-small");
    screenshots(&client, "model", "model").await;

    // Bad input: VGG-11/4 cannot take 28-pixel images, and the page says why instead of failing.
    choose(&client, "model", "vgg11-r4").await;
    assert_eq!(value(&client, "model").await, "vgg11-r4");
    set_field(&client, "size", "28").await;
    click(&client, "train").await;
    let error = wait_for(&client, "error", 10, |e| !e.is_empty()).await;
    assert!(error.starts_with("block 5 / max-pool (max-pool 2x2/2 pad 0) gets a 1x1 map"), "{error}");

    set_field(&client, "size", "56").await;
    set_field(&client, "train-images", "256").await;
    choose_backend(&client, "webgpu").await;
    click(&client, "train").await;
    let first = wait_for(&client, "loss", 300, |l| l.parse::<f32>().is_ok()).await;
    let backend = text(&client, "backend").await;
    assert!(backend.starts_with("WebGPU"), "the page should train on WebGPU, shows {backend:?}");
    let later = wait_for(&client, "loss", 300, |l| l != first).await;
    assert!(later.parse::<f32>().is_ok_and(f32::is_finite), "loss {first} became {later:?}");
    assert_eq!(text(&client, "error").await, "");
    click(&client, "cancel").await;
    wait_for(&client, "status", 120, |s| s == "Cancelled.").await;

    // Bad input: a batch the CPU's 3 GiB in a browser tab cannot hold is refused before it runs.
    choose_backend(&client, "cpu").await;
    set_field(&client, "batch-size", "4096").await;
    click(&client, "train").await;
    let error = wait_for(&client, "error", 60, |e| !e.is_empty()).await;
    let refused = "cannot hold this run: a batch of 4096 needs about 4.429 GiB to train";
    assert!(error.starts_with("CPU (burn flex)") && error.contains(refused), "{error}");
    assert_eq!(text(&client, "status").await, "Training stopped.");

    // Heavy steps on the CPU backend run in the worker: the page answers at once all the while.
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

/// The model view: a preset's table and totals, a comparison, live errors while editing, the
/// edited spec kept across a reload, and training exactly that spec.
#[tokio::test(flavor = "multi_thread")]
async fn the_model_view_reads_edits_keeps_and_trains_a_spec() {
    let port = serve(dist());
    let (client, _driver) = browser().await;
    let page = format!("http://127.0.0.1:{port}/");
    let navigated = Instant::now();
    client.goto(&page).await.expect("open the page");
    // The page's own small binary shows the model view while the trainer's is still loading.
    wait_for(&client, "total-params", 60, |t| t.starts_with(|c: char| c.is_ascii_digit())).await;
    let usable = navigated.elapsed();
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    println!(
        "model view usable {usable:.2?} after navigation; data and trainer ready {:.2?} after",
        navigated.elapsed()
    );

    // VGG-11 on one-channel 224-pixel images: the paper's configuration A, 10 classes.
    choose(&client, "model", "vgg11").await;
    assert_eq!(value(&client, "size").await, "224");
    wait_for(&client, "total-params", 10, |t| t == "128,806,154").await;
    assert_eq!(text(&client, "split-params").await, "9,219,328 / 119,586,826");
    assert_eq!(text(&client, "total-macs").await, "7,547,232,256");
    let rows = client.find_all(Locator::Css("#layers tbody tr")).await.expect("rows").len();
    assert_eq!(rows, 9, "5 VGG blocks, flatten, 2 fc blocks, output");
    click(&client, "every-layer").await;
    let layers = wait_for(&client, "layers", 10, |t| t.contains("conv 3x3 pad 1, 512 channels")).await;
    assert!(layers.contains("max-pool 2x2/2 pad 0"), "{layers}");

    // Against AlexNet: 7,427,653,632 / 895,113,600 conv MACs.
    choose(&client, "compare-with", "alexnet").await;
    let comparison = wait_for(&client, "comparison", 10, |t| t.contains("conv MACs")).await;
    for figure in ["7,427,653,632", "895,113,600", "8.30×"] {
        assert!(comparison.contains(figure), "{figure} in {comparison}");
    }

    // Editing: bad JSON, then a group width that does not divide the bottleneck, each as a sentence.
    set_field(&client, "spec", "{\"kind\": \"vgg\", \"arch\": [[1, 8]").await;
    let error = wait_for(&client, "spec-error", 10, |e| !e.is_empty()).await;
    assert!(error.starts_with("the spec is not a model: EOF while parsing"), "{error}");
    let bad = r#"{"kind": "anynet", "stem_channels": 16, "stages": [[2, 48, 32, 1.0]]}"#;
    set_field(&client, "spec", bad).await;
    set_field(&client, "size", "28").await;
    let error = wait_for(&client, "spec-error", 10, |e| e.contains("stage 1")).await;
    assert_eq!(
        error,
        "stage 1 / block 1 has a bottleneck of 48 channels, which groups of 32 cannot split evenly: pick a group width that divides it"
    );
    click(&client, "train").await;
    assert_eq!(wait_for(&client, "error", 10, |e| !e.is_empty()).await, error);

    // A valid edit updates the table; it and the size survive a reload.
    let tiny = r#"{"kind": "vgg", "arch": [[1, 8], [1, 16]], "head_width": 32, "dropout": 0.0}"#;
    set_field(&client, "spec", tiny).await;
    // 1*8*9+8 + 8*16*9+16 + 784*32+32 + 32*32+32 + 32*10+10
    wait_for(&client, "total-params", 10, |t| t == "27,754").await;
    client.refresh().await.expect("reload");
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    assert_eq!(value(&client, "spec").await, tiny);
    assert_eq!(value(&client, "size").await, "28");

    // Train exactly that spec with the backend left on Auto: the only WebGPU adapter here is
    // SwiftShader, so the CPU trains and the page says why. The server sends the isolation
    // headers, so the threaded worker trains, with one thread per logical core once it is ready;
    // the worker reports the same parameter count, and 40 steps lower the test loss from ln 10.
    let cores = client.execute("return navigator.hardwareConcurrency", vec![]).await.expect("read the cores");
    let cores = cores.as_u64().expect("a core count").to_string();
    wait_for(&client, "cpu-threads", 120, |t| t == cores).await;
    assert_eq!(text(&client, "threads-note").await, "", "the page is isolated, so no sentence about one thread");
    // d2l's recipe for a network that is no preset: plain SGD at VGG's rate, batch 128, 10 epochs.
    choose(&client, "recipe", "d2l").await;
    for (field, want) in
        [("recipe", "d2l"), ("optimizer", "sgd"), ("learning-rate", "0.05"), ("batch-size", "128"), ("epochs", "10")]
    {
        assert_eq!(value(&client, field).await, want, "{field} after choosing d2l's recipe");
    }
    for (field, value) in [("train-images", "320"), ("test-images", "160"), ("batch-size", "16"), ("epochs", "2")] {
        set_field(&client, field, value).await;
    }
    assert_eq!(value(&client, "recipe").await, "", "edited settings are no longer d2l's recipe");
    click(&client, "train").await;
    wait_for(&client, "status", 180, |s| s == "Done.").await;
    let label =
        if cores == "1" { "CPU (burn flex)".to_string() } else { format!("CPU (burn flex) on {cores} threads") };
    assert_eq!(text(&client, "backend").await, label);
    assert_eq!(
        text(&client, "backend-why").await,
        "The only GPU here is a software adapter, far slower than the CPU, so the CPU trains."
    );
    let last =
        client.find(Locator::Css("#epoch-table tbody tr:last-child td:nth-child(4)")).await.expect("epoch 2's row");
    let test_loss: f32 = last.text().await.expect("its test loss").parse().expect("a number");
    assert!(test_loss < 0.9 * 10f32.ln(), "after 2 epochs of 20 steps the test loss is {test_loss}");
    assert_eq!(text(&client, "run-params").await, "27,754");
    assert_eq!(text(&client, "error").await, "");

    // The run is kept: after a reload it is listed as finished with its best test accuracy, and
    // Show brings back its two epochs. A new name and a deletion are kept as well.
    let first = "#runs tbody tr:first-child";
    let best = css_text(&client, &format!("{first} td.best")).await;
    assert!(best.ends_with('%'), "best test accuracy {best:?}");
    assert_eq!(css_text(&client, &format!("{first} td.state")).await, "finished, 2 epochs");
    client.refresh().await.expect("reload");
    wait_for(&client, "runs", 60, |t| !t.is_empty()).await;
    assert_eq!(css_text(&client, &format!("{first} td.state")).await, "finished, 2 epochs");
    assert_eq!(css_text(&client, &format!("{first} td.best")).await, best);
    assert_eq!(client.find_all(Locator::Css("#epoch-table tbody tr")).await.expect("rows").len(), 0);
    client.find(Locator::Css(&format!("{first} button.show"))).await.expect("Show").click().await.expect("a click");
    assert_eq!(client.find_all(Locator::Css("#epoch-table tbody tr")).await.expect("rows").len(), 2);
    screenshots(&client, "runs", "status").await;
    let rename = "const e = document.querySelector('#runs .run-name'); e.value = 'two epochs of a tiny net'; \
                  e.dispatchEvent(new Event('change', { bubbles: true }));";
    client.execute(rename, vec![]).await.expect("rename the run");
    client.refresh().await.expect("reload");
    wait_for(&client, "runs", 60, |t| !t.is_empty()).await;
    let name = client.execute("return document.querySelector('#runs .run-name').value", vec![]).await.expect("name");
    assert_eq!(name, "two epochs of a tiny net");
    client.find(Locator::Css(&format!("{first} button.delete"))).await.expect("Delete").click().await.expect("a click");
    wait_for(&client, "no-runs", 10, |t| !t.is_empty()).await;
    client.refresh().await.expect("reload");
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    wait_for(&client, "no-runs", 10, |t| !t.is_empty()).await;
    assert_eq!(text(&client, "runs-note").await, "", "storage reported no trouble");
    client.close().await.expect("close the browser");
}

/// A run cut off by a reload is listed as stopped after its last finished epoch, and Resume goes on
/// from that epoch's stored checkpoint: the stored epochs come back as they were (their timings
/// too, which a run trained again from the start would not repeat) and the run finishes.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_cut_off_by_a_reload_resumes_from_its_last_epoch() {
    let port = serve(dist());
    let (client, _driver) = browser().await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.expect("open the page");
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    let cores = client.execute("return navigator.hardwareConcurrency", vec![]).await.expect("read the cores");
    wait_for(&client, "cpu-threads", 120, |t| Some(t) == cores.as_u64().map(|c| c.to_string()).as_deref()).await;
    choose_backend(&client, "cpu").await;
    for (field, value) in [("train-images", "2560"), ("test-images", "320"), ("batch-size", "64"), ("epochs", "3")] {
        set_field(&client, field, value).await;
    }
    click(&client, "train").await;
    // Well into epoch 2, so that the worker has stored epoch 1's checkpoint (it writes it in the
    // background while the next steps run; a reload before that resumes from the one before).
    let into_epoch_2 = |s: &str| {
        let step = s.strip_prefix("Epoch 2: step ").and_then(|rest| rest.split(' ').next()?.parse::<usize>().ok());
        step.is_some_and(|step| step >= 10)
    };
    wait_for(&client, "status", 300, into_epoch_2).await;
    let rows = "return [...document.querySelectorAll('#epoch-table tbody tr')].map(r => r.textContent)";
    let before = client.execute(rows, vec![]).await.expect("the epochs so far");
    client.refresh().await.expect("reload mid-run");

    wait_for(&client, "runs", 60, |t| !t.is_empty()).await;
    assert_eq!(css_text(&client, "#runs tbody tr:first-child td.state").await, "stopped after epoch 1 of 3");
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    wait_for(&client, "cpu-threads", 120, |t| Some(t) == cores.as_u64().map(|c| c.to_string()).as_deref()).await;
    choose_backend(&client, "cpu").await;
    let resume = client.find(Locator::Css("#runs tbody tr:first-child button.resume")).await.expect("Resume");
    resume.click().await.expect("a click");
    wait_for(&client, "status", 600, |s| s == "Done.").await;
    assert_eq!(css_text(&client, "#runs tbody tr:first-child td.state").await, "finished, 3 epochs");
    let after = client.execute(rows, vec![]).await.expect("the epochs");
    let (before, after) = (before.as_array().expect("rows"), after.as_array().expect("rows"));
    assert_eq!((before.len(), after.len()), (1, 3), "epochs before the reload {before:?}, after {after:?}");
    let note = text(&client, "runs-note").await;
    assert_eq!(before[0], after[0], "epoch 1 as stored, not trained again (storage said {note:?})");
    assert_eq!(text(&client, "error").await, "");
    assert_eq!(text(&client, "runs-note").await, "", "storage reported no trouble");
    screenshots(&client, "resumed", "status").await;
    client.close().await.expect("close the browser");
}

/// A newcomer's first click: the page's defaults (ResNet at 28 pixels, the quick recipe) on Auto,
/// which picks the CPU's threads here, must reach 80% on the test images (the README gives the
/// time it takes).
#[tokio::test(flavor = "multi_thread")]
async fn the_first_run_with_the_defaults_reaches_80_percent() {
    let port = serve(dist());
    let (client, _driver) = browser().await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.expect("open the page");
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    let cores = client.execute("return navigator.hardwareConcurrency", vec![]).await.expect("read the cores");
    let cores = cores.as_u64().expect("a core count").to_string();
    wait_for(&client, "cpu-threads", 120, |t| t == cores).await;
    assert_eq!(value(&client, "recipe").await, "quick");
    let started = Instant::now();
    click(&client, "train").await;
    let rate = wait_for(&client, "learning-rate-now", 120, |r| r.parse::<f64>().is_ok()).await;
    assert!(rate.parse::<f64>().is_ok_and(|r| r > 0.0 && r <= 0.002), "the schedule's rate: {rate}");
    wait_for(&client, "status", 900, |s| s == "Done.").await;
    let rows = client.find_all(Locator::Css("#epoch-table tbody tr")).await.expect("rows");
    let mut accuracies = Vec::new();
    for row in rows {
        let cell = row.find(Locator::Css("td:nth-child(5)")).await.expect("test accuracy");
        let text = cell.text().await.expect("its text");
        accuracies.push(text.trim_end_matches('%').parse::<f32>().expect("a percentage"));
    }
    println!("first run: test accuracy per epoch {accuracies:?} in {:.1?}", started.elapsed());
    assert!(accuracies.first().is_some_and(|&a| a >= 60.0), "the first epoch already learns: {accuracies:?}");
    assert!(accuracies.last().is_some_and(|&a| a >= 80.0), "test accuracy per epoch {accuracies:?}");
    assert_eq!(text(&client, "error").await, "");
    client.close().await.expect("close the browser");
}

//! The built site (`trunk build --release` -> `dist/`) served on localhost and driven in headless
//! Chromium through chromedriver, as a learner would use it.

#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use support::{
    browser, choose, choose_backend, click, css_text, dist, downloaded, into_epoch_2, open_with_threads,
    ready_with_threads, screenshots, serve, set_field, set_fields, text, value, wait_for, wait_for_chart,
};

/// A VGG block of a billion convolutions: a typo, or a link meant to freeze the page.
const HUGE_SPEC: &str = r#"{"kind": "vgg", "arch": [[1000000000, 8]], "head_width": 64, "dropout": 0.5}"#;

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
    // A block of a billion convolutions, as a typo or a link could bring: its sentence at once,
    // not a frozen tab.
    set_field(&client, "spec", HUGE_SPEC).await;
    let error = wait_for(&client, "spec-error", 10, |e| e.contains("layers")).await;
    assert_eq!(
        error,
        "the model would have at least 1000000003 convolutional and fully connected layers, more than the 1000 this \
         tool takes: use fewer or narrower layers"
    );

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
    // Chromium has relaxed SIMD, so the threaded worker runs its relaxed build.
    let label = if cores == "1" {
        "CPU (burn flex)".to_string()
    } else {
        format!("CPU (burn flex) on {cores} threads, relaxed SIMD")
    };
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

    // A second run with a larger batch is drawn beside the first on the charts, against epochs,
    // the legend naming what differs: run 1 took 20 steps an epoch, run 2 takes 10.
    set_field(&client, "batch-size", "32").await;
    click(&client, "train").await;
    wait_for(&client, "status", 180, |s| s == "Done.").await;
    // Each run's batches, their smoothed line and its test epochs.
    let points = |c: &serde_json::Value| c["series"].as_array().map(|s| s.iter().map(|s| s[1].as_u64()).collect());
    let both = |c: &serde_json::Value| points(c) == Some([20, 20, 2, 40, 40, 2].map(Some).to_vec());
    let chart = wait_for_chart(&client, "loss-chart", 10, both).await;
    let legend = ["Run 2: own spec, 28 px — batch 32", "Run 1: own spec, 28 px — batch 16"];
    assert_eq!(chart["legend"], serde_json::json!(legend), "{chart}");
    screenshots(&client, "compare", "loss-chart").await;

    // The runs are kept: after a reload they are listed as finished with their best test
    // accuracy, the newest drawn; Show draws another alone. A new name and deletions are kept.
    let first = "#runs tbody tr:first-child";
    let best = css_text(&client, &format!("{first} td.best")).await;
    assert!(best.ends_with('%'), "best test accuracy {best:?}");
    assert_eq!(css_text(&client, &format!("{first} td.state")).await, "finished, 2 epochs");
    client.refresh().await.expect("reload");
    wait_for(&client, "runs", 60, |t| !t.is_empty()).await;
    assert_eq!(css_text(&client, &format!("{first} td.state")).await, "finished, 2 epochs");
    assert_eq!(css_text(&client, &format!("{first} td.best")).await, best);
    assert_eq!(client.find_all(Locator::Css("#epoch-table tbody tr")).await.expect("rows").len(), 2);
    wait_for_chart(&client, "loss-chart", 10, |c| c["series"].as_array().is_some_and(|s| s.len() == 3)).await;
    let second = "#runs tbody tr:nth-child(2)";
    client.find(Locator::Css(&format!("{second} button.show"))).await.expect("Show").click().await.expect("a click");
    let alone = |c: &serde_json::Value| c["legend"] == serde_json::json!(["Run 1: own spec, 28 px"]);
    let chart = wait_for_chart(&client, "loss-chart", 10, alone).await;
    assert_eq!(chart["series"][0][1], 40, "{chart}");
    assert_eq!(client.find_all(Locator::Css("#epoch-table tbody tr")).await.expect("rows").len(), 2);
    screenshots(&client, "runs", "status").await;
    let rename = "const e = document.querySelector('#runs .run-name'); e.value = 'two epochs of a tiny net'; \
                  e.dispatchEvent(new Event('change', { bubbles: true }));";
    client.execute(rename, vec![]).await.expect("rename the run");
    client.refresh().await.expect("reload");
    wait_for(&client, "runs", 60, |t| !t.is_empty()).await;
    let name = client.execute("return document.querySelector('#runs .run-name').value", vec![]).await.expect("name");
    assert_eq!(name, "two epochs of a tiny net");
    for left in [1, 0] {
        let delete = client.find(Locator::Css(&format!("{first} button.delete"))).await.expect("Delete");
        delete.click().await.expect("a click");
        let rows = "return document.querySelectorAll('#runs tbody tr').length";
        for _ in 0..50 {
            if client.execute(rows, vec![]).await.expect("count the runs").as_u64() == Some(left) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
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
    let (client, _driver) = open_with_threads(port).await;
    choose_backend(&client, "cpu").await;
    set_fields(&client, &[("train-images", "2560"), ("test-images", "320"), ("batch-size", "64"), ("epochs", "3")])
        .await;
    click(&client, "train").await;
    // Well into epoch 2, so that the worker has stored epoch 1's checkpoint (a reload before that
    // resumes from the one before).
    wait_for(&client, "status", 300, into_epoch_2).await;
    // 2560 images in batches of 64: 40 steps an epoch, 120 in all, and epoch 1's are behind.
    let read = "const p = document.getElementById('progress'); \
                return [p.value, p.max, document.getElementById('status').textContent, \
                        document.getElementById('progress-text').textContent]";
    let progress = client.execute(read, vec![]).await.expect("the progress bar");
    let step =
        progress[2].as_str().and_then(|s| s.strip_prefix("Epoch 2: step ")?.split(' ').next()?.parse::<u64>().ok());
    assert_eq!((progress[0].as_u64(), progress[1].as_u64()), (step.map(|s| 40 + s), Some(120)), "{progress:?}");
    let words = progress[3].as_str().unwrap_or_default();
    assert!(words.starts_with("Epoch 2 of 3, step ") && words.contains(" left"), "{words}");

    // Pause answers within 100 ms while the CPU trains (the click's handler and the next frame),
    // and the run holds: no step in a second, then steps again after Continue.
    let pause = "const done = arguments[arguments.length - 1], t = performance.now(); \
                 const b = document.getElementById('pause'); b.click(); \
                 requestAnimationFrame(() => done([b.textContent, performance.now() - t]));";
    let answer = client.execute_async(pause, vec![]).await.expect("click Pause");
    let took = answer[1].as_f64().expect("milliseconds");
    println!("Pause answered in {took:.1} ms while training on the CPU");
    assert_eq!(answer[0], "Continue", "{answer}");
    assert!(took < 100.0, "the page took {took} ms to answer a click");
    let bar = "return document.getElementById('progress').value";
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let held = client.execute(bar, vec![]).await.expect("the bar");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(client.execute(bar, vec![]).await.expect("the bar"), held, "a paused run takes no step");
    assert!(text(&client, "progress-text").await.starts_with("Paused at epoch 2 of 3"));
    click(&client, "pause").await;
    for _ in 0..100 {
        if client.execute(bar, vec![]).await.expect("the bar") != held {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(client.execute(bar, vec![]).await.expect("the bar"), held, "the run goes on after Continue");

    let rows = "return [...document.querySelectorAll('#epoch-table tbody tr')].map(r => r.textContent)";
    let before = client.execute(rows, vec![]).await.expect("the epochs so far");
    // The loss chart draws each batch's loss (and its smoothed line and the test loss per epoch).
    let epoch_1 = "return echarts.getInstanceByDom(document.getElementById('loss-chart'))                    .getOption().series[0].data.slice(0, 40)";
    wait_for_chart(&client, "loss-chart", 10, |c| c["series"][0][1].as_u64().is_some_and(|n| n > 40)).await;
    let curve_before = client.execute(epoch_1, vec![]).await.expect("epoch 1's curve");
    client.refresh().await.expect("reload mid-run");

    wait_for(&client, "runs", 60, |t| !t.is_empty()).await;
    assert_eq!(css_text(&client, "#runs tbody tr:first-child td.state").await, "stopped after epoch 1 of 3");
    ready_with_threads(&client).await;
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
    // The resumed curve continues the stored one: epoch 1's 40 steps as they were, 120 in all.
    let done = |c: &serde_json::Value| c["series"].as_array().is_some_and(|s| s.len() == 3 && s[2][1] == 3);
    let chart = wait_for_chart(&client, "loss-chart", 10, done).await;
    assert_eq!((chart["series"][0][1].as_u64(), chart["series"][1][1].as_u64()), (Some(120), Some(120)), "{chart}");
    assert_eq!(client.execute(epoch_1, vec![]).await.expect("epoch 1's curve"), curve_before);
    assert_eq!(text(&client, "error").await, "");
    assert_eq!(text(&client, "runs-note").await, "", "storage reported no trouble");
    screenshots(&client, "resumed", "status").await;
    client.close().await.expect("close the browser");
}

/// A GPU lost mid-run (the page's `cnn-lose-gpu` event destroys the worker's WebGPU device, as a
/// driver reset would): the run stops with the sentence at its last stored epoch, the form turns
/// to the CPU, a fresh worker loads, and Resume finishes the run on the CPU from that epoch.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_gpu_stops_the_run_which_resumes_on_the_cpu() {
    let port = serve(dist());
    let (client, _driver) = open_with_threads(port).await;
    choose_backend(&client, "webgpu").await;
    set_fields(&client, &[("train-images", "256"), ("test-images", "64"), ("batch-size", "32"), ("epochs", "3")]).await;
    click(&client, "train").await;
    // Epoch 1 is stored once epoch 2 has begun (the worker writes it while the next steps run,
    // and reports the loss only once it is stored).
    wait_for(&client, "status", 600, |s| s.starts_with("Epoch 2: step")).await;
    assert!(text(&client, "backend").await.starts_with("WebGPU"));
    let rows = "return [...document.querySelectorAll('#epoch-table tbody tr')].map(r => r.textContent)";
    let before = client.execute(rows, vec![]).await.expect("the epochs so far");
    client.execute("window.dispatchEvent(new Event('cnn-lose-gpu'))", vec![]).await.expect("lose the GPU");

    let error = wait_for(&client, "error", 120, |e| !e.is_empty()).await;
    println!("the page said: {error}");
    assert!(error.starts_with("the GPU was lost (") && error.ends_with("resume it on the CPU"), "{error}");
    assert!(!error.contains("poisoned"), "burn's wrapping, not the GPU's reason: {error}");
    assert_eq!(text(&client, "status").await, "The GPU was lost: the run stopped.");
    let progress = text(&client, "progress-text").await;
    assert!(progress.starts_with("Stopped at epoch 2 of 3") && !progress.contains("left"), "{progress}");
    assert_eq!(css_text(&client, "#runs tbody tr:first-child td.state").await, "stopped after epoch 1 of 3");
    assert_eq!(value(&client, "backend-choice").await, "cpu", "Resume goes to the CPU");
    screenshots(&client, "gpu-lost", "error").await;

    // A fresh worker loads the data; the run resumes on the CPU's threads from epoch 1.
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    let resume = client.find(Locator::Css("#runs tbody tr:first-child button.resume")).await.expect("Resume");
    resume.click().await.expect("a click");
    wait_for(&client, "status", 600, |s| s == "Done.").await;
    assert!(text(&client, "backend").await.starts_with("CPU"), "{}", text(&client, "backend").await);
    assert_eq!(css_text(&client, "#runs tbody tr:first-child td.state").await, "finished, 3 epochs");
    let after = client.execute(rows, vec![]).await.expect("the epochs");
    let (before, after) = (before.as_array().expect("rows"), after.as_array().expect("rows"));
    assert_eq!((before.len(), after.len()), (1, 3), "epochs before the loss {before:?}, after {after:?}");
    assert_eq!(before[0], after[0], "epoch 1 as the GPU trained it, not trained again");
    assert_eq!(text(&client, "error").await, "");
    client.close().await.expect("close the browser");
}

/// A newcomer's first click: the page's defaults (ResNet at 28 pixels, the quick recipe) on Auto,
/// which picks the CPU's threads here, must reach 80% on the test images (the README gives the
/// time it takes).
#[tokio::test(flavor = "multi_thread")]
async fn the_first_run_with_the_defaults_reaches_80_percent() {
    let port = serve(dist());
    let (client, driver) = open_with_threads(port).await;
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
    inspect_the_run(&client, &driver.downloads).await;
    client.close().await.expect("close the browser");
}

/// The numbers a script reads off the page's elements that `selector` finds, attribute `name`.
async fn numbers(client: &fantoccini::Client, selector: &str, name: &str) -> Vec<f64> {
    let script = "return [...document.querySelectorAll(arguments[0])].map(e => Number(e.getAttribute(arguments[1])))";
    let values = client.execute(script, vec![selector.into(), name.into()]).await.expect("read the page");
    values.as_array().expect("a list").iter().filter_map(serde_json::Value::as_f64).collect()
}

/// Inside the run just trained: the confusion matrix holds every test image, a cell opens its
/// images, a drawing and a picture file (decoded by the browser) get ten probabilities that sum
/// to 1, a file that is not an image gets a sentence, and the feature maps of a layer have its
/// channels.
async fn inspect_the_run(client: &fantoccini::Client, files: &std::path::Path) {
    use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};

    let test_images = value(client, "test-images").await;
    client
        .find(Locator::Css("#runs tbody tr:first-child button.inspect"))
        .await
        .expect("Inspect")
        .click()
        .await
        .expect("a click");
    let summary = wait_for(client, "inspect-summary", 120, |s| !s.is_empty()).await;
    let counts = numbers(client, "#confusion td.cell", "data-count").await;
    assert_eq!(counts.len(), 100);
    let total: f64 = counts.iter().sum();
    assert_eq!(total.to_string(), test_images, "{summary}");
    assert!(summary.contains(&format!("on {total} test images")), "{summary}");
    let accuracy = css_text(client, "#epoch-table tbody tr:last-child td:nth-child(5)").await;
    assert!(summary.ends_with(&format!("accuracy {accuracy}.")), "{summary} vs the epoch table's {accuracy}");

    // The fullest cell off the diagonal: its images, each shown once.
    let (cell, count) = (0..100)
        .filter(|i| i / 10 != i % 10)
        .map(|i| (i, counts[i]))
        .fold((1, -1.0), |best, c| if c.1 > best.1 { c } else { best });
    let selector = format!("#confusion td.cell[data-true='{}'][data-predicted='{}']", cell / 10, cell % 10);
    client.find(Locator::Css(&selector)).await.expect("a cell").click().await.expect("a click");
    let heading = wait_for(client, "cell-heading", 10, |h| !h.is_empty()).await;
    assert!(heading.ends_with(&format!(": {count} images")), "{heading}");
    let shown = client.find_all(Locator::Css("#cell-images figure")).await.expect("images").len();
    assert_eq!(shown as f64, count.min(100.0), "{heading}");

    // The first surest mistake is looked at on its own.
    wait_for(client, "look-caption", 60, |c| c.starts_with("Test image ")).await;
    assert_eq!(client.find_all(Locator::Css("#mistakes figure")).await.expect("mistakes").len(), 12);
    // resnet-small pools 1x1 maps at 28 px: the page says why it draws no activation map.
    let cam = text(client, "no-cam").await;
    assert!(cam.contains("the maps this network pools are 1x1 at 28 px"), "{cam}");
    screenshots(client, "inspect", "inspect").await;

    // A stroke drawn with the mouse.
    let scroll = "document.getElementById('draw').scrollIntoView()";
    client.execute(scroll, vec![]).await.expect("scroll");
    let pad = client.find(Locator::Id("draw")).await.expect("the drawing pad");
    let pen = |x: f64, y: f64| PointerAction::MoveBy { duration: Some(Duration::from_millis(50)), x, y };
    let stroke = MouseActions::new("pen".into())
        .then(PointerAction::MoveToElement { element: pad, duration: None, x: -40.0, y: -60.0 })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(pen(0.0, 120.0))
        .then(pen(80.0, 0.0))
        .then(pen(0.0, -120.0))
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    client.perform_actions(stroke).await.expect("draw");
    ten_probabilities(client, "Your drawing").await;
    screenshots(client, "drawing", "draw").await;

    // The third layer's feature maps: as many as its channels.
    choose(client, "look-layer", "2").await;
    assert!(wait_for_maps(client).await > 0);
    screenshots(client, "feature-maps", "feature-maps").await;

    // A picture file, decoded by the browser: a light square on a dark ground, 60x40 px.
    std::fs::create_dir_all(files).expect("a folder for files");
    let picture = files.join("square.bmp");
    std::fs::write(&picture, bmp(60, 40, |x, y| if (20..40).contains(&x) && (10..30).contains(&y) { 230 } else { 20 }))
        .expect("write a picture");
    let input = client.find(Locator::Id("picture-file")).await.expect("the picture field");
    input.send_keys(&picture.display().to_string()).await.expect("pick the picture");
    ten_probabilities(client, "“square.bmp”").await;
    screenshots(client, "picture", "look-caption").await;

    let junk = files.join("notes.txt");
    std::fs::write(&junk, "not a picture").expect("write a file");
    input.send_keys(&junk.display().to_string()).await.expect("pick the file");
    let note = wait_for(client, "look-note", 60, |n| n.starts_with("“notes.txt” cannot")).await;
    assert!(note.starts_with("“notes.txt” cannot be looked at: this file is not an image the browser reads"), "{note}");
}

/// A grey `width` x `height` picture as a 24-bit BMP file (rows bottom-up, each padded to 4 bytes).
fn bmp(width: u32, height: u32, grey: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let size = 54 + row * height;
    let mut file = Vec::with_capacity(size as usize);
    file.extend_from_slice(b"BM");
    for value in [size, 0, 54, 40, width, height] {
        file.extend_from_slice(&value.to_le_bytes());
    }
    file.extend_from_slice(&1u16.to_le_bytes());
    file.extend_from_slice(&24u16.to_le_bytes());
    file.extend_from_slice(&[0; 24]);
    for y in (0..height).rev() {
        for x in 0..width {
            file.extend_from_slice(&[grey(x, y); 3]);
        }
        file.resize(file.len() + (row - width * 3) as usize, 0);
    }
    file
}

/// The look at the picture whose caption starts with `caption`, once shown: ten class
/// probabilities that sum to 1.
async fn ten_probabilities(client: &fantoccini::Client, caption: &str) {
    let caption = wait_for(client, "look-caption", 60, |c| c.starts_with(caption)).await;
    let probabilities = numbers(client, "#probabilities tr", "data-p").await;
    assert_eq!(probabilities.len(), 10, "{caption}");
    let sum: f64 = probabilities.iter().sum();
    assert!((sum - 1.0).abs() < 1e-4, "{probabilities:?} sum to {sum}");
}

/// The feature maps drawn once the worker answers, checked against the heading's count.
async fn wait_for_maps(client: &fantoccini::Client) -> usize {
    let started = Instant::now();
    loop {
        let heading = css_text(client, ".maps-heading").await;
        let drawn = client.find_all(Locator::Css("#feature-maps canvas")).await.expect("maps").len();
        let count: Option<usize> = heading.split(": ").nth(1).and_then(|t| t.split(' ').next()?.parse().ok());
        if heading.starts_with("Layer 3, ") && count == Some(drawn.min(128)) {
            return drawn;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{heading}: {drawn} maps drawn");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The setup lives in the address: a link opened in a fresh browser profile (nothing stored)
/// brings back the same spec and settings, and a broken link opens the defaults and says why.
#[tokio::test(flavor = "multi_thread")]
async fn a_link_carries_the_whole_setup_to_a_fresh_browser() {
    let port = serve(dist());
    let fields = ["model", "spec", "size", "recipe", "optimizer", "learning-rate", "batch-size", "epochs", "seed"];
    let read = |client: fantoccini::Client| async move {
        let mut values = Vec::new();
        for field in fields {
            values.push(value(&client, field).await);
        }
        (client, values)
    };
    let (client, driver) = browser().await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.expect("open the page");
    wait_for(&client, "total-params", 60, |t| t.starts_with(|c: char| c.is_ascii_digit())).await;
    choose(&client, "model", "vgg11-r4").await;
    set_field(&client, "size", "56").await;
    choose(&client, "recipe", "modern").await;
    choose(&client, "optimizer", "adamw").await;
    for (field, value) in [("learning-rate", "0.002"), ("epochs", "4"), ("seed", "7")] {
        set_field(&client, field, value).await;
    }
    let (client, setup) = read(client).await;
    assert_eq!(setup[0], "vgg11-r4");
    assert_eq!(
        setup[2..].iter().map(String::as_str).collect::<Vec<_>>(),
        ["56", "", "adamw", "0.002", "128", "4", "7"]
    );
    let link = client.current_url().await.expect("the address").to_string();
    assert!(link.contains("#setup="), "{link}");
    // The address carries the spec as typed, a refused one too.
    set_field(&client, "spec", HUGE_SPEC).await;
    wait_for(&client, "spec-error", 10, |e| e.contains("layers")).await;
    let huge_link = client.current_url().await.expect("the address").to_string();
    assert_ne!(huge_link, link);
    client.close().await.expect("close the browser");
    drop(driver);

    let (client, _driver) = browser().await;
    client.goto(&link).await.expect("open the link");
    wait_for(&client, "total-params", 60, |t| t.starts_with(|c: char| c.is_ascii_digit())).await;
    let (client, opened) = read(client).await;
    assert_eq!(opened, setup, "the link's setup in a fresh profile");
    assert_eq!(text(&client, "link-note").await, "");

    client.goto("about:blank").await.expect("leave");
    client.goto(&format!("http://127.0.0.1:{port}/#setup=not-a-setup")).await.expect("open a broken link");
    let note = wait_for(&client, "link-note", 30, |t| !t.is_empty()).await;
    assert!(note.starts_with("The link's setup") && note.ends_with("so the page opens with its defaults."), "{note}");
    assert_eq!((value(&client, "model").await, value(&client, "size").await), ("resnet-small".into(), "28".into()));

    // A link whose spec asks for a billion convolutions opens with the refusal, and the page
    // answers a click at once.
    client.goto("about:blank").await.expect("leave");
    client.goto(&huge_link).await.expect("open the link");
    let refusal = wait_for(&client, "spec-error", 30, |e| !e.is_empty()).await;
    assert!(refusal.starts_with("the model would have at least 1000000003 convolutional"), "{refusal}");
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    let clicked = Instant::now();
    click(&client, "train").await;
    assert_eq!(wait_for(&client, "error", 5, |e| !e.is_empty()).await, refusal);
    assert!(clicked.elapsed() < Duration::from_secs(1), "the click took {:?}", clicked.elapsed());

    // A fragment far longer than the page's own is refused before it is decompressed (lz-string
    // can expand a text with the square of its length).
    client.goto("about:blank").await.expect("leave");
    client.goto(&format!("http://127.0.0.1:{port}/#setup={}", "A".repeat(20_000))).await.expect("open a long link");
    let note = wait_for(&client, "link-note", 30, |t| !t.is_empty()).await;
    assert_eq!(
        note,
        "The link's setup is 20000 characters long, more than the 16384 this page reads (its own links are far \
         shorter), so the page opens with its defaults."
    );
    client.close().await.expect("close the browser");
}

/// The sections of a checkpoint file: its magic tag, then its settings' JSON and the rest.
fn checkpoint_header(bytes: &[u8]) -> (serde_json::Value, &[u8]) {
    assert_eq!(&bytes[..8], b"CNNCKPT1");
    let len = u64::from_le_bytes(bytes[8..16].try_into().expect("a length")) as usize;
    (serde_json::from_slice(&bytes[16..16 + len]).expect("the settings' JSON"), &bytes[16 + len..])
}

/// A checkpoint as pages before 2026-12-07 wrote it: without the checksum that ends it now.
fn without_checksum(bytes: &[u8]) -> &[u8] {
    let (sections, trailer) = bytes.split_at(bytes.len() - 12);
    assert_eq!(&trailer[..8], b"CRC32C\0\0", "a checkpoint ends in its checksum");
    sections
}

/// A stored run's checkpoint downloads (and its weights as safetensors), and after the run is
/// deleted, uploading the file lists it again with the same test accuracy; a file that is not a
/// checkpoint, a damaged one, and one whose weights do not fit its model, each get their sentence
/// and change nothing; one written before checksums is listed, with a note.
#[tokio::test(flavor = "multi_thread")]
async fn a_checkpoint_downloads_and_uploads_to_the_same_accuracy() {
    let port = serve(dist());
    let (client, driver) = open_with_threads(port).await;
    choose_backend(&client, "cpu").await;
    set_fields(&client, &[("train-images", "640"), ("test-images", "320"), ("batch-size", "64"), ("epochs", "2")])
        .await;
    click(&client, "train").await;
    wait_for(&client, "status", 300, |s| s == "Done.").await;
    let accuracy = css_text(&client, "#epoch-table tbody tr:last-child td:nth-child(5)").await;
    let first = "#runs tbody tr:first-child";

    client
        .find(Locator::Css(&format!("{first} button.checkpoint")))
        .await
        .expect("Checkpoint")
        .click()
        .await
        .expect("a click");
    let checkpoint = downloaded(&driver.downloads, "cnnckpt").await;
    assert_eq!(checkpoint.file_name().and_then(|n| n.to_str()), Some("Run-1-resnet-small-28-px.cnnckpt"));
    let bytes = std::fs::read(&checkpoint).expect("the checkpoint");
    let (header, _) = checkpoint_header(&bytes);
    assert_eq!((header["epoch"].as_u64(), header["images"].clone()), (Some(2), serde_json::json!([640, 320])));

    client
        .find(Locator::Css(&format!("{first} button.safetensors")))
        .await
        .expect("Safetensors")
        .click()
        .await
        .expect("a click");
    let safetensors = std::fs::read(downloaded(&driver.downloads, "safetensors").await).expect("the safetensors");
    let len = u64::from_le_bytes(safetensors[..8].try_into().expect("a length")) as usize;
    let index: serde_json::Value = serde_json::from_slice(&safetensors[8..8 + len]).expect("the safetensors index");
    let spec = index["__metadata__"]["cnn-playground.spec"].as_str().unwrap_or_default();
    assert!(spec.contains("\"image_size\":28"), "{spec}");
    let learnable: u64 = index
        .as_object()
        .expect("tensors")
        .iter()
        .filter(|(name, _)| !name.starts_with("__") && !name.contains("running"))
        .map(|(_, t)| t["shape"].as_array().expect("a shape").iter().filter_map(|d| d.as_u64()).product::<u64>())
        .sum();
    assert_eq!(learnable.to_string(), text(&client, "run-params").await.replace(',', ""), "{index}");

    client.find(Locator::Css(&format!("{first} button.delete"))).await.expect("Delete").click().await.expect("a click");
    wait_for(&client, "no-runs", 10, |t| !t.is_empty()).await;
    let upload = |path: std::path::PathBuf| {
        let client = client.clone();
        async move {
            let input = client.find(Locator::Id("upload")).await.expect("the upload field");
            input.send_keys(&path.display().to_string()).await.expect("pick the file");
        }
    };
    upload(checkpoint.clone()).await;
    let note = wait_for(&client, "upload-note", 120, |n| n.contains("listed") || n.contains("cannot")).await;
    let listed = format!(
        "“Run-1-resnet-small-28-px.cnnckpt” is listed as “Run-1-resnet-small-28-px (uploaded)”: test accuracy {accuracy}"
    );
    assert!(note.starts_with(&listed) && note.ends_with("on 320 test images."), "{note}");
    assert_eq!(css_text(&client, &format!("{first} td.state")).await, "finished, 2 epochs");
    assert_eq!(css_text(&client, "#epoch-table tbody tr:last-child td:nth-child(5)").await, accuracy);
    screenshots(&client, "uploaded", "runs").await;

    // Not a checkpoint, and a checkpoint whose settings name another model than its weights.
    let junk = driver.downloads.join("notes.cnnckpt");
    std::fs::write(&junk, "my notes").expect("write a file");
    upload(junk).await;
    let note = wait_for(&client, "upload-note", 30, |n| n.starts_with("“notes.cnnckpt”")).await;
    assert_eq!(
        note,
        "“notes.cnnckpt” cannot be used: this is not a checkpoint of the CNN playground (it does not start with \"CNNCKPT1\"). Nothing was changed."
    );
    // A byte changed in the weights, as a bad disk or a broken copy would.
    let mut damaged = bytes.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 0x01;
    let damaged_file = driver.downloads.join("damaged.cnnckpt");
    std::fs::write(&damaged_file, damaged).expect("write a file");
    upload(damaged_file).await;
    let note = wait_for(&client, "upload-note", 30, |n| n.starts_with("“damaged.cnnckpt”")).await;
    assert_eq!(
        note,
        "“damaged.cnnckpt” cannot be used: the checkpoint is damaged: its contents do not match the checksum written with \
         them (a changed or lost byte); use another copy. Nothing was changed."
    );
    // Edited by hand, without a checksum (as pages before checksums wrote them).
    let (mut header, rest) = checkpoint_header(without_checksum(&bytes));
    header["spec"]["model"] = serde_json::json!({"kind": "vgg", "arch": [[1, 8]], "head_width": 32, "dropout": 0.0});
    let header = serde_json::to_vec(&header).expect("JSON");
    let mut other = b"CNNCKPT1".to_vec();
    other.extend_from_slice(&(header.len() as u64).to_le_bytes());
    other.extend_from_slice(&header);
    other.extend_from_slice(rest);
    let mismatched = driver.downloads.join("mismatched.cnnckpt");
    std::fs::write(&mismatched, other).expect("write a file");
    upload(mismatched).await;
    let note = wait_for(&client, "upload-note", 120, |n| n.starts_with("“mismatched.cnnckpt” cannot")).await;
    assert!(
        note.contains("the checkpoint's weights do not fit this model") && note.ends_with("Nothing was changed."),
        "{note}"
    );
    assert_eq!(client.find_all(Locator::Css("#runs tbody tr")).await.expect("rows").len(), 1);
    // A checkpoint from before checksums loads, and the page says it could not be checked.
    let old = driver.downloads.join("old.cnnckpt");
    std::fs::write(&old, without_checksum(&bytes)).expect("write a file");
    upload(old).await;
    let note = wait_for(&client, "upload-note", 120, |n| n.starts_with("“old.cnnckpt” is listed")).await;
    assert!(note.ends_with("so it could not be checked for damage."), "{note}");
    assert_eq!(client.find_all(Locator::Css("#runs tbody tr")).await.expect("rows").len(), 2);
    assert_eq!(text(&client, "runs-note").await, "", "storage reported no trouble");
    assert_eq!(text(&client, "error").await, "");

    // A run that diverges stops with its sentence and is listed as failed with it.
    choose(&client, "optimizer", "sgd").await;
    set_field(&client, "learning-rate", "1000000").await;
    click(&client, "train").await;
    let error = wait_for(&client, "error", 120, |e| !e.is_empty()).await;
    assert!(error.starts_with("the run diverged: the loss "), "{error}");
    assert_eq!(css_text(&client, &format!("{first} td.state")).await, format!("failed: {error}"));
    client.close().await.expect("close the browser");
}

/// Runs stored by an older page (layout 1: only the running loss at each step) are read and
/// shown; one stored by a newer page is kept and named in a sentence, not dropped.
#[tokio::test(flavor = "multi_thread")]
async fn runs_stored_by_older_and_newer_pages_are_read_or_named() {
    let port = serve(dist());
    let (client, _driver) = browser().await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.expect("open the page");
    wait_for(&client, "no-runs", 60, |t| !t.is_empty()).await;
    let store = "const done = arguments[arguments.length - 1]; \
        const settings = { model: JSON.parse(document.getElementById('spec').value), image_size: 28, batch_size: 64, \
                           learning_rate: 0.001, epochs: 2, seed: 0 }; \
        const epoch = { epoch: 1, train_loss: 2.0, train_accuracy: 0.3, test_loss: 1.9, test_accuracy: 0.41, \
                        examples_per_sec: 500.0, seconds: 1.2 }; \
        const old = { version: 1, id: 1, name: 'an old run', settings, images: [640, 320], state: 'Stopped', \
                      losses: [2.3, 2.1, 1.9], epoch_ends: [3], epochs: [epoch] }; \
        const newer = { version: 9, id: 2, name: 'from the future' }; \
        const request = indexedDB.open('cnn-playground'); \
        request.onerror = () => done('cannot open: ' + request.error); \
        request.onsuccess = () => { \
            const tx = request.result.transaction('runs', 'readwrite'); \
            tx.objectStore('runs').put(JSON.stringify(old), 1); \
            tx.objectStore('runs').put(JSON.stringify(newer), 2); \
            tx.oncomplete = () => { request.result.close(); done('stored'); }; \
            tx.onerror = () => done('cannot store: ' + tx.error); \
        };";
    assert_eq!(client.execute_async(store, vec![]).await.expect("store two runs"), "stored");
    client.refresh().await.expect("reload");
    wait_for(&client, "runs", 60, |t| t.contains("stopped after epoch 1 of 2")).await;
    let name = client.execute("return document.querySelector('#runs .run-name').value", vec![]).await.expect("name");
    assert_eq!(name, "an old run");
    assert_eq!(css_text(&client, "#runs tbody tr:first-child td.best").await, "41.0%");
    assert_eq!(
        text(&client, "runs-note").await,
        "a run stored by a newer page (layout 9, this page reads 2) is kept but not shown; reload to get the newer page"
    );
    // Its three losses are drawn (it is the newest run); the accuracy it never stored is not.
    let chart = wait_for_chart(&client, "loss-chart", 10, |c| c["series"][0][1] == 3).await;
    assert_eq!(chart["legend"], serde_json::json!(["an old run"]));
    let accuracy = wait_for_chart(&client, "accuracy-chart", 10, |c| c["series"][2][1] == 1).await;
    assert_eq!(accuracy["series"][0][1], 0, "{accuracy}");
    client.close().await.expect("close the browser");
}

/// The threaded trainer's two builds in an engine without relaxed SIMD and in one with it (Node's
/// V8, where a flag turns it on or off; Chromium here always has it, so the page's own runs take
/// the relaxed build): the plain build loads in both, and the relaxed one exactly where the
/// loader's probe (`relaxed_simd.js`) says so, so no browser is handed a build it refuses.
#[test]
fn the_threaded_trainer_has_a_build_for_engines_without_relaxed_simd() {
    const CHECK: &str = r#"
        import { readFileSync } from "node:fs";
        const dist = process.argv[1];
        const { relaxedSimd } = await import(new URL("relaxed_simd.js", `file://${dist}/`));
        const loads = name => WebAssembly.validate(readFileSync(`${dist}/${name}`));
        const [plain, relaxed] = ["plain", "relaxed"].map(build => loads(`threads/${build}/trainer_threads_bg.wasm`));
        console.log(JSON.stringify({ relaxedSimd, plain, relaxed }));
    "#;
    for (flag, has) in [("--no-experimental-wasm-relaxed-simd", false), ("--experimental-wasm-relaxed-simd", true)] {
        let output = std::process::Command::new("node")
            .args([flag, "--input-type=module", "-e", CHECK])
            .arg(dist())
            .output()
            .expect("node runs (dev/setup.sh needs it for npm)");
        assert!(output.status.success(), "node {flag}: {}", String::from_utf8_lossy(&output.stderr));
        let seen: serde_json::Value = serde_json::from_slice(&output.stdout).expect("the check's JSON");
        assert_eq!(seen, serde_json::json!({ "relaxedSimd": has, "plain": true, "relaxed": has }), "node {flag}");
    }
}

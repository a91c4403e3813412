//! Sweeps, lessons and a teacher's links on the built site in headless Chromium, as a learner and
//! a teacher use them.

#[allow(dead_code)]
mod support;

use support::{
    browser, choose, choose_backend, click, dist, downloaded, open_with_threads, ready_with_threads, screenshots,
    serve, set_field, set_fields, text, value, wait_for, wait_for_chart,
};

/// The sweep's table, one array of cell texts per run.
async fn table(client: &fantoccini::Client) -> Vec<Vec<String>> {
    let read = "return [...document.querySelectorAll('#sweep-table tbody tr')] \
                .map(r => [...r.querySelectorAll('td')].map(d => d.textContent))";
    let rows = client.execute(read, vec![]).await.expect("the sweep's table");
    serde_json::from_value(rows).expect("rows of cells")
}

async fn disabled(client: &fantoccini::Client, id: &str) -> bool {
    let read = "return document.getElementById(arguments[0]).disabled";
    client.execute(read, vec![id.into()]).await.expect("read a control").as_bool().expect("a bool")
}

/// A sweep of two image sizes (28 and 56 px): both runs train one after the other, a reload in the second goes
/// on with it, the table and the chart fill in, the CSV downloads, and its link shows the same
/// sweep in a fresh browser.
#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_of_two_sizes_trains_both_and_survives_a_reload() {
    let port = serve(dist());
    let (client, driver) = open_with_threads(port).await;
    choose_backend(&client, "cpu").await;
    set_fields(&client, &[("train-images", "640"), ("test-images", "200"), ("batch-size", "64"), ("epochs", "2")])
        .await;
    choose(&client, "sweep-first", "size").await;
    set_field(&client, "sweep-first-values", "28, 56").await;
    click(&client, "sweep").await;
    wait_for(&client, "sweep-state", 30, |s| s == "0 of 2 runs done").await;
    // Before anything trains the table has the model table's figures.
    let rows = table(&client).await;
    assert_eq!(rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["28", "56"], "{rows:?}");
    assert!(rows.iter().all(|r| r[2].chars().next().is_some_and(|c| c.is_ascii_digit())), "{rows:?}");

    // Into the second run, then a reload: the sweep goes on with it after the page is ready.
    wait_for(&client, "sweep-state", 300, |s| s == "1 of 2 runs done").await;
    // (At 56 px the second run takes several seconds an epoch here: the reload lands in it.)
    wait_for(&client, "status", 120, |s| s.starts_with("Epoch") || s == "Done.").await;
    client.refresh().await.expect("reload mid-sweep");
    ready_with_threads(&client).await;
    wait_for(&client, "sweep-state", 600, |s| s == "done: 2 runs").await;
    let rows = table(&client).await;
    for row in &rows {
        // Values, state, parameters, dense share, MACs, conv share, memory, epochs, final, best, s/epoch.
        assert_eq!((row[1].as_str(), row[7].as_str()), ("finished", "2"), "{rows:?}");
        let best: f64 = row[9].trim_end_matches('%').parse().expect("an accuracy");
        assert!(best > 20.0, "{rows:?}");
        assert!(row[10].parse::<f64>().expect("seconds") > 0.0, "{rows:?}");
    }
    let names = "return [...document.querySelectorAll('#runs input.run-name')].map(i => i.value)";
    let names = client.execute(names, vec![]).await.expect("the runs' names");
    assert_eq!(names, serde_json::json!(["Sweep · Image size 56", "Sweep · Image size 28"]));
    let chart = wait_for_chart(&client, "sweep-chart", 10, |c| c["series"][0][1] == 2).await;
    assert_eq!(chart["legend"], serde_json::json!(["runs"]), "{chart}");
    assert_eq!(text(&client, "error").await, "");

    click(&client, "sweep-csv").await;
    let csv = std::fs::read_to_string(downloaded(&driver.downloads, "csv").await).expect("the CSV");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("size,state,parameters,dense_share,macs,"), "{csv}");
    assert!(lines[1].starts_with("28,finished,") && lines[2].starts_with("56,finished,"), "{csv}");
    screenshots(&client, "sweep", "sweep-name").await;

    let link = value(&client, "sweep-link").await;
    assert!(link.contains("#sweep="), "{link}");
    client.close().await.expect("close the browser");
    drop(driver);
    let (client, _driver) = browser().await;
    client.goto(&link).await.expect("open the sweep's link");
    wait_for(&client, "total-params", 60, |t| t.starts_with(|c: char| c.is_ascii_digit())).await;
    assert_eq!(value(&client, "sweep-first").await, "size");
    assert_eq!(value(&client, "sweep-first-values").await, "28, 56");
    assert_eq!(value(&client, "epochs").await, "2");
    assert_eq!(value(&client, "train-images").await, "640");
    assert_eq!(text(&client, "link-note").await, "");
    client.close().await.expect("close the browser");
}

/// A chapter lesson loads its sweep and shows its question with the model locked; a teacher's
/// link with two controls locked opens with its question and those controls disabled; a sweep
/// of more than fifty runs asks first; a malformed sweep link opens the defaults with its
/// sentence.
#[tokio::test(flavor = "multi_thread")]
async fn lessons_and_a_teachers_link_open_with_their_question_and_locks() {
    let port = serve(dist());
    let (client, driver) = browser().await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.expect("open the page");
    wait_for(&client, "total-params", 60, |t| t.starts_with(|c: char| c.is_ascii_digit())).await;
    choose(&client, "lesson-choice", "vgg-image-size").await;
    let question = wait_for(&client, "lesson-question", 10, |q| !q.is_empty()).await;
    assert!(question.starts_with("Upsampling Fashion-MNIST from 28 to 224 px is wasteful."), "{question}");
    assert_eq!(value(&client, "model").await, "vgg11-r4");
    assert!(disabled(&client, "model").await && !disabled(&client, "size").await);
    assert_eq!(
        (value(&client, "sweep-first").await, value(&client, "sweep-first-values").await),
        ("size".into(), "32, 56, 84, 96".into())
    );
    assert!(text(&client, "lesson-locks").await.contains("Model"));
    screenshots(&client, "lesson", "lesson").await;
    screenshots(&client, "lesson-sweep", "sweep-first").await;
    // A reload keeps the lesson open, and what the learner changed since.
    set_field(&client, "seed", "5").await;
    client.refresh().await.expect("reload");
    wait_for(&client, "lesson-question", 30, |q| q == question).await;
    assert_eq!(value(&client, "seed").await, "5");
    click(&client, "lesson-leave").await;
    assert_eq!(text(&client, "lesson").await, "");
    assert!(!disabled(&client, "model").await);

    // A sweep of sixty seeds asks first; No queues nothing.
    wait_for(&client, "status", 180, |s| s.starts_with("Ready")).await;
    choose(&client, "sweep-first", "seed").await;
    set_field(&client, "sweep-first-values", &(1..=60).map(|s| s.to_string()).collect::<Vec<_>>().join(",")).await;
    click(&client, "sweep").await;
    let ask = wait_for(&client, "sweep-ask", 10, |a| !a.is_empty()).await;
    assert!(ask.starts_with("This sweep makes 60 runs"), "{ask}");
    click(&client, "sweep-no").await;
    assert_eq!((text(&client, "sweep-ask").await, text(&client, "sweep-state").await), (String::new(), String::new()));

    // The teacher's lesson: the current setup, learning rate and epochs locked, the backend hidden.
    client
        .find(fantoccini::Locator::Css("#teach summary"))
        .await
        .expect("the teacher's form")
        .click()
        .await
        .expect("open");
    set_field(&client, "teach-title", "Batch size and time").await;
    set_field(&client, "teach-question", "What does a larger batch do to the time per epoch?").await;
    for (control, access) in [("learning-rate", "locked"), ("epochs", "locked"), ("backend", "hidden")] {
        choose(&client, &format!("teach-{control}"), access).await;
    }
    click(&client, "teach-make").await;
    let mut link = String::new();
    for _ in 0..50 {
        if client.find(fantoccini::Locator::Id("teach-link")).await.is_ok() {
            link = value(&client, "teach-link").await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(link.contains("#lesson="), "{link} ({})", text(&client, "teach-error").await);
    client.close().await.expect("close the browser");
    drop(driver);

    let (client, _driver) = browser().await;
    client.goto(&link).await.expect("open the teacher's link");
    let question = wait_for(&client, "lesson-question", 60, |q| !q.is_empty()).await;
    assert_eq!(question, "What does a larger batch do to the time per epoch?");
    assert_eq!(text(&client, "lesson-title").await, "Batch size and time");
    assert!(disabled(&client, "learning-rate").await && disabled(&client, "epochs").await);
    assert!(!disabled(&client, "seed").await && !disabled(&client, "batch-size").await);
    let hidden = "return document.getElementById('backend-choice').offsetParent === null";
    assert_eq!(client.execute(hidden, vec![]).await.expect("read"), true, "the backend is hidden");
    screenshots(&client, "teacher", "lesson").await;

    client.goto("about:blank").await.expect("leave");
    client.goto(&format!("http://127.0.0.1:{port}/#sweep=not-a-sweep")).await.expect("open a broken link");
    let note = wait_for(&client, "link-note", 30, |t| !t.is_empty()).await;
    assert!(note.starts_with("The link's sweep") && note.ends_with("so the page opens with its defaults."), "{note}");
    assert_eq!(value(&client, "model").await, "resnet-small");
    assert_eq!(text(&client, "lesson").await, "", "no lesson is open");
    client.close().await.expect("close the browser");
}

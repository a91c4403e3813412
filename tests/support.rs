//! Shared by the end-to-end test and the page benchmark: serving `dist/` on localhost, starting
//! headless Chromium through chromedriver, and reading and typing into the page.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
// chromedriver is on localhost: plain HTTP, no TLS stack to build.
use hyper_util::client::legacy::connect::HttpConnector;

/// Serves `dist/` on a free port from a background thread, cross-origin isolated as `trunk serve`
/// and `public/_headers` make it: the threaded CPU worker needs shared memory.
pub fn serve(dir: PathBuf) -> u16 {
    serve_with(dir, None)
}

/// A full quota, as the browser's storage reports one, on a word from the test. Chromium's
/// DevTools quota override (`Storage.overrideQuotaForOrigin`) answered but left IndexedDB
/// writing on (headless, even a megabyte over a quota of one byte), so this makes every IndexedDB write in the page and in its workers
/// throw the error a full quota gives, from the moment any of them hears "full" on the
/// `e2e-storage` channel (`storage_full`).
pub const FULL_QUOTA: &str = "{ const put = IDBObjectStore.prototype.put; let full = false; \
    new BroadcastChannel('e2e-storage').onmessage = (e) => { full = e.data === 'full'; }; \
    IDBObjectStore.prototype.put = function (...args) { \
      if (full) throw new DOMException('the quota is used up (the test filled it)', 'QuotaExceededError'); \
      return put.apply(this, args); }; }\n";

/// Fills the quota [`FULL_QUOTA`] watches (the page must have been served with it).
pub async fn storage_full(client: &Client, full: bool) {
    let say = "new BroadcastChannel('e2e-storage').postMessage(arguments[0] ? 'full' : 'free')";
    client.execute(say, vec![full.into()]).await.expect("tell the storage");
}

/// [`serve`], with `inject` run first in the page and in each worker's loader.
pub fn serve_with(dir: PathBuf, inject: Option<&'static str>) -> u16 {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind a local port");
    let port = server.server_addr().to_ip().expect("an IP address").port();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            answer(&dir, inject, true, request);
        }
    });
    port
}

/// A static host that sends no isolation headers (as GitHub Pages), until it is stopped.
pub struct PlainHost {
    pub port: u16,
    server: std::sync::Arc<tiny_http::Server>,
}

impl PlainHost {
    pub fn serve(dir: PathBuf) -> Self {
        let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind a local port"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let serving = server.clone();
        std::thread::spawn(move || {
            for request in serving.incoming_requests() {
                answer(&dir, None, false, request);
            }
        });
        PlainHost { port, server }
    }

    /// Stops answering: the port is closed, as a host out of reach.
    pub fn stop(self) {
        self.server.unblock();
    }
}

fn answer(dir: &Path, inject: Option<&str>, isolate: bool, request: tiny_http::Request) {
    let path = request.url().split('?').next().unwrap_or("/").trim_start_matches('/').to_string();
    let path = if path.is_empty() { "index.html".to_string() } else { path };
    let file = dir.join(&path);
    let header = |name: &str, value: &str| tiny_http::Header::from_bytes(name, value).expect("a valid header");
    let response = match (path.contains(".."), std::fs::read(&file)) {
        (false, Ok(mut bytes)) => {
            if let Some(script) = inject {
                if path.ends_with("_loader.js") {
                    bytes.splice(0..0, script.bytes());
                } else if path == "index.html" {
                    let tag = format!("<head><script>{script}</script>");
                    bytes = String::from_utf8_lossy(&bytes).replacen("<head>", &tag, 1).into_bytes();
                }
            }
            let kind = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript",
                Some("wasm") => "application/wasm",
                Some("css") => "text/css",
                Some("svg") => "image/svg+xml",
                Some("webmanifest") => "application/manifest+json",
                _ => "application/octet-stream",
            };
            tiny_http::Response::from_data(bytes).with_header(header("Content-Type", kind))
        }
        _ => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
    };
    let response = if isolate {
        response
            .with_header(header("Cross-Origin-Opener-Policy", "same-origin"))
            .with_header(header("Cross-Origin-Embedder-Policy", "require-corp"))
    } else {
        response
    };
    let _ = request.respond(response);
}

/// chromedriver, stopped when dropped, and where its browser puts downloads.
pub struct Driver {
    child: Child,
    pub downloads: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

pub async fn browser() -> (Client, Driver) {
    let port = free_port();
    let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let mut command = Command::new(&chromedriver);
    command.arg(format!("--port={port}"));
    // Where a test fails inside a worker, Chromium's own log holds its console (panics included).
    if let Some(log) = std::env::var_os("E2E_CHROMIUM_LOG") {
        command.arg(format!("--log-path={}", log.to_string_lossy())).arg("--enable-chrome-logs");
    }
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
    // A fresh profile: nothing stored by an earlier browser on the same port.
    let profile = std::env::temp_dir().join(format!("e2e-chromium-{port}"));
    let _ = std::fs::remove_dir_all(&profile);
    let driver = Driver { child, downloads: profile.join("downloads") };
    let mut args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--enable-unsafe-webgpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--enable-logging=stderr".into(),
        // The memory soak reads the page's JS heap exactly, after a collection.
        "--enable-precise-memory-info".into(),
        "--js-flags=--expose-gc".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    // A profile of the benchmark's steps, for one: `CHROMIUM_ARGS='--js-flags=--prof'`.
    args.extend(std::env::var("CHROMIUM_ARGS").unwrap_or_default().split_whitespace().map(str::to_string));
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "prefs": {
                "download.default_directory": driver.downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
            "args": args,
        }
    });
    let caps: fantoccini::wd::Capabilities = caps.as_object().expect("an object").clone();
    let started = Instant::now();
    loop {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (client, driver),
            Err(e) if started.elapsed() > Duration::from_secs(30) => panic!("cannot reach chromedriver: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Saves what a learner sees with `#id` scrolled to the top, at desktop (1280x800) and phone
/// (390x844) sizes, as `<name>-desktop.png` and `<name>-phone.png` in the target dir's
/// `tmp/screenshots`, to be looked at.
pub async fn screenshots(client: &Client, name: &str, id: &str) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("a folder for screenshots");
    for (size, width, height) in [("desktop", 1280, 800), ("phone", 390, 844)] {
        client.set_window_size(width, height).await.expect("resize the window");
        let scroll = "document.getElementById(arguments[0]).scrollIntoView()";
        client.execute(scroll, vec![id.into()]).await.expect("scroll");
        let png = client.screenshot().await.expect("a screenshot");
        std::fs::write(dir.join(format!("{name}-{size}.png")), png).expect("write the screenshot");
    }
    client.set_window_size(1280, 800).await.expect("resize the window");
}

/// The text of the first element `selector` finds; there must be one.
pub async fn css_text(client: &Client, selector: &str) -> String {
    let element = client.find(Locator::Css(selector)).await.unwrap_or_else(|_| panic!("no {selector}"));
    element.text().await.expect("its text")
}

pub async fn text(client: &Client, id: &str) -> String {
    match client.find(Locator::Id(id)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Polls `#id` until its text satisfies `done`, and returns that text.
pub async fn wait_for(client: &Client, id: &str, seconds: u64, done: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let value = text(client, id).await;
        if done(&value) {
            return value;
        }
        // A failed worker will not bring what is awaited: say so now rather than at the timeout.
        let error = text(client, "error").await;
        if id != "error" && error.starts_with("the training worker failed") {
            panic!("#{id} reads {value:?}, and the page says {error:?}");
        }
        if started.elapsed() > Duration::from_secs(seconds) {
            let status = text(client, "status").await;
            let error = text(client, "error").await;
            panic!("#{id} still reads {value:?} after {seconds} s (status {status:?}, error {error:?})");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The page served on `port`, with its data loaded and its CPU thread pool ready (one thread per
/// logical core).
pub async fn open_with_threads(port: u16) -> (Client, Driver) {
    let (client, driver) = browser().await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.expect("open the page");
    ready_with_threads(&client).await;
    (client, driver)
}

/// Waits until the page (opened or reloaded) has its data and its CPU thread pool.
pub async fn ready_with_threads(client: &Client) {
    wait_for(client, "status", 180, |s| s.starts_with("Ready")).await;
    let cores = client.execute("return navigator.hardwareConcurrency", vec![]).await.expect("read the cores");
    let cores = cores.as_u64().expect("a core count").to_string();
    wait_for(client, "cpu-threads", 120, |t| t == cores).await;
}

/// Whether the status reads step 10 or later of epoch 2: epoch 1's checkpoint is then stored (the
/// worker writes it in the background while the next steps run).
pub fn into_epoch_2(status: &str) -> bool {
    let step = status.strip_prefix("Epoch 2: step ").and_then(|rest| rest.split(' ').next()?.parse::<usize>().ok());
    step.is_some_and(|step| step >= 10)
}

/// Types into each field in turn.
pub async fn set_fields(client: &Client, fields: &[(&str, &str)]) {
    for (id, value) in fields {
        set_field(client, id, value).await;
    }
}

/// Types into a field the way a user does, so the page's input handler sees it.
pub async fn set_field(client: &Client, id: &str, value: &str) {
    let script = "const e = document.getElementById(arguments[0]); e.value = arguments[1]; \
                  e.dispatchEvent(new Event('input', { bubbles: true }));";
    client.execute(script, vec![id.into(), value.into()]).await.expect("set a field");
}

pub fn dist() -> PathBuf {
    std::env::var_os("DIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist"))
}

/// Clicks the button `#id`.
pub async fn click(client: &Client, id: &str) {
    client.find(Locator::Id(id)).await.expect("the button").click().await.expect("a click");
}

/// Picks `value` in the select `#id`, as a user does.
pub async fn choose(client: &Client, id: &str, value: &str) {
    let script = "const e = document.getElementById(arguments[0]); e.value = arguments[1]; \
                  e.dispatchEvent(new Event('change', { bubbles: true }));";
    client.execute(script, vec![id.into(), value.into()]).await.expect("choose an option");
}

/// Picks a backend in the page's select.
pub async fn choose_backend(client: &Client, value: &str) {
    choose(client, "backend-choice", value).await;
}

/// The current value of the field `#id` (what a textarea holds is not its text).
pub async fn value(client: &Client, id: &str) -> String {
    let script = "return document.getElementById(arguments[0]).value";
    let v = client.execute(script, vec![id.into()]).await.expect("read a field");
    v.as_str().unwrap_or_default().to_string()
}

/// What ECharts draws in chart `#id` once `done` accepts it: `{legend: [label, ...], series:
/// [[name, points], ...]}` (the page redraws its charts a few times a second, not at every step).
pub async fn wait_for_chart(
    client: &Client,
    id: &str,
    seconds: u64,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    // A chart between two of the page's options may have no legend or series yet: read as null.
    let script = "const c = echarts.getInstanceByDom(document.getElementById(arguments[0])); \
                  if (!c) return null; const o = c.getOption(); \
                  if (!o.legend?.[0]?.data || !o.series) return null; \
                  return { legend: o.legend[0].data.map(d => d.name ?? d), series: o.series.map(s => [s.name, (s.data || []).length]) };";
    let started = Instant::now();
    loop {
        let chart = client.execute(script, vec![id.into()]).await.expect("read the chart");
        if done(&chart) {
            return chart;
        }
        assert!(started.elapsed() < Duration::from_secs(seconds), "chart #{id} after {seconds} s: {chart}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A file in `dir` whose name ends with `extension`, once the browser has finished writing it.
pub async fn downloaded(dir: &std::path::Path, extension: &str) -> std::path::PathBuf {
    for _ in 0..150 {
        let files = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path());
        if let Some(file) = files.into_iter().find(|p| p.extension().is_some_and(|e| e == extension)) {
            return file;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no .{extension} file in {} after 30 s", dir.display());
}

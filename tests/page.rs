//! The built site (`trunk build --release` -> `dist/`) served on localhost and driven in headless
//! Chromium through chromedriver, as a learner would use it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
// chromedriver is on localhost: plain HTTP, no TLS stack to build.
use hyper_util::client::legacy::connect::HttpConnector;

/// Serves `dist/` on a free port from a background thread.
fn serve(dir: PathBuf) -> u16 {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind a local port");
    let port = server.server_addr().to_ip().expect("an IP address").port();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let path = request.url().split('?').next().unwrap_or("/").trim_start_matches('/').to_string();
            let path = if path.is_empty() { "index.html".to_string() } else { path };
            let file = dir.join(&path);
            let response = match (path.contains(".."), std::fs::read(&file)) {
                (false, Ok(bytes)) => {
                    let kind = match file.extension().and_then(|e| e.to_str()) {
                        Some("html") => "text/html; charset=utf-8",
                        Some("js") => "text/javascript",
                        Some("wasm") => "application/wasm",
                        Some("css") => "text/css",
                        _ => "application/octet-stream",
                    };
                    let header = tiny_http::Header::from_bytes("Content-Type", kind).expect("a valid header");
                    tiny_http::Response::from_data(bytes).with_header(header)
                }
                _ => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
            };
            let _ = request.respond(response);
        }
    });
    port
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

async fn browser() -> (Client, Driver) {
    let port = free_port();
    let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
    let driver = Driver(child);
    let profile = std::env::temp_dir().join(format!("e2e-chromium-{port}"));
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "args": [
                "--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                format!("--user-data-dir={}", profile.display()),
            ]
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

async fn text(client: &Client, id: &str) -> String {
    match client.find(Locator::Id(id)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Polls `#id` until its text satisfies `done`, and returns that text.
async fn wait_for(client: &Client, id: &str, seconds: u64, done: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let value = text(client, id).await;
        if done(&value) {
            return value;
        }
        if started.elapsed() > Duration::from_secs(seconds) {
            let status = text(client, "status").await;
            let error = text(client, "error").await;
            panic!("#{id} still reads {value:?} after {seconds} s (status {status:?}, error {error:?})");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Types into a field the way a user does, so the page's input handler sees it.
async fn set_field(client: &Client, id: &str, value: &str) {
    let script = "const e = document.getElementById(arguments[0]); e.value = arguments[1]; \
                  e.dispatchEvent(new Event('input', { bubbles: true }));";
    client.execute(script, vec![id.into(), value.into()]).await.expect("set a field");
}

fn dist() -> PathBuf {
    std::env::var_os("DIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist"))
}

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
    client.find(Locator::Id("train")).await.expect("a Train button").click().await.expect("click Train");
    let error = wait_for(&client, "error", 10, |e| !e.is_empty()).await;
    assert!(error.contains("max-pool of VGG block 5 gets a 1x1 map"), "{error}");

    set_field(&client, "size", "56").await;
    set_field(&client, "train-images", "256").await;
    client.find(Locator::Id("train")).await.expect("a Train button").click().await.expect("click Train");
    let first = wait_for(&client, "loss", 300, |l| l.parse::<f32>().is_ok()).await;
    let backend = text(&client, "backend").await;
    assert!(backend.starts_with("WebGPU"), "the page should train on WebGPU, shows {backend:?}");
    let later = wait_for(&client, "loss", 300, |l| l != first).await;
    assert!(later.parse::<f32>().is_ok_and(f32::is_finite), "loss {first} became {later:?}");
    assert_eq!(text(&client, "error").await, "");
    client.close().await.expect("close the browser");
}

//! The browser side of the benchmark (`bash dev/bench.sh` runs it with the native peers and prints
//! the table): training steps timed after a warm-up, in headless Chromium, for
//! - ours: the built page's training workers (`dist/`), asked for a timed trial on WebGPU and on the
//!   CPU with one thread (`trainer`), and on the CPU with every core (`trainer-threads`), exactly
//!   as they train;
//! - TensorFlow.js: the same networks in `dev/bench/tfjs.html`, on each backend that can train them.
//!
//! Prints one JSON object per measurement; our trials' rows carry `host_share`, the part of a step
//! the worker spent building and recording it rather than waiting on the device. Set by the environment: `BENCH_SPECS` (a JSON object
//! of model name -> spec, as `cnn spec` prints them), `BENCH_SIZES`, `BENCH_BATCHES`,
//! `BENCH_SYSTEMS` (of `ours-cpu ours-cpu-threads ours-webgpu tfjs-webgl tfjs-webgpu tfjs-wasm`), `BENCH_WARMUP`,
//! `BENCH_STEPS` (`ours-webgpu-blocked` and the like: WebGPU with those kernels), `BENCH_TFJS_DIR` (where `tfjs.html` and its npm packages are), and for the GPU
//! systems `BENCH_GPU_SIZES`, `BENCH_GPU_BATCHES`, `BENCH_GPU_WARMUP` and `BENCH_GPU_STEPS`: on a
//! software adapter (SwiftShader) a step takes seconds to minutes, so fewer settings and steps.
//!
//! Then a matrix product microbenchmark on each system: `BENCH_MATMUL` (sizes, default 1024;
//! empty for none) products of two square matrices, `BENCH_MATMUL_REPEATS` of them timed after
//! one, in GFLOP/s; ours on WebGPU with each of `BENCH_MATMUL_KERNELS` (default `simple,blocked,burn`).

// Shared with the end-to-end test, which uses the helpers this benchmark does not.
#[path = "support.rs"]
#[allow(dead_code)]
mod support;

use std::time::Duration;

use fantoccini::Client;
use fantoccini::error::CmdError;
use fantoccini::wd::TimeoutConfiguration;
use serde_json::{Value, json};
use support::{browser, dist, serve};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn list(name: &str, default: &str) -> Vec<String> {
    env_or(name, default).split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn number(name: &str, default: usize) -> usize {
    env_or(name, &default.to_string()).parse().unwrap_or_else(|_| panic!("{name} must be a number"))
}

/// Starts one of the page's own training workers, waits for its data, and asks it for one trial
/// (`Bench`) or one matrix product timing (`BenchMatmul`).
const OURS: &str = r#"
const [request, script, done] = arguments;
const worker = new Worker(script, { type: 'module' });
worker.onerror = (e) => done({ Failed: 'the worker failed to start: ' + e.message });
worker.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.Loaded) {
    worker.postMessage(JSON.stringify(request));
  } else if (message.Speed || message.Matmul || message.Failed || message.LoadFailed) {
    worker.terminate();
    done(message);
  }
};
"#;

const TFJS: &str = r#"
const [spec, size, batch, warmup, steps, backend, done] = arguments;
window.benchTfjs(spec, size, batch, warmup, steps, backend).then(done, (e) => done({ Failed: String(e.message || e) }));
"#;

const TFJS_MATMUL: &str = r#"
const [size, repeats, backend, done] = arguments;
window.benchMatmul(size, repeats, backend).then(done, (e) => done({ Failed: String(e.message || e) }));
"#;

/// The backend and the worker script of one of our systems.
fn worker_of(system: &str) -> (&'static str, &'static str) {
    match system {
        webgpu if webgpu.starts_with("ours-webgpu") => ("Wgpu", "./trainer_loader.js"),
        "ours-cpu" => ("Cpu", "./trainer_loader.js"),
        _ => ("Cpu", "./trainer_threads_loader.js"),
    }
}

/// Runs one `trial` of `spec` in the worker and on the backend of one of our systems; a system
/// named `ours-webgpu-<kernels>` runs those GPU kernels (`ToWorker::BenchMatmul` names them).
async fn ours(client: &Client, system: &str, spec: &Value, trial: Value) -> Result<Value, CmdError> {
    let (backend, script) = worker_of(system);
    let kernels = system.strip_prefix("ours-webgpu-");
    let request = json!({"Bench": {"model": spec, "trial": trial, "backend": backend, "kernels": kernels}});
    client.execute_async(OURS, vec![request, script.into()]).await
}

/// Rows of the matrix product microbenchmark for `system`, printed as they come.
async fn matmul_rows(client: &Client, system: &str, sizes: &[usize], repeats: usize) {
    // `ours-webgpu` times every kind of kernel.
    if system.starts_with("ours-webgpu-") {
        return;
    }
    for &size in sizes {
        let runs: Vec<(String, Result<Value, CmdError>)> = match system.strip_prefix("tfjs-") {
            Some(backend) => {
                let args = vec![size.into(), repeats.into(), backend.into()];
                vec![("tfjs".into(), client.execute_async(TFJS_MATMUL, args).await)]
            }
            None => {
                let (backend, script) = worker_of(system);
                let kernels = match system {
                    "ours-webgpu" => list("BENCH_MATMUL_KERNELS", "simple,blocked,burn"),
                    _ => vec!["ours".into()],
                };
                let mut runs = Vec::new();
                for name in kernels {
                    let request =
                        json!({"BenchMatmul": {"size": size, "repeats": repeats, "backend": backend, "kernels": name}});
                    runs.push((name, client.execute_async(OURS, vec![request, script.into()]).await));
                }
                runs
            }
        };
        for (kernels, reply) in runs {
            let reply = reply.unwrap_or_else(|e| json!({"Failed": e.to_string()}));
            let mut row = json!({"system": system, "matmul": size, "kernels": kernels});
            match reply.pointer("/Matmul/gflops").or(reply.get("gflops")) {
                Some(gflops) => {
                    row["gflops"] = gflops.clone();
                    row["backend"] =
                        reply.pointer("/Matmul/backend").or(reply.get("backend")).cloned().unwrap_or_default();
                }
                None => {
                    row["error"] = reply
                        .get("Failed")
                        .or(reply.get("LoadFailed"))
                        .cloned()
                        .unwrap_or_else(|| reply.to_string().into())
                }
            }
            println!("{row}");
        }
    }
}

async fn open(client: &Client, port: u16, page: &str) {
    client.goto(&format!("http://127.0.0.1:{port}/{page}")).await.expect("open the page");
}

#[tokio::main]
async fn main() {
    let specs: serde_json::Map<String, Value> = serde_json::from_str(&env_or("BENCH_SPECS", "{}"))
        .expect("BENCH_SPECS must be a JSON object of name -> spec (dev/bench.sh sets it)");
    let sizes: Vec<usize> = list("BENCH_SIZES", "56,84").iter().map(|s| s.parse().expect("a size")).collect();
    let batches: Vec<usize> = list("BENCH_BATCHES", "32,128").iter().map(|s| s.parse().expect("a batch")).collect();
    let systems = list("BENCH_SYSTEMS", "ours-cpu,ours-cpu-threads,ours-webgpu,tfjs-webgl,tfjs-webgpu,tfjs-wasm");
    let (warmup, steps) = (number("BENCH_WARMUP", 3), number("BENCH_STEPS", 10));
    let gpu_sizes: Vec<usize> = list("BENCH_GPU_SIZES", "56").iter().map(|s| s.parse().expect("a size")).collect();
    let gpu_batches: Vec<usize> = list("BENCH_GPU_BATCHES", "32").iter().map(|s| s.parse().expect("a batch")).collect();
    let (gpu_warmup, gpu_steps) = (number("BENCH_GPU_WARMUP", 1), number("BENCH_GPU_STEPS", 2));
    let matmul: Vec<usize> = list("BENCH_MATMUL", "1024").iter().map(|s| s.parse().expect("a size")).collect();
    let matmul_repeats = number("BENCH_MATMUL_REPEATS", 5);
    assert!(!specs.is_empty() || !matmul.is_empty(), "nothing to time: run dev/bench.sh, which sets BENCH_SPECS");

    let ours_port = serve(dist());
    let tfjs_port = std::env::var_os("BENCH_TFJS_DIR").map(|d| serve(d.into()));
    let (client, _driver) = browser().await;
    let hour = Duration::from_secs(3600);
    client.update_timeouts(TimeoutConfiguration::new(Some(hour), Some(hour), None)).await.expect("timeouts");
    for system in &systems {
        let (page, port) = match system.strip_prefix("tfjs-") {
            Some(_) => ("tfjs.html", tfjs_port.expect("BENCH_TFJS_DIR must name the TF.js bench folder")),
            // Not the page, which starts its own workers: a path with no file behind it gives an
            // empty, cross-origin isolated document of the same origin, so only the timed worker runs.
            None => ("no-page", ours_port),
        };
        open(&client, port, page).await;
        let on_cpu = system.starts_with("ours-cpu") || system.ends_with("wasm");
        let (sizes, batches, warmup, timed) =
            if on_cpu { (&sizes, &batches, warmup, steps) } else { (&gpu_sizes, &gpu_batches, gpu_warmup, gpu_steps) };
        // V8 first runs wasm on its baseline compiler and optimises hot code in the background,
        // which on two cores took most of a short first trial (vgg11-r4, batch 32, 2 threads: 81
        // examples/s first, 112 once optimised). A throwaway trial first; the optimised code is
        // shared by the later workers of this page.
        if system.starts_with("ours-") {
            let trial = json!({"image_size": sizes[0], "batch_size": batches[0], "warmup": 0, "steps": warmup + timed});
            let spec = specs.values().next().cloned().unwrap_or_default();
            let _ = ours(&client, system, &spec, trial).await;
        }
        for (name, spec) in &specs {
            for &size in sizes {
                for &batch in batches {
                    let reply = match system.as_str() {
                        ours_system if ours_system.starts_with("ours-") => {
                            let trial =
                                json!({"image_size": size, "batch_size": batch, "warmup": warmup, "steps": timed});
                            ours(&client, system, spec, trial).await
                        }
                        _ => {
                            let backend = system.trim_start_matches("tfjs-");
                            let args = vec![
                                spec.clone(),
                                size.into(),
                                batch.into(),
                                warmup.into(),
                                timed.into(),
                                backend.into(),
                            ];
                            client.execute_async(TFJS, args).await
                        }
                    };
                    let reply = reply.unwrap_or_else(|e| json!({"Failed": e.to_string()}));
                    let mut row = json!({"system": system, "model": name, "size": size, "batch": batch});
                    if let Some(speed) =
                        reply.pointer("/Speed/speed/examples_per_sec").or(reply.get("examples_per_sec"))
                    {
                        row["examples_per_sec"] = speed.clone();
                        if let Some(share) = reply.pointer("/Speed/speed/host_share") {
                            row["host_share"] = share.clone();
                        }
                        row["backend"] =
                            reply.pointer("/Speed/backend").or(reply.get("backend")).cloned().unwrap_or_default();
                    } else {
                        let failed = reply.get("Failed").or(reply.get("LoadFailed")).cloned();
                        row["error"] = failed.unwrap_or_else(|| reply.to_string().into());
                    }
                    println!("{row}");
                }
            }
        }
        matmul_rows(&client, system, &matmul, matmul_repeats).await;
    }
    client.close().await.expect("close the browser");
}

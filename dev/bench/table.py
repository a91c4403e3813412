"""Prints the benchmark's rows (JSON lines from `cnn bench --json`, torch_bench.py and the browser
bench) as Markdown tables: examples/s and achieved GFLOP/s per system, and our ratios to the
peers (GFLOP/s count a training step as three forward passes of our analysis's MACs, two
floating-point operations each); then the matrix product microbenchmark's GFLOP/s."""
import json
import sys

SYSTEMS = [  # (key, column title)
    ("ours-native-cpu", "ours native CPU"),
    ("ours-native-wgpu", "ours native wgpu"),
    ("ours-native-vulkan", "ours native Vulkan"),
    ("pytorch", "PyTorch CPU"),
    ("ours-cpu", "ours browser CPU 1 thread"),
    ("ours-cpu-threads", "ours browser CPU all threads"),
    ("ours-webgpu", "ours browser WebGPU"),
    ("tfjs-webgl", "TF.js webgl"),
    ("tfjs-webgpu", "TF.js webgpu"),
    ("tfjs-wasm", "TF.js wasm"),
]


def main(path):
    rows, macs, backends, errors, products = {}, {}, {}, {}, {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if "matmul" in r:
            label = f"{r['system']} ({r['kernels']} kernels)" if r["system"].startswith("ours") else r["system"]
            products.setdefault(r["matmul"], {})[label] = r.get("gflops", r.get("error", "failed"))
            continue
        if "macs" in r:
            macs[(r["model"], r["size"])] = r["macs"]
        if "examples_per_sec" in r:
            rows.setdefault((r["model"], r["size"], r["batch"]), {})[r["system"]] = r["examples_per_sec"]
            # A software adapter's label says so ("(software adapter)"): its speed says nothing of a GPU's.
            backends.setdefault(r["system"], r.get("backend", ""))
        else:
            errors.setdefault(r["system"], r.get("error", "failed"))
    present = [(k, t) for k, t in SYSTEMS if any(k in v for v in rows.values())]
    # WebGPU with other kernels than the default (`ours-webgpu-blocked`), after the default.
    named = {k for k, _ in SYSTEMS}
    others = sorted({k for v in rows.values() for k in v if k not in named})
    at = next((i + 1 for i, (k, _) in enumerate(present) if k == "ours-webgpu"), len(present))
    present[at:at] = [(k, "ours browser WebGPU, " + k.removeprefix("ours-webgpu-") + " kernels") for k in others]
    head = ["model", "px", "batch"] + [t for _, t in present] + ["native ÷ PyTorch", "browser all threads ÷ 1 thread",
                                                       "browser CPU ÷ best TF.js", "best browser WebGPU ÷ best TF.js"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for (model, size, batch), got in sorted(rows.items()):
        m = macs.get((model, size))
        cells = [model, str(size), str(batch)]
        for k, _ in present:
            eps = got.get(k)
            if eps is None:
                cells.append("–")
            elif m:
                cells.append(f"{eps:.1f} ({6 * m * eps / 1e9:.1f})")
            else:
                cells.append(f"{eps:.1f}")
        ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "–"
        tfjs = max((got[k] for k in ("tfjs-webgl", "tfjs-webgpu", "tfjs-wasm") if k in got), default=None)
        browser_cpu = got.get("ours-cpu-threads") or got.get("ours-cpu")
        threads = ratio(got.get("ours-cpu-threads"), got.get("ours-cpu"))
        cells += [ratio(got.get("ours-native-cpu"), got.get("pytorch")), threads, ratio(browser_cpu, tfjs),
                  ratio(max((v for k, v in got.items() if k.startswith("ours-webgpu")), default=None), tfjs)]
        print("| " + " | ".join(cells) + " |")
    print()
    print("Cells: examples/s (GFLOP/s). Backends: " + "; ".join(f"{k}: {b}" for k, b in backends.items() if b))
    for k, e in errors.items():
        print(f"{k} did not run: {e}")
    for size, got in sorted(products.items()):
        print(f"\nProducts of two {size}x{size} matrices, GFLOP/s:\n")
        print("| system | GFLOP/s |\n|---|---|")
        for label, gflops in got.items():
            print(f"| {label} | {gflops:.1f} |" if isinstance(gflops, float) else f"| {label} | {gflops} |")


if __name__ == "__main__":
    main(sys.argv[1])

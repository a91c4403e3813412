"""PyTorch's side of the benchmark: the same networks, built from our own spec JSON (d2l's VGG
and ResNet code), timed on the same training steps as `cnn bench`: forward, cross-entropy,
backward and a plain SGD update, after a warm-up. Prints one JSON object per row.

    python dev/bench/torch_bench.py --name vgg11-r4 --spec "$(cnn spec --model vgg11-r4)"
"""
import argparse
import json
import os
import time

import torch
from torch import nn


def vgg(spec, classes):
    layers, c = [], 1
    for convs, width in spec["arch"]:
        for _ in range(convs):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU()]
            c = width
        layers.append(nn.MaxPool2d(2, 2))
    layers.append(nn.Flatten())
    for _ in range(2):
        layers += [nn.LazyLinear(spec["head_width"]), nn.ReLU(), nn.Dropout(spec["dropout"])]
    return nn.Sequential(*layers, nn.LazyLinear(classes))


class Residual(nn.Module):
    def __init__(self, cin, out, stride):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, out, 3, stride, 1), nn.BatchNorm2d(out), nn.ReLU(),
                                  nn.Conv2d(out, out, 3, 1, 1), nn.BatchNorm2d(out))
        self.shortcut = nn.Conv2d(cin, out, 1, stride) if stride != 1 or cin != out else nn.Identity()

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet(spec, classes):
    if spec["block"] != "basic":
        raise SystemExit("the PyTorch benchmark builds ResNets of basic blocks only")
    c = spec["stem_channels"]
    layers = [nn.Conv2d(1, c, 7, 2, 3), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    for i, (blocks, width) in enumerate(spec["stages"]):
        for j in range(blocks):
            layers.append(Residual(c, width, 2 if i > 0 and j == 0 else 1))
            c = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--spec", required=True, help="the model spec as JSON (cnn spec --model NAME)")
    ap.add_argument("--sizes", default="56,84")
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    spec = json.loads(args.spec)
    build = {"vgg": vgg, "resnet": resnet}.get(spec["kind"])
    if build is None:
        raise SystemExit(f"the PyTorch benchmark has no {spec['kind']} network")
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    for size in map(int, args.sizes.split(",")):
        for batch in map(int, args.batches.split(",")):
            torch.manual_seed(0)
            model = build(spec, 10)
            model(torch.zeros(1, 1, size, size))  # materialise the lazy layers
            model.train()
            optim = torch.optim.SGD(model.parameters(), lr=0.01)
            x, y = torch.randn(batch, 1, size, size), torch.randint(0, 10, (batch,))

            def step():
                optim.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                optim.step()
                return loss.item()

            for _ in range(args.warmup):
                step()
            started = time.perf_counter()
            for _ in range(args.steps):
                step()
            seconds = time.perf_counter() - started
            print(json.dumps({"system": "pytorch", "backend": f"PyTorch {torch.__version__} CPU, {threads} threads",
                              "model": args.name, "size": size, "batch": batch,
                              "examples_per_sec": args.steps * batch / seconds}), flush=True)


if __name__ == "__main__":
    main()

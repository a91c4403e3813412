"""Loads weights that `cnn export` wrote into d2l's PyTorch code of the same spec and checks that
the logits agree with the playground's on the same real test images.

    cargo run --release -p cnn-cli -- train --model resnet-small --size 28 --recipe quick --save run.ckpt
    cargo run --release -p cnn-cli -- export --weights run.ckpt --out run.safetensors
    python3 dev/torch_check.py run.safetensors      # needs torch, safetensors, numpy

d2l's classes (PyTorch edition, "Modern CNNs") are transcribed below with the spec's numbers in
place of the book's constants. Tensors are matched by order: the export lists each layer's
tensors in the network's order (`nodes.0.weight`, `nodes.1.running_mean`, ...), and the d2l model
is run once with hooks that record which of its layers with weights run in which order. Every
tensor's shape must agree. Transcribed so far: VGG and ResNet (basic blocks); other families get
a sentence saying so.
"""
import json
import re
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F


def vgg_block(num_convs, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, arch, head_width=4096, dropout=0.5, num_classes=10):
        super().__init__()
        conv_blks = [vgg_block(n, c) for n, c in arch]
        self.net = nn.Sequential(
            *conv_blks, nn.Flatten(),
            nn.LazyLinear(head_width), nn.ReLU(), nn.Dropout(dropout),
            nn.LazyLinear(head_width), nn.ReLU(), nn.Dropout(dropout),
            nn.LazyLinear(num_classes))

    def forward(self, x):
        return self.net(x)


class Residual(nn.Module):
    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        self.bn1 = nn.LazyBatchNorm2d()
        self.bn2 = nn.LazyBatchNorm2d()

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


class ResNet(nn.Module):
    def b1(self, stem):
        return nn.Sequential(nn.LazyConv2d(stem, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(),
                             nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def block(self, num_residuals, num_channels, first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels))
        return nn.Sequential(*blk)

    def __init__(self, arch, stem=64, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(self.b1(stem))
        for i, b in enumerate(arch):
            self.net.add_module(f"b{i + 2}", self.block(*b, first_block=(i == 0)))
        self.net.add_module("last", nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                                                  nn.LazyLinear(num_classes)))

    def forward(self, x):
        return self.net(x)


def d2l_model(spec):
    kind = spec["kind"]
    if kind == "vgg":
        return VGG(spec["arch"], spec["head_width"], spec["dropout"])
    if kind == "resnet" and spec.get("block", "basic") == "basic":
        return ResNet(spec["stages"], spec["stem_channels"])
    sys.exit(f"d2l's PyTorch code for {kind!r} specs is not transcribed here yet (VGG and ResNet with basic blocks are)")


def natural(key):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def main(path):
    from safetensors import safe_open  # only here: d2l_reference.py imports the models without it

    path = Path(path)
    reference = json.loads(path.with_suffix(".reference.json").read_text())
    spec, ref = reference["spec"], reference["reference"]
    images = torch.tensor(ref["images"], dtype=torch.float32).reshape(ref["shape"])
    model = d2l_model(spec["model"]).eval()
    model(images[:1])  # materialises the lazy layers
    order = []
    hooks = [m.register_forward_hook(lambda m, i, o: order.append(m))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d))]
    model(images[:1])
    for h in hooks:
        h.remove()

    with safe_open(str(path), framework="pt") as f:
        keys = sorted(f.keys(), key=natural)
        groups = {}
        for key in keys:
            prefix, name = key.rsplit(".", 1)
            groups.setdefault(prefix, {})[name] = f.get_tensor(key)
    if len(groups) != len(order):
        sys.exit(f"{path} holds {len(groups)} layers with weights; d2l's model of this spec has {len(order)}")
    with torch.no_grad():
        for (prefix, tensors), module in zip(groups.items(), order):
            state = module.state_dict()
            for name, tensor in tensors.items():
                if name not in state or state[name].shape != tensor.shape:
                    want = tuple(state[name].shape) if name in state else "nothing"
                    sys.exit(f"{prefix}.{name} is {tuple(tensor.shape)}, d2l's {type(module).__name__} wants {want}")
                state[name].copy_(tensor)
    with torch.no_grad():
        logits = model(images)
    ours = torch.tensor(ref["logits"], dtype=torch.float32).reshape(logits.shape)
    diff = (logits - ours).abs().max().item()
    agree = (logits.argmax(1) == ours.argmax(1)).float().mean().item()
    labels = torch.tensor(ref["labels"])
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    print(f"{len(order)} layers loaded into d2l's {type(model).__name__}; {len(labels)} test images: "
          f"largest logit difference {diff:.2e}, same class for {agree:.0%}, d2l's model right on {accuracy:.0%}")
    if diff > 1e-3 * max(1.0, ours.abs().max().item()):
        sys.exit("the logits disagree")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run.safetensors")

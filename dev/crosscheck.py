"""A second implementation of the presets: d2l's "Modern CNNs" code transcribed to tinygrad.

Prints, per preset at its input size (1 channel, 10 classes) and for the two reference models at
3x224x224, the learnable parameters, conv and linear MACs, and the logits' shape, counted from
tinygrad's own modules and tensor shapes. `crates/cnn-models/tests/tables.rs` holds these figures.

    python3 -m venv /tmp/tg && /tmp/tg/bin/pip install tinygrad && /tmp/tg/bin/python dev/crosscheck.py
"""
import os

os.environ.setdefault("DEV", "PYTHON")  # shapes and counts only: no kernel ever runs
from tinygrad import Tensor, nn
from tinygrad.nn.state import get_state_dict

MACS = {"conv": 0, "linear": 0}


class Conv:
    def __init__(self, cin, cout, k, stride=1, padding=0, groups=1):
        self.m, self.groups, self.k = nn.Conv2d(cin, cout, k, stride, padding, groups=groups), groups, k

    def __call__(self, x):
        y = self.m(x)
        cin, (_, cout, h, w) = x.shape[1], y.shape
        MACS["conv"] += cin * cout * h * w * self.k * self.k // self.groups
        return y


class Linear:
    def __init__(self, i, o):
        self.m = nn.Linear(i, o)

    def __call__(self, x):
        MACS["linear"] += x.shape[1] * self.m.weight.shape[0]
        return self.m(x)


def seq(*fs):
    def run(x):
        for f in fs:
            x = f(x)
        return x
    run.parts = fs
    return run


relu = Tensor.relu
flatten = lambda x: x.flatten(1)
gap = lambda x: x.mean(axis=(2, 3), keepdim=True)
maxpool = lambda k, s, p=0: (lambda x: x.max_pool2d((k, k), s, padding=p))
dropout = lambda x: x  # no parameters, no MACs, and the count runs in inference


def alexnet(c, size, classes):
    # d2l 8.1: the conv stack, then two 4096-wide layers.
    f = seq(Conv(c, 96, 11, 4, 1), relu, maxpool(3, 2), Conv(96, 256, 5, padding=2), relu, maxpool(3, 2),
            Conv(256, 384, 3, padding=1), relu, Conv(384, 384, 3, padding=1), relu, Conv(384, 256, 3, padding=1),
            relu, maxpool(3, 2), flatten)
    n = f(Tensor.empty(1, c, size, size)).shape[1]
    return seq(f, Linear(n, 4096), relu, dropout, Linear(4096, 4096), relu, dropout, Linear(4096, classes))


def vgg(arch, c, size, classes):
    layers = []
    for num_convs, out in arch:
        for _ in range(num_convs):
            layers += [Conv(c, out, 3, padding=1), relu]
            c = out
        layers.append(maxpool(2, 2))
    n = c * (size // 2 ** len(arch)) ** 2
    return seq(*layers, flatten, Linear(n, 4096), relu, dropout, Linear(4096, 4096), relu, dropout,
               Linear(4096, classes))


def nin_block(cin, out, k, s, p):
    return seq(Conv(cin, out, k, s, p), relu, Conv(out, out, 1), relu, Conv(out, out, 1), relu)


def nin(c, size, classes):
    return seq(nin_block(c, 96, 11, 4, 0), maxpool(3, 2), nin_block(96, 256, 5, 1, 2), maxpool(3, 2),
               nin_block(256, 384, 3, 1, 1), maxpool(3, 2), dropout, nin_block(384, classes, 3, 1, 1), gap, flatten)


def inception(cin, c1, c2, c3, c4):
    b1 = seq(Conv(cin, c1, 1), relu)
    b2 = seq(Conv(cin, c2[0], 1), relu, Conv(c2[0], c2[1], 3, padding=1), relu)
    b3 = seq(Conv(cin, c3[0], 1), relu, Conv(c3[0], c3[1], 5, padding=2), relu)
    b4 = seq(maxpool(3, 1, 1), Conv(cin, c4, 1), relu)
    run = lambda x: b1(x).cat(b2(x), b3(x), b4(x), dim=1)
    run.parts = [b1, b2, b3, b4]
    return run, c1 + c2[1] + c3[1] + c4


def googlenet(c, size, classes):
    parts = [Conv(c, 64, 7, 2, 3), relu, maxpool(3, 2, 1), Conv(64, 64, 1), relu, Conv(64, 192, 3, padding=1),
             relu, maxpool(3, 2, 1)]
    c = 192
    stages = [[(64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)],
              [(192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64), (128, (128, 256), (24, 64), 64),
               (112, (144, 288), (32, 64), 64), (256, (160, 320), (32, 128), 128)],
              [(256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)]]
    for i, stage in enumerate(stages):
        for args in stage:
            block, c = inception(c, *args)
            parts.append(block)
        parts.append(maxpool(3, 2, 1) if i < 2 else gap)
    return seq(*parts, flatten, Linear(c, classes))


def residual(cin, out, use_1x1, stride=1):
    conv1, bn1 = Conv(cin, out, 3, stride, 1), nn.BatchNorm(out)
    conv2, bn2 = Conv(out, out, 3, padding=1), nn.BatchNorm(out)
    conv3 = Conv(cin, out, 1, stride) if use_1x1 else None
    def run(x):
        y = bn2(conv2(bn1(conv1(x)).relu()))
        return (y + (conv3(x) if conv3 else x)).relu()
    run.parts = [conv1, bn1, conv2, bn2] + ([conv3] if conv3 else [])
    return run


def resnext(cin, out, groups, bot_mul, use_1x1, stride=1):
    bot = int(round(out * bot_mul))
    convs = [Conv(cin, bot, 1), Conv(bot, bot, 3, stride, 1, groups=bot // groups), Conv(bot, out, 1)]
    bns = [nn.BatchNorm(bot), nn.BatchNorm(bot), nn.BatchNorm(out)]
    short = (Conv(cin, out, 1, stride), nn.BatchNorm(out)) if use_1x1 else None
    def run(x):
        y = bns[0](convs[0](x)).relu()
        y = bns[1](convs[1](y)).relu()
        y = bns[2](convs[2](y))
        return (y + (short[1](short[0](x)) if short else x)).relu()
    run.parts = convs + bns + (list(short) if short else [])
    return run


def stem7(c, out):
    return [Conv(c, out, 7, 2, 3), nn.BatchNorm(out), relu, maxpool(3, 2, 1)]


def resnet(arch, c, size, classes, stem=64):
    parts, c = stem7(c, stem), stem
    for i, (n, out) in enumerate(arch):
        for j in range(n):
            first = j == 0 and i > 0
            parts.append(residual(c, out, first, 2 if first else 1))
            c = out
    return seq(*parts, gap, flatten, Linear(c, classes))


def densenet(c, size, classes, growth=32, arch=(4, 4, 4, 4)):
    parts, c = stem7(c, 64), 64
    for i, n in enumerate(arch):
        for _ in range(n):
            bn, conv = nn.BatchNorm(c), Conv(c, growth, 3, padding=1)
            f = (lambda bn, conv: (lambda x: x.cat(conv(bn(x).relu()), dim=1)))(bn, conv)
            f.parts = [bn, conv]
            parts.append(f)
            c += growth
        if i != len(arch) - 1:
            bn, conv = nn.BatchNorm(c), Conv(c, c // 2, 1)
            c //= 2
            f = (lambda bn, conv: (lambda x: conv(bn(x).relu()).avg_pool2d((2, 2), 2)))(bn, conv)
            f.parts = [bn, conv]
            parts.append(f)
    bn = nn.BatchNorm(c)
    return seq(*parts, bn, relu, gap, flatten, Linear(c, classes))


def anynet(stages, c, size, classes, block="resnext", stem=32):
    parts, c = [Conv(c, stem, 3, 2, 1), nn.BatchNorm(stem), relu], stem
    for depth, out, groups, bot in stages:
        for j in range(depth):
            stride = 2 if j == 0 else 1
            if block == "resnext":
                parts.append(resnext(c, out, groups, bot, j == 0, stride))
            else:
                parts.append(residual(c, out, j == 0, stride))
            c = out
    return seq(*parts, gap, flatten, Linear(c, classes))


def learnable(model):
    seen, total = set(), 0
    def walk(f):
        nonlocal total
        if id(f) in seen:
            return
        seen.add(id(f))
        if isinstance(f, (Conv, Linear)):
            f = f.m
        if isinstance(f, (nn.Conv2d, nn.Linear, nn.BatchNorm)):
            for k, t in get_state_dict(f).items():
                if "running" not in k and "num_batches" not in k:
                    total += t.numel()
        for p in getattr(f, "parts", []):
            walk(p)
    walk(model)
    return total


VGG = {"vgg11": [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)],
       "vgg13": [(2, 64), (2, 128), (2, 256), (2, 512), (2, 512)],
       "vgg16": [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)],
       "vgg19": [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]}
REGNETX32 = [(4, 32, 16, 1.0), (6, 80, 16, 1.0)]
PRESETS = {
    "alexnet": (224, alexnet),
    **{k: (224, lambda c, s, n, a=a: vgg(a, c, s, n)) for k, a in VGG.items()},
    **{k + "-r4": (224, lambda c, s, n, a=a: vgg([(x, y // 4) for x, y in a], c, s, n)) for k, a in VGG.items()},
    "nin": (224, nin),
    "googlenet": (96, googlenet),
    "resnet18": (96, lambda c, s, n: resnet([(2, 64), (2, 128), (2, 256), (2, 512)], c, s, n)),
    "resnet34": (96, lambda c, s, n: resnet([(3, 64), (4, 128), (6, 256), (3, 512)], c, s, n)),
    "resnet-small": (56, lambda c, s, n: resnet([(2, 16), (2, 32), (2, 64), (2, 128)], c, s, n, stem=16)),
    "densenet": (96, densenet),
    "regnetx32": (96, lambda c, s, n: anynet(REGNETX32, c, s, n)),
    "anynet-4stage": (96, lambda c, s, n: anynet([(1, 32, 16, 1.0), (2, 64, 16, 1.0), (4, 128, 16, 1.0),
                                                  (2, 256, 16, 1.0)], c, s, n)),
    "anynet-resnet": (96, lambda c, s, n: anynet(REGNETX32, c, s, n, block="residual")),
    "vionet-narrowing": (96, lambda c, s, n: anynet([(4, 80, 16, 1.0), (6, 32, 16, 1.0)], c, s, n)),
    "vionet-shallowing": (96, lambda c, s, n: anynet([(6, 32, 16, 1.0), (4, 80, 16, 1.0)], c, s, n)),
    "vionet-unshared": (96, lambda c, s, n: anynet([(4, 32, 8, 0.5), (6, 80, 16, 1.0)], c, s, n)),
}


def count(name, build, channels, size):
    model = build(channels, size, 10)
    MACS["conv"] = MACS["linear"] = 0  # building AlexNet runs its conv stack once
    shape = model(Tensor.empty(1, channels, size, size)).shape  # lazy: shapes only, nothing runs
    assert shape == (1, 10), f"{name} ends in {shape}"
    print(f'    ("{name}", {channels}, {size}, {learnable(model)}, {MACS["conv"]}, {MACS["linear"]}),')


if __name__ == "__main__":
    for name, (size, build) in PRESETS.items():
        count(name, build, 1, size)
    count("alexnet", alexnet, 3, 224)
    count("vgg11", PRESETS["vgg11"][1], 3, 224)

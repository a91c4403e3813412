"""Trains d2l's PyTorch code (the classes `torch_check.py` transcribes) with d2l's recipe on the
real Fashion-MNIST, so the playground's `--recipe d2l` has a reference on the same data, size and
network: whatever accuracy the book's own code reaches here is what the recipe reaches, not a
property of our kernels.

    cnn spec --model vgg11-r4 > vgg.json
    ~/.cache/cnn-playground/bench/venv/bin/python dev/d2l_reference.py vgg.json --size 56 --lr 0.05

d2l's recipe as the book's code runs it: images resized (bilinear, antialiased, back to 8 bits as
PIL does) and scaled to [0, 1] by `ToTensor`, no normalisation, no augmentation; Xavier-uniform
weights (`init_cnn`); plain SGD, cross-entropy, batches of 128 drawn afresh each epoch; the test
accuracy after every epoch. Prints one line per epoch.
"""
import argparse
import gzip
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from torch_check import d2l_model

DATA = Path(__file__).resolve().parent.parent / "public" / "data" / "fashion-mnist"


def idx(name):
    raw = gzip.open(DATA / name).read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def images(name, size):
    x = torch.from_numpy(idx(name).copy()).float().unsqueeze(1)
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        x = x.round().clamp(0, 255)
    return x / 255.0


def accuracy(model, x, y, batch=1000):
    model.eval()
    with torch.no_grad():
        right = sum((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item() for i in range(0, len(y), batch))
    return right / len(y)


def main():
    args = argparse.ArgumentParser()
    args.add_argument("spec", help="a model spec as `cnn spec` prints it")
    args.add_argument("--size", type=int, default=56)
    args.add_argument("--lr", type=float, default=0.05)
    args.add_argument("--batch-size", type=int, default=128)
    args.add_argument("--epochs", type=int, default=10)
    args.add_argument("--seed", type=int, default=0)
    args = args.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(args.seed)

    train_x, train_y = images("train-images-idx3-ubyte.gz", args.size), torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    test_x, test_y = images("t10k-images-idx3-ubyte.gz", args.size), torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = d2l_model(json.loads(Path(args.spec).read_text()))
    model(train_x[:1])  # materialises the lazy layers
    for m in model.modules():  # d2l's init_cnn
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    print(f"d2l's code, {args.size} px, plain SGD {args.lr}, batch {args.batch_size}, seed {args.seed}, "
          f"{torch.get_num_threads()} threads")
    for epoch in range(args.epochs):
        model.train()
        start, loss_sum, right = time.time(), 0.0, 0
        order = torch.randperm(len(train_y))
        for i in range(0, len(order), args.batch_size):
            take = order[i:i + args.batch_size]
            logits = model(train_x[take])
            loss = F.cross_entropy(logits, train_y[take])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(take)
            right += (logits.argmax(1) == train_y[take]).sum().item()
        seconds = time.time() - start
        print(f"epoch {epoch + 1}: train loss {loss_sum / len(order):.4f}, train accuracy {right / len(order):.3f}, "
              f"test accuracy {accuracy(model, test_x, test_y):.4f} ({len(order) / seconds:.0f} examples/s)", flush=True)


if __name__ == "__main__":
    main()

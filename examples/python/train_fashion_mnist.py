#!/usr/bin/env python3
"""Trains the Fashion-MNIST LeNet of examples/lenet_fashion.yaml from Python,
with the recipe compiled into the library (batch size, SGD settings, cosine
learning-rate schedule, normalisation), the way a PyTorch training loop
would; then reports the test accuracy and saves the weights.

    cnnc examples/lenet_fashion.yaml -o lenet_fashion.so
    PYTHONPATH=python python3 examples/python/train_fashion_mnist.py \\
        lenet_fashion.so -o lenet_fashion.safetensors

The data are Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
gzipped IDX files). Needs only numpy and the cnnc package."""
import argparse
import gzip
import math
import os
import struct
import sys
import time

import numpy as np

import cnnc


def read_idx(path):
    """An IDX file (gzipped or not) as a numpy array of its shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, rank = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    shape = struct.unpack(f">{rank}I", data[4:4 + 4 * rank])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(shape)


def load_split(directory, prefix, recipe):
    """Images as float32 [N, 1, 28, 28], scaled to [0, 1] and normalised with
    the recipe's mean and std (ToTensor + Normalize), and int64 labels."""
    def find(name):
        for candidate in (name, name + ".gz"):
            path = os.path.join(directory, candidate)
            if os.path.exists(path):
                return path
        sys.exit(f"{directory}: no {name}[.gz]")

    images = read_idx(find(f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find(f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    x = images.astype(np.float32)[:, None] / np.float32(255)
    normalize = recipe.get("normalize")
    if normalize:
        mean = np.array(normalize["mean"], np.float32)[None, :, None, None]
        std = np.array(normalize["std"], np.float32)[None, :, None, None]
        x = (x - mean) / std
    return np.ascontiguousarray(x), labels


def learning_rate(recipe, base, epoch):
    """The recipe's schedule (docs/network-yaml.md), as torch's StepLR and
    CosineAnnealingLR stepped once per epoch."""
    schedule = recipe.get("lr_schedule") or {}
    if "cosine" in schedule:
        c = schedule["cosine"]
        eta_min = c.get("eta_min", 0.0)
        return eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / c["t_max"])) / 2
    if "step" in schedule:
        s = schedule["step"]
        return base * s.get("gamma", 0.1) ** (epoch // s["step_size"])
    return base


def accuracy(model, x, y, batch):
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((model.forward(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return correct / len(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("library", help="lenet_fashion.so, compiled by cnnc")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--epochs", type=int, help="default: the recipe's")
    parser.add_argument("--limit", type=int,
                        help="train on the first LIMIT images only (a quick run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("-o", "--output", help="where to save the weights")
    args = parser.parse_args()

    model = cnnc.Model(args.library, seed=args.seed)
    model.num_threads = args.threads
    recipe = model.recipe
    sgd = recipe["optimizer"]["sgd"]
    epochs = args.epochs or recipe.get("epochs", 1)
    batch = recipe.get("batch_size", 64)
    print(model)
    x_train, y_train = load_split(args.data, "train", recipe)
    x_test, y_test = load_split(args.data, "t10k", recipe)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]

    rng = np.random.default_rng(args.seed)
    for epoch in range(epochs):
        lr = learning_rate(recipe, sgd["lr"], epoch)
        order = rng.permutation(len(x_train))
        start, total, seen, correct = time.perf_counter(), 0.0, 0, 0
        for i in range(0, len(order), batch):
            index = order[i:i + batch]
            x, y = x_train[index], y_train[index]
            total += model.train_step(x, y, lr, sgd["momentum"], sgd["weight_decay"],
                                      sgd["nesterov"]) * len(index)
            seen += len(index)
        seconds = time.perf_counter() - start
        train_accuracy = accuracy(model, x_train, y_train, 1000)
        test_accuracy = accuracy(model, x_test, y_test, 1000)
        print(f"epoch {epoch + 1}/{epochs}: lr {lr:.4g}, loss {total / seen:.4f}, "
              f"train accuracy {100 * train_accuracy:.2f}%, test accuracy "
              f"{100 * test_accuracy:.2f}%, {seen / seconds:.0f} images/s")
    if args.output:
        model.save(args.output, {"epoch": str(epochs)})
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

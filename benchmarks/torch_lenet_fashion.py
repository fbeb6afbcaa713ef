#!/usr/bin/env python3
"""The PyTorch side of the Fashion-MNIST demo: examples/lenet_fashion.yaml's
network and recipe (batch 64, SGD lr 0.01 momentum 0.9, 3 epochs, shuffled,
pixels scaled to [0, 1]) in torch, reporting test accuracy per epoch and
training images/s. Compare with `cnnc train` on the same machine.

usage: torch_lenet_fashion.py [DIR] [--epochs N] [--threads T] [--seed S]
                              [--normalize MEAN STD] [--cosine T_MAX]
                              [--device cuda]   (the data on the device first)
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# torch_models.py: next to this file where scripts/gpu-check.sh copied both,
# else the tests'.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "tests", "e2e")]
from torch_models import Net  # noqa: E402


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(directory, split):
    images = idx(os.path.join(directory, f"{split}-images-idx3-ubyte.gz"))
    labels = idx(os.path.join(directory, f"{split}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def train_epoch(model, optimizer, x_train, y_train, order):
    """One epoch of batches of 64 in `order`; the mean training loss."""
    model.train()
    total = 0.0
    for b in range(0, len(order), 64):
        batch = order[b:b + 64]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    return total / len(order)


def test_accuracy(model, x_test, y_test):
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum())
                      for i in range(0, len(x_test), 1000))
    return correct / len(x_test)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", nargs="?", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--normalize", type=float, nargs=2, metavar=("MEAN", "STD"),
                        help="transforms.Normalize((MEAN,), (STD,)) after scaling")
    parser.add_argument("--cosine", type=int, metavar="T_MAX",
                        help="CosineAnnealingLR(T_max=T_MAX), stepped once per epoch")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_train, y_train = load(args.dir, "train")
    x_test, y_test = load(args.dir, "t10k")
    if args.normalize:
        mean, std = args.normalize
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    x_train, y_train = x_train.to(device), y_train.to(device)
    x_test, y_test = x_test.to(device), y_test.to(device)
    model = Net(in_channels=1, conv1_padding=2).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.cosine)
                 if args.cosine else None)
    for epoch in range(args.epochs):
        order = torch.randperm(len(x_train), device=device)
        start = time.perf_counter()
        loss = train_epoch(model, optimizer, x_train, y_train, order)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        if scheduler:
            scheduler.step()
        accuracy = test_accuracy(model, x_test, y_test)
        print(f"torch epoch {epoch + 1}/{args.epochs}: train loss {loss:.4f}, "
              f"test accuracy {100.0 * accuracy:.2f}%, "
              f"{len(x_train) / seconds:.0f} images/s ({args.threads} threads, {device})",
              flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the Fashion-MNIST image folders of the transfer-learning demo.

Splits the ten classes in two tasks, like the lecture's ImageNet -> ants/bees:

  OUT/pretrain/train/<class>/  every training image of classes 0-4 (30,000)
  OUT/pretrain/test/<class>/   their test images (5,000)
  OUT/finetune/train/<class>/  PER_CLASS training images of each of classes
                               5-9 (a small labelled set; seeded choice)
  OUT/finetune/test/<class>/   every test image of classes 5-9 (5,000)

Class folders are named "<label>_<name>", so their sorted order (what
`folder:DIR` uses, like torchvision's ImageFolder) follows the labels. Images
are 28x28 grayscale PNGs, as in the dataset.

  make_fashion_folders.py OUT [--per-class 100] [--seed 0] [--data DIR]
"""
import argparse
import gzip
import os
import random
import struct

from PIL import Image

NAMES = ["tshirt", "trouser", "pullover", "dress", "coat",
         "sandal", "shirt", "sneaker", "bag", "ankle_boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:  # images
        rows, cols = struct.unpack(">II", data[8:16])
        size = rows * cols
        return [data[16 + i * size:16 + (i + 1) * size] for i in range(count)], (rows, cols)
    if magic == 2049:  # labels
        return list(data[8:8 + count]), None
    raise SystemExit(f"{path}: not an IDX image or label file (magic {magic})")


def write(images, labels, shape, classes, out, chosen=None):
    counts = {}
    for i, (pixels, label) in enumerate(zip(images, labels)):
        if label not in classes or (chosen is not None and i not in chosen):
            continue
        folder = os.path.join(out, f"{label}_{NAMES[label]}")
        os.makedirs(folder, exist_ok=True)
        Image.frombytes("L", (shape[1], shape[0]), pixels).save(
            os.path.join(folder, f"{i:05d}.png"))
        counts[label] = counts.get(label, 0) + 1
    return sum(counts.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--per-class", type=int, default=100,
                        help="labelled fine-tuning images per class (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()

    train_x, shape = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    train_y, _ = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"))
    test_x, _ = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    test_y, _ = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))

    first, second = set(range(5)), set(range(5, 10))
    rng = random.Random(args.seed)
    chosen = set()
    for label in sorted(second):
        indices = [i for i, y in enumerate(train_y) if y == label]
        chosen.update(rng.sample(indices, args.per_class))

    counts = [
        ("pretrain/train", write(train_x, train_y, shape, first, os.path.join(args.out, "pretrain", "train"))),
        ("pretrain/test", write(test_x, test_y, shape, first, os.path.join(args.out, "pretrain", "test"))),
        ("finetune/train", write(train_x, train_y, shape, second, os.path.join(args.out, "finetune", "train"), chosen)),
        ("finetune/test", write(test_x, test_y, shape, second, os.path.join(args.out, "finetune", "test"))),
    ]
    for name, n in counts:
        print(f"{name}: {n} images")


if __name__ == "__main__":
    main()

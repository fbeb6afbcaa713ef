#!/usr/bin/env python3
"""examples/embed: the C application's logits equal `cnnc run`'s.

usage: embed_test.py CNNC CLASSIFY LIBRARY WORKDIR"""
import os
import subprocess
import sys

import numpy as np


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout}{result.stderr}")
    return result.stdout


def main():
    cnnc, classify, library, workdir = sys.argv[1:5]
    os.makedirs(workdir, exist_ok=True)
    weights = os.path.join(workdir, "w.safetensors")
    images = os.path.join(workdir, "images.npy")
    logits = os.path.join(workdir, "logits.npy")
    run([cnnc, "init", library, "-o", weights, "--seed", "3"])
    np.save(images, np.random.RandomState(1).rand(4, 3, 32, 32).astype(np.float32))
    run([cnnc, "run", library, "--weights", weights, "--input", images, "-o", logits])
    want = np.load(logits)
    lines = run([classify, weights, images]).strip().splitlines()
    if len(lines) != 4:
        sys.exit(f"expected 4 lines, got:\n" + "\n".join(lines))
    for n, line in enumerate(lines):
        head, values = line.split("logits")
        got = np.array([float(v) for v in values.split()], dtype=np.float32)
        cls = int(head.split("class")[1])
        if cls != int(want[n].argmax()):
            sys.exit(f"image {n}: class {cls}, cnnc run says {want[n].argmax()}")
        error = np.abs(got - want[n]).max() / np.abs(want[n]).max()
        if not error <= 1e-5:  # printed with 6 significant digits
            sys.exit(f"image {n}: logits differ by {error:.3e}\n{line}\n{want[n]}")
    print("embed: 4 images classified as by cnnc run")


if __name__ == "__main__":
    main()

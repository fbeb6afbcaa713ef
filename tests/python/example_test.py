#!/usr/bin/env python3
"""examples/python/train_fashion_mnist.py on the real Fashion-MNIST, briefly
(one epoch over 4096 images): it learns (test accuracy far above chance) and
the weights it saves are what `cnnc eval` reads, with the same test accuracy
to the image.

usage: example_test.py CNNC WORKDIR DATA_DIR"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd, env=None):
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout}{result.stderr}")
    return result.stdout


def main():
    cnnc, workdir, data = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    library = os.path.join(workdir, "lenet_fashion.so")
    weights = os.path.join(workdir, "lenet_fashion.safetensors")
    run([cnnc, os.path.join(ROOT, "examples", "lenet_fashion.yaml"), "-o", library])
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    out = run([sys.executable, os.path.join(ROOT, "examples", "python", "train_fashion_mnist.py"),
               library, "--data", data, "--epochs", "1", "--limit", "4096", "-o", weights],
              env)
    print(out, end="")
    found = re.search(r"test accuracy ([0-9.]+)%", out)
    if not found:
        sys.exit("the example printed no test accuracy")
    accuracy = float(found.group(1))
    if not accuracy > 40:  # chance is 10%
        sys.exit(f"test accuracy {accuracy}% after an epoch of 4096 images")
    evaluated = run([cnnc, "eval", library, "--weights", weights,
                     "--data", f"fashion-mnist:{data}"])
    found = re.search(r"accuracy ([0-9.]+)% \((\d+)/10000\)", evaluated)
    if not found or abs(int(found.group(2)) / 100 - accuracy) > 0.005:
        sys.exit(f"cnnc eval disagrees with the example's {accuracy}%:\n{evaluated}")
    print(f"example: {accuracy}% test accuracy, as cnnc eval says")


if __name__ == "__main__":
    main()

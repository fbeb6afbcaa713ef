#!/usr/bin/env python3
"""examples/resnet18.yaml declares exactly torchvision's resnet18 parameters.

Reads the parameters of `cnnc NET.yaml --emit mlir` (names, shapes and their
order, which is the order of the generated library's ABI) and compares them
with torchvision.models.resnet18(num_classes=...).state_dict(), built without
weights. PyTorch's num_batches_tracked counters are integers that only
matter for BatchNorm's momentum=None, which cnnc does not support; they are
the only keys allowed to be missing. Compiling the whole network takes
minutes, so the names come from the IR, not from a built library.

usage: resnet18_names.py CNNC YAML NUM_CLASSES
"""
import re
import subprocess
import sys

import torchvision

PARAMETER = re.compile(r'cnn\.parameter "([^"]+)"[^:]*: tensor<([0-9x]+)xf32>')


def main():
    cnnc, yaml, num_classes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    result = subprocess.run([cnnc, yaml, "--emit", "mlir"], capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(result.stderr)
    ours = [(name, [int(d) for d in dims.split("x")])
            for name, dims in PARAMETER.findall(result.stdout)]
    model = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    theirs = [(name, list(t.shape)) for name, t in model.state_dict().items()
              if not name.endswith(".num_batches_tracked")]
    if ours != theirs:
        names = dict(ours)
        for name, shape in theirs:
            if names.get(name) != shape:
                print(f"torchvision {name} {shape}, cnnc {names.get(name)}")
        extra = sorted(set(names) - {n for n, _ in theirs})
        sys.exit(f"parameters differ (cnnc only: {extra}; order: "
                 f"{[n for n, _ in ours] == [n for n, _ in theirs]})")
    print(f"resnet18: {len(ours)} tensors, names, shapes and order as "
          f"torchvision's state_dict")


if __name__ == "__main__":
    main()

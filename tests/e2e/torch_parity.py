#!/usr/bin/env python3
"""Whole-network parity against PyTorch.

Compiles a YAML network with cnnc, initialises its weights with `cnnc init`,
runs `cnnc run` on a random batch, then loads the same safetensors weights
into the hand-written torch.nn model and compares the logits. Fails if the
relative error max|cnnc - torch| / max|torch| exceeds the tolerance.

usage: torch_parity.py CNNC YAML MODEL WORKDIR [--batch N ...]
"""
import argparse
import os
import shlex
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors  # noqa: E402
from torch_models import MODELS  # noqa: E402

TOLERANCE = 1e-4


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {' '.join(cmd)}\n"
                 f"{result.stdout}{result.stderr}")
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cnnc")
    parser.add_argument("yaml")
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("workdir")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    os.makedirs(args.workdir, exist_ok=True)
    lib = os.path.join(args.workdir, args.model + ".so")
    weights = os.path.join(args.workdir, args.model + ".safetensors")
    # Extra compile flags, e.g. CNNC_COMPILE_ARGS="--schedule auto:Li2018".
    extra = shlex.split(os.environ.get("CNNC_COMPILE_ARGS", ""))
    run([args.cnnc, args.yaml, "-o", lib] + extra)
    run([args.cnnc, "init", lib, "-o", weights, "--seed", str(args.seed)])

    factory, sample_shape = MODELS[args.model]
    torch.manual_seed(0)
    model = factory()
    state = {name: torch.from_numpy(a) for name, a in read_safetensors(weights).items()}
    expected = set(model.state_dict().keys())
    if set(state) != expected:
        sys.exit(f"parameter names differ: cnnc {sorted(state)} torch {sorted(expected)}")
    model.load_state_dict(state, strict=True)
    model.eval()

    worst = 0.0
    rng = np.random.RandomState(args.seed)
    for batch in args.batch:
        x = rng.standard_normal((batch,) + sample_shape).astype(np.float32)
        x_path = os.path.join(args.workdir, f"x{batch}.npy")
        y_path = os.path.join(args.workdir, f"y{batch}.npy")
        np.save(x_path, x)
        run([args.cnnc, "run", lib, "--weights", weights, "--input", x_path,
             "-o", y_path])
        got = np.load(y_path)
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        if got.shape != want.shape:
            sys.exit(f"batch {batch}: shape {got.shape}, torch {want.shape}")
        error = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))
        worst = max(worst, error)
        print(f"{args.model} batch {batch}: max relative error {error:.3e}")
        if not error <= TOLERANCE:
            sys.exit(f"{args.model} batch {batch}: relative error {error:.3e} > {TOLERANCE}")
    print(f"{args.model}: parity OK (worst {worst:.3e}, tolerance {TOLERANCE})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A torchvision model written in YAML against torchvision itself.

The torchvision model MODEL with random weights and random batch-norm state
(as a pretrained network has; no download) is saved as safetensors with
torchvision's own names, int64 num_batches_tracked included, and loads into
the library compiled from YAML without renaming. Checks, relative errors
max|cnnc - torch| / max|torch| at most 1e-4:
  1. eval mode at the YAML's input size: `cnnc run` against model.eval() at
     batches 1, 2;
  2. unless --no-step, one training step at batch 4 through
     cnnc_train_step (train-mode batch norm, cross entropy, SGD with
     momentum) on a copy of the network with --step-size inputs (64x64 by
     default). Float32 gradients of a deep random network are
     ill-conditioned: one SGD step of ResNet-50 at 64x64 in PyTorch float32
     is 1.2e-2 from the same step in float64 on conv1.weight (whose
     gradient sums the products of a whole batch of images), and any two
     float32 implementations differ by about as much. So the update of each
     tensor (parameters and running statistics) and the loss are compared
     with PyTorch in float64: cnnc's relative error must be within 1e-4, or
     within twice PyTorch float32's own error on that tensor.
The library is compiled from the YAML as it is, in pipeline segments (the
default for a network this long). The largest networks run only their
forward pass in the test suite (--no-step), to keep its time in check.

usage: torchvision_parity.py CNNC YAML MODEL WORKDIR [--no-step]
                             [--step-size S]
"""
import argparse
import os
import re
import sys
import time

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import numpy as np  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from batchnorm_parity import (TOLERANCE, Checker, check_eval,  # noqa: E402
                              compile_net, relative)
from safetensors_io import write_safetensors  # noqa: E402


def reference_model(name):
    torch.manual_seed(18)
    model = getattr(torchvision.models, name)(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    return model


def torch_step(model, x, labels, dtype):
    """One SGD step (lr 0.01, momentum 0.9) of a train-mode model in dtype."""
    model = model.to(dtype)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = F.cross_entropy(model(torch.from_numpy(x).to(dtype)),
                           torch.from_numpy(labels))
    loss.backward()
    optimizer.step()
    return loss.item(), {k: v.detach().double().numpy()
                         for k, v in model.state_dict().items()}


def check_step_against_float64(lib, name, sample):
    """cnnc's training step and PyTorch float32's, each against float64."""
    rng = np.random.RandomState(3)
    x = rng.standard_normal((4,) + sample).astype(np.float32)
    labels = rng.randint(0, 1000, size=4).astype(np.int64)
    state = reference_model(name).state_dict()
    params = [state[n].numpy().copy() for n in lib.names]
    momentum = [np.zeros_like(p) if t else None for p, t in zip(params, lib.trainable)]
    loss, params, _ = lib.step(x, labels, params, momentum, 0.01, 0.9, True)
    loss32, after32 = torch_step(reference_model(name), x, labels, torch.float32)
    loss64, after64 = torch_step(reference_model(name), x, labels, torch.float64)
    # The updates, not the values after them: a step of lr 0.01 moves a
    # parameter by much less than its size, which would hide a wrong
    # gradient.
    before = {n: state[n].double().numpy() for n in lib.names}
    worst = (0.0, 0.0, "")
    for what, got, torch32, want in (
            [("loss", np.float64(loss), np.float64(loss32), np.float64(loss64))] +
            [(f"update of {n}", p - before[n], after32[n] - before[n],
              after64[n] - before[n]) for n, p in zip(lib.names, params)]):
        ours, theirs = relative(got, want), relative(torch32, want)
        if not ours <= max(TOLERANCE, 2 * theirs):
            sys.exit(f"{what}: relative error {ours:.3e} from float64, PyTorch "
                     f"float32's {theirs:.3e} (bound max({TOLERANCE}, 2x))")
        worst = max(worst, (ours, theirs, what))
    print(f"training step at {sample[1]}x{sample[2]}: worst error from float64 "
          f"{worst[0]:.3e} on {worst[2]} (PyTorch float32's there: {worst[1]:.3e})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cnnc")
    parser.add_argument("yaml")
    parser.add_argument("model", help="a torchvision.models function, e.g. resnet50")
    parser.add_argument("workdir")
    parser.add_argument("--no-step", action="store_true")
    parser.add_argument("--step-size", type=int, default=64)
    args = parser.parse_args()
    cnnc, yaml, name, workdir = args.cnnc, args.yaml, args.model, args.workdir
    os.makedirs(workdir, exist_ok=True)
    check = Checker()
    model = reference_model(name)
    weights = os.path.join(workdir, name + ".safetensors")
    write_safetensors(weights, {k: t.numpy() for k, t in model.state_dict().items()})
    lib_path = os.path.join(workdir, name + ".so")
    start = time.monotonic()
    compile_net(cnnc, yaml, lib_path)
    print(f"{name}: compiled in {time.monotonic() - start:.0f} s")
    with open(yaml) as f:
        text = f.read()
    size = re.search(r"^input: \[(\d+), (\d+), (\d+)\]", text, re.M)
    sample = tuple(int(d) for d in size.groups())
    check_eval(cnnc, workdir, lib_path, weights, model, check, sample=sample,
               batches=(1, 2))
    done = f"eval at {sample[1]}x{sample[2]}"

    if not args.no_step:
        # The training step on smaller inputs (see above).
        s = args.step_size
        small_yaml = os.path.join(workdir, f"{name}_{s}.yaml")
        with open(small_yaml, "w") as f:
            f.write(text.replace(size.group(0), f"input: [{sample[0]}, {s}, {s}]", 1))
        lib = compile_net(cnnc, small_yaml, os.path.join(workdir, f"{name}_{s}.so"))
        check_step_against_float64(lib, name, (sample[0], s, s))
        done += f" and one training step at {s}x{s}"
    print(f"{name} parity OK: {done} (eval worst {check.worst:.3e}, "
          f"tolerance {TOLERANCE})")


if __name__ == "__main__":
    main()

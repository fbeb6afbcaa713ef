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
     cnnc_train_step (train-mode batch norm, dropout with cnnc's masks of
     seed 0 and step 0 on both sides, cross entropy, SGD with momentum) on a copy of the network with --step-size inputs (64x64 by
     default). Float32 gradients of a deep random network are
     ill-conditioned: one SGD step of ResNet-50 at 64x64 in PyTorch float32
     is 1.2e-2 from the same step in float64 on conv1.weight (whose
     gradient sums the products of a whole batch of images), and any two
     float32 implementations differ by about as much. So the update of each
     tensor (parameters and running statistics) and the loss are compared
     with PyTorch in float64: cnnc's relative error must be within 1e-4, or
     within twice PyTorch float32's own error on that tensor, or (near a
     ReLU or max-pool tie, where the step is discontinuous) within twice
     the distance of float64's own steps at inputs within 1e-6 of this one
     (see check_step_against_float64).
The library is compiled from the YAML as it is, in pipeline segments (the
default for a network this long), with --inference-only for the eval
check. The largest networks run only their forward pass in the test suite
(--no-step), to keep its time in check.

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
from torch_models import SeededDropout  # noqa: E402


def with_seeded_dropout(module, prefix=""):
    """`module` with each nn.Dropout replaced by a SeededDropout drawing
    cnnc's masks for the layer of the same name (its module path, which the
    YAML's names follow); cnnc_train_step draws those of seed 0, step 0."""
    for child_name, child in module.named_children():
        path = prefix + child_name
        if isinstance(child, torch.nn.Dropout):
            setattr(module, child_name, SeededDropout(child.p, path))
        else:
            with_seeded_dropout(child, path + ".")
    return module


def reference_model(name):
    torch.manual_seed(18)
    model = with_seeded_dropout(getattr(torchvision.models, name)(weights=None))
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


# How far the inputs move when the float64 step is probed for ties: ten
# float32 roundings, a little more than cnnc's forward pass perturbs its
# activations.
PROBE = 1e-6


def updates(name, x, labels, dtype, before):
    """PyTorch's loss and the update of each tensor in one SGD step."""
    loss, after = torch_step(reference_model(name), x, labels, dtype)
    return loss, {n: after[n] - before[n] for n in before}


def check_step_against_float64(lib, name, sample):
    """cnnc's training step and PyTorch float32's, each against float64.

    A ReLU input or a max-pool window within a rounding error of a tie
    makes the step discontinuous there: float64 at the same input is then
    no reference, as a float32 computation may land on either side (one
    flipped window moves a whole channel through the batch norms). So where
    cnnc misses the bound on a tensor, the float64 step is also taken at
    three inputs within PROBE (relative) of x, and cnnc's update passes if
    it is within twice the distance of those from float64's: it is then the
    exact step of an input as close as float32 can resolve (a backward
    error test). At most a tenth of the tensors may be excused so: a wrong
    gradient moves most of them, a tie a few. Tensors whose update is zero in exact arithmetic (a
    convolution's bias before a batch norm) are compared in absolute terms,
    with the largest update of the network as the scale."""
    rng = np.random.RandomState(3)
    x = rng.standard_normal((4,) + sample).astype(np.float32)
    labels = rng.randint(0, 1000, size=4).astype(np.int64)
    state = reference_model(name).state_dict()
    params = [state[n].numpy().copy() for n in lib.names]
    momentum = [np.zeros_like(p) if t else None for p, t in zip(params, lib.trainable)]
    loss, params, _ = lib.step(x, labels, params, momentum, 0.01, 0.9, True)
    # The updates, not the values after them: a step of lr 0.01 moves a
    # parameter by much less than its size, which would hide a wrong
    # gradient.
    before = {n: state[n].double().numpy() for n in lib.names}
    ours = {n: p - before[n] for n, p in zip(lib.names, params)}
    ours["loss"] = np.float64(loss)
    loss32, torch32 = updates(name, x, labels, torch.float32, before)
    loss64, want = updates(name, x, labels, torch.float64, before)
    torch32["loss"], want["loss"] = np.float64(loss32), np.float64(loss64)
    scale = max(float(np.abs(u).max()) for n, u in want.items() if n != "loss")

    def error(got, n):
        if n != "loss" and np.abs(want[n]).max() <= 1e-9 * scale:
            return float(np.abs(got - want[n]).max()) / scale
        return relative(got, want[n])

    names = ["loss"] + list(lib.names)
    bound = {n: max(TOLERANCE, 2 * error(torch32[n], n)) for n in names}
    missed = [n for n in names if not error(ours[n], n) <= bound[n]]
    if missed:
        spread = dict.fromkeys(names, 0.0)
        for k in range(3):
            noise = np.random.RandomState(100 + k).standard_normal(x.shape)
            nearby_x = x.astype(np.float64) * (1 + PROBE * noise)
            nearby_loss, nearby = updates(name, nearby_x, labels, torch.float64,
                                          before)
            nearby["loss"] = np.float64(nearby_loss)
            for n in names:
                spread[n] = max(spread[n], error(nearby[n], n))
        # A wrong gradient spreads to most tensors; ties touch a few.
        if len(missed) > len(names) // 10:
            sys.exit(f"{len(missed)} of {len(names)} tensors beyond max("
                     f"{TOLERANCE}, 2x PyTorch float32's error): more than "
                     f"ties at ReLUs or max pools explain ({', '.join(missed[:5])}"
                     f"{', ...' if len(missed) > 5 else ''})")
        for n in missed:
            bound[n] = max(bound[n], 2 * spread[n])
        print(f"{len(missed)} tensors beyond max({TOLERANCE}, 2x PyTorch "
              f"float32's error); float64 itself moves by up to "
              f"{max(spread[n] for n in missed):.2e} on them for inputs "
              f"within {PROBE} (a tie at a ReLU or max pool)")
    worst = (0.0, 0.0, "")
    for n in names:
        what = n if n == "loss" else f"update of {n}"
        e = error(ours[n], n)
        if not e <= bound[n]:
            sys.exit(f"{what}: relative error {e:.3e} from float64, PyTorch "
                     f"float32's {error(torch32[n], n):.3e}, bound "
                     f"{bound[n]:.3e}")
        worst = max(worst, (e, error(torch32[n], n), what))
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
    # The step runs on a library of its own (below), so this one needs
    # none: --inference-only compiles in a fraction of the time.
    compile_net(cnnc, yaml, lib_path, ["--inference-only"])
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

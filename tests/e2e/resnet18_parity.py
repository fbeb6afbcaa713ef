#!/usr/bin/env python3
"""examples/resnet18.yaml against torchvision's resnet18, weights and all.

A torchvision resnet18 with random weights and random batch-norm state (as a
pretrained network has; no download) is saved as safetensors with
torchvision's own names, int64 num_batches_tracked included, and loads into
the library without renaming. Checks, relative errors max|cnnc - torch| /
max|torch| at most 1e-4:
  1. eval mode at 224x224: `cnnc run` against model.eval() at batches 1, 2;
  2. one training step at batch 4 through cnnc_train_step: train-mode batch
     norm, cross entropy, SGD with momentum; the loss, every parameter and
     the running statistics after it. The reference is the step in float64
     (torch.optim.SGD), and PyTorch's own float32 step is measured against it
     too: a float32 step may be no further from it than 1e-4, or than 1.5x
     PyTorch's float32 step where that is further. Only conv1.weight is: its
     gradient sums 200,704 products per weight with much cancellation, and
     both float32 steps land about 4.7e-4 away.
The library is compiled from the example as it is, in pipeline segments
(the default for a network this long).

usage: resnet18_parity.py CNNC YAML WORKDIR
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from batchnorm_parity import (TOLERANCE, Checker, Library, compile_net,  # noqa: E402
                              relative, run)
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

SAMPLE = (3, 224, 224)


def reference_model():
    torch.manual_seed(18)
    model = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    return model


def main():
    cnnc, yaml, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    check = Checker()
    model = reference_model()
    weights = os.path.join(workdir, "resnet18.safetensors")
    write_safetensors(weights, {k: t.numpy() for k, t in model.state_dict().items()})
    lib_path = os.path.join(workdir, "resnet18.so")
    lib = compile_net(cnnc, yaml, lib_path)

    model.eval()
    rng = np.random.RandomState(3)
    for batch in (1, 2):
        x = rng.standard_normal((batch,) + SAMPLE).astype(np.float32)
        x_path = os.path.join(workdir, f"x{batch}.npy")
        y_path = os.path.join(workdir, f"y{batch}.npy")
        np.save(x_path, x)
        run([cnnc, "run", lib_path, "--weights", weights, "--input", x_path,
             "-o", y_path])
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        check(f"eval output at batch {batch}", np.load(y_path), want)
    print(f"eval: cnnc run matches torchvision (worst {check.worst:.3e})")

    state = {k: v.clone() for k, v in model.state_dict().items()}
    params = [state[n].numpy().copy() for n in lib.names]
    momentum = [np.zeros_like(p) if t else None for p, t in zip(params, lib.trainable)]
    x = rng.standard_normal((4,) + SAMPLE).astype(np.float32)
    labels = rng.randint(0, 1000, size=4).astype(np.int64)
    loss, params, momentum = lib.step(x, labels, params, momentum, 0.01, 0.9, True)
    steps = {}
    for dtype in (torch.float32, torch.float64):
        net = reference_model().to(dtype)
        net.train()
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        torch_loss = F.cross_entropy(net(torch.from_numpy(x).to(dtype)),
                                     torch.from_numpy(labels))
        optimizer.zero_grad()
        torch_loss.backward()
        optimizer.step()
        after = {k: v.double().numpy() for k, v in net.state_dict().items()}
        steps[dtype] = (torch_loss.item(), after)
    exact_loss, exact = steps[torch.float64]
    torch_loss, torch32 = steps[torch.float32]
    check("loss of the training step", loss, exact_loss)
    beyond = []
    for name, p in zip(lib.names, params):
        bound = max(TOLERANCE, 1.5 * relative(torch32[name], exact[name]))
        error = relative(p, exact[name])
        if not error <= bound:
            sys.exit(f"{name} after the training step: relative error {error:.3e} "
                     f"from float64 > {bound:.3e}")
        if error > TOLERANCE:
            beyond.append(f"{name} {error:.2e} (PyTorch float32 "
                          f"{relative(torch32[name], exact[name]):.2e})")
        check.worst = max(check.worst, min(error, TOLERANCE))
    print(f"training step: {len(lib.names)} tensors within 1e-4 of float64, "
          f"beyond it as PyTorch's float32 step: {beyond or 'none'}")
    print(f"resnet18 parity OK (worst within tolerance {check.worst:.3e})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""cnnc import of models exported by torch.onnx.export: the lecture's LeNet,
the all-ops network of general.yaml (at an input size whose adaptive pooling
torch can export) and torchvision's resnet18 with random weights and
batch-norm statistics. Each is imported, compiled and run on the imported
weights: the parameter names are the torch state_dict's and the logits
match PyTorch's within 1e-4 relative. An exported model with operators cnnc
does not import is refused with every unsupported node named, exit 1.

usage: onnx_import_test.py CNNC WORKDIR"""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors  # noqa: E402
from torch_models import General, Net  # noqa: E402

TOLERANCE = 1e-4


def run(cmd, expect=0):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != expect:
        sys.exit(f"{' '.join(cmd)}: exit {result.returncode}, expected {expect}\n"
                 f"{result.stdout}{result.stderr}")
    return result


def export(model, shape, path):
    """As a user would: eval mode, the parameters kept under their names
    (no constant folding, which would fold batch norms into convolutions),
    a dynamic batch."""
    model.eval()
    torch.onnx.export(model, torch.randn(1, *shape), path,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False, input_names=["input"],
                      output_names=["logits"], opset_version=13,
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def randomize(model, seed):
    """Random parameters and batch-norm statistics (torch's fresh running
    statistics, 0 and 1, would hide mistakes)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype != torch.float32:
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_((torch.rand(t.shape, generator=g) - 0.5) * 0.2)


def check(cnnc, workdir, name, model, shape, compile_flags=()):
    onnx_path = os.path.join(workdir, name + ".onnx")
    yaml = os.path.join(workdir, name + ".yaml")
    weights = os.path.join(workdir, name + ".safetensors")
    library = os.path.join(workdir, name + ".so")
    export(model, shape, onnx_path)
    run([cnnc, "import", onnx_path, "-o", yaml, "--weights", weights])
    imported = read_safetensors(weights)
    want_names = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    if set(imported) != want_names:
        sys.exit(f"{name}: names differ: {sorted(set(imported) ^ want_names)}")
    for key, value in model.state_dict().items():
        if key in imported and not np.array_equal(imported[key], value.numpy()):
            sys.exit(f"{name}: tensor {key} differs from the model's")
    run([cnnc, yaml, "-o", library] + list(compile_flags))
    x = np.random.RandomState(1).rand(3, *shape).astype(np.float32)
    np.save(os.path.join(workdir, name + "_x.npy"), x)
    out = os.path.join(workdir, name + "_y.npy")
    run([cnnc, "run", library, "--weights", weights, "--input",
         os.path.join(workdir, name + "_x.npy"), "-o", out])
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    got = np.load(out)
    error = float(np.abs(got - want).max() / np.abs(want).max())
    if not error <= TOLERANCE:
        sys.exit(f"{name}: relative error {error:.3e} > {TOLERANCE}")
    print(f"{name}: imported, {len(imported)} tensors, logits match PyTorch "
          f"(relative error {error:.2e})")


def main():
    cnnc, workdir = sys.argv[1:3]
    os.makedirs(workdir, exist_ok=True)
    torch.manual_seed(0)
    lenet = Net()
    check(cnnc, workdir, "lenet", lenet, (3, 32, 32))
    general = General()
    randomize(general, 2)
    check(cnnc, workdir, "general", general, (3, 12, 12))
    resnet = torchvision.models.resnet18()
    randomize(resnet, 3)
    # Forward only (the two above compile their step too, to show an
    # imported network trains): the step of these ops is resnet18_parity's.
    check(cnnc, workdir, "resnet18", resnet, (3, 64, 64), ["--inference-only"])

    # Operators without a cnnc layer: all named at once.
    unsupported = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(), nn.Flatten(),
                                nn.Linear(4 * 6 * 6, 3), nn.Softmax(dim=1))
    path = os.path.join(workdir, "unsupported.onnx")
    export(unsupported, (3, 8, 8), path)
    err = run([cnnc, "import", path, "-o", os.path.join(workdir, "u.yaml")],
              expect=1).stderr
    for part in ("(LeakyRelu): no cnnc layer for this operator",
                 "(Softmax): no cnnc layer for this operator"):
        if part not in err:
            sys.exit(f"unsupported operators: expected '{part}' in:\n{err}")
    if os.path.exists(os.path.join(workdir, "u.yaml")):
        sys.exit("a refused import wrote its YAML")
    print("unsupported operators are listed, exit 1")


if __name__ == "__main__":
    main()

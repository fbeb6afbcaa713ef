#!/usr/bin/env python3
"""Batch norm parity against PyTorch, from a torchvision-style state_dict.

The weights come from PyTorch (random batch-norm weights, biases and running
statistics, num_batches_tracked an int64 scalar as torchvision saves it) and
load into cnnc without renaming. Checks, with relative errors
max|cnnc - torch| / max|torch| at most 1e-4:
  1. eval mode: `cnnc run` against model.eval();
  2. training steps through the library's cnnc_train_step (ctypes):
     model.train() and torch.optim.SGD with momentum; the loss, every
     parameter and the running statistics after each step;
  3. a frozen stem (batchnorm_frozen.yaml): its batch norm runs in eval mode
     and keeps its running statistics (torch: bn1.eval(), frozen params);
  4. `cnnc train` for one epoch in file order: the saved weights match
     PyTorch's after the same steps and load with load_state_dict(strict=True),
     num_batches_tracked counted on;
  5. batch norm on the input over 1x1 planes (batchnorm_first.yaml): a
     training step at batch 2 matches, batch 1 is refused as by PyTorch.

usage: batchnorm_parity.py CNNC WORKDIR
"""
import ctypes
import json
import os
import shlex
import re
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from torch_models import BatchNormNet  # noqa: E402

TOLERANCE = 1e-4
F32P = ctypes.POINTER(ctypes.c_float)
SAMPLE = (3, 12, 12)
KIND_BUFFER = 1


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {' '.join(cmd)}\n"
                 f"{result.stdout}{result.stderr}")
    return result


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


class Checker:
    def __init__(self):
        self.worst = 0.0

    def __call__(self, what, got, want):
        error = relative(got, want)
        if not error <= TOLERANCE:
            sys.exit(f"{what}: relative error {error:.3e} > {TOLERANCE}")
        self.worst = max(self.worst, error)


class Library:
    """The generated library's training step, called directly."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.cnnc_train_step.argtypes = [
            ctypes.c_int64, F32P, ctypes.POINTER(ctypes.c_int64),
            ctypes.POINTER(F32P), ctypes.POINTER(F32P), ctypes.POINTER(F32P),
            ctypes.POINTER(F32P), ctypes.c_float, ctypes.c_float, ctypes.c_float,
            ctypes.c_int32, ctypes.c_int32, F32P]
        assert self.lib.cnnc_abi_version() == 6
        count = ctypes.c_int32()
        assert self.lib.cnnc_num_parameters(ctypes.byref(count)) == 0
        self.names, self.trainable, self.buffer, self.updated = [], [], [], []
        for i in range(count.value):
            name, flag = ctypes.c_char_p(), ctypes.c_int32()
            assert self.lib.cnnc_parameter_name(i, ctypes.byref(name)) == 0
            self.names.append(name.value.decode())
            assert self.lib.cnnc_parameter_trainable(i, ctypes.byref(flag)) == 0
            self.trainable.append(bool(flag.value))
            assert self.lib.cnnc_parameter_kind(i, ctypes.byref(flag)) == 0
            self.buffer.append(flag.value == KIND_BUFFER)
            assert self.lib.cnnc_parameter_updated(i, ctypes.byref(flag)) == 0
            self.updated.append(bool(flag.value))
        info = ctypes.c_char_p()
        assert self.lib.cnnc_library_info(ctypes.byref(info)) == 0
        # False for a library compiled with --inference-only.
        self.has_train_step = json.loads(info.value)["train_step"]

    def step(self, x, labels, params, momentum, lr, mu, first):
        """One step; entries that are not updated keep their value. Buffers
        and frozen parameters get NULL momentum, as the ABI allows."""
        def pointers(arrays):
            return (F32P * len(arrays))(*[None if a is None else a.ctypes.data_as(F32P)
                                          for a in arrays])
        new_params = [np.empty_like(p) if u else None for p, u in zip(params, self.updated)]
        new_momentum = [np.empty_like(p) if t else None
                        for p, t in zip(params, self.trainable)]
        loss = np.zeros((), np.float32)
        status = self.lib.cnnc_train_step(
            x.shape[0], x.ctypes.data_as(F32P),
            labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), pointers(params),
            pointers(momentum), pointers(new_params), pointers(new_momentum),
            lr, mu, 0.0, 0, int(first), loss.ctypes.data_as(F32P))
        if status != 0:
            sys.exit(f"cnnc_train_step returned status {status}")
        params = [n if n is not None else p for n, p in zip(new_params, params)]
        momentum = [n if n is not None else m for n, m in zip(new_momentum, momentum)]
        return float(loss), params, momentum


def reference_model():
    """BatchNormNet with non-trivial batch-norm state, as a pretrained
    torchvision network has."""
    torch.manual_seed(11)
    model = BatchNormNet()
    with torch.no_grad():
        for bn in (model.bn1, model.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0, 0.2)
            bn.running_mean.normal_(0, 0.3)
            bn.running_var.uniform_(0.5, 2.0)
            bn.num_batches_tracked.fill_(3)
    return model


def compile_net(cnnc, yaml, lib, flags=()):
    # Extra compile flags, e.g. CNNC_COMPILE_ARGS="--segment-ops 3".
    extra = shlex.split(os.environ.get("CNNC_COMPILE_ARGS", ""))
    run([cnnc, os.path.join(HERE, yaml), "-o", lib] + list(flags) + extra)
    return Library(lib)


def check_eval(cnnc, workdir, lib_path, weights, model, check, sample=SAMPLE,
               batches=(1, 5)):
    """`cnnc run` against model.eval() on random inputs of each batch size."""
    model.eval()
    rng = np.random.RandomState(1)
    for batch in batches:
        x = rng.standard_normal((batch,) + sample).astype(np.float32)
        x_path = os.path.join(workdir, f"x{batch}.npy")
        y_path = os.path.join(workdir, f"y{batch}.npy")
        np.save(x_path, x)
        run([cnnc, "run", lib_path, "--weights", weights, "--input", x_path, "-o", y_path])
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        check(f"eval logits, batch {batch}", np.load(y_path), want)
    print(f"eval mode: cnnc run matches model.eval() (worst {check.worst:.3e})")


def check_steps(lib, model, frozen, check, what, sample=SAMPLE, classes=5,
                batch=6, steps=3, lr=0.05, seed=2):
    """`steps` SGD steps (momentum 0.9) of lib against torch from the model's
    current state, on random batches of `sample`-shaped inputs."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    for name, p in model.named_parameters():
        p.requires_grad_(not any(name.startswith(f) for f in frozen))
    for name in frozen:
        if name.startswith("bn"):
            getattr(model, name).eval()
    params = [state[n].numpy().copy() for n in lib.names]
    momentum = [np.zeros_like(p) if t else None for p, t in zip(params, lib.trainable)]
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                                lr=lr, momentum=0.9)
    rng = np.random.RandomState(seed)
    for step in range(steps):
        x = rng.standard_normal((batch,) + sample).astype(np.float32)
        labels = rng.randint(0, classes, size=batch).astype(np.int64)
        loss, params, momentum = lib.step(x, labels, params, momentum, lr, 0.9,
                                          step == 0)
        optimizer.zero_grad()
        torch_loss = F.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(labels))
        torch_loss.backward()
        optimizer.step()
        check(f"{what}: loss of step {step}", loss, torch_loss.item())
        after = model.state_dict()
        for name, p in zip(lib.names, params):
            check(f"{what}: {name} after step {step}", p, after[name].numpy())
    for name, changed in zip(lib.names, lib.updated):
        moved = not np.array_equal(dict(zip(lib.names, params))[name], state[name].numpy())
        if moved != changed:
            sys.exit(f"{what}: {name} {'changed' if moved else 'kept'} its value, "
                     f"but cnnc_parameter_updated is {int(changed)}")
    print(f"{what}: {steps} SGD steps match PyTorch (worst {check.worst:.3e})")


class FirstNet(torch.nn.Module):
    """batchnorm_first.yaml."""

    def __init__(self):
        super().__init__()
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.bn(x), 1))


def check_single_values(cnnc, workdir, check):
    lib = compile_net(cnnc, "batchnorm_first.yaml", os.path.join(workdir, "first.so"))
    torch.manual_seed(4)
    model = FirstNet()
    state = model.state_dict()
    params = [state[n].numpy().copy() for n in lib.names]
    momentum = [np.zeros_like(p) if t else None for p, t in zip(params, lib.trainable)]
    x = np.random.RandomState(4).standard_normal((2, 4, 1, 1)).astype(np.float32)
    labels = np.array([0, 2], np.int64)
    one = (F32P * len(params))(*[p.ctypes.data_as(F32P) for p in params])
    loss = np.zeros((), np.float32)
    status = lib.lib.cnnc_train_step(1, x.ctypes.data_as(F32P),
                                     labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
                                     one, one, one, one, 0.1, 0.0, 0.0, 0, 1,
                                     loss.ctypes.data_as(F32P))
    if status != 2:  # CNNC_ERROR_BAD_SHAPE
        sys.exit(f"a training step on one value per channel returned {status}, not 2")
    loss, params, _ = lib.step(x, labels, params, momentum, 0.1, 0.0, True)
    model.train()
    torch_loss = F.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(labels))
    torch_loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    check("1x1 planes: loss", loss, torch_loss.item())
    for name, p in zip(lib.names, params):
        check(f"1x1 planes: {name}", p, model.state_dict()[name].numpy())
    print(f"batch norm on 1x1 planes: batch 2 matches, batch 1 refused "
          f"(worst {check.worst:.3e})")

    # Without running statistics the forward pass uses the batch's too:
    # one value per channel is refused there as well.
    untracked = os.path.join(workdir, "first_untracked.yaml")
    with open(os.path.join(HERE, "batchnorm_first.yaml")) as f:
        text = f.read().replace("{name: bn}", "{name: bn, track_running_stats: false}")
    with open(untracked, "w") as f:
        f.write(text)
    lib = compile_net(cnnc, untracked, os.path.join(workdir, "first_untracked.so"))
    params = [state[n].numpy().copy() for n in lib.names]
    pointers = (F32P * len(params))(*[p.ctypes.data_as(F32P) for p in params])
    logits = np.zeros((2, 3), np.float32)
    for batch, want in ((1, 2), (2, 0)):
        status = lib.lib.cnnc_forward(ctypes.c_int64(batch), x.ctypes.data_as(F32P),
                                      pointers, logits.ctypes.data_as(F32P))
        if status != want:
            sys.exit(f"forward of batch {batch} without running statistics "
                     f"returned {status}, not {want}")
    print("batch norm without running statistics on 1x1 planes: a forward "
          "batch of 1 refused")


def main():
    cnnc, workdir = sys.argv[1:3]
    os.makedirs(workdir, exist_ok=True)
    check = Checker()
    model = reference_model()
    weights = os.path.join(workdir, "torch.safetensors")
    write_safetensors(weights, {name: t.numpy() for name, t in model.state_dict().items()})

    lib_path = os.path.join(workdir, "bn.so")
    lib = compile_net(cnnc, "batchnorm.yaml", lib_path)
    want_names = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    if lib.names != want_names:
        sys.exit(f"parameter order {lib.names} differs from torch's {want_names}")
    buffers = [n for n, b in zip(lib.names, lib.buffer) if b]
    if buffers != ["bn1.running_mean", "bn1.running_var", "bn2.running_mean",
                   "bn2.running_var"] or any(t for t, b in zip(lib.trainable, lib.buffer) if b):
        sys.exit(f"buffers {buffers}, trainable {lib.trainable}")

    check_eval(cnnc, workdir, lib_path, weights, model, check)
    check_steps(lib, reference_model(), [], check, "training mode")

    frozen = compile_net(cnnc, "batchnorm_frozen.yaml", os.path.join(workdir, "frozen.so"))
    kept = [n for n, u in zip(frozen.names, frozen.updated) if not u]
    if kept != ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                "bn1.running_var"]:
        sys.exit(f"frozen stem: not updated {kept}")
    check_steps(frozen, reference_model(), ["conv1", "bn1"], check, "frozen bn1 (eval mode)")

    # cnnc train: one epoch of 3 batches in file order from the torch weights.
    rng = np.random.RandomState(3)
    images = rng.standard_normal((24,) + SAMPLE).astype(np.float32)
    labels = rng.randint(0, 5, size=24).astype(np.int64)
    np.save(os.path.join(workdir, "images.npy"), images)
    np.save(os.path.join(workdir, "labels.npy"), labels)
    out = os.path.join(workdir, "trained.safetensors")
    data = f"npy:{workdir}/images.npy,{workdir}/labels.npy"
    run([cnnc, "train", lib_path, "--data", data, "--weights", weights, "--epochs", "1",
         "--batch-size", "8", "--lr", "0.05", "--momentum", "0.9", "--no-shuffle",
         "-o", out])
    model = reference_model()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for b in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(torch.from_numpy(images[8 * b:8 * b + 8])),
                        torch.from_numpy(labels[8 * b:8 * b + 8])).backward()
        optimizer.step()
    trained = {name: torch.from_numpy(a) for name, a in read_safetensors(out).items()}
    fresh = BatchNormNet()
    fresh.load_state_dict(trained, strict=True)
    for name, want in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            if trained[name].dtype != torch.int64 or int(trained[name]) != 6:
                sys.exit(f"{name}: {trained[name]} after 3 steps from 3, expected 6")
        else:
            check(f"cnnc train: {name}", trained[name].numpy(), want.numpy())
    print(f"cnnc train: weights and running statistics match, num_batches_tracked 6, "
          f"strict load OK (worst {check.worst:.3e})")

    # cnnc eval of the trained weights (through a training session's forward
    # pass for a GPU library) against model.eval().
    out_eval = run([cnnc, "eval", lib_path, "--weights", out, "--data", data]).stdout
    match = re.search(r"loss (\S+), accuracy \S+% \((\d+)/24\)", out_eval)
    if not match:
        sys.exit(f"cnnc eval printed no loss:\n{out_eval}")
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(images))
    want_loss = F.cross_entropy(logits, torch.from_numpy(labels)).item()
    want_correct = int((logits.argmax(1) == torch.from_numpy(labels)).sum())
    check("cnnc eval: loss", np.float32(float(match.group(1))), np.float32(want_loss))
    if int(match.group(2)) != want_correct:
        sys.exit(f"cnnc eval: {match.group(2)}/24 correct, PyTorch {want_correct}/24")
    print(f"cnnc eval: loss {match.group(1)} ({want_loss:.6f} in PyTorch), "
          f"{want_correct}/24 correct")
    check_single_values(cnnc, workdir, check)
    print(f"batch norm parity OK (worst {check.worst:.3e}, tolerance {TOLERANCE})")


if __name__ == "__main__":
    main()

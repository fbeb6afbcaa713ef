#!/usr/bin/env python3
"""Training-step parity against PyTorch autograd + torch.optim.SGD.

Compiles a YAML network with cnnc and calls the generated library's
cnnc_train_step_seeded directly through ctypes (no cnnc runtime involved);
the torch models' SeededDropout draws the masks of the same (seed, step
index). Starting
from the same weights as the hand-written torch.nn model, it checks:
  - the whole-network gradients (one step with lr 1, no momentum: the update
    is exactly -grad);
  - several SGD steps with momentum, weight decay and Nesterov: the loss of
    each step and every parameter and momentum buffer afterwards.
Relative errors max|cnnc - torch| / max|torch| must be at most 1e-4.

usage: train_parity.py CNNC YAML MODEL WORKDIR
"""
import ctypes
import os
import shlex
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402
from torch_models import MODELS  # noqa: E402

TOLERANCE = 1e-4
# A seed with both 32-bit words set.
SEED = 0x5EED20261205F00D
F32P = ctypes.POINTER(ctypes.c_float)


def pointers(arrays):
    array_type = F32P * len(arrays)
    return array_type(*[a.ctypes.data_as(F32P) if a is not None else None
                        for a in arrays])


class Library:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.cnnc_train_step_seeded.argtypes = [
            ctypes.c_int64, F32P, ctypes.POINTER(ctypes.c_int64),
            ctypes.POINTER(F32P), ctypes.POINTER(F32P), ctypes.POINTER(F32P),
            ctypes.POINTER(F32P), ctypes.c_float, ctypes.c_float, ctypes.c_float,
            ctypes.c_int32, ctypes.c_int32, ctypes.c_uint64, ctypes.c_int64,
            F32P]
        count = ctypes.c_int32()
        assert self.lib.cnnc_num_parameters(ctypes.byref(count)) == 0
        self.names, self.trainable = [], []
        for i in range(count.value):
            name = ctypes.c_char_p()
            flag = ctypes.c_int32()
            self.lib.cnnc_parameter_name(i, ctypes.byref(name))
            self.lib.cnnc_parameter_trainable(i, ctypes.byref(flag))
            self.names.append(name.value.decode())
            self.trainable.append(bool(flag.value))

    def step(self, x, labels, params, momentum, lr, mu, wd, nesterov, first,
             index):
        """One step, drawing the dropout masks of step `index` under SEED;
        the torch model draws the same ones in its next forward."""
        torch_models.DROPOUT_STEP.update(seed=SEED, step=index)
        new_params = [np.empty_like(p) for p in params]
        new_momentum = [np.empty_like(p) for p in params]
        loss = np.zeros((), np.float32)
        status = self.lib.cnnc_train_step_seeded(
            x.shape[0], x.ctypes.data_as(F32P),
            labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
            pointers(params), pointers(momentum), pointers(new_params),
            pointers(new_momentum), lr, mu, wd, int(nesterov), int(first),
            SEED, index, loss.ctypes.data_as(F32P))
        if status != 0:
            self.lib.cnnc_last_error.restype = ctypes.c_char_p
            why = self.lib.cnnc_last_error() or b"no message"
            sys.exit(f"cnnc_train_step_seeded returned status {status}: "
                     f"{why.decode()}")
        return float(loss), new_params, new_momentum


def relative(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def check(what, got, want, worst):
    error = relative(got, want)
    if not error <= TOLERANCE:
        sys.exit(f"{what}: relative error {error:.3e} > {TOLERANCE}")
    return max(worst, error)


def main():
    cnnc, yaml, model_name, workdir = sys.argv[1:5]
    os.makedirs(workdir, exist_ok=True)
    lib_path = os.path.join(workdir, model_name + "_train.so")
    # Extra compile flags, e.g. CNNC_COMPILE_ARGS="--schedule auto:Li2018".
    extra = shlex.split(os.environ.get("CNNC_COMPILE_ARGS", ""))
    result = subprocess.run([cnnc, yaml, "-o", lib_path] + extra,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(result.stderr)
    lib = Library(lib_path)

    factory, sample_shape = MODELS[model_name]
    torch.manual_seed(3)
    model = factory()
    # A batch norm's num_batches_tracked is PyTorch's step counter, which
    # the runtime keeps beside the library's parameters.
    state = {n: t for n, t in model.state_dict().items()
             if not n.endswith("num_batches_tracked")}
    if sorted(state) != sorted(lib.names):
        sys.exit(f"names differ: {sorted(state)} vs {sorted(lib.names)}")
    torch_params = dict(model.named_parameters())

    rng = np.random.RandomState(5)
    batch = 6
    x = rng.standard_normal((batch,) + sample_shape).astype(np.float32)
    out = model(torch.from_numpy(x))
    classes = out.shape[1]
    labels = rng.randint(0, classes, size=batch).astype(np.int64)
    worst = 0.0

    # 1. Gradients: lr 1, no momentum, no decay -> new = p - grad.
    params = [state[n].numpy().copy() for n in lib.names]
    zeros = [np.zeros_like(p) for p in params]
    loss, new_params, _ = lib.step(x, labels, params, zeros, 1.0, 0.0, 0.0,
                                   False, True, 0)
    model.zero_grad()
    torch_loss = F.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(labels))
    torch_loss.backward()
    worst = check("loss", np.float32(loss), torch_loss.detach().numpy(), worst)
    buffers = dict(model.named_buffers())
    for name, p, p_new in zip(lib.names, params, new_params):
        if name in buffers:  # running statistics, updated by the forward
            worst = check(f"{name} after a step", p_new,
                          buffers[name].numpy(), worst)
            continue
        grad = p - p_new
        worst = check(f"gradient of {name}", grad, torch_params[name].grad.numpy(), worst)
    print(f"{model_name}: gradients match (loss {loss:.6f})")

    # 2. Several SGD steps per optimizer setting, from the same weights.
    settings = [dict(lr=0.05, momentum=0.9, weight_decay=0.0, nesterov=False),
                dict(lr=0.02, momentum=0.9, weight_decay=5e-3, nesterov=True),
                dict(lr=0.1, momentum=0.0, weight_decay=1e-2, nesterov=False)]
    for k, setting in enumerate(settings):
        model.load_state_dict(state)
        optimizer = torch.optim.SGD(model.parameters(), **setting)
        params = [state[n].numpy().copy() for n in lib.names]
        momentum = [np.zeros_like(p) for p in params]
        for step in range(4):
            xs = rng.standard_normal((batch,) + sample_shape).astype(np.float32)
            ys = rng.randint(0, classes, size=batch).astype(np.int64)
            loss, params, momentum = lib.step(
                xs, ys, params, momentum, setting["lr"], setting["momentum"],
                setting["weight_decay"], setting["nesterov"], step == 0,
                step + (k << 32))
            optimizer.zero_grad()
            torch_loss = F.cross_entropy(model(torch.from_numpy(xs)), torch.from_numpy(ys))
            torch_loss.backward()
            optimizer.step()
            worst = check(f"loss of step {step} {setting}", np.float32(loss),
                          torch_loss.detach().numpy(), worst)
        buffers = dict(model.named_buffers())
        for name, p, v in zip(lib.names, params, momentum):
            if name in buffers:
                worst = check(f"{name} after 4 steps {setting}", p,
                              buffers[name].numpy(), worst)
                continue
            worst = check(f"{name} after 4 steps {setting}", p,
                          torch_params[name].detach().numpy(), worst)
            if setting["momentum"]:
                buffer = optimizer.state[torch_params[name]]["momentum_buffer"]
                worst = check(f"momentum of {name} {setting}", v, buffer.numpy(), worst)
    print(f"{model_name}: train-step parity OK (worst {worst:.3e}, tolerance {TOLERANCE})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Forward passes and training steps give the same bits whatever the thread
count and however often they run (docs/abi.md, "Determinism").

For each network (a YAML file, compiled here, or a compiled library):
random parameters (running variances positive), a random batch of 5 and
labels; cnnc_forward and one cnnc_train_step (SGD, momentum 0.9; batch
norms in training mode) with 1, 2, 1 and 2 threads; the logits, the loss, every new
parameter and momentum buffer must equal the first run's bit for bit. A
library given already compiled with --inference-only has its forward pass
checked.

usage: determinism_test.py CNNC WORKDIR NET...   (NET: .yaml or .so)
"""
import ctypes
import os
import shlex
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from batchnorm_parity import F32P, Library  # noqa: E402

BATCH = 5


def shape_of(lib, query, *index):
    dims, rank = (ctypes.c_int64 * 8)(), ctypes.c_int32()
    assert query(*index, dims, 8, ctypes.byref(rank)) == 0
    return [dims[i] for i in range(rank.value)]


def load(cnnc, workdir, net):
    if net.endswith(".so"):
        return net, Library(net)
    path = os.path.join(workdir, os.path.basename(net)[:-len(".yaml")] + ".so")
    extra = shlex.split(os.environ.get("CNNC_COMPILE_ARGS", ""))
    result = subprocess.run([cnnc, net, "-o", path] + extra,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"compiling {net}: {result.stderr}")
    return path, Library(path)


def run_once(lib, threads, x, labels, params):
    assert lib.lib.cnnc_set_num_threads(threads) == 0
    out_shape = shape_of(lib, lib.lib.cnnc_output_shape)
    logits = np.zeros([BATCH] + out_shape[1:], np.float32)
    pointers = (F32P * len(params))(*[p.ctypes.data_as(F32P) for p in params])
    status = lib.lib.cnnc_forward(ctypes.c_int64(BATCH), x.ctypes.data_as(F32P),
                                  pointers, logits.ctypes.data_as(F32P))
    if status != 0:
        sys.exit(f"cnnc_forward returned status {status}")
    if not lib.has_train_step:
        return [logits]
    momentum = [np.zeros_like(p) if t else None for p, t in zip(params, lib.trainable)]
    loss, new_params, new_momentum = lib.step(x, labels, params, momentum, 0.05,
                                              0.9, True)
    return [logits, np.float32(loss)] + new_params + [m for m in new_momentum
                                                      if m is not None]


def main():
    cnnc, workdir, nets = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(workdir, exist_ok=True)
    for net in nets:
        path, lib = load(cnnc, workdir, net)
        # Only a library given as such may lack the step (--inference-only):
        # the networks compiled here must keep theirs.
        if net.endswith(".yaml") and lib.has_train_step != any(lib.trainable):
            sys.exit(f"{os.path.basename(net)}: compiled without a training step")
        lib.lib.cnnc_parameter_shape.argtypes = [
            ctypes.c_int32, ctypes.POINTER(ctypes.c_int64), ctypes.c_int32,
            ctypes.POINTER(ctypes.c_int32)]
        rng = np.random.RandomState(7)
        params = []
        for i, name in enumerate(lib.names):
            shape = shape_of(lib, lib.lib.cnnc_parameter_shape, i)
            value = (rng.uniform(0.5, 2.0, shape) if name.endswith("running_var")
                     else 0.2 * rng.standard_normal(shape))
            params.append(value.astype(np.float32))
        in_shape = shape_of(lib, lib.lib.cnnc_input_shape)
        classes = shape_of(lib, lib.lib.cnnc_output_shape)[1]
        x = rng.standard_normal([BATCH] + in_shape[1:]).astype(np.float32)
        labels = rng.randint(0, classes, size=BATCH).astype(np.int64)
        first = run_once(lib, 1, x, labels, params)
        for threads in (2, 1, 2):
            again = run_once(lib, threads, x, labels, params)
            for i, (a, b) in enumerate(zip(first, again)):
                if a.tobytes() != b.tobytes():
                    what = ("logits", "loss")[i] if i < 2 else f"output {i}"
                    sys.exit(f"{os.path.basename(net)}: {what} differs between "
                             f"1 thread and {threads} threads "
                             f"(max difference {np.abs(a - b).max():.3e})")
        what = ("forward and training step" if lib.has_train_step
                else "forward (a library without a training step)")
        print(f"{os.path.basename(net)}: {what} bit-identical "
              f"on 1 and 2 threads, twice ({len(first)} arrays)")


if __name__ == "__main__":
    main()

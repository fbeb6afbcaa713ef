#!/usr/bin/env python3
"""Dropout masks through the library's two training entry points.

Compiles tests/e2e/dropout.yaml and checks, bit for bit:
  - a session seeded with cnnc_session_set_seed takes the steps that
    cnnc_train_step_seeded takes with that seed and step indices 0, 1, 2;
  - a session written with steps_taken k draws the masks of step k (a
    resumed run continues the masks of the interrupted one);
  - another seed, or another step index, draws other masks (other values);
  - cnnc_train_step is cnnc_train_step_seeded with seed 0 and step 0.

usage: dropout_session_test.py CNNC YAML WORKDIR
"""
import ctypes
import os
import subprocess
import sys

import numpy as np

F32P = ctypes.POINTER(ctypes.c_float)
I64P = ctypes.POINTER(ctypes.c_int64)
SEED = 0xC0FFEE0000000001


def pointers(arrays):
    return (F32P * len(arrays))(*[a.ctypes.data_as(F32P) for a in arrays])


class Library:
    def __init__(self, path):
        lib = ctypes.CDLL(path)
        lib.cnnc_train_step_seeded.argtypes = [
            ctypes.c_int64, F32P, I64P] + [ctypes.POINTER(F32P)] * 4 + [
            ctypes.c_float] * 3 + [ctypes.c_int32] * 2 + [
            ctypes.c_uint64, ctypes.c_int64, F32P]
        lib.cnnc_train_step.argtypes = lib.cnnc_train_step_seeded.argtypes[
            :12] + [F32P]
        lib.cnnc_session_create.argtypes = [ctypes.POINTER(F32P),
                                            ctypes.POINTER(ctypes.c_void_p)]
        lib.cnnc_session_set_seed.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
        lib.cnnc_session_train_step.argtypes = [
            ctypes.c_void_p, ctypes.c_int64, F32P, I64P] + [
            ctypes.c_float] * 3 + [ctypes.c_int32, F32P]
        lib.cnnc_session_read.argtypes = [ctypes.c_void_p,
                                          ctypes.POINTER(F32P),
                                          ctypes.POINTER(F32P)]
        lib.cnnc_session_write.argtypes = [ctypes.c_void_p,
                                           ctypes.POINTER(F32P),
                                           ctypes.POINTER(F32P), ctypes.c_int64]
        lib.cnnc_session_destroy.argtypes = [ctypes.c_void_p]
        self.lib = lib
        count = ctypes.c_int32()
        assert lib.cnnc_num_parameters(ctypes.byref(count)) == 0
        self.shapes = []
        for i in range(count.value):
            dims = (ctypes.c_int64 * 4)()
            rank = ctypes.c_int32()
            assert lib.cnnc_parameter_shape(i, dims, 4, ctypes.byref(rank)) == 0
            self.shapes.append(tuple(dims[:rank.value]))

    def call(self, name, *args):
        status = getattr(self.lib, name)(*args)
        if status != 0:
            sys.exit(f"{name} returned status {status}")

    def seeded_step(self, x, y, params, seed, index, plain=False):
        """One SGD step (lr 0.1, no momentum): the new parameters."""
        new = [np.empty_like(p) for p in params]
        momentum = [np.zeros_like(p) for p in params]
        new_momentum = [np.zeros_like(p) for p in params]
        loss = np.zeros((), np.float32)
        args = [x.shape[0], x.ctypes.data_as(F32P), y.ctypes.data_as(I64P),
                pointers(params), pointers(momentum), pointers(new),
                pointers(new_momentum), 0.1, 0.0, 0.0, 0, 1]
        if plain:
            self.call("cnnc_train_step", *args, loss.ctypes.data_as(F32P))
        else:
            self.call("cnnc_train_step_seeded", *args, seed, index,
                      loss.ctypes.data_as(F32P))
        return new

    def session_steps(self, params, batches, seed, steps_taken=0):
        """The session's parameters after a step on each batch."""
        session = ctypes.c_void_p()
        self.call("cnnc_session_create", pointers(params),
                  ctypes.byref(session))
        try:
            self.call("cnnc_session_set_seed", session, seed)
            if steps_taken:
                self.call("cnnc_session_write", session, pointers(params),
                          None, steps_taken)
            loss = np.zeros((), np.float32)
            for x, y in batches:
                self.call("cnnc_session_train_step", session, x.shape[0],
                          x.ctypes.data_as(F32P), y.ctypes.data_as(I64P),
                          0.1, 0.0, 0.0, 0, loss.ctypes.data_as(F32P))
            out = [np.empty_like(p) for p in params]
            self.call("cnnc_session_read", session, pointers(out), None)
            return out
        finally:
            self.lib.cnnc_session_destroy(session)


def same(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a, b))


def main():
    cnnc, yaml, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "dropout.so")
    result = subprocess.run([cnnc, yaml, "-o", path], capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(result.stderr)
    lib = Library(path)
    rng = np.random.RandomState(1)
    params = [(0.3 * rng.standard_normal(s)).astype(np.float32)
              for s in lib.shapes]
    batches = [(rng.standard_normal((4, 3, 8, 8)).astype(np.float32),
                rng.randint(0, 5, size=4).astype(np.int64)) for _ in range(3)]

    by_pointer = params
    for index, (x, y) in enumerate(batches):
        by_pointer = lib.seeded_step(x, y, by_pointer, SEED, index)
    if not same(lib.session_steps(params, batches, SEED), by_pointer):
        sys.exit("a seeded session's steps differ from cnnc_train_step_seeded's")

    x, y = batches[0]
    resumed = lib.session_steps(params, [(x, y)], SEED, steps_taken=7)
    if not same(resumed, lib.seeded_step(x, y, params, SEED, 7)):
        sys.exit("a session written with steps_taken 7 does not draw step 7's "
                 "masks")

    first = lib.seeded_step(x, y, params, SEED, 0)
    for what, other in [("seed", lib.seeded_step(x, y, params, SEED + 1, 0)),
                        ("step", lib.seeded_step(x, y, params, SEED, 1))]:
        if same(first, other):
            sys.exit(f"another {what} draws the same masks")
    if not same(lib.seeded_step(x, y, params, 0, 0, plain=True),
                lib.seeded_step(x, y, params, 0, 0)):
        sys.exit("cnnc_train_step is not the seeded step with seed 0, step 0")
    print("dropout masks: sessions, resumed sessions and seeded steps agree")


if __name__ == "__main__":
    main()

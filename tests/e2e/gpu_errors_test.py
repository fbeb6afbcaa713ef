#!/usr/bin/python3
"""A GPU library's failures come back as CNNC_ERROR_RUNTIME with a reason,
never as an abort, and the library keeps working afterwards.

Device memory exhausted, on the CPU: pocl's OpenCL device limited to 1 GB
(POCL_MEMORY_LIMIT=1) gets a forward pass whose input alone is 1.2 GB (each
buffer stays under Halide's 2 GiB limit, so the device allocation is what
fails: pocl refuses it, CL_INVALID_BUFFER_SIZE). The calls run in a child
process, so an abort fails the test instead of ending it.

usage: gpu_errors_test.py CNNC WORKDIR
"""
import ctypes
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CNNC_ERROR_RUNTIME = 5

CHILD = r"""
import ctypes, sys
import numpy as np
lib = ctypes.CDLL(sys.argv[1])
lib.cnnc_last_error.restype = ctypes.c_char_p
count = ctypes.c_int32()
lib.cnnc_num_parameters(ctypes.byref(count))
params, keep = [], []
for i in range(count.value):
    dims = (ctypes.c_int64 * 8)()
    rank = ctypes.c_int32()
    lib.cnnc_parameter_shape(i, dims, 8, ctypes.byref(rank))
    a = np.zeros([dims[d] for d in range(rank.value)], np.float32)
    keep.append(a)
    params.append(a.ctypes.data_as(ctypes.c_void_p))
pointers = (ctypes.c_void_p * len(params))(*params)
for batch in [int(b) for b in sys.argv[2:]]:
    x = np.zeros((batch, 3, 32, 32), np.float32)
    y = np.empty((batch, 10), np.float32)
    status = lib.cnnc_forward(ctypes.c_int64(batch), x.ctypes.data_as(ctypes.c_void_p),
                              pointers, y.ctypes.data_as(ctypes.c_void_p))
    print(batch, status, lib.cnnc_last_error().decode(errors="replace"), flush=True)
    del x, y
"""


def main():
    cnnc, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    lib = os.path.join(work, "lenet_opencl.so")
    subprocess.run([cnnc, os.path.join(ROOT, "examples", "lenet.yaml"), "-o", lib,
                    "--target", "host-opencl"], check=True)
    env = dict(os.environ, POCL_MEMORY_LIMIT="1")
    huge = 100000  # 1.2 GB of input
    p = subprocess.run([sys.executable, "-c", CHILD, lib, "2", str(huge), "2"],
                       env=env, capture_output=True, text=True, timeout=600)
    lines = p.stdout.splitlines()
    failures = []
    if p.returncode != 0:
        failures.append(f"the process ended with {p.returncode} (an abort?):\n{p.stderr}")
    if len(lines) != 3:
        failures.append(f"expected three calls, got:\n{p.stdout}\n{p.stderr}")
    else:
        small, big, again = (line.split(" ", 2) for line in lines)
        if small[1] != "0":
            failures.append(f"batch 2 failed first: {lines[0]}")
        if big[1] != str(CNNC_ERROR_RUNTIME) or not big[2].strip():
            failures.append(f"batch {huge} in 1 GB of device memory: expected status "
                            f"{CNNC_ERROR_RUNTIME} with a reason, got: {lines[1]}")
        if again[1] != "0":
            failures.append(f"batch 2 after the failure: {lines[2]}")
    for f in failures:
        print("FAILED:", f)
    if not failures:
        print("device allocation refused:", lines[1])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Data-parallel training: `mpirun -np N cnnc train` (docs/data-parallel.md).

- 2 and 4 processes with the global batch B train what one process with
  batch B trains (5 SGD steps with momentum and weight decay, the last on a
  partial batch that leaves some processes fewer samples or none; LeNet,
  tests/e2e/general.yaml, a net with dropout and dropout2d, and LeNet built
  for the GPU backend, OpenCL on
  pocl, whose gradients go through host memory), within 1e-5 relative;
  every process holds the same parameters (the run compares their
  checksums and says so);
- a resumed run with another process count continues the same training;
- without --threads, 2 processes divide their machine's cores (or keep the
  cores mpirun bound them to) and rank 0 says how many threads each runs;
- a global batch that does not divide among the processes, processes that
  loaded different libraries or were given different runs, a bad data file
  on one process and a killed process each end the whole job with an
  error, within seconds.

usage: data_parallel_test.py CNNC LENET_YAML GENERAL_YAML DROPOUT_YAML WORKDIR
"""
import os
import shutil
import subprocess
import sys
import time

import numpy as np

from cli_run import run
from safetensors_io import read_safetensors

MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]
BATCH, STEPS = 8, 5
DROPOUT_INPUT = (3, 8, 8)  # tests/e2e/dropout.yaml's
# A hung job must fail the test, not the suite's time limit.
JOB_SECONDS = 240


def mpirun(args, timeout=JOB_SECONDS):
    start = time.monotonic()
    result = subprocess.run(MPIRUN + args, capture_output=True, text=True,
                            timeout=timeout)
    return result, time.monotonic() - start


def check(cond, message):
    if not cond:
        sys.exit(message)


def max_relative_error(a, b):
    worst = 0.0
    for name in a:
        scale = max(float(np.abs(a[name]).max()), 1e-6)
        worst = max(worst, float(np.abs(a[name] - b[name]).max()) / scale)
    return worst


def make_data(work, name, shape, classes, samples, seed):
    rng = np.random.RandomState(seed)
    images = rng.uniform(-1, 1, size=(samples,) + shape).astype(np.float32)
    labels = rng.randint(0, classes, size=samples).astype(np.int64)
    x, y = os.path.join(work, f"{name}_x.npy"), os.path.join(work, f"{name}_y.npy")
    np.save(x, images)
    np.save(y, labels)
    return f"npy:{x},{y}"


def train_args(cnnc, lib, data, out, epochs=1, extra=(), batch=BATCH,
               threads=("--threads", "1")):
    return [cnnc, "train", lib, "--data", data, "--val-data", data,
            "--epochs", str(epochs), "--batch-size", str(batch), "--lr", "0.05",
            "--momentum", "0.9", "--weight-decay", "1e-3", "--seed", "3",
            *threads, "-o", out, *extra]


def equal_to_one_process(cnnc, lib, data, work, name):
    one = os.path.join(work, f"{name}_1.safetensors")
    run(train_args(cnnc, lib, data, one))
    reference = read_safetensors(one)
    for n in (2, 4):
        out = os.path.join(work, f"{name}_{n}.safetensors")
        result, _ = mpirun(["-np", str(n)] + train_args(cnnc, lib, data, out))
        check(result.returncode == 0,
              f"{name}, {n} processes failed:\n{result.stdout}{result.stderr}")
        check(f"data parallel: MPI, {n} processes" in result.stdout,
              f"{name}: no data-parallel header:\n{result.stdout}")
        check(f"parameters identical on {n} processes" in result.stdout,
              f"{name}: no checksum comparison:\n{result.stdout}")
        # Rank 0 alone reports: one summary line per epoch.
        check(result.stdout.count("epoch 1/1: train loss") == 1,
              f"{name}: expected one summary line:\n{result.stdout}")
        error = max_relative_error(reference, read_safetensors(out))
        print(f"{name}: {n} processes vs one, max relative error {error:.3g}")
        check(error <= 1e-5, f"{name}: {n} processes differ from one by {error}")


def resumes_with_another_count(cnnc, lib, data, work):
    # Two epochs in one process, against one epoch on 4 then one on 2.
    whole = os.path.join(work, "whole.safetensors")
    run(train_args(cnnc, lib, data, whole, epochs=2))
    first = os.path.join(work, "first.safetensors")
    result, _ = mpirun(["-np", "4"] + train_args(cnnc, lib, data, first))
    check(result.returncode == 0, result.stdout + result.stderr)
    ckpt = os.path.join(work, "first.ckpt.safetensors")
    resumed = os.path.join(work, "resumed.safetensors")
    result, _ = mpirun(["-np", "2"] + train_args(
        cnnc, lib, data, resumed, epochs=2, extra=("--resume", ckpt)))
    check(result.returncode == 0, result.stdout + result.stderr)
    error = max_relative_error(read_safetensors(whole), read_safetensors(resumed))
    print(f"resumed on 2 after 1 epoch on 4 vs 2 epochs in one: {error:.3g}")
    check(error <= 1e-5, f"the resumed run differs by {error}")


def shares_the_cores(cnnc, lib, data, work):
    # Without --threads, processes that may run on the same cores divide
    # them; bound to cores of their own (Open MPI binds 2 processes to a
    # core each by default), they keep those.
    if "HL_NUM_THREADS" in os.environ or "HL_NUMTHREADS" in os.environ:
        print("shares_the_cores: skipped (HL_NUM_THREADS is set)")
        return
    cores = len(os.sched_getaffinity(0))
    out = os.path.join(work, "shared_cores.safetensors")
    def line(threads, processes, cores):
        return (f"threads per process: {threads} ({processes} "
                f"process{'es' * (processes != 1)} on rank 0's {cores} "
                f"core{'s' * (cores != 1)})")
    runs = [(["--bind-to", "none"], line(max(1, cores // 2), 2, cores))]
    if cores >= 2:  # each process on a hardware thread of its own
        runs.append((["--bind-to", "hwthread"], line(1, 1, 1)))
    for binding, expected in runs:
        result, _ = mpirun(binding + ["-np", "2"] +
                           train_args(cnnc, lib, data, out, threads=()))
        check(result.returncode == 0,
              f"2 processes {binding} without --threads failed:\n"
              f"{result.stdout}{result.stderr}")
        check(expected in result.stdout,
              f"expected '{expected}' in:\n{result.stdout}")


def fails_fast(args, needle, what):
    result, seconds = mpirun(args)
    check(result.returncode != 0, f"{what}: the job succeeded:\n{result.stdout}")
    check(needle in result.stderr,
          f"{what}: expected '{needle}' in:\n{result.stderr}")
    check(seconds < 60, f"{what}: the job took {seconds:.0f} s to fail")
    print(f"{what}: failed in {seconds:.1f} s")
    return result


def main():
    cnnc, lenet_yaml, general_yaml, dropout_yaml, work = sys.argv[1:6]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    p = lambda name: os.path.join(work, name)
    run([cnnc, lenet_yaml, "-o", p("lenet.so")])
    run([cnnc, general_yaml, "-o", p("general.so")])
    run([cnnc, dropout_yaml, "-o", p("dropout.so")])
    # Four full batches and a partial one: 1 sample (slices of 0 and 1 on
    # 2 processes, 0, 0, 0 and 1 on 4), or 5 (2 and 3; 1, 1, 1 and 2).
    full = BATCH * (STEPS - 1)
    lenet_data = make_data(work, "lenet", (3, 32, 32), 10, full + 1, 0)
    general_data = make_data(work, "general", (3, 19, 13), 5, full + 5, 1)
    dropout_data = make_data(work, "dropout", DROPOUT_INPUT, 5, full + 5, 2)

    equal_to_one_process(cnnc, p("lenet.so"), lenet_data, work, "lenet")
    equal_to_one_process(cnnc, p("general.so"), general_data, work, "general")
    equal_to_one_process(cnnc, p("dropout.so"), dropout_data, work, "dropout")
    # A GPU-backend library (OpenCL, run by pocl on the CPU): its gradients
    # are staged through host memory for the allreduce.
    run([cnnc, lenet_yaml, "--target", "host-opencl", "-o", p("lenet_cl.so")])
    equal_to_one_process(cnnc, p("lenet_cl.so"), lenet_data, work, "lenet_opencl")
    resumes_with_another_count(cnnc, p("lenet.so"), lenet_data, work)
    shares_the_cores(cnnc, p("lenet.so"), lenet_data, work)

    out = p("bad.safetensors")
    fails_fast(["-np", "4"] + train_args(cnnc, p("lenet.so"), lenet_data, out,
                                         batch=6),
               "must divide by their number", "batch 6 on 4 processes")
    fails_fast(["-np", "1"] + train_args(cnnc, p("lenet.so"), lenet_data, out)
               + [":", "-np", "1"]
               + train_args(cnnc, p("general.so"), lenet_data, out),
               "the model libraries", "different libraries")
    fails_fast(["-np", "1"] + train_args(cnnc, p("lenet.so"), lenet_data, out)
               + [":", "-np", "1"]
               + train_args(cnnc, p("lenet.so"), lenet_data, out, epochs=2),
               "the runs (epochs", "different epochs")
    with open(p("broken_y.npy"), "wb") as f:
        f.write(b"not a npy file")
    broken = f"npy:{p('lenet_x.npy')},{p('broken_y.npy')}"
    fails_fast(["-np", "1"] + train_args(cnnc, p("lenet.so"), lenet_data, out)
               + [":", "-np", "1"]
               + train_args(cnnc, p("lenet.so"), broken, out),
               "broken_y.npy", "a bad data file on rank 1")
    # Rank 1 is killed (SIGKILL) four seconds into a long run.
    long_run = train_args(cnnc, p("lenet.so"), lenet_data, out, epochs=100000)
    result = fails_fast(["-np", "1"] + long_run
                        + [":", "-np", "1", "timeout", "-s", "KILL", "4"]
                        + long_run,
                        "exited on signal 9", "a killed rank")
    check("epoch 1/100000: train loss" in result.stdout,
          f"the rank was killed before training:\n{result.stdout}")
    print("data parallel: all checks passed")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The cnnc executable runs compiled models without the compiler (issue 12,
point 5):
  - it does not link libLLVM, libMLIR or libHalide (readelf -d);
  - `cnnc init`, `run`, `eval`, `train` (one epoch) and `bench NET.so` on a
    real library load none of them, nor the compiler library (LD_DEBUG=files);
  - the compile form and `summary` load the compiler library and work through
    it (and the LD_DEBUG check does see LLVM, MLIR and Halide there);
  - the compiler library is found next to the executable, in ../lib/cnnc/
    relative to it, or through $CNNC_COMPILER_LIBRARY; without it `--help`,
    `--version` and `init` still work, and compiling fails with a message
    naming the paths tried and the variable to set.

usage: compiler_split_test.py CNNC COMPILER_LIBRARY WORKDIR"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np

from cli_run import run, expect_error

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = os.path.join(HERE, "tiny_train.yaml")
COMPILER = re.compile(r"lib(LLVM|MLIR|Halide)[^/\s]*\.so|libcnnc_compiler\.so")


def check(condition, message):
    if not condition:
        sys.exit("check failed: " + message)


def loaded_files(cmd, env=None):
    """Runs `cmd` (it must succeed) and returns the shared objects the dynamic
    loader opened, as LD_DEBUG=files reports them."""
    result = run(cmd, env=dict(env or os.environ, LD_DEBUG="files"))
    return re.findall(r"file=(\S+) \[\d+\];\s+generating link map", result.stderr)


def main():
    cnnc, compiler, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    p = lambda name: os.path.join(work, name)  # noqa: E731

    needed = subprocess.run(["readelf", "-d", cnnc], capture_output=True, text=True,
                            check=True).stdout
    check("NEEDED" in needed, f"readelf -d lists the needed libraries:\n{needed}")
    check(not COMPILER.search(needed), f"cnnc links no compiler library:\n{needed}")

    # Compiling goes through the compiler library, which brings LLVM & co.
    files = loaded_files([cnnc, TINY, "-o", p("tiny.so")])
    for lib in ("libcnnc_compiler.so", "libLLVM", "libMLIR", "libHalide"):
        check(any(lib in f for f in files), f"compiling loads {lib}: {files}")
    shapes = run([cnnc, TINY, "--emit", "shapes"]).stdout
    check(shapes.startswith("input [?, 1, 8, 8]\nconv1 conv2d"), f"--emit shapes:\n{shapes}")
    check("total parameters: 170" in run([cnnc, "summary", TINY]).stdout, "summary")

    rng = np.random.default_rng(0)
    np.save(p("x.npy"), rng.random((8, 1, 8, 8), dtype=np.float32))
    np.save(p("labels.npy"), rng.integers(0, 2, 8).astype(np.int64))
    data = "npy:" + p("x.npy") + "," + p("labels.npy")
    env = dict(os.environ, XDG_CACHE_HOME=p("cache"))
    commands = {
        "init": ["init", p("tiny.so"), "-o", p("w.safetensors")],
        "run": ["run", p("tiny.so"), "--weights", p("w.safetensors"),
                "--input", p("x.npy"), "-o", p("y.npy")],
        "eval": ["eval", p("tiny.so"), "--weights", p("w.safetensors"), "--data", data],
        "train": ["train", p("tiny.so"), "--data", data, "--epochs", "1",
                  "--batch-size", "4", "-o", p("trained.safetensors")],
        "bench": ["bench", p("tiny.so"), "--threads", "1", "--runs", "3"],
    }
    for name, args in commands.items():
        files = loaded_files([cnnc] + args, env)
        check(any(f.endswith("tiny.so") for f in files),
              f"cnnc {name}: LD_DEBUG shows the model library loaded: {files}")
        heavy = [f for f in files if COMPILER.search(f)]
        check(not heavy, f"cnnc {name} loads no compiler library, but loaded {heavy}")

    # Without the compiler library next to it or in ../lib/cnnc/.
    alone = p("alone/bin/cnnc")
    os.makedirs(os.path.dirname(alone))
    shutil.copy(cnnc, alone)
    check(run([alone, "--help"]).stdout.startswith("usage:"), "--help without the compiler")
    check(run([alone, "--version"]).stdout.startswith("cnnc "), "--version without the compiler")
    run([alone, "init", p("tiny.so"), "-o", p("w2.safetensors")])
    bin_dir = os.path.dirname(alone)
    expect_error([alone, TINY, "--emit", "shapes"],
                 "cnnc: error: this command needs the cnnc compiler library, which could "
                 "not be loaded:",
                 f"{bin_dir}/libcnnc_compiler.so: cannot open shared object file",
                 f"{bin_dir}/../lib/cnnc/libcnnc_compiler.so: cannot open shared object file",
                 "set CNNC_COMPILER_LIBRARY to the path of libcnnc_compiler.so")
    expect_error([alone, "bench", TINY, "--runs", "3"],
                 "cnnc bench: error: this command needs the cnnc compiler library")

    # The environment override: used when set, and named when it fails.
    with_env = dict(os.environ, CNNC_COMPILER_LIBRARY=compiler)
    check(run([alone, TINY, "--emit", "shapes"], env=with_env).stdout == shapes,
          "compiling through $CNNC_COMPILER_LIBRARY")
    result = run([alone, TINY, "--emit", "shapes"], ok=False,
                 env=dict(os.environ, CNNC_COMPILER_LIBRARY=p("tiny.so")))
    for needle in (f"CNNC_COMPILER_LIBRARY={p('tiny.so')}: not a cnnc compiler library",
                   "or unset it"):
        check(needle in result.stderr, f"'{needle}' in:\n{result.stderr}")

    # An installed layout: bin/cnnc and lib/cnnc/libcnnc_compiler.so.
    installed = p("prefix/bin/cnnc")
    os.makedirs(os.path.dirname(installed))
    os.makedirs(p("prefix/lib/cnnc"))
    shutil.copy(cnnc, installed)
    shutil.copy(compiler, p("prefix/lib/cnnc/libcnnc_compiler.so"))
    check(run([installed, TINY, "--emit", "shapes"]).stdout == shapes,
          "compiling with the library in ../lib/cnnc/")
    print("ok")


if __name__ == "__main__":
    main()

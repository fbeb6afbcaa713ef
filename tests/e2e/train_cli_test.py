#!/usr/bin/env python3
"""`cnnc train` and `cnnc eval` through the real command line and a real
generated library (tests/e2e/tiny_train.yaml):
  - it learns a separable task (accuracy >= 95%);
  - a run whose thread count is timed on its first steps gives the bytes of
    a run on one thread and reports the count it chose;
  - one epoch + --resume equals two uninterrupted epochs, byte for byte
    (dropout masks included);
  - bad input (labels out of range, images of the wrong shape, a data folder
    without its files, weights of another network) fails with a message
    naming the file, and a file saved before is left untouched;
  - transfer: --weights with a head of another shape is refused with a hint,
    and with --skip (or the recipe's init: skip) the head starts anew (as
    `cnnc init` makes it) while the rest comes from the file.

usage: train_cli_test.py CNNC WORKDIR"""
import os
import re
import sys

import numpy as np

from cli_run import expect_error, run
from safetensors_io import read_safetensors, write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    cnnc, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    p = lambda name: os.path.join(work, name)  # noqa: E731
    lib = p("tiny.so")
    run([cnnc, os.path.join(HERE, "tiny_train.yaml"), "-o", lib])

    rng = np.random.RandomState(0)
    labels = rng.randint(0, 2, size=200).astype(np.int64)
    images = rng.rand(200, 1, 8, 8).astype(np.float32) * 0.5
    images[labels == 1, :, 2:6, 2:6] += 0.5
    np.save(p("x.npy"), images)
    np.save(p("y.npy"), labels)
    data = f"npy:{p('x.npy')},{p('y.npy')}"

    # Learning, and the report of eval.
    run([cnnc, "train", lib, "--data", data, "--epochs", "2", "-o", p("full.safetensors")])
    result = run([cnnc, "eval", lib, "--weights", p("full.safetensors"), "--data", data])
    accuracy = float(result.stdout.split("accuracy ")[1].split("%")[0])
    if accuracy < 95.0:
        sys.exit(f"accuracy {accuracy}% after 2 epochs on a separable task\n{result.stdout}")
    if "confusion matrix" not in result.stdout:
        sys.exit("eval prints no confusion matrix:\n" + result.stdout)

    # The thread count timed on the first steps (of 200 here): the weights are
    # those of a run on one thread, byte for byte, and the choice is reported.
    tuned = run([cnnc, "train", lib, "--data", data, "--epochs", "1", "--batch-size", "1",
                 "-o", p("tuned.safetensors")])
    run([cnnc, "train", lib, "--data", data, "--epochs", "1", "--batch-size", "1",
         "--threads", "1", "-o", p("one.safetensors")])
    if read(p("tuned.safetensors")) != read(p("one.safetensors")):
        sys.exit("a run with its thread count timed differs from a run on one thread")
    cores = len(os.sched_getaffinity(0))
    if cores > 1 and not {"HL_NUM_THREADS", "HL_NUMTHREADS"} & set(os.environ):
        counts = rf"(1 thread|{cores} threads)"
        report = rf"\nthreads: {counts} \(median step [0-9.e+-]+ ms; {counts}: [0-9.e+-]+ ms\)\n"
        if not re.search(report, tuned.stdout):
            sys.exit("cnnc train did not report the thread count it chose:\n" + tuned.stdout)

    # Resume: 1 epoch, then continue to 2, equals 2 epochs at once.
    run([cnnc, "train", lib, "--data", data, "--epochs", "1", "-o", p("half.safetensors")])
    run([cnnc, "train", lib, "--data", data, "--epochs", "2", "--resume",
         p("half.ckpt.safetensors"), "-o", p("resumed.safetensors")])
    if read(p("resumed.safetensors")) != read(p("full.safetensors")):
        sys.exit("a resumed run differs from an uninterrupted one")

    # Bad input: clear errors naming the file; earlier results untouched.
    before = read(p("full.safetensors"))
    np.save(p("bad_y.npy"), np.where(labels == 1, 7, 0).astype(np.int64))
    expect_error([cnnc, "train", lib, "--data", f"npy:{p('x.npy')},{p('bad_y.npy')}",
                  "-o", p("full.safetensors")], "bad_y.npy", "out of range")
    np.save(p("rgb.npy"), rng.rand(200, 3, 8, 8).astype(np.float32))
    expect_error([cnnc, "train", lib, "--data", f"npy:{p('rgb.npy')},{p('y.npy')}",
                  "-o", p("full.safetensors")], "rgb.npy")
    os.makedirs(p("empty"), exist_ok=True)
    expect_error([cnnc, "train", lib, "--data", f"fashion-mnist:{p('empty')}",
                  "-o", p("full.safetensors")], "empty", "train-images-idx3-ubyte")
    other = p("other.so")
    run([cnnc, os.path.join(HERE, "..", "..", "examples", "lenet_fashion.yaml"), "-o", other])
    run([cnnc, "init", other, "-o", p("other.safetensors")])
    expect_error([cnnc, "train", lib, "--data", data, "--weights", p("other.safetensors"),
                  "-o", p("full.safetensors")], "other.safetensors", "conv1.weight")
    if read(p("full.safetensors")) != before:
        sys.exit("a failed run changed the weights saved before it")

    # Transfer: the file's head has 5 classes; --skip starts it anew. An lr
    # far below every weight's ulp keeps the weights as they started.
    tensors = read_safetensors(p("full.safetensors"))
    tensors["fc.weight"] = np.ones((5, tensors["fc.weight"].shape[1]), np.float32)
    tensors["fc.bias"] = np.ones(5, np.float32)
    write_safetensors(p("head5.safetensors"), tensors)
    expect_error([cnnc, "train", lib, "--data", data, "--weights", p("head5.safetensors"),
                  "-o", p("transfer.safetensors")],
                 "tensor 'fc.weight' has shape [5, 64]", "--skip 'fc.weight'")
    expect_error([cnnc, "train", lib, "--data", data, "--weights", p("head5.safetensors"),
                  "--skip", "fc.*,head.*", "-o", p("transfer.safetensors")],
                 "'head.*' matches no parameter")
    run([cnnc, "init", lib, "-o", p("fresh.safetensors")])
    fresh = read_safetensors(p("fresh.safetensors"))

    def check_transfer(library, *flags):
        run([cnnc, "train", library, "--data", data, *flags, "--epochs", "1", "--lr", "1e-30",
             "-o", p("transfer.safetensors")])
        got = read_safetensors(p("transfer.safetensors"))
        for name in ("conv1.weight", "conv1.bias"):
            if not np.array_equal(got[name], tensors[name]):
                sys.exit(f"transfer {flags}: {name} was not taken from the weights file")
        for name in ("fc.weight", "fc.bias"):
            if not np.array_equal(got[name], fresh[name]):
                sys.exit(f"transfer {flags}: the skipped {name} did not start as `cnnc init` "
                         "makes it")

    check_transfer(lib, "--weights", p("head5.safetensors"), "--skip", "fc.*")
    # The same start written in the recipe (train: init:).
    with open(os.path.join(HERE, "tiny_train.yaml")) as f:
        recipe = f.read().replace("  epochs: 2\n", "  epochs: 2\n  init: {weights: '" +
                                  p("head5.safetensors") + "', skip: ['fc.*']}\n")
    with open(p("tiny_init.yaml"), "w") as f:
        f.write(recipe)
    run([cnnc, p("tiny_init.yaml"), "-o", p("tiny_init.so")])
    check_transfer(p("tiny_init.so"))
    print("train/eval command line: learning, exact resume, errors and transfer OK")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""python -m cnnc.plot on the metrics of a real `cnnc train --metrics` run
(the stand-in library fake_model on a separable set): it draws a PNG of
the expected size whose panels are not blank, and refuses files that are
not metrics CSVs with exit status 1.

usage: plot_test.py CNNC FAKE_MODEL WORKDIR"""
import os
import subprocess
import sys

import matplotlib.image
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd, expect=0):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != expect:
        sys.exit(f"{' '.join(cmd)}: exit {result.returncode}, expected {expect}\n"
                 f"{result.stdout}{result.stderr}")
    return result


def main():
    cnnc, library, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    rng = np.random.RandomState(0)
    labels = np.arange(60) % 3
    images = rng.rand(60, 2, 2, 2).astype(np.float32) * 0.1
    images.reshape(60, 8)[np.arange(60), labels] += 2.0
    np.save(os.path.join(workdir, "x.npy"), images)
    np.save(os.path.join(workdir, "y.npy"), labels.astype(np.int64))
    data = "npy:" + os.path.join(workdir, "x.npy") + "," + os.path.join(workdir, "y.npy")
    metrics = os.path.join(workdir, "metrics.csv")
    run([cnnc, "train", library, "--data", data, "-o", os.path.join(workdir, "w.safetensors"),
         "--epochs", "3", "--metrics", metrics, "--metrics-every", "4"])
    picture = os.path.join(workdir, "curves.png")
    out = run([sys.executable, "-m", "cnnc.plot", metrics, "-o", picture,
               "--title", "fake_linear"]).stdout
    if f"wrote {picture}" not in out:
        sys.exit(f"unexpected output: {out}")
    pixels = matplotlib.image.imread(picture)
    # figsize 11 x 6.5 inches at 110 dpi
    if pixels.shape[:2] != (715, 1210):
        sys.exit(f"{picture}: {pixels.shape}, expected 715 x 1210 pixels")
    # Each quarter holds drawn curves: far from a blank white image.
    for rows in (slice(0, 357), slice(357, 715)):
        for cols in (slice(0, 605), slice(605, 1210)):
            if (pixels[rows, cols, :3] < 0.9).mean() < 0.01:
                sys.exit(f"{picture}: a panel is blank")
    bad = os.path.join(workdir, "bad.csv")
    with open(bad, "w") as f:
        f.write("a,b\n1,2\n")
    err = run([sys.executable, "-m", "cnnc.plot", bad, "-o", picture], expect=1).stderr
    if "not a metrics file" not in err:
        sys.exit(f"unexpected error: {err}")
    print("plot: curves drawn from cnnc train --metrics")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The lecture's whole workload, cnnc against PyTorch: one Fashion-MNIST
epoch (60,000 images, batch 64, shuffled, SGD lr 0.01 momentum 0.9) and the
evaluation of the 10,000 test images, for examples/lenet_fashion.yaml's
LeNet-5 and benchmarks/feedforward_fashion.yaml's FeedForwardNet.

cnnc: the whole `cnnc train NET.so --data fashion-mnist:DIR --epochs 1`
process, timed from its start to its exit (start-up, reading the gzipped
IDX files (decompressed by an untimed run before: later runs map the copy
cnnc keeps in its cache), the epoch, the test evaluation, writing the weights
and the checkpoint). PyTorch: in this process, on tensors decoded and
normalised beforehand (not timed): a shuffled epoch of
zero_grad/forward/cross_entropy/backward/step, then the test images in
eval mode under no_grad, in batches of 1000. Both at 1 and at 2 threads;
each system is reported at its best thread count (median over rounds) and
the ratio is the median over rounds of time(torch) / time(cnnc) at those
counts. The two systems alternate run by run.

torch runs as compare_torch.py runs it (torch_env.py): OpenBLAS required
(the script refuses the reference BLAS), OPENBLAS_NUM_THREADS=1, glibc
malloc tunables that keep freed memory (--torch-malloc glibc for glibc's
defaults, reported next to the ratio unless --no-default-malloc).

usage: /usr/bin/python3 benchmarks/epoch_vs_torch.py [--rounds K]
           [--nets lenet,feedforward] [--data DIR] [--cnnc PATH]
           [--torch-malloc no-mmap|glibc] [--no-default-malloc] [--json FILE]
           [--update-docs]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_env  # noqa: E402

CNNC_ENV = torch_env.prepare(sys.argv[1:])

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from torch_models import FeedForwardNet, Net  # noqa: E402
from torch_lenet_fashion import load as load_split, test_accuracy, train_epoch  # noqa: E402

DEFAULT_CNNC = os.path.join(ROOT, "build", "compiler", "tools", "cnnc", "cnnc")
THREADS = (1, 2)
# name: (YAML, torch model, normalisation (mean, std) or None), as the YAML.
NETS = {
    "lenet": (os.path.join(ROOT, "examples", "lenet_fashion.yaml"),
              lambda: Net(in_channels=1, conv1_padding=2), (0.2860, 0.3530)),
    "feedforward": (os.path.join(HERE, "feedforward_fashion.yaml"),
                    lambda: FeedForwardNet(in_features=28 * 28), None),
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load(directory, split, normalize):
    x, y = load_split(directory, split)
    if normalize:
        x = (x - normalize[0]) / normalize[1]
    return x, y


def torch_epoch(make_model, data, threads, seed):
    """Seconds for the epoch and the test evaluation, and the test accuracy."""
    (x_train, y_train), (x_test, y_test) = data
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    start = time.perf_counter()
    train_epoch(model, optimizer, x_train, y_train, torch.randperm(len(x_train)))
    accuracy = test_accuracy(model, x_test, y_test)
    return time.perf_counter() - start, accuracy


def cnnc_epoch(cnnc, so, data_dir, threads, workdir, seed):
    """Seconds of the whole `cnnc train` process, its epoch's images/s and
    its validation accuracy."""
    cmd = [cnnc, "train", so, "--data", f"fashion-mnist:{data_dir}", "--epochs", "1",
           "--threads", str(threads), "--seed", str(seed),
           "-o", os.path.join(workdir, "w.safetensors")]
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=CNNC_ENV)
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"epoch_vs_torch.py: `{' '.join(cmd)}` failed ({p.returncode}):\n{p.stderr}")
    m = re.search(r"val accuracy ([\d.]+)%.* (\d+) images/s", p.stdout)
    if not m:
        sys.exit(f"epoch_vs_torch.py: no epoch line in cnnc train's output:\n{p.stdout}")
    return seconds, int(m.group(2)), float(m.group(1)) / 100


def torch_only(args, nets):
    """--torch-only: torch alone (run by the main process with glibc's
    default malloc), each net at each thread count, median seconds."""
    out = {}
    for net in nets:
        _, make_model, normalize = NETS[net]
        data = (load(args.data, "train", normalize), load(args.data, "t10k", normalize))
        for t in THREADS:
            times = [torch_epoch(make_model, data, t, r)[0] for r in range(args.rounds)]
            out[f"{net}/{t}"] = statistics.median(times)
    return out


def best(times_by_threads):
    """(thread count, median seconds) of the faster thread count."""
    return min(((t, statistics.median(v)) for t, v in times_by_threads.items()),
               key=lambda tv: tv[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nets", default="lenet,feedforward")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--cnnc", default=os.environ.get("CNNC", DEFAULT_CNNC))
    ap.add_argument("--torch-malloc", choices=("no-mmap", "glibc"), default="no-mmap")
    ap.add_argument("--no-default-malloc", action="store_true")
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json")
    ap.add_argument("--update-docs", action="store_true",
                    help="write the table into README.md and docs/benchmarks.md")
    args = ap.parse_args()
    nets = args.nets.split(",")
    for net in nets:
        if net not in NETS:
            sys.exit(f"epoch_vs_torch.py: unknown net '{net}' (known: {', '.join(NETS)})")
    if args.torch_only:
        with open(args.json, "w") as f:
            json.dump(torch_only(args, nets), f)
        return
    info = torch_env.machine_info(args.cnnc, ROOT)
    torch_env.refuse_reference_blas(info, "epoch_vs_torch.py")
    if not os.access(args.cnnc, os.X_OK):
        sys.exit(f"epoch_vs_torch.py: no cnnc binary at {args.cnnc}")

    workdir = tempfile.mkdtemp(prefix="cnnc-epoch-")
    started = time.time()
    rows = []
    for net in nets:
        yaml, make_model, normalize = NETS[net]
        so = os.path.join(workdir, net + ".so")
        subprocess.run([args.cnnc, yaml, "-o", so], check=True, env=CNNC_ENV)
        data = (load(args.data, "train", normalize), load(args.data, "t10k", normalize))
        # Untimed: leaves the decompressed copies of the gzipped files in
        # cnnc's cache (docs/data.md), as any earlier run on them would.
        cnnc_epoch(args.cnnc, so, args.data, THREADS[-1], workdir, 0)
        torch_times = {t: [] for t in THREADS}
        cnnc_times = {t: [] for t in THREADS}
        rates, accuracies = {t: [] for t in THREADS}, []
        for r in range(args.rounds):
            for t in THREADS:
                seconds, accuracy = torch_epoch(make_model, data, t, r)
                torch_times[t].append(seconds)
                accuracies.append(("torch", accuracy))
                seconds, rate, accuracy = cnnc_epoch(args.cnnc, so, args.data, t, workdir, r)
                cnnc_times[t].append(seconds)
                rates[t].append(rate)
                accuracies.append(("cnnc", accuracy))
                log(f"{net} round {r + 1} threads {t}: torch {torch_times[t][-1]:.2f} s, "
                    f"cnnc {seconds:.2f} s ({rate} images/s in the epoch)")
        tt, ts = best(torch_times)
        ct, cs = best(cnnc_times)
        ratios = [a / b for a, b in zip(torch_times[tt], cnnc_times[ct])]
        rows.append({"net": net, "torch_threads": tt, "torch_s": ts, "cnnc_threads": ct,
                     "cnnc_s": cs, "ratio": statistics.median(ratios),
                     "cnnc_epoch_images_per_s": statistics.median(rates[ct]),
                     "torch_times": torch_times, "cnnc_times": cnnc_times,
                     "accuracy": {s: statistics.median(a for n, a in accuracies if n == s)
                                  for s in ("torch", "cnnc")}})

    default_malloc = None
    if not args.no_default_malloc and args.torch_malloc == "no-mmap":
        out = os.path.join(workdir, "torch-glibc.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--torch-only", "--torch-malloc",
               "glibc", "--nets", args.nets, "--data", args.data, "--json", out,
               "--rounds", str(args.rounds)]
        subprocess.run(cmd, check=True, env=CNNC_ENV)
        with open(out) as f:
            default_malloc = json.load(f)

    info["loadavg_end"] = os.getloadavg()
    malloc = ("GLIBC_TUNABLES=" + torch_env.TUNABLES if args.torch_malloc == "no-mmap"
              else "glibc defaults")
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))} by "
        f"`benchmarks/epoch_vs_torch.py --rounds {args.rounds} --nets {args.nets}`: "
        f"cnnc {info['cnnc_commit']}, PyTorch {info['torch']} "
        f"({', '.join(os.path.basename(b) for b in info['torch_libs'])}), "
        f"{info['cpu']}, {info['cores_usable']} cores usable; load average "
        f"{info['loadavg_start'][0]:.2f} at start, {info['loadavg_end'][0]:.2f} at end; "
        f"{time.time() - started:.0f} s in all.", "",
        "| net | torch s (threads) | cnnc s (threads) | torch/cnnc | "
        "cnnc epoch images/s | torch, glibc default malloc, s | torch that/cnnc | "
        "test accuracy torch / cnnc |",
        "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        if default_malloc:
            gt = min(default_malloc[f"{row['net']}/{t}"] for t in THREADS)
            glibc = f"{gt:.2f} | {gt / row['cnnc_s']:.2f}"
            row["torch_glibc_s"] = gt
        else:
            glibc = "- | -"
        lines.append(
            f"| {row['net']} | {row['torch_s']:.2f} ({row['torch_threads']}) | "
            f"{row['cnnc_s']:.2f} ({row['cnnc_threads']}) | {row['ratio']:.2f} | "
            f"{row['cnnc_epoch_images_per_s']:,.0f} | {glibc} | "
            f"{100 * row['accuracy']['torch']:.2f}% / {100 * row['accuracy']['cnnc']:.2f}% |")
    lines += ["", f"Seconds: median over {args.rounds} rounds at the system's best thread "
              "count (of 1 and 2; cnnc's `--threads` given); torch/cnnc: median of the "
              f"per-round ratios at those counts, torch with {malloc}. cnnc: the whole "
              "`cnnc train --epochs 1` process (start-up, reading the gzipped IDX files "
              "(decompressed by an untimed run before, then mapped from cnnc's cache), "
              "the epoch, the test evaluation, writing the weights and the "
              "checkpoint); torch: the epoch and the test evaluation in-process on tensors "
              "decoded beforehand. \"torch, glibc default malloc\": torch with glibc's "
              "default malloc, in a second process after the alternating rounds (best "
              "thread count, median over the same number of rounds)."]
    text = "\n".join(lines)
    print(text)
    if args.update_docs:
        torch_env.update_docs(text, "epoch-table", "epoch_vs_torch.py")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "rows": rows, "torch_default_malloc": default_malloc},
                      f, indent=1, default=str)


if __name__ == "__main__":
    main()

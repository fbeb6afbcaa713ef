#!/usr/bin/python3
"""Throughput of cnnc against PyTorch on the same networks, in one run.

For each network and batch size it times inference (a forward pass; torch
in eval mode under torch.no_grad) and one training step (forward, mean
cross-entropy, backward, SGD update with momentum 0.9; torch:
optimizer.zero_grad(set_to_none=True); loss.backward(); optimizer.step())
in both systems, each at 1 and at 2 threads, and reports the best thread
count of each system and the throughput ratio cnnc / PyTorch.

The two systems alternate measurement by measurement: every round times
torch at 1 thread, cnnc at 1 thread, torch at 2 threads, cnnc at 2 threads.
A torch measurement runs in this process (warm-up call, then calls timed
one by one with time.perf_counter; median per call); a cnnc measurement is
one `cnnc bench NET.so --json` subprocess (3 warm-up calls, then --runs
timed calls; median per call). Each system's thread count is the one with
the higher median images/s over the rounds, separately for inference and
training; the reported ratio is the median over rounds of the per-round
ratios cnnc / torch at those thread counts (the ratio of the medians is in
--json output too). Rounds stop early for expensive configurations (see
--config-budget), but never below --min-rounds; such configurations also
stop timing a thread count that lost clearly in the first round.

The environment of torch: OPENBLAS_NUM_THREADS=1, set before torch is
imported; glibc malloc tunables (mmap_max=0, a huge trim_threshold; the
script re-executes itself to set them) so that torch does not page-fault
its big activations in again on every call, as it does with glibc's
defaults (--torch-malloc glibc measures that; cnnc reuses its buffers and
its subprocesses get the original environment); libgomp's default wait
policy (--omp-passive sets OMP_WAIT_POLICY=PASSIVE, which helps torch at 2
threads on a busy machine). cnnc times a copy of its binary taken at the
start, with the default (manual) schedules.

Networks: feedforward (examples/feedforward.yaml), lenet
(examples/lenet.yaml), conv64 (benchmarks/conv64.yaml: a 3x3 conv 64->64 on
56x56, padding 1, followed by adaptive_avgpool2d 1 and flatten to 64 logits,
because a cnnc network needs a classifier ending for its loss; the torch
model has the same ending), resnet18 (examples/resnet18.yaml, torchvision's
resnet18 in training mode for the step) and resnet18_head
(examples/transfer/resnet18_head.yaml: the backbone frozen, its batch norms
in eval mode in both systems, a 2-class head). Weights differ between the systems (only the
throughput is compared); shapes, float32 and labels in range are the same.

usage: /usr/bin/python3 benchmarks/compare_torch.py [--quick]
           [--nets feedforward,lenet,conv64,resnet18,resnet18_head]
           [--batches 1,4,64,256] [--resnet-batches 1,16]
           [--rounds K] [--target-seconds S] [--json FILE] [--cnnc PATH]
           [--torch-malloc no-mmap|glibc] [--no-default-malloc] [--omp-passive]
           [--update-docs]

torch must run on an optimised BLAS, as its users have it (pip wheels ship
MKL or OpenBLAS; on Debian, libopenblas0-pthread, which
scripts/install-deps.sh installs): the script refuses to compare against
the netlib reference BLAS. Ratios use the tuned malloc setting (below);
torch is also timed with glibc's default malloc, in a second process after
the alternating rounds, and that column and its ratio are reported too
(--no-default-malloc skips it). --update-docs writes the tables into
README.md and docs/benchmarks.md between their "speed-table" markers.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_env  # noqa: E402

CNNC_ENV = torch_env.prepare(sys.argv[1:])
TUNABLES = torch_env.TUNABLES

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_CNNC = os.path.join(ROOT, "build", "compiler", "tools", "cnnc", "cnnc")
THREADS = (1, 2)
MODES = ("forward", "train_step")
DROP_FACTOR = 1.5
CONV64_FLOPS = 2 * 64 * 64 * 9 * 56 * 56  # multiply-adds of the conv, per image

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    sys.exit(f"compare_torch.py: PyTorch is not importable from {sys.executable} ({e}); "
             "run it with /usr/bin/python3 (Debian's python3-torch)")

sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from torch_models import FeedForwardNet, Net  # noqa: E402


class Conv64(nn.Module):
    """benchmarks/conv64.yaml in torch.nn."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(64, 64, 3, padding=1)

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.conv(x), 1), 1)


def resnet18():
    import torchvision
    return torchvision.models.resnet18(weights=None)


class ResNet18Head(nn.Module):
    """examples/transfer/resnet18_head.yaml: torchvision's resnet18 with a
    2-class head and a frozen backbone whose batch norms stay in eval mode
    (cnnc's default for frozen batch norms), so that both systems do the
    same work."""

    def __init__(self):
        super().__init__()
        self.net = resnet18()
        self.net.fc = nn.Linear(512, 2)
        for name, p in self.net.named_parameters():
            p.requires_grad_(name.startswith("fc."))

    def train(self, mode=True):
        super().train(mode)
        for m in self.net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def forward(self, x):
        return self.net(x)


# name: (YAML, torch model factory, input shape, classes)
NETS = {
    "feedforward": (os.path.join(ROOT, "examples", "feedforward.yaml"), FeedForwardNet, (3, 32, 32), 10),
    "lenet": (os.path.join(ROOT, "examples", "lenet.yaml"), Net, (3, 32, 32), 10),
    "conv64": (os.path.join(HERE, "conv64.yaml"), Conv64, (64, 56, 56), 64),
    # Issue 5: run with --batches 1,16 (not part of the default --nets).
    "resnet18": (os.path.join(ROOT, "examples", "resnet18.yaml"), resnet18, (3, 224, 224), 1000),
    "resnet18_head": (os.path.join(ROOT, "examples", "transfer", "resnet18_head.yaml"),
                      ResNet18Head, (3, 224, 224), 2),
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs)


# ---------------------------------------------------------------- torch side

class TorchCase:
    def __init__(self, net, batch):
        _, factory, shape, classes = NETS[net]
        torch.manual_seed(0)
        self.model = factory()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.x = torch.rand(batch, *shape, dtype=torch.float32)
        self.y = torch.randint(0, classes, (batch,), dtype=torch.int64)
        self.batch = batch
        self.per_call = {}  # (mode, threads) -> last median seconds per call

    def forward(self):
        with torch.no_grad():
            self.model(self.x)

    def train_step(self):
        self.optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()

    def time(self, mode, threads, target):
        """Median seconds per call: one warm-up call (more for tiny calls, up
        to 0.1 s), then enough timed calls for about `target` seconds."""
        torch.set_num_threads(threads)
        if mode == "forward":
            self.model.eval()
            call = self.forward
        else:
            self.model.train()
            call = self.train_step
        start = time.perf_counter()
        # Calls over 0.25 s measured before (in an earlier round) get no
        # warm-up call: the model is warm, and they are costly.
        fastest = self.per_call.get((mode, threads), 0.0)
        if fastest <= 0.25:
            fastest = math.inf
            while True:
                t0 = time.perf_counter()
                call()
                fastest = min(fastest, time.perf_counter() - t0)
                if time.perf_counter() - start > 0.1 or fastest > 0.05:
                    break
        runs = max(1, min(100000, math.ceil(target / max(fastest, 1e-7))))
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            call()
            samples.append(time.perf_counter() - t0)
        self.per_call[(mode, threads)] = median(samples)
        return {"median_s": median(samples), "min_s": min(samples), "max_s": max(samples),
                "runs": runs, "images_per_s": self.batch / median(samples)}


# ----------------------------------------------------------------- cnnc side

def run_cnnc(cnnc, args):
    p = subprocess.run([cnnc] + args, capture_output=True, text=True, env=CNNC_ENV)
    if p.returncode != 0:
        sys.exit(f"compare_torch.py: `cnnc {' '.join(args)}` failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


def cnnc_bench(cnnc, so, batch, threads, runs):
    out = run_cnnc(cnnc, ["bench", so, "--batch", str(batch), "--threads", str(threads),
                          "--runs", str(runs), "--json"])
    try:
        d = json.loads(out)
    except json.JSONDecodeError:
        sys.exit(f"compare_torch.py: cnnc bench printed no JSON:\n{out}")
    r = d["results"][0]
    if r.get("train_step") is None:
        sys.exit(f"compare_torch.py: cnnc bench of {so} has no training step")
    return d, r["forward"], r["train_step"]


# ---------------------------------------------------------------- the runs

def batches_of(net, args):
    return sorted(args.resnet_batches if net.startswith("resnet18") else args.batches)


def time_torch_only(args, nets):
    """--torch-only: torch alone, each (net, batch) over --rounds rounds at
    each thread count; the best thread count's median images/s."""
    out = {}
    for net in nets:
        for batch in batches_of(net, args):
            case = TorchCase(net, batch)
            entry = {}
            for mode in MODES:
                per_t = {t: [] for t in THREADS}
                for _ in range(args.rounds):
                    for t in THREADS:
                        per_t[t].append(case.time(mode, t, args.target_seconds / 2)["images_per_s"])
                best = max(THREADS, key=lambda t: median(per_t[t]))
                entry[mode] = {"threads": best, "images_per_s": median(per_t[best])}
            out[f"{net}/{batch}"] = entry
            log(f"  torch alone ({args.torch_malloc} malloc): {net} batch {batch}")
    return out


def time_torch_default_malloc(args, nets):
    """torch with glibc's default malloc, in a child process (the tunables
    are read at start-up)."""
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-only", "--torch-malloc", "glibc",
           "--nets", ",".join(nets), "--batches", ",".join(map(str, args.batches)),
           "--resnet-batches", ",".join(map(str, args.resnet_batches)),
           "--rounds", str(min(args.rounds, 3)), "--target-seconds", str(args.target_seconds),
           "--json", path]
    if args.omp_passive:
        cmd.append("--omp-passive")
    log("timing torch again with glibc's default malloc")
    if subprocess.run(cmd, env=CNNC_ENV).returncode != 0:
        sys.exit("compare_torch.py: the default-malloc torch run failed")
    with open(path) as f:
        data = json.load(f)
    os.unlink(path)
    return data


def check_params(cnnc, net):
    """The torch model has as many parameters as `cnnc summary` counts."""
    yaml, factory, _, _ = NETS[net]
    out = run_cnnc(cnnc, ["summary", yaml])
    m = re.search(r"total parameters: ([\d,]+)", out)
    n_torch = sum(p.numel() for p in factory().parameters())
    if m and int(m.group(1).replace(",", "")) != n_torch:
        sys.exit(f"compare_torch.py: {net}: cnnc counts {m.group(1)} parameters, "
                 f"the torch model {n_torch}")


def bench_config(cnnc, so, net, batch, args, estimate):
    """All rounds of one (net, batch). `estimate` maps threads to cnnc's
    (forward + train) seconds per call, a guess for choosing --runs; it is
    updated with what this configuration measures."""
    case = TorchCase(net, batch)
    rounds = []
    active = {"torch": list(THREADS), "cnnc": list(THREADS)}
    start = time.perf_counter()
    planned = args.rounds
    while len(rounds) < planned:
        r0 = time.perf_counter()
        rnd = {}
        for t in THREADS:
            rnd[t] = {}
            if t in active["torch"]:
                rnd[t]["torch"] = {"forward": case.time("forward", t, args.target_seconds / 2),
                                   "train_step": case.time("train_step", t, args.target_seconds / 2)}
            if t in active["cnnc"]:
                guess = estimate.get(t) or (case.per_call.get(("forward", t), 0) +
                                            case.per_call.get(("train_step", t), 0))
                runs = max(1, min(1000, round(args.target_seconds / max(guess, 1e-7))))
                peak, cf, ct = cnnc_bench(cnnc, so, batch, t, runs)
                estimate[t] = cf["median_s"] + ct["median_s"]
                rnd[t]["cnnc"] = {"forward": cf, "train_step": ct}
        rnd["loadavg"] = os.getloadavg()[0]
        rounds.append(rnd)
        cost = time.perf_counter() - r0
        if len(rounds) == 1:
            # Fewer rounds where one costs much: keep the configuration near
            # --config-budget seconds, with at least --min-rounds.
            fit = int(args.config_budget // max(cost, 1e-9))
            planned = max(min(args.min_rounds, args.rounds), min(args.rounds, fit))
            if fit < planned:
                # Still too long: stop timing a thread count that lost clearly
                # (by more than DROP_FACTOR in both modes) in this round.
                for system in active:
                    ips = {t: [rnd[t][system][m]["images_per_s"] for m in MODES] for t in THREADS}
                    for t in THREADS:
                        others = [u for u in THREADS if u != t]
                        if any(all(ips[t][i] * DROP_FACTOR < ips[u][i] for i in range(2))
                               for u in others):
                            active[system].remove(t)
        log(f"  {net} batch {batch}: round {len(rounds)}/{planned} ({cost:.1f} s, "
            f"load {rnd['loadavg']:.2f})")

    res = {"net": net, "batch": batch, "rounds": len(rounds),
           "seconds": time.perf_counter() - start, "raw": rounds}
    for mode in MODES:
        m = {}
        for system in ("torch", "cnnc"):
            per_t = {t: [r[t][system][mode]["images_per_s"] for r in rounds if system in r[t]]
                     for t in THREADS}
            best = max(active[system], key=lambda t: median(per_t[t]))
            m[system] = {"threads": best, "images_per_s": median(per_t[best]),
                         "median_s": median([r[best][system][mode]["median_s"] for r in rounds]),
                         "images_per_s_by_threads": {str(t): median(v) for t, v in per_t.items()}}
        tb, cb = m["torch"]["threads"], m["cnnc"]["threads"]
        ratios = [r[cb]["cnnc"][mode]["images_per_s"] / r[tb]["torch"][mode]["images_per_s"]
                  for r in rounds]
        m["ratio_median_of_rounds"] = median(ratios)
        m["ratio_of_medians"] = m["cnnc"]["images_per_s"] / m["torch"]["images_per_s"]
        m["ratios"] = ratios
        res[mode] = m
    return res, peak


def fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def table(results):
    glibc = all("torch_glibc" in r["forward"] for r in results)
    head = ("| net | batch | inference img/s torch | cnnc | cnnc/torch "
            + ("| torch, default malloc | cnnc/that " if glibc else "")
            + "| train step img/s torch | cnnc | cnnc/torch "
            + ("| torch, default malloc | cnnc/that " if glibc else "")
            + "| threads torch/cnnc (inf; train) |")
    cols = head.count("|") - 1
    lines = [head, "|---|" + "---:|" * (cols - 2) + ":---:|"]
    for r in results:
        cells = [r["net"], str(r["batch"])]
        for mode in MODES:
            m = r[mode]
            cells += [fmt(m["torch"]["images_per_s"]), fmt(m["cnnc"]["images_per_s"]),
                      f"{m['ratio_median_of_rounds']:.2f}"]
            if glibc:
                cells += [fmt(m["torch_glibc"]["images_per_s"]),
                          f"{m['ratio_vs_torch_glibc']:.2f}"]
        f, t = r["forward"], r["train_step"]
        cells.append(f"{f['torch']['threads']}/{f['cnnc']['threads']}; "
                     f"{t['torch']['threads']}/{t['cnnc']['threads']}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(info, results, peak):
    """The markdown the run prints (and --update-docs writes)."""
    out = [f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} by `benchmarks/compare_torch.py "
           f"{' '.join(info['argv'])}`.\n",
           f"Machine: {info['cpu']}, {info['cores']} cores ({info['cores_usable']} usable), "
           f"AVX-512 {'yes' if info['avx512'] else 'no'}; PyTorch {info['torch']} "
           f"(OPENBLAS_NUM_THREADS=1, OMP_WAIT_POLICY {info['omp_wait_policy']}; BLAS/oneDNN "
           f"loaded: {', '.join(info['torch_libs']) or 'none found'}), Python {info['python']}; "
           f"cnnc {info['cnnc_commit']}. "
           f"Load average {info['loadavg_start'][0]:.2f} at start, "
           f"{info['loadavg_end'][0]:.2f} at end; {info['seconds']:.0f} s in all."]
    if peak:
        out.append(f"FMA peak (cnnc bench): {peak.get('1', 0):.1f} GFLOP/s at 1 thread, "
                   f"{peak.get('2', 0):.1f} GFLOP/s at 2 threads.")
    out += ["", table(results), ""]
    out.append("images/s: median over rounds at the system's best thread count (of 1 and 2), "
               "chosen separately for inference and training. cnnc/torch: median over the "
               "alternating rounds of the per-round ratio, torch with malloc: "
               f"{info['torch_malloc']}. Inference: forward pass (torch: "
               "eval, no_grad); train step: forward + mean cross-entropy + backward + SGD "
               "momentum 0.9. conv64: 3x3 conv 64->64 on 56x56, padding 1, then "
               "adaptive_avgpool2d 1 + flatten (64 logits) in both systems, since a cnnc "
               "network needs a classifier ending for its loss.")
    if any("torch_glibc" in r["forward"] for r in results):
        out.append("")
        out.append("\"torch, default malloc\": torch with glibc's default malloc (its big "
                   "activations are page-faulted in again on every call), timed in a second "
                   "process after the alternating rounds (best thread count, median over 3 "
                   "rounds); \"cnnc/that\" divides cnnc's median by it.")
    conv = next((r for r in results if r["net"] == "conv64" and r["batch"] == 1), None)
    if conv and peak and "2" in peak:
        out.append("")
        for system in ("torch", "cnnc"):
            f = conv["forward"][system]
            gflops = CONV64_FLOPS / f["median_s"] / 1e9
            f["conv_gflops"] = gflops
            f["fraction_of_2_thread_peak"] = gflops / peak["2"]
            out.append(f"conv64 forward, batch 1, {system} ({f['threads']} thread"
                       f"{'s' if f['threads'] > 1 else ''}): {gflops:.1f} GFLOP/s of the conv "
                       f"(2*64*64*9*56*56 FLOPs per image / median time) = "
                       f"{100 * gflops / peak['2']:.1f}% of the 2-thread FMA peak.")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", default="feedforward,lenet,conv64",
                    help="comma-separated, from: " + ", ".join(NETS))
    ap.add_argument("--batches", default=None, help="comma-separated (default 1,4,64,256; "
                    "--quick: 1,64)")
    ap.add_argument("--resnet-batches", default="1,16",
                    help="batches of resnet18 and resnet18_head (default 1,16)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="alternating rounds per configuration (default 5; --quick: 3)")
    ap.add_argument("--min-rounds", type=int, default=3,
                    help="rounds kept even when a configuration exceeds --config-budget")
    ap.add_argument("--config-budget", type=float, default=None,
                    help="seconds one (net, batch) should take; fewer rounds beyond "
                    "(default 30; --quick: 10)")
    ap.add_argument("--target-seconds", type=float, default=None,
                    help="timed seconds per measurement (default 0.6; --quick: 0.3)")
    ap.add_argument("--quick", action="store_true", help="fewer batches, rounds and seconds")
    ap.add_argument("--cnnc", default=os.environ.get("CNNC", DEFAULT_CNNC),
                    help="the cnnc binary (default $CNNC, else build/compiler/tools/cnnc/cnnc)")
    ap.add_argument("--workdir", help="where to put the compiled NET.so (default a temp dir)")
    ap.add_argument("--omp-passive", action="store_true",
                    help="set OMP_WAIT_POLICY=PASSIVE for torch's OpenMP threads (default: "
                    "libgomp's spinning, which loses badly to other processes on a busy machine)")
    ap.add_argument("--torch-malloc", choices=("no-mmap", "glibc"), default="no-mmap",
                    help="no-mmap (default): run torch with GLIBC_TUNABLES=" + TUNABLES +
                    ", so big activations are not page-faulted in again on every call; "
                    "glibc: glibc's defaults, after one 30 MiB allocation that raises its "
                    "dynamic mmap threshold to the value a long-running process reaches "
                    "(the result no longer depends on what ran before)")
    ap.add_argument("--no-default-malloc", action="store_true",
                    help="do not time torch a second time with glibc's default malloc")
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--update-docs", action="store_true",
                    help="write the tables into README.md and docs/benchmarks.md")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()
    q = args.quick
    args.batches = [int(b) for b in (args.batches or ("1,64" if q else "1,4,64,256")).split(",")]
    args.resnet_batches = [int(b) for b in args.resnet_batches.split(",")]
    args.rounds = args.rounds or (3 if q else 5)
    args.config_budget = args.config_budget or (10.0 if q else 30.0)
    args.target_seconds = args.target_seconds or (0.3 if q else 0.6)
    nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    for n in nets:
        if n not in NETS:
            sys.exit(f"compare_torch.py: unknown net {n!r}; choose from {', '.join(NETS)}")
    if args.torch_malloc == "glibc":
        torch.empty(30 << 20, dtype=torch.uint8)  # freed at once: raises glibc's mmap threshold
    if args.torch_only:
        data = time_torch_only(args, nets)
        with open(args.json, "w") as f:
            json.dump(data, f)
        return
    info = torch_env.machine_info(args.cnnc, ROOT)
    torch_env.refuse_reference_blas(info, "compare_torch.py")
    if not (os.path.isfile(args.cnnc) and os.access(args.cnnc, os.X_OK)):
        sys.exit(f"compare_torch.py: no cnnc binary at {args.cnnc}; build it "
                 "(cmake --build build --target cnnc) or pass --cnnc PATH / set $CNNC")

    workdir = args.workdir or tempfile.mkdtemp(prefix="cnnc-compare-")
    os.makedirs(workdir, exist_ok=True)
    # Others may rebuild the binary while this runs: time one copy of it.
    snapshot = os.path.join(workdir, "cnnc")
    for attempt in range(20):
        try:
            shutil.copy2(args.cnnc, snapshot)
            # The compiler library cnnc loads from next to itself.
            compiler = os.path.join(os.path.dirname(os.path.realpath(args.cnnc)),
                                    "libcnnc_compiler.so")
            if os.path.exists(compiler):
                shutil.copy2(compiler, os.path.join(workdir, "libcnnc_compiler.so"))
            if subprocess.run([snapshot, "summary", NETS["conv64"][0]],
                              capture_output=True).returncode == 0:
                break
        except OSError:
            pass
        time.sleep(3)
    else:
        sys.exit(f"compare_torch.py: cannot copy and run {args.cnnc} (being rebuilt?)")
    log(f"timing a copy of {args.cnnc}: {snapshot}")
    info["torch_malloc"] = (f"GLIBC_TUNABLES={TUNABLES}" if args.torch_malloc == "no-mmap"
                            else "glibc defaults (mmap threshold raised by a 30 MiB alloc/free)")
    args.cnnc = snapshot
    t_start = time.perf_counter()
    results, peak = [], None
    for net in nets:
        check_params(args.cnnc, net)
        so = os.path.join(workdir, net + ".so")
        log(f"compiling {NETS[net][0]} -> {so}")
        run_cnnc(args.cnnc, [NETS[net][0], "-o", so])
        estimate = {}
        prev_batch = None
        for batch in batches_of(net, args):
            if prev_batch:  # scale the previous batch's cnnc times as the first guess
                estimate = {t: s * batch / prev_batch for t, s in estimate.items()}
            res, bench_json = bench_config(args.cnnc, so, net, batch, args, estimate)
            peak = peak or bench_json["fma_peak_gflops"]
            results.append(res)
            prev_batch = batch
    if args.torch_malloc == "no-mmap" and not args.no_default_malloc:
        default = time_torch_default_malloc(args, nets)
        for r in results:
            for mode in MODES:
                m = r[mode]
                m["torch_glibc"] = default[f"{r['net']}/{r['batch']}"][mode]
                m["ratio_vs_torch_glibc"] = (m["cnnc"]["images_per_s"] /
                                             m["torch_glibc"]["images_per_s"])
    info["loadavg_end"] = os.getloadavg()
    info["seconds"] = time.perf_counter() - t_start
    info["argv"] = sys.argv[1:]
    text = report(info, results, peak)

    print(f"## cnnc vs PyTorch\n")
    print(text)
    if args.update_docs:
        torch_env.update_docs(text, "speed-table", "compare_torch.py")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "fma_peak_gflops": peak,
                       "settings": {"nets": nets, "batches": args.batches, "rounds": args.rounds,
                                    "min_rounds": args.min_rounds,
                                    "config_budget_s": args.config_budget,
                                    "target_seconds": args.target_seconds, "threads": THREADS},
                       "results": results}, f, indent=1)
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()

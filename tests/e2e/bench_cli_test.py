#!/usr/bin/env python3
"""`cnnc bench` through the real command line on a real network
(tests/e2e/tiny_train.yaml), kept short (--runs 3, little profiling):
  - NET.yaml with --json: exactly one JSON object on stdout with the
    documented schema, positive timings and FMA peaks, and per-op rows named
    after the layers (forward ops and gradient ops);
  - a library built with --profile gives per-op rows; a normal library gives
    whole-pipeline numbers and says where per-op times come from;
  - the FMA peak is cached under $XDG_CACHE_HOME;
  - errors (bad flags, missing files, --compare on a library, unknown
    schedules, a broken YAML) exit with status 1 and a clear message.

usage: bench_cli_test.py CNNC WORKDIR"""
import json
import os
import sys

from cli_run import run

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = os.path.join(HERE, "tiny_train.yaml")


def check(condition, message):
    if not condition:
        sys.exit("check failed: " + message)


def check_timing(t, what):
    check(isinstance(t, dict), f"{what} is an object")
    for key in ("median_s", "min_s", "max_s", "images_per_s"):
        check(isinstance(t[key], float) and t[key] > 0, f"{what}.{key} > 0: {t}")
    check(t["runs"] == 3, f"{what}.runs == 3: {t}")
    check(t["min_s"] <= t["median_s"] <= t["max_s"], f"{what}: min <= median <= max")
    check(isinstance(t["gflops"], float) and t["gflops"] > 0, f"{what}.gflops > 0: {t}")
    check(isinstance(t["peak_percent"], float) and t["peak_percent"] > 0,
          f"{what}.peak_percent > 0: {t}")


def check_ops(ops, pipelines):
    names = {(op["pipeline"], op["name"]) for op in ops}
    for op in ops:
        check(set(op) == {"pipeline", "name", "ms", "percent", "gflops", "peak_percent"},
              f"op keys: {op}")
        check(op["pipeline"] in ("forward", "train_step"), f"pipeline: {op}")
        check(op["ms"] >= 0 and op["percent"] >= 0, f"op times: {op}")
        check(op["gflops"] is None or op["gflops"] > 0, f"op gflops: {op}")
    for pipeline in pipelines:
        share = sum(op["percent"] for op in ops if op["pipeline"] == pipeline)
        check(abs(share - 100) < 0.1, f"{pipeline} percentages add up to 100: {share}")
        check(sum(op["ms"] for op in ops if op["pipeline"] == pipeline) > 0,
              f"{pipeline} has a positive time")
    # Rows are named after the layers, and gradient ops after their layer.
    for expected in [("forward", "conv1"), ("forward", "fc"),
                     ("train_step", "conv1"), ("train_step", "conv1 conv2d_weight_grad"),
                     ("train_step", "fc linear_weight_grad")]:
        if expected[0] in pipelines:
            check(expected in names, f"{expected} among the ops: {sorted(names)}")


def main():
    cnnc, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    p = lambda name: os.path.join(work, name)  # noqa: E731
    env = dict(os.environ, XDG_CACHE_HOME=p("cache"))
    fast = ["--runs", "3", "--profile-time", "0.2"]

    # NET.yaml, JSON.
    result = run([cnnc, "bench", TINY, "--threads", "2", "--json"] + fast, env=env)
    report = json.loads(result.stdout)  # fails unless stdout is one JSON value
    check(list(report) == ["network", "batch", "threads", "device", "fma_peak_gflops",
                           "device_peak_gflops", "flops_per_sample", "results"],
          f"top-level keys: {list(report)}")
    check(report["device"] == "cpu" and report["device_peak_gflops"] is None,
          "a CPU library is measured against the CPU")
    flops = report["flops_per_sample"]
    check(flops["forward"] > 0 and flops["train_step"] > flops["forward"],
          f"the library's FLOPs {flops}")
    check(report["network"] == "tiny", "network")
    check(report["batch"] == 16, "batch from the recipe's batch_size")
    check(report["threads"] == 2, "threads")
    peaks = report["fma_peak_gflops"]
    check(set(peaks) == {"1", "2"} and all(v > 0 for v in peaks.values()), f"peaks {peaks}")
    check(len(report["results"]) == 1, "one schedule")
    r = report["results"][0]
    check(r["schedule"] == "manual", "default schedule")
    check_timing(r["forward"], "forward")
    check_timing(r["train_step"], "train_step")
    check_ops(r["ops"], ["forward", "train_step"])
    check("compiling" in result.stderr, "progress goes to stderr")
    cache = json.load(open(p("cache/cnnc/fma-peak.json")))
    check(sorted(e["threads"] for e in cache["entries"]) == [1, 2], f"cache {cache}")

    # A library built with --profile has per-op times; a normal one has not.
    run([cnnc, TINY, "-o", p("tiny.profile.so"), "--profile"], env=env)
    result = run([cnnc, "bench", p("tiny.profile.so"), "--json", "--batch", "8"] + fast,
                 env=env)
    report = json.loads(result.stdout)
    check(report["batch"] == 8, "--batch")
    check(report["results"][0]["schedule"] == "library", "schedule of a library")
    check_ops(report["results"][0]["ops"], ["forward", "train_step"])
    run([cnnc, TINY, "-o", p("tiny.so")], env=env)
    result = run([cnnc, "bench", p("tiny.so"), "--threads", "1"] + fast, env=env)
    for needle in ("network tiny, batch 16, 1 thread", "schedule library", "images/s",
                   "Per-op times need"):
        check(needle in result.stdout, f"'{needle}' in:\n{result.stdout}")

    # Errors.
    with open(p("broken.yaml"), "w") as f:
        f.write("name: broken\ninput: [1, 8, 8]\nlayers:\n  - conv2: {out_channels: 2}\n")
    for args, needle in [
        (["bench"], "expected a network (NET.yaml) or a model library (NET.so)"),
        (["bench", TINY, "--batch", "0"], "option '--batch' needs an integer from 1"),
        (["bench", TINY, "--threads", "-1"], "option '--threads' needs an integer"),
        (["bench", TINY, "--runs"], "option '--runs' needs a value"),
        (["bench", TINY, "--bogus"], "unknown option '--bogus'"),
        (["bench", p("missing.yaml")], "missing.yaml: no such file"),
        (["bench", p("missing.so")], "missing.so: no such file"),
        (["bench", p("tiny.so"), "--compare", "manual"], "--compare needs the network's YAML"),
        (["bench", TINY, "--compare", "manual,auto:Bogus"], "unknown schedule 'auto:Bogus'"),
        (["bench", TINY, "--compare", "fast"], "unknown schedule 'fast'"),
        (["bench", p("broken.yaml")], "unknown layer 'conv2'"),
    ]:
        result = run([cnnc] + args, ok=False, env=env)
        check(needle in result.stderr, f"'{needle}' in the error of {args}:\n{result.stderr}")
        check(result.stdout == "", f"nothing on stdout for {args}")
    result = run([cnnc, "bench", "--help"], env=env)
    check("usage: cnnc bench" in result.stdout, "bench --help")
    print("bench_cli: ok")


if __name__ == "__main__":
    main()

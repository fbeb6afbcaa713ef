"""What the PyTorch comparisons (compare_torch.py, epoch_vs_torch.py) share:
torch's environment, set before torch is imported, and the description of
the machine and of the libraries torch loaded.

prepare(argv) must run before `import torch`:
- OPENBLAS_NUM_THREADS=1 (torch's own threads call OpenBLAS);
- OMP_WAIT_POLICY=PASSIVE with --omp-passive (libgomp's default otherwise);
- with the no-mmap malloc mode (the default; --torch-malloc glibc turns it
  off) the process re-executes itself with glibc tunables that keep freed
  memory in the heap: with glibc's defaults torch page-faults its big
  activations in again on every call (cnnc reuses its buffers).
It returns the environment for cnnc subprocesses: the original malloc
setting, the rest as torch has it.
"""
import os
import platform
import re
import subprocess
import sys

TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295"
_REEXEC = "_CNNC_COMPARE_REEXEC"


def torch_malloc_mode(argv):
    for i, a in enumerate(argv):
        if a.startswith("--torch-malloc="):
            return a.split("=", 1)[1]
        if a == "--torch-malloc" and i + 1 < len(argv):
            return argv[i + 1]
    return "no-mmap"


def prepare(argv):
    # OpenBLAS reads this when it is loaded, i.e. when torch is imported.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    # libgomp reads this when torch starts it.
    if "--omp-passive" in argv:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    if torch_malloc_mode(argv) == "no-mmap" and _REEXEC not in os.environ:
        env = dict(os.environ)
        env[_REEXEC] = os.environ.get("GLIBC_TUNABLES", "<unset>")
        env["GLIBC_TUNABLES"] = (env["GLIBC_TUNABLES"] + ":" if env.get("GLIBC_TUNABLES")
                                 else "") + TUNABLES
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    cnnc_env = dict(os.environ)
    if _REEXEC in cnnc_env:
        original = cnnc_env.pop(_REEXEC)
        if original == "<unset>":
            cnnc_env.pop("GLIBC_TUNABLES", None)
        else:
            cnnc_env["GLIBC_TUNABLES"] = original
    return cnnc_env


def machine_info(cnnc, root):
    """The CPU, torch's BLAS and oneDNN (from this process's mappings), the
    versions and the load average; torch must be imported already."""
    import torch
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = ""
    blas = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if re.search(r"(blas|mkl_rt|blis|dnnl)[^/]*\.so", path) and path not in blas:
                    blas.append(path)
    except OSError:
        pass
    blas = [os.path.realpath(b) for b in blas]
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_libs": blas,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(libgomp default)"),
            "cores_usable": len(os.sched_getaffinity(0)),
            "avx512": "avx512f" in open("/proc/cpuinfo").read(),
            "torch": torch.__version__, "python": platform.python_version(),
            "cnnc": cnnc, "cnnc_commit": rev, "loadavg_start": os.getloadavg()}


def reference_blas(libs):
    """The netlib reference BLAS among `libs` (Debian's libblas.so.3
    alternative when no optimised BLAS is installed), or None."""
    return next((b for b in libs if re.search(r"/blas/libblas\.so", b)), None)


def refuse_reference_blas(info, script):
    blas = reference_blas(info["torch_libs"])
    if blas:
        sys.exit(f"{script}: torch calls the netlib reference BLAS ({blas}), which no "
                 "PyTorch user has (pip wheels ship MKL or OpenBLAS): ratios against it would "
                 "flatter cnnc. Install libopenblas0-pthread (scripts/install-deps.sh does) so "
                 "that Debian's torch loads OpenBLAS, then run this again.")


def update_docs(text, marker, script):
    """Writes `text` between the <!-- MARKER:begin --> and <!-- MARKER:end -->
    lines of README.md and docs/benchmarks.md."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    for path in (os.path.join(root, "README.md"), os.path.join(root, "docs", "benchmarks.md")):
        with open(path) as f:
            doc = f.read()
        a, b = doc.find(begin), doc.find(end)
        if a < 0 or b < a:
            sys.exit(f"{script}: {path} has no {begin} ... {end} section")
        doc = doc[:a + len(begin)] + "\n" + text + "\n" + doc[b:]
        with open(path, "w") as f:
            f.write(doc)
        print(f"updated {path}", file=sys.stderr, flush=True)

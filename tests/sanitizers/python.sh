#!/bin/sh
# Runs a Python-driven test in a sanitized build (tests/CMakeLists.txt):
#   python.sh SANITIZER_RUNTIME PYTHON SCRIPT ARGS...
# Python loads instrumented libraries through ctypes, so the sanitizer's
# runtime is preloaded. Python and PyTorch leak by design at exit (importing
# torch alone: about 150 reports, 6.8 MB), and their frames lie beneath
# every call into a cnnc library, so suppressing them would hide cnnc's own
# leaks too: leak checking is off in the Python process and back on in its
# children (cnnc), restored by python/sitecustomize.py. The wrapper code
# Python calls is leak-checked by the C tests (generated_abi, concurrency).
runtime=$1
shift
here=$(dirname "$0")
CNNC_CHILD_ASAN_OPTIONS=${ASAN_OPTIONS-} \
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  LD_PRELOAD=$runtime PYTHONPATH=$here/python${PYTHONPATH:+:$PYTHONPATH} exec "$@"

#!/bin/sh
# Runs a Python-driven test in an address-sanitized build
# (tests/CMakeLists.txt):
#   python.sh ASAN_RUNTIME PYTHON SCRIPT ARGS...
# Python loads instrumented libraries through ctypes, so the ASan runtime is
# preloaded, for Python and for everything it starts (a child Python loading
# a library needs it too). Leak checking is off in this process tree:
# Python, PyTorch, OpenSSL and GCC's tools (which cnnc runs to link a
# library) leak by design at exit, through stacks LeakSanitizer's fast
# unwinder cuts short, so no suppression file could tell their leaks from
# cnnc's. cnnc's own leaks are checked where no Python is involved: lit
# (run by an unsanitized Python) runs cnnc's commands, and the C and C++
# tests call the libraries and the runtime.
#
# libstdc++ is preloaded after it: ASan intercepts __cxa_throw and finds the
# real one when it starts; Python itself does not link libstdc++, so a C++
# exception thrown later (PyTorch's ONNX export throws and catches some)
# met an interceptor with nothing behind it ("CHECK failed ...
# real___cxa_throw") and aborted.
runtime=$1
shift
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  LD_PRELOAD="$runtime libstdc++.so.6" exec "$@"

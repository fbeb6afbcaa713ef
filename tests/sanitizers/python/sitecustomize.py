# Imported first by the Python of a sanitized test run (../python.sh): the
# sanitizer runtime preloaded into this process must not be preloaded into
# its children (cnnc is linked with it already; the uninstrumented C
# compiler that links libraries would then fail on its deliberate leaks),
# and they get the run's sanitizer options back, leak checking included.
import os

os.environ.pop("LD_PRELOAD", None)
if "CNNC_CHILD_ASAN_OPTIONS" in os.environ:
    os.environ["ASAN_OPTIONS"] = os.environ.pop("CNNC_CHILD_ASAN_OPTIONS")

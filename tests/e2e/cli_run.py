"""Running the cnnc command line in the end-to-end tests."""
import subprocess
import sys


def run(cmd, ok=True, env=None):
    """Runs `cmd`; exits the test unless it succeeds (ok) or exits with status
    1 (not ok, a reported error)."""
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if ok and result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout}{result.stderr}")
    if not ok and result.returncode != 1:
        sys.exit(f"expected exit status 1 from: {' '.join(cmd)}, got "
                 f"{result.returncode}\n{result.stdout}{result.stderr}")
    return result


def expect_error(cmd, *needles):
    """`cmd` fails with status 1 and its error names every needle."""
    result = run(cmd, ok=False)
    for needle in needles:
        if needle not in result.stderr:
            sys.exit(f"expected '{needle}' in the error of {' '.join(cmd)}:\n{result.stderr}")

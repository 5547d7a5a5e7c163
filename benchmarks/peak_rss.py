"""Runs a Python script and records its peak resident memory.

    python -m benchmarks.peak_rss OUT_FILE SCRIPT [ARGS...]

writes the peak RSS of the process, in MiB, to OUT_FILE when the script ends (even on error).
"""

import resource
import runpy
import sys

if __name__ == "__main__":
    out, script, *arguments = sys.argv[1:]
    sys.argv = [script, *arguments]
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        with open(out, "w") as f:
            # ru_maxrss is in KiB on Linux.
            f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))

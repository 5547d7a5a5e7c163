"""`python -m benchmarks <name> [--data-dir DIR] [--quick]`, or `all`."""

import argparse
import importlib
import os
import pkgutil
import sys

from benchmarks import harness

# Every module of this folder is a benchmark, except the plumbing.
_PLUMBING = {"harness", "peak_rss", "__main__"}
BENCHMARKS = sorted(
    module.name
    for module in pkgutil.iter_modules([os.path.dirname(os.path.abspath(__file__))])
    if module.name not in _PLUMBING and not module.name.startswith("_")
)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument(
        "--data-dir", default="../shared/data", help="real datasets (see its README)"
    )
    parser.add_argument("--quick", action="store_true", help="embedded data, minutes on 2 cores")
    parser.add_argument("--only", action="append", default=[], help="run only these cases")
    parser.add_argument(
        "--results-dir",
        help="where results files go (default: benchmarks/results, or benchmarks/results/quick "
        "with --quick, so a quick run never replaces the figures of a full one)",
    )
    args, rest = parser.parse_known_args(argv)
    if args.results_dir is None:
        quick = os.path.join(harness.RESULTS_DIR, "quick")
        args.results_dir = quick if args.quick else harness.RESULTS_DIR
    names = BENCHMARKS if args.name == "all" else [args.name]
    if rest and args.name == "all":
        parser.error(f"unrecognized arguments: {' '.join(rest)} (options of one benchmark)")
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        # Each benchmark may add options of its own; `all` runs every one with its defaults.
        own = argparse.ArgumentParser(prog=f"python -m benchmarks {name}")
        if hasattr(module, "add_arguments"):
            module.add_arguments(own)
        module_args = argparse.Namespace(**vars(args), **vars(own.parse_args(rest)))
        print(f"=== {name}: {module.TITLE}")
        harness.run_benchmark(module, module_args, [name, *argv[1:]])


if __name__ == "__main__":
    main()

"""kzoo's benchmarks: `python -m benchmarks <name> [--data-dir ../shared/data] [--quick]`."""

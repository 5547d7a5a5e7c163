"""kzoo's shared training runner: settings, strategies, the run flow, callbacks and export.

Recipes use two names: `parse_settings` (command line > config file > recipe settings) and
`Run` (strategy, data, model, fit, evaluate, export). See `kzoo.training.runner`.
"""

__all__ = ["Run", "parse_settings"]


def __getattr__(name):
    # Imported on first use, so `kzoo.training.config` or `.strategy` load without the runner.
    if name == "Run":
        from kzoo.training.runner import Run

        return Run
    if name == "parse_settings":
        from kzoo.training.config import parse_settings

        return parse_settings
    raise AttributeError(f"module 'kzoo.training' has no attribute {name!r}")

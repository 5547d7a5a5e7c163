"""kzoo's shared training runner: settings, the run flow, the run's state and callbacks.

Recipes use two names: `parse_settings` (command line > config file > recipe settings) and
`Run` (strategy, data, model, fit, evaluate, export). See `kzoo.training.runner`.
"""

from kzoo.training.config import parse_settings
from kzoo.training.runner import Run

__all__ = ["Run", "parse_settings"]

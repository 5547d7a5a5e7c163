"""A recipe setting: its default, type, help text and the interval a number must lie in.

The settings every recipe shares are in `kzoo.training.config`; a task kind declares its own
(`kzoo.tasks`), so a new kind brings its settings with it.
"""

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Setting:
    """One recipe setting: its default, type and help text.

    Args:
        default: the value when neither the recipe nor the user sets one.
        kind: `str`, `int`, `float`, `bool`, `"bool_or_auto"` (true, false or `"auto"`, which
            the runner resolves on the machine), `"paths"` (list of str), `"names"` (list of str,
            also comma-separated: `--labels neg,pos`), `"ints"` (list of int) or
            `"optional_int"` / `"optional_float"` (a number or none).
        help: str. One line for `--help`.
        choices: tuple. The values allowed, if only some are.
        bounds: str. The interval a number must lie in, written as in mathematics:
            `"[1, inf)"`, `"(0, 1)"`; every numeric setting has one, checked before any data is
            read.
    """

    default: Any
    kind: Any
    help: str
    choices: tuple = ()
    bounds: str = None


def check_bounds(key, value, bounds, kind=int):
    """Checks that a number lies in `bounds`, an interval such as `"[1, inf)"` or `"(0, 1)"`.

    Raises `ValueError` in Keras' wording, e.g. "Invalid value for setting epochs. Expected an
    integer >= 1. Received: epochs=0". `None` (an optional setting left unset) passes.

    Example:

    >>> check_bounds("valid_fraction", 0.1, "(0, 1)", float)
    0.1
    """
    if value is None:
        return value
    low_bracket, low, high, high_bracket = bounds[0], *bounds[1:-1].split(","), bounds[-1]
    low, high = float(low), float(high)

    def shown(number):
        return str(int(number)) if number.is_integer() else str(number)

    above = value >= low if low_bracket == "[" else value > low
    below = value <= high if high_bracket == "]" else value < high
    if above and below:
        return value
    noun = "an integer" if kind in (int, "optional_int") else "a number"
    if high == float("inf"):
        expected = f"{noun} {'>=' if low_bracket == '[' else '>'} {shown(low)}"
    else:
        expected = f"{noun} in {low_bracket}{shown(low)}, {shown(high)}{high_bracket}"
    raise ValueError(
        f"Invalid value for setting {key}. Expected {expected}. Received: {key}={value}"
    )

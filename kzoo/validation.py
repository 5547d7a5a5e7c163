"""Argument checks shared by the model factories.

Every check raises `ValueError` in Keras' wording, naming the argument, what was expected and the
value received, for example:

    Invalid value for argument units. Expected a positive integer. Received: units=-3

Each check returns the value so that factories can validate and assign in one line.
"""

import numbers


def _fail(name, expected, value):
    raise ValueError(
        f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value}"
    )


def _is_int(value):
    # bool is an int subclass, but `units=True` is a mistake, not a size.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(name, value):
    """Checks that `value` is an integer > 0."""
    if not _is_int(value) or value < 1:
        _fail(name, "a positive integer", value)
    return int(value)


def int_at_least(name, value, minimum):
    """Checks that `value` is an integer >= `minimum`."""
    if not _is_int(value) or value < minimum:
        _fail(name, f"an integer >= {minimum}", value)
    return int(value)


def rate(name, value):
    """Checks that `value` is a float in [0, 1), as dropout rates are."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not 0.0 <= float(value) < 1.0
    ):
        _fail(name, "a float in [0, 1)", value)
    return float(value)


def positive_float(name, value):
    """Checks that `value` is a real number > 0."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not float(value) > 0.0:
        _fail(name, "a positive float", value)
    return float(value)


def boolean(name, value):
    """Checks that `value` is `True` or `False` (not merely truthy, such as `"no"`)."""
    if not isinstance(value, bool):
        _fail(name, "True or False", value)
    return value


def one_of(name, value, choices):
    """Checks that `value` is one of `choices`."""
    if value not in choices:
        expected = "{" + ", ".join(repr(choice) for choice in choices) + "}"
        _fail(name, f"one of {expected}", value)
    return value


def positive_ints(name, values):
    """Checks that `values` is a non-empty sequence of positive integers; returns a tuple."""
    if (
        isinstance(values, (str, bytes))
        or not hasattr(values, "__len__")
        or len(values) == 0
        or not all(_is_int(v) and v > 0 for v in values)
    ):
        _fail(name, "a non-empty list of positive integers", values)
    return tuple(int(v) for v in values)


def divisible(name, value, divisor_name, divisor):
    """Checks that `value` is a multiple of another argument (e.g. heads dividing width)."""
    if value % divisor:
        _fail(name, f"a multiple of {divisor_name}={divisor}", value)
    return value

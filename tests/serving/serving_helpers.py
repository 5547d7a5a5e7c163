"""Helpers shared by the serving tests."""

import math
import time


def wait_for(condition, timeout=10.0, interval=0.05):
    """Polls `condition()` until it returns a truthy value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def versions_in_state(client, name, state="AVAILABLE"):
    """The versions of a model in `state` (empty when the model is unknown)."""
    try:
        return sorted(entry["version"] for entry in client.status(name) if entry["state"] == state)
    except Exception:  # noqa: BLE001 - not known yet
        return []


def assert_json_close(actual, expected, path="$"):
    """Compares parsed JSON, floats to 1e-6 relative (NaN equals NaN), everything else exactly."""
    if isinstance(expected, float) or (
        isinstance(expected, int) and isinstance(actual, float) and not isinstance(actual, bool)
    ):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), (path, actual)
        if math.isnan(expected):
            assert math.isnan(actual), (path, actual)
        else:
            assert math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9), (
                path,
                actual,
                expected,
            )
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and sorted(actual) == sorted(expected), (path, actual)
        for key in expected:
            assert_json_close(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (path, actual)
        for index, (got, want) in enumerate(zip(actual, expected)):
            assert_json_close(got, want, f"{path}[{index}]")
    else:
        assert type(actual) is type(expected) and actual == expected, (path, actual, expected)

"""Every `>>>` example in kzoo's docstrings runs and prints what it says."""

import doctest
import importlib
import pkgutil

import pytest

import kzoo

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(kzoo.__path__, prefix="kzoo.")
    if info.name != "kzoo.__main__"
)


@pytest.mark.parametrize("module_name", ["kzoo", *MODULES])
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"

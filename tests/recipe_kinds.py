"""The recipes CI trains end to end: one of each task kind. Training, resuming and exporting
go through the task kind's hooks (data, compile, callbacks, signatures), so the other recipes
of a kind add only their models, which tests/test_model_contract.py covers; they run with the
tests marked slow and in `python -m benchmarks recipes` and `faults`."""

import importlib

import pytest

from kzoo_cli import recipe_names

# Recipes whose default is a download (a keras-hub preset): test_pretrained_recipe.py and
# test_pretrained_generator.py run them on tiny local presets.
PRESET_RECIPES = ("pretrained_classifier", "pretrained_generator")


def first_recipe_of_each_task_kind():
    """One recipe of each task kind that is not a subclass of another kind (the pretrained
    kinds train, resume and export through their parent kind's hooks)."""
    from kzoo.tasks import TASKS

    def derived(kind):
        return any(kind != other and issubclass(TASKS[kind], TASKS[other]) for other in TASKS)

    firsts = {}
    for name in recipe_names():
        kind = importlib.import_module(f"kzoo.recipes.{name}").SETTINGS["task"]
        if not derived(kind):
            firsts.setdefault(kind, name)
    return set(firsts.values())


def one_of_each_task_kind_in_ci(names):
    """`names` as pytest parameters: those of `first_recipe_of_each_task_kind()` as they are,
    the others marked slow."""
    firsts = first_recipe_of_each_task_kind()
    return [
        name if name in firsts else pytest.param(name, marks=pytest.mark.slow) for name in names
    ]

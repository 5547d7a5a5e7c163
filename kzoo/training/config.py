"""Recipe settings: typed, documented, and resolved as command line > config file > recipe.

Every recipe holds its settings in one dict; `parse_settings` turns them into the options of
`python recipes/<recipe>.py` and `kzoo train <recipe>` (the same parser serves both), reads an
optional `--config` file (JSON or YAML, as written by a previous run) and `--set key=value`
overrides, and checks every key and type. Model arguments live under `model_args` and are
typed from the model factory's defaults, so `--set model_args.units=64` is checked too.

Example:

>>> from kzoo.training.config import parse_settings
>>> config = parse_settings(
...     {"recipe": "demo", "model": "lstm_classifier", "task": "classification", "epochs": 3},
...     ["--epochs", "5", "--set", "model_args.units=8"],
... )
>>> config["epochs"], config["model_args"]
(5, {'units': 8})
"""

import argparse
import dataclasses
import importlib
import inspect
import json
import os
from typing import Any

from kzoo.registry import get_model_entry

TASKS = (
    "classification",
    "language_model",
    "translation",
    "gan",
    "word2vec",
    "pretrained_classification",
)

# Factories outside the registry, by model name: the model contract builds every registered
# model from nothing, and these need a pre-trained preset.
UNREGISTERED_MODELS = {
    "pretrained_classifier": ("kzoo.models.pretrained", "build_pretrained_classifier"),
}


@dataclasses.dataclass(frozen=True)
class Setting:
    """One recipe setting: its default, type and help text.

    `kind` is one of `str`, `int`, `float`, `bool`, `"paths"` (list of str), `"names"` (list of
    str, also comma-separated: `--labels neg,pos`), `"ints"` (list of
    int) or `"optional_int"` / `"optional_float"` (a number or none). `bounds` is the interval a
    number must lie in, written as in mathematics: `"[1, inf)"`, `"(0, 1)"`; every numeric
    setting has one, checked before any data is read.
    """

    default: Any
    kind: Any
    help: str
    choices: tuple = ()
    tasks: tuple = ()  # the tasks that use it; empty means all
    bounds: str = None


# The tasks whose models train with `Run.optimizer` (the GAN has its own pair of optimizers).
_OPTIMIZER_TASKS = (
    "classification",
    "language_model",
    "translation",
    "word2vec",
    "pretrained_classification",
)

# Grouped as in `--help`. Recipes override defaults; tasks ignore what they do not use.
SETTINGS = {
    # === What is trained ===
    "recipe": Setting(None, str, "recipe name (output folder and export name)"),
    "model": Setting(None, str, "registered model name (kzoo list)"),
    "task": Setting(None, str, "kind of training", TASKS),
    "model_args": Setting({}, dict, "model factory arguments, e.g. --set model_args.units=64"),
    "preset": Setting(
        None,
        str,
        "keras-hub preset: a local preset directory, or a preset name or kaggle:// or hf:// "
        "handle (these download)",
        (),
        ("pretrained_classification",),
    ),
    # === Data ===
    "dataset": Setting(
        "embedded",
        str,
        "'embedded' (no network), 'embedded:<name>', 'tfds' (the recipe's TFDS dataset) or a "
        "TFDS name",
    ),
    "tfds_name": Setting(None, str, "the recipe's TFDS dataset, used by --dataset tfds"),
    "train_file": Setting([], "paths", "local training file(s); several = one file per label"),
    "valid_file": Setting([], "paths", "local validation file(s)"),
    "test_file": Setting([], "paths", "local test file(s)"),
    "encoding": Setting("utf-8", str, "encoding of local text files, e.g. latin-1"),
    "text_column": Setting("text", str, "text column of CSV/TSV files"),
    "label_column": Setting("label", str, "label column of CSV/TSV files"),
    "labels": Setting(
        [],
        "names",
        "the class names of local classification files, in class-id order, e.g. --labels "
        "neg,pos (a label not among them is a bad line; default: the training file's, sorted)",
        (),
        ("classification", "pretrained_classification"),
    ),
    "on_bad_lines": Setting(
        "error",
        str,
        "a bad line of a classification file (a label and no text, a CSV/TSV row without its "
        "fields, a label --labels does not declare): error, or leave it out with a warning "
        "(warn) or silently (skip)",
        ("error", "warn", "skip"),
        ("classification", "pretrained_classification"),
    ),
    "data_dir": Setting(None, str, "TFDS data directory"),
    "source_language": Setting(
        "source", str, "TFDS translation source key, e.g. pt", (), ("translation",)
    ),
    "target_language": Setting(
        "target", str, "TFDS translation target key, e.g. en", (), ("translation",)
    ),
    "valid_fraction": Setting(
        0.1,
        float,
        "share of training data held out when there is no validation split",
        bounds="(0, 1)",
    ),
    "test_fraction": Setting(
        0.0,
        float,
        "share of the local training files held out as a seeded test split when no test file is "
        "given (e.g. 0.1 for MR's 90/10 protocol)",
        bounds="[0, 1)",
    ),
    "test_fold": Setting(
        0,
        int,
        "which test_fraction-sized block of the seeded shuffle is the test split: folds 0 to "
        "9 with test_fraction 0.1 are a 10-fold cross-validation",
        bounds="[0, inf)",
    ),
    "num_examples": Setting(
        None, "optional_int", "size of the embedded dataset", bounds="[1, inf)"
    ),
    "split": Setting("whitespace", str, "tokens: words or characters", ("whitespace", "character")),
    "standardize": Setting(
        "lower_and_strip_punctuation",
        str,
        "text standardization of the vectorizer; *split_punctuation keep punctuation marks as "
        "tokens and join them back in outputs (word-level translation of real text)",
        (
            "lower_and_strip_punctuation",
            "lower",
            "strip_punctuation",
            "split_punctuation",
            "lower_and_split_punctuation",
            "none",
        ),
    ),
    "max_tokens": Setting(None, "optional_int", "vocabulary size cap", bounds="[3, inf)"),
    "max_length": Setting(
        None, "optional_int", "truncate sequences to this many tokens", bounds="[1, inf)"
    ),
    "sequence_length": Setting(
        128, int, "window length", (), ("language_model",), bounds="[1, inf)"
    ),
    "random_offsets": Setting(
        False,
        bool,
        "cut the training windows at a new random offset each epoch",
        (),
        ("language_model",),
    ),
    "num_buckets": Setting(
        6, int, "sequence-length buckets (0 = pad each batch to its longest)", bounds="[0, inf)"
    ),
    # === Training ===
    "epochs": Setting(10, int, "epochs", bounds="[1, inf)"),
    "batch_size": Setting(
        32, int, "batch size per replica (global = this x replicas)", bounds="[1, inf)"
    ),
    "optimizer": Setting(
        "adam",
        str,
        "optimizer: adam, or adadelta (Kim 2014's: rho 0.95, epsilon 1e-6; learning rate 1.0)",
        ("adam", "adadelta"),
        _OPTIMIZER_TASKS,
    ),
    "learning_rate": Setting(
        1e-3, float, "optimizer learning rate (a schedule's peak)", bounds="(0, inf)"
    ),
    "lr_schedule": Setting(
        "constant",
        str,
        "learning-rate schedule: constant, or cosine (after --warmup-steps of linear warm-up, "
        "decays to a tenth of --learning-rate over the run)",
        ("constant", "cosine"),
        _OPTIMIZER_TASKS,
    ),
    "warmup_steps": Setting(
        0,
        int,
        "linear warm-up steps of the cosine schedule",
        (),
        _OPTIMIZER_TASKS,
        bounds="[0, inf)",
    ),
    "clipnorm": Setting(
        None,
        "optional_float",
        "clip each gradient to this norm (recurrent models)",
        bounds="(0, inf)",
    ),
    "steps_per_epoch": Setting(
        None, "optional_int", "steps per epoch (default: one pass)", bounds="[1, inf)"
    ),
    # Several steps per call save small models their per-step overhead (the CNN on MR: 1.40x
    # the notebook way's speed with 1, 1.58x-1.63x with 16, benchmarks/results/speed.md); the
    # steps and their numerics are the same.
    "steps_per_execution": Setting(16, int, "training steps per compiled call", bounds="[1, inf)"),
    "early_stopping_patience": Setting(
        0, int, "epochs without validation improvement before stopping (0 = off)", bounds="[0, inf)"
    ),
    "monitor": Setting(
        None,
        str,
        "metric that picks the best epoch for checkpoints and early stopping, e.g. val_accuracy "
        "(default: the task's, val_loss)",
    ),
    "strategy": Setting(
        "auto",
        str,
        "tf.distribute strategy",
        ("auto", "default", "mirrored", "multi_worker", "tpu"),
    ),
    "xla": Setting(True, bool, "compile training steps with XLA (jit_compile)"),
    "mixed_precision": Setting(False, bool, "mixed_float16 on GPU, mixed_bfloat16 on TPU/CPU"),
    "seed": Setting(
        0, int, "seed for data splits, shuffling and initialisation", bounds="[0, 4294967296)"
    ),
    # === Task specific ===
    "window_size": Setting(
        2,
        int,
        "context words on each side of a skip-gram target",
        (),
        ("word2vec", "classification"),
        bounds="[1, inf)",
    ),
    "num_negatives": Setting(
        4,
        int,
        "negative samples per skip-gram pair",
        (),
        ("word2vec", "classification"),
        bounds="[1, inf)",
    ),
    "sampling_factor": Setting(
        1e-3,
        float,
        "subsampling threshold of frequent words",
        (),
        ("word2vec", "classification"),
        bounds="(0, inf)",
    ),
    "word2vec_epochs": Setting(
        5,
        int,
        "skip-gram pretraining epochs (word2vec classifier)",
        (),
        ("classification",),
        bounds="[1, inf)",
    ),
    "word2vec_xla": Setting(
        True,
        bool,
        "compile skip-gram pretraining with XLA (word2vec classifier)",
        (),
        ("classification",),
    ),
    "max_decode_length": Setting(
        64, int, "longest greedy translation in evaluation", (), ("translation",), bounds="[1, inf)"
    ),
    # === Outputs ===
    "output_dir": Setting(None, str, "run folder (default runs/<recipe>)"),
    "export_dir": Setting("saved_models", str, "TF Serving export base folder"),
    "export": Setting(True, bool, "export a SavedModel at the end"),
    "restart": Setting(
        False,
        bool,
        "start afresh even if the output folder holds an interrupted run (which the same "
        "command would otherwise resume)",
    ),
}


def _parse_bool(key, text):
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(
        f"Invalid value for setting {key}. Expected true or false. Received: {key}={text}"
    )


def _convert(key, kind, value):
    """Converts `value` (from a file, a flag or `--set`) to `kind`, or raises naming the key."""
    expected = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        "paths": "a list of paths",
        "names": "a list of names",
        "ints": "a list of integers",
        "optional_int": "an integer or none",
        "optional_float": "a number or none",
        dict: "a mapping",
        "any": "a value",
    }[kind]
    try:
        if kind == "any":
            if isinstance(value, str):
                try:
                    return json.loads(value)
                except json.JSONDecodeError:
                    return value
            return value
        if kind in ("optional_int", "optional_float"):
            if value is None or str(value).strip().lower() in ("none", "null", ""):
                return None
            kind = int if kind == "optional_int" else float
        if kind is bool:
            return value if isinstance(value, bool) else _parse_bool(key, value)
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value.strip())
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if value is None:
                return None
            if not isinstance(value, str):
                raise ValueError
            return value
        if kind == "names":
            items = [value] if isinstance(value, str) else value
            if not all(isinstance(v, str) for v in items):
                raise ValueError
            return [name.strip() for item in items for name in item.split(",") if name.strip()]
        if kind == "paths":
            if isinstance(value, str):
                return [v for v in value.split(",") if v]
            if not all(isinstance(v, str) for v in value):
                raise ValueError
            return list(value)
        if kind == "ints":
            if isinstance(value, str):
                value = [v for v in value.strip("()[] ").split(",") if v.strip()]
            return [_convert(key, int, v) for v in value]
        if kind is dict:
            if not isinstance(value, dict):
                raise ValueError
            return dict(value)
    except (TypeError, ValueError) as error:
        if str(error).startswith("Invalid value for setting"):
            raise
        raise ValueError(
            f"Invalid value for setting {key}. Expected {expected}. Received: {key}={value!r}"
        ) from None
    raise AssertionError(kind)


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


def check_settings(config):
    """Checks every numeric setting of a resolved `config` against its bounds (see `Setting`)."""
    for key, value in config.items():
        setting = SETTINGS.get(key)
        if setting is not None and setting.bounds:
            check_bounds(key, value, setting.bounds, setting.kind)


def model_factory(model_name):
    """The factory of a model: a registered model's, or one of `UNREGISTERED_MODELS`."""
    if model_name in UNREGISTERED_MODELS:
        module, function = UNREGISTERED_MODELS[model_name]
        return getattr(importlib.import_module(module), function)
    return get_model_entry(model_name).builder


def model_arg_kinds(model_name):
    """Maps each argument of a model's factory to a setting kind, from its default."""
    kinds = {}
    for name, parameter in inspect.signature(model_factory(model_name)).parameters.items():
        if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
            continue
        default = parameter.default
        if isinstance(default, bool):
            kinds[name] = bool
        elif isinstance(default, int):
            kinds[name] = int
        elif isinstance(default, float):
            kinds[name] = float
        elif isinstance(default, str):
            kinds[name] = str
        elif isinstance(default, (tuple, list)):
            kinds[name] = "ints"
        else:
            kinds[name] = "any"
    return kinds


def _check_model_args(model_name, model_args, source):
    kinds = model_arg_kinds(model_name)
    checked = {}
    for key, value in model_args.items():
        if key not in kinds:
            raise ValueError(
                f"Unknown setting model_args.{key} in {source}. {model_name} takes: "
                f"{', '.join(sorted(kinds))}."
            )
        checked[key] = _convert(f"model_args.{key}", kinds[key], value)
    return checked


def read_config_file(path):
    """Reads a JSON or YAML settings file into a dict."""
    if not os.path.exists(path):
        raise ValueError(
            f"Invalid value for setting config. The file does not exist. Received: config={path}"
        )
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith((".yaml", ".yml")):
        import yaml

        loaded = yaml.safe_load(text)
    else:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"Cannot read config file {path}: {error}") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"Cannot read config file {path}: expected a mapping of settings.")
    return loaded


def settings_for(task):
    """The settings a recipe of `task` accepts."""
    return {k: s for k, s in SETTINGS.items() if not s.tasks or task is None or task in s.tasks}


def _merge(resolved, updates, source):
    model = updates.get("model", resolved.get("model"))
    known = settings_for(updates.get("task", resolved.get("task")))
    for key, value in updates.items():
        if key not in known:
            raise ValueError(
                f"Unknown setting {key} in {source}. Known settings: {', '.join(known)}."
            )
        if key == "model_args":
            args = _convert(key, dict, value)
            resolved["model_args"] = {
                **resolved.get("model_args", {}),
                **_check_model_args(model, args, source),
            }
            continue
        setting = SETTINGS[key]
        converted = _convert(key, setting.kind, value)
        if setting.bounds:
            check_bounds(key, converted, setting.bounds, setting.kind)
        if setting.choices and converted not in setting.choices:
            raise ValueError(
                f"Invalid value for setting {key}. Expected one of "
                f"{{{', '.join(repr(c) for c in setting.choices)}}}. Received: {key}={converted}"
            )
        resolved[key] = converted


def _parse_assignments(assignments):
    updates = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise ValueError(
                f"Invalid --set {assignment!r}. Expected key=value, e.g. --set epochs=3."
            )
        if key.startswith("model_args."):
            updates.setdefault("model_args", {})[key.removeprefix("model_args.")] = value
        else:
            updates[key] = value
    return updates


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line naming the problem, rather than argparse's full usage dump.
        self.exit(2, f"{self.prog}: error: {message} (--help lists the settings)\n")


def build_parser(recipe_settings, prog=None, description=None):
    """Returns the argparse parser of a recipe: one option per setting, defaults from the recipe."""
    known = settings_for(recipe_settings.get("task"))
    defaults = {key: setting.default for key, setting in known.items()} | recipe_settings
    parser = _Parser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", help="JSON or YAML settings file (e.g. a run's config.json)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any setting, e.g. --set model_args.units=64 (repeatable)",
    )
    for key, setting in known.items():
        if key in ("recipe", "model", "task", "model_args"):
            continue
        flag = "--" + key.replace("_", "-")
        text = f"{setting.help} (default: {defaults.get(key)!r})"
        if setting.kind is bool:
            parser.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction, help=text)
        elif setting.kind in ("paths", "names"):
            metavar = "FILE" if setting.kind == "paths" else "NAME"
            parser.add_argument(
                flag, dest=key, action="extend", nargs="+", metavar=metavar, help=text
            )
        else:
            parser.add_argument(flag, dest=key, choices=setting.choices or None, help=text)
    return parser


def parse_settings(recipe_settings, argv=None, prog=None, description=None):
    """Resolves a recipe's settings: command line > config file > recipe > kzoo defaults.

    Args:
        recipe_settings: dict. The recipe's settings block; must name `recipe`, `model` and
            `task`.
        argv: list of str. Command-line arguments; defaults to `sys.argv[1:]`.
        prog: str. Program name for `--help`.
        description: str. Help text, usually the recipe's docstring.

    Returns:
        A dict with every setting resolved and type-checked, `model_args` included.
    """
    parser = build_parser(recipe_settings, prog=prog, description=description)
    args = vars(parser.parse_args(argv))
    known = settings_for(recipe_settings.get("task"))
    resolved = {key: setting.default for key, setting in known.items()}
    resolved["model_args"] = {}
    try:
        _merge(resolved, recipe_settings, "the recipe")
        for required in ("recipe", "model", "task"):
            if not resolved.get(required):
                raise ValueError(f"The recipe must set {required}.")
        config_file = args.pop("config", None)
        assignments = args.pop("set", [])
        if config_file:
            loaded = read_config_file(config_file)
            # A saved run config names its recipe, model and task; they must be this recipe's.
            if loaded.get("recipe", resolved["recipe"]) != resolved["recipe"]:
                raise ValueError(
                    f"Config file {config_file} is for recipe {loaded['recipe']}, "
                    f"not {resolved['recipe']}."
                )
            _merge(resolved, loaded, f"config file {config_file}")
        _merge(resolved, args, "the command line")
        _merge(resolved, _parse_assignments(assignments), "--set")
    except ValueError as error:
        parser.error(str(error))
    if resolved["output_dir"] is None:
        resolved["output_dir"] = os.path.join("runs", resolved["recipe"])
    return resolved

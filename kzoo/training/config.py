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
import inspect
import json
import os

import yaml

from kzoo.registry import get_model_entry
from kzoo.settings import Setting, check_bounds
from kzoo.tasks import TASKS, get_task

# The settings of the run's optimizer: a task whose models bring their own (the GAN's pair of
# Adams, at --learning-rate) takes none of them (`Task.trains_with_optimizer`).
OPTIMIZER_SETTINGS = ("optimizer", "lr_schedule", "warmup_steps")

# Grouped as in `--help`. Recipes override defaults; tasks ignore what they do not use.
SETTINGS = {
    # === What is trained ===
    "recipe": Setting(None, str, "recipe name (output folder and export name)"),
    "model": Setting(None, str, "registered model name (kzoo list)"),
    "task": Setting(None, str, "kind of training", tuple(TASKS)),
    "model_args": Setting({}, dict, "model factory arguments, e.g. --set model_args.units=64"),
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
    "data_dir": Setting(None, str, "TFDS data directory"),
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
    ),
    "learning_rate": Setting(
        1e-3, float, "optimizer learning rate (a schedule's peak)", bounds="(0, inf)"
    ),
    "lr_schedule": Setting(
        "constant",
        str,
        "learning-rate schedule: constant; cosine (after --warmup-steps of linear warm-up, "
        "decays to a tenth of --learning-rate over the run); or inverse_sqrt (the "
        "Transformer's: linear warm-up over --warmup-steps, then 1/sqrt(step))",
        ("constant", "cosine", "inverse_sqrt"),
    ),
    "warmup_steps": Setting(
        0, int, "linear warm-up steps of the cosine schedule", bounds="[0, inf)"
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
    # Several steps per call save small models their per-step overhead (README, "Hardware");
    # the steps and their numerics are the same.
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
    "mixed_precision": Setting(
        False,
        "bool_or_auto",
        "mixed_float16 on GPU, mixed_bfloat16 on TPU/CPU; auto: mixed_bfloat16 without XLA on a "
        "CPU with AMX or AVX512-BF16 (TensorFlow's kernels use them, XLA's do not), float32 "
        "elsewhere",
    ),
    "seed": Setting(
        0, int, "seed for data splits, shuffling and initialisation", bounds="[0, 4294967296)"
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


def _parse_bool(key, text, auto=False):
    """True or false from a flag's or a file's text; also `"auto"` where `auto` allows it."""
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    if auto and lowered == "auto":
        return "auto"
    expected = "true, false or auto" if auto else "true or false"
    raise ValueError(
        f"Invalid value for setting {key}. Expected {expected}. Received: {key}={text}"
    )


def _convert(key, kind, value):
    """Converts `value` (from a file, a flag or `--set`) to `kind`, or raises naming the key."""
    expected = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        "bool_or_auto": "true, false or auto",
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
        if kind in (bool, "bool_or_auto"):
            if isinstance(value, bool):
                return value
            return _parse_bool(key, value, auto=kind == "bool_or_auto")
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


def check_settings(config):
    """Checks every numeric setting of a resolved `config` against its bounds (see `Setting`)."""
    known = settings_for(config.get("task"))
    for key, value in config.items():
        setting = known.get(key)
        if setting is not None and setting.bounds:
            check_bounds(key, value, setting.bounds, setting.kind)


def model_factory(model_name, task=None):
    """The factory of a model: the registry's, or the one its task kind names (a pre-trained
    classifier needs a preset, so it is in no registry of models built from nothing)."""
    if task is not None:
        return get_task(task).model_factory(model_name)
    return get_model_entry(model_name).builder


def model_arg_kinds(model_name, task=None):
    """Maps each argument of a model's factory to a setting kind, from its default."""
    kinds = {}
    for name, parameter in inspect.signature(model_factory(model_name, task)).parameters.items():
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


def _check_model_args(model_name, task, model_args, source):
    kinds = model_arg_kinds(model_name, task)
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
    """The settings a recipe of task kind `task` accepts: the shared ones (less the optimizer's
    for a task whose models bring their own) and the kind's own; every kind's for `None`."""
    if task is None:
        return {**SETTINGS, **{k: s for kind in TASKS.values() for k, s in kind.settings.items()}}
    kind = get_task(task)
    shared = {
        key: setting
        for key, setting in SETTINGS.items()
        if kind.trains_with_optimizer or key not in OPTIMIZER_SETTINGS
    }
    return {**shared, **kind.settings}


def _merge(resolved, updates, source):
    model = updates.get("model", resolved.get("model"))
    task = updates.get("task", resolved.get("task"))
    known = settings_for(task)
    if resolved.get("model") and model != resolved["model"]:
        resolved["model_args"] = {}  # they were another model's
    for key, value in updates.items():
        if key not in known:
            raise ValueError(
                f"Unknown setting {key} in {source}. Known settings: {', '.join(known)}."
            )
        if key == "model_args":
            args = _convert(key, dict, value)
            resolved["model_args"] = {
                **resolved.get("model_args", {}),
                **_check_model_args(model, task, args, source),
            }
            continue
        setting = known[key]
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


def build_parser(recipe_settings, prog=None, description=None, models=None):
    """Returns the argparse parser of a recipe: one option per setting, defaults from the
    recipe, and `--model` when the recipe offers several `models`."""
    known = settings_for(recipe_settings.get("task"))
    defaults = {key: setting.default for key, setting in known.items()} | recipe_settings
    parser = _Parser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", help="JSON or YAML settings file (e.g. a run's config.json)")
    if models:
        parser.add_argument(
            "--model",
            choices=list(models),
            help=f"the model to train (default: {recipe_settings['model']!r})",
        )
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
        if setting.kind in (bool, "bool_or_auto"):
            # An "auto" setting is set to auto by a recipe or with --set KEY=auto.
            parser.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction, help=text)
        elif setting.kind in ("paths", "names"):
            metavar = "FILE" if setting.kind == "paths" else "NAME"
            parser.add_argument(
                flag, dest=key, action="extend", nargs="+", metavar=metavar, help=text
            )
        else:
            parser.add_argument(flag, dest=key, choices=setting.choices or None, help=text)
    return parser


def parse_settings(recipe_settings, argv=None, prog=None, description=None, models=None):
    """Resolves a recipe's settings: command line > config file > recipe > kzoo defaults.

    Args:
        recipe_settings: dict. The recipe's settings block; must name `recipe`, `model` and
            `task`.
        models: dict, optional. Models the recipe can train, by name, each with its own
            `model_args`; `--model NAME` picks one (the recipe's `model` by default).
        argv: list of str. Command-line arguments; defaults to `sys.argv[1:]`.
        prog: str. Program name for `--help`.
        description: str. Help text, usually the recipe's docstring.

    Returns:
        A dict with every setting resolved and type-checked, `model_args` included.
    """
    parser = build_parser(recipe_settings, prog=prog, description=description, models=models)
    args = vars(parser.parse_args(argv))
    if args.get("model") and args["model"] != recipe_settings["model"]:
        args["model_args"] = models[args["model"]]
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

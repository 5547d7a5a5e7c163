"""The `kzoo` command line.

kzoo list [PATTERN]             registered models, one line each
kzoo info NAME                  a model's factory, arguments and summary
kzoo train RECIPE [OPTIONS]     run a training recipe (the options of recipes/RECIPE.py)
kzoo export RUN_DIR [OPTIONS]   export a finished run for TF Serving (raw text in)
kzoo attention RUN_DIR SENTENCE picture of a run's attention on one sentence (PNG)
kzoo generate RUN_DIR PROMPT... continue prompts or translate with a finished run
kzoo serve [OPTIONS]            serve saved_models/ with TF Serving's REST and gRPC APIs
                                (--preset PRESET exports a preset there first)
kzoo preset save RUN_DIR DIR    write a finished run as a preset (keras-hub's layout)
kzoo preset upload DIR HANDLE   publish a preset on Kaggle (kaggle://) or Hugging Face (hf://)

RUN_DIR may also be a preset folder or a kaggle:// or hf:// handle of one.

Three options work with every command, anywhere on the line: `--debug` shows the traceback of
an error (as does `KZOO_DEBUG=1`), `--verbose` shows TensorFlow's own log lines, and
`--backend tensorflow|jax|torch` picks Keras' backend (as `KERAS_BACKEND` does; training,
generation and export work on each, serving on TensorFlow).

This module lives outside the `kzoo` package on purpose: `import kzoo` imports TensorFlow and
registers kzoo's Keras objects (so `keras.models.load_model` finds them), which takes seconds.
`kzoo --help`, `kzoo list` and the recipe listing of `kzoo train` read kzoo's files instead, and
answer at once; the other commands import TensorFlow, quietly, when they start.

An error the user can act on (a bad setting, a missing or malformed file, an unknown name) is
one line on stderr naming what was expected and what was received, with exit status 2; any
other failure is one line with exit status 1. Ctrl-C ends with one line, exit status 130.
"""

import argparse
import ast
import contextlib
import fnmatch
import importlib
import importlib.util
import os
import pkgutil
import subprocess
import sys

# The exit statuses: a usage error (bad setting, file or name), another failure, Ctrl-C.
USAGE_ERROR, FAILURE, INTERRUPTED = 2, 1, 130

# Errors that mean the user asked for something that cannot be done as asked: a bad value, a
# file that is missing, a folder where a file was expected, a file that cannot be read.
_USAGE_ERRORS = (
    ValueError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


# === Reading kzoo's files without importing it ===


def _package_dir():
    # find_spec of a top-level name locates the package without running its __init__.
    spec = importlib.util.find_spec("kzoo")
    return list(spec.submodule_search_locations)[0]


def _first_line(doc):
    return next((line.strip() for line in (doc or "").strip().splitlines() if line.strip()), "")


def registered_models():
    """{name: description} of the models kzoo registers, read from `kzoo/models/*.py`.

    The same names and descriptions as `kzoo.list_models()` and `kzoo.get_model_entry`, found
    without importing TensorFlow: a factory decorated with `@register_model` is registered as
    its name without `build_` (or its `name=` argument), described by its docstring's first line.
    """
    models = {}
    folder = os.path.join(_package_dir(), "models")
    for filename in sorted(os.listdir(folder)):
        if not filename.endswith(".py"):
            continue
        with open(os.path.join(folder, filename), encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename)
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                target = call.func if call else decorator
                if getattr(target, "id", getattr(target, "attr", None)) != "register_model":
                    continue
                name = node.name.removeprefix("build_")
                for keyword in call.keywords if call else ():
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        name = keyword.value.value
                models[name] = _first_line(ast.get_docstring(node))
    return models


def _recipes_dir():
    # `kzoo.recipes` is installed from recipes/ (setup.cfg's package_dir): ask the import
    # system's finders where it is, with kzoo's location as the parent path, so that neither a
    # regular nor an editable install runs kzoo's __init__.
    parent = importlib.util.find_spec("kzoo").submodule_search_locations
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        spec = find_spec("kzoo.recipes", parent) if find_spec else None
        if spec is not None:
            return list(spec.submodule_search_locations)[0]
    raise ModuleNotFoundError("kzoo.recipes is not installed: reinstall kzoo (pip install -e .)")


def recipe_names():
    """Names of the recipes shipped in `recipes/` (installed as `kzoo.recipes`)."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules([_recipes_dir()])
        if not info.name.startswith("_")
    )


# === TensorFlow, quietly ===


@contextlib.contextmanager
def _stderr_to_devnull():
    """Sends what C++ code writes to stderr (file descriptor 2) to /dev/null for a while."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow(verbose=False):
    """Imports TensorFlow without its C++ start-up log lines, unless `verbose`.

    TensorFlow prints its first lines (oneDNN notices, CUDA probes) before its logging reads
    `TF_CPP_MIN_LOG_LEVEL`, so they are sent to /dev/null during the import; the level, set to
    errors-only unless the environment already sets it, silences the later ones (XLA service
    notices, "oneDNN supports DT_BOOL only on platforms with AVX-512", a failed `cuInit`).
    """
    if verbose or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_to_devnull():
        import tensorflow  # noqa: F401


# === Commands ===


def _list(args):
    models = registered_models()
    names = sorted(name for name in models if fnmatch.fnmatchcase(name, args.pattern))
    if not names:
        print(f"No model matches {args.pattern!r}.", file=sys.stderr)
        return FAILURE
    width = max(len(name) for name in names)
    for name in names:
        print(f"{name:<{width}}  {models[name]}")
    return 0


def _info(args):
    import inspect

    import kzoo

    entry = kzoo.get_model_entry(args.name)
    print(f"{entry.name}: {entry.description}")
    print(f"factory: kzoo.{entry.builder.__name__}{inspect.signature(entry.builder)}")
    if args.summary:
        entry.builder().summary()
    return 0


def _train(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: kzoo train RECIPE [OPTIONS]   (kzoo train RECIPE --help for the options)")
        print("\nrecipes:\n  " + "\n  ".join(recipe_names()))
        return 0 if argv else USAGE_ERROR
    name, options = argv[0], argv[1:]
    if name not in recipe_names():
        raise ValueError(f"Unknown recipe {name!r}. Expected one of {recipe_names()}.")
    recipe = importlib.import_module(f"kzoo.recipes.{name}")
    recipe.main(options, prog=f"kzoo train {name}")
    return 0


def _export(args):
    from kzoo.export import export_run

    path = export_run(
        args.run_dir,
        export_dir=args.export_dir,
        name=args.name,
        max_new_tokens_limit=args.max_new_tokens_limit,
    )
    print(path)
    return 0


def _attention(args):
    from kzoo import plot
    from kzoo.attention import attention_for

    output = args.output or os.path.join(args.run_dir, "attention.png")
    found = attention_for(args.run_dir, args.sentence)
    if found.kind == "seq2seq":
        path = plot.attention(found.source_tokens, found.target_tokens, found.weights, output)
    else:
        path = plot.attention_heads(found.source_tokens, found.weights, output)
    print(path)
    if found.heads is not None:  # a multi-head translator: each head beside their mean
        stem, extension = os.path.splitext(output)
        heads = plot.attention_heads(
            found.source_tokens,
            found.heads,
            f"{stem}_heads{extension}",
            query_tokens=found.target_tokens,
        )
        print(heads)
    return 0


def _generate(args):
    from kzoo.generate import generate

    texts = generate(
        args.run_dir,
        args.prompts,
        max_new_tokens=args.max_new_tokens,
        sampler=args.sampler,
        temperature=args.temperature,
        k=args.k,
        p=args.p,
        num_beams=args.num_beams,
        seed=args.seed,
    )
    # A continuation may span lines (tiny Shakespeare): then a blank line separates results.
    print(("\n\n" if any("\n" in text for text in texts) else "\n").join(texts))
    return 0


def _option_values(argv, option):
    """(values of `option` in `argv`, whether as `--x V` or `--x=V`; `argv` without them)."""
    values, rest, i = [], [], 0
    while i < len(argv):
        if argv[i] == option and i + 1 < len(argv):
            values.append(argv[i + 1])
            i += 2
            continue
        if argv[i].startswith(option + "="):
            values.append(argv[i].partition("=")[2])
        else:
            rest.append(argv[i])
        i += 1
    return values, rest


def _serve(argv):
    # Imported here: the server loads TensorFlow Serving's APIs, which `kzoo list` does not need.
    from kzoo.serving.server import main as serve_main

    presets, argv = _option_values(argv, "--preset")
    if presets:
        from kzoo.export import export_run

        if _option_values(argv, "--model-config-file")[0]:
            raise ValueError(
                "Invalid value for option --preset. Expected no --model-config-file, which lists "
                "the models itself: export the preset with `kzoo export PRESET --export-dir DIR` "
                "and list DIR/NAME there. Received: --preset with --model-config-file"
            )
        base = (_option_values(argv, "--model-base-path")[0] or ["saved_models"])[-1]
        for preset in presets:  # each a new version of its recipe's model under the base path
            print(f"kzoo serve: exported {preset} to {export_run(preset, export_dir=base)}")
    return serve_main(argv, prog="kzoo serve")


def _preset_save(args):
    from kzoo.presets import save_preset

    print(save_preset(args.run_dir, args.preset_dir))
    return 0


def _preset_upload(args):
    from kzoo.presets import upload_preset

    print(upload_preset(args.preset_dir, args.handle))
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line naming the problem, rather than argparse's usage dump.
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def build_parser():
    parser = _Parser(
        prog="kzoo",
        description="kzoo: a Keras 3 / TensorFlow zoo of classic NLP and generative models.",
        epilog="--debug shows the traceback of an error, --verbose TensorFlow's log lines.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    listing = commands.add_parser("list", help="list the registered models")
    listing.add_argument("pattern", nargs="?", default="*", help="wildcard filter, e.g. '*seq2seq'")
    listing.set_defaults(run=_list)

    info = commands.add_parser("info", help="show a model's factory and arguments")
    info.add_argument("name", help="a registered model name (see `kzoo list`)")
    info.add_argument("--summary", action="store_true", help="build it with defaults and summarise")
    info.set_defaults(run=_info)

    export = commands.add_parser(
        "export",
        help="export a finished run (runs/RECIPE) as a new TF Serving version",
        description="Exports runs/RECIPE/model.keras with raw-input signatures, its vocabularies "
        "and warm-up requests to EXPORT_DIR/NAME/<next version>, checked before it is published.",
    )
    export.add_argument(
        "run_dir",
        help="a finished run folder, e.g. runs/lstm_classifier, or a preset (folder or "
        "kaggle:// or hf:// handle)",
    )
    export.add_argument(
        "--export-dir", default="saved_models", help="base folder (default: %(default)s)"
    )
    export.add_argument(
        "--name",
        help="model name, as TF Serving takes it: letters, digits, '_', '-', '.' (default: the "
        "run's recipe)",
    )
    export.add_argument(
        "--max-new-tokens-limit",
        type=int,
        help="generators: most tokens a request to the sample or token_ids signature may ask "
        "for; more is a 400 / INVALID_ARGUMENT (default: the GPT's context, or 2048)",
    )
    export.set_defaults(run=_export)

    attention = commands.add_parser(
        "attention",
        help="write a PNG of a run's attention on one sentence",
        description="Writes the attention of a finished attention_seq2seq run (a heatmap over "
        "the greedy translation) or mha_classifier run (one heatmap per head) on SENTENCE, "
        "and prints the PNG's path.",
    )
    attention.add_argument("run_dir", help="a finished run folder, e.g. runs/attention_seq2seq")
    attention.add_argument("sentence", help="the input sentence, raw text")
    attention.add_argument("--output", help="PNG file to write (default: RUN_DIR/attention.png)")
    attention.set_defaults(run=_attention)

    generation = commands.add_parser(
        "generate",
        help="continue prompts or translate sentences with a finished run",
        description="Continues each PROMPT with a finished rnn_generator or gpt run, or "
        "translates it with a seq2seq or attention_seq2seq run (kzoo.generate), and prints the "
        "continuations or translations, one per line (separated by a blank line when a "
        "continuation spans lines).",
    )
    generation.add_argument(
        "run_dir", help="a finished run folder, e.g. runs/gpt, or a preset (folder or handle)"
    )
    generation.add_argument("prompts", nargs="+", metavar="PROMPT", help="raw text")
    generation.add_argument(
        "--sampler",
        default="greedy",
        choices=["greedy", "temperature", "top_k", "top_p", "beam"],
        help="how the next token is chosen (default: %(default)s)",
    )
    generation.add_argument(
        "--max-new-tokens",
        type=int,
        help="tokens to add (language models; default 100) or the longest translation "
        "(seq2seq; default: the run's decode length)",
    )
    generation.add_argument("--temperature", type=float, default=1.0, help="random samplers")
    generation.add_argument("--k", type=int, default=5, help="top_k: tokens to draw among")
    generation.add_argument("--p", type=float, default=0.9, help="top_p: probability mass")
    generation.add_argument("--num-beams", type=int, default=5, help="beam: beams kept")
    generation.add_argument("--seed", type=int, help="seed of the random samplers")
    generation.set_defaults(run=_generate)

    preset = commands.add_parser(
        "preset",
        help="write a finished run as a preset, or publish one",
        description="kzoo presets: finished runs in keras-hub's layout (config.json, "
        "model.weights.h5, metadata.json, assets/), which kzoo.from_preset, kzoo export, "
        "kzoo generate and kzoo serve --preset load from a folder or a kaggle:// or hf:// handle.",
    )
    actions = preset.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    save = actions.add_parser("save", help="write a finished run as a preset folder")
    save.add_argument("run_dir", help="a finished run folder, e.g. runs/kim_cnn")
    save.add_argument("preset_dir", help="the preset folder to write (new or empty)")
    save.set_defaults(run=_preset_save)
    upload = actions.add_parser(
        "upload", help="publish a preset with keras-hub's upload_preset (needs a network)"
    )
    upload.add_argument("preset_dir", help="a preset folder (kzoo preset save)")
    upload.add_argument(
        "handle", help="kaggle://<user>/<model>/keras/<variation> or hf://<user>/<model>"
    )
    upload.set_defaults(run=_preset_upload)

    # `train` and `serve` hand everything after their name to their own parsers.
    commands.add_parser(
        "train", help="run a training recipe (kzoo train RECIPE --help)", add_help=False
    )
    commands.add_parser(
        "serve",
        help="serve SavedModels with TF Serving's REST and gRPC APIs (kzoo serve --help); "
        "--preset PRESET (repeatable) exports a preset under --model-base-path first",
        add_help=False,
    )
    return parser


# === Errors in one line ===


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def _interrupted_hint(command, argv):
    if command != "train":
        return ""
    # The recipe's parser decides the run folder; read it back as the recipe would resolve it.
    run_dir = None
    for i, arg in enumerate(argv):
        if arg == "--output-dir" and i + 1 < len(argv):
            run_dir = argv[i + 1]
        elif arg.startswith("--output-dir="):
            run_dir = arg.partition("=")[2]
    if run_dir is None and len(argv) > 1:
        run_dir = os.path.join("runs", argv[1])
    return " The same command resumes from the last completed epoch" + (
        f" (saved in {run_dir})." if run_dir else "."
    )


def run_command(prog, function, *args, debug=False, hint=""):
    """Runs one command function and turns its errors into one line on stderr.

    Returns the function's exit status, or `USAGE_ERROR` (2) for an error the user can act on,
    `FAILURE` (1) for any other, and `INTERRUPTED` (130) for Ctrl-C. With `debug`, errors are
    raised with their traceback instead.
    """
    try:
        return function(*args)
    except SystemExit as exit_:  # a parser's error (its one line is printed) or --help
        if exit_.code is None:
            return 0
        return exit_.code if isinstance(exit_.code, int) else FAILURE
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"\n{prog}: interrupted.{hint}", file=sys.stderr, flush=True)
        return INTERRUPTED
    except Exception as error:  # noqa: BLE001  (every error becomes one line)
        if debug:
            raise
        usage = isinstance(error, _USAGE_ERRORS)
        message = _one_line(error)
        if not usage:
            message = f"{type(error).__name__}: {message} (run with --debug for the traceback)"
        print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
        return USAGE_ERROR if usage else FAILURE


def _global_options(argv):
    """Takes `--debug`, `--verbose` and `--backend NAME` out of `argv`, wherever they are
    (before a `--`); returns `(rest, debug, verbose, backend or None)`."""
    rest, debug, verbose, backend = [], False, False, None
    arguments = iter(enumerate(argv))
    for i, arg in arguments:
        if arg == "--":
            rest += argv[i:]
            break
        if arg == "--debug":
            debug = True
        elif arg == "--verbose":
            verbose = True
        elif arg == "--backend" or arg.startswith("--backend="):
            backend = arg.partition("=")[2] if "=" in arg else next(arguments, (i, ""))[1]
        else:
            rest.append(arg)
    debug = debug or os.environ.get("KZOO_DEBUG", "") not in ("", "0")
    return rest, debug, verbose, backend


BACKENDS = ("tensorflow", "jax", "torch")


def _on_backend(backend, child_command):
    """Makes Keras run `backend` for this command: chosen here when Keras is not imported yet,
    else (another backend already loaded, e.g. `kzoo_cli.main` called from a program) the
    command runs in a child process; returns its exit status then, else `None`."""
    if backend is None:
        return None
    if backend not in BACKENDS:
        raise ValueError(
            f"Invalid value for option --backend. Expected one of {BACKENDS}. "
            f"Received: --backend={backend}"
        )
    keras = sys.modules.get("keras")
    if keras is None:
        os.environ["KERAS_BACKEND"] = backend
        return None
    if keras.backend.backend() == backend:
        return None
    environment = {**os.environ, "KERAS_BACKEND": backend}
    return subprocess.run([sys.executable, *child_command], env=environment).returncode


def main(argv=None):
    """Runs the `kzoo` command line; returns its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    given = list(argv)
    argv, debug, verbose, backend = _global_options(argv)
    command = argv[0] if argv else None
    elsewhere = run_command(f"kzoo {command}", _on_backend, backend, ["-m", "kzoo", *given])
    if elsewhere is not None:
        return elsewhere
    if command in ("train", "serve"):
        function, args = (_train if command == "train" else _serve), (argv[1:],)
    else:
        parsed = build_parser().parse_args(argv)
        function, args = parsed.run, (parsed,)
    listing = command == "train" and (len(argv) < 2 or argv[1] in ("-h", "--help"))
    if command not in ("list", None) and not listing:
        quiet_tensorflow(verbose)
    hint = _interrupted_hint(command, argv)
    return run_command(f"kzoo {command}", function, *args, debug=debug, hint=hint)


def run_recipe(recipe_main, argv=None):
    """`python recipes/<recipe>.py`: a recipe's `main` with the command line's error handling.

    Example: a recipe ends with `sys.exit(run_recipe(main))`.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    given = list(argv)
    argv, debug, _, backend = _global_options(argv)
    prog = os.path.basename(sys.argv[0] or "recipe")
    # A recipe file imports Keras first: another backend runs the recipe again in a child.
    elsewhere = run_command(prog, _on_backend, backend, [sys.argv[0], *given])
    if elsewhere is not None:
        return elsewhere
    name = os.path.splitext(prog)[0]
    hint = _interrupted_hint("train", ["train", name, *argv])

    def run():
        recipe_main(argv, prog=prog)
        return 0

    return run_command(prog, run, debug=debug, hint=hint)


if __name__ == "__main__":
    sys.exit(main())

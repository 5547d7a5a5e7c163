"""The `kzoo` command line.

kzoo list [PATTERN]             registered models, one line each
kzoo info NAME                  a model's factory, arguments and summary
kzoo train RECIPE [OPTIONS]     run a training recipe (the options of recipes/RECIPE.py)
kzoo export RUN_DIR [OPTIONS]    export a finished run for TF Serving (raw text in)
kzoo attention RUN_DIR SENTENCE  picture of a run's attention on one sentence (PNG)
kzoo serve [OPTIONS]            serve saved_models/ with TF Serving's REST and gRPC APIs
"""

import argparse
import importlib
import inspect
import os
import pkgutil
import sys


def _list(args):
    import kzoo

    names = kzoo.list_models(args.pattern)
    if not names:
        print(f"No model matches {args.pattern!r}.", file=sys.stderr)
        return 1
    width = max(len(name) for name in names)
    for name in names:
        print(f"{name:<{width}}  {kzoo.get_model_entry(name).description}")
    return 0


def _info(args):
    import kzoo

    try:
        entry = kzoo.get_model_entry(args.name)
    except ValueError as error:
        print(f"kzoo info: {error}", file=sys.stderr)
        return 2
    print(f"{entry.name}: {entry.description}")
    print(f"factory: kzoo.{entry.builder.__name__}{inspect.signature(entry.builder)}")
    if args.summary:
        entry.builder().summary()
    return 0


def recipe_names():
    """Names of the recipes shipped in `recipes/` (installed as `kzoo.recipes`)."""
    import kzoo.recipes

    return sorted(
        info.name
        for info in pkgutil.iter_modules(kzoo.recipes.__path__)
        if not info.name.startswith("_")
    )


def _train(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: kzoo train RECIPE [OPTIONS]   (kzoo train RECIPE --help for the options)")
        print("\nrecipes:\n  " + "\n  ".join(recipe_names()))
        return 0 if argv else 2
    name, options = argv[0], argv[1:]
    if name not in recipe_names():
        print(
            f"kzoo train: unknown recipe {name!r}. Expected one of {recipe_names()}.",
            file=sys.stderr,
        )
        return 2
    recipe = importlib.import_module(f"kzoo.recipes.{name}")
    recipe.main(options, prog=f"kzoo train {name}")
    return 0


def _export(args):
    from kzoo.export import export_run

    try:
        path = export_run(
            args.run_dir,
            export_dir=args.export_dir,
            name=args.name,
            max_new_tokens_limit=args.max_new_tokens_limit,
        )
    except (ValueError, OSError) as error:
        print(f"kzoo export: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _attention(args):
    from kzoo import plot
    from kzoo.attention import attention_for

    output = args.output or os.path.join(args.run_dir, "attention.png")
    try:
        found = attention_for(args.run_dir, args.sentence)
        if found.kind == "seq2seq":
            path = plot.attention(found.source_tokens, found.target_tokens, found.weights, output)
        else:
            path = plot.attention_heads(found.source_tokens, found.weights, output)
    except (ValueError, OSError) as error:
        print(f"kzoo attention: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _generate(args):
    from kzoo.generate import generate

    try:
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
    except (ValueError, OSError) as error:
        print(f"kzoo generate: {error}", file=sys.stderr)
        return 2
    # A continuation may span lines (tiny Shakespeare): then a blank line separates results.
    print(("\n\n" if any("\n" in text for text in texts) else "\n").join(texts))
    return 0


def _serve(argv):
    # Imported here: the server loads TensorFlow Serving's APIs, which `kzoo list` does not need.
    from kzoo.serving.server import main as serve_main

    return serve_main(argv, prog="kzoo serve")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kzoo",
        description="kzoo: a Keras 3 / TensorFlow zoo of classic NLP and generative models.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    export.add_argument("run_dir", help="a finished run folder, e.g. runs/lstm_classifier")
    export.add_argument(
        "--export-dir", default="saved_models", help="base folder (default: %(default)s)"
    )
    export.add_argument("--name", help="model name (default: the run's recipe)")
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
    generation.add_argument("run_dir", help="a finished run folder, e.g. runs/gpt")
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

    # `train` hands everything after the recipe name to the recipe's own parser.
    commands.add_parser(
        "train", help="run a training recipe (kzoo train RECIPE --help)", add_help=False
    )

    # `serve` hands its options to the server's own parser.
    commands.add_parser(
        "serve",
        help="serve SavedModels with TF Serving's REST and gRPC APIs (kzoo serve --help)",
        add_help=False,
    )
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "train":
        return _train(argv[1:])
    if argv and argv[0] == "serve":
        return _serve(argv[1:])
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

"""The `kzoo` command line.

kzoo list [PATTERN]        registered models, one line each
kzoo info NAME             a model's factory, arguments and summary
"""

import argparse
import inspect
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
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

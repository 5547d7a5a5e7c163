"""kzoo's GPT at nanoGPT's size and budget, on a GPU: how much of the 1.47 gap is compute?

The GPT recipe trains nanoGPT's CPU-sized model (4 layers, width 128) for 10 epochs of tiny
Shakespeare on 2 cores (`language_model.md`); nanoGPT's 1.47 comes from a 10.7M-parameter model
(6 layers, 6 heads, width 384, dropout 0.2) trained for 5,000 steps of 64 x 256 characters on a
GPU, some 13 hours on 2 CPU cores. This script trains `kzoo.build_gpt` at that size with
nanoGPT's schedule (AdamW, 100 warm-up steps, cosine from 1e-3 to 1e-4, global gradient norm
clipped at 1, bf16) on the same split, next to the recipe's model given the same budget, and
reports the validation loss of each.

It runs where TensorFlow cannot: the lent GPU machine's image has JAX and no TensorFlow (and
cannot fetch it), so the model runs on Keras' JAX backend, fed numpy windows instead of kzoo's
tf.data pipeline. `build_gpt` is pure Keras and keras-hub; it is loaded without `kzoo/__init__.py`,
which insists on the TensorFlow backend for training, export and serving. It is therefore not one
of `python -m benchmarks`' modules (it lives in a folder without `__init__.py`).

    KERAS_BACKEND=jax python benchmarks/device/gpt_scale.py --train-file tinyshakespeare.txt

`--quick` runs a few steps of each case (a smoke test, on CPU too).
"""

import argparse
import importlib
import os
import platform
import sys
import time
import types

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from benchmarks.harness import Report, table, write_results  # noqa: E402

NAME = "gpt_scale"
TITLE = "GPT at nanoGPT's size on a GPU (Keras JAX backend): validation nats/char"
TARGET = 1.47
PROMPT = "ROMEO:\n"

# nanoGPT's train_shakespeare_char.py: model and optimisation.
NANOGPT = dict(num_layers=6, num_heads=6, hidden_dim=384, intermediate_dim=1536, dropout=0.2)
# (key for --only, label, build_gpt arguments)
CASES = [
    ("nanogpt", "nanoGPT's model", NANOGPT),
    ("nanogpt-relu", "nanoGPT's model, ReLU", {**NANOGPT, "activation": "relu"}),
    # recipes/gpt.py's model_args (nanoGPT's CPU-sized model), given nanoGPT's budget.
    (
        "recipe",
        "the recipe's model",
        dict(num_layers=4, num_heads=4, hidden_dim=128, intermediate_dim=512, dropout=0.0),
    ),
]
TRAINING = dict(
    steps=5000, batch_size=64, sequence_length=256, learning_rate=1e-3, min_learning_rate=1e-4
)
TRAINING.update(warmup_steps=100, weight_decay=0.1, beta_2=0.99, clipnorm=1.0, evaluations=20)


def kzoo_model_module(name):
    """`kzoo.models.<name>`, imported without running kzoo's package `__init__` files (which
    load the data pipelines, export and serving: TensorFlow)."""
    for package_name, folder in [("kzoo", "kzoo"), ("kzoo.models", os.path.join("kzoo", "models"))]:
        package = types.ModuleType(package_name)
        package.__path__ = [os.path.join(ROOT, folder)]
        sys.modules.setdefault(package_name, package)
    return importlib.import_module(f"kzoo.models.{name}")


def import_build_gpt():
    """`kzoo.models.gpt.build_gpt`, without kzoo's package `__init__` files."""
    return kzoo_model_module("gpt").build_gpt


def load_text(path):
    """Character ids (0 is padding, as in kzoo) of the first 90 % and last 10 % of the file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    characters = sorted(set(text))
    lookup = {c: i + 1 for i, c in enumerate(characters)}
    ids = np.array([lookup[c] for c in text], dtype="int32")
    split = int(len(ids) * 0.9)
    return ids[:split], ids[split:], characters


def random_windows(stream, count, length, rng):
    """`count` windows of `length + 1` tokens at random starts (nanoGPT's get_batch)."""
    starts = rng.integers(0, len(stream) - length - 1, count)
    return stream[starts[:, None] + np.arange(length + 1)]


def validation_windows(stream, length):
    """Non-overlapping windows of `length + 1` tokens, as kzoo's `language_model_dataset`."""
    count = (len(stream) - 1) // length
    return stream[np.arange(count)[:, None] * length + np.arange(length + 1)]


def compile_like_nanogpt(model, training):
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        warmup_target=training["learning_rate"],
        warmup_steps=training["warmup_steps"],
        decay_steps=training["steps"] - training["warmup_steps"],
        alpha=training["min_learning_rate"] / training["learning_rate"],
    )
    optimizer = keras.optimizers.AdamW(
        schedule,
        weight_decay=training["weight_decay"],
        beta_2=training["beta_2"],
        global_clipnorm=training["clipnorm"],
    )
    # As nanoGPT: decay matrices and embeddings, not biases or normalisation scales.
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    model.compile(optimizer=optimizer, loss=model.loss, jit_compile=True)


def sample(model, characters, length, count, temperature=0.8, seed=0):
    """`count` characters after PROMPT; the context is right-padded to one fixed shape.

    Characters of PROMPT that the text lacks are left out (other texts than Shakespeare's); with
    none left, the vocabulary's first character is the prompt.
    """
    lookup = {c: i + 1 for i, c in enumerate(characters)}
    ids = [lookup[c] for c in PROMPT if c in lookup] or [1]
    rng = np.random.default_rng(seed)
    for _ in range(count):
        context = ids[-length:]
        window = np.zeros((1, length), "int32")
        window[0, : len(context)] = context
        logits = np.asarray(model.predict_on_batch(window)[0, len(context) - 1], "float64")
        logits[0] = -np.inf  # never padding
        p = np.exp((logits - logits.max()) / temperature)
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return "".join(characters[i - 1] for i in ids)


def run_case(build_gpt, model_args, train, valid, characters, training, quick, seed):
    import keras

    keras.utils.set_random_seed(seed)
    length, batch = training["sequence_length"], training["batch_size"]
    model = build_gpt(vocabulary_size=len(characters) + 1, max_sequence_length=length, **model_args)
    compile_like_nanogpt(model, training)
    rng = np.random.default_rng(seed)
    valid_windows = validation_windows(valid, length)
    if quick:
        valid_windows = valid_windows[: 2 * batch]
    chunk = training["steps"] // training["evaluations"]
    curve, train_losses = [], []
    started = time.time()
    for _ in range(training["evaluations"]):
        windows = random_windows(train, chunk * batch, length, rng)
        history = model.fit(
            windows[:, :-1], windows[:, 1:], batch_size=batch, epochs=1, shuffle=False, verbose=0
        )
        train_losses.append(history.history["loss"][-1])
        curve.append(
            model.evaluate(
                valid_windows[:, :-1],
                valid_windows[:, 1:],
                batch_size=batch,
                verbose=0,
                return_dict=True,
            )["loss"]
        )
        print(f"  step {chunk * len(curve)}: train {train_losses[-1]:.4f} valid {curve[-1]:.4f}")
    seconds = time.time() - started
    text = sample(model, characters, length, 60 if quick else 400)
    return dict(
        parameters=model.count_params(),
        valid=curve[-1],
        best=min(curve),
        train=train_losses[-1],
        seconds=seconds,
        tokens_per_second=training["steps"] * batch * length / seconds,
        curve=curve,
        sample=text,
    )


def versions():
    import keras
    import keras_hub

    backend = keras.backend.backend()
    module = importlib.import_module(backend)  # tensorflow, jax or torch
    devices = f" ({module.default_backend()})" if backend == "jax" else ""
    return (
        f"Python {platform.python_version()}, Keras {keras.__version__} on {backend} "
        f"{module.__version__}{devices}, keras-hub {keras_hub.__version__}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-file", required=True, help="tiny Shakespeare's input.txt")
    parser.add_argument("--results-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    parser.add_argument("--quick", action="store_true", help="a few steps per case")
    parser.add_argument("--precision", default="mixed_bfloat16", help="Keras dtype policy")
    parser.add_argument("--seed", type=int, default=0, help="weights, dropout and batches")
    parser.add_argument("--only", nargs="+", choices=[key for key, _, _ in CASES])
    args = parser.parse_args(argv)

    import keras

    keras.config.set_dtype_policy(args.precision)
    build_gpt = import_build_gpt()
    train, valid, characters = load_text(args.train_file)
    training = dict(TRAINING)
    if args.quick:
        training.update(steps=20, batch_size=4, sequence_length=32, warmup_steps=2, evaluations=2)
    started = time.time()
    rows, notes = [], []
    for key, label, model_args in CASES:
        if args.only and key not in args.only:
            continue
        print(f"=== {label}: {model_args}")
        result = run_case(
            build_gpt, model_args, train, valid, characters, training, args.quick, args.seed
        )
        shape = "{num_layers} x {hidden_dim}, {num_heads} heads, dropout {dropout}, {activation}"
        rows.append(
            [
                label,
                shape.format(**{"activation": "gelu", **model_args}),
                f"{result['parameters'] / 1e6:.2f}M",
                round(result["best"], 4),
                TARGET,
                round(result["valid"], 4),
                round(result["train"], 4),
                round(result["seconds"]),
                f"{result['tokens_per_second']:,.0f}",
            ]
        )
        curve = ", ".join(f"{value:.3f}" for value in result["curve"])
        every = training["steps"] // training["evaluations"]
        notes.append(f"`{label}`: validation loss every {every} steps: {curve}.")
        notes.append(
            f"Sample from `{label}` (temperature 0.8, seed 0):\n\n```\n{result['sample']}\n```"
        )
        write(args, training, rows, notes, time.time() - started, argv)
    print(table(COLUMNS, rows))


PROTOCOL = (
    "The validation loss is measured on all of the last 10 % every 250 steps; the best of these "
    "is the figure, as nanoGPT's 1.4697 is the loss of the checkpoint it keeps when validation "
    "improves (its evaluation estimates it on 200 random batches of the same split). The model "
    "is `kzoo.build_gpt` run on Keras' JAX backend: the GPU machine's image has JAX and no "
    "TensorFlow, so kzoo's TensorFlow pipeline (tf.data, tf.distribute, export) does not run "
    "there; on the CPU the recipe trains the same builder's model."
)
COLUMNS = [
    "model",
    "layers x width",
    "parameters",
    "best valid loss (nats/char)",
    "target",
    "last valid loss",
    "train loss (last 250 steps)",
    "wall s",
    "tokens/s",
]


def write(args, training, rows, notes, wall_time, argv):
    """Writes `<results-dir>/gpt_scale.md` after each case, so a cut-off run keeps its figures."""
    command = "KERAS_BACKEND=jax python benchmarks/device/gpt_scale.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    settings = {
        "data": f"{os.path.basename(args.train_file)}: first 90 % train, last 10 % validation "
        "(all of it, non-overlapping windows), characters",
        "training": f"{training['steps']} steps of {training['batch_size']} random windows of "
        f"{training['sequence_length']} characters; AdamW (weight decay "
        f"{training['weight_decay']}, beta_2 {training['beta_2']}), "
        f"{training['warmup_steps']} warm-up steps, cosine "
        f"{training['learning_rate']:g} to {training['min_learning_rate']:g}, global clipnorm "
        f"{training['clipnorm']:g}; dtype policy {args.precision}; XLA (jit)",
        "seed": args.seed,
    }
    report = Report(COLUMNS, rows, notes=[PROTOCOL, *notes], settings=settings)
    write_results(NAME, TITLE, report, command, wall_time, args.results_dir, versions())


if __name__ == "__main__":
    main()

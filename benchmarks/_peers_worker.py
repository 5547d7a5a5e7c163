"""One timed training of `python -m benchmarks peers`, in its own process:

    python benchmarks/_peers_worker.py FRAMEWORK MODEL OUT_JSON --data-dir D --batches N --epochs E

FRAMEWORK is `kzoo` (the recipe's model and settings on TensorFlow, as `kzoo train` runs it),
`jax` (the same on Keras' JAX backend: `KERAS_BACKEND=jax` must be set) or `torch` (the
PyTorch peer of benchmarks/_torch_peers.py). Every framework trains on the same batches: the
first N batches of the recipe's own pipeline (kzoo's vectorization, bucketing and shuffling,
seed 0) on the real data, held in memory, for E epochs; an epoch's seconds are timed alone, and
the result is written to OUT_JSON: seconds per epoch, examples per epoch, parameters, threads,
the precision and whether XLA compiled the steps.
"""

import argparse
import functools
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def data_arguments(model, data_dir):
    if model == "kim_cnn":
        folder = os.path.join(data_dir, "sentence")
        files = [os.path.join(folder, f"rt-polarity.{side}") for side in ("neg", "pos")]
        return ["--train-file", *files, "--encoding", "latin-1", "--test-fraction", "0.1"]
    return ["--train-file", os.path.join(data_dir, "text", "tinyshakespeare.txt")]


RECIPES = {"gpt": "gpt", "char_lstm": "rnn_generator", "kim_cnn": "kim_cnn"}


def recipe_run(model, data_dir):
    """kzoo's `Run` of the model's recipe on the real data, and its data."""
    import importlib

    from kzoo.training import Run, parse_settings

    recipe = importlib.import_module(f"kzoo.recipes.{RECIPES[model]}")
    output = tempfile.mkdtemp(prefix="kzoo-peers-")
    argv = [*data_arguments(model, data_dir), "--output-dir", output, "--no-export"]
    run = Run(parse_settings(recipe.SETTINGS, argv))
    return run, run.load_data()


def time_keras(run, data, batches, epochs):
    import keras
    import tensorflow as tf

    from kzoo.data.batching import without_autotuning

    model = run.build_model(data)
    # The batches as tensors (no Python generator in the loop), one after another.
    dataset = functools.reduce(
        tf.data.Dataset.concatenate, (tf.data.Dataset.from_tensors(batch) for batch in batches)
    )
    # A known length: Keras then runs whole compiled calls of the recipe's steps per call
    # (`--batches` is a multiple of them), never a shorter last one to compile on every epoch.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).cache()
    # As a run's `Data` hands its pipelines to Keras.
    dataset = without_autotuning(dataset)
    seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    model.fit(dataset, epochs=epochs, verbose=0, callbacks=[EpochTimer()])
    # What the runner chose: the recipe's precision (auto: mixed bfloat16 without XLA on a CPU
    # with AMX or AVX512-BF16) and whether its steps were compiled with XLA.
    how = {"precision": run.policy, "xla": bool(model.jit_compile)}
    return seconds, model.count_params(), how


def torch_model(model, run, data):
    import torch

    from benchmarks import _torch_peers as peers

    args = {**data.model_args, **run.config["model_args"]}
    c = run.config
    if model == "gpt":
        net = peers.GPT(
            args["vocabulary_size"],
            c["sequence_length"],
            args["num_layers"],
            args["num_heads"],
            args["hidden_dim"],
            args["intermediate_dim"],
            args["dropout"],
        )
        loss = peers.language_model_loss
    elif model == "char_lstm":
        net = peers.CharLSTM(
            args["vocabulary_size"], args["embedding_dim"], args["units"], args["dropout"]
        )
        loss = peers.language_model_loss
    else:
        net = peers.KimCNN(
            args["vocabulary_size"],
            args.get("embedding_dim") or 300,
            args["filters"],
            tuple(args["kernel_sizes"]),
            args["dropout"],
        )
        loss = peers.binary_loss
    if c["optimizer"] == "adadelta":
        optimizer = torch.optim.Adadelta(
            net.parameters(), lr=c["learning_rate"], rho=0.95, eps=1e-6
        )
    else:
        optimizer = torch.optim.Adam(net.parameters(), lr=c["learning_rate"])
    return net, optimizer, loss


def time_torch(model, run, data, batches, epochs):
    import torch

    from benchmarks import _torch_peers as peers

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    net, optimizer, loss = torch_model(model, run, data)
    tensors = [tuple(torch.as_tensor(part).long() for part in batch) for batch in batches]
    max_norm = run.config["model_args"].get("max_norm")
    net.train()
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        for inputs, targets in tensors:
            peers.train_step(
                net, optimizer, loss, inputs, targets, run.config["clipnorm"], max_norm
            )
        seconds.append(time.perf_counter() - started)
    how = {"precision": "float32", "xla": False}  # eager, as a PyTorch user trains
    return seconds, sum(p.numel() for p in net.parameters()), how


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("framework", choices=["kzoo", "jax", "torch"])
    parser.add_argument("model", choices=list(RECIPES))
    parser.add_argument("out")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--batches", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    run, data = recipe_run(args.model, args.data_dir)
    batches = list(data.train.take(args.batches).as_numpy_iterator())
    examples = sum(len(batch[0]) for batch in batches)
    tokens = sum(int((batch[0] != 0).sum()) for batch in batches)
    if args.framework == "torch":
        seconds, parameters, how = time_torch(args.model, run, data, batches, args.epochs)
        threads = __import__("torch").get_num_threads()
    else:
        seconds, parameters, how = time_keras(run, data, batches, args.epochs)
        threads = os.cpu_count()
    result = {
        "seconds": seconds,
        "examples": examples,
        "tokens": tokens,
        "parameters": parameters,
        "threads": threads,
        "batch_size": run.config["batch_size"],
        **how,
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()

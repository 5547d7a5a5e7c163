"""Dot (Luong) against additive (Bahdanau) attention in the same seq2seq, on the same task.

Both are `kzoo.build_attention_seq2seq` as the attention_seq2seq recipe trains it (embedding
64, LSTM 256, Adam 2e-3, clipnorm 1, batch 64), on the recipe's embedded date-normalisation
pairs (character level), with the same split, seed and number of epochs; they differ only in
`attention="dot"` or `"additive"`. Early stopping is off so both train every epoch. They run one
after the other in this process, through the recipe's own `Run`.

Measured on the held-out test split: greedy exact match (the recipe's evaluation: in-graph
decoding, first 500 test pairs), teacher-forced token accuracy over every real target token,
and how peaked the attention is (the mean, over target tokens, of the largest weight a target
token gives one source token); the median time of a training epoch after the first (which
traces and compiles), in wall and in CPU seconds; greedy decoding as the SavedModel serves it
(in-graph, batches of 256: sentences per second and time per decoding step, best of three
passes; batch 1: median latency); parameters. Each variant's attention on one sentence is
saved as `attention_<variant>.png` next to the results.

The machine is shared, so wall times move with other jobs' load: CPU seconds (the process's
own, all threads) are the steadier training cost, and decoding is timed after both models are
trained, the two variants alternating pass by pass, so that both see the same load.
"""

import importlib
import os
import statistics
import tempfile
import time

import keras
import numpy as np

from benchmarks.harness import Report

NAME = "attention"
TITLE = "Dot (Luong) vs additive (Bahdanau) attention: seq2seq date normalisation (2 CPU cores)"
VARIANTS = ("dot", "additive")
SENTENCE = "Saturday, November 21 2026"  # the sentence of the pictures
# --quick checks the benchmark runs, in a few minutes: a smaller model on fewer pairs, no XLA.
QUICK = ["--epochs", "2", "--num-examples", "3000", "--no-xla", "--set", "model_args.latent_dim=64"]


class _EpochTimer(keras.callbacks.Callback):
    """Wall and CPU seconds of each epoch."""

    def __init__(self):
        super().__init__()
        self.wall, self.cpu = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.wall.append(time.perf_counter() - self._started[0])
        self.cpu.append(time.process_time() - self._started[1])


def _after_first(seconds):
    """Median over the epochs after the first (which traces and compiles)."""
    return statistics.median(seconds[1:] or seconds)


def _teacher_forced(model, dataset):
    """Token accuracy over real target tokens, and the mean largest attention weight."""
    from kzoo.models.attention_seq2seq import attention_scores_model

    scored = attention_scores_model(model)
    correct = total = peak = 0.0
    for inputs, targets in dataset:
        logits, weights = scored(inputs, training=False)
        targets = keras.ops.convert_to_numpy(targets)
        real = targets != 0
        predicted = keras.ops.convert_to_numpy(logits).argmax(-1)
        correct += float(((predicted == targets) & real).sum())
        peak += float((keras.ops.convert_to_numpy(weights).max(-1) * real).sum())
        total += float(real.sum())
    return correct / total, peak / total


def _train(variant, args, base):
    """Trains one variant with the recipe's Run; returns what the measurements need."""
    from kzoo.export import serving_functions
    from kzoo.signatures import serving_bundle
    from kzoo.training import Run, parse_settings

    recipe = importlib.import_module("kzoo.recipes.attention_seq2seq")
    run_dir = os.path.join(base, variant)
    argv = ["--output-dir", run_dir, "--no-export", "--early-stopping-patience", "0"]
    argv += ["--set", f"model_args.attention={variant}", *(QUICK if args.quick else [])]
    config = parse_settings(recipe.SETTINGS, argv, prog=f"benchmark {variant}")
    timer = _EpochTimer()

    class TimedRun(Run):
        def callbacks(self, model, data):
            return [*super().callbacks(model, data), timer]

    run = TimedRun(config)
    data = run.load_data()
    model = run.build_model(data)
    history = run.fit(model, data)
    metrics = run.evaluate(model, data)
    token_accuracy, peak = _teacher_forced(model, data.test)
    return {
        "run_dir": run_dir,
        "model_args": config["model_args"],
        "exact_match": metrics["test"]["exact_match"],
        "token_accuracy": token_accuracy,
        "peak": peak,
        "epoch_s": _after_first(timer.wall),
        "epoch_cpu_s": _after_first(timer.cpu),
        "valid_loss": history.history.get("val_loss", []),
        "epochs": len(history.epoch),
        "params": model.count_params(),
        "pairs": data.summary,
        # The SavedModel's token-id endpoint: in-graph greedy decoding, steps visible.
        "decode": serving_functions(serving_bundle(model, data, config))["token_ids"],
        "sources": _padded_batches(data, 256),
        "singles": _padded_batches(data, 1)[:30],
    }


def _padded_batches(data, size):
    """The test sources as padded token-id batches of `size` (whole batches only)."""
    import tensorflow as tf

    from kzoo.data import vectorization

    sources = [str(s) for s in data.raw["test"][0]]
    ids = vectorization.vectorize(data.vectorizers["source"], sources, data.max_length)
    batches = []
    for begin in range(0, len(ids) - size + 1, size):
        rows = ids[begin : begin + size]
        width = max(len(x) for x in rows)
        batches.append(tf.constant(np.stack([np.pad(x, (0, width - len(x))) for x in rows])))
    return batches or [tf.constant(np.stack([ids[0]]))]


def _measure_decoding(trained):
    """Times greedy decoding of every variant, alternating variants pass by pass.

    Sets, per variant: `throughput` (sentences/s in batches of 256) and `step_ms` (ms per
    decoding step of a batch), from the best of three passes over the test batches, and
    `latency` (median ms per sentence at batch 1 over 30 sentences). The decoding loop stops
    once every sentence of a batch has produced `[end]`, so sentences per second also depend
    on how soon a model stops; ms per step does not.
    """
    for result in trained.values():
        result["decode"](result["sources"][0])  # traces the decoding loop
        result["decode"](result["singles"][0])
        result["passes"], result["latencies"] = [], []
    for _ in range(3):
        for result in trained.values():
            started, steps = time.perf_counter(), 0
            for batch in result["sources"]:
                ids = result["decode"](batch)["translation_ids"].numpy()
                # The steps decoding ran: until every sentence's [end], then only padding.
                steps += int((ids > 0).any(axis=0).sum())
            result["passes"].append((time.perf_counter() - started, steps))
    for i in range(30):
        for result in trained.values():
            one = result["singles"][i % len(result["singles"])]
            started = time.perf_counter()
            result["decode"](one)
            result["latencies"].append(time.perf_counter() - started)
    for result in trained.values():
        seconds, steps = min(result["passes"])
        sentences = sum(int(batch.shape[0]) for batch in result["sources"])
        result["throughput"] = sentences / seconds
        result["step_ms"] = 1000 * seconds / steps
        result["latency"] = 1000 * statistics.median(result["latencies"])


def _picture(variant, result, results_dir):
    """The variant's attention on SENTENCE, through the public API, from its run folder."""
    from kzoo import plot
    from kzoo.attention import attention_for

    found = attention_for(result["run_dir"], SENTENCE)
    result["translation"] = "".join(t for t in found.target_tokens if t != "[end]")
    path = plot.attention(
        found.source_tokens,
        found.target_tokens,
        found.weights,
        os.path.join(results_dir, f"attention_{variant}.png"),
        title=f"{variant} attention: {SENTENCE!r} → {result['translation']!r}",
    )
    result["picture"] = os.path.basename(path)


def run(args):
    base = tempfile.mkdtemp(prefix="kzoo-bench-attention-")
    os.makedirs(args.results_dir, exist_ok=True)
    results = {variant: _train(variant, args, base) for variant in VARIANTS}
    _measure_decoding(results)
    for variant, result in results.items():
        _picture(variant, result, args.results_dir)
    dot, additive = results["dot"], results["additive"]

    def ratio(key):
        return f"×{additive[key] / dot[key]:.2f}"

    curve = ["| epoch | dot valid loss | additive valid loss |", "| --- | --- | --- |"]
    curve += [
        f"| {epoch + 1} | {a:.4f} | {b:.4f} |"
        for epoch, (a, b) in enumerate(zip(dot["valid_loss"], additive["valid_loss"]))
    ]
    pictures = " ".join(
        f"![{variant} attention]({results[variant]['picture']})" for variant in VARIANTS
    )
    rows = [
        [
            variant,
            round(r["exact_match"], 4),
            round(r["token_accuracy"], 4),
            round(r["peak"], 4),
            round(r["epoch_s"], 1),
            round(r["epoch_cpu_s"], 1),
            round(r["throughput"], 1),
            round(r["step_ms"], 2),
            round(r["latency"], 1),
            r["params"],
        ]
        for variant, r in results.items()
    ]
    return Report(
        columns=[
            "attention",
            "test exact match",
            "token accuracy",
            "mean top weight",
            "s/epoch",
            "CPU s/epoch",
            "decode sent/s (batch 256)",
            "ms/decoding step (batch 256)",
            "ms/sentence (batch 1)",
            "params",
        ],
        rows=rows,
        notes=[
            f"Additive ÷ dot: CPU time per training epoch {ratio('epoch_cpu_s')} (wall "
            f"{ratio('epoch_s')}), time per decoding step {ratio('step_ms')}, decoding "
            f"throughput {ratio('throughput')}, batch-1 latency {ratio('latency')}. Dot "
            "attention has no weights of its own (`keras.layers.Attention`, no scale); additive "
            "adds one scale vector (`keras.layers.AdditiveAttention`), hence the small "
            "difference in parameters. The 2 CPU cores are shared with other jobs: training "
            "wall times depend on their load while each variant trained (CPU seconds less so); "
            "decoding times alternate the variants, so both saw the same load.",
            'What "additive" means here: Keras\' `AdditiveAttention` scores a query q against '
            "a key k as `sum(scale * tanh(q + k))`, without the learned projections of "
            "Bahdanau et al. (`v · tanh(W s + U h)`); both variants use the decoder's current "
            "output as the query (Luong's order), not its previous state. So the comparison is "
            "of the two Keras layers as kzoo uses them, not of the two papers' full models.",
            "Validation loss (teacher-forced cross-entropy per target token) after each epoch:\n\n"
            + "\n".join(curve),
            f"Attention on {SENTENCE!r}, greedy translation: dot → {dot['translation']!r}, "
            f"additive → {additive['translation']!r}. Rows are output characters, columns "
            "input characters (␣ is a space); the colour scale runs from 0 to the largest "
            "weight of each picture. Written with `kzoo.attention.attention_for` and "
            f"`kzoo.plot.attention`.\n\n{pictures}",
        ],
        settings={
            "mode": "quick (2 epochs, 3,000 pairs, LSTM 64, no XLA)"
            if args.quick
            else "full (recipe defaults)",
            "data": "kzoo embedded date pairs (recipe default), character level; "
            + "; ".join(dot["pairs"]),
            "epochs": f"{dot['epochs']} for both (early stopping off)",
            "seed": "0 for both (data split, shuffling, initialisation)",
            "model": "attention_seq2seq recipe: embedding "
            f"{dot['model_args']['embedding_dim']}, LSTM {dot['model_args']['latent_dim']}, "
            "Adam 2e-3, clipnorm 1, batch 64",
        },
    )

"""The dense GAN on handwritten digits: do its samples look like every digit?

Runs `python recipes/gan.py` with its defaults (scikit-learn's 1,797 digits at 28x28), then reads
the recipe's own evaluation: a logistic-regression classifier trained on the real digits labels
1,000 generated ones (seed 0). Targets: every class gets at least 5 % of them and the mean
top-class probability is at least 0.9. For scale, the same classifier gives real digits it did
not train on a mean top-class probability of about 0.97. A grid of 64 samples is written next to
the results.
"""

import json
import os
import tempfile

from benchmarks.harness import RESULTS_DIR, Report, run_script

NAME = "gan"
TITLE = "Dense GAN on handwritten digits: class coverage and confidence of a digit classifier"

MIN_SHARE, MIN_CONFIDENCE = 0.05, 0.9

# Why the targets are missed, and what was tried: printed with every full run.
EXPLANATIONS = [
    "**Reading the gaps.** The recipe's 100 epochs over 1,797 images are 2,800 steps of batch "
    "64, a short run for a dense GAN (the MNIST tutorials it follows train on 60,000 images). "
    "The generator partly drops a mode: the classifier labels only 0.4 % of the samples as 5s "
    "while 3s get 20.6 %, and the mean top-class probability of 0.84 compares with 0.97 for "
    "real digits the classifier did not train on.",
    "**What was tried:** the recipe's defaults only (Adam 2e-4, beta_1 0.5, discriminator "
    "dropout 0.3). Next steps, untried here: longer training (a 300-epoch run was started but "
    "stopped: the shared 2 cores made it take over 40 minutes), one-sided label smoothing, and "
    "minibatch discrimination or a class-conditional generator against mode dropping.",
]


def _write_grid(run_dir, path):
    import keras

    import kzoo  # noqa: F401  (registers the GAN class)
    from kzoo.training.callbacks import image_grid, save_png

    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    save_png(image_grid(model.generate(64, seed=1), columns=8), path)


def run(args):
    base = tempfile.mkdtemp(prefix="kzoo-bench-gan-")
    run_dir = os.path.join(base, "gan")
    arguments = ["--output-dir", run_dir, "--no-export"]
    if args.quick:
        arguments += ["--epochs", "10"]
    code, wall, peak = run_script("recipes/gan.py", arguments, os.path.join(base, "gan.log"))
    if code != 0:
        with open(os.path.join(base, "gan.log"), encoding="utf-8") as f:
            raise RuntimeError(f"recipes/gan.py failed:\n{f.read()[-3000:]}")
    with open(os.path.join(run_dir, "metrics.json")) as f:
        figures = json.load(f)["generated"]
    with open(os.path.join(run_dir, "config.json")) as f:
        epochs = json.load(f)["epochs"]
    results_dir = getattr(args, "results_dir", RESULTS_DIR)
    os.makedirs(results_dir, exist_ok=True)
    _write_grid(run_dir, os.path.join(results_dir, "gan_samples.png"))
    shares, confidence = figures["class_shares"], figures["mean_top_probability"]
    rows = [
        [
            "smallest class share",
            round(min(shares), 4),
            f">= {MIN_SHARE}",
            "met" if min(shares) >= MIN_SHARE else f"missed by {MIN_SHARE - min(shares):.3f}",
        ],
        [
            "mean top-class probability",
            round(confidence, 4),
            f">= {MIN_CONFIDENCE}",
            "met"
            if confidence >= MIN_CONFIDENCE
            else f"missed by {MIN_CONFIDENCE - confidence:.3f}",
        ],
    ]
    notes = [
        "Share of the 1,000 generated digits per predicted class: "
        + ", ".join(f"{digit}: {share:.3f}" for digit, share in enumerate(shares))
        + ".",
        "![64 generated digits, seed 1](gan_samples.png)",
    ]
    if not args.quick:
        notes += EXPLANATIONS
    return Report(
        columns=["figure", "value", "target", "result"],
        rows=rows,
        notes=notes,
        settings={
            "data": "scikit-learn digits, 1,797 images resized to 28x28 (the recipe's default)",
            "training": f"recipe defaults, {epochs} epochs, batch 64, seed 0",
            "recipe wall time": f"{wall:.0f} s, peak RSS {peak:.0f} MiB",
        },
    )

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

from benchmarks.harness import RESULTS_DIR, Report, run_script, table

NAME = "gan"
TITLE = "Dense GAN on handwritten digits: class coverage and confidence of a digit classifier"

MIN_SHARE, MIN_CONFIDENCE = 0.05, 0.9

# What else was tried (full mode): the same recipe with longer training and the GAN's two
# stabilisers, reported under the defaults' figures.
TRIED = [
    ("the recipe's default, seed 1", ["--seed", "1"]),
    ("the recipe's default, seed 2", ["--seed", "2"]),
    ("without the generator average", ["--set", "model_args.ema_momentum=null"]),
    (
        "without the average, 200 epochs",
        ["--epochs", "200", "--set", "model_args.ema_momentum=null"],
    ),
    (
        "earlier default: 100 epochs of batch 64, no minibatch stddev, no average",
        [
            *("--epochs", "100", "--batch-size", "64"),
            *(
                "--set",
                "model_args.minibatch_stddev=false",
                "--set",
                "model_args.ema_momentum=null",
            ),
        ],
    ),
    (
        "earlier default with minibatch stddev",
        [
            *("--epochs", "100", "--batch-size", "64"),
            *("--set", "model_args.ema_momentum=null"),
        ],
    ),
]

# How the defaults reach the targets, and what else was tried: printed with every full run.
EXPLANATIONS = [
    "**What the defaults are.** Until 2026-11-22 the recipe trained 100 epochs of batch 64 "
    "(2,800 steps): its generator dropped modes and drew unclear digits (the earlier-default "
    "row below). Three changes, each in the table without the others, reach both targets "
    "together: minibatch standard deviation in the discriminator (Karras et al., 2018; "
    "`build_gan(minibatch_stddev=True)`), which lets it see a batch that lacks variety and so "
    "lifts the rarest class; longer training, 300 epochs of batch 32 (16,800 steps), which "
    "sharpens the digits; and an exponential moving average of the generator's weights "
    "(Yazıcı et al., 2019; `ema_momentum=0.999`), which evens out class shares that otherwise "
    "swing from epoch to epoch. The margins are thin: the rows with seeds 1 and 2 show how far "
    "the same recipe moves with its seed. For scale, the same classifier gives real digits it "
    "did not train on a mean top-class probability of 0.97.",
    "**Also tried** (earlier runs of this benchmark and of the recipe, seed 0, as smallest "
    "class share / mean top-class probability): without minibatch stddev, 300 epochs of batch "
    "64: 0.008 / 0.889; with the average: 0.018 / 0.845; with the average and one-sided label "
    "smoothing 0.1 (`build_gan(label_smoothing=0.1)`): 0.004 / 0.887. With minibatch stddev "
    "at batch 32: 200 epochs with label smoothing 0.1, 0.032 / 0.880; 250 epochs, 0.051 / "
    "0.894. The default at 400 epochs (recipe runs, 16 steps per call), seeds 0 / 1 / 2: "
    "0.071 / 0.897, 0.077 / 0.905, 0.070 / 0.901: a third more training lifts the mean "
    "sharpness over the three seeds from 0.897 to 0.901 but moves the miss to seed 0, so the "
    "default stays at 300. Untried: a class-conditional or convolutional (DCGAN) generator.",
]


def _write_grid(run_dir, path):
    import keras

    import kzoo  # noqa: F401  (registers the GAN class)
    from kzoo.tasks.gan import image_grid, save_png

    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    save_png(image_grid(model.generate(64, seed=1), columns=8), path)


def _train(base, name, arguments):
    """Runs the recipe with `arguments`; returns (its run folder, figures, wall s, peak MiB)."""
    run_dir = os.path.join(base, name)
    log = os.path.join(base, f"{name}.log")
    code, wall, peak = run_script(
        "recipes/gan.py", [*arguments, "--output-dir", run_dir, "--no-export"], log
    )
    if code != 0:
        with open(log, encoding="utf-8") as f:
            raise RuntimeError(f"recipes/gan.py {' '.join(arguments)} failed:\n{f.read()[-3000:]}")
    with open(os.path.join(run_dir, "metrics.json")) as f:
        figures = json.load(f)["generated"]
    return run_dir, figures, wall, peak


def run(args):
    base = tempfile.mkdtemp(prefix="kzoo-bench-gan-")
    run_dir, figures, wall, peak = _train(base, "gan", ["--epochs", "10"] if args.quick else [])
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    settings = f"{config['epochs']} epochs, batch {config['batch_size']}, " + ", ".join(
        f"{key}={value}" for key, value in config["model_args"].items()
    )
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
        tried = [["the recipe's default", round(min(shares), 4), round(confidence, 4), round(wall)]]
        for index, (label, arguments) in enumerate(TRIED):
            _, other, other_wall, _ = _train(base, f"tried_{index}", arguments)
            tried.append(
                [
                    label,
                    round(min(other["class_shares"]), 4),
                    round(other["mean_top_probability"], 4),
                    round(other_wall),
                ]
            )
        notes.append(
            table(["run", "smallest class share", "mean top-class probability", "wall s"], tried)
        )
    return Report(
        columns=["figure", "value", "target", "result"],
        rows=rows,
        notes=notes,
        settings={
            "data": "scikit-learn digits, 1,797 images resized to 28x28 (the recipe's default)",
            "training": f"recipe defaults ({settings}), seed 0",
            "recipe wall time": f"{wall:.0f} s, peak RSS {peak:.0f} MiB",
        },
    )

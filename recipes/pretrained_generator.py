"""Fine-tune a pre-trained causal language model (`kzoo.build_pretrained_generator`).

Transfer learning for text generation from a small dataset: a keras-hub preset's pre-trained
GPT-2 (or whichever causal family the preset is) and its tokenizer, fine-tuned on local text
at Adam 5e-5, every weight or, with `--set model_args.lora_rank=8`, low-rank updates of the
attention alone (LoRA). By default the preset is keras-hub's `gpt2_base_en` (124M parameters,
downloaded from Kaggle) and the text kzoo's embedded prose. Without a network, pass a preset
directory (as keras-hub's `save_to_preset` writes one) and a text file:

    python recipes/pretrained_generator.py --preset ~/presets/gpt2_base_en \
        --train-file ../shared/data/text/tinyshakespeare.txt --sequence-length 256

The first 90 % of the text trains, the last 10 % validates (or `--valid-file`); whole lines
are packed into examples of at most `--sequence-length` tokens. The evaluation reports loss
per token and perplexity; the export's `serving_default` takes a prompt and answers the
continuation, generated in the graph with the model's sampler (`model_args.sampler`, greedy
by default).

Run:    python recipes/pretrained_generator.py --preset DIR   (same as: kzoo train
        pretrained_generator --preset DIR)
"""

import sys

from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="pretrained_generator",
    model="pretrained_generator",
    task="pretrained_language_model",
    # --- model: a keras-hub preset directory, preset name, or kaggle:// or hf:// handle ---
    preset="gpt2_base_en",
    model_args=dict(lora_rank=None, sampler="greedy"),
    # --- data ---
    dataset="embedded",
    tfds_name="tiny_shakespeare",  # used by --dataset tfds (needs a network)
    sequence_length=128,  # GPT-2 tokens per example; its own limit is 1024
    # --- training: fine-tuning, as keras-hub's GPT-2 guides do ---
    epochs=3,
    batch_size=8,
    learning_rate=5e-5,
    early_stopping_patience=1,
)


# Options that train this recipe in seconds, for tests and fault checks (with a tiny
# local preset: --preset DIR; the default one is a download).
TINY = ["--sequence-length", "16", "--steps-per-epoch", "3", "--batch-size", "4"]
TINY += ["--valid-fraction", "0.01"]


def main(argv=None, prog=None):
    config = parse_settings(SETTINGS, argv, prog=prog, description=__doc__)
    run = Run(config)
    data = run.load_data()
    model = run.build_model(data)
    run.fit(model, data)
    run.evaluate(model, data)
    run.export(model, data)


if __name__ == "__main__":
    sys.exit(run_recipe(main))

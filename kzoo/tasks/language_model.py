"""Language modelling: next-token prediction on one text, and generation from prompts.

Reads a local file, the embedded prose or a TFDS text dataset; serves prompts in,
continuations out, with every sampler of `kzoo.generate` (the same `kzoo.decoding` loop).
`--fine-tune PRESET` starts from a kzoo preset (or finished run) of the same model: its
vocabulary reads the text, tokens it lacks becoming `[UNK]`, and its weights start training.
"""

import numpy as np
import tensorflow as tf

from kzoo import validation
from kzoo.data import batching, embedded, text_files, tfds_sources, vectorization
from kzoo.decoding import SAMPLING, Decoding, warmup_with_sample
from kzoo.registry import decoder_for
from kzoo.runs import load_run
from kzoo.settings import Setting
from kzoo.signatures import (
    DEFAULT_MAX_NEW_TOKENS_LIMIT,
    TextOf,
    checked_max_new_tokens,
    checked_token_ids,
    ids_from_text,
)
from kzoo.tasks.base import Data, Task, standardize, tfds_name


class LanguageModelTask(Task):
    """Next-token prediction on one text: a local file, the embedded prose, or a TFDS dataset
    such as tiny_shakespeare. The first 90 % trains, the last 10 % validates, unless
    `--valid-file` gives the validation text."""

    held_out_files = ("valid",)  # no test split: validation loss per token is the figure

    settings = {
        "sequence_length": Setting(128, int, "window length", bounds="[1, inf)"),
        "random_offsets": Setting(
            False, bool, "cut the training windows at a new random offset each epoch"
        ),
        "fine_tune": Setting(
            None,
            str,
            "kzoo preset (folder, kaggle:// or hf:// handle) or finished run to fine-tune: its "
            "model, model_args and vocabulary replace the recipe's",
        ),
    }

    def __init__(self, config):
        super().__init__(config)
        self.preset = None  # the ServingBundle (no model) of the preset fine-tuned
        if config.get("fine_tune"):
            self.preset, settings = load_run(config["fine_tune"], load_model=False)
            self._check_preset(settings)
            # The model is the preset's: the run's settings say so (config.json, resume).
            config["model_args"] = settings["model_args"]

    def _check_preset(self, settings):
        c, path = self.config, self.config["fine_tune"]
        same = ("task", "model", "split", "standardize")
        differing = [key for key in same if settings.get(key) != c.get(key)]
        if differing:
            expected = ", ".join(f"{key}={c.get(key)}" for key in differing)
            received = ", ".join(f"{key}={settings.get(key)}" for key in differing)
            raise ValueError(
                "Invalid value for setting fine_tune. Expected a preset of this recipe's model "
                f"and text ({expected}). Received: fine_tune={path}, with {received}"
            )
        if (
            self.accepts("max_sequence_length")
            and c["sequence_length"] > settings["sequence_length"]
        ):
            raise ValueError(
                "Invalid value for setting sequence_length. Expected at most the "
                f"{settings['sequence_length']} tokens the preset's positions cover. Received: "
                f"sequence_length={c['sequence_length']}"
            )

    def pretrained_model(self):
        """The preset's model, when the run fine-tunes one."""
        if self.preset is None:
            return None
        return load_run(self.config["fine_tune"])[0].model

    def stand_in_model_args(self):
        args = {"vocabulary_size": 3}
        if self.accepts("max_sequence_length"):
            args["max_sequence_length"] = self.config["sequence_length"]
        return args

    def _text(self):
        c = self.config

        def read(paths):
            return "\n".join(text_files.read_text(p, c["encoding"]) for p in paths)

        if c["train_file"]:
            whole = read(c["train_file"])
        elif c["dataset"].startswith("embedded"):
            whole = embedded.prose_text()
        else:
            whole = tfds_sources.load_tfds_text(tfds_name(c), data_dir=c["data_dir"])
        if c["valid_file"]:
            return whole, read(c["valid_file"])
        cut = int(len(whole) * (1 - c["valid_fraction"]))
        return whole[:cut], whole[cut:]

    def _stream(self, vectorizer, whole):
        # Vectorize line by line so word tokens never straddle a chunk boundary.
        lines = whole.splitlines(keepends=True)
        ids = vectorization.vectorize(vectorizer, lines) if lines else []
        return np.concatenate(ids) if ids else np.zeros((0,), "int32")

    def load(self, global_batch_size):
        c = self.config
        train_text, valid_text = self._text()
        if self.preset is not None:
            vectorizer = self.preset.vectorizers["text"]
        else:
            vectorizer = vectorization.make_vectorizer(
                train_text.splitlines(keepends=True),
                split=c["split"],
                max_tokens=c["max_tokens"],
                standardize=standardize(c),
            )
        streams = {
            "train": self._stream(vectorizer, train_text),
            "valid": self._stream(vectorizer, valid_text),
        }
        for split, stream in streams.items():
            if len(stream) <= c["sequence_length"]:
                raise ValueError(
                    f"The {split} text has {len(stream)} tokens, too few for one window of "
                    f"sequence_length={c['sequence_length']} tokens plus the next one. Use more "
                    "text or a smaller --sequence-length."
                )
        datasets = {
            split: batching.language_model_dataset(
                stream,
                c["sequence_length"],
                global_batch_size,
                shuffle=split == "train",
                seed=c["seed"],
                random_offsets=c["random_offsets"],
            )
            for split, stream in streams.items()
        }
        model_args = {"vocabulary_size": vectorizer.vocabulary_size()}
        if self.accepts("max_sequence_length"):
            model_args["max_sequence_length"] = c["sequence_length"]
        return Data(
            train=datasets["train"],
            valid=datasets["valid"],
            model_args=model_args,
            vectorizers={"text": vectorizer},
            raw={"train": train_text, "valid": valid_text},
            examples=[line[:40] for line in valid_text.splitlines() if line.strip()][:3],
            summary=[
                *(
                    f"{split}: {len(text)} characters, {len(streams[split])} tokens, "
                    f"{unknown_count(streams[split])} [UNK]"
                    for split, text in (("train", train_text), ("valid", valid_text))
                ),
                f"vocabulary: {vectorizer.vocabulary_size()} tokens ({c['split']})"
                + (f", the preset's ({c['fine_tune']})" if self.preset is not None else ""),
            ],
        )

    def evaluate(self, model, data):
        results = super().evaluate(model, data)
        for figures in results.values():
            # Loss is nats per token; bits per token is the char-rnn literature's unit.
            if "loss" in figures:
                figures["bits_per_token"] = figures["loss"] / np.log(2)
        return results

    # === Serving: prompts in, continuations out ===

    @classmethod
    def endpoints(cls, bundle):
        """`serving_default`: `prompt` [-1] string → `text` [-1] string, the greedy
        continuation; `sample`: the same with any sampler of `kzoo.generate` (`max_new_tokens`,
        `sampler`, `temperature`, `top_k`, `top_p`, `num_beams`, `seed`); `token_ids`:
        `prompt_ids`, `max_new_tokens` → `token_ids`, greedy."""
        vectorizer = bundle.vectorizers["text"]
        decoding = Decoding(decoder_for(bundle.model), vectorization.vocabulary(vectorizer))
        limit = max_new_tokens_limit(bundle, decoding)
        text_of = TextOf(vectorizer, bundle.split)

        def continue_greedily(prompt_ids, max_new_tokens):
            return decoding.for_sampler("greedy")(
                prompt_ids, max_new_tokens, "greedy", 1.0, 0, 1.0, 1, tf.constant(0, tf.int64)
            )

        def prompt_ids_of(prompt):
            return ids_from_text(vectorizer, prompt, empty_as_unknown=False)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="prompt")])
        def serve_prompt(prompt):
            ids = continue_greedily(prompt_ids_of(prompt), tf.constant(bundle.max_new_tokens))
            return {"text": text_of(ids)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="prompt"), *SAMPLING])
        def serve_sample(
            prompt, max_new_tokens, sampler, temperature, top_k, top_p, num_beams, seed
        ):
            max_new_tokens = checked_max_new_tokens(max_new_tokens, limit)
            ids = decoding.generate(
                prompt_ids_of(prompt),
                max_new_tokens,
                sampler,
                temperature,
                top_k,
                top_p,
                num_beams,
                seed,
            )
            return {"text": text_of(ids)}

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None], tf.int32, name="prompt_ids"),
                tf.TensorSpec([], tf.int32, name="max_new_tokens"),
            ]
        )
        def serve_token_ids(prompt_ids, max_new_tokens):
            prompt_ids = checked_token_ids(prompt_ids, decoding.vocabulary_size, "prompt_ids")
            max_new_tokens = checked_max_new_tokens(max_new_tokens, limit)
            return {"token_ids": continue_greedily(prompt_ids, max_new_tokens)}

        return {
            "serving_default": serve_prompt,
            "sample": serve_sample,
            "token_ids": serve_token_ids,
        }

    @classmethod
    def warmup_inputs(cls, bundle):
        examples = [str(x) for x in bundle.examples[:3]] or ["hello"]
        return {"prompt": np.array(examples, dtype=object)}

    @classmethod
    def warmup_requests(cls, bundle):
        return warmup_with_sample(cls.warmup_inputs(bundle))


def unknown_count(stream):
    """How many tokens of a stream of ids are `[UNK]` (id 1): the vocabulary lacks them."""
    return int(np.count_nonzero(stream == 1))


def max_new_tokens_limit(bundle, decoding):
    """The most tokens one request may ask for: set at export, else the GPT's context, else
    `DEFAULT_MAX_NEW_TOKENS_LIMIT`."""
    limit = bundle.max_new_tokens_limit
    if limit is None:
        limit = decoding.decoder.context or DEFAULT_MAX_NEW_TOKENS_LIMIT
    return validation.positive_int("max_new_tokens_limit", limit)

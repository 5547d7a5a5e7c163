"""Fine-tuning a pre-trained causal language model (a keras-hub preset such as GPT-2) on raw
text: prompts in, continuations out.

It reads the text `language_model` reads (local files, the embedded prose, a TFDS dataset), but
adapts no vocabulary: the preset's tokenizer reads it. Whole lines are packed into examples of
at most `--sequence-length` tokens, start and end tokens included; the model's preprocessor
tokenizes them, and the loss is per token of that tokenizer (perplexity: its exponential).
The SavedModel's `serving_default` generates in the graph, with the model's sampler, which
keras-hub's own export cannot do (keras-hub#2330).
"""

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from kzoo.data import batching
from kzoo.models.pretrained import build_pretrained_generator, resolve_preset
from kzoo.settings import Setting
from kzoo.tasks.base import Data
from kzoo.tasks.language_model import LanguageModelTask


class PretrainedLanguageModelTask(LanguageModelTask):
    """Language modelling for a model with its own tokenizer (`build_pretrained_generator`)."""

    settings = {
        "sequence_length": Setting(
            128, int, "tokens per example, the start and end tokens included", bounds="[3, inf)"
        ),
        "preset": Setting(
            None,
            str,
            "keras-hub causal language model preset: a local preset directory, or a preset "
            "name or kaggle:// or hf:// handle (these download)",
        ),
    }

    @classmethod
    def model_factory(cls, model_name):
        # Built from a preset, so in no registry of models built from nothing.
        return build_pretrained_generator

    def stand_in_model_args(self):
        return None  # building means loading the preset, which checks itself

    def compile(self, model, optimizer, **compile_args):
        """Keeps the factory's loss, its metrics weighted by the padding mask, and its
        sampler."""
        compiled = model.get_compile_config()
        model.compile(
            optimizer=optimizer,
            loss=keras.saving.deserialize_keras_object(compiled["loss"]),
            weighted_metrics=keras.saving.deserialize_keras_object(compiled["weighted_metrics"]),
            sampler=model.sampler,
            **compile_args,
        )
        return model

    def _examples(self, tokenizer, text):
        """`text`'s lines packed, in order, into examples of at most `sequence_length - 2`
        tokens (a longer line is one example, which the preprocessor truncates); and the
        number of tokens."""
        lines = text.splitlines(keepends=True)
        if not lines:
            return [], 0
        lengths = np.array([len(ids) for ids in tokenizer(lines)])
        budget = self.config["sequence_length"] - 2
        examples, current, used = [], [], 0
        for line, length in zip(lines, lengths):
            if current and used + length > budget:
                examples.append("".join(current))
                current, used = [], 0
            current.append(line)
            used += length
        examples.append("".join(current))
        return examples, int(lengths.sum())

    def load(self, global_batch_size):
        c = self.config
        train_text, valid_text = self._text()
        tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(resolve_preset(c["preset"]))
        splits, summary = {}, []
        for split, text in (("train", train_text), ("valid", valid_text)):
            examples, tokens = self._examples(tokenizer, text)
            if not examples:
                raise ValueError(f"The {split} text is empty. Use more text.")
            splits[split] = examples
            summary.append(
                f"{split}: {len(text)} characters, {tokens} tokens, {len(examples)} examples"
            )
        datasets = {
            split: batching.array_dataset(
                np.array(examples, dtype=object),
                batch_size=global_batch_size,
                shuffle=split == "train",
                seed=c["seed"],
            )
            for split, examples in splits.items()
        }
        return Data(
            train=datasets["train"],
            valid=datasets["valid"],
            model_args={"preset": c["preset"], "sequence_length": c["sequence_length"]},
            raw={"train": train_text, "valid": valid_text},
            examples=[line[:40] for line in valid_text.splitlines() if line.strip()][:3],
            summary=summary
            + [f"preset: {c['preset']} (its own tokenizer, {tokenizer.vocabulary_size()} tokens)"],
        )

    def evaluate(self, model, data):
        results = super().evaluate(model, data)
        for figures in results.values():
            if "loss" in figures:
                figures["perplexity"] = float(np.exp(figures["loss"]))
        return results

    # === Serving: prompts in, continuations out ===

    @classmethod
    def ready_model(cls, bundle):
        """The keras-hub model itself, with its run's sampler: `generate` takes raw prompts."""
        return _with_sampler(bundle)

    @classmethod
    def endpoints(cls, bundle):
        """`serving_default`: `prompt` [-1] string → `text` [-1] string, the continuation the
        model's sampler generates, up to its preprocessor's sequence length (prompt included)
        or its end token."""
        model = _with_sampler(bundle)
        preprocessor = model.preprocessor
        end = preprocessor.tokenizer.end_token_id

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="prompt")])
        def serve_prompt(prompt):
            inputs = preprocessor.generate_preprocess(prompt)
            outputs = model.generate_step(inputs, stop_token_ids=[end])
            # The new tokens alone, up to the end token (keras-hub's own postprocessing
            # converts to NumPy, which a graph cannot).
            ids = outputs["token_ids"]
            new = outputs["padding_mask"] & ~inputs["padding_mask"] & (ids != end)
            return {"text": preprocessor.tokenizer.detokenize(tf.ragged.boolean_mask(ids, new))}

        return {"serving_default": serve_prompt}

    @classmethod
    def warmup_requests(cls, bundle):
        return {"serving_default": cls.warmup_inputs(bundle)}  # its only signature

    @classmethod
    def reference_outputs(cls, bundle, inputs, functions):
        """`serving_default` on `inputs` before it is saved. A random sampler's seed state is
        put back afterwards, so that the SavedModel, saved with it, answers its first request
        with the same draws."""
        variables = bundle.model.sampler.variables
        states = [variable.numpy() for variable in variables]
        try:
            return super().reference_outputs(bundle, inputs, functions)
        finally:
            for variable, state in zip(variables, states):
                variable.assign(state)


def _with_sampler(bundle):
    """The bundle's model, generating with the bundle's sampler (a saved keras-hub model
    comes back with keras-hub's default, top-k)."""
    model = bundle.model
    if bundle.sampler is not None:
        model.sampler, model.generate_function = keras_hub.samplers.get(bundle.sampler), None
    return model

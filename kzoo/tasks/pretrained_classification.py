"""Fine-tuning a pre-trained text classifier (a keras-hub preset): raw strings in, the model
tokenizes.

It reads the data `classification` reads (`<label> <text>` lines, CSV/TSV columns, one file
per label, the embedded corpora, a TFDS dataset), but adapts no vocabulary: a keras-hub
classifier brings its own tokenizer and preprocessor, so the pipelines yield batches of
`(raw text, label id)`. The model arguments it decides are the preset (`--preset`), the number
of classes and the sequence length (`--max-length`).
"""

import numpy as np
import tensorflow as tf

from kzoo.data import batching
from kzoo.models.pretrained import build_pretrained_classifier
from kzoo.settings import Setting
from kzoo.tasks.base import Data
from kzoo.tasks.classification import ClassificationTask


class PretrainedClassificationTask(ClassificationTask):
    """Classification for a model with its own preprocessor (`build_pretrained_classifier`)."""

    settings = {
        **ClassificationTask.settings,
        "preset": Setting(
            None,
            str,
            "keras-hub preset: a local preset directory, or a preset name or kaggle:// or hf:// "
            "handle (these download)",
        ),
    }

    @classmethod
    def model_factory(cls, model_name):
        # Built from a preset, so in no registry of models built from nothing.
        return build_pretrained_classifier

    def stand_in_model_args(self):
        return None  # building means loading the preset, which checks itself

    def load(self, global_batch_size):
        c = self.config
        splits, class_names, label_ids = self._labeled_splits()
        datasets = {
            split: batching.array_dataset(
                np.array(list(texts), dtype=object),
                np.array([label_ids[label] for label in labels], dtype="int32"),
                batch_size=global_batch_size,
                shuffle=split == "train",
                seed=c["seed"],
            )
            for split, (texts, labels) in splits.items()
        }
        model_args = {"preset": c["preset"], "num_classes": len(class_names)}
        if c["max_length"]:
            model_args["sequence_length"] = c["max_length"]
        return Data(
            train=datasets["train"],
            valid=datasets.get("valid"),
            test=datasets.get("test"),
            model_args=model_args,
            class_names=class_names,
            raw=splits,
            examples=list(splits["valid"][0][:3]),
            max_length=c["max_length"],
            lines_left_out=dict(self.lines_left_out),
            summary=self._summary(splits)
            + [f"classes: {class_names}", f"preset: {c['preset']} (its own tokenizer)"],
        )

    @classmethod
    def ready_model(cls, bundle):
        """The keras-hub classifier itself: its preprocessor already takes raw strings."""
        return bundle.model

    @classmethod
    def endpoints(cls, bundle):
        """`serving_default`: `text` [-1] string → `scores`, `label`, `label_id`, as for
        classifiers; the model's own preprocessor, tracked with it, tokenizes."""
        model = bundle.model
        class_names = tf.constant(bundle.class_names)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve_text(text):
            probabilities = tf.cast(model(model.preprocessor(text), training=False), tf.float32)
            label_id = tf.argmax(probabilities, axis=-1)
            return {
                "scores": probabilities,
                "label": tf.gather(class_names, label_id),
                "label_id": label_id,
            }

        return {"serving_default": serve_text}

    @classmethod
    def reference_outputs(cls, bundle, inputs, functions):
        return super(ClassificationTask, cls).reference_outputs(bundle, inputs, functions)

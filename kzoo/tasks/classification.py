"""Text classification: sentences or documents in, one class out.

Reads `<label> <text>` lines, CSV/TSV columns, one file per label, the embedded sentiment or
question corpus, or a TFDS dataset; serves raw text in, class probabilities and names out.
"""

import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from kzoo.data import (
    batching,
    classification_files,
    embedded,
    tfds_sources,
    vectorization,
)
from kzoo.embeddings import WordVectors
from kzoo.registry import entry_for
from kzoo.settings import Setting
from kzoo.signatures import checked_token_ids, ids_from_text
from kzoo.tasks import word2vec
from kzoo.tasks.base import (
    Data,
    Task,
    embedded_name,
    hold_out,
    local_splits,
    read_held_out_files,
    standardize,
    tfds_name,
    with_validation,
)


def _declared_labels(config):
    """The `labels` setting as a list of class names (`--labels neg,pos`, or repeated), or
    None when it is not set."""
    names = config["labels"]
    if not names:
        return None
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(
            "Invalid value for setting labels. Expected at least two distinct class names, "
            f"e.g. --labels neg,pos. Received: labels={','.join(names)}"
        )
    return names


def _check_training_classes(labels, where, declared=None, files=False):
    """Refuses a training split a classifier cannot learn from: no example, one class, or
    no example of a declared class. `where` names the files or the dataset."""
    unit = "lines" if files else "examples"
    if not labels:
        raise ValueError(f"{where} has 0 examples.")
    found = set(labels)
    if len(found) == 1:
        advice = "; for one file per label, give one --train-file per label" if files else ""
        raise ValueError(
            f"{where} has one class, {labels[0]!r}, in {len(labels)} {unit}: a classifier "
            f"needs at least two{advice}."
        )
    absent = [name for name in declared or () if name not in found]
    if absent:
        raise ValueError(
            f"{where} has no example of {' or '.join(map(repr, absent))}, declared by "
            "--labels: a class without training examples cannot be learned. Check the file, "
            "or leave the class out of --labels."
        )


class ClassificationTask(Task):
    """Text classification: `<label> <text>` lines, CSV/TSV columns, one file per label,
    the embedded sentiment or question corpus, or a TFDS dataset such as imdb_reviews.

    Labels are checked before anything is adapted (`kzoo.data.load_classification_files`
    says what a bad line and a rare label are): the training split needs two classes or
    more, `--labels` fixes the classes and their order, and `--on-bad-lines warn|skip`
    leaves bad lines out, counted in the run log and `metrics.json`.
    """

    settings = {
        "labels": Setting(
            [],
            "names",
            "the class names of local classification files, in class-id order, e.g. --labels "
            "neg,pos (a label not among them is a bad line; default: the training file's, "
            "sorted)",
        ),
        "on_bad_lines": Setting(
            "error",
            str,
            "a bad line of a classification file (a label and no text, a CSV/TSV row without "
            "its fields, a label --labels does not declare): error, or leave it out with a "
            "warning (warn) or silently (skip)",
            ("error", "warn", "skip"),
        ),
        "word_vectors": Setting(
            None,
            str,
            "pre-trained word vectors the model's embedding starts from: a word2vec text or "
            "binary file, a GloVe text file (.gz read directly) or a word2vec run folder; "
            "words they lack start uniform in [-0.25, 0.25] (Kim 2014). Frozen with --set "
            "model_args.trainable_embeddings=false (CNN-static)",
        ),
        # The word2vec classifier's skip-gram pretraining (`kzoo.tasks.word2vec.pretrain`).
        **word2vec.SKIPGRAM_SETTINGS,
        "word2vec_epochs": Setting(
            5, int, "skip-gram pretraining epochs (word2vec classifier)", bounds="[1, inf)"
        ),
        "word2vec_xla": Setting(
            True, bool, "compile skip-gram pretraining with XLA (word2vec classifier)"
        ),
    }

    def __init__(self, config):
        super().__init__(config)
        path = config.get("word_vectors")
        if path and not self.accepts("embeddings"):
            raise ValueError(
                "Invalid value for setting word_vectors. Expected no word vectors for model "
                f"{config['model']}, which takes no embeddings. Received: word_vectors={path}"
            )
        if path and not os.path.exists(path):
            raise ValueError(
                "Invalid value for setting word_vectors. Expected a word vector file or a "
                f"word2vec run folder; the path does not exist. Received: word_vectors={path}"
            )

    def stand_in_model_args(self):
        args = {"vocabulary_size": 3, "num_classes": 2}
        if self.accepts("max_sequence_length"):
            args["max_sequence_length"] = self.config["max_length"] or 8
        return args

    def _raw_splits(self):
        c = self.config
        declared = _declared_labels(c)
        self.lines_left_out, self.bad_line_warnings = {}, []
        splits = {}
        if c["train_file"]:
            splits = local_splits(c, self._read_files)
            class_names = declared or sorted(set(splits["train"][1]))
        elif declared:
            raise ValueError(
                f"Invalid value for setting labels. Expected no labels with dataset="
                f"{c['dataset']}, whose classes are its own: --labels declares the classes of "
                f"--train-file files. Received: labels={','.join(declared)}"
            )
        elif c["dataset"].startswith("embedded"):
            corpora = {
                "sentiment": embedded.sentiment_corpus,
                "questions": embedded.question_corpus,
            }
            name = embedded_name(c["dataset"], "sentiment", corpora)
            kwargs = {"seed": c["seed"]}
            if c["num_examples"]:
                kwargs["num_examples"] = c["num_examples"]
            texts, labels, class_names = corpora[name](**kwargs)
            labels = [class_names[i] for i in labels]
            _check_training_classes(labels, f"embedded:{name}")
            (train, test) = hold_out([texts, labels], 0.1, c["seed"])
            splits = {"train": tuple(train), "test": tuple(test)}
        else:
            texts, labels, class_names = tfds_sources.load_tfds_classification(
                tfds_name(c), split="train", data_dir=c["data_dir"]
            )
            splits["train"] = (texts, [class_names[i] for i in labels])
            _check_training_classes(
                splits["train"][1], f"TFDS dataset {tfds_name(c)} (train split)"
            )
            try:
                texts, labels, _ = tfds_sources.load_tfds_classification(
                    tfds_name(c), split="test", data_dir=c["data_dir"]
                )
                splits["test"] = (texts, [class_names[i] for i in labels])
            except ValueError:
                pass  # no test split: evaluate on validation only
        if not c["train_file"]:  # local files for the corpus's held-out splits
            read_held_out_files(splits, c, self._read_files)
        return with_validation(splits, c), list(class_names)

    def _labeled_splits(self):
        """(splits, class names, {class name: id}); every split's labels must be training's."""
        splits, class_names = self._raw_splits()
        label_ids = {name: i for i, name in enumerate(class_names)}
        for split, (_, labels) in splits.items():
            unknown = sorted(set(labels) - set(label_ids))
            if unknown:
                raise ValueError(
                    f"The {split} split has labels the training split lacks: {unknown[:5]}. "
                    f"Training labels: {class_names}."
                )
        return splits, class_names, label_ids

    def _read_files(self, paths, split):
        """Reads one split's files; the training files' labels are checked as a whole."""
        c = self.config
        declared = _declared_labels(c)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", classification_files.BadLinesWarning)
            texts, labels = result = classification_files.load_classification_files(
                paths,
                encoding=c["encoding"],
                text_column=c["text_column"],
                label_column=c["label_column"],
                labels=declared,
                on_bad_lines=c["on_bad_lines"],
                check_rare_labels=split == "train",
            )
        for warning in caught:  # the bad-line warnings go to the run log, others as usual
            if issubclass(warning.category, classification_files.BadLinesWarning):
                self.bad_line_warnings.append(str(warning.message))
            else:
                warnings.showwarning(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        if c["on_bad_lines"] != "error":
            self.lines_left_out[split] = result.lines_left_out
        if split == "train":
            _check_training_classes(labels, ", ".join(paths), declared, files=True)
        return texts, labels

    def _summary(self, splits):
        """The log's lines on the splits: sizes, and the bad lines left out of their files."""
        lines = []
        for split in ("train", "valid", "test"):
            if split in splits:
                line = f"{split}: {len(splits[split][0])} examples"
                if split in self.lines_left_out:
                    count = self.lines_left_out[split]
                    line += f", {count} bad line{'s' * (count != 1)} left out of its files"
                lines.append(line)
        return lines + self.bad_line_warnings

    def evaluate(self, model, data):
        """Adds, with `--on-bad-lines warn|skip`, the bad lines left out of each split's
        files as its `lines_left_out`."""
        results = super().evaluate(model, data)
        for split, count in data.lines_left_out.items():
            results.setdefault(split, {})["lines_left_out"] = count
        return results

    def load(self, global_batch_size):
        c = self.config
        splits, class_names, label_ids = self._labeled_splits()
        vectorizer = vectorization.make_vectorizer(
            splits["train"][0],
            split=c["split"],
            max_tokens=c["max_tokens"],
            standardize=standardize(c),
        )
        ids = {
            s: vectorization.vectorize(vectorizer, texts, c["max_length"])
            for s, (texts, _) in splits.items()
        }
        boundaries = None
        if c["num_buckets"]:
            boundaries = batching.bucket_boundaries(
                [len(x) for x in ids["train"]], c["num_buckets"]
            )
        longest = max(len(x) for x in ids["train"])
        limit = boundaries[-1] - 1 if boundaries else longest
        datasets = {}
        for split, sequences in ids.items():
            sequences = [x[:limit] for x in sequences]
            labels = [label_ids[label] for label in splits[split][1]]
            datasets[split] = batching.classification_dataset(
                sequences,
                labels,
                global_batch_size,
                boundaries=boundaries,
                shuffle=split == "train",
                seed=c["seed"],
            )
        model_args = {
            "vocabulary_size": vectorizer.vocabulary_size(),
            "num_classes": len(class_names),
        }
        if self.accepts("max_sequence_length"):
            model_args["max_sequence_length"] = limit
        summary = self._summary(splits)
        if c["word_vectors"]:
            model_args["embeddings"], line = self._word_vectors(vectorizer)
            summary.append(line)
        return Data(
            train=datasets["train"],
            valid=datasets.get("valid"),
            test=datasets.get("test"),
            model_args=model_args,
            vectorizers={"text": vectorizer},
            class_names=class_names,
            raw={**splits, "train_ids": ids["train"]},
            examples=list(splits["valid"][0][:3]),
            max_length=limit,
            lines_left_out=dict(self.lines_left_out),
            summary=summary
            + [f"classes: {class_names}", f"vocabulary: {vectorizer.vocabulary_size()} tokens"],
        )

    def _word_vectors(self, vectorizer):
        """The `word_vectors` file's vectors laid out for the vocabulary (its words only are
        kept while reading), and the log's line on how many words it covers."""
        path = self.config["word_vectors"]
        tokens = vectorization.vocabulary(vectorizer)
        vectors = WordVectors.load(path, words=tokens)
        dim, asked = vectors.vectors.shape[1], self.config["model_args"].get("embedding_dim")
        if asked is not None and asked != dim:
            raise ValueError(
                f"Invalid value for setting word_vectors. Expected {asked}-dimensional vectors, "
                f"as model_args.embedding_dim={asked}. Received: {dim}-dimensional vectors in "
                f"{path} (--set model_args.embedding_dim={dim} takes them)"
            )
        found = sum(token in vectors for token in tokens[2:])
        aligned = vectors.aligned_to(tokens, seed=self.config["seed"])
        return aligned.vectors, (
            f"word vectors: {found} of the vocabulary's {len(tokens) - 2} words in {path} "
            f"({aligned.vectors.shape[1]} dimensions); the other "
            f"{len(tokens) - 2 - found} start uniform in [-0.25, 0.25]"
        )

    # === Serving: raw text in, class probabilities and names out ===

    @classmethod
    def ready_model(cls, bundle):
        """A `RawTextClassifier`: raw strings in, class probabilities out."""
        return RawTextClassifier(
            bundle.model,
            bundle.vectorizers["text"],
            bundle.class_names,
            max_length=served_length(bundle.model, bundle.max_length),
        )

    @classmethod
    def endpoints(cls, bundle):
        """`serving_default`: `text` [-1] string → `scores` [-1, classes], `label` [-1] string,
        `label_id` [-1]; `token_ids`: the same from token ids."""
        model, vectorizer = bundle.model, bundle.vectorizers["text"]
        class_names = tf.constant(bundle.class_names)
        vocabulary_size = len(vectorization.vocabulary(vectorizer))
        max_length = served_length(model, bundle.max_length)

        def classify(token_ids):
            probabilities = class_probabilities(model, token_ids)
            label_id = tf.argmax(probabilities, axis=-1)
            return {
                "scores": probabilities,
                "label": tf.gather(class_names, label_id),
                "label_id": label_id,
            }

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve_text(text):
            return classify(ids_from_text(vectorizer, text, max_length))

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="token_ids")])
        def serve_token_ids(token_ids):
            token_ids = checked_token_ids(token_ids, vocabulary_size, "token_ids")
            if max_length:
                token_ids = token_ids[:, :max_length]
            return classify(token_ids)

        return {"serving_default": serve_text, "token_ids": serve_token_ids}

    @classmethod
    def reference_outputs(cls, bundle, inputs, functions):
        """The training pipeline itself (vectorize in Python, then `model.predict`), so the
        in-graph text handling must match it."""
        texts = [str(t) for t in inputs["text"]]
        probabilities = predict_texts(
            bundle.model, bundle.vectorizers["text"], texts, bundle.max_length, verbose=0
        )
        label_id = probabilities.argmax(-1)
        return {
            "scores": probabilities,
            "label_id": label_id,
            "label": np.array([bundle.class_names[i] for i in label_id], dtype=object),
        }


def predict_texts(classifier, vectorizer, texts, max_length=None, **predict_args):
    """The classifier's probabilities of every class for raw texts, as training reads them:
    vectorized in Python, padded, then `classifier.predict` (on every Keras backend); a sigmoid
    unit's P(class 1) becomes the pair (P(class 0), P(class 1))."""
    ids = vectorization.vectorize(vectorizer, texts, max_length)
    width = max(len(row) for row in ids)
    batch = np.stack([np.pad(row, (0, width - len(row))) for row in ids])
    probabilities = classifier.predict(batch, **predict_args).astype("float32")
    if probabilities.shape[-1] == 1:
        probabilities = np.concatenate([1.0 - probabilities, probabilities], axis=-1)
    return probabilities


def served_length(model, max_length):
    """The most tokens a served classifier reads: the run's `max_length`, and no more than a
    position embedding covers."""
    limit = entry_for(model).input_limit
    if limit is not None:
        max_length = min(max_length or limit(model), limit(model))
    return max_length


def class_probabilities(model, token_ids):
    """The classifier's probabilities of every class, float32 `[batch, classes]`: a sigmoid
    unit's P(class 1) becomes the pair (P(class 0), P(class 1))."""
    probabilities = tf.cast(model(token_ids, training=False), tf.float32)
    if probabilities.shape[-1] == 1:
        probabilities = tf.concat([1.0 - probabilities, probabilities], axis=-1)
    return probabilities


@keras.saving.register_keras_serializable(package="kzoo")
class RawTextClassifier(keras.Model):
    """A trained kzoo classifier with its vectorizer: raw strings in, the probability of every
    class out, as `kzoo.from_preset` returns a classifier.

    Texts are vectorized as in training (and as the exported SavedModel does): standardized,
    split, truncated to `max_length` tokens; a text without a known word reads as `[UNK]`.
    `predict` also takes a list of str. On JAX and PyTorch, which hold no strings, `predict`
    vectorizes the texts before the classifier (with the same ids) instead of in its call.

    Args:
        classifier: a kzoo classifier (token ids in).
        vectorizer: its adapted `TextVectorization`.
        class_names: list of str, by class id.
        max_length: int or `None`. Most tokens read per text.

    Example:

    >>> import kzoo
    >>> from kzoo.data import vectorization
    >>> vectorizer = vectorization.make_vectorizer(["a fine film", "a dull plot"])
    >>> classifier = kzoo.build_cnn_sentiment(
    ...     vocabulary_size=vectorizer.vocabulary_size(), embedding_dim=4, filters=2)
    >>> model = RawTextClassifier(classifier, vectorizer, ["neg", "pos"])
    >>> model.predict(["a fine film", "words it never saw"], verbose=0).shape
    (2, 2)
    """

    def __init__(self, classifier, vectorizer, class_names, max_length=None, **kwargs):
        super().__init__(**kwargs)
        self.classifier, self.vectorizer = classifier, vectorizer
        self.class_names, self.max_length = list(class_names), max_length

    def call(self, texts):
        return class_probabilities(
            self.classifier, ids_from_text(self.vectorizer, texts, self.max_length)
        )

    def predict(self, x, batch_size=None, **kwargs):
        """`keras.Model.predict`, which also takes a str or a list of str."""
        if isinstance(x, str):
            x = [x]
        if isinstance(x, (list, tuple, np.ndarray)):
            texts = [str(text) for text in x]
            if keras.backend.backend() != "tensorflow":
                return predict_texts(
                    self.classifier,
                    self.vectorizer,
                    texts,
                    self.max_length,
                    batch_size=batch_size,
                    **kwargs,
                )
            x = tf.data.Dataset.from_tensor_slices(tf.constant(texts)).batch(batch_size or 32)
        return super().predict(x, **kwargs)

    def get_config(self):
        return {
            **super().get_config(),
            "classifier": keras.saving.serialize_keras_object(self.classifier),
            "vectorizer": keras.saving.serialize_keras_object(self.vectorizer),
            "class_names": self.class_names,
            "max_length": self.max_length,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("classifier", "vectorizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

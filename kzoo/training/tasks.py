"""What differs between kinds of training: data, model arguments, callbacks and evaluation.

Each task turns resolved settings into `Data`: raw examples from local files, the embedded
default or TFDS; the vectorizers adapted on the training split; `tf.data` pipelines; the model
arguments the data decides (vocabulary sizes, classes, lengths); and it evaluates a trained
model. `kzoo.training.runner.Run` drives a task through the same flow for every recipe.
"""

import abc
import dataclasses
import warnings
from typing import Any

import numpy as np
import tensorflow as tf

from kzoo.data import (
    batching,
    classification_files,
    embedded,
    image_files,
    parallel_text,
    skipgram,
    text_files,
    tfds_sources,
    vectorization,
)
from kzoo.training import callbacks as kzoo_callbacks
from kzoo.training import multi_worker


@dataclasses.dataclass
class Data:
    """Everything a run needs from its data.

    Attributes:
        train, valid, test: `tf.data.Dataset`s of global batches (valid and test may be None).
        model_args: model factory arguments that follow from the data.
        vectorizers: adapted `TextVectorization` layers by role ("text", "source", "target").
        class_names: class names, for classifiers.
        raw: the raw splits, for evaluation and samples.
        summary: one line per split describing its size, for the log.
        examples: a few raw inputs (texts, prompts, words) for the export's warm-up requests.
        max_length: the longest input, in tokens, the pipelines keep (serving truncates alike).
        lines_left_out: bad lines left out of each split's files ({split: count}), when
            classification files are read with `--on-bad-lines warn` or `skip`.
    """

    train: Any
    valid: Any = None
    test: Any = None
    model_args: dict = dataclasses.field(default_factory=dict)
    vectorizers: dict = dataclasses.field(default_factory=dict)
    class_names: list = None
    raw: dict = dataclasses.field(default_factory=dict)
    summary: list = dataclasses.field(default_factory=list)
    examples: list = dataclasses.field(default_factory=list)
    max_length: int = None
    lines_left_out: dict = dataclasses.field(default_factory=dict)


def _tfds_name(config):
    """The TFDS dataset a run asks for: `--dataset tfds` means the recipe's `tfds_name`."""
    if config["dataset"] == "tfds":
        if not config["tfds_name"]:
            raise ValueError(
                "Invalid value for setting dataset. Expected a TFDS name, as this recipe names "
                "no TFDS default. Received: dataset=tfds"
            )
        return config["tfds_name"]
    return config["dataset"]


def _embedded_name(dataset, default):
    name = dataset.partition(":")[2] or default
    return name


def _hold_out(items, fraction, seed, block=0):
    """Splits parallel lists into (kept, held out) by a seeded shuffle.

    The held-out part is block `block` of the shuffle, each `fraction` long: blocks 0, 1, ...
    of one seed are the folds of a cross-validation.
    """
    count = len(items[0])
    order = np.random.default_rng(seed).permutation(count)
    cut = int(round(count * fraction))
    held = order[block * cut : (block + 1) * cut]
    kept = np.concatenate([order[: block * cut], order[(block + 1) * cut :]])
    return [[column[i] for i in kept] for column in items], [
        [column[i] for i in held] for column in items
    ]


def _local_splits(config, read):
    """Reads the `--train-file`, `--valid-file` and `--test-file` paths given, with
    `read(paths, split)`."""
    splits = {"train": read(config["train_file"], "train")}
    for split in ("valid", "test"):
        if config[f"{split}_file"]:
            splits[split] = read(config[f"{split}_file"], split)
    if "test" not in splits and config.get("test_fraction"):
        # A seeded test split for datasets that ship none (MR); validation is then held out of
        # what remains, with another seed.
        fraction, fold = config["test_fraction"], config.get("test_fold", 0)
        folds = int(1 / fraction + 1e-9)
        if not 0 <= fold < folds:
            raise ValueError(
                f"Invalid value for setting test_fold. Expected an integer in [0, {folds}) for "
                f"test_fraction={fraction}. Received: test_fold={fold}"
            )
        kept, held = _hold_out(list(splits["train"]), fraction, config["seed"], block=fold)
        splits["train"], splits["test"] = tuple(kept), tuple(held)
    return splits


def _with_validation(splits, config):
    """Holds out `valid_fraction` of the training split when no validation split was given."""
    if "valid" not in splits:
        kept, held = _hold_out(list(splits["train"]), config["valid_fraction"], config["seed"] + 1)
        splits["train"], splits["valid"] = tuple(kept), tuple(held)
    return splits


def _standardize(config):
    return None if config["standardize"] == "none" else config["standardize"]


def _accepts(model_name, argument):
    from kzoo.training.config import model_arg_kinds

    return argument in model_arg_kinds(model_name)


class Task(abc.ABC):
    """Base class: `load` builds `Data`; `callbacks` and `evaluate` add task-specific work."""

    # What "best" means for checkpoints and early stopping; None when no metric says it.
    monitor = "val_loss"

    def __init__(self, config):
        self.config = config

    def stand_in_model_args(self):
        """Small stand-ins for the model arguments `load` takes from the data.

        The runner builds the model once with them before reading any data, so that the
        model's own checks of the recipe's arguments (`units=-3`, `rnn="transformer"`) fail at
        once; `None` skips that check (a model whose build is itself expensive).
        """
        return {"vocabulary_size": 3}

    @abc.abstractmethod
    def load(self, global_batch_size):
        """Returns `Data` with pipelines batched at `global_batch_size`."""

    def callbacks(self, model, data, log_dir):
        return []

    def evaluate(self, model, data):
        """Returns {split: {metric: value}} for the validation and test splits."""
        results = {}
        for split in ("valid", "test"):
            dataset = getattr(data, split)
            if dataset is not None:
                results[split] = multi_worker.evaluate(model, dataset, verbose=0, return_dict=True)
        return results


# === Classification ===


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

    def stand_in_model_args(self):
        args = {"vocabulary_size": 3, "num_classes": 2}
        if _accepts(self.config["model"], "max_sequence_length"):
            args["max_sequence_length"] = self.config["max_length"] or 8
        return args

    def _raw_splits(self):
        c = self.config
        declared = _declared_labels(c)
        self.lines_left_out, self.bad_line_warnings = {}, []
        splits = {}
        if c["train_file"]:
            splits = _local_splits(c, self._read_files)
            class_names = declared or sorted(set(splits["train"][1]))
        elif declared:
            raise ValueError(
                f"Invalid value for setting labels. Expected no labels with dataset="
                f"{c['dataset']}, whose classes are its own: --labels declares the classes of "
                f"--train-file files. Received: labels={','.join(declared)}"
            )
        elif c["dataset"].startswith("embedded"):
            name = _embedded_name(c["dataset"], "sentiment")
            corpora = {
                "sentiment": embedded.sentiment_corpus,
                "questions": embedded.question_corpus,
            }
            if name not in corpora:
                raise ValueError(
                    f"Invalid value for setting dataset. Expected one of "
                    f"{['embedded:' + n for n in corpora]}. Received: dataset={c['dataset']}"
                )
            kwargs = {"seed": c["seed"]}
            if c["num_examples"]:
                kwargs["num_examples"] = c["num_examples"]
            texts, labels, class_names = corpora[name](**kwargs)
            labels = [class_names[i] for i in labels]
            _check_training_classes(labels, f"embedded:{name}")
            (train, test) = _hold_out([texts, labels], 0.1, c["seed"])
            splits = {"train": tuple(train), "test": tuple(test)}
        else:
            texts, labels, class_names = tfds_sources.load_tfds_classification(
                _tfds_name(c), split="train", data_dir=c["data_dir"]
            )
            splits["train"] = (texts, [class_names[i] for i in labels])
            _check_training_classes(
                splits["train"][1], f"TFDS dataset {_tfds_name(c)} (train split)"
            )
            try:
                texts, labels, _ = tfds_sources.load_tfds_classification(
                    _tfds_name(c), split="test", data_dir=c["data_dir"]
                )
                splits["test"] = (texts, [class_names[i] for i in labels])
            except ValueError:
                pass  # no test split: evaluate on validation only
        return _with_validation(splits, c), list(class_names)

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
            standardize=_standardize(c),
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
        if _accepts(c["model"], "max_sequence_length"):
            model_args["max_sequence_length"] = limit
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
            summary=self._summary(splits)
            + [f"classes: {class_names}", f"vocabulary: {vectorizer.vocabulary_size()} tokens"],
        )


# === Language modelling ===


class LanguageModelTask(Task):
    """Next-token prediction on one text: a local file, the embedded prose, or a TFDS dataset
    such as tiny_shakespeare. The first 90 % trains, the last 10 % validates."""

    def stand_in_model_args(self):
        args = {"vocabulary_size": 3}
        if _accepts(self.config["model"], "max_sequence_length"):
            args["max_sequence_length"] = self.config["sequence_length"]
        return args

    def _text(self):
        c = self.config
        if c["train_file"]:
            train = "\n".join(text_files.read_text(p, c["encoding"]) for p in c["train_file"])
            if c["valid_file"]:
                valid = "\n".join(text_files.read_text(p, c["encoding"]) for p in c["valid_file"])
                return train, valid
            whole = train
        elif c["dataset"].startswith("embedded"):
            whole = embedded.prose_text()
        else:
            whole = tfds_sources.load_tfds_text(_tfds_name(c), data_dir=c["data_dir"])
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
        vectorizer = vectorization.make_vectorizer(
            train_text.splitlines(keepends=True),
            split=c["split"],
            max_tokens=c["max_tokens"],
            standardize=_standardize(c),
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
        if _accepts(c["model"], "max_sequence_length"):
            model_args["max_sequence_length"] = c["sequence_length"]
        return Data(
            train=datasets["train"],
            valid=datasets["valid"],
            model_args=model_args,
            vectorizers={"text": vectorizer},
            raw={"train": train_text, "valid": valid_text},
            examples=[line[:40] for line in valid_text.splitlines() if line.strip()][:3],
            summary=[
                f"train: {len(train_text)} characters, {len(streams['train'])} tokens",
                f"valid: {len(valid_text)} characters, {len(streams['valid'])} tokens",
                f"vocabulary: {vectorizer.vocabulary_size()} tokens ({c['split']})",
            ],
        )

    def evaluate(self, model, data):
        results = super().evaluate(model, data)
        for figures in results.values():
            # Loss is nats per token; bits per token is the char-rnn literature's unit.
            if "loss" in figures:
                figures["bits_per_token"] = figures["loss"] / np.log(2)
        return results


# === Translation ===


class TranslationTask(Task):
    """Sequence to sequence (translation, summarisation): two line-aligned files or a
    two-column TSV, an embedded corpus (`embedded:dates`, the default, or `embedded:news`,
    news stories and their headlines), or a TFDS dataset such as ted_hrlr_translate/pt_to_en or
    gigaword, whose source and target features are `source_language` and `target_language`."""

    EMBEDDED = {"dates": "date_pairs", "news": "news_headlines"}

    def stand_in_model_args(self):
        # The target vocabulary also holds [start] and [end].
        return {"source_vocabulary_size": 3, "target_vocabulary_size": 5}

    def _read_pairs(self, paths):
        c = self.config
        if len(paths) == 2:
            return parallel_text.read_parallel(paths[0], paths[1], encoding=c["encoding"])
        if len(paths) == 1:
            return parallel_text.read_parallel_tsv(paths[0], encoding=c["encoding"])
        raise ValueError(
            "Invalid value for setting train_file. Expected a source and a target file, or one "
            f"two-column TSV file. Received: {len(paths)} files"
        )

    def _raw_splits(self):
        c = self.config
        splits = {}
        if c["train_file"]:
            splits = _local_splits(c, lambda paths, split: self._read_pairs(paths))
        elif c["dataset"].startswith("embedded"):
            name = _embedded_name(c["dataset"], "dates")
            if name not in self.EMBEDDED:
                raise ValueError(
                    f"Invalid value for setting dataset. Expected one of "
                    f"{['embedded:' + n for n in self.EMBEDDED]}. Received: dataset={c['dataset']}"
                )
            kwargs = {"seed": c["seed"]}
            if c["num_examples"]:
                kwargs["num_examples"] = c["num_examples"]
            sources, targets = getattr(embedded, self.EMBEDDED[name])(**kwargs)
            train, test = _hold_out([sources, targets], 0.1, c["seed"])
            splits = {"train": tuple(train), "test": tuple(test)}
        else:
            for split, tfds_split in (
                ("train", "train"),
                ("valid", "validation"),
                ("test", "test"),
            ):
                try:
                    splits[split] = tfds_sources.load_tfds_translation(
                        _tfds_name(c),
                        c["source_language"],
                        c["target_language"],
                        split=tfds_split,
                        data_dir=c["data_dir"],
                    )
                except ValueError:
                    if split == "train":
                        raise
        return _with_validation(splits, c)

    def load(self, global_batch_size):
        c = self.config
        splits = self._raw_splits()
        options = dict(split=c["split"], max_tokens=c["max_tokens"], standardize=_standardize(c))
        source_vectorizer = vectorization.make_vectorizer(
            splits["train"][0], name="source_vectorizer", **options
        )
        target_vectorizer = vectorization.make_vectorizer(
            splits["train"][1],
            reserved_tokens=(vectorization.START, vectorization.END),
            name="target_vectorizer",
            **options,
        )
        start_id = vectorization.token_id(target_vectorizer, vectorization.START)
        end_id = vectorization.token_id(target_vectorizer, vectorization.END)
        ids = {
            split: (
                vectorization.vectorize(source_vectorizer, sources, c["max_length"]),
                vectorization.vectorize(target_vectorizer, targets, c["max_length"]),
            )
            for split, (sources, targets) in splits.items()
        }
        boundaries = None
        if c["num_buckets"]:
            lengths = [max(len(s), len(t) + 1) for s, t in zip(*ids["train"])]
            boundaries = batching.bucket_boundaries(lengths, c["num_buckets"])
        limit = boundaries[-1] - 2 if boundaries else None  # room for [start]/[end]
        datasets = {}
        for split, (sources, targets) in ids.items():
            if limit:
                sources = [s[: limit + 1] for s in sources]
                targets = [t[:limit] for t in targets]
            datasets[split] = batching.translation_dataset(
                sources,
                targets,
                start_id,
                end_id,
                global_batch_size,
                boundaries=boundaries,
                shuffle=split == "train",
                seed=c["seed"],
            )
        return Data(
            train=datasets["train"],
            valid=datasets.get("valid"),
            test=datasets.get("test"),
            model_args={
                "source_vocabulary_size": source_vectorizer.vocabulary_size(),
                "target_vocabulary_size": target_vectorizer.vocabulary_size(),
            },
            vectorizers={"source": source_vectorizer, "target": target_vectorizer},
            raw=splits,
            examples=list(splits["valid"][0][:3]),
            max_length=limit + 1 if limit else None,
            summary=[
                f"{s}: {len(splits[s][0])} pairs" for s in ("train", "valid", "test") if s in splits
            ]
            + [
                f"vocabulary: {source_vectorizer.vocabulary_size()} source, "
                f"{target_vectorizer.vocabulary_size()} target tokens ({c['split']})"
            ],
        )

    def callbacks(self, model, data, log_dir):
        if not any(layer.name == "attention" for layer in model.layers):
            return []
        source, target = data.raw["valid"][0][0], data.raw["valid"][1][0]
        return [
            kzoo_callbacks.AttentionImages(
                log_dir, data.vectorizers["source"], data.vectorizers["target"], source, target
            )
        ]

    def translate(self, model, data, sources):
        """Greedy translations of raw `sources`, decoded in-graph by the same function the
        SavedModel serves (`kzoo.signatures`)."""
        from kzoo.signatures import serving_bundle, serving_functions

        decode = serving_functions(serving_bundle(model, data, self.config))["serving_default"]
        translations = []
        for begin in range(0, len(sources), 256):
            batch = tf.constant(list(sources[begin : begin + 256]))
            translations += [t.decode() for t in decode(text=batch)["translation"].numpy()]
        return translations

    @staticmethod
    def scores(predictions, references):
        """Corpus BLEU and ROUGE F-measures of predictions against raw reference texts.

        BLEU is sacrebleu's corpus BLEU with its defaults (detokenized input, 13a tokenization,
        case-sensitive), the figure translation papers publish. ROUGE-1, ROUGE-2 and ROUGE-L
        are rouge-score's F-measures with Porter stemming (as summarisation papers report
        them), averaged over sentences. All on a 0–100 scale.

        Args:
            predictions: list of str. Model outputs, detokenized.
            references: list of str. One raw reference per prediction.

        Returns:
            A dict with `bleu`, `rouge1`, `rouge2` and `rougeL`.

        Example:

        >>> scores = TranslationTask.scores(["a man rides a red bike ."],
        ...                                 ["a man rides a red bike ."])
        >>> {name: round(value, 1) for name, value in scores.items()}
        {'bleu': 100.0, 'rouge1': 100.0, 'rouge2': 100.0, 'rougeL': 100.0}
        """
        import sacrebleu
        from rouge_score import rouge_scorer

        bleu = sacrebleu.corpus_bleu(list(predictions), [list(references)]).score
        kinds = ("rouge1", "rouge2", "rougeL")
        scorer = rouge_scorer.RougeScorer(kinds, use_stemmer=True)
        totals = dict.fromkeys(kinds, 0.0)
        for prediction, reference in zip(predictions, references):
            for kind, score in scorer.score(reference, prediction).items():
                totals[kind] += score.fmeasure
        count = max(len(references), 1)
        return {"bleu": float(bleu), **{k: 100.0 * v / count for k, v in totals.items()}}

    def evaluate(self, model, data):
        """Adds, on the test split (else validation), BLEU and ROUGE of the greedy outputs
        against the raw targets, and `exact_match` against the targets as the vectorizer
        reads them back (what the model can produce)."""
        results = super().evaluate(model, data)
        split = "test" if "test" in data.raw else "valid"
        sources, targets = (list(column) for column in data.raw[split])
        predictions = self.translate(model, data, sources)
        c, target = self.config, data.vectorizers["target"]
        tokens = vectorization.vocabulary(target)
        readable = [
            vectorization.detokenize(tokens, ids, c["split"], c["standardize"])
            for ids in vectorization.vectorize(target, targets)
        ]
        figures = results.setdefault(split, {})
        figures.update(self.scores(predictions, targets))
        figures["exact_match"] = float(np.mean([p == r for p, r in zip(predictions, readable)]))
        figures["examples"] = [
            f"{s if len(s) <= 100 else s[:97] + '...'!r} -> {p!r} (reference {r!r})"
            for s, p, r in zip(sources[:3], predictions[:3], targets[:3])
        ]
        return results


# === GAN ===


class GANTask(Task):
    """Images for the GAN: the embedded 28×28 digits, local `.npz`/folder images, or a TFDS
    image dataset such as mnist, scaled to [-1, 1]."""

    monitor = None  # neither GAN loss measures image quality: keep the last epoch

    def stand_in_model_args(self):
        return {"image_shape": (28, 28, 1)}

    def load(self, global_batch_size):
        c = self.config
        labels = None
        if c["train_file"]:
            images = (
                np.concatenate([image_files.read_images(p) for p in c["train_file"]]) * 2.0 - 1.0
            )
        elif c["dataset"].startswith("embedded"):
            images, labels = embedded.digit_images()
        else:
            images, labels = tfds_sources.load_tfds_images(_tfds_name(c), data_dir=c["data_dir"])
            images = images * 2.0 - 1.0
        images = images.astype("float32")
        train = batching.array_dataset(
            images, batch_size=global_batch_size, shuffle=True, seed=c["seed"], drop_remainder=True
        )
        return Data(
            train=train,
            model_args={"image_shape": tuple(int(d) for d in images.shape[1:])},
            raw={"images": images, "labels": labels},
            summary=[f"train: {len(images)} images of shape {images.shape[1:]}"],
        )

    def callbacks(self, model, data, log_dir):
        return [kzoo_callbacks.GANSampleGrid(log_dir)]

    def evaluate(self, model, data):
        labels = data.raw["labels"]
        if labels is None:
            return {}
        generated = model.generate(1000, seed=0)
        return {"generated": _digit_quality(data.raw["images"], labels, generated)}


def _digit_quality(images, labels, generated):
    """Labels generated images with a classifier trained on the real ones (logistic regression
    on pixels): the share of the most and least generated classes and the mean confidence."""
    from sklearn.linear_model import LogisticRegression

    flat = images.reshape(len(images), -1)
    classifier = LogisticRegression(max_iter=300).fit(flat, labels)
    probabilities = classifier.predict_proba(generated.reshape(len(generated), -1))
    predicted = probabilities.argmax(-1)
    shares = np.bincount(predicted, minlength=len(classifier.classes_)) / len(predicted)
    return {
        "min_class_share": float(shares.min()),
        "max_class_share": float(shares.max()),
        "class_shares": [round(float(share), 4) for share in shares],
        "mean_top_probability": float(probabilities.max(-1).mean()),
    }


# === word2vec ===


def skipgram_dataset(sequences, vocabulary_size, config, global_batch_size, shuffle):
    """Skip-gram pairs with negatives, subsampled, as a dataset of (inputs, labels) batches."""
    counts = np.bincount(np.concatenate(sequences), minlength=vocabulary_size)
    table = skipgram.sampling_table(counts, sampling_factor=config["sampling_factor"])
    examples = skipgram.skipgram_examples(
        sequences,
        vocabulary_size,
        window_size=config["window_size"],
        num_negatives=config["num_negatives"],
        sampling_table=table,
        seed=config["seed"],
    )
    inputs = {"target": examples["target"], "context": examples["context"]}
    return batching.array_dataset(
        inputs,
        examples["label"].astype("float32"),
        batch_size=global_batch_size,
        shuffle=shuffle,
        seed=config["seed"],
    ), len(examples["target"])


class Word2VecTask(Task):
    """Skip-gram word2vec on a corpus: a local text file, the embedded prose, or a TFDS text
    dataset. Sentences are lines; the last 10 % of lines validate."""

    def load(self, global_batch_size):
        c = self.config
        if c["train_file"]:
            lines = [
                line for p in c["train_file"] for line in text_files.read_lines(p, c["encoding"])
            ]
        elif c["dataset"].startswith("embedded"):
            lines = embedded.prose_text().splitlines()
        else:
            lines = tfds_sources.load_tfds_text(_tfds_name(c), data_dir=c["data_dir"]).splitlines()
        lines = [line for line in lines if line.strip()]
        cut = int(len(lines) * (1 - c["valid_fraction"]))
        vectorizer = vectorization.make_vectorizer(
            lines[:cut], split="whitespace", max_tokens=c["max_tokens"], standardize=_standardize(c)
        )
        vocabulary_size = vectorizer.vocabulary_size()
        datasets, sizes = {}, {}
        for split, part in (("train", lines[:cut]), ("valid", lines[cut:])):
            sequences = [x for x in vectorization.vectorize(vectorizer, part) if len(x) > 1]
            datasets[split], sizes[split] = skipgram_dataset(
                sequences, vocabulary_size, c, global_batch_size, shuffle=split == "train"
            )
        return Data(
            train=datasets["train"],
            valid=datasets["valid"],
            model_args={"vocabulary_size": vocabulary_size},
            vectorizers={"text": vectorizer},
            examples=vectorization.vocabulary(vectorizer)[2:5],
            summary=[
                f"train: {cut} lines, {sizes['train']} skip-gram pairs",
                f"valid: {len(lines) - cut} lines, {sizes['valid']} skip-gram pairs",
                f"vocabulary: {vocabulary_size} words",
            ],
        )

    def callbacks(self, model, data, log_dir):
        return [
            kzoo_callbacks.EmbeddingProjector(
                log_dir, vectorization.vocabulary(data.vectorizers["text"])
            )
        ]

    def evaluate(self, model, data):
        results = super().evaluate(model, data)
        from kzoo.models.word2vec import word2vec_vectors

        tokens = vectorization.vocabulary(data.vectorizers["text"])
        vectors = word2vec_vectors(model)
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        neighbours = []
        for word_id in range(2, min(7, len(tokens))):
            similar = np.argsort(-(unit @ unit[word_id]))[1:6]
            neighbours.append(f"{tokens[word_id]}: {', '.join(tokens[i] for i in similar)}")
        results["valid"]["neighbours"] = neighbours
        return results


TASKS = {
    "classification": ClassificationTask,
    "language_model": LanguageModelTask,
    "translation": TranslationTask,
    "gan": GANTask,
    "word2vec": Word2VecTask,
}

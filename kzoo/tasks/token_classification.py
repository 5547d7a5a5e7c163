"""Token classification (sequence labelling): one tag per word, parts of speech or named entities.

Reads CoNLL-U treebanks and CoNLL/IOB2 column files (`kzoo.data.conll_files`), the embedded
tagged sentences, or a TFDS dataset such as conll2003; evaluates token accuracy and, for IOB2
entity tags, entity precision, recall and F1 per type as the CoNLL evaluation counts them
(seqeval); serves raw sentences in, tokens, tags and entity spans with character offsets out.
"""

import collections

import numpy as np
import tensorflow as tf
from seqeval.metrics import classification_report

from kzoo.data import batching, conll_files, embedded, tfds_sources, vectorization
from kzoo.data.word_tokens import split_words
from kzoo.settings import Setting
from kzoo.signatures import checked, checked_token_ids
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


def tag_names(tags, scheme, declared=None):
    """The tag set of a model, in tag-id order from 1 (0 is padding): the `declared` tags (or,
    for IOB2, `O` and B-/I- of each declared entity type), else those of `tags` (sentences of
    tags), sorted, with IOB2's `O` first and each type's B- before its I-.

    Example:

    >>> tag_names([["B-PER", "O"], ["B-LOC", "I-LOC"]], "iob2")
    ['O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER']
    >>> tag_names([["NOUN", "VERB", "NOUN"]], "tags")
    ['NOUN', 'VERB']
    """
    if scheme == "iob2":
        types = declared or sorted({tag[2:] for row in tags for tag in row if tag != "O"})
        return ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in "BI"]
    return list(declared) if declared else sorted({tag for row in tags for tag in row})


def entity_scores(true_tags, predicted_tags):
    """Entity precision, recall and F1, overall (micro-averaged) and per type, as the CoNLL
    evaluation (conlleval) counts them: an entity is right when its type and its span are.

    As conlleval, seqeval's default mode reads an `I-` tag that follows no entity of its type
    as the start of one, so a model's malformed IOB2 is scored as it would be at CoNLL.

    Args:
        true_tags: list of lists of str. The gold IOB2 tags of each sentence.
        predicted_tags: list of lists of str. The predicted tags, as long.

    Returns:
        A dict: `precision`, `recall`, `f1` (overall) and `per_type`, {type: {`precision`,
        `recall`, `f1`, `support`}}.

    Example:

    >>> scores = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]],
    ...                        [["B-PER", "I-PER", "O", "B-ORG"]])
    >>> scores["precision"], scores["recall"], scores["per_type"]["PER"]["f1"]
    (0.5, 0.5, 1.0)
    """
    report = classification_report(true_tags, predicted_tags, output_dict=True, zero_division=0)
    overall = report["micro avg"]
    per_type = {
        kind: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for kind, row in sorted(report.items())
        if not kind.endswith(" avg")
    }
    return {
        "precision": float(overall["precision"]),
        "recall": float(overall["recall"]),
        "f1": float(overall["f1-score"]),
        "per_type": per_type,
    }


def model_inputs(tokens, word_vectorizer, character_vectorizer):
    """A tagger's inputs from padded tokens `(batch, words)` (str, "" for padding): word ids
    `(batch, words)` and character ids `(batch, words, characters)`, as the training pipeline and
    the served model compute them alike.

    A word that its standardization empties is unknown (id 1), never padding.
    """
    shape = tf.shape(tokens)
    flat = tf.reshape(tokens, [-1])
    ids = tf.cast(word_vectorizer(flat), tf.int32)
    ids = tf.where(tf.not_equal(flat, "") & tf.equal(ids, 0), 1, ids)
    characters = _padded(tf.cast(character_vectorizer(flat), tf.int32), 0)
    width = tf.shape(characters)[1:]
    return {
        "token_ids": tf.reshape(ids, shape),
        "character_ids": tf.reshape(characters, tf.concat([shape, width], 0)),
    }


def _padded(rows, fill):
    """Ragged rows as a dense tensor, at least one column wide (so an empty batch has a
    shape). Rows already padded with `fill` (a vectorizer's off TensorFlow) stay as they are."""
    dense = rows.to_tensor(fill) if isinstance(rows, tf.RaggedTensor) else rows
    return tf.pad(dense, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(dense)[1])]], constant_values=fill)


def entity_spans(tags, starts, ends):
    """The entities of IOB2 tags, read as conlleval reads them (an `I-` that continues no entity
    of its type starts one): for each, its type and its first and last character offsets.

    Args:
        tags: `tf.RaggedTensor` `(batch, (tokens))` of IOB2 tags.
        starts, ends: `tf.RaggedTensor`s of the tokens' character offsets.

    Returns:
        `(types, entity_starts, entity_ends)`: `tf.RaggedTensor`s `(batch, (entities))`.
    """
    flat = tags.flat_values
    first = tf.equal(
        tf.range(tf.size(flat, out_type=tf.int64)),
        tf.gather(tags.row_starts(), tags.value_rowids()),
    )
    kind = tf.strings.regex_replace(flat, "^[BI]-", "")
    inside = tf.strings.regex_full_match(flat, "[BI]-.+")
    previous_inside = tf.where(first, False, tf.concat([[False], inside[:-1]], 0))
    previous_kind = tf.where(first, "", tf.concat([[""], kind[:-1]], 0))
    begins = inside & (
        tf.strings.regex_full_match(flat, "B-.+") | ~previous_inside | (previous_kind != kind)
    )
    index = tf.cumsum(tf.cast(begins, tf.int64)) - 1
    count = tf.reduce_sum(tf.cast(begins, tf.int64))
    member = tf.boolean_mask(index, inside)
    entity_starts = tf.math.unsorted_segment_min(
        tf.boolean_mask(starts.flat_values, inside), member, count
    )
    entity_ends = tf.math.unsorted_segment_max(
        tf.boolean_mask(ends.flat_values, inside), member, count
    )
    rows = tf.boolean_mask(tags.value_rowids(), begins)
    nrows = tags.nrows()

    def ragged(values):
        return tf.RaggedTensor.from_value_rowids(values, rows, nrows=nrows)

    return ragged(tf.boolean_mask(kind, begins)), ragged(entity_starts), ragged(entity_ends)


class TokenClassificationTask(Task):
    """Token classification: a tag for every word (parts of speech, named entities).

    Data: CoNLL-U files (the UPOS column, or another with `--tag-column`) and CoNLL/IOB2 column
    files (`--word-column`, `--tag-column`; Universal NER: 2 and 3), the embedded tagged
    sentences (`embedded:entities`, the default, or `embedded:pos`), or TFDS' conll2003
    (`--tag-feature ner|pos|chunks`); with the last two, `--valid-file` and `--test-file`
    replace their own validation and test splits. Words keep their case for the character
    encoder; the word vocabulary reads them through `--standardize` (the recipe's: lower).
    Training sentences longer than `--max-length` words are cut; evaluation scores every word.
    """

    EMBEDDED = ("entities", "pos")

    settings = {
        "word_column": Setting(
            None,
            "optional_int",
            "1-based column of the words in CoNLL/IOB2 files (default: 1; CoNLL-U: 2)",
            bounds="[1, inf)",
        ),
        "tag_column": Setting(
            None,
            "optional_int",
            "1-based column of the tags (default: the last; CoNLL-U: 4, UPOS)",
            bounds="[1, inf)",
        ),
        "tag_scheme": Setting(
            "auto",
            str,
            "iob2 (entity tags O, B-X, I-X, scored by entity), tags (a plain tag set such as "
            "parts of speech), or auto: iob2 when every training tag reads so",
            conll_files.SCHEMES,
        ),
        "tags": Setting(
            [],
            "names",
            "the tags (or, for IOB2, entity types) of local files, e.g. --tags PER,LOC,ORG; any "
            "other is an error naming the file and line (default: the training files')",
        ),
        "tag_feature": Setting(
            "ner", str, "the TFDS feature of the tags (conll2003: ner, pos or chunks)"
        ),
    }

    def stand_in_model_args(self):
        return {"vocabulary_size": 3, "num_tags": 3, "character_vocabulary_size": 3}

    # === Data ===

    def _read_files(self, paths, scheme="auto", declared=None):
        c = self.config
        words, tags = [], []
        for path in paths:
            read = conll_files.read_tagged_file(
                path,
                encoding=c["encoding"],
                word_column=c["word_column"],
                tag_column=c["tag_column"],
                scheme=scheme if scheme != "auto" else c["tag_scheme"],
                tags=declared,
            )
            scheme = read.scheme
            words += read.words
            tags += read.tags
        if not words:
            raise ValueError(f"{', '.join(paths)} has no sentence (no token line).")
        self.scheme = scheme
        return words, tags

    def _read_held_out(self, paths, scheme, names):
        """Validation or test files, read with training's scheme and tags: an unknown tag there
        is an error naming its file and line."""
        known = sorted({n[2:] for n in names if n != "O"}) if scheme == "iob2" else names
        return self._read_files(paths, scheme, known)

    def _raw_splits(self):
        """({split: (words, tags)}, scheme, tag names)."""
        c = self.config
        declared = c["tags"] or None
        if c["train_file"]:
            train = self._read_files(c["train_file"], declared=declared)
            scheme = self.scheme
            names = tag_names(train[1], scheme, declared)

            def read(paths, split):
                return train if split == "train" else self._read_held_out(paths, scheme, names)

            splits = local_splits(c, read)
        elif c["dataset"].startswith("embedded"):
            name = embedded_name(c["dataset"], "entities", self.EMBEDDED)
            kwargs = {"seed": c["seed"]}
            if c["num_examples"]:
                kwargs["num_sentences"] = c["num_examples"]
            words, pos_tags, entity_tags = embedded.tagged_sentences(**kwargs)
            tags = entity_tags if name == "entities" else pos_tags
            scheme = "iob2" if name == "entities" else "tags"
            train, test = hold_out([words, tags], 0.1, c["seed"])
            splits = {"train": tuple(train), "test": tuple(test)}
            names = tag_names(tags, scheme)
        else:
            splits = {}
            for split, tfds_split in (
                ("train", "train"),
                ("valid", "validation"),
                ("test", "test"),
            ):
                try:
                    splits[split] = tfds_sources.load_tfds_tagging(
                        tfds_name(c), tfds_split, c["data_dir"], tags_key=c["tag_feature"]
                    )
                except ValueError:
                    if split == "train":
                        raise
            every = (tag for row in splits["train"][1] for tag in row)
            scheme = c["tag_scheme"]
            if scheme == "auto":
                scheme = "iob2" if conll_files.is_iob2(every) else "tags"
            names = tag_names(splits["train"][1], scheme)
        if not c["train_file"]:
            # Local files replace the corpus's own validation or test split: a model trained on
            # the embedded sentences, tested on real ones.
            read_held_out_files(
                splits, c, lambda paths, split: self._read_held_out(paths, scheme, names)
            )
        return with_validation(splits, c), scheme, names

    def _dataset(self, words, tag_ids, vectorizers, batch_size, boundaries, shuffle):
        """Batches of (model inputs, tag ids), bucketed by sentence length."""
        columns = (batching.ragged_rows(words, tf.string), batching.ragged_rows(tag_ids))
        dataset = batching.batch_by_length(
            columns, batch_size, boundaries, shuffle, self.config["seed"]
        )
        words_of, characters_of = vectorizers["text"], vectorizers["characters"]

        @tf.autograph.experimental.do_not_convert
        def with_inputs(tokens, tags):
            return model_inputs(tokens, words_of, characters_of), tags

        return dataset.map(with_inputs, num_parallel_calls=tf.data.AUTOTUNE)

    def load(self, global_batch_size):
        c = self.config
        splits, scheme, names = self._raw_splits()
        if c["max_length"]:
            words, tags = splits["train"]
            splits["train"] = (
                [w[: c["max_length"]] for w in words],
                [t[: c["max_length"]] for t in tags],
            )
        ids = {name: i for i, name in enumerate(names, start=1)}
        for split, (_, tags) in splits.items():
            unknown = sorted({tag for row in tags for tag in row} - set(ids))
            if unknown:
                raise ValueError(
                    f"The {split} split has tags the training split lacks: {unknown[:5]}. "
                    f"Training tags: {names}. Declare every tag with --tags."
                )
        train_words = [word for sentence in splits["train"][0] for word in sentence]
        vectorizers = {
            "text": vectorization.make_vectorizer(
                train_words,
                split=None,
                max_tokens=c["max_tokens"],
                standardize=standardize(c),
                name="word_vectorizer",
            ),
            "characters": vectorization.make_vectorizer(
                train_words, split="character", standardize=None, name="character_vectorizer"
            ),
        }
        boundaries = None
        if c["num_buckets"]:
            lengths = [len(s) for s in splits["train"][0]]
            boundaries = batching.bucket_boundaries(lengths, c["num_buckets"])
            longest = max(len(s) for words, _ in splits.values() for s in words)
            if longest >= boundaries[-1]:  # evaluation reads every word of longer sentences
                boundaries.append(int(np.ceil((longest + 1) / 8) * 8) + 1)
        datasets = {
            split: self._dataset(
                words,
                [[ids[tag] for tag in row] for row in tags],
                vectorizers,
                global_batch_size,
                boundaries,
                shuffle=split == "train",
            )
            for split, (words, tags) in splits.items()
        }
        counts = collections.Counter(len(s) for s in splits["train"][0])
        return Data(
            train=datasets["train"],
            valid=datasets.get("valid"),
            test=datasets.get("test"),
            model_args={
                "vocabulary_size": vectorizers["text"].vocabulary_size(),
                "num_tags": len(names) + 1,
                "character_vocabulary_size": vectorizers["characters"].vocabulary_size(),
            },
            vectorizers=vectorizers,
            class_names=names,
            raw=splits,
            examples=[" ".join(words) for words in splits["valid"][0][:3]],
            summary=[
                f"{s}: {len(splits[s][0])} sentences, {sum(map(len, splits[s][0]))} words"
                for s in ("train", "valid", "test")
                if s in splits
            ]
            + [
                f"tags ({scheme}): {names}",
                f"vocabulary: {vectorizers['text'].vocabulary_size()} words, "
                f"{vectorizers['characters'].vocabulary_size()} characters; longest training "
                f"sentence {max(counts)} words",
            ],
        )

    # === Evaluation ===

    def evaluate(self, model, data):
        """Token accuracy over every word of each split (padding left out) and, for IOB2 tags,
        entity precision, recall and F1, overall and per type (`entity_scores`)."""
        results = super().evaluate(model, data)
        names = ["", *data.class_names]
        iob2 = conll_files.is_iob2(data.class_names)
        for split in ("valid", "test"):
            dataset = getattr(data, split)
            if dataset is None:
                continue
            right = total = 0
            true_tags, predicted_tags = [], []
            # NumPy batches: Keras' JAX and PyTorch backends take no TensorFlow tensors.
            for inputs, tags in dataset.as_numpy_iterator():
                probabilities = np.asarray(model.predict_on_batch(inputs))
                predicted = probabilities[..., 1:].argmax(-1) + 1
                real = tags > 0
                right += int((predicted[real] == tags[real]).sum())
                total += int(real.sum())
                for row_true, row_predicted, row_real in zip(tags, predicted, real):
                    true_tags.append([names[i] for i in row_true[row_real]])
                    predicted_tags.append([names[i] for i in row_predicted[row_real]])
            figures = results.setdefault(split, {})
            figures["accuracy"] = right / max(total, 1)
            figures["words"] = total
            if iob2:
                scores = entity_scores(true_tags, predicted_tags)
                figures.update({k: scores[k] for k in ("precision", "recall", "f1")})
                figures["per_type"] = scores["per_type"]
                figures["entities"] = [
                    f"{kind}: precision {s['precision']:.4f}, recall {s['recall']:.4f}, F1 "
                    f"{s['f1']:.4f} ({s['support']} entities)"
                    for kind, s in scores["per_type"].items()
                ]
        return results

    # === Serving: raw sentences in, tokens, tags and entities out ===

    @classmethod
    def endpoints(cls, bundle):
        """`serving_default`: `text` [-1] string → `tokens`, `tags` [-1, words] string and
        `token_starts`, `token_ends` [-1, words] character offsets (padding: "" and -1); for
        IOB2 tags also `entities` (their text), `entity_types` [-1, entities] string and
        `entity_starts`, `entity_ends`. `token_ids`: word ids and character ids of the same
        batch and words → `tag_ids` and `scores` [-1, words, tags]."""
        model = bundle.model
        words_of, characters_of = bundle.vectorizers["text"], bundle.vectorizers["characters"]
        names = tf.constant(["", *bundle.class_names])
        iob2 = conll_files.is_iob2(bundle.class_names)
        vocabulary_size = len(vectorization.vocabulary(words_of))
        characters_size = len(vectorization.vocabulary(characters_of))

        def tag(inputs):
            probabilities = tf.cast(model(inputs, training=False), tf.float32)
            return probabilities, tf.argmax(
                probabilities[..., 1:], axis=-1, output_type=tf.int32
            ) + 1

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve_text(text):
            tokens, starts, ends = split_words(text)
            padded = _padded(tokens, "")
            _, tag_ids = tag(model_inputs(padded, words_of, characters_of))
            real = tf.not_equal(padded, "")
            tags = tf.RaggedTensor.from_tensor(
                tf.gather(names, tag_ids), lengths=tokens.row_lengths()
            )
            outputs = {
                "tokens": padded,
                "tags": tf.where(real, _padded(tags, ""), ""),
                "token_starts": _padded(starts, -1),
                "token_ends": _padded(ends, -1),
            }
            if iob2:
                types, entity_starts, entity_ends = entity_spans(tags, starts, ends)
                texts = tf.strings.substr(
                    tf.gather(text, types.value_rowids()),
                    entity_starts.flat_values,
                    entity_ends.flat_values - entity_starts.flat_values,
                    unit="UTF8_CHAR",
                )
                outputs.update(
                    entities=_padded(types.with_flat_values(texts), ""),
                    entity_types=_padded(types, ""),
                    entity_starts=_padded(entity_starts, -1),
                    entity_ends=_padded(entity_ends, -1),
                )
            return outputs

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None], tf.int32, name="token_ids"),
                tf.TensorSpec([None, None, None], tf.int32, name="character_ids"),
            ]
        )
        def serve_token_ids(token_ids, character_ids):
            words = tf.shape(token_ids)
            message = tf.strings.format(
                "Invalid value for input character_ids. Expected (batch, words, characters) with "
                "the batch and words of token_ids, {}. Received: character_ids.shape={}",
                [words, tf.shape(character_ids)],
            )
            same_words = tf.reduce_all(tf.equal(tf.shape(character_ids)[:2], words))
            character_ids = checked(character_ids, same_words, message)
            inputs = {
                "token_ids": checked_token_ids(token_ids, vocabulary_size, "token_ids"),
                "character_ids": checked_token_ids(character_ids, characters_size, "character_ids"),
            }
            probabilities, tag_ids = tag(inputs)
            return {"tag_ids": tf.where(token_ids > 0, tag_ids, 0), "scores": probabilities}

        return {"serving_default": serve_text, "token_ids": serve_token_ids}

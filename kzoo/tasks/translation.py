"""Sequence to sequence: translation and summarisation, sentences in, sentences out.

Reads two line-aligned files or a two-column TSV, an embedded corpus (dates, news headlines)
or a TFDS dataset; evaluates with BLEU and ROUGE; serves raw text in, translations out, greedy
or with any sampler of `kzoo.generate` (the same `kzoo.decoding` loop).
"""

import os

import keras
import numpy as np
import sacrebleu
import tensorflow as tf
from rouge_score import rouge_scorer

from kzoo.backends import backend_of_process
from kzoo.data import batching, embedded, parallel_text, tfds_sources, vectorization
from kzoo.decoding import SAMPLING, Decoding, warmup_with_sample
from kzoo.generate import generate
from kzoo.registry import decoder_for, entry_for
from kzoo.settings import Setting
from kzoo.signatures import (
    TextOf,
    checked_max_new_tokens,
    checked_token_ids,
    ids_from_text,
    serving_bundle,
)
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
from kzoo.tasks.language_model import max_new_tokens_limit


def attention_image(weights, scale=8):
    """Turns attention weights `(target_steps, source_steps)` into a grey image, one block of
    `scale` pixels per weight, brighter for more attention."""
    weights = np.asarray(weights, dtype="float32")
    peak = weights.max() or 1.0
    image = np.kron(weights / peak, np.ones((scale, scale), dtype="float32"))
    return image[..., None]


class AttentionImages(keras.callbacks.Callback):
    """Writes the attention of a seq2seq model on one validation pair to TensorBoard after
    every epoch: rows are target tokens, columns source tokens.

    `attention(model)` is the model family's (`kzoo.registry.ModelEntry.attention`).
    """

    def __init__(self, log_dir, source_vectorizer, target_vectorizer, source, target, attention):
        super().__init__()
        self.attention = attention  # the model family's: a model whose last output is weights
        start = vectorization.token_id(target_vectorizer, vectorization.START)
        self.inputs = {
            "encoder_token_ids": vectorization.vectorize(source_vectorizer, [source])[0][None],
            "decoder_token_ids": np.concatenate(
                [[start], vectorization.vectorize(target_vectorizer, [target])[0]]
            )[None].astype("int32"),
        }
        self.log_dir = log_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "attention"))
        weights = self.attention(self.model)(self.inputs, training=False)[-1]
        image = attention_image(keras.ops.convert_to_numpy(weights)[0])
        with self._writer.as_default():
            tf.summary.image("attention", image[None], step=epoch)
        self._writer.flush()


class TranslationTask(Task):
    """Sequence to sequence (translation, summarisation): two line-aligned files or a
    two-column TSV, an embedded corpus (`embedded:dates`, the default, or `embedded:news`,
    news stories and their headlines), or a TFDS dataset such as ted_hrlr_translate/pt_to_en or
    gigaword, whose source and target features are `source_language` and `target_language`."""

    EMBEDDED = {"dates": "date_pairs", "news": "news_headlines"}

    settings = {
        "source_language": Setting("source", str, "TFDS translation source key, e.g. pt"),
        "target_language": Setting("target", str, "TFDS translation target key, e.g. en"),
        "max_decode_length": Setting(
            64, int, "longest greedy translation in evaluation", bounds="[1, inf)"
        ),
    }

    def stand_in_model_args(self):
        # The target vocabulary also holds [start] and [end].
        args = {"source_vocabulary_size": 3, "target_vocabulary_size": 5}
        if self.accepts("max_sequence_length"):
            args["max_sequence_length"] = self.config["max_decode_length"] + 1
        return args

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
            splits = local_splits(c, lambda paths, split: self._read_pairs(paths))
        elif c["dataset"].startswith("embedded"):
            name = embedded_name(c["dataset"], "dates", self.EMBEDDED)
            kwargs = {"seed": c["seed"]}
            if c["num_examples"]:
                kwargs["num_examples"] = c["num_examples"]
            sources, targets = getattr(embedded, self.EMBEDDED[name])(**kwargs)
            train, test = hold_out([sources, targets], 0.1, c["seed"])
            splits = {"train": tuple(train), "test": tuple(test)}
        else:
            for split, tfds_split in (
                ("train", "train"),
                ("valid", "validation"),
                ("test", "test"),
            ):
                try:
                    splits[split] = tfds_sources.load_tfds_translation(
                        tfds_name(c),
                        c["source_language"],
                        c["target_language"],
                        split=tfds_split,
                        data_dir=c["data_dir"],
                    )
                except ValueError:
                    if split == "train":
                        raise
        if not c["train_file"]:  # local files for the corpus's held-out splits
            read_held_out_files(splits, c, lambda paths, split: self._read_pairs(paths))
        return with_validation(splits, c)

    def load(self, global_batch_size):
        c = self.config
        splits = self._raw_splits()
        options = dict(split=c["split"], max_tokens=c["max_tokens"], standardize=standardize(c))
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
        model_args = {
            "source_vocabulary_size": source_vectorizer.vocabulary_size(),
            "target_vocabulary_size": target_vectorizer.vocabulary_size(),
        }
        if self.accepts("max_sequence_length"):
            # The positions a model with position embeddings must cover: the longest source or
            # decoder input it is given, and a whole translation ([start] + max_decode_length).
            given = (
                limit + 1
                if limit
                else max(max(len(s), len(t) + 1) for pairs in ids.values() for s, t in zip(*pairs))
            )
            model_args["max_sequence_length"] = max(given, c["max_decode_length"] + 1)
        return Data(
            train=datasets["train"],
            valid=datasets.get("valid"),
            test=datasets.get("test"),
            model_args=model_args,
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
        attention = entry_for(model).attention
        if attention is None:
            return []
        source, target = data.raw["valid"][0][0], data.raw["valid"][1][0]
        return [
            AttentionImages(
                log_dir,
                data.vectorizers["source"],
                data.vectorizers["target"],
                source,
                target,
                attention,
            )
        ]

    def translate(self, model, data, sources):
        """Greedy translations of raw `sources`, decoded in-graph by the same function the
        SavedModel serves (on JAX and PyTorch, by `kzoo.generate`: the same decoding, eager)."""
        bundle = serving_bundle(model, data, self.config)
        if backend_of_process() != "tensorflow":
            return [
                text
                for begin in range(0, len(sources), 256)
                for text in generate(bundle, list(sources[begin : begin + 256]))
            ]
        decode = self.endpoints(bundle)["serving_default"]
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

    # === Serving: sentences in, translations out ===

    @classmethod
    def endpoints(cls, bundle):
        """`serving_default`: `text` [-1] string → `translation` [-1] string, greedy (and
        `attention` [-1, out, in] for a model with attention); `sample`: the same with any
        sampler of `kzoo.generate`; `token_ids`: source ids → `translation_ids` (and
        `attention`)."""
        source, target = bundle.vectorizers["source"], bundle.vectorizers["target"]
        source_vocabulary_size = len(vectorization.vocabulary(source))
        decoding = Decoding(decoder_for(bundle.model), vectorization.vocabulary(target))
        limit = max_new_tokens_limit(bundle, decoding)
        text_of = TextOf(target, bundle.split, decoding.end_id)
        entry = entry_for(bundle.model)
        weights_of = entry.attention(bundle.model) if entry.attention is not None else None
        # A model with position embeddings reads no more source tokens than they cover.
        max_length = bundle.max_length
        if entry.input_limit is not None:
            max_length = min(
                max_length or entry.input_limit(bundle.model), entry.input_limit(bundle.model)
            )

        def with_attention(source_ids, ids, noted):
            """The ids and, for a model with attention, each output token's weights: noted
            while decoding, or read back by teacher forcing the translation through it."""
            # Only the steps decoding ran: until every sentence has its [end] (or the limit).
            steps = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(ids > 0, tf.int32), 1)), 1)
            result = {"ids": ids[:, :steps]}
            if "attention" in noted:
                result["attention"] = tf.cast(noted["attention"][:, :steps], tf.float32)
            elif weights_of is not None:
                start = tf.fill([tf.shape(ids)[0], 1], decoding.start_id)
                inputs = {
                    "encoder_token_ids": source_ids,
                    "decoder_token_ids": tf.concat([start, result["ids"][:, :-1]], axis=1),
                }
                result["attention"] = tf.cast(weights_of(inputs, training=False)[-1], tf.float32)
            return result

        def sampled(source_ids, max_new_tokens, *sampling):
            ids = decoding.generate(source_ids, max_new_tokens, *sampling)
            return with_attention(source_ids, ids, {})

        def greedy(source_ids):
            steps = tf.constant(bundle.max_decode_length)
            return with_attention(source_ids, *decoding.translate_greedily(source_ids, steps))

        def readable(result):
            outputs = {"translation": text_of(result["ids"])}
            if "attention" in result:
                outputs["attention"] = result["attention"]
            return outputs

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve_text(text):
            return readable(greedy(ids_from_text(source, text, max_length)))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text"), *SAMPLING])
        def serve_sample(text, max_new_tokens, sampler, temperature, top_k, top_p, num_beams, seed):
            max_new_tokens = checked_max_new_tokens(max_new_tokens, limit)
            result = sampled(
                ids_from_text(source, text, max_length),
                max_new_tokens,
                sampler,
                temperature,
                top_k,
                top_p,
                num_beams,
                seed,
            )
            return readable(result)

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="token_ids")])
        def serve_token_ids(token_ids):
            token_ids = checked_token_ids(token_ids, source_vocabulary_size, "token_ids")
            if max_length:
                token_ids = token_ids[:, :max_length]
            result = greedy(token_ids)
            outputs = {"translation_ids": result["ids"]}
            if "attention" in result:
                outputs["attention"] = result["attention"]
            return outputs

        return {
            "serving_default": serve_text,
            "sample": serve_sample,
            "token_ids": serve_token_ids,
        }

    @classmethod
    def warmup_requests(cls, bundle):
        return warmup_with_sample(cls.warmup_inputs(bundle))

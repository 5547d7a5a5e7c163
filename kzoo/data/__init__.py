"""Data for kzoo's recipes: local files, TFDS, embedded datasets, vectorizers, tf.data batches.

- `kzoo.data.text_files`: reading and decoding text files (`.gz` included); unreadable input
  raises `DataFileError` naming the file and line.
- `kzoo.data.classification_files`: `<label> <text>` lines, one file per class, CSV/TSV.
- `kzoo.data.parallel_text`: sentence pairs for translation.
- `kzoo.data.conll_files`: tagged sentences from CoNLL-U and CoNLL/IOB2 files.
- `kzoo.data.image_files`: images from `.npz`/`.npy` arrays or folders.
- `kzoo.data.tfds_sources`: the same kinds of data from TensorFlow Datasets.
- `kzoo.data.embedded`: datasets that need no download, the recipes' defaults.
- `kzoo.data.skipgram`: skip-gram training examples for word2vec.
- `kzoo.data.vectorization`: text to token ids and back (standardizations, vocabularies).
- `kzoo.data.batching`: batched `tf.data` datasets of token ids or arrays, bucketed by length.
- `kzoo.data.word_tokens`: raw sentences to word tokens with character offsets, in the graph.
"""

from kzoo.data.classification_files import (
    BadLinesWarning,
    load_classification_files,
    read_delimited,
    read_label_files,
    read_labeled_lines,
)
from kzoo.data.conll_files import read_tagged_file
from kzoo.data.embedded import (
    date_pairs,
    digit_images,
    prose_text,
    question_corpus,
    sentiment_corpus,
    tagged_sentences,
)
from kzoo.data.image_files import read_images
from kzoo.data.parallel_text import read_parallel, read_parallel_tsv
from kzoo.data.skipgram import sampling_table, skipgram_examples
from kzoo.data.text_files import DataFileError, read_lines, read_text
from kzoo.data.tfds_sources import (
    load_tfds_classification,
    load_tfds_images,
    load_tfds_tagging,
    load_tfds_text,
    load_tfds_translation,
)

__all__ = [
    "BadLinesWarning",
    "DataFileError",
    "date_pairs",
    "digit_images",
    "load_classification_files",
    "load_tfds_classification",
    "load_tfds_images",
    "load_tfds_tagging",
    "load_tfds_text",
    "load_tfds_translation",
    "prose_text",
    "question_corpus",
    "read_delimited",
    "read_images",
    "read_label_files",
    "read_labeled_lines",
    "read_lines",
    "read_parallel",
    "read_parallel_tsv",
    "read_tagged_file",
    "read_text",
    "sampling_table",
    "sentiment_corpus",
    "skipgram_examples",
    "tagged_sentences",
]

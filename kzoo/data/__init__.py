"""Data for kzoo's recipes: local files, TensorFlow Datasets, embedded datasets, skip-grams.

- `kzoo.data.readers`: local files (text lines, `<label> <text>` lines, one file per class,
  CSV/TSV, parallel text, images), `.gz` included; unreadable input raises `DataFileError`
  naming the file and line.
- `kzoo.data.tfds_sources`: the same kinds of data from TensorFlow Datasets.
- `kzoo.data.embedded`: datasets that need no download, the recipes' defaults.
- `kzoo.data.skipgram`: skip-gram training examples for word2vec.
"""

from kzoo.data.embedded import (
    date_pairs,
    digit_images,
    prose_text,
    question_corpus,
    sentiment_corpus,
)
from kzoo.data.readers import (
    BadLinesWarning,
    DataFileError,
    load_classification_files,
    read_delimited,
    read_images,
    read_label_files,
    read_labeled_lines,
    read_lines,
    read_parallel,
    read_parallel_tsv,
    read_text,
)
from kzoo.data.skipgram import sampling_table, skipgram_examples
from kzoo.data.tfds_sources import (
    load_tfds_classification,
    load_tfds_images,
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
    "read_text",
    "sampling_table",
    "sentiment_corpus",
    "skipgram_examples",
]
# pipeline exports are added by kzoo/data/pipeline.py's author

"""TensorFlow Datasets as a data source: classification, text, translation and images.

Each loader calls `tfds.load(name, split=..., with_info=True)`, reads the split into memory and
returns plain Python lists or NumPy arrays, the same types as kzoo's readers of local files
(`kzoo.data.classification_files`, ...) return, so recipes treat both alike.
`tensorflow_datasets` is imported inside the functions, so importing kzoo stays fast.

TFDS downloads and prepares a dataset on first use, into `data_dir` (`~/tensorflow_datasets`
by default), which needs a network. Any failure (an unknown name, no network, an unfinished
download, a missing key) becomes a `ValueError` that names the dataset, gives TFDS' reason,
and points to the offline alternatives: local files (`--train-file`) or kzoo's embedded data.
"""

import numpy as np

_BATCH_SIZE = 1024


def _reason(error):
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0].rstrip('.') if lines else 'no message'}"


def _failure(name, split, reason):
    return ValueError(
        f"Cannot load the TensorFlow Datasets dataset {name!r} (split {split!r}). {reason}. "
        "TFDS downloads a dataset on first use, which needs a network; without one, pass local "
        "files with --train-file (see kzoo.data), or leave the dataset out to use "
        "kzoo's embedded default data (kzoo.data.embedded)."
    )


def _tfds():
    # Imported when a TFDS dataset is asked for: a large package that runs on local or
    # embedded data (every test, most recipes) need not load.
    import tensorflow_datasets

    return tensorflow_datasets


def _load(name, split, data_dir):
    """Returns `(dataset, info)`, every TFDS failure turned into a `ValueError`."""
    tfds = _tfds()

    if not isinstance(name, str) or not name:
        raise ValueError(
            "Invalid value for argument name. Expected a TensorFlow Datasets name such as "
            f"'imdb_reviews' or 'ted_hrlr_translate/pt_to_en'. Received: name={name!r}"
        )
    try:
        return tfds.load(name, split=split, data_dir=data_dir, with_info=True)
    except Exception as error:  # TFDS raises many types: not found, download, file errors.
        raise _failure(name, split, _reason(error)) from error


def _columns(name, split, dataset, keys):
    """Reads `keys` of every example into NumPy arrays, one per key."""
    tfds = _tfds()

    available = sorted(dataset.element_spec) if isinstance(dataset.element_spec, dict) else []
    missing = [key for key in keys if key not in available]
    if missing:
        raise ValueError(
            f"The TensorFlow Datasets dataset {name!r} has no feature {missing[0]!r}. Features "
            f"found: {available}. Pass the right key (text_key, label_key or the language)."
        )
    columns = {key: [] for key in keys}
    try:
        for batch in tfds.as_numpy(dataset.batch(_BATCH_SIZE)):
            for key in keys:
                columns[key].append(batch[key])
    except Exception as error:  # a damaged or partly downloaded dataset fails while read
        raise _failure(name, split, _reason(error)) from error
    return [np.concatenate(columns[key]) if columns[key] else np.array([]) for key in keys]


def _decode(values):
    return [value.decode("utf-8") for value in values.tolist()]


def _supervised_keys(info, default_input, default_label):
    keys = info.supervised_keys
    if keys and len(keys) >= 2 and isinstance(keys[0], str) and isinstance(keys[1], str):
        return keys[0], keys[1]
    return default_input, default_label


def load_tfds_classification(name, split="train", data_dir=None, text_key=None, label_key=None):
    """Loads a text-classification dataset from TensorFlow Datasets.

    Args:
        name: str. The TFDS name, e.g. `"imdb_reviews"`, `"ag_news_subset"` or
            `"glue/sst2"`.
        split: str. The TFDS split, e.g. `"train"`, `"test"` or `"train[:90%]"`. Defaults to
            `"train"`.
        data_dir: str. Where TFDS keeps its data. Defaults to `None` (TFDS' default,
            `~/tensorflow_datasets`).
        text_key: str. The text feature. Defaults to `None`: the first of the dataset's
            supervised keys, else `"text"` (`glue/sst2` needs `"sentence"`).
        label_key: str. The label feature, a `ClassLabel`. Defaults to `None`: the second of
            the dataset's supervised keys, else `"label"`.

    Returns:
        A tuple `(texts, labels, class_names)`: a list of `str`, a list of int indexing
        `class_names`, and the label feature's class names (`["neg", "pos"]` for IMDB).

    Raises:
        ValueError: TFDS cannot provide the dataset (unknown name, no network, missing
            download) or has no such feature; the message names the dataset and the reason.

    Example:

    >>> import tensorflow_datasets as tfds
    >>> with tfds.testing.mock_data(num_examples=3):  # random data in the real structure
    ...     texts, labels, class_names = load_tfds_classification("imdb_reviews")
    >>> len(texts), class_names
    (3, ['neg', 'pos'])
    """
    dataset, info = _load(name, split, data_dir)
    default_text, default_label = _supervised_keys(info, "text", "label")
    text_key = text_key or default_text
    label_key = label_key or default_label
    texts, labels = _columns(name, split, dataset, [text_key, label_key])
    labels = [int(label) for label in labels.tolist()]
    feature = info.features[label_key] if label_key in info.features else None
    class_names = list(getattr(feature, "names", None) or [])
    if not class_names:
        class_names = [str(i) for i in range(max(labels, default=-1) + 1)]
    return _decode(texts), labels, class_names


def load_tfds_text(name, split="train", data_dir=None, text_key="text"):
    """Loads a text corpus from TensorFlow Datasets as one string, for language models.

    Args:
        name: str. The TFDS name, e.g. `"tiny_shakespeare"` (one example holding the whole
            split).
        split: str. The TFDS split. Defaults to `"train"`.
        data_dir: str. Where TFDS keeps its data. Defaults to `None` (TFDS' default).
        text_key: str. The text feature. Defaults to `"text"`.

    Returns:
        The split's examples joined with newlines, a `str`.

    Raises:
        ValueError: TFDS cannot provide the dataset or has no such feature.

    Example:

    >>> import tensorflow_datasets as tfds
    >>> with tfds.testing.mock_data(num_examples=2):
    ...     text = load_tfds_text("tiny_shakespeare")
    >>> isinstance(text, str)
    True
    """
    dataset, _ = _load(name, split, data_dir)
    (texts,) = _columns(name, split, dataset, [text_key])
    return "\n".join(_decode(texts))


def load_tfds_translation(
    name, source_language=None, target_language=None, split="train", data_dir=None
):
    """Loads text pairs from a TensorFlow Datasets translation or summarisation dataset.

    Any two text features make pairs: languages for translation (`"pt"`, `"en"`), or an
    article and its summary for summarisation (`gigaword`: `"document"`, `"summary"`;
    `cnn_dailymail`: `"article"`, `"highlights"`; `xsum`: `"document"`, `"summary"`).

    Args:
        name: str. The TFDS name with its configuration, e.g. `"ted_hrlr_translate/pt_to_en"`,
            `"wmt14_translate/de-en"` or `"gigaword"`.
        source_language: str. The source feature, e.g. `"pt"` or `"document"`. Defaults to
            `None`: the first of the dataset's supervised keys.
        target_language: str. The target feature, e.g. `"en"` or `"summary"`. Defaults to
            `None`: the second of the dataset's supervised keys.
        split: str. The TFDS split. Defaults to `"train"`.
        data_dir: str. Where TFDS keeps its data. Defaults to `None` (TFDS' default).

    Returns:
        A tuple `(sources, targets)` of two equally long lists of `str`.

    Raises:
        ValueError: TFDS cannot provide the dataset, or it has no such feature (the message
            lists the features it has).

    Example:

    >>> import tensorflow_datasets as tfds
    >>> with tfds.testing.mock_data(num_examples=2):
    ...     sources, targets = load_tfds_translation("ted_hrlr_translate/pt_to_en", "pt", "en")
    ...     articles, headlines = load_tfds_translation("gigaword")  # document → summary
    >>> len(sources), len(targets), len(articles), len(headlines)
    (2, 2, 2, 2)
    """
    dataset, info = _load(name, split, data_dir)
    default_source, default_target = _supervised_keys(info, None, None)
    source_language = source_language or default_source
    target_language = target_language or default_target
    if not (source_language and target_language):
        raise ValueError(
            f"The TensorFlow Datasets dataset {name!r} has no supervised keys to take the "
            "source and target features from. Name them: source_language and "
            f"target_language. Features found: {sorted(dataset.element_spec)}."
        )
    sources, targets = _columns(name, split, dataset, [source_language, target_language])
    return _decode(sources), _decode(targets)


def load_tfds_images(name, split="train", data_dir=None):
    """Loads an image-classification dataset from TensorFlow Datasets, scaled to [0, 1].

    Image and label features are the dataset's supervised keys, else `"image"` and `"label"`.

    Args:
        name: str. The TFDS name, e.g. `"mnist"`, `"fashion_mnist"` or `"cifar10"`.
        split: str. The TFDS split. Defaults to `"train"`.
        data_dir: str. Where TFDS keeps its data. Defaults to `None` (TFDS' default).

    Returns:
        A tuple `(images, labels)`: float32 images `(N, H, W, C)` in [0, 1] and int32 labels
        `(N,)`.

    Raises:
        ValueError: TFDS cannot provide the dataset or has no such feature.

    Example:

    >>> import tensorflow_datasets as tfds
    >>> with tfds.testing.mock_data(num_examples=2):
    ...     images, labels = load_tfds_images("mnist")
    >>> images.shape, images.dtype
    ((2, 28, 28, 1), dtype('float32'))
    """
    dataset, info = _load(name, split, data_dir)
    image_key, label_key = _supervised_keys(info, "image", "label")
    images, labels = _columns(name, split, dataset, [image_key, label_key])
    if np.issubdtype(images.dtype, np.integer):
        images = images.astype("float32") / 255.0
    return images.astype("float32"), labels.astype("int32")


def load_tfds_tagging(name, split="train", data_dir=None, tokens_key="tokens", tags_key="ner"):
    """Loads a sequence-labelling dataset from TensorFlow Datasets: sentences of words and
    their tags.

    Args:
        name: str. The TFDS name, e.g. `"conll2003"` (IOB2 entity tags, parts of speech and
            chunks of English news).
        split: str. The TFDS split. Defaults to `"train"`.
        data_dir: str. Where TFDS keeps its data. Defaults to `None` (TFDS' default).
        tokens_key: str. The feature holding each sentence's words. Defaults to `"tokens"`.
        tags_key: str. The feature holding their tags, a sequence of `ClassLabel` (conll2003:
            `"ner"`, `"pos"` or `"chunks"`). Defaults to `"ner"`.

    Returns:
        A tuple `(words, tags)`: two lists of equally long lists of str, one per sentence.

    Raises:
        ValueError: TFDS cannot provide the dataset, has no such feature, or a sentence has
            not one tag per word.

    Example:

    >>> import tensorflow as tf
    >>> import tensorflow_datasets as tfds
    >>> def sentences(*args, **kwargs):  # stands in for the download
    ...     return tf.data.Dataset.from_tensors(
    ...         {"tokens": ["EU", "rejects", "German", "call"], "ner": [3, 0, 7, 0]})
    >>> with tfds.testing.mock_data(as_dataset_fn=sentences):
    ...     load_tfds_tagging("conll2003")
    ([['EU', 'rejects', 'German', 'call']], [['B-ORG', 'O', 'B-MISC', 'O']])
    """
    tfds = _tfds()
    dataset, info = _load(name, split, data_dir)
    available = sorted(dataset.element_spec) if isinstance(dataset.element_spec, dict) else []
    for key in (tokens_key, tags_key):
        if key not in available:
            raise ValueError(
                f"The TensorFlow Datasets dataset {name!r} has no feature {key!r}. Features "
                f"found: {available}. Pass the right key (--tag-feature)."
            )
    feature = info.features[tags_key].feature
    names = list(getattr(feature, "names", None) or [])
    words, tags = [], []
    try:
        for example in tfds.as_numpy(dataset):
            words.append(_decode(example[tokens_key]))
            ids = example[tags_key].tolist()
            tags.append([names[i] if names else str(i) for i in ids])
    except Exception as error:  # a damaged or partly downloaded dataset fails while read
        raise _failure(name, split, _reason(error)) from error
    for number, (row_words, row_tags) in enumerate(zip(words, tags)):
        if len(row_words) != len(row_tags):
            raise ValueError(
                f"The TensorFlow Datasets dataset {name!r} (split {split!r}) has a sentence "
                f"(example {number}) of {len(row_words)} {tokens_key!r} and {len(row_tags)} "
                f"{tags_key!r}. Expected one tag per word."
            )
    return words, tags


__all__ = [
    "load_tfds_classification",
    "load_tfds_images",
    "load_tfds_tagging",
    "load_tfds_text",
    "load_tfds_translation",
]

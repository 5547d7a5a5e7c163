"""Transfer learning: a pre-trained keras-hub text classifier (BERT family), fine-tuned on raw text.

The backbone, its tokenizer and its preprocessor come from a keras-hub preset: a local preset
directory (as `save_to_preset` writes one), a keras-hub preset name such as
`"bert_tiny_en_uncased"`, or a `kaggle://` or `hf://` handle. Only a directory works without a
network; a name or handle on a machine that cannot reach its hub fails at once, with one clear
error, rather than after the hub clients' retries.

This model is not in the registry: the model contract builds every registered model from
nothing, and this one needs a preset. `kzoo.training` builds it for the `pretrained_classifier`
recipe all the same.
"""

import os
import socket
import urllib.parse

import keras
import keras_hub

from kzoo import validation

# What a hub handle downloads from, and the environment variable that moves it.
_HUB_HOSTS = {
    "kaggle": ("KAGGLE_API_ENDPOINT", "https://api.kaggle.com"),
    "hf": ("HF_ENDPOINT", "https://huggingface.co"),
}
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
# Seconds to wait for a hub's TCP handshake before calling it unreachable.
_PROBE_TIMEOUT = 5.0


# keras-hub's samplers by name (keras_hub.samplers.get), for a generator.
_SAMPLERS = ("beam", "contrastive", "greedy", "random", "top_k", "top_p")
# What each kind of pre-trained model is loaded as, and a preset name of that kind.
_KINDS = {
    "text classifier": (keras_hub.models.TextClassifier, "bert_tiny_en_uncased"),
    "causal language model": (keras_hub.models.CausalLM, "gpt2_base_en"),
}


def _fail_preset(preset, kind="text classifier"):
    raise ValueError(
        "Invalid value for argument preset. Expected a preset directory (with the config.json "
        f"that `save_to_preset` writes), a keras-hub {kind} preset name such as "
        f"{_KINDS[kind][1]!r}, or a 'kaggle://' or 'hf://' handle. Received: preset={preset}"
    )


def check_hub_reachable(preset, scheme=None, action="download"):
    """Raises `ConnectionError` at once when the hub that `preset` downloads from (or uploads
    to) cannot be reached: without a network, huggingface_hub retries for about 25 s and then
    reports a missing config.json. Behind a proxy the clients' own connection decides; in
    Hugging Face's offline mode (`HF_HUB_OFFLINE=1`) a download reads the hub's cache alone.

    Args:
        preset: str. A `"kaggle://..."` or `"hf://..."` handle (other strings pass).
        scheme: str or `None`. The hub, when `preset` does not say it (`"kaggle"` for
            keras-hub's own preset names). Defaults to the handle's scheme.
        action: str. `"download"` or `"upload"`, for the message.
    """
    scheme = scheme or preset.partition("://")[0].lower()
    if scheme not in _HUB_HOSTS or any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return
    offline = os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    if scheme == "hf" and action == "download" and offline:
        return  # the client answers from its cache, or says it is offline, without a network
    variable, default = _HUB_HOSTS[scheme]
    url = urllib.parse.urlsplit(os.environ.get(variable) or default)
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=_PROBE_TIMEOUT).close()
    except OSError as error:
        advice = (
            "Without a network, pass the local directory of the preset instead (download it "
            "elsewhere, or write one with keras-hub's `save_to_preset`)."
            if action == "download"
            else "Upload it from a machine with a network."
        )
        raise ConnectionError(
            f"Cannot {action} preset {preset!r}: {host} cannot be reached ({error}). {advice}"
        ) from None


def resolve_preset(preset, kind="text classifier"):
    """Returns `preset` as a str after checking it names something loadable.

    Args:
        preset: str or path. A preset directory, a keras-hub preset name or a hub handle.
        kind: str. `"text classifier"` or `"causal language model"`: whose preset names count.

    Raises:
        ValueError: for anything else; `ConnectionError` at once for a download without a
            network.
    """
    if not isinstance(preset, (str, os.PathLike)) or not os.fspath(preset):
        _fail_preset(preset, kind)
    preset = os.fspath(preset)
    if os.path.isdir(preset):
        if not os.path.isfile(os.path.join(preset, "config.json")):
            _fail_preset(preset, kind)
        return preset
    if "://" in preset:
        scheme = preset.partition("://")[0].lower()
    elif preset in _KINDS[kind][0].presets:
        scheme = "kaggle"  # keras-hub's own presets live on Kaggle
    else:
        _fail_preset(preset, kind)  # neither a directory nor something a hub could serve
    check_hub_reachable(preset, scheme)
    return preset


def build_pretrained_classifier(
    preset,
    num_classes=2,
    sequence_length=None,
    dropout=0.1,
    trainable_backbone=True,
):
    """Pre-trained keras-hub text classifier (BERT family): raw strings in, probabilities out.

    Loads the backbone's pre-trained weights and its tokenizer from `preset` with keras-hub's
    `TextClassifier.from_preset` (BERT, DistilBERT, RoBERTa, ... whichever family the preset
    is), and adds a freshly initialised softmax head over the pooled output: Devlin et al.
    (2019), "BERT: Pre-training of Deep Bidirectional Transformers for Language
    Understanding" (https://arxiv.org/abs/1810.04805), fine-tuning for sentence
    classification. The model's own preprocessor tokenizes, adds `[CLS]`/`[SEP]` and pads in
    `fit`, `evaluate` and `predict`, so they take raw strings; calling the model directly takes
    the preprocessor's output (`model(model.preprocessor(texts))`).

    Args:
        preset: str. A local preset directory (written by keras-hub's `save_to_preset`), a
            keras-hub preset name such as `"bert_tiny_en_uncased"`, or a `"kaggle://..."` or
            `"hf://..."` handle. Names and handles download, so they need a network; without
            one they raise `ConnectionError` at once.
        num_classes: int. Number of classes, at least 2. Defaults to `2`.
        sequence_length: int or None. Tokens per text, `[CLS]` and `[SEP]` included; longer
            texts are truncated. `None` keeps the preset's preprocessor length (512 for BERT,
            slow on a CPU), at most the backbone's `max_sequence_length`. Defaults to `None`.
        dropout: float. Dropout rate on the pooled output, in [0, 1). Defaults to `0.1`.
        trainable_backbone: bool. Whether fine-tuning updates the backbone too; `False` trains
            the head alone (feature extraction). Defaults to `True`.

    Returns:
        A `keras_hub.models.TextClassifier` compiled with Adam(5e-5), the fine-tuning rate of
        keras-hub and BERT's paper, sparse categorical cross-entropy and accuracy. It maps
        texts `(batch_size,)` to class probabilities `(batch_size, num_classes)`, and saves to
        `.keras` with its preprocessor.

    Example:

    >>> import os, tempfile
    >>> import keras_hub
    >>> from kzoo import build_pretrained_classifier
    >>> preset = os.path.join(tempfile.mkdtemp(), "tiny_bert")  # a tiny, untrained "preset"
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film"]
    >>> keras_hub.models.BertBackbone(vocabulary_size=len(vocabulary), num_layers=1,
    ...     num_heads=2, hidden_dim=8, intermediate_dim=16).save_to_preset(preset)
    >>> keras_hub.models.BertTokenizer(vocabulary=vocabulary).save_to_preset(preset)
    >>> model = build_pretrained_classifier(preset, num_classes=3, sequence_length=8)
    >>> model.predict(["good film", "bad film"], verbose=0).shape
    (2, 3)
    """
    validation.int_at_least("num_classes", num_classes, 2)
    if sequence_length is not None:
        validation.int_at_least("sequence_length", sequence_length, 2)  # [CLS] and [SEP]
    validation.rate("dropout", dropout)
    validation.boolean("trainable_backbone", trainable_backbone)
    preset = resolve_preset(preset)

    preprocessor_args = {} if sequence_length is None else {"sequence_length": sequence_length}
    preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
        preset, **preprocessor_args
    )
    model = keras_hub.models.TextClassifier.from_preset(
        preset,
        num_classes=num_classes,
        preprocessor=preprocessor,
        activation="softmax",
        dropout=dropout,
    )
    limit = getattr(model.backbone, "max_sequence_length", None)
    if limit and sequence_length is not None and sequence_length > limit:
        raise ValueError(
            f"Invalid value for argument sequence_length. Expected an integer <= {limit}, the "
            f"preset's max_sequence_length. Received: sequence_length={sequence_length}"
        )
    if limit and preprocessor.sequence_length > limit:
        # A preset saved without its preprocessor gets keras-hub's default length (512).
        preprocessor.sequence_length = limit
    model.backbone.trainable = trainable_backbone
    model.compile(
        optimizer=keras.optimizers.Adam(5e-5),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def build_pretrained_generator(preset, sequence_length=None, lora_rank=None, sampler="greedy"):
    """Pre-trained keras-hub causal language model (GPT-2, and whichever causal families
    keras-hub loads), to fine-tune on raw text and generate from prompts.

    Loads the backbone's pre-trained weights and its tokenizer from `preset` with keras-hub's
    `CausalLM.from_preset`. Its preprocessor tokenizes raw strings in `fit` and `evaluate`
    (the targets are the next tokens, padding weighs nothing), and `generate` continues
    prompts. With `lora_rank`, the backbone's weights are frozen and low-rank updates of its
    attention's query and value projections train instead (Hu et al., 2021, "LoRA: Low-Rank
    Adaptation of Large Language Models", https://arxiv.org/abs/2106.09685).

    Args:
        preset: str. A local preset directory (written by keras-hub's `save_to_preset`), a
            keras-hub preset name such as `"gpt2_base_en"`, or a `"kaggle://..."` or
            `"hf://..."` handle. Names and handles download, so they need a network; without
            one they raise `ConnectionError` at once.
        sequence_length: int or None. Tokens per training example, the start and end tokens
            included. `None` keeps the preset's preprocessor length, at most the backbone's
            `max_sequence_length`. Defaults to `None`.
        lora_rank: int or None. Rank of the LoRA updates; `None` fine-tunes every weight.
            Defaults to `None`.
        sampler: str. keras-hub sampler of `generate` and of the exported `serving_default`
            (`"greedy"`, `"top_k"`, `"top_p"`, `"random"`...). Defaults to `"greedy"`.

    Returns:
        A `keras_hub.models.CausalLM` compiled with Adam(5e-5), cross-entropy over the logits
        and accuracy, both weighted by the padding mask.

    Example:

    >>> import os, tempfile
    >>> from kzoo import build_pretrained_generator
    >>> from kzoo.testing import write_tiny_gpt2_preset
    >>> preset = write_tiny_gpt2_preset(os.path.join(tempfile.mkdtemp(), "tiny_gpt2"))
    >>> model = build_pretrained_generator(preset, sequence_length=12, lora_rank=2)
    >>> model.preprocessor.sequence_length
    12
    >>> len(model.generate(["the "], max_length=8, stop_token_ids=None)) > 0
    True
    """
    if sequence_length is not None:
        validation.int_at_least("sequence_length", sequence_length, 2)  # start and end tokens
    if lora_rank is not None:
        validation.positive_int("lora_rank", lora_rank)
    if sampler not in _SAMPLERS:
        raise ValueError(
            f"Invalid value for argument sampler. Expected one of {sorted(_SAMPLERS)}. "
            f"Received: sampler={sampler}"
        )
    preset = resolve_preset(preset, "causal language model")
    preprocessor_args = {} if sequence_length is None else {"sequence_length": sequence_length}
    preprocessor = keras_hub.models.CausalLMPreprocessor.from_preset(preset, **preprocessor_args)
    model = keras_hub.models.CausalLM.from_preset(preset, preprocessor=preprocessor)
    limit = getattr(model.backbone, "max_sequence_length", None)
    if limit and sequence_length is not None and sequence_length > limit:
        raise ValueError(
            f"Invalid value for argument sequence_length. Expected an integer <= {limit}, the "
            f"preset's max_sequence_length. Received: sequence_length={sequence_length}"
        )
    if limit and preprocessor.sequence_length > limit:
        preprocessor.sequence_length = limit  # a preset saved without its preprocessor
    if lora_rank is not None:
        model.backbone.enable_lora(lora_rank)
    model.compile(
        optimizer=keras.optimizers.Adam(5e-5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        sampler=sampler,
    )
    return model

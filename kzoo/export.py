"""SavedModel export for TensorFlow Serving: raw-text signatures, warm-up requests, versions.

`export_bundle` writes `saved_models/<name>/<version>/` with `saved_model.pb`, `variables/`,
`assets/` (vocabularies) and `assets.extra/tf_serving_warmup_requests`, with the endpoints its
task kind serves (`kzoo.tasks`), then refreshes `saved_models/models.config` for
`tensorflow_model_server --model_config_file`. `export_run` does the same from a finished run
folder (`kzoo export`).

Versions are integers and the next one is the highest plus one. A version is written and
checked in a hidden staging folder next to the model folders and renamed into place only when
complete and checked: a server watching `saved_models/<name>` never sees a partial or broken
version, and an existing version is never replaced.
"""

import dataclasses
import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from kzoo import validation
from kzoo.backends import backend_of_process, require_tensorflow
from kzoo.runs import load_run
from kzoo.serving.servables import WARMUP_FILE  # where TF Serving reads warm-up requests
from kzoo.signatures import build_archive
from kzoo.tasks import get_task

# TF Serving serves a model by its folder name, which clients put in URLs
# (/v1/models/<name>:predict): no path separators, and not hidden (staging folders are).
_MODEL_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def check_model_name(name):
    """Checks that `name` can be a TF Serving model name: letters, digits, `_`, `-` and `.`,
    not starting with `.`; returns it.

    Example:

    >>> check_model_name("lstm_classifier")
    'lstm_classifier'
    """
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise ValueError(
            "Invalid value for argument name. Expected a model name of letters, digits, '_', "
            f"'-' and '.', not starting with '.'. Received: name={name}"
        )
    return name


def versions(model_dir):
    """Returns the integer versions present in `model_dir`, sorted."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(entry) for entry in os.listdir(model_dir) if entry.isdigit())


def next_version(model_dir):
    """Returns the highest existing version plus one (1 for a new model)."""
    existing = versions(model_dir)
    return existing[-1] + 1 if existing else 1


def export_versioned(write, export_dir, name):
    """Writes a new version of model `name` under `export_dir` with `write(path)`.

    Args:
        write: callable. `write(path)` writes the complete SavedModel into the folder `path`
            (which does not exist yet), and may check it; if it raises, nothing is published.
        export_dir: str. Base folder, e.g. `saved_models`.
        name: str. Model name, the folder TF Serving serves it from.

    Returns:
        The path of the new version folder.

    Example:

    >>> import keras, tempfile
    >>> from kzoo import build_cnn_sentiment
    >>> model = build_cnn_sentiment(vocabulary_size=50, filters=4, embedding_dim=4)
    >>> base = tempfile.mkdtemp()
    >>> path = export_versioned(lambda p: model.export(p, verbose=False), base, "cnn")
    >>> path.endswith("cnn/1"), versions(base + "/cnn")
    (True, [1])
    """
    model_dir = os.path.join(export_dir, check_model_name(name))
    os.makedirs(model_dir, exist_ok=True)
    # Hidden and outside the model folder: TF Serving only loads integer folders inside it.
    staging = tempfile.mkdtemp(prefix=f".{name}-export-", dir=export_dir)
    try:
        written = os.path.join(staging, "version")
        write(written)
        while True:
            final = os.path.join(model_dir, str(next_version(model_dir)))
            try:
                # rename(2) is atomic and refuses to replace a non-empty folder.
                os.rename(written, final)
                return final
            except OSError as error:
                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                # Another export took this version meanwhile: take the next one.
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# === Warm-up requests ===


def write_warmup_requests(path, model_name, requests):
    """Writes TF Serving's warm-up file: a PredictionLog record of a PredictRequest per
    signature.

    TF Serving replays `assets.extra/tf_serving_warmup_requests` when it loads a version, so
    the first real request does not pay for graph optimization and kernel creation.

    Args:
        path: str. The file to write.
        model_name: str. The model's name in the requests.
        requests: dict. Inputs (NumPy values by input name) by signature name.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature_name, inputs in requests.items():
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
            )
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())


# === models.config ===


def write_models_config(export_dir, container_base="/models"):
    """Writes `<export_dir>/models.config`: a `model_config_list` of every exported model.

    Base paths are those inside TF Serving's container, where `export_dir` is mounted at
    `container_base` (see the README's `docker run` command).
    """
    config = model_server_config_pb2.ModelServerConfig()
    for name in sorted(os.listdir(export_dir)):
        if not name.startswith(".") and versions(os.path.join(export_dir, name)):
            entry = config.model_config_list.config.add()
            entry.name = name
            entry.base_path = f"{container_base}/{name}"
            entry.model_platform = "tensorflow"
    path = os.path.join(export_dir, "models.config")
    staged = path + ".tmp"
    with open(staged, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(config))
    os.replace(staged, path)
    return path


# === The check after export ===


def _compare(name, actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.dtype.kind in "OSU":
        same = actual.shape == expected.shape and all(
            (a.decode() if isinstance(a, bytes) else a)
            == (e.decode() if isinstance(e, bytes) else e)
            for a, e in zip(actual.ravel(), expected.ravel())
        )
    else:
        same = actual.shape == expected.shape and np.allclose(
            actual, expected, atol=1e-5, rtol=1e-4
        )
    if not same:
        raise AssertionError(
            f"The exported SavedModel's output {name!r} differs from the in-memory pipeline: "
            f"{actual!r} != {expected!r}"
        )


def check_export(path, expected, inputs):
    """Reloads the SavedModel at `path`, calls `serving_default` on `inputs` and checks every
    output equals `expected` (strings exactly, numbers to 1e-5)."""
    reloaded = tf.saved_model.load(path)
    outputs = reloaded.signatures["serving_default"](
        **{k: tf.constant(v.tolist() if v.dtype == object else v) for k, v in inputs.items()}
    )
    for key, value in expected.items():
        _compare(key, outputs[key].numpy(), value)


# === Export ===


def serving_functions(bundle):
    """The SavedModel endpoints of a `ServingBundle`, by name: its task kind's."""
    return get_task(bundle.task).endpoints(bundle)


def export_bundle(bundle, export_dir, name, max_new_tokens_limit=None):
    """Exports a `kzoo.signatures.ServingBundle` as a new version of `name`; returns its path.

    The version gets the raw-input endpoints of `kzoo.signatures`, the vocabularies as assets,
    warm-up requests, and is reloaded and checked against the in-memory pipeline before it is
    renamed into place. `models.config` is refreshed afterwards.

    Args:
        bundle: `ServingBundle`. The model and what its endpoints need.
        export_dir: str. Base folder, e.g. `saved_models`.
        name: str. Model name.
        max_new_tokens_limit: int, optional. Most tokens a request to a generator's `sample`
            or `token_ids` endpoint may ask for (replaces the bundle's
            `max_new_tokens_limit`; default: the GPT's context, or 2048 for RNN generators).

    Returns:
        The path of the new version folder.
    """
    require_tensorflow("Exporting a SavedModel")
    check_model_name(name)
    if max_new_tokens_limit is not None:
        validation.positive_int("max_new_tokens_limit", max_new_tokens_limit)
        bundle = dataclasses.replace(bundle, max_new_tokens_limit=max_new_tokens_limit)
    task = get_task(bundle.task)
    functions = serving_functions(bundle)
    requests = task.warmup_requests(bundle)
    inputs = requests["serving_default"]
    expected = task.reference_outputs(bundle, inputs, functions)

    def write(path):
        build_archive(bundle, functions).write_out(path, verbose=False)
        write_warmup_requests(os.path.join(path, WARMUP_FILE), name, requests)
        check_export(path, expected, inputs)

    final = export_versioned(write, export_dir, name)
    write_models_config(export_dir)
    return final


def export_run(run_dir, export_dir="saved_models", name=None, max_new_tokens_limit=None):
    """Exports a finished run folder (`runs/<recipe>`) as a new TF Serving version.

    Args:
        run_dir: str. A finished run folder.
        export_dir: str. Base folder. Defaults to `saved_models`.
        name: str, optional. Model name; defaults to the run's recipe.
        max_new_tokens_limit: int, optional. See `export_bundle`.

    On Keras' JAX and PyTorch backends the export runs in a TensorFlow process (the run's
    `model.keras` loads there with the same outputs), so a run exports the same SavedModel
    whatever backend trained it.

    Returns:
        The path of the new version folder.
    """
    if name is not None:
        check_model_name(name)  # before anything is read or written
    if backend_of_process() != "tensorflow":
        return _export_in_tensorflow(run_dir, export_dir, name, max_new_tokens_limit)
    bundle, config = load_run(run_dir)
    return export_bundle(
        bundle, export_dir, name or config["recipe"], max_new_tokens_limit=max_new_tokens_limit
    )


def _export_in_tensorflow(run_dir, export_dir, name, max_new_tokens_limit):
    """`kzoo export` in a child process on Keras' TensorFlow backend; its version folder."""
    command = [sys.executable, "-m", "kzoo", "export", os.fspath(run_dir)]
    command += ["--export-dir", os.fspath(export_dir)]
    if name is not None:
        command += ["--name", name]
    if max_new_tokens_limit is not None:
        command += ["--max-new-tokens-limit", str(max_new_tokens_limit)]
    environment = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["(no output)"]
        raise RuntimeError(f"Exporting {run_dir} on TensorFlow failed: {lines[-1]}")
    return done.stdout.strip().splitlines()[-1]

"""kzoo presets: a finished run published in keras-hub's layout, and loaded back in one line.

Every model zoo ships trained weights that load in one call (keras-hub's `from_preset`, timm's
`pretrained=True`). A kzoo preset is a finished run (`runs/<recipe>`) written as keras-hub
writes a preset, which is also Keras' own unzipped model format:

```
config.json        the model's Keras config (as in a .keras file), and under "kzoo": the
                   kzoo model, its task kind, the run's settings and the asset files
model.weights.h5   the weights (no optimizer state: fine-tuning starts a fresh one)
metadata.json      Keras', keras-hub's and kzoo's versions, the parameter count, the date,
                   the data the run trained on and its metrics
assets/            the run's vocabularies, class names and example inputs
```

`save_preset` writes one, `upload_preset` publishes it on Kaggle or Hugging Face (keras-hub's
`upload_preset`), and `from_preset` loads one from a folder or a `kaggle://` or `hf://` handle
(`kzoo.runs.load_run` reads it, as it reads a run folder), ready to use: a classifier takes
raw strings, and generators and translators go to `kzoo.generate`. `kzoo export` and
`kzoo serve --preset` serve one.

Example:

```python
kzoo.save_preset("runs/kim_cnn", "presets/kim_cnn_questions")
model = kzoo.from_preset("presets/kim_cnn_questions")  # or "hf://user/kim_cnn_questions"
model.predict(["What is the capital of Peru?"])  # probabilities of the 6 question types
kzoo.generate(kzoo.from_preset("presets/shakespeare_gpt"), "ROMEO:", 80)
```
"""

import datetime
import importlib.metadata
import json
import os
import shutil
import tempfile
import zipfile

import keras
import keras_hub

from kzoo.files import write_text_atomically
from kzoo.models.pretrained import check_hub_reachable
from kzoo.runs import (
    PRESET_ASSETS,
    PRESET_CONFIG,
    PRESET_METADATA,
    asset_files,
    is_hub_handle,
    is_preset,
    load_run,
)
from kzoo.tasks import get_task

# The settings that say which data a run trained on (metadata.json's "data").
_DATA_SETTINGS = ("dataset", "tfds_name", "train_file", "valid_file", "test_file", "encoding")


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _data_lines(run_dir):
    """The run log's lines on its data (sizes, vocabulary, classes), each once."""
    path = os.path.join(run_dir, "run.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        lines = [line.split("data: ", 1)[1].rstrip("\n") for line in f if "] data: " in line]
    return list(dict.fromkeys(lines))


def save_preset(run_dir, preset_dir):
    """Writes a finished run as a preset, in keras-hub's layout (see the module docstring).

    The folder is written beside its final place and renamed into it once complete.

    Args:
        run_dir: str. A finished run folder (`kzoo train`'s `--output-dir`), with
            `model.keras` and `config.json`.
        preset_dir: str. The preset folder to write; it must not exist, or be empty.

    Returns:
        `preset_dir`.

    Example:

    >>> import os, tempfile
    >>> import kzoo
    >>> from kzoo_cli import main
    >>> work = tempfile.mkdtemp()
    >>> run = os.path.join(work, "run")
    >>> main(["train", "cnn_sentiment", "--num-examples", "200", "--epochs", "1", "--no-export",
    ...       "--set", "model_args.filters=4", "--output-dir", run])  # doctest: +ELLIPSIS
    [kzoo] ...
    0
    >>> preset = kzoo.save_preset(run, os.path.join(work, "preset"))
    >>> sorted(os.listdir(preset))
    ['assets', 'config.json', 'metadata.json', 'model.weights.h5']
    >>> kzoo.from_preset(preset).predict(["a gripping film"], verbose=0).shape
    (1, 2)
    """
    run_dir, preset_dir = os.fspath(run_dir), os.fspath(preset_dir)
    model_path, settings_path = (os.path.join(run_dir, n) for n in ("model.keras", "config.json"))
    if not os.path.isfile(model_path) or not os.path.isfile(settings_path):
        raise ValueError(
            "Invalid value for argument run_dir. Expected a finished kzoo run folder with "
            f"model.keras and config.json. Received: run_dir={run_dir}"
        )
    if os.path.exists(preset_dir) and (not os.path.isdir(preset_dir) or os.listdir(preset_dir)):
        raise ValueError(
            "Invalid value for argument preset_dir. Expected a new or empty folder. "
            f"Received: preset_dir={preset_dir}, which holds files"
        )
    settings = _read_json(settings_path)
    parent = os.path.dirname(os.path.abspath(preset_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".preset-", dir=parent)
    try:
        written = os.path.join(staging, "preset")
        # Keras' unzipped format, from the model without its optimizer; the compile settings
        # (loss, metrics, optimizer kind) come from the run's .keras file.
        model = keras.models.load_model(model_path, compile=False)
        keras.saving.save_model(model, written, zipped=False)
        with zipfile.ZipFile(model_path) as archive:
            compiled = json.loads(archive.read("config.json")).get("compile_config")
        assets = []
        os.makedirs(os.path.join(written, PRESET_ASSETS), exist_ok=True)
        for name in asset_files(run_dir):
            shutil.copyfile(os.path.join(run_dir, name), os.path.join(written, PRESET_ASSETS, name))
            assets.append(name)
        config = _read_json(os.path.join(written, PRESET_CONFIG))
        config["compile_config"] = compiled
        config["kzoo"] = {
            "model": settings["model"],
            "task": settings["task"],
            "settings": settings,
            "assets": assets,
        }
        metrics_path = os.path.join(run_dir, "metrics.json")
        metadata = {
            **_read_json(os.path.join(written, PRESET_METADATA)),
            "keras_hub_version": keras_hub.__version__,
            "kzoo_version": importlib.metadata.version("kzoo"),
            "parameter_count": model.count_params(),
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "data": {
                **{key: settings.get(key) for key in _DATA_SETTINGS},
                "summary": _data_lines(run_dir),
            },
            "metrics": _read_json(metrics_path) if os.path.exists(metrics_path) else None,
        }
        for name, content in ((PRESET_CONFIG, config), (PRESET_METADATA, metadata)):
            text = json.dumps(content, indent=2, default=float)
            write_text_atomically(os.path.join(written, name), text)
        if os.path.isdir(preset_dir):
            os.rmdir(preset_dir)  # empty, as checked
        os.rename(written, preset_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return preset_dir


def from_preset(preset):
    """Loads a kzoo preset, ready to use.

    Args:
        preset: str. A preset folder (`save_preset`), a `"kaggle://..."` or `"hf://..."`
            handle of one (downloaded and cached by keras-hub's downloader; without a network,
            a `ConnectionError` at once), or a finished run folder.

    Returns:
        For a classifier, a `kzoo.tasks.classification.RawTextClassifier` (a `keras.Model`):
        raw strings in, the probability of each class out (`model.predict(["a fine film"])`),
        its classes in `model.class_names`; a fine-tuned keras-hub classifier as it is. For
        the other kinds, the run's `kzoo.signatures.ServingBundle` (the model with its
        vectorizers and settings), which `kzoo.generate`, `kzoo.perplexity` and
        `kzoo.export.export_bundle` take.
    """
    bundle, _ = load_run(preset)
    return get_task(bundle.task).ready_model(bundle)


def upload_preset(preset_dir, handle):
    """Publishes a preset folder on Kaggle (`kaggle://<user>/<model>/keras/<variation>`) or
    Hugging Face (`hf://<user>/<model>`), with keras-hub's `upload_preset`.

    Without a network it fails at once with a `ConnectionError`; the hub's own client takes
    the credentials (`KAGGLE_USERNAME`/`KAGGLE_KEY`, `HF_TOKEN` or their login files).

    Args:
        preset_dir: str. A folder `save_preset` wrote.
        handle: str. Where to publish it.
    """
    preset_dir = os.fspath(preset_dir)
    if not is_preset(preset_dir):
        raise ValueError(
            "Invalid value for argument preset_dir. Expected a kzoo preset folder, as "
            f"`kzoo preset save` writes it. Received: preset_dir={preset_dir}"
        )
    if not is_hub_handle(handle):
        raise ValueError(
            "Invalid value for argument handle. Expected 'kaggle://<user>/<model>/keras/"
            f"<variation>' or 'hf://<user>/<model>'. Received: handle={handle}"
        )
    check_hub_reachable(handle, action="upload")
    keras_hub.upload_preset(handle, preset_dir)
    return handle


__all__ = ["from_preset", "save_preset", "upload_preset"]

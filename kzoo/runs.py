"""A finished run, read back from its folder or from a preset: its settings, vocabularies,
classes and model.

`kzoo train` leaves `runs/<recipe>/` with `config.json`, the vocabularies and how each
vectorizer splits and standardizes (`vectorizers.json`), `class_names.txt`, `examples.json` and
`model.keras`; `load_run` rebuilds from them the `ServingBundle` that `kzoo export`,
`kzoo.generate` and `kzoo attention` work from.

A preset (`kzoo.presets.save_preset`) is the same finished run in keras-hub's layout, which is
also Keras' own unzipped model format: `config.json` (the model's Keras config, and under
`"kzoo"` the kzoo model, its task kind and the run's settings), `model.weights.h5`,
`metadata.json` (versions, data, metrics) and `assets/` (the run's vocabularies and
`vectorizers.json`, class names and examples). `load_run` reads a preset folder, or a
`kaggle://` or `hf://` handle of one, which keras-hub's downloader fetches and caches, as it
reads a run folder.
"""

import json
import os

import keras

# keras-hub's downloader of preset files (what its `from_preset` calls; not exported).
from keras_hub.src.utils.preset_utils import get_file

# Imported for their Keras registrations, so that `model.keras` loads: kzoo's models and
# layers, its optimizers (Kim's Adadelta), its text standardizations.
import kzoo.models  # noqa: F401
from kzoo import optimizers  # noqa: F401
from kzoo.data import vectorization
from kzoo.models.pretrained import check_hub_reachable
from kzoo.signatures import ServingBundle

# The vocabulary files of runs written before `vectorizers.json`, by the role of their
# vectorizer; their settings are the run's `split` and `standardize`.
VOCABULARY_FILES = {
    "text": "vocabulary.txt",
    "source": "source_vocabulary.txt",
    "target": "target_vocabulary.txt",
}
# How a run's vectorizers split and standardize, and their vocabulary files.
VECTORIZERS_FILE = "vectorizers.json"
# The other files a run writes that its model is served with.
RUN_ASSETS = ("class_names.txt", "examples.json")
# A preset's files: keras-hub's and Keras' names; the run's files go in `assets/`.
PRESET_CONFIG, PRESET_WEIGHTS, PRESET_METADATA, PRESET_ASSETS = (
    "config.json",
    "model.weights.h5",
    "metadata.json",
    "assets",
)
HUB_SCHEMES = ("kaggle", "hf")


def vocabulary_file(role):
    """The file a run keeps the vocabulary of its `role` vectorizer in."""
    return "vocabulary.txt" if role == "text" else f"{role}_vocabulary.txt"


def asset_files(run_dir):
    """The files of a finished run that `load_run` reads besides its model and settings: its
    vocabularies (those `vectorizers.json` names, or the older fixed names), `vectorizers.json`
    and the run's other assets, those that exist."""
    described = _read_json(os.path.join(run_dir, VECTORIZERS_FILE), None)
    vocabularies = (
        [settings["vocabulary"] for settings in described.values()]
        if described is not None
        else list(VOCABULARY_FILES.values())
    )
    names = [*vocabularies, VECTORIZERS_FILE, *RUN_ASSETS]
    return [name for name in names if os.path.exists(os.path.join(run_dir, name))]


def describe_vectorizers(vectorizers):
    """What `vectorizers.json` holds: each role's vocabulary file, split and standardization,
    so that `load_run` rebuilds every vectorizer as it was (a tagger's characters and words are
    split unlike the run's `split` setting says)."""
    return {
        role: {"vocabulary": vocabulary_file(role), **vectorization.vectorizer_settings(vectorizer)}
        for role, vectorizer in vectorizers.items()
    }


def _read_json(path, default):
    if not os.path.exists(path):
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def is_preset(path):
    """Whether `path` is a kzoo preset folder (`kzoo.presets.save_preset` wrote it)."""
    config = os.path.join(path, PRESET_CONFIG)
    if not os.path.isfile(os.path.join(path, PRESET_WEIGHTS)) or not os.path.isfile(config):
        return False
    return "kzoo" in _read_json(config, {})


def is_hub_handle(path):
    """Whether `path` is a `kaggle://` or `hf://` handle."""
    return isinstance(path, str) and path.partition("://")[0].lower() in HUB_SCHEMES


def download_preset(handle):
    """Fetches a kzoo preset from Kaggle or Hugging Face (keras-hub's downloader and cache)
    and returns its local folder. Without a network it fails at once (`ConnectionError`)."""
    check_hub_reachable(handle)
    config = _read_json(get_file(handle, PRESET_CONFIG), {})
    if "kzoo" not in config:
        raise ValueError(
            "Invalid value for argument run_dir. Expected a kzoo preset (its config.json names "
            f"a kzoo model). Received: run_dir={handle}, a preset without it"
        )
    files = [PRESET_METADATA, PRESET_WEIGHTS]
    files += [f"{PRESET_ASSETS}/{name}" for name in config["kzoo"]["assets"]]
    for name in files:
        get_file(handle, name)
    return os.path.dirname(get_file(handle, PRESET_CONFIG))


def model_file(run_dir):
    """The file that holds a finished run's (or a preset's) weights: its modification time
    says whether the model changed."""
    return os.path.join(run_dir, PRESET_WEIGHTS if is_preset(run_dir) else "model.keras")


def _for_this_backend(model):
    """A loaded model, ready to run here: Keras' PyTorch backend runs one step per call, so a
    run compiled with several (`steps_per_execution`, TensorFlow's and JAX's default in kzoo)
    runs them one at a time there; the steps are the same."""
    if keras.backend.backend() == "torch" and getattr(model, "steps_per_execution", 1) > 1:
        model.steps_per_execution = 1
    return model


def _preset_model(run_dir, config):
    """The preset's model: Keras' own loader of its unzipped format, compiled afterwards as
    the run compiled it (with a fresh optimizer: the preset keeps no optimizer state)."""
    model = keras.models.load_model(run_dir, compile=False)
    if config.get("compile_config"):
        model.compile_from_config(config["compile_config"])
    return model


def load_run(run_dir, load_model=True):
    """Reads a finished run folder (`runs/<recipe>`) or a preset back.

    Args:
        run_dir: str. A folder `kzoo train` finished, with `model.keras` and `config.json`; a
            preset folder (`kzoo.presets.save_preset`); or a `"kaggle://..."` or `"hf://..."`
            handle of a preset, downloaded and cached on first use.
        load_model: bool. Whether to load the model too; without it, the bundle's `model` is
            `None` (a run that fine-tunes a preset reads its vocabulary before its model).

    Returns:
        `(bundle, config)`: the `kzoo.signatures.ServingBundle` of its model, vectorizers
        (rebuilt from the vocabulary files), class names and examples; and its settings.

    Raises:
        ValueError: for a folder that holds no finished run nor preset.
        ConnectionError: for a hub handle, at once, when the hub cannot be reached.
    """
    if is_hub_handle(run_dir):
        run_dir = download_preset(run_dir)
    run_dir = os.fspath(run_dir)
    if is_preset(run_dir):
        preset = _read_json(os.path.join(run_dir, PRESET_CONFIG), None)
        config, assets = preset["kzoo"]["settings"], os.path.join(run_dir, PRESET_ASSETS)

        def read_model():
            return _preset_model(run_dir, preset)

    elif os.path.exists(os.path.join(run_dir, "model.keras")) and os.path.exists(
        os.path.join(run_dir, "config.json")
    ):
        config, assets = _read_json(os.path.join(run_dir, "config.json"), None), run_dir

        def read_model():
            return keras.models.load_model(os.path.join(run_dir, "model.keras"))

    else:
        raise ValueError(
            f"Invalid value for argument run_dir. Expected a finished kzoo run folder with "
            f"model.keras and config.json, or a kzoo preset. Received: run_dir={run_dir}"
        )

    def path(name):
        return os.path.join(assets, name)

    described = _read_json(path(VECTORIZERS_FILE), None)
    if described is None:  # a run folder from before vectorizers.json
        split = "character" if config["split"] == "character" else "whitespace"
        described = {
            role: {"vocabulary": name, "split": split, "standardize": config["standardize"]}
            for role, name in VOCABULARY_FILES.items()
            if os.path.exists(path(name))
        }
    vectorizers = {
        role: vectorization.vectorizer_from_vocabulary(
            vectorization.load_vocabulary(path(settings["vocabulary"])),
            split=settings["split"],
            standardize=settings["standardize"],
            name=f"{role}_vectorizer",
        )
        for role, settings in described.items()
    }
    class_names = None
    if os.path.exists(path("class_names.txt")):
        with open(path("class_names.txt"), encoding="utf-8") as f:
            class_names = [line.rstrip("\n") for line in f]
    bundle = ServingBundle(
        model=_for_this_backend(read_model()) if load_model else None,
        task=config["task"],
        vectorizers=vectorizers,
        class_names=class_names,
        split=config["split"],
        max_length=config.get("max_length"),
        max_decode_length=config.get("max_decode_length", 64),
        examples=_read_json(path("examples.json"), []),
        sampler=config.get("model_args", {}).get("sampler"),
    )
    return bundle, config

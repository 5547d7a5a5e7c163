"""A finished run, read back from its folder: its settings, vocabularies, classes and model.

`kzoo train` leaves `runs/<recipe>/` with `config.json`, the vocabularies and how each
vectorizer splits and standardizes (`vectorizers.json`), `class_names.txt`, `examples.json` and
`model.keras`; `load_run` rebuilds from them the `ServingBundle` that `kzoo export`,
`kzoo.generate` and `kzoo attention` work from.
"""

import json
import os

import keras

# Imported for their Keras registrations, so that `model.keras` loads: kzoo's models and
# layers, its optimizers (Kim's Adadelta), its text standardizations.
import kzoo.models  # noqa: F401
from kzoo import optimizers  # noqa: F401
from kzoo.data import vectorization
from kzoo.signatures import ServingBundle

# The vocabulary files of runs written before `vectorizers.json`, by the role of their
# vectorizer; their settings are the run's `split` and `standardize`.
VOCABULARY_FILES = {
    "text": "vocabulary.txt",
    "source": "source_vocabulary.txt",
    "target": "target_vocabulary.txt",
}


def vocabulary_file(role):
    """The file a run keeps the vocabulary of its `role` vectorizer in."""
    return "vocabulary.txt" if role == "text" else f"{role}_vocabulary.txt"


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


def load_run(run_dir):
    """Reads a finished run folder (`runs/<recipe>`) back.

    Args:
        run_dir: str. A folder `kzoo train` finished, with `model.keras` and `config.json`.

    Returns:
        `(bundle, config)`: the `kzoo.signatures.ServingBundle` of its model, vectorizers
        (rebuilt from the vocabulary files), class names and examples; and its settings.

    Raises:
        ValueError: for a folder that holds no finished run.
    """

    def path(*parts):
        return os.path.join(run_dir, *parts)

    if not os.path.exists(path("model.keras")) or not os.path.exists(path("config.json")):
        raise ValueError(
            f"Invalid value for argument run_dir. Expected a finished kzoo run folder with "
            f"model.keras and config.json. Received: run_dir={run_dir}"
        )
    config = _read_json(path("config.json"), None)
    described = _read_json(path("vectorizers.json"), None)
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
        model=keras.models.load_model(path("model.keras")),
        task=config["task"],
        vectorizers=vectorizers,
        class_names=class_names,
        split=config["split"],
        max_length=config.get("max_length"),
        max_decode_length=config.get("max_decode_length", 64),
        examples=_read_json(path("examples.json"), []),
    )
    return bundle, config

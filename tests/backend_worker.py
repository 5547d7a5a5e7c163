"""The subprocess side of tests/test_backends.py: Keras picks its backend once per process.

    KERAS_BACKEND=jax python backend_worker.py save DIR      # every model's tiny config: .keras
                                                             # file, inputs and outputs
    KERAS_BACKEND=torch python backend_worker.py outputs DIR # every DIR/<name>.keras loaded, run
                                                             # on its inputs, outputs written
    KERAS_BACKEND=jax python backend_worker.py guards DIR    # what needs TensorFlow, tried
    KERAS_BACKEND=jax python backend_worker.py all DIR       # outputs of DIR/from_tensorflow,
                                                             # save to DIR/from_<backend>, guards

Files: `DIR/<name>.keras`, `DIR/<name>.inputs.npz`, `DIR/<name>.<backend>.npz` (the outputs
computed on that backend); `guards` writes `DIR/guards.json`, each feature's error message;
`all` also reads the runs `DIR/runs.json` names with `use_runs` and writes
`DIR/runs.<backend>.json`.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

SINGLE = "__single__"  # the key of a model's only input in the inputs file


def save_inputs(path, inputs):
    np.savez(path, **(inputs if isinstance(inputs, dict) else {SINGLE: inputs}))


def load_inputs(path):
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    return arrays[SINGLE] if SINGLE in arrays else arrays


def outputs_as_arrays(outputs):
    import keras

    flat = keras.tree.flatten(outputs)
    return {str(i): keras.ops.convert_to_numpy(x) for i, x in enumerate(flat)}


def save_models(folder):
    """Builds every registered model's tiny config with seed 0 and saves it with its outputs."""
    import keras

    import kzoo
    from kzoo.registry import get_model_entry

    backend = keras.backend.backend()
    for name in kzoo.list_models():
        tiny = get_model_entry(name).tiny
        keras.utils.set_random_seed(0)
        model = get_model_entry(name).builder(**tiny.kwargs)
        inputs = tiny.inputs(np.random.default_rng(1234))
        model.save(os.path.join(folder, f"{name}.keras"))
        save_inputs(os.path.join(folder, f"{name}.inputs.npz"), inputs)
        outputs = outputs_as_arrays(model(inputs, training=False))
        np.savez(os.path.join(folder, f"{name}.{backend}.npz"), **outputs)


def load_models(folder):
    """Loads every `.keras` file of `folder` and writes its outputs on this backend."""
    import keras

    import kzoo  # noqa: F401 - registers kzoo's serializable objects

    backend = keras.backend.backend()
    for file in sorted(os.listdir(folder)):
        if not file.endswith(".keras"):
            continue
        name = file[: -len(".keras")]
        model = keras.models.load_model(os.path.join(folder, file))
        inputs = load_inputs(os.path.join(folder, f"{name}.inputs.npz"))
        outputs = outputs_as_arrays(model(inputs, training=False))
        np.savez(os.path.join(folder, f"{name}.{backend}.npz"), **outputs)


def try_guards(folder):
    """Each TensorFlow-only feature, called on this backend: its error, or None."""
    import keras

    import kzoo
    from kzoo.export import export_run
    from kzoo.serving import ModelServer
    from kzoo.training import Run, parse_settings
    from recipes import lstm_classifier

    gpt = kzoo.build_gpt(
        vocabulary_size=10,
        max_sequence_length=8,
        num_layers=1,
        num_heads=1,
        hidden_dim=8,
        intermediate_dim=8,
    )
    vectorizer = keras.layers.TextVectorization(split="character", vocabulary=list("abcdefgh"))
    attempts = {
        "generate": lambda: kzoo.generate(gpt, "ab", vectorizer=vectorizer),
        "export": lambda: export_run(folder, os.path.join(folder, "exports")),
        "serve": lambda: ModelServer(folder, rest_port=None, grpc_port=None),
        "train": lambda: Run(parse_settings(lstm_classifier.SETTINGS, ["--no-export"])),
    }
    errors = {}
    for feature, attempt in attempts.items():
        try:
            attempt()
            errors[feature] = None
        except NotImplementedError as error:
            errors[feature] = str(error)
    with open(os.path.join(folder, "guards.json"), "w", encoding="utf-8") as f:
        json.dump(errors, f)


def use_runs(runs):
    """What a preset of a classifier run and a language model run give on this backend:
    `{"probabilities": [...], "perplexity": float}` for `runs` (`classifier_preset`,
    `language_model_run`, `texts`)."""
    import kzoo

    classifier = kzoo.from_preset(runs["classifier_preset"])
    return {
        "probabilities": classifier.predict(runs["texts"], verbose=0).tolist(),
        "perplexity": kzoo.perplexity(runs["language_model_run"], runs["texts"]),
    }


def run_all(folder):
    """The three in one process (each start imports TensorFlow and the backend again)."""
    import keras

    load_models(os.path.join(folder, "from_tensorflow"))
    there = os.path.join(folder, f"from_{keras.backend.backend()}")
    os.makedirs(there, exist_ok=True)
    save_models(there)
    try_guards(folder)
    runs = os.path.join(folder, "runs.json")
    if os.path.exists(runs):
        with open(runs, encoding="utf-8") as f:
            answers = use_runs(json.load(f))
        with open(os.path.join(folder, f"runs.{keras.backend.backend()}.json"), "w") as f:
            json.dump(answers, f)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    mode, folder = sys.argv[1], sys.argv[2]
    {"save": save_models, "outputs": load_models, "guards": try_guards, "all": run_all}[mode](
        folder
    )

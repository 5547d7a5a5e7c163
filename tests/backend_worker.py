"""The subprocess side of tests/test_backends.py: Keras picks its backend once per process.

    KERAS_BACKEND=jax python backend_worker.py save DIR      # every model's tiny config: .keras
                                                             # file, inputs and outputs
    KERAS_BACKEND=torch python backend_worker.py outputs DIR # every DIR/<name>.keras loaded, run
                                                             # on its inputs, outputs written
    KERAS_BACKEND=jax python backend_worker.py guards DIR    # what needs TensorFlow, tried
    KERAS_BACKEND=jax python backend_worker.py decode DIR    # generators and translators of
                                                             # DIR decoded
    KERAS_BACKEND=jax python backend_worker.py all DIR       # outputs of DIR/from_tensorflow,
                                                             # its decodings, save to
                                                             # DIR/from_<backend>, guards

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


def decode_models(folder):
    """Every generator and translator of `folder` (`.keras` files saved by `save_models`),
    decoded on this backend with kzoo's `Decoding`: `{name: {sampler: ids}}`, greedy and beam
    search, and `"seeded"`: whether a seeded top-k draw (of the last family) repeats with its
    seed. Written to
    `decoded.<backend>.json`."""
    import keras

    import kzoo
    from kzoo.decoding import Decoding
    from kzoo.registry import decoder_for, get_model_entry

    decoded = {}
    for name in kzoo.list_models():
        if get_model_entry(name).decoder is None:
            continue
        model = keras.models.load_model(os.path.join(folder, f"{name}.keras"))
        inputs = load_inputs(os.path.join(folder, f"{name}.inputs.npz"))
        vocabulary_size = int(model.outputs[0].shape[-1])
        tokens = ["", "[UNK]", "[start]", "[end]"]
        tokens += [f"t{i}" for i in range(vocabulary_size - len(tokens))]
        decoding = Decoding(decoder_for(model), tokens)
        # Sources for translators; prompts for language models, one of them empty.
        ids = inputs["encoder_token_ids"] if isinstance(inputs, dict) else inputs.copy()
        if not decoding.decoder.translates:
            ids[-1] = 0
        ids = np.asarray(ids, "int32")

        def run(sampler, seed=0, decoding=decoding, ids=ids):
            generate = decoding.for_sampler(sampler)
            out = generate(ids, 4, sampler, 1.0, 3, 1.0, 2, seed)
            return keras.ops.convert_to_numpy(out).tolist()

        decoded[name] = {"greedy": run("greedy"), "beam": run("beam")}
    # The seeded samplers' loop is the greedy one's with another choice: one family shows that
    # a seed repeats its draw.
    decoded["seeded"] = run("top_k", seed=7) == run("top_k", seed=7)
    with open(os.path.join(folder, f"decoded.{keras.backend.backend()}.json"), "w") as f:
        json.dump(decoded, f)
    return decoded


def try_guards(folder):
    """Each TensorFlow-only feature, called on this backend: its error, or None."""
    from kzoo.export import export_bundle
    from kzoo.serving import ModelServer

    attempts = {
        "export": lambda: export_bundle(None, os.path.join(folder, "exports"), "model"),
        "serve": lambda: ModelServer(folder, rest_port=None, grpc_port=None),
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
    `{"probabilities": [...], "perplexity": float, "greedy": texts, "beam": texts,
    "translations": [greedy, beam], "attention": {...}}` for `runs` (`classifier_preset`,
    `language_model_run`, `texts`, `translation_run`, `sources`)."""
    import kzoo
    from kzoo.attention import attention_for

    classifier = kzoo.from_preset(runs["classifier_preset"])
    language_model, translator = runs["language_model_run"], runs["translation_run"]
    attention = attention_for(translator, runs["sources"][0])
    prompts = [text[:6] for text in runs["texts"]]  # within the tiny GPT's context
    return {
        "probabilities": classifier.predict(runs["texts"], verbose=0).tolist(),
        "perplexity": kzoo.perplexity(language_model, runs["texts"]),
        "greedy": kzoo.generate(language_model, prompts, max_new_tokens=8),
        "beam": kzoo.generate(language_model, prompts, 8, sampler="beam", num_beams=3),
        "translations": [
            kzoo.generate(translator, runs["sources"]),
            kzoo.generate(translator, runs["sources"], sampler="beam", num_beams=3),
        ],
        "attention": {"target": attention.target_tokens, "weights": attention.weights.tolist()},
    }


def run_all(folder):
    """The three in one process (each start imports TensorFlow and the backend again)."""
    import keras

    load_models(os.path.join(folder, "from_tensorflow"))
    decode_models(os.path.join(folder, "from_tensorflow"))
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
    modes = {
        "save": save_models,
        "outputs": load_models,
        "decode": decode_models,
        "guards": try_guards,
        "all": run_all,
    }
    modes[mode](folder)

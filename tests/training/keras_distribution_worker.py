"""The subprocess side of tests/training/test_keras_distribution.py.

Keras picks its backend, and JAX its devices and processes, once per process, so the tests run
kzoo's `keras.distribution` placement in fresh processes (`KERAS_BACKEND=jax`):

    python keras_distribution_worker.py devices OUT_JSON   # 2 CPU devices: DataParallel and one
    python keras_distribution_worker.py process OUT_JSON   # one of several processes (Keras'
                                                           # KERAS_DISTRIBUTION_* variables)

Each trains the tiny classifier of tests/training/multi_worker_worker.py on its fixed data (global
batches of 8) through kzoo's placement, `distribute_dataset` and `multi_worker.fit`, and writes
what the test checks to `OUT_JSON`.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import multi_worker_worker as reference  # noqa: E402


def train(placement, callbacks=None):
    """The tiny classifier trained on `placement`: its history and last evaluation."""
    from kzoo.distribute import multi_worker

    train_data, valid_data = reference.datasets()
    with placement.scope():
        model = reference.build_model()
        history = multi_worker.fit(
            model,
            placement.distribute_dataset(train_data),
            validation_data=placement.distribute_dataset(valid_data),
            callbacks=callbacks,
            **reference.FIT_ARGS,
        )
    # Outside the distribution: the replicated model evaluates whole batches of any size.
    evaluation = model.evaluate(valid_data.unbatch().batch(5), verbose=0, return_dict=True)
    return {"history": history.history, "evaluate": evaluation}


def run_devices(out_path):
    from kzoo.distribute.keras_distribution import resolve_distribution

    several, one = resolve_distribution("auto"), resolve_distribution("default")
    result = {
        "description": several.describe(),
        "replicas": several.num_replicas_in_sync,
        "several": train(several),
        "one": train(one),
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


def run_process(out_path):
    import keras

    from kzoo.distribute.keras_distribution import resolve_distribution

    placement = resolve_distribution("auto")
    workdir = os.path.join(os.path.dirname(out_path), "shared")
    # A callback file every process is given: only the chief's reaches the shared folder.
    csv_logger = keras.callbacks.CSVLogger(os.path.join(workdir, "history.csv"))
    os.makedirs(workdir, exist_ok=True)
    result = {
        "description": placement.describe(),
        "replicas": placement.num_replicas_in_sync,
        "chief": placement.chief,
        **train(placement, callbacks=[csv_logger]),
    }
    import jax

    result["process_count"] = jax.process_count()
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    {"devices": run_devices, "process": run_process}[mode](out)

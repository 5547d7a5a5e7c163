"""The subprocess side of tests/training/test_strategy.py.

Distribution strategies must be set up before TensorFlow's runtime starts, so the tests run them
in fresh processes:

    python multi_worker_worker.py worker OUT_JSON WORKDIR   # one task of a TF_CONFIG cluster
    python multi_worker_worker.py mirrored OUT_JSON         # 2 logical CPUs, MirroredStrategy

Each writes what the test checks to `OUT_JSON`. The test imports this file too, for the data,
the model and the training settings of its in-process single-device reference.
"""

import json
import os
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

SEED = 7
GLOBAL_BATCH_SIZE = 8
EPOCHS = 2  # the worker's first fit; the resumed fit then runs epoch 3
FIT_ARGS = dict(epochs=EPOCHS, verbose=0)
KZOO_MARKER = "=== kzoo.distribute.multi_worker from here ==="


def datasets():
    """Returns fixed `(train, validation)` datasets of post-padded token ids, batched globally.

    Labels depend on the tokens (token 7 occurs, or the first id is below 20), so that the loss
    moves visibly in a few steps.
    """
    import tensorflow as tf

    rng = np.random.default_rng(SEED)
    ids = rng.integers(1, 50, size=(80, 8)).astype("int32")
    lengths = rng.integers(3, 9, size=80)
    for row, length in enumerate(lengths):
        ids[row, length:] = 0
    labels = (ids == 7).any(axis=1) | (ids[:, 0] < 20)
    labels = labels.astype("float32")
    train = tf.data.Dataset.from_tensor_slices((ids[:64], labels[:64])).batch(GLOBAL_BATCH_SIZE)
    valid = tf.data.Dataset.from_tensor_slices((ids[64:], labels[64:])).batch(GLOBAL_BATCH_SIZE)
    return train, valid


MODELS = {
    "lstm_classifier": dict(vocabulary_size=50, embedding_dim=4, units=4),
    # Traces in half the time of the LSTM, which matters for the 2-worker test's 3 fits.
    "cnn_sentiment": dict(vocabulary_size=50, embedding_dim=4, filters=4, kernel_sizes=(3,)),
}
CLUSTER_MODEL = "cnn_sentiment"


def build_model(name="lstm_classifier", jit_compile="auto", optimizer=None):
    """Builds and compiles a tiny kzoo classifier (Adam by default); call inside the strategy's
    scope."""
    import keras

    import kzoo

    keras.utils.set_random_seed(SEED)
    model = kzoo.build_model(name, **MODELS[name])
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(learning_rate=0.02),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    return model


def _error(error):
    """An exception as `type: message`, and the functions it went through, innermost last."""
    frames = traceback.extract_tb(error.__traceback__)
    where = [f"{os.path.basename(frame.filename)}:{frame.lineno} {frame.name}" for frame in frames]
    return {"error": f"{type(error).__name__}: {str(error)[:3000]}", "stack": where}


def run_worker(out_path, workdir):
    """One task of a 2-worker cluster: plain `model.fit`, then kzoo's `fit`, resume, evaluate."""
    import keras

    from kzoo.distribute import multi_worker
    from kzoo.distribute import strategy as strategies

    strategy = strategies.resolve_strategy("auto")
    result = {
        "strategy": type(strategy).__name__,
        "description": strategies.describe_strategy(strategy),
        "replicas": strategy.num_replicas_in_sync,
        "is_chief": strategies.is_chief(strategy),
    }
    train, valid = datasets()
    started = time.perf_counter()

    # Upstream: Keras 3's own fit on two workers (keras-team/keras#20585). Both workers fail in
    # the same place, before any step runs, so the cluster stays usable for what follows.
    keras.config.disable_traceback_filtering()  # keep Keras' frames in the stack
    with strategy.scope():
        model = build_model(CLUSTER_MODEL)
    try:
        model.fit(train, epochs=1, verbose=0)
        result["plain_fit_error"] = None
    except Exception as error:
        result["plain_fit_error"] = _error(error)
    keras.config.enable_traceback_filtering()
    result["seconds"] = {"plain_fit": time.perf_counter() - started}

    # From here on, TensorFlow's auto-sharding should never have to fall back from FILE to DATA.
    print(KZOO_MARKER, file=sys.stderr, flush=True)
    train = multi_worker.shard_options(train)
    result["shard_policy"] = train.options().experimental_distribute.auto_shard_policy.name

    # kzoo's fit, with every callback the runner uses writing to the same (shared) paths.
    with strategy.scope():
        model = build_model(CLUSTER_MODEL)
    backup_dir = os.path.join(workdir, "backup")
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(os.path.join(workdir, "checkpoints", "best.keras")),
        keras.callbacks.CSVLogger(os.path.join(workdir, "history.csv")),
        keras.callbacks.TensorBoard(os.path.join(workdir, "logs")),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=5),
    ]
    history = multi_worker.fit(model, train, validation_data=valid, callbacks=callbacks, **FIT_ARGS)
    result["history"] = history.history
    result["seconds"]["fit"] = time.perf_counter() - started
    result["overrides_left"] = sorted(
        name for name in ("_maybe_symbolic_build", "train_step", "test_step") if name in vars(model)
    )
    result["callback_paths_restored"] = callbacks[2].filepath == os.path.join(
        workdir, "checkpoints", "best.keras"
    )

    # A restarted job: a fresh model resumes from the backup after epoch 2 and runs epoch 3.
    with strategy.scope():
        model = build_model(CLUSTER_MODEL)
    history = multi_worker.fit(
        model,
        train,
        validation_data=valid,
        callbacks=[keras.callbacks.BackupAndRestore(backup_dir)],
        epochs=EPOCHS + 1,
        verbose=0,
    )
    result["resumed_epochs"] = history.epoch
    result["resumed_history"] = history.history
    result["evaluate"] = multi_worker.evaluate(model, valid, verbose=0, return_dict=True)
    result["seconds"]["resume_and_evaluate"] = time.perf_counter() - started
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


def run_mirrored(out_path):
    """MirroredStrategy over 2 logical CPUs against one device, in one process."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras

    from kzoo.distribute import multi_worker, xla
    from kzoo.distribute import strategy as strategies

    strategy = strategies.resolve_strategy("mirrored")
    train, _ = datasets()
    result = {"description": strategies.describe_strategy(strategy)}

    with strategy.scope():
        model = build_model()
    result["history"] = multi_worker.fit(model, train, **FIT_ARGS).history
    single = build_model()  # the default strategy: one device, same global batch
    result["single_device_history"] = single.fit(train, **FIT_ARGS).history

    # kzoo's Adadelta, computed on the looked-up rows, against Keras' update of the whole table,
    # both under the strategy: the replicas' rows arrive concatenated, so an id repeats across
    # replicas as well as within a batch.
    from test_optimizers import KerasDenseAdadelta  # this file's folder is on the path

    from kzoo.optimizers import DenseAdadelta

    result["adadelta_weights"] = {}
    for name, optimizer_class in (("rows", DenseAdadelta), ("whole_table", KerasDenseAdadelta)):
        with strategy.scope():
            optimizer = optimizer_class(1.0, rho=0.95, epsilon=1e-6)
            model = build_model("cnn_sentiment", optimizer=optimizer)
        multi_worker.fit(model, train, **FIT_ARGS)
        result["adadelta_weights"][name] = [weight.numpy().tolist() for weight in model.weights]

    # XLA under 2 replicas: what kzoo says, and what happens when it is tried anyway.
    with strategy.scope():
        model = build_model(jit_compile=True)
    result["jit_compile"] = model.jit_compile
    result["xla_supported"] = xla.xla_supported(model, strategy)
    try:
        model.fit(train.take(1), verbose=0)
        result["jit_fit_error"] = None
    except Exception as error:
        result["jit_fit_error"] = _error(error)

    # Compiling outside the scope a model built inside it.
    with strategy.scope():
        model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    try:
        model.fit(train.take(1), verbose=0)
        result["compiled_outside_scope_error"] = None
    except Exception as error:
        result["compiled_outside_scope_error"] = _error(error)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "worker":
        run_worker(sys.argv[2], sys.argv[3])
    elif mode == "mirrored":
        run_mirrored(sys.argv[2])
    else:
        raise SystemExit(f"unknown mode {mode!r}; expected 'worker' or 'mirrored'")

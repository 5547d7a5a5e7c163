"""`fit` and `evaluate` that also work under `MultiWorkerMirroredStrategy`, and `fit` for
several JAX processes (`keras.distribution`), where only the chief writes callback files.

Keras 3's `model.fit` fails on two or more workers
(https://github.com/keras-team/keras/issues/20585,
https://github.com/tensorflow/tensorflow/issues/72388): it builds the model from a cross-replica
mean of the first batch, and reduces scalar step logs along an axis they lack. kzoo fixes both on
the model instance for the duration of the call only (no Keras module is patched), lets only the
chief write callback files, and shards in-memory datasets by `DATA`. README.md, "Multi-worker
training and XLA", tells the details.
"""

import contextlib
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from kzoo.distribute.strategy import is_chief, is_multi_worker

# Dataset ops that read files: TensorFlow's FILE auto-sharding can split these by file.
_FILE_READER_OPS = (
    "ArrayRecordDataset",
    "CSVDataset",
    "ExperimentalCSVDataset",
    "FixedLengthRecordDataset",
    "RecordIODataset",
    "SSTableDataset",
    "TextLineDataset",
    "TFRecordDataset",
)


def fit(model, x=None, **fit_kwargs):
    """Trains `model` with `model.fit`, also under `MultiWorkerMirroredStrategy`.

    The arguments, the return value and the training are those of `model.fit`. On several
    workers kzoo works around Keras 3's multi-worker bugs for the duration of the call, shards
    in-memory datasets by `DATA`, and lets only the chief write the files of Keras' and kzoo's
    callbacks (custom callbacks that write files should check `strategy.is_chief()`). Build and
    compile the model inside `strategy.scope()`.

    Args:
        model: a compiled `keras.Model`.
        x: the training data, as for `model.fit`. Defaults to `None`.
        **fit_kwargs: any other `model.fit` argument (`y`, `batch_size`, `epochs`,
            `steps_per_epoch`, `validation_data`, `callbacks`, `initial_epoch`, ...).

    Returns:
        The `keras.callbacks.History` that `model.fit` returns.

    Example:

    >>> import numpy as np
    >>> import kzoo
    >>> from kzoo.distribute.multi_worker import fit
    >>> from kzoo.distribute.strategy import resolve_strategy
    >>> with resolve_strategy("default").scope():
    ...     model = kzoo.build_lstm_classifier(vocabulary_size=20, embedding_dim=4, units=4)
    >>> history = fit(model, np.ones((4, 3), "int32"), y=np.ones(4), epochs=2, verbose=0)
    >>> len(history.history["loss"])
    2
    """
    # Off TensorFlow (keras.distribution) a model has no tf.distribute strategy; several JAX
    # processes need no fixes, only the chief's files.
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is None or not is_multi_worker(strategy):
        process = _keras_process()
        if process is None:
            return model.fit(x, **fit_kwargs)
        callbacks = fit_kwargs.pop("callbacks", None)
        with _chief_writes_only(callbacks, process == 0, f"process_{process}") as callbacks:
            return model.fit(x, callbacks=callbacks, **fit_kwargs)
    x = shard_options(x)
    if "validation_data" in fit_kwargs:
        fit_kwargs["validation_data"] = shard_options(fit_kwargs["validation_data"])
    callbacks = fit_kwargs.pop("callbacks", None)
    resolver = strategy.cluster_resolver
    name = f"{resolver.task_type}_{resolver.task_id}"
    with (
        _multi_worker_fixes(model),
        _chief_writes_only(callbacks, is_chief(strategy), name) as callbacks,
    ):
        return model.fit(x, callbacks=callbacks, **fit_kwargs)


def evaluate(model, x=None, **evaluate_kwargs):
    """Evaluates `model` with `model.evaluate`, also under `MultiWorkerMirroredStrategy`.

    The counterpart of `fit`: the same fixes, for `model.evaluate`'s arguments and result.

    Args:
        model: a compiled `keras.Model`.
        x: the evaluation data, as for `model.evaluate`. Defaults to `None`.
        **evaluate_kwargs: any other `model.evaluate` argument.

    Returns:
        What `model.evaluate` returns.

    Example:

    >>> import numpy as np
    >>> import kzoo
    >>> from kzoo.distribute.multi_worker import evaluate
    >>> model = kzoo.build_lstm_classifier(vocabulary_size=20, embedding_dim=4, units=4)
    >>> logs = evaluate(model, np.ones((4, 3), "int32"), y=np.ones(4), verbose=0,
    ...                 return_dict=True)
    >>> sorted(logs)
    ['accuracy', 'loss']
    """
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is None or not is_multi_worker(strategy):
        return model.evaluate(x, **evaluate_kwargs)
    callbacks = evaluate_kwargs.pop("callbacks", None)
    resolver = strategy.cluster_resolver
    name = f"{resolver.task_type}_{resolver.task_id}"
    with (
        _multi_worker_fixes(model),
        _chief_writes_only(callbacks, is_chief(strategy), name) as callbacks,
    ):
        return model.evaluate(shard_options(x), callbacks=callbacks, **evaluate_kwargs)


def shard_options(dataset):
    """Returns `dataset` set to be auto-sharded by `DATA` across workers, unless it reads files.

    TensorFlow's default `AUTO` policy first tries to shard by file; for an in-memory dataset
    (`from_tensor_slices`, a generator) that fails and it falls back to sharding by data
    (older TensorFlow versions warn about it). This sets `DATA` up front. A dataset that reads
    files (TFRecord, text lines, CSV, fixed-length records) keeps `AUTO`, so that each worker
    reads its own files, and an explicit policy is never overridden. Anything that is not a
    `tf.data.Dataset` (arrays, which Keras already shards by `DATA`; an `(x, y)` tuple) is
    returned unchanged.

    Args:
        dataset: a `tf.data.Dataset`, or anything else `fit` accepts.

    Returns:
        The dataset with the sharding option set, or `dataset` itself.

    Example:

    >>> import tensorflow as tf
    >>> from kzoo.distribute.multi_worker import shard_options
    >>> dataset = shard_options(tf.data.Dataset.range(8).batch(4))
    >>> dataset.options().experimental_distribute.auto_shard_policy.name
    'DATA'
    """
    if not isinstance(dataset, tf.data.Dataset):
        return dataset
    policy = dataset.options().experimental_distribute.auto_shard_policy
    if policy != tf.data.experimental.AutoShardPolicy.AUTO or _reads_files(dataset):
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


# === Private helpers ===


def _keras_process():
    """This process's index when several JAX processes train together, else `None`."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    return jax.process_index() if jax.process_count() > 1 else None


@contextlib.contextmanager
def _multi_worker_fixes(model):
    """Fixes Keras 3's two multi-worker failures on `model` (only), until the block ends.

    `_maybe_symbolic_build` builds from the first local replica's part of the first batch (the
    same shapes and dtypes) instead of a cross-replica mean, and `train_step` and `test_step`
    give their logs a leading axis of length 1, so that Keras' `strategy.reduce("MEAN", logs,
    axis=0)` averages them over all replicas. Train and test functions retrace on entry and exit.
    """
    if getattr(vars(model).get("train_step"), "_kzoo_replica_axis", False):
        # Already inside kzoo's fit (a callback evaluating, say): the overrides are in place,
        # and resetting the train function now would break the fit that is running.
        yield model
        return
    strategy = model.distribute_strategy
    keras_build = model._maybe_symbolic_build
    keras_train_step = model.train_step
    keras_test_step = model.test_step

    def build_from_local_batch(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(_first_local_value, next(batches))
                break
        return keras_build(data_batch=data_batch)

    def _first_local_value(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def with_replica_axis(step):
        def step_with_replica_axis(data):
            logs = step(data)
            return keras.tree.map_structure(lambda value: tf.expand_dims(value, 0), logs)

        step_with_replica_axis._kzoo_replica_axis = True
        return step_with_replica_axis

    overrides = {
        "_maybe_symbolic_build": build_from_local_batch,
        "train_step": with_replica_axis(keras_train_step),
        "test_step": with_replica_axis(keras_test_step),
    }
    shadowed = {name: vars(model)[name] for name in overrides if name in vars(model)}
    for name, method in overrides.items():
        object.__setattr__(model, name, method)
    model.train_function = model.test_function = None
    try:
        yield model
    finally:
        for name in overrides:
            object.__delattr__(model, name)
            if name in shadowed:
                object.__setattr__(model, name, shadowed[name])
        model.train_function = model.test_function = None


# A callback that first restores from a shared folder and then writes into it (kzoo's
# RunState) names the attribute holding that folder here; Keras' BackupAndRestore is known.
RESTORED_FOLDER_ATTRIBUTE = "restored_folder_attribute"


class _RedirectAfterRestore(keras.callbacks.Callback):
    """Moves a restoring callback's writes (`BackupAndRestore`, kzoo's `RunState`) to a worker
    directory once it has restored from the shared one."""

    def __init__(self, callback, redirect, attribute):
        super().__init__()
        self.callback = callback
        self.redirect = redirect
        self.attribute = attribute

    def on_train_begin(self, logs=None):
        self.redirect(self.callback, self.attribute, is_file=False)


@contextlib.contextmanager
def _chief_writes_only(callbacks, chief, worker_name):
    """Points a non-chief worker's callback files to a temporary directory, deleted afterwards.

    Keras 3 writes callback files from every worker to the same paths, and two workers writing
    one HDF5 file at once fail. Restoring callbacks still read the shared folder first.
    """
    if chief or not isinstance(callbacks, (list, tuple)):
        yield callbacks
        return
    workdir = tempfile.mkdtemp(prefix=f"kzoo_{worker_name}_")
    moved = []  # (callback, attribute, original value)

    def redirect(callback, attribute, is_file):
        original = getattr(callback, attribute)
        target = os.path.join(workdir, str(len(moved)))
        os.makedirs(target)
        if is_file:
            target = os.path.join(target, os.path.basename(original))
        # Also move the paths a callback derived from the root (BackupAndRestore's files).
        for name, value in list(vars(callback).items()):
            if isinstance(value, str) and (value == original or value.startswith(original + "/")):
                moved.append((callback, name, value))
                setattr(callback, name, target + value[len(original) :])

    worker_callbacks = []
    for callback in callbacks:
        worker_callbacks.append(callback)
        if isinstance(callback, keras.callbacks.BackupAndRestore):
            worker_callbacks.append(_RedirectAfterRestore(callback, redirect, "backup_dir"))
        elif hasattr(callback, RESTORED_FOLDER_ATTRIBUTE):
            attribute = getattr(callback, RESTORED_FOLDER_ATTRIBUTE)
            worker_callbacks.append(_RedirectAfterRestore(callback, redirect, attribute))
        elif isinstance(callback, keras.callbacks.ModelCheckpoint):
            redirect(callback, "filepath", is_file=True)
        elif isinstance(callback, keras.callbacks.CSVLogger):
            redirect(callback, "filename", is_file=True)
        elif isinstance(callback, keras.callbacks.TensorBoard):
            redirect(callback, "log_dir", is_file=False)
    try:
        yield worker_callbacks
    finally:
        for callback, name, value in reversed(moved):
            setattr(callback, name, value)
        shutil.rmtree(workdir, ignore_errors=True)


def _reads_files(dataset):
    """Whether a file-reading dataset op is anywhere in `dataset`'s pipeline."""
    stack, seen = [dataset], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if type(current).__name__.startswith(_FILE_READER_OPS):
            return True
        try:
            functions, inputs = current._functions(), current._inputs()
        except (AttributeError, NotImplementedError):
            return True  # Unknown: leave the choice to TensorFlow's AUTO policy.
        for function in functions:
            graph = function.function.graph.as_graph_def()
            nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
            if any(node.op.startswith(_FILE_READER_OPS) for node in nodes):
                return True
        stack.extend(inputs)
    return False

"""Which models and versions are served: configuration, loading, version policies and polling.

TF Serving's layout is `<base_path>/<integer version>/saved_model.pb` (+ `variables/`). The
models come either from a `model_config_list` text-proto file (TF Serving's
`--model_config_file`: `name`, `base_path`, `model_version_policy` and `version_labels` are
honoured) or from a folder of model folders (`saved_models/<name>/<version>/`, kzoo's export
layout). A `ModelManager` polls the file system like TF Serving's file-system storage path
source: a new version folder is loaded, and versions the policy no longer wants are unloaded
after the ones replacing them are available, so a model never stops serving during a roll-out.

Unlike TF Serving, a version folder without `saved_model.pb` yet is treated as not written yet
(no error, it is picked up once complete), and a version that fails to load is set aside (its
status says why) so the policy falls back to the next version instead of leaving the model
unserved; it is retried when its files change.

Example:

>>> import os, tempfile
>>> import tensorflow as tf
>>> class Double(tf.Module):
...     @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
...     def serve(self, x):
...         return {"y": 2 * x}
>>> base = tempfile.mkdtemp()
>>> module = Double()
>>> tf.saved_model.save(module, f"{base}/double/1", signatures=module.serve)
>>> manager = ModelManager(BasePathSource(base), poll_wait_seconds=0).start()
>>> servable = manager.get("double")
>>> servable.version, servable.signatures["serving_default"]({"x": [1.0, 2.5]})["y"].tolist()
(1, [2.0, 5.0])
>>> manager.stop()
"""

import dataclasses
import logging
import os
import re
import threading
import time

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.config import model_server_config_pb2

from kzoo.serving.errors import ServingError, from_tensorflow, invalid_argument, not_found
from kzoo.serving.tensors import as_string_array, numpy_dtype, shape_from_proto

logger = logging.getLogger("kzoo.serving")

SERVE_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"

_VERSION_FOLDER = re.compile(r"[0-9]+")


# === Configuration ===


@dataclasses.dataclass
class ModelConfig:
    """One served model, as an entry of TF Serving's `model_config_list`.

    Attributes:
        name: str. The name clients ask for.
        base_path: str. The folder holding the integer version folders.
        policy: str. `"latest"` (the `num_versions` highest), `"all"` or `"specific"`.
        num_versions: int. How many versions `"latest"` serves. Defaults to 1.
        versions: tuple of int. The versions `"specific"` serves.
        labels: dict. Version label → version number, e.g. `{"stable": 1, "canary": 2}`.
    """

    name: str
    base_path: str
    policy: str = "latest"
    num_versions: int = 1
    versions: tuple = ()
    labels: dict = dataclasses.field(default_factory=dict)

    def wanted(self, versions):
        """The versions this policy serves among `versions` (an iterable of int)."""
        versions = sorted(versions, reverse=True)
        if self.policy == "all":
            return set(versions)
        if self.policy == "specific":
            return set(versions) & set(self.versions)
        return set(versions[: max(self.num_versions, 1)])


def configs_from_proto(config):
    """Converts a `ModelServerConfig` (or its `model_config_list`) to a list of `ModelConfig`.

    Raises:
        ValueError: for a config TF Serving would refuse (no `model_config_list`, a model listed
            twice, a platform other than TensorFlow, a missing name or base path).
    """
    if isinstance(config, model_server_config_pb2.ModelServerConfig):
        if config.WhichOneof("config") != "model_config_list":
            raise ValueError("The model server config needs a model_config_list.")
        config = config.model_config_list
    models = []
    for entry in config.config:
        if not entry.name or not entry.base_path:
            raise ValueError(f"Every model config needs a name and a base_path. Received: {entry}")
        if entry.model_platform not in ("", "tensorflow"):
            raise ValueError(
                f"Model {entry.name} has model_platform {entry.model_platform!r}: only "
                "'tensorflow' SavedModels can be served."
            )
        if any(model.name == entry.name for model in models):
            raise ValueError(f"Illegal to list model {entry.name} multiple times in config list")
        policy = entry.model_version_policy.WhichOneof("policy_choice") or "latest"
        models.append(
            ModelConfig(
                name=entry.name,
                base_path=os.path.abspath(entry.base_path),
                policy=policy,
                num_versions=max(entry.model_version_policy.latest.num_versions, 1),
                versions=tuple(entry.model_version_policy.specific.versions),
                labels=dict(entry.version_labels),
            )
        )
    return models


def read_config_file(path):
    """Reads a TF Serving model config file (text proto) into a list of `ModelConfig`.

    Example:

    >>> import tempfile
    >>> path = tempfile.mktemp(suffix=".config")
    >>> _ = open(path, "w").write('''model_config_list { config {
    ...   name: "half" base_path: "/models/half"
    ...   model_version_policy { specific { versions: 1 versions: 2 } }
    ...   version_labels { key: "stable" value: 1 } } }''')
    >>> config, = read_config_file(path)
    >>> config.policy, config.versions, config.labels
    ('specific', (1, 2), {'stable': 1})
    """
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as error:
        raise ValueError(f"Invalid model config file {path}: {error}") from None
    return configs_from_proto(config)


class ConfigFileSource:
    """The models of a config file, re-read when it changes if `poll_wait_seconds` > 0.

    Args:
        path: str. A TF Serving `--model_config_file`.
        poll_wait_seconds: float. How often to look at the file again (TF Serving's
            `--model_config_file_poll_wait_seconds`); 0 reads it once.
    """

    def __init__(self, path, poll_wait_seconds=0.0):
        self.path = path
        self.poll_wait_seconds = poll_wait_seconds
        self._configs = read_config_file(path)
        self._mtime = os.stat(path).st_mtime_ns
        self._checked = time.monotonic()

    def __call__(self):
        now = time.monotonic()
        if self.poll_wait_seconds > 0 and now - self._checked >= self.poll_wait_seconds:
            self._checked = now
            mtime = os.stat(self.path).st_mtime_ns
            if mtime != self._mtime:
                self._configs = read_config_file(self.path)
                self._mtime = mtime
                logger.info("Reloaded model config file %s", self.path)
        return self._configs


def _version_folders(path):
    """Integer-named subfolders of `path` as {version: folder}."""
    folders = {}
    try:
        entries = sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return folders
    for entry in entries:
        full = os.path.join(path, entry)
        if _VERSION_FOLDER.fullmatch(entry) and os.path.isdir(full):
            version = int(entry)
            # "1" wins over "01" whatever the listing order.
            if version not in folders or entry == str(version):
                folders[version] = full
    return folders


class BasePathSource:
    """The models of a folder: every subfolder with integer version folders is a model.

    Args:
        base_path: str. E.g. `saved_models`. Hidden folders (kzoo's export staging) are skipped.
        model_name: str, optional. Serve `base_path` itself as one model of this name (TF
            Serving's `--model_name` with `--model_base_path`). A folder that holds version
            folders directly is served that way under its own name when no name is given.
    """

    def __init__(self, base_path, model_name=None):
        self.base_path = os.path.abspath(base_path)
        self.model_name = model_name
        self._reported_missing = False

    def __call__(self):
        if self.model_name:
            return [ModelConfig(self.model_name, self.base_path)]
        if _version_folders(self.base_path):
            return [ModelConfig(os.path.basename(self.base_path), self.base_path)]
        configs = []
        try:
            entries = sorted(os.listdir(self.base_path))
        except (FileNotFoundError, NotADirectoryError):
            # Said once, not at every poll, until the folder is back.
            if not self._reported_missing:
                logger.warning("Model base path %s does not exist.", self.base_path)
                self._reported_missing = True
            return configs
        self._reported_missing = False
        for entry in entries:
            path = os.path.join(self.base_path, entry)
            if not entry.startswith(".") and os.path.isdir(path) and _version_folders(path):
                configs.append(ModelConfig(entry, path))
        return configs


class StaticSource:
    """A fixed list of `ModelConfig`s (gRPC `HandleReloadConfigRequest` installs one)."""

    def __init__(self, configs):
        self.configs = list(configs)

    def __call__(self):
        return self.configs


# === One loaded version ===


@dataclasses.dataclass
class TensorSpec:
    """A signature input or output: its `DataType` enum value and shape (-1: any size)."""

    dtype: int
    shape: tuple  # None for an unknown rank


class Signature:
    """A callable signature of a loaded SavedModel, with its `SignatureDef`.

    Calling it with a dict of arrays runs the concrete function the SavedModel stored (no
    retracing) and returns a dict of NumPy arrays.

    Attributes:
        name: str. The signature key, e.g. `serving_default`.
        method_name: str. `tensorflow/serving/predict` for `tf.saved_model.save` signatures.
        inputs, outputs: dict. Name → `TensorSpec`.
        callable: bool. False for entries of the signature map that are not functions
            (`__saved_model_init_op`).
    """

    def __init__(self, name, signature_def, function):
        self.name = name
        self.signature_def = signature_def
        self.method_name = signature_def.method_name
        self.inputs = {
            key: TensorSpec(info.dtype, shape_from_proto(info.tensor_shape))
            for key, info in signature_def.inputs.items()
        }
        self.outputs = {
            key: TensorSpec(info.dtype, shape_from_proto(info.tensor_shape))
            for key, info in signature_def.outputs.items()
        }
        self._function = function
        self._input_dtypes = {
            key: tf.dtypes.as_dtype(spec.dtype)
            for key, spec in self.inputs.items()
            if spec.dtype != 0
        }
        self.callable = function is not None

    def __call__(self, inputs):
        if self._function is None:
            raise invalid_argument(f"Signature {self.name} cannot be run.")
        tensors = {}
        for key, value in inputs.items():
            dtype = self._input_dtypes.get(key)
            if dtype == tf.string:
                if not (isinstance(value, np.ndarray) and value.dtype == object):
                    value = as_string_array(value)
            elif dtype is not None:
                value = np.asarray(value, dtype=numpy_dtype(dtype.as_datatype_enum))
            tensors[key] = tf.constant(value, dtype=dtype)
        try:
            outputs = self._function(**tensors)
        except Exception as error:  # noqa: BLE001 - any model failure becomes a status
            raise from_tensorflow(error) from None
        return {key: value.numpy() for key, value in outputs.items()}


def _read_saved_model(path):
    for name, parse in (("saved_model.pb", "binary"), ("saved_model.pbtxt", "text")):
        file = os.path.join(path, name)
        if os.path.exists(file):
            with open(file, "rb") as handle:
                data = handle.read()
            if parse == "binary":
                return saved_model_pb2.SavedModel.FromString(data)
            return text_format.Parse(data.decode("utf-8"), saved_model_pb2.SavedModel())
    raise not_found(
        "Could not find SavedModel .pb or .pbtxt at supplied export directory path: "
        f"{path}. Check that the directory exists and that you have the right permissions "
        "for accessing it."
    )


def is_complete(path):
    """Whether a version folder holds a SavedModel file yet."""
    return os.path.exists(os.path.join(path, "saved_model.pb")) or os.path.exists(
        os.path.join(path, "saved_model.pbtxt")
    )


class Servable:
    """One loaded version of a model: its signatures, ready to call.

    Attributes:
        name: str. The model name.
        version: int. The version number.
        path: str. The version folder.
        signature_defs: the SavedModel's `SignatureDef` map for the `serve` tag, as stored
            (what TF Serving's metadata API returns).
        signatures: dict. Signature key → `Signature`.
    """

    def __init__(self, name, version, path):
        self.name = name
        self.version = version
        self.path = path
        saved_model = _read_saved_model(path)
        meta_graph = next(
            (
                graph
                for graph in saved_model.meta_graphs
                if set(graph.meta_info_def.tags) == {SERVE_TAG}
            ),
            None,
        )
        if meta_graph is None:
            raise not_found(
                "Could not find meta graph def matching supplied tags: { serve }. To inspect "
                "available tag-sets in the SavedModel, please use the SavedModel CLI: "
                "`saved_model_cli`"
            )
        self.signature_defs = meta_graph.signature_def
        try:
            # Kept referenced: the signature functions read the loaded variables.
            self._loaded = tf.saved_model.load(path, tags=[SERVE_TAG])
        except Exception as error:  # noqa: BLE001
            raise from_tensorflow(error) from None
        functions = getattr(self._loaded, "signatures", {})
        self.signatures = {
            key: Signature(key, signature_def, functions.get(key))
            for key, signature_def in self.signature_defs.items()
        }

    def __repr__(self):
        return f"Servable(name={self.name!r}, version={self.version})"


# === Version states and the manager ===

START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"


@dataclasses.dataclass
class VersionState:
    """What GetModelStatus reports for one version."""

    state: str
    error_code: str = "OK"
    error_message: str = ""
    fingerprint: tuple = ()


def _fingerprint(path):
    """Names, sizes and modification times of a version's files: a failed load is retried
    only when they change."""
    entries = []
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            try:
                stat = os.stat(full)
            except OSError:
                continue
            entries.append((os.path.relpath(full, path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


class _Model:
    def __init__(self, config):
        self.config = config
        self.available = {}  # version → Servable, replaced (not mutated) so readers need no lock
        self.states = {}  # version → VersionState
        self.waiting = set()  # incomplete folders already logged
        self.reported_empty = False


class ModelManager:
    """Loads, serves and unloads model versions; polls the file system for new ones.

    Args:
        source: callable. Returns the list of `ModelConfig` to serve; called at every poll (a
            `BasePathSource`, `ConfigFileSource` or `StaticSource`).
        poll_wait_seconds: float. Seconds between two looks at the file system (TF Serving's
            `--file_system_poll_wait_seconds`, default 1); 0 or less looks once, at `start()`.
        warmup: callable, optional. `warmup(servable)` runs after a version loads and before it
            serves, e.g. its `assets.extra/tf_serving_warmup_requests`; raising fails the load.
    """

    def __init__(self, source, poll_wait_seconds=1.0, warmup=None):
        self.source = source
        self.poll_wait_seconds = poll_wait_seconds
        self.warmup = warmup
        self._models = {}
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    # --- lifecycle ---

    def start(self):
        """Loads what the source lists (blocking), then polls in a background thread."""
        self.poll()
        if self.poll_wait_seconds > 0:
            self._thread = threading.Thread(
                target=self._poll_loop, name="kzoo-serving-poll", daemon=True
            )
            self._thread.start()
        return self

    def stop(self):
        """Stops polling and unloads every version."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self._models.clear()

    def _poll_loop(self):
        while not self._stop.wait(self.poll_wait_seconds):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - polling must survive anything
                logger.exception("Polling the model folders failed")

    def set_source(self, source):
        """Replaces the model source and applies it now (gRPC config reload)."""
        self.source = source
        self.poll()

    # --- polling ---

    def poll(self):
        """Looks at the configuration and the version folders once, loading and unloading."""
        with self._poll_lock:
            try:
                configs = {config.name: config for config in self.source()}
            except (OSError, ValueError) as error:
                logger.error("Keeping the current models: %s", error)
                return
            with self._lock:
                removed = [name for name in self._models if name not in configs]
                for name in removed:
                    logger.info("Unloading every version of model %s (no longer configured)", name)
                    del self._models[name]
                for name, config in configs.items():
                    model = self._models.get(name)
                    if model is None:
                        self._models[name] = _Model(config)
                    elif model.config.base_path != config.base_path:
                        self._models[name] = _Model(config)
                    else:
                        model.config = config
                models = list(self._models.values())
            for model in models:
                if self._stop.is_set():
                    return
                self._poll_model(model)

    def _wanted(self, model, folders):
        """Versions to serve: the policy over complete folders, skipping unchanged failures."""
        candidates = []
        for version, path in folders.items():
            state = model.states.get(version)
            if state and state.error_code != "OK" and state.fingerprint == _fingerprint(path):
                continue
            candidates.append(version)
        return model.config.wanted(candidates)

    def _poll_model(self, model):
        name = model.config.name
        folders = {}
        for version, path in _version_folders(model.config.base_path).items():
            if is_complete(path):
                folders[version] = path
                model.waiting.discard(version)
            elif version not in model.waiting:
                model.waiting.add(version)
                logger.info("Version folder %s has no saved_model.pb yet: not loading it.", path)
        if not folders and not model.states and not model.reported_empty:
            model.reported_empty = True
            logger.warning(
                "No versions of servable %s found under base path %s",
                name,
                model.config.base_path,
            )
        for version in sorted(self._wanted(model, folders) - set(model.available), reverse=True):
            self._load(model, version, folders[version])
        keep = self._wanted(model, folders)
        for version in sorted(set(model.available) - keep):
            self._unload(model, version)

    def _set_state(self, model, version, state, **fields):
        with self._lock:
            model.states[version] = VersionState(state, **fields)

    def _load(self, model, version, path):
        name = model.config.name
        logger.info("Loading servable: {name: %s version: %d}", name, version)
        self._set_state(model, version, LOADING)
        fingerprint = _fingerprint(path)
        started = time.monotonic()
        try:
            servable = Servable(name, version, path)
            if self.warmup is not None:
                self.warmup(servable)
        except ServingError as error:
            self._fail(model, version, error.code, error.message, fingerprint)
            return
        except Exception as error:  # noqa: BLE001 - a bad folder must not stop the others
            self._fail(model, version, "UNKNOWN", f"{type(error).__name__}: {error}", fingerprint)
            return
        with self._lock:
            model.available = {**model.available, version: servable}
            model.states[version] = VersionState(AVAILABLE, fingerprint=fingerprint)
        logger.info(
            "Successfully loaded servable version {name: %s version: %d} in %.2f s",
            name,
            version,
            time.monotonic() - started,
        )

    def _fail(self, model, version, code, message, fingerprint):
        logger.error(
            "Loading servable: {name: %s version: %d} failed: %s: %s",
            model.config.name,
            version,
            code,
            message,
        )
        self._set_state(
            model, version, END, error_code=code, error_message=message, fingerprint=fingerprint
        )

    def _unload(self, model, version):
        logger.info("Unloading servable version {name: %s version: %d}", model.config.name, version)
        with self._lock:
            model.states[version] = VersionState(UNLOADING)
            available = dict(model.available)
            available.pop(version, None)
            model.available = available
            model.states[version] = VersionState(END)

    # --- queries ---

    def model_names(self):
        """Names of the configured models."""
        with self._lock:
            return sorted(self._models)

    def _resolve_label(self, model, label):
        labels = model.config.labels if model is not None else {}
        if label not in labels:
            raise invalid_argument(f"Unrecognized servable version label: {label}")
        return labels[label]

    def get(self, name, version=None, label=None):
        """Returns the `Servable` a request names (TF Serving's ServerCore::GetServableHandle).

        Args:
            name: str. Model name.
            version: int, optional. A version number; the highest available when omitted.
            label: str, optional. A version label from the model's config.

        Raises:
            ServingError: NOT_FOUND `Servable not found for request: Latest(name)` (or
                `Specific(name, version)`), INVALID_ARGUMENT for an unknown label.
        """
        with self._lock:
            model = self._models.get(name)
        if label is not None:
            version = self._resolve_label(model, label)
        available = model.available if model is not None else {}
        if version is None:
            if not available:
                raise not_found(f"Servable not found for request: Latest({name})")
            return available[max(available)]
        servable = available.get(version)
        if servable is None:
            raise not_found(f"Servable not found for request: Specific({name}, {version})")
        return servable

    def status(self, name, version=None, label=None):
        """Returns `[(version, VersionState), ...]`, highest version first (GetModelStatus).

        Raises:
            ServingError: NOT_FOUND `Could not find any versions of model name` or `Could not
                find version v of model name`; INVALID_ARGUMENT for an unknown label.
        """
        with self._lock:
            model = self._models.get(name)
            states = dict(model.states) if model is not None else {}
        if label is not None:
            version = self._resolve_label(model, label)
        if version is not None:
            if version not in states:
                raise not_found(f"Could not find version {version} of model {name}")
            return [(version, states[version])]
        if not states:
            raise not_found(f"Could not find any versions of model {name}")
        return sorted(states.items(), reverse=True)

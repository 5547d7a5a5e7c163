"""The model manager: which versions are loaded, loading and unloading them, and their states.

A `ModelManager` polls its source and the version folders like TF Serving's file-system storage
path source: a new version folder is loaded, and versions the policy no longer wants are
unloaded after the ones replacing them are available, so a model never stops serving during a
roll-out. Each version's state (START, LOADING, AVAILABLE, UNLOADING, END) is what
GetModelStatus reports.

Unlike TF Serving, a version folder without `saved_model.pb` yet is treated as not written yet
(no error, it is picked up once complete), and a version that fails to load is set aside (its
status says why) so the policy falls back to the next version instead of leaving the model
unserved; it is retried when its files change.

Example:

>>> import os, tempfile
>>> import tensorflow as tf
>>> from kzoo.serving.sources import BasePathSource
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
import threading
import time

from kzoo.serving.errors import ServingError, invalid_argument, not_found
from kzoo.serving.servables import SERVE_TAG, Servable, is_complete
from kzoo.serving.sources import version_folders

logger = logging.getLogger("kzoo.serving")

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
        tags: sequence of str. The tags of the meta graph to load (TF Serving's
            `--saved_model_tags`). Defaults to `("serve",)`.
        max_load_retries: int. Times a failed load (or warm-up) is tried again before the
            version is set aside (TF Serving's `--max_num_load_retries`). Defaults to 0: a
            version that failed is tried again only once its files change.
        load_retry_interval: float. Seconds between two tries (TF Serving's
            `--load_retry_interval_micros`). Defaults to 60.
        metrics: `ServingMetrics`, optional. Counts load attempts and their latency.
    """

    def __init__(
        self,
        source,
        poll_wait_seconds=1.0,
        warmup=None,
        *,
        tags=(SERVE_TAG,),
        max_load_retries=0,
        load_retry_interval=60.0,
        metrics=None,
    ):
        self.source = source
        self.poll_wait_seconds = poll_wait_seconds
        self.warmup = warmup
        self.tags = tuple(tags)
        self.max_load_retries = max_load_retries
        self.load_retry_interval = load_retry_interval
        self.metrics = metrics
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
        for version, path in version_folders(model.config.base_path).items():
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

    def _try_load(self, name, version, path):
        """Loads and warms up one version; returns the servable, or the error as (code,
        message)."""
        started = time.monotonic()
        try:
            servable = Servable(name, version, path, self.tags)
        except ServingError as error:
            failure = error.code, error.message
        except Exception as error:  # noqa: BLE001 - a bad folder must not stop the others
            failure = "UNKNOWN", f"{type(error).__name__}: {error}"
        else:
            failure = None
        if self.metrics is not None:
            self.metrics.model_load(path, failure is None, time.monotonic() - started)
        if failure is not None:
            return failure
        try:
            if self.warmup is not None:
                self.warmup(servable)
        except ServingError as error:
            return error.code, error.message
        except Exception as error:  # noqa: BLE001
            return "UNKNOWN", f"{type(error).__name__}: {error}"
        return servable

    def _load(self, model, version, path):
        name = model.config.name
        logger.info("Loading servable: {name: %s version: %d}", name, version)
        self._set_state(model, version, LOADING)
        fingerprint = _fingerprint(path)
        started = time.monotonic()
        for attempt in range(self.max_load_retries + 1):
            if attempt:
                logger.info(
                    "Retrying load of servable: {name: %s version: %d}, retry %d of %d",
                    name,
                    version,
                    attempt,
                    self.max_load_retries,
                )
                if self._stop.wait(self.load_retry_interval):
                    break
            servable = self._try_load(name, version, path)
            if not isinstance(servable, tuple):
                break
        if isinstance(servable, tuple):
            self._fail(model, version, *servable, fingerprint)
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

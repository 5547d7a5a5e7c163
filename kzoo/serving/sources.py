"""Where the served models come from: a TF Serving config file, a folder of models, or a list.

TF Serving's layout is `<base_path>/<integer version>/saved_model.pb` (+ `variables/`). A source
is a callable that returns the `ModelConfig`s to serve; the `ModelManager` calls it at every poll:

- `ConfigFileSource`: a `model_config_list` text-proto file (TF Serving's `--model_config_file`:
  `name`, `base_path`, `model_version_policy` and `version_labels` are honoured), re-read when
  it changes.
- `BasePathSource`: a folder of model folders (`saved_models/<name>/<version>/`, kzoo's export
  layout), or one model's folder.
- `StaticSource`: a fixed list (what a gRPC `HandleReloadConfigRequest` installs).

Example:

>>> import os, tempfile
>>> base = tempfile.mkdtemp()
>>> os.makedirs(f"{base}/double/1")
>>> config, = BasePathSource(base)()
>>> config.name, config.policy, sorted(version_folders(config.base_path))
('double', 'latest', [1])
"""

import dataclasses
import logging
import os
import re
import time

from tensorflow_serving.config import model_server_config_pb2

from kzoo.serving.protos import read_text_proto

logger = logging.getLogger("kzoo.serving")

_VERSION_FOLDER = re.compile(r"[0-9]+")


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

    Raises:
        ValueError: TF Serving's `Invalid protobuf file: '<path>'. Error parsing text-format
            tensorflow.serving.ModelServerConfig: <line>:<column>: ...`, or a config it refuses.
        OSError: the file cannot be read.

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
    return configs_from_proto(read_text_proto(path, model_server_config_pb2.ModelServerConfig))


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


def version_folders(path):
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
        if version_folders(self.base_path):
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
            if not entry.startswith(".") and os.path.isdir(path) and version_folders(path):
                configs.append(ModelConfig(entry, path))
        return configs


class StaticSource:
    """A fixed list of `ModelConfig`s (gRPC `HandleReloadConfigRequest` installs one)."""

    def __init__(self, configs):
        self.configs = list(configs)

    def __call__(self):
        return self.configs

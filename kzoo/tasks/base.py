"""What every task kind shares: the `Data` a run needs, the `Task` base class with its hooks,
and the ways of cutting data into splits."""

import abc
import dataclasses
import inspect
import json
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kzoo.data.batching import without_autotuning
from kzoo.distribute import multi_worker
from kzoo.registry import get_model_entry


@dataclasses.dataclass
class Data:
    """Everything a run needs from its data.

    Attributes:
        train, valid, test: `tf.data.Dataset`s of global batches (valid and test may be None).
        model_args: model factory arguments that follow from the data.
        vectorizers: adapted `TextVectorization` layers by role ("text", "source", "target").
        class_names: class names, for classifiers.
        raw: the raw splits, for evaluation and samples.
        summary: one line per split describing its size, for the log.
        examples: a few raw inputs (texts, prompts, words) for the export's warm-up requests.
        max_length: the longest input, in tokens, the pipelines keep (serving truncates alike).
        lines_left_out: bad lines left out of each split's files ({split: count}), when
            classification files are read with `--on-bad-lines warn` or `skip`.
    """

    train: Any
    valid: Any = None
    test: Any = None
    model_args: dict = dataclasses.field(default_factory=dict)
    vectorizers: dict = dataclasses.field(default_factory=dict)
    class_names: list = None
    raw: dict = dataclasses.field(default_factory=dict)
    summary: list = dataclasses.field(default_factory=list)
    examples: list = dataclasses.field(default_factory=list)
    max_length: int = None
    lines_left_out: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        # Every pipeline a run iterates, whichever task built it.
        for split in ("train", "valid", "test"):
            dataset = getattr(self, split)
            if isinstance(dataset, tf.data.Dataset):
                setattr(self, split, without_autotuning(dataset))


class Task(abc.ABC):
    """One kind of training, from its data to its served model.

    A subclass reads its data into `Data` (`load`), and may change how its models compile,
    which callbacks they train with, how they are evaluated and what their SavedModel serves.
    The runner (`kzoo.training.Run`) and the exporter (`kzoo.export`) call these hooks for every
    kind alike.

    Class attributes:
        settings: dict of `kzoo.settings.Setting`. The settings only this kind reads (they
            become options of its recipes).
        trains_with_optimizer: bool. Whether its models train with the run's optimizer
            settings (`--optimizer`, `--learning-rate`...); the GAN brings its own pair.
        monitor: str or None. What "best" means for checkpoints and early stopping.
        held_out_files: tuple of str. The splits that `--valid-file` and `--test-file` give,
            whatever the training data (`read_held_out_files`); a file setting of another split
            is an error, never silently ignored.
    """

    settings = {}
    trains_with_optimizer = True
    monitor = "val_loss"
    held_out_files = ("valid", "test")

    def __init__(self, config):
        self.config = config
        for split in ("valid", "test"):
            if config.get(f"{split}_file") and split not in self.held_out_files:
                read = " and ".join(f"--{s}-file" for s in self.held_out_files) or "no file"
                raise ValueError(
                    f"Invalid value for setting {split}_file. Expected no --{split}-file for a "
                    f"{config['task']} run, which reads {read} besides its training data. "
                    f"Received: {split}_file={','.join(map(str, config[f'{split}_file']))}"
                )

    # === Models ===

    @classmethod
    def model_factory(cls, model_name):
        """The factory of a model this kind trains: a registered model's."""
        return get_model_entry(model_name).builder

    def stand_in_model_args(self):
        """Small stand-ins for the model arguments `load` takes from the data.

        The runner builds the model once with them before reading any data, so that the
        model's own checks of the recipe's arguments (`units=-3`, `rnn="transformer"`) fail at
        once; `None` skips that check (a model whose build is itself expensive).
        """
        return {"vocabulary_size": 3}

    def pretrained_model(self):
        """The model a run starts from instead of a fresh one (a preset it fine-tunes, loaded
        in the run's strategy scope), or `None` for a fresh model from the factory."""
        return None

    def accepts(self, argument):
        """Whether the recipe's model factory takes `argument`."""
        factory = self.model_factory(self.config["model"])
        return argument in inspect.signature(factory).parameters

    def compile(self, model, optimizer, **compile_args):
        """Compiles `model` for training with `optimizer`, keeping the loss and metrics its
        factory chose; `compile_args` (`jit_compile`, `steps_per_execution`) go to Keras."""
        compiled = model.get_compile_config()
        model.compile(
            optimizer=optimizer,
            loss=keras.saving.deserialize_keras_object(compiled["loss"]),
            metrics=keras.saving.deserialize_keras_object(compiled["metrics"]),
            **compile_args,
        )
        return model

    # === Data, training and evaluation ===

    @abc.abstractmethod
    def load(self, global_batch_size):
        """Returns `Data` with pipelines batched at `global_batch_size`."""

    def callbacks(self, model, data, log_dir):
        """Callbacks of this kind's own (TensorBoard images...), written by the chief only."""
        return []

    def evaluate(self, model, data):
        """Returns {split: {metric: value}} for the validation and test splits."""
        results = {}
        for split in ("valid", "test"):
            dataset = getattr(data, split)
            if dataset is not None:
                results[split] = multi_worker.evaluate(model, dataset, verbose=0, return_dict=True)
        return results

    # === Serving ===

    @classmethod
    @abc.abstractmethod
    def endpoints(cls, bundle):
        """The SavedModel's endpoints of a `kzoo.signatures.ServingBundle`: `tf.function`s by
        name, `serving_default` first."""

    @classmethod
    def ready_model(cls, bundle):
        """What `kzoo.from_preset` returns for a finished run of this kind: by default its
        `ServingBundle` (the model with its vectorizers and settings), which `kzoo.generate`,
        `kzoo.perplexity` and `kzoo.export.export_bundle` take as it is."""
        return bundle

    @classmethod
    def warmup_inputs(cls, bundle):
        """The `serving_default` inputs of the warm-up requests and the post-export check."""
        examples = [str(x) for x in bundle.examples[:3]] or ["hello"]
        return {"text": np.array(examples, dtype=object)}

    @classmethod
    def warmup_requests(cls, bundle):
        """The export's warm-up requests: inputs by signature name. TF Serving replays them
        when it loads the version, so the first request to each pays for nothing (a
        generator's `sample` loop takes seconds to prepare). By default `serving_default`'s
        alone; kinds add their other costly signatures."""
        return {"serving_default": cls.warmup_inputs(bundle)}

    @classmethod
    def reference_outputs(cls, bundle, inputs, functions):
        """What `serving_default` must return on `inputs`, computed without the SavedModel
        (by default, the endpoint function before it is saved)."""
        outputs = functions["serving_default"](
            **{k: tf.constant(v.tolist() if v.dtype == object else v) for k, v in inputs.items()}
        )
        return {k: v.numpy() for k, v in outputs.items()}


# === Where the data comes from ===


def tfds_name(config):
    """The TFDS dataset a run asks for: `--dataset tfds` means the recipe's `tfds_name`."""
    if config["dataset"] == "tfds":
        if not config["tfds_name"]:
            raise ValueError(
                "Invalid value for setting dataset. Expected a TFDS name, as this recipe names "
                "no TFDS default. Received: dataset=tfds"
            )
        return config["tfds_name"]
    return config["dataset"]


def embedded_name(dataset, default, choices):
    """The embedded corpus `--dataset embedded[:<name>]` names, one of `choices`."""
    name = dataset.partition(":")[2] or default
    if name not in choices:
        raise ValueError(
            f"Invalid value for setting dataset. Expected one of "
            f"{['embedded:' + n for n in choices]}. Received: dataset={dataset}"
        )
    return name


def hold_out(items, fraction, seed, block=0):
    """Splits parallel lists into (kept, held out) by a seeded shuffle.

    The held-out part is block `block` of the shuffle, each `fraction` long: blocks 0, 1, ...
    of one seed are the folds of a cross-validation.
    """
    count = len(items[0])
    order = np.random.default_rng(seed).permutation(count)
    cut = int(round(count * fraction))
    held = order[block * cut : (block + 1) * cut]
    kept = np.concatenate([order[: block * cut], order[(block + 1) * cut :]])
    return [[column[i] for i in kept] for column in items], [
        [column[i] for i in held] for column in items
    ]


def read_held_out_files(splits, config, read):
    """Replaces the validation and test splits of `splits` by the `--valid-file` and
    `--test-file` paths given, read with `read(paths, split)`: with local training files, or
    with an embedded or TFDS corpus (a model trained on it, tested on real data). Returns
    `splits`."""
    for split in ("valid", "test"):
        if config.get(f"{split}_file"):
            splits[split] = read(config[f"{split}_file"], split)
    return splits


def local_splits(config, read):
    """Reads the `--train-file`, `--valid-file` and `--test-file` paths given, with
    `read(paths, split)`."""
    splits = read_held_out_files({"train": read(config["train_file"], "train")}, config, read)
    if "test" not in splits and config.get("test_fraction"):
        # A seeded test split for datasets that ship none (MR); validation is then held out of
        # what remains, with another seed.
        fraction, fold = config["test_fraction"], config.get("test_fold", 0)
        folds = int(1 / fraction + 1e-9)
        if not 0 <= fold < folds:
            raise ValueError(
                f"Invalid value for setting test_fold. Expected an integer in [0, {folds}) for "
                f"test_fraction={fraction}. Received: test_fold={fold}"
            )
        kept, held = hold_out(list(splits["train"]), fraction, config["seed"], block=fold)
        splits["train"], splits["test"] = tuple(kept), tuple(held)
    return splits


def with_validation(splits, config):
    """Holds out `valid_fraction` of the training split when no validation split was given."""
    if "valid" not in splits:
        kept, held = hold_out(list(splits["train"]), config["valid_fraction"], config["seed"] + 1)
        splits["train"], splits["valid"] = tuple(kept), tuple(held)
    return splits


def standardize(config):
    """The vectorizer's standardization a run asks for (`"none"`: none)."""
    return None if config["standardize"] == "none" else config["standardize"]


def examples_json(examples):
    """The examples as JSON text (`examples.json` of a run)."""
    return json.dumps(examples, indent=2)

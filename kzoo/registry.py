"""The model registry, in the style of timm and keras-hub.

A factory joins the registry with `@register_model`; its registered name is the function name
without the `build_` prefix, and its description is the first line of its docstring. Beside its
factory, each model family declares what it is: a tiny configuration (`TinyConfig`) that the
contract test in `tests/test_model_contract.py` builds, runs, saves, reloads and trains; the
kind of training it takes (its task, `kzoo.tasks`); for generators and translators, its
`kzoo.decoding.Decoder`; where it has them, its attention weights and the most tokens it reads.
Code outside the families asks the registry (`entry_for(model)`) instead of looking for layers.

Example:

>>> import kzoo
>>> "lstm_classifier" in kzoo.list_models()
True
>>> model = kzoo.build_model("lstm_classifier", vocabulary_size=100, num_classes=3)
"""

import dataclasses
import fnmatch
from collections.abc import Callable
from typing import Any

_MODELS = {}


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    """A tiny configuration of a model, for fast tests of the model contract.

    Args:
        kwargs: dict. Factory arguments that make the model tiny.
        inputs: callable. `inputs(rng)` returns a small batch of inputs (numpy arrays, or a
            dict of them for models with named inputs), given a `numpy.random.Generator`.
        output_shape: tuple. The shape `model(inputs)` returns for that batch.
        targets: callable or `None`. `targets(rng)` returns training targets for that batch;
            `None` for models that train on inputs alone (the GAN).
        training_inputs: callable or `None`. `training_inputs(rng)` returns the inputs of a
            training step when they are not the inputs of a call (the GAN is called on noise
            and trains on images). Defaults to `inputs`.
        padded_inputs: callable or `None`. For models that mask padding:
            `padded_inputs(inputs)` returns the same batch with extra padding (token id 0)
            appended; the contract checks that outputs on the real positions do not change.
    """

    kwargs: dict
    inputs: Callable[[Any], Any]
    output_shape: tuple
    targets: Callable[[Any], Any] | None = None
    training_inputs: Callable[[Any], Any] | None = None
    padded_inputs: Callable[[Any], Any] | None = None


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the registry knows of one model family.

    Attributes:
        name: str. The registered name, also the name of the models the factory builds.
        builder: the factory.
        description: str. The first line of the factory's docstring.
        tiny: `TinyConfig` or `None`.
        task: str or `None`. The task kind the model trains under (`kzoo.tasks.TASKS`).
        decoder: a `kzoo.decoding.Decoder` subclass, for generators and translators.
        attention: callable or `None`. `attention(model)` returns a callable (a `keras.Model`,
            say) of the model's inputs whose last output is its attention weights.
        input_limit: callable or `None`. `input_limit(model)` is the most tokens the model reads
            (a position embedding's length), or `None`.
    """

    name: str
    builder: Callable
    description: str
    tiny: TinyConfig | None
    task: str | None = None
    decoder: Any = None
    attention: Callable | None = None
    input_limit: Callable | None = None


def _first_line(doc):
    for line in (doc or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def register_model(
    fn=None, *, name=None, tiny=None, task=None, decoder=None, attention=None, input_limit=None
):
    """Registers a model factory, as a bare decorator or with arguments.

    Args:
        fn: the factory. Its name without the `build_` prefix is the registered name.
        name: str. A registered name other than the default.
        tiny: `TinyConfig`. The tiny configuration the contract test uses.
        task: str. The task kind the model trains under (`"classification"`, ...).
        decoder: a `kzoo.decoding.Decoder` subclass, for generators and translators.
        attention: callable. `attention(model)` returns a callable of the model's inputs with
            the attention weights as its last output.
        input_limit: callable. `input_limit(model)` is the most tokens the model reads.

    Example:

    ```python
    @register_model(tiny=TinyConfig(kwargs={...}, inputs=..., output_shape=(2, 1)))
    def build_my_classifier(vocabulary_size=10_000, num_classes=2):
        \"\"\"One line that `kzoo list` prints.\"\"\"
        ...
    ```
    """

    def decorate(builder):
        model_name = name or builder.__name__.removeprefix("build_")
        if model_name in _MODELS:
            raise ValueError(
                f"A model named '{model_name}' is already registered "
                f"(by {_MODELS[model_name].builder.__module__})."
            )
        _MODELS[model_name] = ModelEntry(
            name=model_name,
            builder=builder,
            description=_first_line(builder.__doc__),
            tiny=tiny,
            task=task,
            decoder=decoder,
            attention=attention,
            input_limit=input_limit,
        )
        return builder

    if fn is not None:
        return decorate(fn)
    return decorate


def list_models(pattern="*"):
    """Returns the sorted names of registered models matching a shell-style `pattern`.

    Args:
        pattern: str. A wildcard pattern such as `"*seq2seq"`. Defaults to `"*"`.
    """
    return sorted(name for name in _MODELS if fnmatch.fnmatchcase(name, pattern))


def get_model_entry(name):
    """Returns the `ModelEntry` registered under `name`; unknown names raise `ValueError`."""
    if name not in _MODELS:
        raise ValueError(
            f"Unknown model name. Expected one of {list_models()}. Received: name={name}"
        )
    return _MODELS[name]


def entry_for(model):
    """The `ModelEntry` of a model a kzoo factory built (fresh or loaded from a `.keras` file).

    Factories name their models after their registered name, which Keras saves with them.

    Raises:
        ValueError: for a model no kzoo factory built.

    Example:

    >>> import kzoo
    >>> entry_for(kzoo.build_gpt(vocabulary_size=20, num_layers=1, hidden_dim=8)).task
    'language_model'
    """
    name = getattr(model, "name", None)
    if name not in _MODELS:
        raise ValueError(
            "Invalid value for argument model. Expected a model built by a kzoo factory "
            f"(named one of {list_models()}). Received: model={name or model!r}"
        )
    return _MODELS[name]


def decoder_class(model):
    """The `kzoo.decoding.Decoder` subclass of a generator or translator model's family.

    Raises:
        ValueError: for a model of a family that declares no decoder (a classifier...).
    """
    entry = entry_for(model)
    if entry.decoder is None:
        generators = [name for name in list_models() if _MODELS[name].decoder is not None]
        raise ValueError(
            f"Invalid value for argument model. Expected a generator or translator (one of "
            f"{generators}), or the folder of a finished kzoo run of one. "
            f"Received: model={entry.name}"
        )
    return entry.decoder


def decoder_for(model):
    """The `kzoo.decoding.Decoder` of a generator or translator model (built anew: it may
    build inference models of its own, so keep it).

    Raises:
        ValueError: for a model of a family that declares no decoder (a classifier...).
    """
    return decoder_class(model)(model)


def build_model(name, **overrides):
    """Builds a registered model by name.

    Arguments left as `None` are dropped, so command-line options that were not given never
    replace the factory's own defaults (timm's `create_model` does the same).

    Args:
        name: str. A name from `list_models()`.
        **overrides: factory arguments.

    Example:

    >>> import kzoo
    >>> model = kzoo.build_model("cnn_sentiment", vocabulary_size=500)
    >>> model.output_shape
    (None, 1)
    """
    entry = get_model_entry(name)
    kwargs = {key: value for key, value in overrides.items() if value is not None}
    return entry.builder(**kwargs)

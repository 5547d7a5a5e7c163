"""Task kinds: what differs between kinds of training, from the data to the served model.

A task kind is one module here: how it reads its data (`load`), its own settings, how its
models compile and are evaluated, its TensorBoard callbacks, and what its SavedModel serves
(`endpoints`, warm-up inputs). `TASKS` is the one table of kinds: the settings
(`kzoo.training.config`), the runner and the exporter ask it. A model family names its kind
when it registers (`kzoo.registry.register_model(task=...)`).

Example:

>>> from kzoo.tasks import TASKS, get_task
>>> sorted(TASKS)[:2]
['classification', 'gan']
>>> get_task("language_model").__name__
'LanguageModelTask'
"""

from kzoo.tasks.base import Data, Task
from kzoo.tasks.classification import ClassificationTask
from kzoo.tasks.gan import GANTask
from kzoo.tasks.language_model import LanguageModelTask
from kzoo.tasks.pretrained_classification import PretrainedClassificationTask
from kzoo.tasks.pretrained_language_model import PretrainedLanguageModelTask
from kzoo.tasks.token_classification import TokenClassificationTask
from kzoo.tasks.translation import TranslationTask
from kzoo.tasks.word2vec import Word2VecTask

TASKS = {
    "classification": ClassificationTask,
    "language_model": LanguageModelTask,
    "translation": TranslationTask,
    "gan": GANTask,
    "word2vec": Word2VecTask,
    "pretrained_classification": PretrainedClassificationTask,
    "pretrained_language_model": PretrainedLanguageModelTask,
    "token_classification": TokenClassificationTask,
}


def get_task(kind):
    """The `Task` class of a task kind; an unknown kind is a `ValueError` naming them all."""
    if kind not in TASKS:
        raise ValueError(
            f"Invalid value for setting task. Expected one of {sorted(TASKS)}. Received: "
            f"task={kind}"
        )
    return TASKS[kind]


__all__ = ["TASKS", "Data", "Task", "get_task"]

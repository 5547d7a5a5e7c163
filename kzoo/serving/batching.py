"""Request batching: concurrent predict calls merged into one signature call, as TF Serving's
`--enable_batching` does.

Requests to the same model version and signature whose inputs can be concatenated along the
first (batch) dimension (same input names, data types and sizes past the first dimension) wait
for each other up to `batch_timeout_micros`, or until `max_batch_size` rows are queued. The first
request of a batch runs it for all: inputs are concatenated, the signature runs once and every
output is split back by rows.

Where TF Serving fails a request that cannot join a batch (a scalar input, inputs of different
batch sizes, more rows than `max_batch_size`), kzoo runs it on its own; a batch whose call
fails, or whose outputs do not keep the batch dimension, is run again one request at a time so
each request gets its own answer or error. Results are those of unbatched calls for models whose
rows do not interact (ops like matmul can round differently in the last bit at another batch
size, in TF Serving too).

Deadlines (`kzoo.serving.deadlines`): a merged call runs until the last deadline of its
requests; a request whose own deadline passes first stops waiting and is answered
DEADLINE_EXCEEDED, and a request run on its own runs under its own deadline.

Example:

>>> import numpy as np
>>> batcher = Batcher(max_batch_size=8, batch_timeout_micros=0)
>>> batcher.run("double", {"x": np.array([1.0, 2.0])}, lambda inputs: {"y": 2 * inputs["x"]})
{'y': array([2., 4.])}
"""

import threading
import time

import numpy as np

from kzoo.serving.deadlines import Deadline
from kzoo.serving.errors import ServingError

# How often a request waiting for its batch looks at its own deadline.
_WAIT_SLICE_SECONDS = 0.05


class _Task:
    __slots__ = ("inputs", "rows", "deadline", "outputs", "error", "done")

    def __init__(self, inputs, rows, deadline):
        self.inputs = inputs
        self.rows = rows
        self.deadline = deadline
        self.outputs = None
        self.error = None
        self.done = threading.Event()


class _Batch:
    __slots__ = ("tasks", "rows", "closed")

    def __init__(self):
        self.tasks = []
        self.rows = 0
        self.closed = False


def batch_rows(inputs):
    """The batch size shared by all inputs, or None when they cannot be batched.

    Example:

    >>> import numpy as np
    >>> batch_rows({"a": np.zeros((3, 2)), "b": np.zeros(3)}), batch_rows({"a": np.zeros(())})
    (3, None)
    """
    rows = None
    for value in inputs.values():
        if value.ndim == 0 or (rows is not None and value.shape[0] != rows):
            return None
        rows = value.shape[0]
    return rows


class Batcher:
    """Merges concurrent calls that share a key into one call on concatenated inputs.

    Args:
        max_batch_size: int. Most rows in one merged call. Defaults to 32.
        batch_timeout_micros: int. How long the first request of a batch waits for others, in
            microseconds. Defaults to 1000.

    Attributes:
        calls: int. Signature calls made (merged or not), for tests and monitoring.
        merged_requests: int. Requests answered from a merged call of two or more requests.
    """

    def __init__(self, max_batch_size=32, batch_timeout_micros=1000):
        if max_batch_size < 1:
            raise ValueError(
                "Invalid value for argument max_batch_size. Expected a positive integer. "
                f"Received: max_batch_size={max_batch_size}"
            )
        if batch_timeout_micros < 0:
            raise ValueError(
                "Invalid value for argument batch_timeout_micros. Expected a non-negative "
                f"integer. Received: batch_timeout_micros={batch_timeout_micros}"
            )
        self.max_batch_size = max_batch_size
        self.batch_timeout = batch_timeout_micros / 1e6
        self.calls = 0
        self.merged_requests = 0
        self._open = {}
        self._condition = threading.Condition()

    def run(self, key, inputs, function, deadline=None):
        """Runs `function(inputs)`, merged with concurrent calls of the same `key`.

        Args:
            key: hashable. Calls with equal keys run the same function (model, version and
                signature); input names, dtypes and trailing shapes are added to it here.
            inputs: dict. Input name → NumPy array with the batch as first dimension.
            function: callable. Dict of arrays → dict of arrays.
            deadline: `Deadline`, optional. This request's deadline.

        Returns:
            The outputs for these inputs only.
        """
        deadline = deadline or Deadline()
        rows = batch_rows(inputs)
        if rows is None or rows > self.max_batch_size:
            with deadline.running():
                return self._call(function, inputs)
        key = (
            key,
            tuple(
                (name, value.dtype.str, value.shape[1:]) for name, value in sorted(inputs.items())
            ),
        )
        task = _Task(inputs, rows, deadline)
        with self._condition:
            batch = self._open.get(key)
            if batch is not None and batch.rows + rows > self.max_batch_size:
                self._close(key, batch)
                batch = None
            leader = batch is None
            if leader:
                batch = self._open[key] = _Batch()
            batch.tasks.append(task)
            batch.rows += rows
            if batch.rows >= self.max_batch_size:
                self._close(key, batch)
        if leader:
            closes_at = time.monotonic() + self.batch_timeout
            with self._condition:
                while not batch.closed:
                    remaining = closes_at - time.monotonic()
                    if remaining <= 0:
                        self._close(key, batch)
                        break
                    self._condition.wait(remaining)
            self._execute(batch, function)
        else:
            while not task.done.wait(_WAIT_SLICE_SECONDS):
                deadline.check()  # stops waiting; the batch goes on for the others
        if task.error is not None:
            raise task.error
        deadline.check()
        return task.outputs

    def _close(self, key, batch):
        """Marks a batch full; called with the condition held."""
        batch.closed = True
        if self._open.get(key) is batch:
            del self._open[key]
        self._condition.notify_all()

    def _call(self, function, inputs):
        with self._condition:
            self.calls += 1
        return function(inputs)

    def _execute(self, batch, function):
        tasks = batch.tasks
        try:
            if len(tasks) == 1:
                self._run_alone(tasks[0], function)
                return
            names = list(tasks[0].inputs)
            merged = {name: np.concatenate([task.inputs[name] for task in tasks]) for name in names}
            try:
                with Deadline.latest(task.deadline for task in tasks).running():
                    outputs = self._call(function, merged)
            except ServingError:
                outputs = None
            if outputs is None or any(
                np.ndim(value) == 0 or np.shape(value)[0] != batch.rows
                for value in outputs.values()
            ):
                for task in tasks:
                    self._run_alone(task, function)
                return
            start = 0
            for task in tasks:
                end = start + task.rows
                task.outputs = {name: value[start:end] for name, value in outputs.items()}
                start = end
            with self._condition:
                self.merged_requests += len(tasks)
        except BaseException as error:  # noqa: BLE001 - every waiting request must wake up
            for task in tasks:
                if task.outputs is None and task.error is None:
                    task.error = error
        finally:
            for task in tasks:
                task.done.set()

    def _run_alone(self, task, function):
        try:
            with task.deadline.running():
                task.outputs = self._call(function, task.inputs)
        except ServingError as error:
            task.error = error

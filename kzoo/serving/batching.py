"""Request batching: concurrent predict calls merged into one signature call, as TF Serving's
`--enable_batching` does, with its `BatchingParameters`.

The scheduling is TF Serving's shared batch scheduler's. Requests to the same model version and
signature whose inputs can be concatenated along the first (batch) dimension (same input names,
data types and sizes past the first dimension) join the open batch of their queue. A batch is
ready when it is full (`max_batch_size` rows), when a newer batch follows it, or
`batch_timeout_micros` after its first request; `num_batch_threads` batches run at a time, and
while they all run, new requests gather in the open batch, so a busy server runs large batches and
an idle one answers each request at once (with the default timeout of 0). A queue may hold
`max_enqueued_batches` batches; past that a request is answered UNAVAILABLE, as TF Serving does.
With `allowed_batch_sizes`, a merged batch is padded up to the next allowed size with copies of
the last request's first row, and the padding's outputs are dropped.

A ready batch runs in the thread of the request that made it ready when a batch thread is free
(no hand-over while the server is idle), otherwise on one of the batcher's own threads once one
is. Inputs are concatenated, the signature runs once and every output is split back by rows.

Where TF Serving fails a request that cannot join a batch (a scalar input, inputs of different
batch sizes, more rows than `max_batch_size`), kzoo runs it on its own (in chunks of
`max_execution_batch_size` when `enable_large_batch_splitting` is set); a batch whose call
fails, or whose outputs do not keep the batch dimension, is run again one request at a time so
each request gets its own answer or error. Results are those of unbatched calls for models whose
rows do not interact (ops like matmul can round differently in the last bit at another batch
size, in TF Serving too).

Deadlines (`kzoo.serving.deadlines`): a merged call runs until the last deadline of its
requests; a request whose own deadline passes first stops waiting and is answered
DEADLINE_EXCEEDED (and is left out if its batch has not started), and a request run on its own
runs under its own deadline.

Example:

>>> import numpy as np
>>> batcher = Batcher(max_batch_size=8, batch_timeout_micros=0)
>>> batcher.run("double", {"x": np.array([1.0, 2.0])}, lambda inputs: {"y": 2 * inputs["x"]})
{'y': array([2., 4.])}
>>> batcher.stop()
"""

import collections
import os
import threading
import time

import numpy as np

from kzoo.serving.deadlines import Deadline
from kzoo.serving.errors import ServingError, invalid_argument

# How often a request waiting for its batch looks at its own deadline.
_WAIT_SLICE_SECONDS = 0.05
# TF Serving's BatchingParameters defaults (SharedBatchScheduler's QueueOptions and Options).
DEFAULT_MAX_BATCH_SIZE = 1000
DEFAULT_MAX_ENQUEUED_BATCHES = 10
DEFAULT_THREAD_POOL_NAME = "model_server_batch_threads"
_callback_lock = threading.Lock()


class _Task:
    __slots__ = ("inputs", "rows", "deadline", "enqueued", "outputs", "error", "done", "callback")

    def __init__(self, inputs, rows, deadline, callback=None):
        self.inputs = inputs
        self.rows = rows
        self.deadline = deadline
        self.enqueued = time.monotonic()
        self.outputs = None
        self.error = None
        self.done = threading.Event()
        # A submitted task's caller does not wait: it is called back instead.
        self.callback = callback

    def finish(self):
        """Wakes the waiting caller, or calls a submitted task's callback (once)."""
        self.done.set()
        with _callback_lock:  # the batch thread and a stopping deadline may both finish it
            callback, self.callback = self.callback, None
        if callback is None:
            return
        self.deadline.clear_on_stop()
        error = self.error
        if error is None and self.outputs is None:
            # Left out of its batch: stopped before it ran.
            try:
                self.deadline.check()
            except ServingError as stopped:
                error = stopped
        callback(self.outputs, error)


class _Batch:
    __slots__ = ("key", "function", "tasks", "rows", "closed", "opened")

    def __init__(self, key, function):
        self.key = key
        self.function = function
        self.tasks = []
        self.rows = 0
        self.closed = False
        self.opened = time.monotonic()


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


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"Invalid value for argument {name}. Expected a positive integer. "
            f"Received: {name}={value}"
        )


def _checked_allowed_sizes(sizes, limit, splitting):
    """TF Serving's checks of `allowed_batch_sizes` (CreateBasicBatchingSession)."""
    sizes = [int(size) for size in sizes]
    if not sizes:
        return ()
    if any(later <= earlier for earlier, later in zip(sizes, sizes[1:])):
        raise ValueError("allowed_batch_sizes entries must be monotonically increasing")
    if sizes[-1] != limit:
        name = "max_execution_batch_size" if splitting else "max_batch_size"
        verb = "be equal to" if splitting else "match"
        raise ValueError(
            f"Last entry in allowed_batch_sizes must {verb} {name}; last entry was "
            f"{sizes[-1]}; expected {limit}"
        )
    return tuple(sizes)


class Batcher:
    """Merges concurrent calls that share a key into one call on concatenated inputs.

    The arguments are TF Serving's `BatchingParameters`, with its defaults.

    Args:
        max_batch_size: int. Most rows in one merged call. Defaults to 1000.
        batch_timeout_micros: int. How long a batch that is not full waits for more requests
            before it is ready, in microseconds. Defaults to 0.
        num_batch_threads: int, optional. Batches run at the same time. Defaults to the number
            of CPUs.
        max_enqueued_batches: int. Batches a queue (one model version and signature) may hold
            before requests are refused with UNAVAILABLE. Defaults to 10.
        allowed_batch_sizes: sequence of int. Batch sizes a merged call may have, increasing;
            the last must be the batch size limit. Defaults to any size.
        enable_large_batch_splitting: bool. Run a request with more rows than the batch size
            limit in chunks of `max_execution_batch_size`. Defaults to False (in one call).
        max_execution_batch_size: int, optional. With `enable_large_batch_splitting`, the most
            rows in one merged call (and chunk). Defaults to `max_batch_size`.
        thread_pool_name: str. The name of the batch threads, in metrics. Defaults to
            `model_server_batch_threads`, as TF Serving's server.
        metrics: `ServingMetrics`, optional. Records queuing latency and signature calls.

    Attributes:
        calls: int. Signature calls made (merged or not), for tests and monitoring.
        merged_requests: int. Requests answered from a merged call of two or more requests.
    """

    def __init__(
        self,
        max_batch_size=DEFAULT_MAX_BATCH_SIZE,
        batch_timeout_micros=0,
        *,
        num_batch_threads=None,
        max_enqueued_batches=DEFAULT_MAX_ENQUEUED_BATCHES,
        allowed_batch_sizes=(),
        enable_large_batch_splitting=False,
        max_execution_batch_size=None,
        thread_pool_name=DEFAULT_THREAD_POOL_NAME,
        metrics=None,
    ):
        if num_batch_threads is None:
            num_batch_threads = os.cpu_count() or 1
        for name, value in (
            ("max_batch_size", max_batch_size),
            ("num_batch_threads", num_batch_threads),
            ("max_enqueued_batches", max_enqueued_batches),
        ):
            _positive(name, value)
        if isinstance(batch_timeout_micros, bool) or not batch_timeout_micros >= 0:
            raise ValueError(
                "Invalid value for argument batch_timeout_micros. Expected a non-negative "
                f"integer. Received: batch_timeout_micros={batch_timeout_micros}"
            )
        self.max_batch_size = max_batch_size
        self.splitting = bool(enable_large_batch_splitting)
        # The most rows in one call: TF Serving's max_execution_batch_size when splitting.
        self.capacity = max_batch_size
        if self.splitting and max_execution_batch_size is not None:
            _positive("max_execution_batch_size", max_execution_batch_size)
            self.capacity = min(max_execution_batch_size, max_batch_size)
        self.allowed_batch_sizes = _checked_allowed_sizes(
            allowed_batch_sizes, self.capacity, self.splitting
        )
        self.batch_timeout = batch_timeout_micros / 1e6
        self.num_batch_threads = num_batch_threads
        self.max_enqueued_batches = max_enqueued_batches
        self.thread_pool_name = thread_pool_name
        self.metrics = metrics
        self.calls = 0
        self.merged_requests = 0
        self._queues = {}  # key → deque of batches, the last one open unless closed
        self._free_threads = num_batch_threads
        self._condition = threading.Condition()
        self._threads = []
        self._stopping = False

    # === Requests ===

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

        Raises:
            ServingError: the call's error, UNAVAILABLE when the queue is full, or the
                deadline's.
        """
        deadline = deadline or Deadline()
        rows = batch_rows(inputs)
        if rows is None or rows > self.capacity:
            with deadline.running():
                return self._run_large(function, inputs, rows)
        task = _Task(inputs, rows, deadline)
        batch = self._enqueue(self._full_key(key, inputs), function, task)
        if batch is not None:  # ready, and a batch thread was free: run it here
            self._execute(batch)
        while not task.done.wait(_WAIT_SLICE_SECONDS):
            deadline.check()  # stops waiting; the batch goes on for the others
        if task.error is not None:
            raise task.error
        deadline.check()
        return task.outputs

    def submit(self, key, inputs, function, deadline, callback):
        """Queues `function(inputs)` as `run` does, without waiting: for a caller that must not
        block (an event loop). The batch runs on a batch thread.

        Args:
            key, inputs, function: as `run`.
            deadline: `Deadline`. This request's deadline; when it passes (or the request is
                cancelled) while the request waits, the callback gets its error at once.
            callback: callable. Called once, from another thread, with `(outputs, error)`.

        Returns:
            Whether the call was queued: False when the inputs cannot join a batch (a scalar
            input, different batch sizes, more rows than a batch holds); `run` runs those.

        Raises:
            ServingError: UNAVAILABLE when the queue is full or the batcher stopped.
        """
        rows = batch_rows(inputs)
        if rows is None or rows > self.capacity:
            return False
        deadline.check()
        task = _Task(inputs, rows, deadline, callback)
        # A request stopped while it waits is answered at once, and left out of its batch
        # (`_execute` skips cancelled requests).
        deadline.on_stop(task.finish)
        try:
            self._enqueue(self._full_key(key, inputs), function, task, caller_runs=False)
        except ServingError:
            with _callback_lock:
                answered, task.callback = task.callback is None, None
            if answered:  # stopped meanwhile, and so answered already
                return True
            deadline.clear_on_stop()
            raise
        return True

    @staticmethod
    def _full_key(key, inputs):
        """Calls join a batch when their key, input names, dtypes and trailing shapes agree."""
        return (
            key,
            tuple(
                (name, value.dtype.str, value.shape[1:]) for name, value in sorted(inputs.items())
            ),
        )

    def _enqueue(self, key, function, task, caller_runs=True):
        """Adds a task to its queue's open batch; returns that batch when it is ready and a
        batch thread is free for the caller to run it (`caller_runs`), else None (a batch
        thread will)."""
        with self._condition:
            if self._stopping:
                raise ServingError("UNAVAILABLE", "The server is shutting down.")
            queue = self._queues.setdefault(key, collections.deque())
            batch = queue[-1] if queue and not queue[-1].closed else None
            if batch is None or batch.rows + task.rows > self.capacity:
                if len(queue) >= self.max_enqueued_batches:
                    raise ServingError(
                        "UNAVAILABLE",
                        "The batch scheduling queue to which this task was submitted is full; "
                        f"currently {len(queue)} batches enqueued and max_enqueued_batches is "
                        f"{self.max_enqueued_batches}",
                    )
                if batch is not None:
                    batch.closed = True
                batch = _Batch(key, function)
                queue.append(batch)
            batch.tasks.append(task)
            batch.rows += task.rows
            if batch.rows >= self.capacity:
                batch.closed = True
            if (
                caller_runs
                and self._free_threads
                and queue[0] is batch
                and self._ready(batch, queue)
            ):
                queue.popleft()
                if not queue:
                    del self._queues[key]
                self._free_threads -= 1
                batch.closed = True
                return batch
            self._start_threads()
            self._condition.notify()
            return None

    def _ready(self, batch, queue):
        return (
            batch.closed or len(queue) > 1 or time.monotonic() >= batch.opened + self.batch_timeout
        )

    def _take(self):
        """The oldest ready batch, taking a batch thread, or (None, seconds to wait)."""
        if not self._free_threads:
            return None, None
        oldest, wait = None, None
        now = time.monotonic()
        for queue in self._queues.values():
            batch = queue[0]
            if self._ready(batch, queue):
                if oldest is None or batch.opened < oldest.opened:
                    oldest = batch
            else:
                due = batch.opened + self.batch_timeout - now
                wait = due if wait is None else min(wait, due)
        if oldest is None:
            return None, wait
        queue = self._queues[oldest.key]
        queue.popleft()
        if not queue:
            del self._queues[oldest.key]
        oldest.closed = True
        self._free_threads -= 1
        return oldest, None

    # === Batch threads ===

    def _start_threads(self):
        """Starts the batch threads on first need; called with the condition held."""
        if self._threads:
            return
        for index in range(self.num_batch_threads):
            thread = threading.Thread(
                target=self._work, name=f"kzoo-serving-batch-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _work(self):
        while True:
            with self._condition:
                while True:
                    if self._stopping:
                        return
                    batch, wait = self._take()
                    if batch is not None:
                        break
                    self._condition.wait(wait)
            self._execute(batch)

    def stop(self):
        """Stops the batch threads; requests still queued are answered UNAVAILABLE."""
        with self._condition:
            self._stopping = True
            queued = [task for queue in self._queues.values() for b in queue for task in b.tasks]
            self._queues.clear()
            self._condition.notify_all()
        for task in queued:
            task.error = ServingError("UNAVAILABLE", "The server is shutting down.")
            task.finish()
        for thread in self._threads:
            thread.join()
        self._threads = []

    # === Running batches ===

    def _call(self, function, inputs):
        with self._condition:
            self.calls += 1
        if self.metrics is not None:
            self.metrics.batch_call()
        return function(inputs)

    def _run_large(self, function, inputs, rows):
        """A request that cannot join a batch: on its own, in chunks when splitting."""
        if not self.splitting or rows is None or rows <= self.capacity:
            return self._call(function, inputs)
        parts = []
        for start in range(0, rows, self.capacity):
            chunk = {name: value[start : start + self.capacity] for name, value in inputs.items()}
            outputs = self._call(function, chunk)
            size = min(self.capacity, rows - start)
            if any(np.ndim(value) == 0 or len(value) != size for value in outputs.values()):
                raise invalid_argument(
                    "enable_large_batch_splitting needs outputs with the batch as their first "
                    "dimension."
                )
            parts.append(outputs)
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _execute(self, batch):
        try:
            started = time.monotonic()
            tasks = [task for task in batch.tasks if not task.deadline.cancelled]
            if self.metrics is not None:
                for task in tasks:
                    self.metrics.batch_queued(self.thread_pool_name, started - task.enqueued)
            if len(tasks) == 1:
                self._run_alone(tasks[0], batch.function)
            elif tasks:
                self._run_merged(tasks, batch.function)
        except BaseException as error:  # noqa: BLE001 - every waiting request must wake up
            for task in batch.tasks:
                if task.outputs is None and task.error is None:
                    task.error = error
        finally:
            for task in batch.tasks:
                task.finish()
            with self._condition:
                self._free_threads += 1
                if self._queues:
                    self._start_threads()
                    self._condition.notify()

    def _run_merged(self, tasks, function):
        rows = sum(task.rows for task in tasks)
        merged = {
            name: np.concatenate([task.inputs[name] for task in tasks]) for name in tasks[0].inputs
        }
        padded = next((size for size in self.allowed_batch_sizes if size >= rows), rows)
        if padded > rows:
            last = tasks[-1].inputs
            merged = {
                name: np.concatenate([value, np.repeat(last[name][:1], padded - rows, axis=0)])
                for name, value in merged.items()
            }
        try:
            with Deadline.latest(task.deadline for task in tasks).running():
                outputs = self._call(function, merged)
        except ServingError:
            outputs = None
        if outputs is None or any(
            np.ndim(value) == 0 or np.shape(value)[0] != padded for value in outputs.values()
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

    def _run_alone(self, task, function):
        try:
            with task.deadline.running():
                task.outputs = self._call(function, task.inputs)
        except ServingError as error:
            task.error = error

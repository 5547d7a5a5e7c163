"""Request deadlines: a request that runs past its time, or whose client went away, has its
computation stopped and is answered with TF Serving's status.

TF Serving gives each session run a timeout (`--rest_api_timeout_in_ms`, 30 s by default, for
REST; the client's deadline for gRPC), cancels the step when it passes and answers
DEADLINE_EXCEEDED `Timed out waiting for notification` (REST 504). kzoo does the same with
TensorFlow's cancellation: a signature call runs under a `CancellationManager` of its own, which
a `DeadlineWatch` thread cancels when the request's deadline passes; the server cancels it when
its client goes away (a gRPC call that ends early, a REST connection the client closed: then the
answer is CANCELLED, as Go's HTTP server cancels a request's context on a closed connection).
A request waiting for its batch is told at once (`Deadline.on_stop`). A cancelled
function stops at its next cancellation point (each iteration of a decoding loop checks); a
single long kernel finishes first, which is why exports also cap `max_new_tokens` and the server
limits the instances and elements of a request.

TensorFlow's own `CancellationManagerContext` sets one manager for the whole process, so
concurrent requests would cancel each other's computation. `Deadline.running` gives each thread
its own: the function TensorFlow's call path asks for the current manager
(`tensorflow.python.eager.cancellation.context`) is replaced, once, by one that returns the
calling thread's manager, or TensorFlow's process-wide one when the thread has none. Where that
internal function is missing (another TensorFlow version), a request past its deadline is still
answered DEADLINE_EXCEEDED, but only once its computation has run to its end.

Example:

>>> deadline = Deadline(timeout=None)
>>> with deadline.running():
...     pass
>>> deadline.cancel()
>>> deadline.check()
Traceback (most recent call last):
...
kzoo.serving.errors.ServingError: CANCELLED: The client cancelled the request or went away.
"""

import contextlib
import math
import threading
import time

from kzoo.serving.errors import ServingError
from kzoo.serving.memory import release_memory

# TF Serving's message when a session run passes its timeout (DirectSession).
DEADLINE_EXCEEDED_MESSAGE = "Timed out waiting for notification"
CANCELLED_MESSAGE = "The client cancelled the request or went away."

_local = threading.local()
_hook_lock = threading.Lock()
_hooked = None


def _per_thread_cancellation():
    """Makes TensorFlow's function calls read the calling thread's cancellation manager (see
    the module docstring); returns the `CancellationManager` class, or None where TensorFlow's
    internals differ and computation cannot be cancelled."""
    global _hooked
    if _hooked is not None:
        return _hooked or None
    with _hook_lock:
        if _hooked is None:
            try:
                # A private TensorFlow module, imported here beside its fallback: a TensorFlow
                # without it serves on, only without cancelling computations.
                from tensorflow.python.eager import cancellation

                process_wide = cancellation.context
                manager_class = cancellation.CancellationManager
            except (ImportError, AttributeError):
                _hooked = False
                return None

            def context():
                manager = getattr(_local, "manager", None)
                return manager if manager is not None else process_wide()

            cancellation.context = context
            _hooked = manager_class
        return _hooked or None


class Deadline:
    """The time a request must be answered by, and the switch that stops its computation.

    Args:
        timeout: float, optional. Seconds from now; None: no deadline (it can still be
            cancelled).
        watch: `DeadlineWatch`, optional. The thread that expires the deadline while its
            computation runs (or its request waits, `on_stop`); without one, the deadline is
            only checked before and after.
    """

    def __init__(self, timeout=None, watch=None):
        self.expires = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        self.watch = watch
        self._lock = threading.Lock()
        self._error = None
        self._manager = None
        self._on_stop = None

    @classmethod
    def latest(cls, deadlines):
        """A deadline for work shared by several requests (a merged batch): it expires with
        the last of them, and is never cancelled by one client alone."""
        deadlines = list(deadlines)
        combined = cls(watch=next((d.watch for d in deadlines if d.watch), None))
        if deadlines and all(d.expires is not None for d in deadlines):
            combined.expires = max(d.expires for d in deadlines)
        return combined

    @property
    def expired(self):
        """Whether the deadline has passed."""
        return self.expires is not None and time.monotonic() >= self.expires

    @property
    def cancelled(self):
        """Whether the request was stopped (its deadline passed or its client went away)."""
        return self._error is not None

    def remaining(self):
        """Seconds left, or None without a deadline."""
        if self.expires is None:
            return None
        return max(self.expires - time.monotonic(), 0.0)

    def cancel(self, code="CANCELLED", message=CANCELLED_MESSAGE):
        """Stops the request: its running computation is cancelled, and `check` raises."""
        with self._lock:
            if self._error is not None:
                return
            self._error = ServingError(code, message)
            manager, on_stop, self._on_stop = self._manager, self._on_stop, None
        if manager is not None:
            manager.start_cancel()
        if on_stop is not None:
            on_stop()

    def on_stop(self, callback):
        """Calls `callback()` once, from the thread that stops the request, when it is
        cancelled or its deadline passes (the watch looks at it until `clear_on_stop`); at once
        when it is already stopped. For a request that waits without a thread of its own."""
        with self._lock:
            stopped = self._error is not None
            if not stopped:
                self._on_stop = callback
        if stopped:
            callback()
        elif self.watch is not None:
            self.watch.add(self)

    def clear_on_stop(self):
        """Forgets the `on_stop` callback: the request no longer waits."""
        with self._lock:
            self._on_stop = None
        if self.watch is not None:
            self.watch.discard(self)

    def expire(self):
        """Stops the request as past its deadline (DEADLINE_EXCEEDED)."""
        self.cancel("DEADLINE_EXCEEDED", DEADLINE_EXCEEDED_MESSAGE)

    def check(self):
        """Raises the request's `ServingError` when it is stopped or past its deadline."""
        if self._error is None and self.expired:
            self.expire()
        if self._error is not None:
            raise ServingError(self._error.code, self._error.message)

    @contextlib.contextmanager
    def running(self):
        """Runs a block (a signature call) under this deadline.

        TensorFlow functions called in the block, in this thread, are cancelled when the
        deadline passes or the client goes away; the block then raises the deadline's
        `ServingError`, as it does when the deadline passed while an uncancellable kernel ran.
        """
        self.check()
        manager_class = _per_thread_cancellation()
        manager = manager_class() if manager_class is not None else None
        with self._lock:
            self._manager = manager
            stopped = self._error is not None
        if stopped and manager is not None:
            manager.start_cancel()
        previous = getattr(_local, "manager", None)
        _local.manager = manager
        if self.watch is not None:
            self.watch.add(self)
        try:
            yield
        except ServingError:
            # TensorFlow's CancelledError says "Loop execution was cancelled": say why.
            self.check()
            raise
        finally:
            _local.manager = previous
            if self.watch is not None:
                self.watch.discard(self)
            with self._lock:
                self._manager = None
        self.check()


class DeadlineWatch:
    """One background thread that expires deadlines on time (of running computations, and of
    requests waiting for their batch), and releases freed memory after large requests.

    Example:

    >>> watch = DeadlineWatch().start()
    >>> deadline = Deadline(timeout=0.05, watch=watch)
    >>> with deadline.running():
    ...     time.sleep(0.3)  # a cancellable TensorFlow call would stop here
    Traceback (most recent call last):
    ...
    kzoo.serving.errors.ServingError: DEADLINE_EXCEEDED: Timed out waiting for notification
    >>> watch.stop()
    """

    def __init__(self):
        self._deadlines = set()
        self._condition = threading.Condition()
        self._release = False
        self._stopping = False
        self._thread = None
        # When the sleeping thread wakes up (math.inf: when notified); None while it is awake,
        # and will look at every deadline before it sleeps again.
        self._sleeping_until = None

    def start(self):
        """Starts the thread; returns self."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="kzoo-serving-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def add(self, deadline):
        """Watches a deadline while its computation runs or its request waits."""
        with self._condition:
            self._deadlines.add(deadline)
            # Woken only when this deadline needs a look before the thread's next one: one
            # wake-up per request would cost every request a thread switch.
            due = deadline.expires
            if self._sleeping_until is not None and due is not None and due < self._sleeping_until:
                self._condition.notify_all()

    def discard(self, deadline):
        """Stops watching a deadline."""
        with self._condition:
            self._deadlines.discard(deadline)

    def release_memory_soon(self):
        """Asks the thread to return freed memory to the system (`release_memory`)."""
        with self._condition:
            self._release = True
            self._condition.notify_all()

    def _run(self):
        while True:
            with self._condition:
                if self._stopping:
                    return
                release, self._release = self._release, False
                deadlines = [d for d in self._deadlines if not d.cancelled]
            for deadline in deadlines:
                if deadline.expired:
                    deadline.expire()
            if release:
                release_memory()
            with self._condition:
                if self._stopping or self._release:
                    continue
                dues = [
                    d.expires for d in self._deadlines if d.expires is not None and not d.cancelled
                ]
                self._sleeping_until = min(dues, default=math.inf)
                if self._sleeping_until == math.inf:
                    self._condition.wait()
                else:
                    self._condition.wait(max(self._sleeping_until - time.monotonic(), 0.0))
                self._sleeping_until = None

"""An HTTP/1.1 server on one asyncio event loop, for `kzoo.serving.rest.RestApi`.

The loop reads, parses and answers every connection itself: keep-alive and pipelining,
chunked and gzip bodies, `Expect: 100-continue`, HTTP/1.0 and HEAD. A request is handed to the
API's `start` once its body is in, and its answer written when `respond` is called, from any
thread. A head or body the server cannot take is refused as Python's `http.server` refuses it
(400, 413, 414, 431, 501, 505) and the connection closed; idle keep-alive connections are
closed after `_IDLE_SECONDS`. The server never stops for a bad request.
"""

import asyncio
import collections
import email.utils
import http
import re
import socket
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

from kzoo.serving.errors import HTTP_STATUS
from kzoo.serving.json_values import JSON_HEADERS, error_body

# Methods libevent knows but TF Serving's server does not allow: evhttp answers 501.
_REFUSED_METHODS = ("TRACE", "CONNECT")
# The HTTP layer's limits, as Python's http.server: a line of at most 64 KiB, 100 headers.
_MAX_LINE = 65536
_MAX_HEADERS = 100
_MAX_HEAD = _MAX_LINE * 2
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
_REASONS = {status.value: status.phrase for status in http.HTTPStatus}
# A pipelining client's unread requests held before its connection stops being read.
_MAX_BUFFERED = 1 << 20
# Idle keep-alive connections are closed after this many seconds (looked at every sweep).
_IDLE_SECONDS = 300
_SWEEP_SECONDS = 5
# Worker threads for requests not answered on the loop, without --rest_api_num_threads.
_DEFAULT_WORKER_THREADS = 256


class _BadRequest(Exception):
    """A request the HTTP layer refuses: answered with its status, then the connection closes."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class _Headers(dict):
    """A request's headers by lower-cased name (`get` ignores case, as HTTP does)."""

    def get(self, name, default=None):
        return super().get(name.lower(), default)


def _parse_head(head):
    """`(method, target, version, headers)` of a request's head (its bytes before the blank
    line); raises `_BadRequest` as Python's `http.server` refuses a request."""
    lines = head.decode("iso-8859-1").split("\n")
    request_line = lines[0].rstrip("\r")
    if len(request_line) > _MAX_LINE:
        raise _BadRequest(414, "Request line too long")
    words = request_line.split()
    if len(words) != 3:
        raise _BadRequest(400, f"Bad request syntax ({request_line[:100]!r})")
    method, target, version = words
    try:
        if not version.startswith("HTTP/"):
            raise ValueError(version)
        major, minor = (int(part) for part in version[5:].split("."))
    except ValueError:
        raise _BadRequest(400, f"Bad request version ({version[:100]!r})") from None
    if major >= 2:
        raise _BadRequest(505, f"Invalid HTTP version ({version[:100]})")
    headers = _Headers()
    name = None
    for line in lines[1:]:
        line = line.rstrip("\r")
        if len(line) > _MAX_LINE:
            raise _BadRequest(431, "Header line too long")
        if line[:1] in (" ", "\t") and name is not None:  # an obsolete folded line
            headers[name] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _BadRequest(400, f"Malformed header line ({line[:100]!r})")
        name = name.lower()
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
        if len(headers) > _MAX_HEADERS:
            raise _BadRequest(431, f"Too many headers (more than {_MAX_HEADERS})")
    return method, target, (major, minor), headers


class _ChunkedBody:
    """Reads a chunked body as it arrives: `read(buffer)` returns the bytes after the body once
    it is complete, else None; `body` is then the whole body."""

    def __init__(self, limit):
        self.limit = limit
        self.parts = []
        self.size = 0
        self.trailers = False

    def read(self, buffer):
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > _MAX_LINE:
                    raise ValueError("chunk line too long")
                return None
            line = bytes(buffer[:end]).strip()
            if self.trailers:  # after the last chunk: trailer lines up to an empty one
                del buffer[: end + 1]
                if not line:
                    return buffer
                continue
            if self.size < 0:  # the line ending a chunk's data
                if line:
                    raise ValueError("chunk data longer than its size")
                del buffer[: end + 1]
                self.size = -self.size - 1
                continue
            chunk_size = int(line.split(b";", 1)[0] or b"0", 16)
            if chunk_size < 0:
                raise ValueError("negative chunk size")
            if chunk_size == 0:
                del buffer[: end + 1]
                self.trailers = True
                continue
            if self.size + chunk_size > self.limit:
                raise OverflowError
            if len(buffer) < end + 1 + chunk_size:
                return None
            self.parts.append(bytes(buffer[end + 1 : end + 1 + chunk_size]))
            del buffer[: end + 1 + chunk_size]
            self.size = -(self.size + chunk_size) - 1  # a chunk's ending line comes next

    @property
    def body(self):
        return b"".join(self.parts)


class _Connection(asyncio.Protocol):
    """One client's HTTP/1.1 connection, on the server's event loop: requests are read and
    answered in turn (keep-alive and pipelining), each handed to `RestApi.start`."""

    def __init__(self, server):
        self.server = server
        self.transport = None
        self.buffer = bytearray()
        self.head = None  # (method, target, version, headers) of the request being read
        self.chunked = None
        self.deadline = None
        self.busy = False  # a request is being answered
        self.eof = False  # the client sent all it will
        self.closed = False
        self.paused = False
        self.last_active = time.monotonic()

    # === asyncio's callbacks ===

    def connection_made(self, transport):
        self.transport = transport
        self.server._connections.add(self)

    def data_received(self, data):
        self.buffer += data
        self.last_active = time.monotonic()
        if not self.busy:
            self._read_request()
        elif len(self.buffer) > _MAX_BUFFERED and not self.paused:
            # A client pipelining faster than it is answered waits for its answers.
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self):
        # The client sent everything it will (or went away): a request in progress is
        # cancelled, as a closed connection cancels it; a finished one is answered.
        self.eof = True
        if self.busy and self.deadline is not None:
            self.deadline.cancel()
        elif not self.busy:
            self._close()
        return True

    def connection_lost(self, exc):
        self.closed = True
        self.server._connections.discard(self)
        if self.busy and self.deadline is not None:
            self.deadline.cancel()

    # === Reading requests ===

    def _read_request(self):
        """Reads the next whole request from the buffer and starts answering it."""
        if self.busy or self.closed:
            return
        try:
            if self.head is None:
                if self.buffer[:1] in (b"\r", b"\n"):
                    # Empty lines before a request line are ignored (RFC 9112, 2.2).
                    del self.buffer[: len(self.buffer) - len(self.buffer.lstrip(b"\r\n"))]
                match = _HEAD_END.search(self.buffer)
                if match is None:
                    if len(self.buffer) > _MAX_HEAD:
                        raise _BadRequest(431, "Request header fields too large")
                    return
                self.head = _parse_head(bytes(self.buffer[: match.start()]))
                del self.buffer[: match.end()]
                core = self.server.api.core
                # Started once the headers are in: reading the body counts, as the client
                # waits for it.
                self.deadline = core.request_deadline() if core is not None else None
                if self.head[0] not in _METHODS:
                    status = 501 if self.head[0] in _REFUSED_METHODS else 400
                    word = "Method not implemented" if status == 501 else "Unknown method"
                    raise _BadRequest(status, f"{word}: {self.head[0]}")
            body = self._read_body()
            if body is None:
                return
        except _BadRequest as refused:
            self._refuse(refused.status, refused.message)
            return
        method, target, version, headers = self.head
        self.head = None
        self.busy = True
        self.keep_alive = self._keeps_alive(version, headers)
        self.method = method
        self.request_bytes = len(body)
        deadline = self.deadline
        self.server._admit(
            lambda: self.server.api.start(
                method,
                target,
                body,
                deadline,
                headers,
                lambda *answer: self.server._complete(self, answer),
                self.server._offload,
            )
        )

    def _read_body(self):
        """The request's body once it is all in (None until then); raises `_BadRequest`."""
        headers = self.head[3]
        limit = self.server.max_request_bytes
        too_large = _BadRequest(413, f"Request body is larger than the limit of {limit} bytes")
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            if self.chunked is None:
                self._continue(headers)
                self.chunked = _ChunkedBody(limit)
            try:
                rest = self.chunked.read(self.buffer)
            except OverflowError:
                raise too_large from None
            except ValueError as error:
                raise _BadRequest(400, f"Malformed request body: {error}") from None
            if rest is None:
                return None
            body, self.chunked = self.chunked.body, None
        else:
            try:
                length = int(headers.get("Content-Length") or 0)
                if length < 0:
                    raise ValueError("negative Content-Length")
            except ValueError as error:
                raise _BadRequest(400, f"Malformed request body: {error}") from None
            if length > limit:
                raise too_large
            if len(self.buffer) < length:
                self._continue(headers)
                return None
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
        if headers.get("Content-Encoding", "").lower() == "gzip" and body:
            try:
                body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, limit + 1)
            except zlib.error as error:
                raise _BadRequest(400, f"Malformed request body: {error}") from None
            if len(body) > limit:
                raise too_large
        return body

    def _continue(self, headers):
        """Answers `Expect: 100-continue` once the body is wanted."""
        if headers.get("Expect", "").lower() == "100-continue" and not self.buffer:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    @staticmethod
    def _keeps_alive(version, headers):
        connection = headers.get("Connection", "").lower()
        if version >= (1, 1):
            return "close" not in connection
        return "keep-alive" in connection

    # === Answering ===

    def _refuse(self, status, message):
        self.head = self.chunked = None
        self.method = "GET"
        self.keep_alive = False
        self.request_bytes = 0
        self._write(status, error_body(message), JSON_HEADERS)
        self._close()

    def answer(self, status, body, headers):
        """Writes a request's answer (on the loop) and goes on to the next request."""
        self.busy = False
        deadline, self.deadline = self.deadline, None
        if self.closed:
            return
        if status == HTTP_STATUS["CANCELLED"] and deadline is not None and deadline.cancelled:
            self._close()  # the client went away: nobody reads an answer
            return
        keep_alive = self.keep_alive and not self.server.stopping
        self._write(status, body, headers, close=not keep_alive)
        core = self.server.api.core
        if core is not None:
            core.request_done(self.request_bytes + len(body))
        if not keep_alive:
            self._close()
            return
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        if self.buffer:
            # On the loop's next turn: pipelined requests answered at once would nest.
            self.server._loop.call_soon(self._read_request)
        elif self.eof:
            self._close()  # nothing more will come

    def _write(self, status, body, headers, close=True):
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, '')}",
            "Server: kzoo-serving",
            f"Date: {self.server.date()}",
            *(f"{name}: {value}" for name, value in headers),
            f"Content-Length: {len(body)}",
        ]
        if close:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if self.method != "HEAD":
            data += body
        # One write: headers and body in separate packets meet delayed ACKs.
        self.transport.write(data)

    def _close(self):
        if not self.closed and self.transport is not None:
            self.transport.close()


class RestServer:
    """An HTTP/1.1 server for a `RestApi` on one asyncio event loop, with a body size limit and
    a clean stop.

    The loop reads requests and writes answers for every connection; a predict request to a
    batching server is parsed on the loop and queued for its batch, whose thread answers a whole
    batch at once, so a request costs no thread switch of its own. Other requests run in worker
    threads.

    Args:
        host: str. Address to bind, e.g. `127.0.0.1` (IPv6 addresses work too).
        port: int. Port to bind; 0 picks a free one (see `port`).
        api: `RestApi`.
        max_request_bytes: int. Largest accepted body (after gzip decompression).
        max_workers: int, optional. Requests processed at once (TF Serving's
            `--rest_api_num_threads`); others wait their turn. None: no limit.

    Example:

    >>> import threading
    >>> from kzoo.serving.rest import RestApi
    >>> server = RestServer("127.0.0.1", 0, RestApi(core=None), max_request_bytes=1024)
    >>> thread = threading.Thread(target=server.serve_forever)
    >>> thread.start()
    >>> import http.client
    >>> connection = http.client.HTTPConnection("127.0.0.1", server.port)
    >>> connection.request("GET", "/v1/models")
    >>> answer = connection.getresponse()
    >>> answer.status, answer.read()
    (400, b'{"error": "Missing model name in request."}')
    >>> connection.close()
    >>> server.stop()
    >>> thread.join()
    """

    def __init__(self, host, port, api, max_request_bytes, max_workers=None):
        self.api = api
        self.max_request_bytes = max_request_bytes
        self.max_workers = max_workers
        self.stopping = False
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family, backlog=128)
        self.server_address = self._socket.getsockname()
        self._loop = asyncio.new_event_loop()
        self._executor = ThreadPoolExecutor(
            max_workers or _DEFAULT_WORKER_THREADS, thread_name_prefix="kzoo-serving-http"
        )
        self._connections = set()
        self._active = 0  # requests being processed
        self._waiting = collections.deque()  # requests waiting for a worker slot
        self._answers = collections.deque()  # (connection, answer) from other threads
        self._drain_scheduled = False
        self._loop_thread = None
        self._serving = threading.Event()
        self._stopped = threading.Event()
        self._date = (0, "")

    @property
    def port(self):
        """The bound port."""
        return self.server_address[1]

    def date(self):
        """The Date header's value, made once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, email.utils.formatdate(now, usegmt=True))
        return self._date[1]

    def serve_forever(self):
        """Serves until `stop()`; call it in the thread that runs the event loop."""
        asyncio.set_event_loop(self._loop)
        self._loop_thread = threading.get_ident()
        try:
            if not self.stopping:
                server = self._loop.run_until_complete(
                    self._loop.create_server(lambda: _Connection(self), sock=self._socket)
                )
                self._server = server
                self._loop.call_later(_SWEEP_SECONDS, self._sweep)
                self._serving.set()
                self._loop.run_forever()
                # Let the closed connections' callbacks run before the loop closes.
                self._loop.run_until_complete(asyncio.sleep(0))
        finally:
            self._serving.set()
            self._socket.close()
            self._loop.close()
            self._stopped.set()

    def stop(self, grace=5.0):
        """Stops accepting, lets requests in progress answer (for up to `grace` seconds), then
        closes every connection and stops the worker threads."""
        if self.stopping:
            return
        self.stopping = True
        if self._loop_thread is None:  # never served
            self._socket.close()
        else:
            self._serving.wait(5)
            try:
                self._loop.call_soon_threadsafe(self._close_when_idle, time.monotonic() + grace)
            except RuntimeError:  # the loop has closed: serve_forever saw `stopping`
                pass
            self._stopped.wait(grace + 5)
        self._executor.shutdown(wait=False, cancel_futures=True)
        for thread in list(getattr(self._executor, "_threads", ())):
            thread.join(grace)

    # === On the loop ===

    def _close_when_idle(self, until):
        """Closes idle connections, waits for busy ones to answer, then stops the loop."""
        self._server.close()
        busy = False
        for connection in list(self._connections):
            if connection.busy and time.monotonic() < until:
                busy = True
            elif connection.busy:
                connection.transport.abort()  # past the grace: its computation is cancelled
            else:
                connection.transport.close()
        if busy:
            self._loop.call_later(0.01, self._close_when_idle, until)
        else:
            self._loop.stop()

    def _sweep(self):
        """Closes keep-alive connections idle for longer than `_IDLE_SECONDS`."""
        now = time.monotonic()
        for connection in list(self._connections):
            if not connection.busy and now - connection.last_active > _IDLE_SECONDS:
                connection.transport.close()
        self._loop.call_later(_SWEEP_SECONDS, self._sweep)

    def _admit(self, start):
        """Starts a request now, or once a worker slot is free (`max_workers`)."""
        if self.max_workers is not None and self._active >= self.max_workers:
            self._waiting.append(start)
            return
        self._active += 1
        start()

    def _offload(self, function):
        self._executor.submit(function)

    def _complete(self, connection, answer):
        """A request's answer, from any thread: written on the loop. Answers from other
        threads are gathered, so that a whole batch's wake the loop once."""
        if threading.get_ident() == self._loop_thread:
            self._answer(connection, answer)
            return
        self._answers.append((connection, answer))
        if not self._drain_scheduled:
            self._drain_scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop closed: the server stopped
                pass

    def _drain(self):
        self._drain_scheduled = False
        while self._answers:
            self._answer(*self._answers.popleft())

    def _answer(self, connection, answer):
        self._active -= 1
        connection.answer(*answer)
        while self._waiting and (self.max_workers is None or self._active < self.max_workers):
            self._active += 1
            self._waiting.popleft()()

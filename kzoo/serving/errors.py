"""Errors in TF Serving's terms: a canonical status code, a message and the HTTP status it maps to.

Every failure inside the server is a `ServingError` carrying one of the canonical codes that
TensorFlow, gRPC and TF Serving share (`"INVALID_ARGUMENT"`, `"NOT_FOUND"`...). The REST API
turns it into `{"error": message}` with the HTTP status TF Serving uses for that code
(`tensorflow_serving/model_servers/http_server.cc`, `ToHTTPStatusCode`), and the gRPC API aborts
the call with the same code. The client raises the same class, so callers handle one exception
whichever transport they use.

Example:

>>> error = ServingError("NOT_FOUND", "Servable not found for request: Latest(nope)")
>>> error.http_status, str(error)
(404, 'NOT_FOUND: Servable not found for request: Latest(nope)')
"""

import re

# TF Serving's canonical code → HTTP status (http_server.cc, ToHTTPStatusCode).
HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}

# The reverse, for a client that only sees the HTTP status; ambiguous statuses take the code
# TF Serving's own paths produce most often; 413 comes from the HTTP layer, not a code.
_CODE_FOR_HTTP_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ABORTED",
    413: "RESOURCE_EXHAUSTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# tensorflow.error.Code numbers (gRPC's too), for errors raised by TensorFlow ops.
CODE_NAMES = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}


class ServingError(Exception):
    """A request failure with a canonical status code, as TF Serving reports it.

    Args:
        code: str. Canonical code name, e.g. `"INVALID_ARGUMENT"` or `"NOT_FOUND"`.
        message: str. The error message, TF Serving's wording where it has one.
        http_status: int, optional. The HTTP status, when it is not the code's usual one (a
            body over the size limit is 413). Defaults to the code's status.

    Example:

    >>> ServingError("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key").http_status
    400
    """

    def __init__(self, code, message, http_status=None):
        if code not in HTTP_STATUS:
            raise ValueError(
                f"Invalid value for argument code. Expected one of {sorted(HTTP_STATUS)}. "
                f"Received: code={code}"
            )
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status or HTTP_STATUS[code]

    def __str__(self):
        # absl::Status::ToString, which TF Serving nests inside some of its messages.
        return f"{self.code}: {self.message}"

    @classmethod
    def from_http(cls, http_status, message):
        """Builds the error a REST response with status `http_status` describes."""
        return cls(_CODE_FOR_HTTP_STATUS.get(http_status, "UNKNOWN"), message, http_status)


def invalid_argument(message):
    """Returns an INVALID_ARGUMENT `ServingError` (HTTP 400)."""
    return ServingError("INVALID_ARGUMENT", message)


def not_found(message):
    """Returns a NOT_FOUND `ServingError` (HTTP 404)."""
    return ServingError("NOT_FOUND", message)


def internal(message):
    """Returns an INTERNAL `ServingError` (HTTP 500)."""
    return ServingError("INTERNAL", message)


_EAGER_PREFIX = "Graph execution error:\n\n"
_OP_SUFFIX = re.compile(r"\s*\[Op:[^\]]*\](?: name: [^\n]*)?\s*$")


def session_message(message):
    r"""A TensorFlow 2 function's error message as a TF1 session (TF Serving) words it: without
    the `Graph execution error:` preamble, the `Detected at node` trace and the `[Op:...]` tail.

    Example:

    >>> session_message(
    ...     "Graph execution error:\n\nDetected at node Assert defined at (most recent call "
    ...     "last):\n<stack traces unavailable>\nassertion failed: [x < 3]\n\t [[{{node Assert}}]] "
    ...     "[Op:__inference_serve_42]"
    ... )
    'assertion failed: [x < 3]\n\t [[{{node Assert}}]]'
    """
    message = _OP_SUFFIX.sub("", message)
    if message.startswith(_EAGER_PREFIX):
        lines = message[len(_EAGER_PREFIX) :].split("\n")
        if lines[0].startswith("Detected at node"):
            # The trace: indented `File ...` lines, blank lines, or a placeholder.
            start = 1
            while start < len(lines) and (
                not lines[start]
                or lines[start].startswith(("  ", "Node: "))
                or lines[start] == "<stack traces unavailable>"
            ):
                start += 1
            lines = lines[start:]
        message = "\n".join(lines)
    return message


def from_tensorflow(error):
    """Converts an exception raised while running a signature into a `ServingError`.

    TensorFlow's `OpError`s keep their code and message, worded as TF Serving passes a
    session's error on (`session_message`); Python errors from binding arguments are the
    caller's fault (INVALID_ARGUMENT); anything else is INTERNAL.
    """
    code = getattr(error, "error_code", None)
    if isinstance(code, int) and code in CODE_NAMES and code != 0:
        message = getattr(error, "message", None) or str(error)
        return ServingError(CODE_NAMES[code], session_message(message))
    if isinstance(error, (TypeError, ValueError)):
        return invalid_argument(str(error))
    return internal(f"{type(error).__name__}: {error}")

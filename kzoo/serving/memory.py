"""Giving freed memory back to the operating system after large requests.

glibc's malloc keeps what a large request freed (a parsed JSON body, the tensors of a big
batch) in its arenas for later reuse, so the server's resident memory stays at its peak after
one large request. `release_memory` asks glibc to return the free pages (`malloc_trim(0)`, which
trims every arena); on other C libraries (musl, macOS, Windows) it does nothing. The server calls
it from a background thread after a request that carried or produced `LARGE_REQUEST_BYTES` or
more (`ServingCore.request_done`). Memory that oneDNN's kernels keep for reuse (TensorFlow's
default on x86) is not malloc's to give back; `TF_ENABLE_ONEDNN_OPTS=0` turns those kernels off.

Example:

>>> release_memory() in (True, False)
True
"""

import ctypes
import sys
import threading

# A request whose body or answer is at least this large is followed by a release.
LARGE_REQUEST_BYTES = 2**20

_lock = threading.Lock()
_trim = None
_looked_up = False


def _malloc_trim():
    """glibc's `malloc_trim`, or None where the C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl has no malloc_trim
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


def release_memory():
    """Returns freed heap memory to the operating system; False where the C library cannot.

    Returns:
        bool. Whether `malloc_trim` ran.
    """
    global _trim, _looked_up
    with _lock:
        if not _looked_up:
            _trim = _malloc_trim()
            _looked_up = True
        if _trim is None:
            return False
        _trim(0)
        return True

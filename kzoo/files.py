"""Files written whole or not at all.

Every file a run writes (settings, vocabularies, history, checkpoints, metrics) is written to a
temporary file beside its destination and renamed into place: a kill, a full disk or Ctrl-C
leaves the previous complete file, never a truncated one. rename(2) within one folder is atomic.
"""

import contextlib
import os


def _fsync(path):
    # The data must reach the disk before the rename makes it the file of record.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path, write):
    """Writes `path` whole or not at all: `write(temporary_path)`, then a rename into place.

    The temporary file sits in the same folder and ends like `path` (Keras insists on `.keras`
    and `.weights.h5`); it is removed if `write` fails.

    Args:
        path: str. The file to write.
        write: callable. `write(temporary_path)` writes the complete file there.

    Returns:
        `path`.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "numbers.txt")
    >>> _ = write_atomically(path, lambda p: open(p, "w").write("1 2 3\\n"))
    >>> open(path).read()
    '1 2 3\\n'
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".partial-{os.getpid()}-{name}")
    try:
        write(temporary)
        _fsync(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        if isinstance(error, OSError) and error.errno and not error.filename:
            # A full disk says "No space left on device": say which file could not be written.
            raise OSError(error.errno, f"{error.strerror or error} (writing {path})") from error
        raise
    return path


def write_text_atomically(path, text):
    """Writes `text` to `path` (UTF-8) whole or not at all; returns `path`."""

    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)

    return write_atomically(path, write)


def remove_partial_files(folder):
    """Removes the temporary files an interrupted `write_atomically` left in `folder`."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if name.startswith(".partial-"):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, name))

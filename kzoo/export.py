"""SavedModel export in TensorFlow Serving's layout, never overwriting or half-writing a version.

`saved_models/<name>/<version>/` holds `saved_model.pb` and `variables/`; versions are integers
and the next one is the highest plus one. A version is written in a hidden temporary folder
next to the model folders and renamed into place only when complete, so a server watching
`saved_models/<name>` never sees a partial version, and an existing version is never replaced.
"""

import errno
import os
import shutil
import tempfile


def versions(model_dir):
    """Returns the integer versions present in `model_dir`, sorted."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(entry) for entry in os.listdir(model_dir) if entry.isdigit())


def next_version(model_dir):
    """Returns the highest existing version plus one (1 for a new model)."""
    existing = versions(model_dir)
    return existing[-1] + 1 if existing else 1


def export_versioned(write, export_dir, name):
    """Writes a new version of model `name` under `export_dir` with `write(path)`.

    Args:
        write: callable. `write(path)` writes the complete SavedModel into the folder `path`
            (which does not exist yet), e.g. `model.export`.
        export_dir: str. Base folder, e.g. `saved_models`.
        name: str. Model name, the folder TF Serving serves it from.

    Returns:
        The path of the new version folder.

    Example:

    >>> import keras, tempfile
    >>> from kzoo import build_cnn_sentiment
    >>> model = build_cnn_sentiment(vocabulary_size=50, filters=4, embedding_dim=4)
    >>> base = tempfile.mkdtemp()
    >>> path = export_versioned(lambda p: model.export(p, verbose=False), base, "cnn")
    >>> path.endswith("cnn/1"), versions(base + "/cnn")
    (True, [1])
    """
    model_dir = os.path.join(export_dir, name)
    os.makedirs(model_dir, exist_ok=True)
    # Hidden and outside the model folder: TF Serving only loads integer folders inside it.
    staging = tempfile.mkdtemp(prefix=f".{name}-export-", dir=export_dir)
    try:
        written = os.path.join(staging, "version")
        write(written)
        while True:
            final = os.path.join(model_dir, str(next_version(model_dir)))
            try:
                # rename(2) is atomic and refuses to replace a non-empty folder.
                os.rename(written, final)
                return final
            except OSError as error:
                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                # Another export took this version meanwhile: take the next one.
    finally:
        shutil.rmtree(staging, ignore_errors=True)

"""Attention pictures: seq2seq attention and per-head self-attention as PNG heatmaps.

`attention` draws one map, rows the target (output) tokens and columns the source tokens, as a
seq2seq decoder attends while it translates; `attention_heads` draws one map per head of a
self-attention layer over one sentence. `kzoo.attention.attention_for(run_dir, sentence)`
computes both kinds of weights from a finished run, and `kzoo attention RUN_DIR "a sentence"`
writes the picture from the command line.

Figures are drawn on matplotlib's Agg canvas directly: no display, no pyplot and no global
backend switch, so plotting works on servers and inside other programs' matplotlib sessions.
Colours run from 0 to the largest weight of the picture, one scale for all heads, so heads
compare at a glance; the colour bar gives the values.
"""

import math
import os

import numpy as np

# Inches per token along each axis, and the most inches a figure may take.
_CELL = 0.3
_MAX_INCHES = 24.0
_DPI = 100

# Whitespace tokens (character-level models) would be invisible tick labels.
_VISIBLE = {" ": "\u2423", "\n": "\\n", "\t": "\\t", "\r": "\\r", "": "\u2205"}


def _check_tokens(name, tokens):
    if (
        isinstance(tokens, (str, bytes))
        or not hasattr(tokens, "__len__")
        or len(tokens) == 0
        or not all(isinstance(token, str) for token in tokens)
    ):
        raise ValueError(
            f"Invalid value for argument {name}. Expected a non-empty list of str. "
            f"Received: {name}={tokens!r}"
        )
    return list(tokens)


def _check_weights(weights, fits, expected, meaning):
    weights = np.asarray(weights, dtype="float32")
    if not fits(weights.shape):
        raise ValueError(
            f"Invalid value for argument weights. Expected an array of shape {expected}, "
            f"{meaning}. Received: weights.shape={weights.shape}"
        )
    return weights


def _label(token):
    # "$" would start matplotlib's mathtext.
    return _VISIBLE.get(token, token).replace("$", r"\$")


def _font_size(count):
    return 9 if count <= 40 else max(4, 360 / count)


def _figure(width, height):
    # Imported when a picture is drawn: `import kzoo` need not load matplotlib.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(
        figsize=(min(width, _MAX_INCHES), min(height, _MAX_INCHES)),
        dpi=_DPI,
        layout="constrained",
    )
    FigureCanvasAgg(figure)
    return figure


def _heatmap(axes, weights, x_tokens, y_tokens, peak):
    image = axes.imshow(
        weights, cmap="viridis", vmin=0.0, vmax=peak, aspect="auto", interpolation="nearest"
    )
    wide = any(len(token) > 1 for token in x_tokens)
    axes.set_xticks(
        range(len(x_tokens)),
        [_label(t) for t in x_tokens],
        rotation=90 if wide else 0,
        fontsize=_font_size(len(x_tokens)),
    )
    axes.set_yticks(
        range(len(y_tokens)), [_label(t) for t in y_tokens], fontsize=_font_size(len(y_tokens))
    )
    axes.tick_params(length=0)
    return image


def _save(figure, path):
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def attention(source_tokens, target_tokens, weights, path, title=None):
    """Writes a PNG heatmap of seq2seq attention: rows target tokens, columns source tokens.

    Row `i` shows how the decoder, producing target token `i`, spread its attention over the
    source tokens; with `[end]` as the last target token the picture ends where decoding did.

    Args:
        source_tokens: list of str. The source (input) tokens, one per column.
        target_tokens: list of str. The target (output) tokens, one per row.
        weights: array of shape `(len(target_tokens), len(source_tokens))`, the attention
            weights (each row usually sums to 1).
        path: str or path-like. The PNG file to write; missing folders are created.
        title: str. Optional title above the map. Defaults to `None`.

    Returns:
        The path of the written file, as a str.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from kzoo import plot
    >>> weights = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]])
    >>> path = plot.attention(["a", "b", "c"], ["x", "[end]"], weights,
    ...                       os.path.join(tempfile.mkdtemp(), "attention.png"))
    >>> open(path, "rb").read(8) == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    source_tokens = _check_tokens("source_tokens", source_tokens)
    target_tokens = _check_tokens("target_tokens", target_tokens)
    shape = (len(target_tokens), len(source_tokens))
    weights = _check_weights(
        weights,
        lambda received: received == shape,
        shape,
        "one row per target token and one column per source token",
    )
    figure = _figure(
        max(3.0, _CELL * len(source_tokens) + 2.0), max(2.5, _CELL * len(target_tokens) + 1.6)
    )
    axes = figure.subplots()
    image = _heatmap(axes, weights, source_tokens, target_tokens, float(weights.max()) or 1.0)
    axes.set_xlabel("source")
    axes.set_ylabel("target")
    if title:
        axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, shrink=0.9)
    return _save(figure, path)


def attention_heads(tokens, weights, path, title=None, query_tokens=None):
    """Writes a PNG grid of per-head attention heatmaps.

    Panel `h` is head `h`'s attention: row `i` shows where query `i` looks among the keys
    (`tokens`). For self-attention over one sentence the queries are its tokens too; for a
    translator's cross-attention they are the output tokens (`query_tokens`). Up to four
    panels per row, one colour scale for all.

    Args:
        tokens: list of str. The keys' tokens (the sentence, or a translation's source).
        weights: array of shape `(num_heads, len(query_tokens), len(tokens))`, e.g. the
            scores of `kzoo.build_mha_classifier`'s self-attention for one sentence.
        path: str or path-like. The PNG file to write; missing folders are created.
        title: str. Optional title above the grid. Defaults to `None`.
        query_tokens: list of str. The queries' tokens. Defaults to `tokens`.

    Returns:
        The path of the written file, as a str.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from kzoo import plot
    >>> weights = np.full((2, 3, 3), 1 / 3)
    >>> path = plot.attention_heads(["not", "good", "at"], weights,
    ...                             os.path.join(tempfile.mkdtemp(), "heads.png"))
    >>> os.path.getsize(path) > 0
    True
    """
    tokens = _check_tokens("tokens", tokens)
    queries = tokens if query_tokens is None else _check_tokens("query_tokens", query_tokens)
    shape = (len(queries), len(tokens))
    weights = _check_weights(
        weights,
        lambda received: len(received) == 3 and received[0] > 0 and received[1:] == shape,
        f"(num_heads, {shape[0]}, {shape[1]})",
        "one (len(query_tokens), len(tokens)) map per head",
    )
    num_heads = weights.shape[0]
    columns = min(num_heads, 4)
    rows = math.ceil(num_heads / columns)
    width, height = _CELL * len(tokens) + 1.2, _CELL * len(queries) + 1.2
    figure = _figure(columns * width + 1.0, rows * height + (0.4 if title else 0.0))
    grid = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    peak = float(weights.max()) or 1.0
    for head, axes in enumerate(grid):
        if head >= num_heads:
            axes.set_axis_off()
            continue
        image = _heatmap(axes, weights[head], tokens, queries, peak)
        axes.set_title(f"head {head}", fontsize=9)
        if head % columns == 0:
            axes.set_ylabel("query")
        if head + columns >= num_heads:  # the lowest panel of its column
            axes.set_xlabel("key")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.colorbar(image, ax=list(grid[:num_heads]), shrink=0.9)
    return _save(figure, path)

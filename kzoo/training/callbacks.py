"""Callbacks of the training runner: TensorBoard beyond scalars (GAN samples and attention as
images, word vectors in the embedding projector), and early stopping and best checkpoints that
carry on across a resumed run."""

import os

import keras
import numpy as np
import tensorflow as tf

from kzoo.data import vectorization


def image_grid(images, columns=None):
    """Tiles images `(n, height, width, channels)` in [-1, 1] into one image in [0, 1]."""
    images = (np.clip(np.asarray(images, dtype="float32"), -1.0, 1.0) + 1.0) / 2.0
    count, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    grid = np.ones((rows * height, columns * width, channels), dtype="float32")
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * height : (r + 1) * height, c * width : (c + 1) * width] = image
    return grid


def save_png(image, path):
    """Writes an image in [0, 1], shape `(height, width, channels)`, as a PNG file."""
    pixels = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)
    tf.io.write_file(path, tf.io.encode_png(pixels))


class GANSampleGrid(keras.callbacks.Callback):
    """Writes a grid of generated images to TensorBoard after every epoch, always from the same
    noise, so the images show the generator's progress."""

    def __init__(self, log_dir, num_images=16, seed=0):
        super().__init__()
        self.log_dir, self.num_images, self.seed = log_dir, num_images, seed
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
        grid = image_grid(self.model.generate(self.num_images, seed=self.seed))
        with self._writer.as_default():
            tf.summary.image("generated_images", grid[None], step=epoch)
        self._writer.flush()


def attention_image(weights, scale=8):
    """Turns attention weights `(target_steps, source_steps)` into a grey image, one block of
    `scale` pixels per weight, brighter for more attention."""
    weights = np.asarray(weights, dtype="float32")
    peak = weights.max() or 1.0
    image = np.kron(weights / peak, np.ones((scale, scale), dtype="float32"))
    return image[..., None]


class AttentionImages(keras.callbacks.Callback):
    """Writes the attention of a seq2seq model on one validation pair to TensorBoard after
    every epoch: rows are target tokens, columns source tokens."""

    def __init__(self, log_dir, source_vectorizer, target_vectorizer, source, target):
        super().__init__()
        start = vectorization.token_id(target_vectorizer, vectorization.START)
        self.inputs = {
            "encoder_token_ids": vectorization.vectorize(source_vectorizer, [source])[0][None],
            "decoder_token_ids": np.concatenate(
                [[start], vectorization.vectorize(target_vectorizer, [target])[0]]
            )[None].astype("int32"),
        }
        self.log_dir = log_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        from kzoo.models.attention_seq2seq import attention_scores_model

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "attention"))
        _, weights = attention_scores_model(self.model)(self.inputs, training=False)
        image = attention_image(keras.ops.convert_to_numpy(weights)[0])
        with self._writer.as_default():
            tf.summary.image("attention", image[None], step=epoch)
        self._writer.flush()


class EmbeddingProjector(keras.callbacks.Callback):
    """At the end of training, writes the word2vec vectors and their words for TensorBoard's
    embedding projector (`logs/projector`)."""

    def __init__(self, log_dir, tokens, layer_name="target_embedding"):
        super().__init__()
        self.log_dir, self.tokens, self.layer_name = (
            os.path.join(log_dir, "projector"),
            tokens,
            layer_name,
        )

    def on_train_end(self, logs=None):
        from kzoo.embeddings import write_projector

        vectors = keras.ops.convert_to_numpy(self.model.get_layer(self.layer_name).embeddings)
        # Row 0 is padding: skip it, so rows and metadata lines match real words. A checkpoint
        # rather than a TSV file: a 10,000-word vocabulary is written in a blink.
        write_projector(self.log_dir, self.tokens[1:], vectors[1:], tensor_format="checkpoint")


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`EarlyStopping` that, in a resumed run, counts the epochs trained before it.

    Keras' `EarlyStopping` forgets its best value, its patience count and its best weights at
    the start of every `fit`, so after a resume it would stop late and restore the best of the
    resumed epochs only. This one takes them from the run's `RunState` (which must come before
    it in the callbacks) and its best checkpoint, as if the run had not been interrupted.

    Args:
        run_state: the run's `kzoo.training.run_state.RunState`, on the same monitor.
        **kwargs: `keras.callbacks.EarlyStopping` arguments.

    Example:

    >>> import tempfile
    >>> from kzoo.training.run_state import RunState
    >>> state = RunState(tempfile.mkdtemp(), monitor="val_loss", mode="min")
    >>> stopping = ResumableEarlyStopping(state, monitor="val_loss", mode="min", patience=3)
    >>> isinstance(stopping, keras.callbacks.EarlyStopping)
    True
    """

    def __init__(self, run_state, **kwargs):
        super().__init__(**kwargs)
        self.run_state = run_state

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        state = self.run_state
        if state.resumed_from is None or state.best_epoch is None:
            return
        self.best, self.best_epoch = state.best, state.best_epoch
        self.wait = state.completed - 1 - state.best_epoch
        if self.restore_best_weights and os.path.exists(state.checkpoint_path):
            best = keras.models.load_model(state.checkpoint_path, compile=False)
            self.best_weights = best.get_weights()


class ExactProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, whose step count never passes the epoch's steps.

    With several steps per compiled call, Keras reports the last step of a call as if the call
    ran all its steps, also when the epoch's data ended before: an epoch of 204 steps at 16
    steps per call showed 208/204.
    """

    def _update_progbar(self, batch, logs=None):
        if self.target is not None:
            batch = min(batch, self.target - 1)
        super()._update_progbar(batch, logs)

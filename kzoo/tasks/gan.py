"""A GAN on images: the embedded 28×28 digits, local `.npz`/folder images, or a TFDS image
dataset such as mnist, scaled to [-1, 1]; serves seeds in, images out."""

import os

import keras
import numpy as np
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

from kzoo.data import batching, embedded, image_files, tfds_sources
from kzoo.signatures import checked_count
from kzoo.tasks.base import Data, Task, tfds_name

# Most images one request to the `sample` endpoint may ask for (each costs a generator row):
# as many as `kzoo serve` lets one request send instances (--max-request-instances).
MAX_SAMPLED_IMAGES = 1024


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


class GANTask(Task):
    """Images for the GAN: the embedded 28×28 digits, local `.npz`/folder images, or a TFDS
    image dataset such as mnist, scaled to [-1, 1]."""

    monitor = None  # neither GAN loss measures image quality: keep the last epoch
    held_out_files = ()  # it trains on images alone and is judged on samples
    trains_with_optimizer = False  # a discriminator's and a generator's Adam of its own

    def stand_in_model_args(self):
        return {"image_shape": (28, 28, 1)}

    def load(self, global_batch_size):
        c = self.config
        labels = None
        if c["train_file"]:
            images = (
                np.concatenate([image_files.read_images(p) for p in c["train_file"]]) * 2.0 - 1.0
            )
        elif c["dataset"].startswith("embedded"):
            images, labels = embedded.digit_images()
        else:
            images, labels = tfds_sources.load_tfds_images(tfds_name(c), data_dir=c["data_dir"])
            images = images * 2.0 - 1.0
        images = images.astype("float32")
        train = batching.array_dataset(
            images, batch_size=global_batch_size, shuffle=True, seed=c["seed"], drop_remainder=True
        )
        return Data(
            train=train,
            model_args={"image_shape": tuple(int(d) for d in images.shape[1:])},
            raw={"images": images, "labels": labels},
            summary=[f"train: {len(images)} images of shape {images.shape[1:]}"],
        )

    def compile(self, model, optimizer, **compile_args):
        """Two Adam(beta_1=0.5) optimizers at the run's learning rate (Radford et al., 2015),
        one for the discriminator and one for the generator; `optimizer` is not used."""
        c = self.config
        model.compile(
            d_optimizer=keras.optimizers.Adam(
                c["learning_rate"], beta_1=0.5, clipnorm=c["clipnorm"]
            ),
            g_optimizer=keras.optimizers.Adam(
                c["learning_rate"], beta_1=0.5, clipnorm=c["clipnorm"]
            ),
            **compile_args,
        )
        return model

    def callbacks(self, model, data, log_dir):
        return [GANSampleGrid(log_dir)]

    def evaluate(self, model, data):
        labels = data.raw["labels"]
        if labels is None:
            return {}
        generated = model.generate(1000, seed=0)
        return {"generated": _digit_quality(data.raw["images"], labels, generated)}

    # === Serving: seeds or noise in, images out ===

    @classmethod
    def endpoints(cls, bundle):
        """`serving_default`: `seed` [-1] int64 → `images` [-1, h, w, c] in [0, 1], one image
        per seed; `sample` (`num_images`, from 1 to `MAX_SAMPLED_IMAGES`, and `seed`); `noise`
        [-1, latent_dim] → `images`."""
        gan = bundle.model
        latent_dim = gan.latent_dim

        def images_from(noise):
            images = tf.cast(gan.inference_generator(noise, training=False), tf.float32)
            return {"images": (images + 1.0) / 2.0}  # tanh range [-1, 1] → pixels [0, 1]

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="seed")])
        def serve_seeds(seed):
            noise = tf.map_fn(
                lambda s: tf.random.stateless_normal(
                    [latent_dim], seed=tf.stack([s, tf.constant(0, tf.int64)])
                ),
                seed,
                fn_output_signature=tf.float32,
            )
            return images_from(tf.reshape(noise, [-1, latent_dim]))

        @tf.function(
            input_signature=[
                tf.TensorSpec([], tf.int32, name="num_images"),
                tf.TensorSpec([], tf.int64, name="seed"),
            ]
        )
        def serve_sample(num_images, seed):
            num_images = checked_count(num_images, "num_images", MAX_SAMPLED_IMAGES)
            noise = tf.random.stateless_normal(
                tf.stack([num_images, latent_dim]), seed=tf.stack([seed, tf.constant(1, tf.int64)])
            )
            return images_from(noise)

        @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="noise")])
        def serve_noise(noise):
            return images_from(noise)

        return {"serving_default": serve_seeds, "sample": serve_sample, "noise": serve_noise}

    @classmethod
    def warmup_inputs(cls, bundle):
        return {"seed": np.array([0, 1, 2], dtype="int64")}

    @classmethod
    def warmup_requests(cls, bundle):
        sample = {"num_images": np.int32(1), "seed": np.int64(1)}
        return {"serving_default": cls.warmup_inputs(bundle), "sample": sample}


def _digit_quality(images, labels, generated):
    """Labels generated images with a classifier trained on the real ones (logistic regression
    on pixels): the share of the most and least generated classes and the mean confidence."""
    flat = images.reshape(len(images), -1)
    classifier = LogisticRegression(max_iter=300).fit(flat, labels)
    probabilities = classifier.predict_proba(generated.reshape(len(generated), -1))
    predicted = probabilities.argmax(-1)
    shares = np.bincount(predicted, minlength=len(classifier.classes_)) / len(predicted)
    return {
        "min_class_share": float(shares.min()),
        "max_class_share": float(shares.max()),
        "class_shares": [round(float(share), 4) for share in shares],
        "mean_top_probability": float(probabilities.max(-1).mean()),
    }

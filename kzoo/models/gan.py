"""Dense generative adversarial network for 28×28 grey images, trained by its own `train_step`."""

import keras
import numpy as np
import tensorflow as tf

from kzoo import validation
from kzoo.layers import MinibatchStdDev
from kzoo.registry import TinyConfig, register_model


@keras.saving.register_keras_serializable(package="kzoo")
class GAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit`.

    Each training step draws noise, updates the discriminator on a real and a generated batch
    (binary cross-entropy on logits: real → 1, generated → 0), then draws fresh noise and updates
    the generator so that the discriminator calls its images real. Each network has its own
    optimizer, and `fit` logs `d_loss` and `g_loss`. Only the network being updated changes in
    each half-step, so there is no need to freeze the discriminator inside a compiled
    Sequential as older examples do.

    Two stabilisers, both off by default: one-sided label smoothing (the discriminator's target
    for real images is `1 - label_smoothing`; Salimans et al., 2016,
    https://arxiv.org/abs/1606.03498) and an exponential moving average of the generator's
    weights (`ema_momentum`; Yazıcı et al., 2019, https://arxiv.org/abs/1806.04498), updated
    after every generator step. With the average, `ema_generator` holds it and is the network
    that `call`, `generate` and the exported signatures use; `generator` is the one trained.

    Calling the model on noise `(batch_size, latent_dim)` returns generated images in [-1, 1];
    `generate(n, seed=...)` draws the noise itself.

    Args:
        generator: `keras.Model` from noise `(batch_size, latent_dim)` to images.
        discriminator: `keras.Model` from images to one logit per image.
        latent_dim: int. Width of the noise vector.
        seed: int. Seed of the noise drawn during training. Defaults to `None`.
        label_smoothing: float in [0, 1). The discriminator learns to call real images
            `1 - label_smoothing` instead of 1. Defaults to `0.0`.
        ema_momentum: float in [0, 1), or `None`. Momentum of the generator's weight average,
            e.g. `0.999`; `None` keeps no average. Defaults to `None`.
        ema_generator: `keras.Model`. The averaged generator, when reloading a saved GAN;
            otherwise a copy of `generator` is made. Defaults to `None`.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_gan
    >>> gan = build_gan()
    >>> images = np.random.uniform(-1, 1, size=(64, 28, 28, 1)).astype("float32")
    >>> history = gan.fit(images, batch_size=32, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['d_loss', 'g_loss']
    >>> gan.generate(4, seed=0).shape
    (4, 28, 28, 1)
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        seed=None,
        label_smoothing=0.0,
        ema_momentum=None,
        ema_generator=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = validation.positive_int("latent_dim", latent_dim)
        self.seed = seed
        self.label_smoothing = validation.rate("label_smoothing", label_smoothing)
        self.ema_momentum = ema_momentum
        if ema_momentum is not None:
            self.ema_momentum = validation.rate("ema_momentum", ema_momentum)
            if ema_generator is None:
                ema_generator = keras.models.clone_model(generator)
                ema_generator.set_weights(generator.get_weights())
            ema_generator.trainable = False
        self.ema_generator = ema_generator
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        # One call on zeros builds the model and records its input signature, so `save` and
        # `export` work after `fit`, which calls the two networks but never the GAN itself.
        self(keras.ops.zeros((1, self.latent_dim)))

    @property
    def inference_generator(self):
        """The generator that makes images for use: the weight average when kept."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, noise, training=False):
        if training:
            return self.generator(noise, training=True)
        return self.inference_generator(noise, training=False)

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Configures training. Both optimizers default to Adam(2e-4, beta_1=0.5) (Radford et al.,
        2015); other keyword arguments (`jit_compile`, `steps_per_execution`, ...) go to
        `keras.Model.compile`."""
        kwargs.pop("optimizer", None)
        kwargs.pop("loss", None)
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = self._prepare(d_optimizer, self.discriminator)
        self.g_optimizer = self._prepare(g_optimizer, self.generator)
        if keras.backend.backend() == "jax":
            # Keras' JAX trainer carries `model.optimizer.variables` through each step.
            self.optimizer = _OptimizerPair(self.d_optimizer, self.g_optimizer)

    def _prepare(self, optimizer, network):
        optimizer = optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        if self.dtype_policy.name == "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):
            # The custom train_step scales its losses through these, as Keras' own would.
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        # Built now, not at the first step, so that BackupAndRestore and .keras loading find
        # variables to restore the optimizer state into.
        optimizer.build(network.trainable_variables)
        return optimizer

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def _noise(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.noise_seed)

    # === Training: one step per Keras backend, sharing the losses ===

    def _discriminator_loss(self, real_logits, fake_logits):
        real_target = keras.ops.full_like(real_logits, 1.0 - self.label_smoothing)
        return self.bce(real_target, real_logits) + self.bce(
            keras.ops.zeros_like(fake_logits), fake_logits
        )

    def _generator_loss(self, fake_logits):
        return self.bce(keras.ops.ones_like(fake_logits), fake_logits)

    def _finish_step(self, d_loss, g_loss):
        if self.ema_generator is not None:
            self._update_average()
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, *args):
        # Keras' JAX trainer passes the state first: `train_step(state, data)`.
        backend = keras.backend.backend()
        if backend == "jax":
            return self._jax_train_step(*args)
        if backend == "torch":
            return self._torch_train_step(*args)
        return self._tensorflow_train_step(*args)

    def _tensorflow_train_step(self, data):
        real_images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch_size = keras.ops.shape(real_images)[0]

        # === Discriminator: real images → 1, generated images → 0 ===
        fake_images = self.generator(self._noise(batch_size), training=True)
        with tf.GradientTape() as tape:
            d_loss = self._discriminator_loss(
                self.discriminator(real_images, training=True),
                self.discriminator(fake_images, training=True),
            )
            scaled_loss = self.d_optimizer.scale_loss(d_loss)
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply(tape.gradient(scaled_loss, weights), weights)

        # === Generator: make the discriminator call fresh generated images real ===
        with tf.GradientTape() as tape:
            g_loss = self._generator_loss(
                self.discriminator(
                    self.generator(self._noise(batch_size), training=True), training=True
                )
            )
            scaled_loss = self.g_optimizer.scale_loss(g_loss)
        weights = self.generator.trainable_weights
        self.g_optimizer.apply(tape.gradient(scaled_loss, weights), weights)
        return self._finish_step(d_loss, g_loss)

    def _torch_train_step(self, data):
        import torch

        real_images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch_size = keras.ops.shape(real_images)[0]

        def update(network, optimizer, loss):
            network.zero_grad()
            optimizer.scale_loss(loss).backward()
            weights = network.trainable_weights
            with torch.no_grad():
                optimizer.apply([w.value.grad for w in weights], weights)

        # The generated batch is detached: the discriminator's loss trains the discriminator.
        fake_images = self.generator(self._noise(batch_size), training=True).detach()
        d_loss = self._discriminator_loss(
            self.discriminator(real_images, training=True),
            self.discriminator(fake_images, training=True),
        )
        update(self.discriminator, self.d_optimizer, d_loss)
        g_loss = self._generator_loss(
            self.discriminator(
                self.generator(self._noise(batch_size), training=True), training=True
            )
        )
        update(self.generator, self.g_optimizer, g_loss)
        return self._finish_step(d_loss.detach(), g_loss.detach())

    def _jax_train_step(self, state, data):
        import jax

        # Keras' JAX trainer hands the step the values of every variable (the model's, the two
        # optimizers', the metrics') and takes back their new values: the step below is the
        # other backends' one, each part run in a StatelessScope over those values.
        groups = (
            self.trainable_variables,
            self.non_trainable_variables,
            self.optimizer.variables,
            self.metrics_variables,
        )
        every_variable = [variable for group in groups for variable in group]
        values = {
            id(variable): value
            for group, group_values in zip(groups, state)
            for variable, value in zip(group, group_values)
        }

        def run(function, overrides=()):
            """`function()` on the current values (and `overrides`, pairs of variable and
            value); returns its result and every variable's value after it."""
            mapping = {
                id(variable): (variable, values[id(variable)]) for variable in every_variable
            }
            mapping.update({id(variable): (variable, value) for variable, value in overrides})
            with keras.StatelessScope(state_mapping=list(mapping.values())) as scope:
                result = function()
            return result, {id(v): scope.get_current_value(v) for v in every_variable}

        def update(weights, optimizer, loss_of_step):
            """One optimizer step on `weights` for the loss `loss_of_step()`; returns the loss."""

            def scaled_loss(weight_values):
                def step():
                    loss = loss_of_step()
                    return optimizer.scale_loss(loss), loss

                (scaled, loss), after = run(step, zip(weights, weight_values))
                return scaled, (loss, after)

            gradients, (loss, after) = jax.grad(scaled_loss, has_aux=True)(
                [values[id(weight)] for weight in weights]
            )
            values.update(after)  # batch statistics and noise seeds moved on
            values.update(run(lambda: optimizer.apply(gradients, weights))[1])
            return loss

        real_images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch_size = real_images.shape[0]
        fake_images, after = run(lambda: self.generator(self._noise(batch_size), training=True))
        values.update(after)
        fake_images = jax.lax.stop_gradient(fake_images)
        d_loss = update(
            self.discriminator.trainable_variables,
            self.d_optimizer,
            lambda: self._discriminator_loss(
                self.discriminator(real_images, training=True),
                self.discriminator(fake_images, training=True),
            ),
        )
        g_loss = update(
            self.generator.trainable_variables,
            self.g_optimizer,
            lambda: self._generator_loss(
                self.discriminator(
                    self.generator(self._noise(batch_size), training=True), training=True
                )
            ),
        )
        logs, after = run(lambda: self._finish_step(d_loss, g_loss))
        values.update(after)
        new_state = tuple([values[id(variable)] for variable in group] for group in groups)
        return logs, new_state

    def _update_average(self):
        # Trainable weights are averaged; BatchNormalization's moving statistics, already
        # averages, are copied.
        momentum = self.ema_momentum
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            value = keras.ops.cast(weight, average.dtype)
            if weight.trainable:
                value = momentum * average + (1.0 - momentum) * value
            average.assign(value)

    def generate(self, num_images, seed=None, batch_size=256):
        """Returns `num_images` generated images as a numpy array in [-1, 1].

        Args:
            num_images: int. How many images.
            seed: int. Seed of the noise; the same seed gives the same images. Defaults to
                `None` (fresh noise each call).
            batch_size: int. Images per generator call. Defaults to `256`.
        """
        validation.positive_int("num_images", num_images)
        noise = np.random.default_rng(seed).standard_normal((num_images, self.latent_dim))
        return self.inference_generator.predict(
            noise.astype("float32"), batch_size=batch_size, verbose=0
        )

    # === Config and saving ===
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
            "label_smoothing": self.label_smoothing,
            "ema_momentum": self.ema_momentum,
            "ema_generator": (
                None
                if self.ema_generator is None
                else keras.saving.serialize_keras_object(self.ema_generator)
            ),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator", "ema_generator"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(**{k: keras.saving.deserialize_keras_object(v) for k, v in config.items()})


class _OptimizerPair:
    """The GAN's two optimizers as the one `model.optimizer` Keras' JAX trainer reads the
    variables of (not a Keras object: each optimizer saves its own state)."""

    built = True

    def __init__(self, *optimizers):
        self.optimizers = optimizers

    @property
    def variables(self):
        return [variable for optimizer in self.optimizers for variable in optimizer.variables]


def _generator(latent_dim, image_shape, units):
    noise = keras.Input(shape=(latent_dim,), name="noise")
    x = noise
    for i, width in enumerate(units):
        x = keras.layers.Dense(width, name=f"dense_{i}")(x)
        x = keras.layers.BatchNormalization(momentum=0.8, name=f"batch_norm_{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{i}")(x)
    x = keras.layers.Dense(
        int(np.prod(image_shape)), activation="tanh", dtype="float32", name="pixels"
    )(x)
    images = keras.layers.Reshape(image_shape, dtype="float32", name="images")(x)
    return keras.Model(noise, images, name="generator")


def _discriminator(image_shape, units, dropout, minibatch_stddev):
    images = keras.Input(shape=image_shape, name="images")
    x = keras.layers.Flatten(name="flatten")(images)
    for i, width in enumerate(units):
        x = keras.layers.Dense(width, name=f"dense_{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    if minibatch_stddev:
        x = MinibatchStdDev(name="minibatch_stddev")(x)
    logits = keras.layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(images, logits, name="discriminator")


@register_model(
    task="gan",
    tiny=TinyConfig(
        kwargs=dict(
            latent_dim=8,
            image_shape=(4, 4, 1),
            generator_units=(8, 16),
            discriminator_units=(8,),
            seed=0,
        ),
        inputs=lambda rng: rng.standard_normal((3, 8)).astype("float32"),
        training_inputs=lambda rng: rng.uniform(-1, 1, (6, 4, 4, 1)).astype("float32"),
        output_shape=(3, 4, 4, 1),
    ),
)
def build_gan(
    latent_dim=100,
    image_shape=(28, 28, 1),
    generator_units=(128, 256, 512),
    discriminator_units=(256, 128),
    dropout=0.3,
    seed=None,
    label_smoothing=0.0,
    ema_momentum=None,
    minibatch_stddev=False,
):
    """Dense GAN: generator 100 → 128 → 256 → 512 → 784 tanh, discriminator 784 → 256 → 128 → 1.

    Goodfellow et al. (2014), "Generative Adversarial Nets" (https://arxiv.org/abs/1406.2661).
    The generator's hidden layers use BatchNormalization and LeakyReLU(0.2) and its output is
    tanh, so training images must be scaled to [-1, 1]; the discriminator's hidden layers use
    LeakyReLU(0.2) and Dropout. The result is a `GAN` model, compiled with Adam(2e-4,
    beta_1=0.5) for each network, that trains with `gan.fit(images)`.

    Args:
        latent_dim: int. Width of the noise vector. Defaults to `100`.
        image_shape: tuple of int. Shape of one image. Defaults to `(28, 28, 1)`.
        generator_units: list of int. Widths of the generator's hidden layers. Defaults to
            `(128, 256, 512)`.
        discriminator_units: list of int. Widths of the discriminator's hidden layers. Defaults
            to `(256, 128)`.
        dropout: float. Dropout rate in the discriminator, in [0, 1). Defaults to `0.3`.
        seed: int. Seed of the training noise. Defaults to `None`.
        label_smoothing: float in [0, 1). One-sided label smoothing: the discriminator's target
            for real images is `1 - label_smoothing`. Defaults to `0.0`.
        ema_momentum: float in [0, 1), or `None`. Keep an exponential moving average of the
            generator's weights with this momentum (e.g. `0.999`) and generate with it.
            Defaults to `None` (no average).
        minibatch_stddev: bool. Give the discriminator's output layer the batch's mean feature
            standard deviation as one more feature (`kzoo.layers.MinibatchStdDev`; Karras et
            al., 2018), against mode dropping. Defaults to `False`.

    Returns:
        A compiled `GAN`; `gan(noise)` maps `(batch_size, latent_dim)` to images
        `(batch_size, *image_shape)`.

    Example:

    >>> from kzoo import build_gan
    >>> gan = build_gan()
    >>> gan.generate(16, seed=1).shape
    (16, 28, 28, 1)
    """
    validation.positive_int("latent_dim", latent_dim)
    image_shape = validation.positive_ints("image_shape", image_shape)
    generator_units = validation.positive_ints("generator_units", generator_units)
    discriminator_units = validation.positive_ints("discriminator_units", discriminator_units)
    validation.rate("dropout", dropout)
    validation.boolean("minibatch_stddev", minibatch_stddev)

    gan = GAN(
        _generator(latent_dim, image_shape, generator_units),
        _discriminator(image_shape, discriminator_units, dropout, minibatch_stddev),
        latent_dim=latent_dim,
        seed=seed,
        label_smoothing=label_smoothing,
        ema_momentum=ema_momentum,
        name="gan",
    )
    gan.compile()
    return gan

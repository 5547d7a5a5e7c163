import keras
import numpy as np

from kzoo import GAN, build_gan


def _tiny_gan(**kwargs):
    keras.utils.set_random_seed(0)
    return build_gan(
        latent_dim=8,
        image_shape=(4, 4, 1),
        generator_units=(8, 16),
        discriminator_units=(8,),
        **kwargs,
    )


def _numpy(outputs):
    """A model's outputs as NumPy on any backend (PyTorch's carry their gradient)."""
    return keras.ops.convert_to_numpy(outputs)


def _images(n=32):
    return np.random.default_rng(0).uniform(-1, 1, (n, 4, 4, 1)).astype("float32")


def test_default_architecture():
    gan = build_gan()
    widths = [gan.generator.get_layer(f"dense_{i}").units for i in range(3)]
    assert widths == [128, 256, 512]
    assert gan.generator.output_shape == (None, 28, 28, 1)
    assert gan.generator.get_layer("pixels").activation.__name__ == "tanh"
    assert [gan.discriminator.get_layer(f"dense_{i}").units for i in range(2)] == [256, 128]
    assert gan.discriminator.get_layer("dropout_0").rate == 0.3
    assert gan.d_optimizer.learning_rate.numpy() == np.float32(2e-4)
    assert gan.g_optimizer.beta_1 == 0.5


def test_fit_trains_both_networks_and_logs_both_losses():
    gan = _tiny_gan()
    before_g = [w.numpy().copy() for w in gan.generator.trainable_weights]
    before_d = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    history = gan.fit(_images(), batch_size=8, epochs=2, verbose=0)
    assert sorted(history.history) == ["d_loss", "g_loss"]
    assert all(np.isfinite(v) for vs in history.history.values() for v in vs)
    for before, weights in ((before_g, gan.generator), (before_d, gan.discriminator)):
        after = [w.numpy() for w in weights.trainable_weights]
        assert all(not np.allclose(a, b) for a, b in zip(after, before))


def test_discriminator_loss_matches_hand_computation():
    # A discriminator that outputs logit 0 for everything scores log 2 on real and on fake
    # images: d_loss = 2 log 2 at the first step.
    gan = _tiny_gan()
    logit = gan.discriminator.get_layer("logit")
    logit.set_weights([np.zeros_like(w) for w in logit.get_weights()])
    logs = gan.train_on_batch(_images(8), return_dict=True)
    np.testing.assert_allclose(logs["d_loss"], 2 * np.log(2), rtol=1e-5)


def test_generate_is_seeded_and_in_range():
    gan = _tiny_gan()
    first, again = gan.generate(5, seed=3), gan.generate(5, seed=3)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, gan.generate(5, seed=4))
    assert first.shape == (5, 4, 4, 1) and np.all(np.abs(first) <= 1)


def test_trained_gan_reloads_with_its_optimizer_state(tmp_path):
    gan = _tiny_gan()
    gan.fit(_images(), batch_size=8, epochs=1, verbose=0)
    gan.save(tmp_path / "gan.keras")
    reloaded = keras.models.load_model(tmp_path / "gan.keras")
    assert isinstance(reloaded, GAN)
    assert int(reloaded.d_optimizer.iterations) == int(gan.d_optimizer.iterations) == 4
    np.testing.assert_allclose(reloaded.generate(3, seed=1), gan.generate(3, seed=1), atol=1e-6)
    # Training goes on from the reloaded state.
    reloaded.fit(_images(), batch_size=8, epochs=1, verbose=0)
    assert int(reloaded.g_optimizer.iterations) == 8


def test_label_smoothing_matches_hand_computation():
    # All-zero weights and bias b: every image gets logit b. With real target 1 - s,
    # d_loss = -[(1 - s) log σ(b) + s log(1 - σ(b))] - log(1 - σ(b)).
    s, b = 0.1, 0.7
    gan = _tiny_gan(label_smoothing=s)
    logit = gan.discriminator.get_layer("logit")
    kernel, _ = logit.get_weights()
    logit.set_weights([np.zeros_like(kernel), np.array([b], "float32")])
    logs = gan.train_on_batch(_images(8), return_dict=True)
    p = 1 / (1 + np.exp(-b))
    expected = -((1 - s) * np.log(p) + s * np.log(1 - p)) - np.log(1 - p)
    np.testing.assert_allclose(logs["d_loss"], expected, rtol=1e-5)


def test_generator_weight_average_follows_hand_computation(tmp_path):
    gan = _tiny_gan(ema_momentum=0.9)
    assert gan.ema_generator is not None and gan.ema_generator is not gan.generator
    start = [w.numpy().copy() for w in gan.generator.weights]
    for average, weight in zip(start, gan.ema_generator.weights):
        np.testing.assert_array_equal(average, weight.numpy())  # starts as a copy
    gan.train_on_batch(_images(8))
    for before, trained, average in zip(start, gan.generator.weights, gan.ema_generator.weights):
        expected = (
            trained.numpy() if not trained.trainable else 0.9 * before + 0.1 * trained.numpy()
        )
        np.testing.assert_allclose(average.numpy(), expected, rtol=1e-5, atol=1e-7)
    # Images come from the average: call, generate and the reloaded model agree.
    noise = np.random.default_rng(1).standard_normal((3, 8)).astype("float32")
    np.testing.assert_allclose(_numpy(gan(noise)), _numpy(gan.ema_generator(noise)), atol=1e-6)
    assert not np.allclose(_numpy(gan(noise)), _numpy(gan.generator(noise, training=False)))
    gan.save(tmp_path / "gan.keras")
    reloaded = keras.models.load_model(tmp_path / "gan.keras")
    assert reloaded.ema_momentum == 0.9 and reloaded.label_smoothing == 0.0
    np.testing.assert_allclose(_numpy(reloaded(noise)), _numpy(gan(noise)), atol=1e-6)
    np.testing.assert_allclose(reloaded.generate(3, seed=2), gan.generate(3, seed=2), atol=1e-6)


def test_invalid_stabiliser_arguments():
    import pytest

    with pytest.raises(ValueError, match="label_smoothing. Expected a float in \\[0, 1\\)"):
        _tiny_gan(label_smoothing=1.0)
    with pytest.raises(ValueError, match="ema_momentum. Expected a float in \\[0, 1\\)"):
        _tiny_gan(ema_momentum=-0.5)


def test_minibatch_stddev_feeds_the_discriminator_and_survives_saving(tmp_path):
    gan = _tiny_gan(minibatch_stddev=True)
    layer = gan.discriminator.get_layer("minibatch_stddev")
    assert layer.output.shape == (None, 9)  # 8 hidden features + the batch's spread
    history = gan.fit(_images(), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][-1])
    images = _images(6)
    gan.save(tmp_path / "gan.keras")
    reloaded = keras.models.load_model(tmp_path / "gan.keras")
    np.testing.assert_allclose(
        _numpy(reloaded.discriminator(images)), _numpy(gan.discriminator(images)), atol=1e-6
    )
    # The logit of one image depends on the rest of its batch.
    alone = keras.ops.convert_to_numpy(gan.discriminator(images[:1]))
    assert not np.allclose(alone, keras.ops.convert_to_numpy(gan.discriminator(images))[:1])

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

import keras
import numpy as np

from kzoo import build_encoder_decoder_classifier


def test_classifier_is_decoder_of_encoder():
    keras.utils.set_random_seed(0)
    model = build_encoder_decoder_classifier(vocabulary_size=30, num_classes=4, units=6)
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    ids = np.array([[5, 8, 13, 0], [2, 3, 4, 5]])
    vectors = encoder.predict(ids, verbose=0)
    assert vectors.shape == (2, 6)
    np.testing.assert_allclose(
        model.predict(ids, verbose=0), decoder.predict(vectors, verbose=0), atol=1e-6
    )


def test_encoder_is_reusable_after_training_and_reload(tmp_path):
    model = build_encoder_decoder_classifier(vocabulary_size=30, units=6)
    before = model.get_layer("encoder").get_layer("lstm").get_weights()[0].copy()
    model.fit(np.array([[5, 8, 13, 0], [2, 3, 4, 5]]), np.array([0, 1]), epochs=1, verbose=0)
    # Training the classifier trains the shared encoder.
    assert not np.allclose(model.get_layer("encoder").get_layer("lstm").get_weights()[0], before)
    model.save(tmp_path / "c.keras")
    encoder = keras.models.load_model(tmp_path / "c.keras").get_layer("encoder")
    ids = np.array([[7, 9, 0]])
    np.testing.assert_allclose(
        encoder.predict(ids, verbose=0),
        model.get_layer("encoder").predict(ids, verbose=0),
        atol=1e-6,
    )

"""Output heads and compile defaults shared by kzoo's classifiers and language models."""

import keras
import keras_hub


def classification_head(num_classes, name="predictions", kernel_constraint=None):
    """Returns the output layer of a classifier.

    Two classes get one sigmoid unit (probability of class 1), more get a softmax. The layer
    computes in float32 whatever the global dtype policy, so that under mixed precision the
    probabilities and the loss keep full precision (Keras' mixed precision guide).
    """
    units, activation = (1, "sigmoid") if num_classes == 2 else (num_classes, "softmax")
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_constraint=kernel_constraint,
        dtype="float32",
        name=name,
    )


def compile_classifier(model, num_classes):
    """Compiles a classifier with Adam and the loss and accuracy that fit its head."""
    if num_classes == 2:
        loss = keras.losses.BinaryCrossentropy()
        accuracy = keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=keras.optimizers.Adam(), loss=loss, metrics=[accuracy])
    return model


def compile_language_model(model):
    """Compiles a next-token model whose output is logits over the vocabulary.

    The loss ignores padding targets (token id 0) and the metric is keras-hub's perplexity over
    the real tokens, whether or not a Keras mask travels with the logits.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        metrics=[keras_hub.metrics.Perplexity(from_logits=True, mask_token_id=0)],
    )
    return model

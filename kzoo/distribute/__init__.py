"""Where a run trains: the placement the runner asks (`placement`), a `tf.distribute` strategy
on TensorFlow (`strategy`) with `fit` and `evaluate` that work on several workers
(`multi_worker`) and whether XLA can compile a model's training step under it (`xla`), and one
device on Keras' JAX and PyTorch backends (`keras_distribution`)."""

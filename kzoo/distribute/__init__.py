"""Where a run trains: the placement the runner asks (`placement`), a `tf.distribute` strategy
on TensorFlow (`strategy`) with `fit` and `evaluate` that work on several workers
(`multi_worker`) and whether XLA can compile a model's training step under it (`xla`), and
`keras.distribution` on Keras' JAX backend (one device or several, of one process or several)
and PyTorch's (one device) (`keras_distribution`); what the CPU offers, read from /proc/cpuinfo
(`cpu`)."""

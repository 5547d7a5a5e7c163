"""Training across devices and machines: choosing a `tf.distribute` strategy (`strategy`),
`fit` and `evaluate` that work on several workers (`multi_worker`), and whether XLA can compile
a model's training step under a strategy (`xla`)."""

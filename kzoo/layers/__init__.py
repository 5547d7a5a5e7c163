"""Reusable layers. Each is registered as a Keras serializable (package "kzoo"), so `.keras`
files that contain them load without `custom_objects`."""

from kzoo.layers.lstm import LSTM
from kzoo.layers.masked_conv1d import MaskedConv1D
from kzoo.layers.masked_global_max_pooling1d import MaskedGlobalMaxPooling1D
from kzoo.layers.minibatch_stddev import MinibatchStdDev

__all__ = ["LSTM", "MaskedConv1D", "MaskedGlobalMaxPooling1D", "MinibatchStdDev"]

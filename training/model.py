"""The CNN: three conv blocks of conv + batch norm + ReLU with strided downsampling.

The shape follows the strongest small MNIST convnets (about 330k parameters, 1.3 MB):
two 3x3 convolutions then a strided 5x5 one per stage instead of max pooling, dropout
between stages, and a 4x4 convolution that sees the whole 4x4 map before the softmax.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
BN_MOMENTUM = 0.9


def _conv_bn_relu(x, filters: int, kernel: int = 3, strides: int = 1, name: str = ""):
    padding = "same" if strides > 1 else "valid"
    x = layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, use_bias=False, name=f"{name}_conv"
    )(x)
    # Momentum 0.9 rather than Keras's 0.99: the moving statistics must settle within
    # the few dozen steps of a short /train run or a test, not only in a full run.
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_model(dropout: float = 0.4, classes: int = NUM_CLASSES) -> keras.Model:
    """Inputs are (N, 28, 28, 1) float32 in [0, 1], ink = 1; outputs softmax over
    ``classes``: the ten digits, and with 11 "not one digit" after them."""
    inputs = keras.Input(INPUT_SHAPE, name="digit")
    x = _conv_bn_relu(inputs, 32, name="s1a")
    x = _conv_bn_relu(x, 32, name="s1b")
    x = _conv_bn_relu(x, 32, kernel=5, strides=2, name="s1down")
    x = layers.Dropout(dropout, name="s1_drop")(x)
    x = _conv_bn_relu(x, 64, name="s2a")
    x = _conv_bn_relu(x, 64, name="s2b")
    x = _conv_bn_relu(x, 64, kernel=5, strides=2, name="s2down")
    x = layers.Dropout(dropout, name="s2_drop")(x)
    x = _conv_bn_relu(x, 128, kernel=4, name="s3")
    x = layers.Flatten(name="flat")(x)
    x = layers.Dropout(dropout, name="head_drop")(x)
    outputs = layers.Dense(classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="digitbot_cnn")

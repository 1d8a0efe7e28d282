"""Lab 05 (batch normalization): Keras's conventions and the numbers the lab quotes.

References: ``keras.layers.BatchNormalization`` in float64 (rtol 1e-12 on values) and
NumPy arithmetic for the momentum figures.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")


def bn(momentum=0.99):
    layer = keras.layers.BatchNormalization(momentum=momentum, dtype="float64")
    layer.build((None, 1))
    return layer


def test_two_values_biased_variance_and_epsilon_inside_the_root():
    layer = bn()
    out = np.asarray(layer(np.array([[1.0], [3.0]]), training=True))
    # mean 2, biased variance 1 (not 2), epsilon 1e-3 inside the square root
    np.testing.assert_allclose(out, [[-1 / np.sqrt(1.001)], [1 / np.sqrt(1.001)]], rtol=1e-12)
    np.testing.assert_allclose(layer.moving_mean.numpy(), [0.99 * 0 + 0.01 * 2.0], rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.numpy(), [0.99 * 1 + 0.01 * 1.0], rtol=1e-12)


def test_moving_average_rule():
    layer = bn(momentum=0.99)
    layer(np.full((4, 1), 10.0), training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), [0.1], rtol=1e-12)  # update_moving(0, 10)
    assert np.isclose(0.9 * 1.0 + 0.1 * 3.0, 1.2)  # update_moving(1, 3, 0.9)


def test_initial_values_still_weigh_momentum_to_the_t():
    assert round(0.99**100, 2) == 0.37 and round(0.99**200, 2) == 0.13
    assert round(0.9**30, 3) == 0.042  # momentum 0.9 forgets within a few dozen steps


def test_conv_bn_relu_block_parameters():
    x = keras.Input((14, 14, 3))
    y = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(x)
    y = keras.layers.ReLU()(keras.layers.BatchNormalization()(y))
    block = keras.Model(x, y)
    trainable = sum(int(np.prod(w.shape)) for w in block.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in block.non_trainable_weights)
    assert (trainable, frozen) == (3 * 3 * 3 * 8 + 2 * 8, 2 * 8) == (232, 16)


def test_lab_cnn_parameter_counts():
    conv_w = 9 * 1 * 16 + 9 * 16 * 16 + 9 * 16 * 32 + 9 * 32 * 32
    dense = 7 * 7 * 32 * 10 + 10
    x = keras.Input((28, 28, 1))
    y = x
    for f in (16, 16, "pool", 32, 32, "pool"):
        y = (
            keras.layers.MaxPooling2D(2)(y)
            if f == "pool"
            else keras.layers.Conv2D(f, 3, padding="same")(y)
        )
    plain = keras.Model(x, keras.layers.Dense(10)(keras.layers.Flatten()(y)))
    assert plain.count_params() == conv_w + 96 + dense

"""Lab 09 (famous architectures): the numbers the lab reproduces, against Keras layers.

Parameter counts are Keras's ``count_params()``; MACs are output positions times kernel
entries read off the built Keras layer (no lablib counter: ``conv_macs`` is the lab's
exercise); the residual block is written here from the paper (it is the lab's exercise,
so lablib has none). Counts are compared exactly; the identity check at atol 1e-6.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
layers = keras.layers


def conv(c_out, k, c_in, use_bias=True, size=16, **kwargs):
    """A Conv2D applied to a (size, size, c_in) Keras input: its output shape is known."""
    layer = layers.Conv2D(c_out, k, use_bias=use_bias, **kwargs)
    layer(keras.Input((size, size, c_in)))
    return layer


def macs(layer):
    """Output positions times kernel entries (kh kw C_in C_out): one multiply-add each."""
    return int(np.prod(layer.output.shape[1:3])) * int(np.prod(layer.kernel.shape))


def test_slide_conv_counts_and_lenet_layers():
    assert (
        conv(10, 3, 3).count_params() == 280
        and conv(10, 3, 3, use_bias=False).count_params() == 270
    )
    c1, c3 = conv(6, 5, 1, False, size=32), conv(16, 5, 6, False, size=14)
    assert (c1.count_params(), c3.count_params()) == (150, 2400)
    assert (macs(c1), macs(c3)) == (28 * 28 * 150, 10 * 10 * 2400) == (117_600, 240_000)


def test_alexnet_conv1_and_conv2():
    conv1 = conv(96, 11, 3, size=224, strides=4)
    assert tuple(conv1.output.shape[1:3]) == (54, 54)
    assert conv1.count_params() - 96 == 34_848 and round(macs(conv1) / 1e6, 1) == 101.6
    conv2 = conv(256, 5, 96, size=26, padding="same")
    assert conv2.count_params() - 256 == 614_400 and macs(conv2) == 26 * 26 * 614_400


@pytest.mark.parametrize("n, k, side", [(1, 3, 3), (2, 3, 5), (3, 3, 7), (2, 5, 9)])
def test_receptive_field_by_impulse(n, k, side):
    stack = keras.Sequential(
        [keras.Input((41, 41, 1))]
        + [
            layers.Conv2D(1, k, padding="same", use_bias=False, kernel_initializer="ones")
            for _ in range(n)
        ]
    )
    impulse = np.zeros((1, 41, 41, 1), "float32")
    impulse[0, 20, 20, 0] = 1
    response = keras.ops.convert_to_numpy(stack(impulse))[0, :, :, 0]
    assert int((response[20] > 0).sum()) == 1 + n * (k - 1) == side


@pytest.mark.parametrize("c", [8, 64])
def test_three_3x3_vs_one_7x7(c):
    three = keras.Sequential(
        [keras.Input((16, 16, c))]
        + [layers.Conv2D(c, 3, padding="same", use_bias=False) for _ in range(3)]
    )
    one = keras.Sequential(
        [keras.Input((16, 16, c)), layers.Conv2D(c, 7, padding="same", use_bias=False)]
    )
    assert (three.count_params(), one.count_params()) == (27 * c * c, 49 * c * c)


def basic_block(x, filters, stride):
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.ReLU()(layers.BatchNormalization()(y))
    y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(y))
    if stride != 1 or x.shape[-1] != filters:
        x = layers.BatchNormalization()(
            layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x)
        )
    return layers.ReLU()(layers.Add()([y, x]))


def test_residual_block_parameters_and_projection():
    x = keras.Input((32, 32, 16))
    same = keras.Model(x, basic_block(x, 16, 1))
    assert same.output.shape == (None, 32, 32, 16)
    assert same.count_params() == 2 * 9 * 16 * 16 + 2 * 4 * 16 == 4_736  # no projection
    down = keras.Model(x, basic_block(x, 32, 2))
    assert down.output.shape == (None, 16, 16, 32)
    assert down.count_params() == 9 * 16 * 32 + 9 * 32 * 32 + 16 * 32 + 3 * 4 * 32 == 14_720


def test_residual_block_is_identity_plus_f():
    """Zero convolution kernels make F(x) = 0: the block returns relu(x) (BN at its start)."""
    x = keras.Input((6, 6, 4))
    model = keras.Model(x, basic_block(x, 4, 1))
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    data = np.random.default_rng(0).normal(size=(2, 6, 6, 4)).astype("float32")
    np.testing.assert_allclose(
        model.predict(data, verbose=0), np.maximum(data, 0), rtol=0, atol=1e-6
    )

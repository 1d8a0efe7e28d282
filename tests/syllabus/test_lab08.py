"""Lab 08 (CIFAR-10 regularization): the slide's standardized pixel and the CNN's counts.

References: ``keras.layers.Normalization`` (float32, atol 5e-3 for the slide's two-decimal
rounding), ``count_params()`` of Keras models, Keras's L2 regularizer value (rtol 1e-6).
"""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
layers = keras.layers

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def test_the_slide_pixel_standardized():
    norm = keras.layers.Normalization(mean=MEAN, variance=np.square(STD))
    for pixel in ([0.98, 0.84, 0.15], np.array([250, 214, 38]) / 255.0):
        out = keras.ops.convert_to_numpy(norm(np.array([pixel], "float32")))[0]
        np.testing.assert_allclose(out, [2.16, 1.71, -1.14], atol=5e-3)


def cnn(width=16, dense=128, num_classes=10, batch_norm=False):
    model = keras.Sequential([keras.Input((32, 32, 3))])
    for f in (width, 2 * width, 4 * width):
        model.add(layers.Conv2D(f, 3, padding="same", use_bias=not batch_norm))
        if batch_norm:
            model.add(layers.BatchNormalization())
        model.add(layers.MaxPooling2D(2))
    model.add(layers.Flatten())
    model.add(layers.Dense(dense))
    model.add(layers.Dense(num_classes))
    return model


def test_cnn_counts():
    plain = (
        (3 * 9 + 1) * 16
        + (16 * 9 + 1) * 32
        + (32 * 9 + 1) * 64
        + 4 * 4 * 64 * 128
        + 128
        + 128 * 10
        + 10
    )
    assert cnn().count_params() == plain == 156_074
    assert cnn(batch_norm=True).count_params() == plain - (16 + 32 + 64) + 4 * (16 + 32 + 64)
    small = (3 * 9 + 1) * 8 + (8 * 9 + 1) * 16 + (16 * 9 + 1) * 32 + 512 * 32 + 32 + 32 * 4 + 4
    assert cnn(width=8, dense=32, num_classes=4).count_params() == small


def test_l2_penalty_is_l2_times_the_sum_of_squares():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 3, 4)).astype("float32")
    value = float(keras.regularizers.L2(2e-3)(kernel))
    np.testing.assert_allclose(value, 2e-3 * np.sum(kernel.astype(np.float64) ** 2), rtol=1e-6)
    value = float(keras.regularizers.L1L2(l1=1e-4, l2=0.0)(kernel))
    np.testing.assert_allclose(value, 1e-4 * np.sum(np.abs(kernel.astype(np.float64))), rtol=1e-6)

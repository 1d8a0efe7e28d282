"""Lab 07 (MNIST, MLP vs CNN): the slides' parameter counts and shapes, against Keras.

Every count is the ``count_params()`` of a built Keras model, compared exactly with the
formula ``n_in n_out + n_out`` (Dense) or ``(F F C_in + 1) C_out`` (Conv2D).
"""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
layers = keras.layers


def mlp(n_inputs, hidden, num_classes=10):
    return keras.Sequential(
        [keras.Input((n_inputs,)), *[layers.Dense(h) for h in hidden], layers.Dense(num_classes)]
    )


def test_mlp_counts():
    assert mlp(784, (512,)).count_params() == 784 * 512 + 512 + 512 * 10 + 10 == 407_050
    assert mlp(784, ()).count_params() == 7_850
    # the slide's warning: a 1000 x 1000 image into 1000 neurons
    assert 1000 * 1000 * 1000 + 1000 + 1000 * 10 + 10 == 1_000_011_010


def slide_cnn(size=28):
    return keras.Sequential(
        [
            keras.Input((size, size, 1)),
            layers.Conv2D(32, 3, padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(64),
            layers.Dropout(0.5),
            layers.Dense(10),
        ]
    )


def test_slide_cnn_table():
    model = slide_cnn()
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert shapes[:5] == [(28, 28, 32), (14, 14, 32), (14, 14, 64), (7, 7, 64), (3136,)]
    counts = [layer.count_params() for layer in model.layers]
    assert counts == [320, 0, 18_496, 0, 0, 200_768, 0, 650]
    assert model.count_params() == 220_234
    assert round(100 * 200_768 / 220_234) == 91  # the Dense layer on the 3136 values
    # at 56x56 only the first Dense layer grows: Flatten gives 14 * 14 * 64 values
    assert slide_cnn(56).count_params() == 220_234 - 200_768 + 14 * 14 * 64 * 64 + 64


def test_training_procedure_cnn_counts():
    model = keras.Sequential([keras.Input((28, 28, 1))])
    for c in (32, 64):
        for _ in range(2):
            model.add(layers.Conv2D(c, 3, padding="same"))
            model.add(layers.BatchNormalization(momentum=0.9))
        model.add(layers.MaxPooling2D(2))
    model.add(layers.Flatten())
    for units in (200, 50, 10):
        model.add(layers.Dense(units))
    convs = (9 * 1 + 1) * 32 + (9 * 32 + 1) * 32 + (9 * 32 + 1) * 64 + (9 * 64 + 1) * 64
    dense = 3136 * 200 + 200 + 200 * 50 + 50 + 50 * 10 + 10
    assert model.count_params() == convs + 4 * (32 + 32 + 64 + 64) + dense
    assert tuple(model.layers[-4].output.shape[1:]) == (3136,)

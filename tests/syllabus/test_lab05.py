"""Lab 05 (batch normalization): Keras's conventions and the numbers the lab quotes.

References: ``keras.layers.BatchNormalization`` in float64 (rtol 1e-12 on values) and
NumPy arithmetic for the momentum figures; for the vanishing gradient (section 8),
``tf.GradientTape``, the closed form of the sigmoid's derivative, finite differences, and the
lab's own ``layer_gradient_norms`` and ``deep_mlp`` (``lab_code("05")``).
"""

import os

import numpy as np
import pytest
from labcode import lab_code  # tests/syllabus/conftest.py puts this folder on sys.path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


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


# Section 8: the vanishing gradient, on fixed-seed models and inputs.


def test_sigmoid_derivative_is_at_most_a_quarter_at_zero():
    z = np.linspace(-10.0, 10.0, 20001)
    zt = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        s = keras.activations.sigmoid(zt)
    derivative = tape.gradient(s, zt).numpy()
    closed_form = 1 / (1 + np.exp(-z)) * (1 - 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(derivative, closed_form, rtol=1e-9, atol=1e-15)
    assert derivative.max() == pytest.approx(0.25, rel=1e-12)
    assert z[derivative.argmax()] == pytest.approx(0.0, abs=1e-9)
    # the lab's bound from the last of 20 layers to the first, and over 20 layers
    assert f"{0.25**19:.2e}" == "3.64e-12" and f"{0.25**20:.2e}" == "9.09e-13"


def tiny_sigmoid_network():
    """x -> sigmoid(0.5 x - 1) -> 2 h: the 2-layer network of the lab's visible check."""
    constant = keras.initializers.Constant
    inputs = keras.Input((1,))
    h = keras.layers.Dense(
        1, activation="sigmoid", kernel_initializer=constant(0.5), bias_initializer=constant(-1.0)
    )(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, kernel_initializer=constant(2.0))(h))


def test_layer_gradient_norms_of_the_network_computed_by_hand():
    lab = lab_code("05")
    got = lab.layer_gradient_norms(
        tiny_sigmoid_network(),
        np.array([[2.0]]),
        np.array([[0.0]]),
        keras.losses.MeanSquaredError(),
    )
    # z = 0.5 * 2 - 1 = 0, h = 1/2, out = 1, L = 1: dL/dw2 = 2 h = 1, dL/dw1 = 2 * 2 * 1/4 * 2 = 2
    np.testing.assert_allclose(got, [2.0, 1.0], rtol=1e-6)

    def loss(w1, w2, x=2.0, b1=-1.0):
        return (w2 / (1 + np.exp(-(w1 * x + b1)))) ** 2

    eps = 1e-6
    fd = [
        (loss(0.5 + eps, 2.0) - loss(0.5 - eps, 2.0)) / (2 * eps),
        (loss(0.5, 2.0 + eps) - loss(0.5, 2.0 - eps)) / (2 * eps),
    ]
    np.testing.assert_allclose(np.abs(fd), [2.0, 1.0], rtol=1e-8)


def test_layer_gradient_norms_matches_gradient_tape_in_training_mode():
    lab = lab_code("05")
    keras.utils.set_random_seed(5)
    inputs = keras.Input((8, 8, 1))
    z = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    z = keras.layers.ReLU()(keras.layers.BatchNormalization()(z))
    z = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(z))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(z))
    x = np.random.default_rng(5).uniform(size=(6, 8, 8, 1)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    expected = [
        np.sqrt(np.sum(np.square(g.numpy())))
        for w, g in zip(model.trainable_weights, grads)
        if w.path.endswith("kernel")
    ]
    got = lab.layer_gradient_norms(model, x, y, loss_fn)
    assert len(got) == 2
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.fixture(scope="module")
def init_norms():
    """The lab's four 20-layer networks at initialization, seed 0, on fixed pixel-like inputs."""
    lab = lab_code("05")
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(256, 196)) * (rng.uniform(size=(256, 196)) < 0.3)).astype("float32")
    y = rng.integers(0, 10, size=256)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    out = {}
    for kind in ("sigmoid", "relu", "sigmoid_bn", "residual", "residual_no_bn"):
        keras.utils.set_random_seed(0)
        model = lab.deep_mlp(kind, 196, 20, 64)
        out[kind] = (
            lab.layer_gradient_norms(model, x, y, loss_fn),
            float(loss_fn(y, model(x, training=True))),
        )
    return out


def test_deep_sigmoid_network_gradient_vanishes_by_a_quarter_per_layer(init_norms):
    norms, _ = init_norms["sigmoid"]
    assert norms.shape == (21,)
    assert norms[0] / norms[-1] < 1e-9
    # layers 20 down to 2 (both fed by sigmoid outputs): sigmoid' <= 1/4 at every step
    per_layer = (norms[1] / norms[19]) ** (1 / 18)
    assert 0.2 < per_layer < 0.25


@pytest.mark.parametrize("kind", ["relu", "sigmoid_bn", "residual"])
def test_relu_bn_and_residual_keep_every_layer_within_a_factor_100(init_norms, kind):
    norms, loss = init_norms[kind]
    assert norms.max() / norms.min() < 100
    assert loss < 20


def test_residual_without_bn_explodes(init_norms):
    norms, loss = init_norms["residual_no_bn"]
    assert loss > 100 and norms.max() > 100

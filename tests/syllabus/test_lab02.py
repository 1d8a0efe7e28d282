"""Lab 02 (Conv2D layers): the slides' numbers, against Keras layers and NumPy arithmetic.

References: ``count_params()`` and output shapes of real Keras layers, the values of a
"same" convolution against explicit zero padding + "valid" (random inputs, seed 0, float32,
atol 1e-5), and the slides' formulas written out here. Counts are compared exactly.
"""

import itertools
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
scipy_signal = pytest.importorskip("scipy.signal")


def conv_out(w_in, f, s=1, p=0):
    """The slides' W_out = (W_in - F + 2P) / S + 1, rounded down like Keras."""
    return (w_in - f + 2 * p) // s + 1


def same_pads(w_in, f, s):
    """TensorFlow's "same" padding: total max((ceil(W/S) - 1) S + F - W, 0), odd pixel after."""
    total = max((-(-w_in // s) - 1) * s + f - w_in, 0)
    return total // 2, total - total // 2


def test_mlp_on_pixels_numbers():
    n = 640 * 480 * 3
    assert n == 921_600
    layer = keras.layers.Dense(20)
    layer.build((None, n))
    assert layer.count_params() == n * 20 + 20 == 18_432_020
    # The slide's 19,353,600 counts n biases (one per INPUT) instead of 20 (one per neuron).
    assert 20 * n + n == 19_353_600
    assert 19_353_600 - layer.count_params() == n - 20
    no_bias = keras.layers.Dense(20, use_bias=False)
    no_bias.build((None, n))
    assert no_bias.count_params() == 18_432_000


def test_conv_on_the_photo_has_560_parameters_whatever_its_size():
    for size in ((480, 640), (32, 32)):
        layer = keras.layers.Conv2D(20, 3)
        layer.build((None, *size, 3))
        assert layer.count_params() == 3 * 3 * 3 * 20 + 20 == 560


@pytest.mark.parametrize(
    "w_in, f, s, p, expected",
    [
        (224, 3, 1, 1, 224),  # slide 000: F=3, S=1, P=1 keeps the size
        (224, 7, 7, 0, 32),  # slide 000: F=7, S=7, P=0
        (256, 3, 1, 0, 254),  # slide 003: 256x256 RGB, 10 filters 3x3, P=0, S=1
        (5, 3, 1, 0, 3),  # slide 003: the 5x5 "sem padding" example
        (224, 7, 2, 0, 109),  # (224 - 7) / 2 + 1 = 109.5: Keras drops the incomplete window
    ],
)
def test_conv_output_size_slide_numbers(w_in, f, s, p, expected):
    model = keras.Sequential(
        [
            keras.Input((w_in, w_in, 1)),
            keras.layers.ZeroPadding2D(p),
            keras.layers.Conv2D(1, f, strides=s),
        ]
    )
    assert model.output_shape[1] == conv_out(w_in, f, s, p) == expected


def test_same_keeps_28_and_conv_params_280():
    assert keras.layers.Conv2D(1, 3, padding="same").compute_output_shape((1, 28, 28, 1))[1] == 28
    layer = keras.layers.Conv2D(10, 3)
    out = layer(np.zeros((1, 256, 256, 3), "float32"))
    assert tuple(out.shape) == (1, 254, 254, 10)
    assert layer.count_params() == 10 * (3 * 3 * 3) + 10 == 280


def test_the_slide_5x5_example():
    image = np.array(
        [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]], float
    )
    kernel = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]], float)
    expected = [[12, 12, 17], [10, 17, 19], [9, 6, 14]]
    np.testing.assert_array_equal(scipy_signal.correlate2d(image, kernel, mode="valid"), expected)
    keras_out = keras.ops.conv(image[None, :, :, None], kernel[:, :, None, None])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras_out)[0, :, :, 0], expected, atol=1e-5
    )


def test_output_size_formula_matches_keras_over_a_grid():
    checked = 0
    for w, f, s, p in itertools.product((5, 6, 8, 11), (1, 2, 3, 4), (1, 2, 3), (0, 1, 2)):
        if w + 2 * p < f:
            continue
        shape = keras.layers.Conv2D(1, f, strides=s).compute_output_shape(
            (1, w + 2 * p, w + 2 * p, 1)
        )
        assert shape[1] == conv_out(w, f, s, p), (w, f, s, p)
        checked += 1
    assert checked > 120


def test_dilation_spans_d_f_minus_1_plus_1():
    for d, span in ((1, 3), (2, 5), (3, 7)):
        layer = keras.layers.Conv2D(4, 3, dilation_rate=d)
        y = layer(np.zeros((1, 32, 32, 1), "float32"))
        assert d * (3 - 1) + 1 == span
        assert y.shape[1] == conv_out(32, span) == 32 - span + 1
        assert layer.count_params() == 9 * 4 + 4  # the same 9 weights per filter, whatever d


@pytest.mark.parametrize(
    "size, f, s, expected",
    [
        (6, 3, 2, (0, 1)),
        (7, 3, 2, (1, 1)),
        (6, 4, 1, (1, 2)),
        (4, 1, 2, (0, 0)),
        (224, 3, 1, (1, 1)),
    ],
)
def test_same_padding_puts_the_odd_pixel_after_like_keras(size, f, s, expected):
    assert same_pads(size, f, s) == expected
    x = np.random.default_rng(0).normal(size=(2, size, size + 1, 3)).astype("float32")
    same = keras.layers.Conv2D(4, f, strides=s, padding="same")
    y_same = np.asarray(same(x))
    valid = keras.layers.Conv2D(4, f, strides=s, padding="valid")
    valid.build(x.shape)
    valid.set_weights(same.get_weights())
    pads = ((0, 0), same_pads(size, f, s), same_pads(size + 1, f, s), (0, 0))
    np.testing.assert_allclose(np.asarray(valid(np.pad(x, pads))), y_same, atol=1e-5)


def test_ones_response_shows_where_same_padding_goes():
    def ones_response(size):
        layer = keras.layers.Conv2D(
            1, 3, strides=2, padding="same", use_bias=False, kernel_initializer="ones"
        )
        return np.asarray(layer(np.ones((1, size, size, 1), "float32")))[0, :, :, 0]

    np.testing.assert_array_equal(ones_response(6), [[9, 9, 6], [9, 9, 6], [6, 6, 4]])
    np.testing.assert_array_equal(
        ones_response(7), [[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]]
    )


def test_bottleneck_counts():
    direct = keras.Sequential(
        [keras.Input((28, 28, 256)), keras.layers.Conv2D(256, 3, padding="same")]
    )
    assert direct.count_params() == (3 * 3 * 256 + 1) * 256 == 590_080
    bottleneck = keras.Sequential(
        [
            keras.Input((28, 28, 256)),
            keras.layers.Conv2D(64, 1),
            keras.layers.Conv2D(64, 3, padding="same"),
            keras.layers.Conv2D(256, 1),
        ]
    )
    assert (
        bottleneck.count_params() == (256 + 1) * 64 + (9 * 64 + 1) * 64 + (64 + 1) * 256 == 70_016
    )


# The slides' Keras code (Keras 2 / PyTorch) on Keras 3, as section 10 of the lab shows it. If a
# Keras release changes one of these behaviours, the lab's text has to change with it.


def test_rmsprop_lr_is_rejected_learning_rate_is_the_name():
    with pytest.raises(ValueError, match="not recognized"):
        keras.optimizers.RMSprop(lr=0.001)  # seed 001: optimizers.RMSprop(lr=0.001)
    assert float(keras.optimizers.RMSprop(learning_rate=0.001).learning_rate) == pytest.approx(1e-3)
    assert float(keras.optimizers.get("rmsprop").learning_rate) == pytest.approx(1e-3)


def test_a_string_stride_is_rejected_and_printed_without_quotes():
    with pytest.raises(ValueError, match=r"tuple of 2 integers\. Received strides=1$"):
        keras.layers.Conv2D(filters=16, kernel_size=2, strides="1", padding="same")
    cnn = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 2, strides=1, padding="same"),
            keras.layers.MaxPooling2D(pool_size=(2, 2), strides=2),
        ]
    )
    assert cnn.layers[0].count_params() == 2 * 2 * 16 + 16 == 80
    assert cnn.output_shape == (None, 14, 14, 16)


def test_input_shape_on_a_layer_warns_and_builds_the_same_model():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.Sequential()
        model.add(keras.layers.Dense(32, input_shape=(784,)))
        model.add(keras.layers.Dense(32))
    assert any(
        issubclass(w.category, UserWarning) and "Input(shape)" in str(w.message) for w in caught
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model_k3 = keras.Sequential(
            [keras.Input(shape=(784,)), keras.layers.Dense(32), keras.layers.Dense(32)]
        )
    assert not any("input_shape" in str(w.message) for w in caught)
    assert model.input_shape == model_k3.input_shape == (None, 784)
    assert model.count_params() == model_k3.count_params() == 784 * 32 + 32 + 32 * 32 + 32 == 26_176


def test_nchw_data_read_as_nhwc():
    # The photo of the lab: skimage's chelsea, 300 rows x 451 columns x 3 colours.
    x_nhwc = np.zeros((1, 300, 451, 3), "float32")
    x_nchw = np.transpose(x_nhwc, (0, 3, 1, 2))
    assert x_nchw.shape == (1, 3, 300, 451)  # (N, C, H, W): height before width
    right, wrong = keras.layers.Conv2D(8, 3), keras.layers.Conv2D(8, 3)
    assert tuple(right(x_nhwc).shape) == (1, 298, 449, 8)
    assert right.count_params() == 3 * 3 * 3 * 8 + 8 == 224
    assert tuple(wrong(x_nchw).shape) == (1, 1, 298, 8)  # H=3, W=300, C=451: no error
    assert tuple(wrong.kernel.shape) == (3, 3, 451, 8)
    assert wrong.count_params() == 3 * 3 * 451 * 8 + 8 == 32_480
    with pytest.raises(ValueError, match="output size would be zero or negative"):
        keras.layers.Conv2D(32, 3)(np.zeros((128, 1, 28, 28), "float32"))


def test_channels_first_conv_equals_the_transposed_channels_last_one():
    rng = np.random.default_rng(0)
    x_nchw = rng.normal(size=(2, 3, 7, 9)).astype("float32")
    x_nhwc = np.transpose(x_nchw, (0, 2, 3, 1))
    last = keras.layers.Conv2D(4, 3)
    y_last = np.asarray(last(x_nhwc))
    first = keras.layers.Conv2D(4, 3, data_format="channels_first")
    first.build(x_nchw.shape)
    first.set_weights(last.get_weights())  # the kernel is (3, 3, 3, 4) in both layouts
    assert tuple(first.kernel.shape) == (3, 3, 3, 4)
    try:
        y_first = np.asarray(first(x_nchw))
    except Exception as err:  # TensorFlow's own CPU kernel has no NCHW (oneDNN or a GPU does)
        assert "only supports the NHWC tensor format on the CPU" in str(err)
        return
    np.testing.assert_allclose(np.transpose(y_first, (0, 2, 3, 1)), y_last, atol=1e-5)

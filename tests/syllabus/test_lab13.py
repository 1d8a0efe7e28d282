"""Lab 13 (semantic segmentation): the numbers the lab states, computed by third-party code.

References: closed-form counts, ``keras.layers.Conv2DTranspose`` / ``Conv2D`` shapes and values,
``keras.metrics.MeanIoU``, scikit-learn's ``jaccard_score`` / ``f1_score``, TensorFlow's
``max_pool_with_argmax`` and ``GradientTape``, scikit-image's sample data. No student exercise
is called. Float comparisons: rtol 1e-5 (float32 Keras outputs) unless stated.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import skimage
from keras import layers
from sklearn.metrics import f1_score, jaccard_score

from lablib import architectures


def test_a_256x256_image_has_65536_pixels_and_patchwise_work_is_mostly_repeated():
    assert 256 * 256 == 65_536  # the slides' count of patch classifications for one image
    # The lab's patch classifier: a 15x15 window, six 3x3 convs with 16 filters (15 -> 3),
    # a 3x3 conv with 32 filters (3 -> 1) and a 1x1 softmax head (4 classes).
    sizes = [13, 11, 9, 7, 5, 3, 1, 1]  # output side of each layer on one window
    weights = [27 * 16] + [9 * 16 * 16] * 5 + [9 * 16 * 32, 32 * 4]
    per_window = sum(s * s * w for s, w in zip(sizes, weights))
    # One pass over the 256x256 image padded by 7: the same layers, 270 -> 268 -> ... -> 256
    sides = [268, 266, 264, 262, 260, 258, 256, 256]
    one_pass = sum(s * s * w for s, w in zip(sides, weights))
    assert per_window == 734_384 and one_pass == 1_132_277_504
    assert 65_536 * per_window / one_pass == pytest.approx(42.5, abs=0.05)

    def stack(side):
        x = inputs = keras.Input((side, side, 3))
        for _ in range(6):
            x = layers.Conv2D(16, 3)(x)
        x = layers.Conv2D(4, 1)(layers.Conv2D(32, 3)(x))
        return keras.Model(inputs, x)

    assert architectures.count_macs(stack(15)) == per_window
    assert architectures.count_macs(stack(270)) == one_pass


@pytest.mark.parametrize(
    "n_in, kernel, stride, padding, output_padding, expected",
    [
        (2, 3, 2, "valid", None, 5),  # the lab's drawn example
        (8, 2, 2, "valid", None, 16),  # U-Net's up-convolution doubles the side
        (8, 16, 8, "same", None, 64),  # the FCN's one x8 upsampling
        (7, 3, 2, "same", 0, 13),  # (7 - 1) * 2 + 3 - 2 * 1 + 0
        (4, 1, 3, "valid", None, 12),  # kernel < stride: (4 - 1) * 3 + max(1, 3)
    ],
)
def test_transposed_convolution_output_sizes(n_in, kernel, stride, padding, output_padding,
                                             expected):
    layer = layers.Conv2DTranspose(1, kernel, strides=stride, padding=padding,
                                   output_padding=output_padding)
    assert layer(np.zeros((1, n_in, n_in, 1), "float32")).shape[1] == expected


def test_same_padding_strided_conv_is_ambiguous_to_invert():
    """7 and 8 both give 4 with stride 2 and 'same' padding: output_padding picks one."""
    conv = layers.Conv2D(1, 3, strides=2, padding="same")
    seven, eight = (conv.compute_output_shape((None, n, n, 1))[1] for n in (7, 8))
    assert seven == eight == 4
    sizes = [layers.Conv2DTranspose(1, 3, strides=2, padding="same", output_padding=p)
             .compute_output_shape((None, 4, 4, 1))[1] for p in (0, 1)]
    assert sizes == [7, 8]


def test_transposed_convolution_is_the_transpose_of_the_convolution_matrix():
    kernel = np.random.default_rng(1).normal(size=(3, 3, 1, 1)).astype("float32")
    conv = layers.Conv2D(1, 3, strides=2, use_bias=False)
    conv.build((None, 5, 5, 1))
    conv.set_weights([kernel])
    matrix = keras.ops.convert_to_numpy(conv(np.eye(25, dtype="float32").reshape(25, 5, 5, 1)))
    matrix = matrix.reshape(25, 4).T  # (2x2 outputs, 5x5 inputs)
    up = layers.Conv2DTranspose(1, 3, strides=2, use_bias=False)
    up.build((None, 2, 2, 1))
    up.set_weights([kernel])
    y = np.random.default_rng(2).normal(size=(1, 2, 2, 1)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(up(y)).reshape(25),
                               matrix.T @ y.reshape(4), rtol=1e-5, atol=1e-5)


def test_dice_is_a_function_of_iou_and_mean_iou_skips_absent_classes():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 5000)
    pred = np.where(rng.random(5000) < 0.7, truth, rng.integers(0, 4, 5000))
    iou = jaccard_score(truth, pred, average=None)
    dice = f1_score(truth, pred, average=None)
    np.testing.assert_allclose(dice, 2 * iou / (1 + iou), rtol=1e-12)
    assert 2 * 0.5 / 1.5 == pytest.approx(0.667, abs=5e-4)  # "IoU 0.5 is Dice 0.67"
    # all-background prediction of a mask with classes {0, 3} among 5: MeanIoU averages over
    # the two classes with a non-empty union (background 0.5, class 3 zero)
    metric = keras.metrics.MeanIoU(num_classes=5)
    metric.update_state([0, 0, 3, 3], [0, 0, 0, 0])
    assert float(metric.result()) == pytest.approx(0.25, rel=1e-6)


def test_segnet_unpooling_is_the_max_pool_gradient():
    import tensorflow as tf

    x = np.random.default_rng(7).permutation(36).reshape(1, 6, 6, 1).astype("float32")
    _, argmax = tf.nn.max_pool_with_argmax(x, ksize=2, strides=2, padding="VALID")
    values = np.arange(1.0, 10.0, dtype="float32").reshape(1, 3, 3, 1)
    unpooled = np.zeros(36, "float32")
    unpooled[argmax.numpy().ravel()] = values.ravel()
    var = tf.Variable(x)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(tf.nn.max_pool2d(var, 2, 2, "VALID") * values)
    routed = tape.gradient(total, var).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(unpooled.reshape(6, 6), routed)


def test_motorcycle_depth_reference_numbers():
    """The real photo's reference: Middlebury ground-truth disparity >= 30 px."""
    _, _, disparity = skimage.data.stereo_motorcycle()
    known = np.isfinite(disparity)
    assert disparity.shape == (500, 741)
    assert 1 - known.mean() == pytest.approx(0.0735, abs=5e-4)  # "the 7% without ground truth"
    depth_m = 994.978 * 0.193001 / (30 + 31.086)  # Z = f B / (d + doffs), from the docstring
    assert depth_m == pytest.approx(3.14, abs=0.005)  # "depth <= 3.1 m"
    counts, edges = np.histogram(disparity[known], bins=np.arange(5, 62, 2))
    gap = counts[(edges[:-1] >= 27) & (edges[:-1] < 33)].max()
    assert gap < 0.15 * counts.max()  # two modes, a gap around 30 px

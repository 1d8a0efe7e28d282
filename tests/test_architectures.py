"""Tests for lablib.architectures: builders against the syllabus numbers and keras.applications,
the MAC counter against hand computations.

References: parameter counts of ``keras.applications`` models (built with
``weights=None``, no download), ``Conv2D.count_params()``, and closed-form counts written
out by hand from the architecture tables. Counts are integers and compared exactly; the
one float comparison (patch embedding vs NumPy) uses rtol=1e-5, atol=1e-5 (float32).
Runs in well under 60 s on 2 CPU cores (VGG16 and ResNet50 are built once each).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from keras import layers

from lablib import architectures as models


def _conv_weights(*convs: layers.Layer, channels: int) -> int:
    """Sum of count_params of bias-free conv layers applied in sequence to C channels."""
    x = keras.Input((16, 16, channels))
    for conv in convs:
        x = conv(x)
    return sum(conv.count_params() for conv in convs)


def _prefix_params(model: keras.Model, prefix: str) -> int:
    return sum(layer.count_params() for layer in model.layers if layer.name.startswith(prefix))


# ------------------------------------------------------------------------ syllabus numbers


def test_lenet5_weights_and_the_78_percent_in_c5():
    model = models.lenet5()
    stats = {row.name: row for row in models.layer_stats(model)}
    assert (
        models.count_weights(model)
        == 61_470
        == 5 * 5 * 1 * 6 + 5 * 5 * 6 * 16 + 400 * 120 + 120 * 84 + 84 * 10
    )
    assert stats["c5"].weights == 48_000
    assert round(100 * stats["c5"].weights / models.count_weights(model)) == 78
    assert model.count_params() == 61_470 + 6 + 16 + 120 + 84 + 10
    assert [stats[n].output_shape for n in ("c1", "s2", "c3", "s4", "flatten")] == [
        (28, 28, 6),
        (14, 14, 6),
        (10, 10, 16),
        (5, 5, 16),
        (400,),
    ]
    assert model.output.shape == (None, 10)


@pytest.mark.parametrize("c", [8, 64])
def test_three_3x3_convs_cost_27c2_one_7x7_costs_49c2(c):
    three = [layers.Conv2D(c, 3, padding="same", use_bias=False) for _ in range(3)]
    one = layers.Conv2D(c, 7, padding="same", use_bias=False)
    assert _conv_weights(*three, channels=c) == 27 * c * c
    assert _conv_weights(one, channels=c) == 49 * c * c


def test_1xn_plus_nx1_is_a_third_cheaper_than_nxn_for_n3():
    c = 32
    factorized = _conv_weights(
        layers.Conv2D(c, (1, 3), padding="same", use_bias=False),
        layers.Conv2D(c, (3, 1), padding="same", use_bias=False),
        channels=c,
    )
    full = _conv_weights(layers.Conv2D(c, 3, padding="same", use_bias=False), channels=c)
    assert (factorized, full) == (6 * c * c, 9 * c * c)
    assert math.isclose(1 - factorized / full, 1 / 3)


@pytest.fixture(scope="module")
def resnet50() -> keras.Model:
    return keras.applications.ResNet50(weights=None)


def test_vgg16_parameters_and_macs_against_its_table():
    vgg16 = keras.applications.VGG16(weights=None)
    assert vgg16.count_params() == 138_357_544
    # By hand from the VGG table: (feature map side, C_in, C_out) of the 13 convolutions.
    convs = [
        (224, 3, 64),
        (224, 64, 64),
        (112, 64, 128),
        (112, 128, 128),
        (56, 128, 256),
        (56, 256, 256),
        (56, 256, 256),
        (28, 256, 512),
        (28, 512, 512),
        (28, 512, 512),
        (14, 512, 512),
        (14, 512, 512),
        (14, 512, 512),
    ]
    hand = (
        sum(s * s * 9 * cin * cout for s, cin, cout in convs)
        + 7 * 7 * 512 * 4096
        + 4096 * 4096
        + 4096 * 1000
    )
    assert models.count_macs(vgg16) == hand
    # Our vgg_block stack reproduces the convolutional part exactly.
    x = inputs = keras.Input((224, 224, 3))
    for filters, n in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        x = models.vgg_block(x, filters, n)
    base = keras.Model(inputs, x)
    assert base.count_params() == _prefix_params(vgg16, "block") == 14_714_688
    assert x.shape == (None, 7, 7, 512)


def test_resnet50_parameters_and_macs(resnet50):
    assert resnet50.count_params() == 25_636_712
    assert (
        3.8e9 < models.count_macs(resnet50) < 3.9e9
    )  # the paper's table: 3.8 x 10^9 multiply-adds


@pytest.mark.parametrize(
    "shape, filters, stride, prefix",
    [
        ((56, 56, 64), 64, 1, "conv2_block1_"),
        ((56, 56, 256), 64, 1, "conv2_block2_"),
        ((56, 56, 256), 128, 2, "conv3_block1_"),
    ],
)
def test_bottleneck_block_matches_resnet50(resnet50, shape, filters, stride, prefix):
    x = keras.Input(shape)
    y = models.bottleneck_block(x, filters, stride, use_bias=True)
    assert keras.Model(x, y).count_params() == _prefix_params(resnet50, prefix)
    assert y.shape == resnet50.get_layer(prefix + "out").output.shape


# ------------------------------------------------------------------------- the MAC counter


def test_count_macs_by_hand_on_a_small_net():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3)(inputs)  # (6, 6, 4): 6*6 * 3*3*3 * 4 = 3,888
    x = layers.DepthwiseConv2D(3, padding="same")(x)  # (6, 6, 4): 6*6 * 3*3 * 4 = 1,296
    x = layers.Conv2D(6, 1, strides=2)(x)  # (3, 3, 6): 3*3 * 4 * 6 = 216
    x = layers.MaxPooling2D()(x)  # (1, 1, 6): not counted
    x = layers.Conv2D(6, 1, groups=3)(x)  # 1 * (6 / 3) * 6 = 12
    x = layers.Dense(5)(x)  # Dense on (1, 1, 6): 1 * 6 * 5 = 30
    x = layers.Flatten()(x)
    outputs = layers.Dense(7)(x)  # 5 * 7 = 35
    model = keras.Model(inputs, outputs)
    assert models.count_macs(model) == 3_888 + 1_296 + 216 + 12 + 30 + 35
    assert models.count_weights(model) == 108 + 36 + 24 + 12 + 30 + 35


def test_count_macs_separable_transposed_and_nested():
    inner = keras.Sequential(
        [keras.Input((4, 4, 2)), layers.Conv2DTranspose(3, 2, strides=2)], name="inner"
    )
    inputs = keras.Input((4, 4, 2))
    x = inner(inputs)  # every one of the 4*4 input positions scatters 2*2*2*3 weights: 384
    x = layers.SeparableConv2D(5, 3, padding="same")(x)  # 8*8 * (3*3*3 + 3*5) = 2,688
    model = keras.Model(inputs, x)
    assert models.count_macs(model) == 384 + 2_688
    assert [row.name for row in models.layer_stats(model)][0].startswith("inner/")


def test_alexnet_reproduces_the_slide_table():
    stats = {row.name: row for row in models.layer_stats(models.alexnet_like())}
    assert (stats["conv1"].weights, stats["conv1"].macs) == (
        11 * 11 * 3 * 96,
        54 * 54 * 11 * 11 * 3 * 96,
    )
    assert (stats["conv2"].weights, stats["conv2"].macs) == (614_400, 26 * 26 * 614_400)
    assert stats["fc6"].weights == 5 * 5 * 256 * 4096
    assert stats["pool5"].output_shape == (5, 5, 256)


def test_lenet_macs_by_hand():
    assert (
        models.count_macs(models.lenet5()) == 28 * 28 * 150 + 10 * 10 * 2400 + 48_000 + 10_080 + 840
    )


# --------------------------------------------------------------------------------- blocks


def test_block_output_shapes():
    x = keras.Input((32, 32, 16))
    assert models.vgg_block(x, 32, 3).shape == (None, 16, 16, 32)
    assert models.nin_block(x, 24, 5, strides=2).shape == (None, 16, 16, 24)
    assert models.bottleneck_block(x, 8, stride=2).shape == (None, 16, 16, 32)
    assert models.bottleneck_block(x, 8, expansion=2).shape == (None, 32, 32, 16)
    assert models.dense_block(x, 4, 12).shape == (None, 32, 32, 16 + 4 * 12)
    assert models.convnext_block(x, 16).shape == (None, 32, 32, 16)
    assert models.patch_embedding(x, 8, 64).shape == (None, 16, 64)
    with pytest.raises(ValueError, match="channels"):
        models.convnext_block(x, 32)
    with pytest.raises(ValueError, match="multiple"):
        models.patch_embedding(x, 5, 8)


def test_inception_3a_channels_and_macs():
    x = keras.Input((28, 28, 192))
    y = models.inception_block(x, 64, 96, 128, 16, 32, 32)
    assert y.shape == (None, 28, 28, 256)
    weights = 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32 + 192 * 32
    assert (
        models.count_macs(keras.Model(x, y)) == 28 * 28 * weights == 128_049_152
    )  # GoogLeNet table: 128M
    yf = models.inception_block(x, 64, 96, 128, 16, 32, 32, factorize=True)
    assert yf.shape == (None, 28, 28, 256)
    # 96 -> 128 by 3x3 becomes 96 -> 128 by 1x3 then 128 -> 128 by 3x1; the same for 16 -> 32
    # by 5x5.
    factorized = (
        weights
        - 9 * 96 * 128
        + 3 * 96 * 128
        + 3 * 128 * 128
        - 25 * 16 * 32
        + 5 * 16 * 32
        + 5 * 32 * 32
    )
    assert models.count_weights(keras.Model(x, yf)) == factorized


def test_dense_and_convnext_blocks_parameters_by_hand():
    x = keras.Input((56, 56, 64))
    dense = keras.Model(x, models.dense_block(x, 6, 32))
    channels = [
        64 + 32 * i for i in range(6)
    ]  # DenseNet-121's first block, BN has 4 params per channel
    assert (
        dense.count_params()
        == sum(4 * c + c * 128 + 4 * 128 + 9 * 128 * 32 for c in channels)
        == 338_304
    )
    y = keras.Input((56, 56, 96))
    block = keras.Model(y, models.convnext_block(y, 96))  # ConvNeXt-T stage 1 block
    assert (
        block.count_params()
        == (49 * 96 + 96) + 2 * 96 + (96 * 384 + 384) + (384 * 96 + 96) + 96
        == 79_296
    )
    assert models.count_macs(block) == 56 * 56 * (49 * 96 + 2 * 96 * 384)


def test_patch_embedding_is_a_linear_map_of_each_flattened_patch():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(2, 8, 12, 3)).astype("float32")
    x = keras.Input((8, 12, 3))
    model = keras.Model(x, models.patch_embedding(x, 4, 5, position=False))
    kernel, bias = model.layers[1].get_weights()  # (4, 4, 3, 5), (5,)
    patches = (
        images.reshape(2, 2, 4, 3, 4, 3).transpose(0, 1, 3, 2, 4, 5).reshape(2, 6, 48)
    )  # row by row
    expected = patches @ kernel.reshape(48, 5) + bias
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-5)


def _basic_block(x, filters, stride):
    """ResNet's basic block, written here: the library has none (it is lab 09's exercise)."""
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.ReLU()(layers.BatchNormalization()(y))
    y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(y))
    if stride != 1 or x.shape[-1] != filters:
        x = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
    return layers.ReLU()(layers.Add()([y, x]))


def test_small_resnet_and_plainnet_have_the_same_depth():
    res, plain = models.small_resnet(20, _basic_block, width=8), models.small_plainnet(20, width=8)

    def is_projection(layer):
        return isinstance(layer, layers.Conv2D) and layer.kernel_size == (1, 1)

    def weighted(model):
        kinds = (layers.Conv2D, layers.Dense)
        return [l for l in model.layers if isinstance(l, kinds) and not is_projection(l)]

    assert len(weighted(res)) == len(weighted(plain)) == 20
    projections = [l for l in res.layers if is_projection(l)]
    projection_bns = 4 * (16 + 32)  # the BatchNorms after the two projections: 4 per channel
    assert len(projections) == 2
    assert (
        res.count_params() - plain.count_params()
        == sum(l.count_params() for l in projections) + projection_bns
    )
    assert not any(isinstance(l, layers.Add) for l in plain.layers)
    assert sum(isinstance(l, layers.Add) for l in res.layers) == 9
    assert res.output.shape == plain.output.shape == (None, 10)
    assert (res.name, plain.name) == ("resnet20", "plain20")
    with pytest.raises(ValueError, match="6n"):
        models.small_resnet(21, _basic_block)


def test_small_nets_use_short_run_batchnorm_momentum_whatever_the_block():
    """The block uses Keras's default momentum 0.99; the network sets every BatchNorm to 0.9."""
    res, plain = models.small_resnet(8, _basic_block, width=4), models.small_plainnet(8, width=4)
    for model in (res, plain):
        bns = [l for l in model.layers if isinstance(l, layers.BatchNormalization)]
        assert bns and all(l.momentum == 0.9 for l in bns)
    # the moving mean after one training step follows momentum 0.9: 0.9 * 0 + 0.1 * batch mean
    x = np.random.default_rng(0).normal(3.0, 1.0, size=(4, 32, 32, 3)).astype("float32")
    stem_bn = res.get_layer("stem_bn")
    features = keras.Model(res.input, res.get_layer("stem_conv").output)(x)
    res(x, training=True)
    np.testing.assert_allclose(
        stem_bn.moving_mean.numpy(), 0.1 * np.mean(features, axis=(0, 1, 2)), rtol=1e-4, atol=1e-6
    )


def test_no_residual_block_in_the_library():
    """Lab 09's my_residual_block is an exercise: no public or private basic block here."""
    names = {n.lower() for n in vars(models)}
    assert not {n for n in names if "residual" in n or "basic_block" in n}


# ------------------------------------------------------------------ segmentation (lab 13)


def test_unet_shapes_skips_and_parameters_by_hand():
    model = models.unet((16, 16, 3), 2, filters=(4, 8), batch_norm=False)
    conv = lambda k, c_in, c_out: k * k * c_in * c_out + c_out  # noqa: E731 (weights + biases)
    expected = (
        conv(3, 3, 4)
        + conv(3, 4, 4)  # enc1 at 16x16
        + conv(3, 4, 8)
        + conv(3, 8, 8)  # bottleneck at 8x8
        + conv(2, 8, 4)  # up1: 2x2 transposed convolution, stride 2
        + conv(3, 8, 4)
        + conv(3, 4, 4)  # dec1 on the concatenation (4 + 4 channels)
        + conv(1, 4, 2)
    )  # head
    assert model.count_params() == expected == 1722
    assert model.get_layer("concat1").output.shape == (None, 16, 16, 8)
    assert model.get_layer("up1").output.shape == (None, 16, 16, 4)
    probs = model.predict(np.random.default_rng(0).random((2, 16, 16, 3)), verbose=0)
    assert probs.shape == (2, 16, 16, 2)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=0, atol=1e-5)  # softmax per pixel


def test_unet_default_depth_and_divisibility():
    model = models.unet((64, 64, 3), 4)  # filters (16, 32, 64, 128): 3 poolings, 3 up-convolutions
    ups = [layer for layer in model.layers if isinstance(layer, layers.Conv2DTranspose)]
    concats = [layer for layer in model.layers if isinstance(layer, layers.Concatenate)]
    assert len(ups) == len(concats) == 3 and model.output.shape == (None, 64, 64, 4)
    assert model.get_layer("bottleneck_conv2").output.shape == (None, 8, 8, 128)
    with pytest.raises(ValueError, match="multiples of 8"):
        models.unet((60, 64, 3), 4)


def test_fcn_with_and_without_skips():
    coarse = models.fcn((32, 32, 3), 3, filters=(4, 8), skips=False, batch_norm=False)
    ups = [layer for layer in coarse.layers if isinstance(layer, layers.Conv2DTranspose)]
    assert len(ups) == 1 and ups[0].strides == (4, 4) and ups[0].kernel_size == (8, 8)
    assert coarse.output.shape == (None, 32, 32, 3)
    assert not any(isinstance(layer, layers.Add) for layer in coarse.layers)
    conv = lambda k, c_in, c_out: k * k * c_in * c_out + c_out  # noqa: E731
    encoder = conv(3, 3, 4) + conv(3, 4, 4) + conv(3, 4, 8) + conv(3, 8, 8)
    assert coarse.count_params() == encoder + conv(1, 8, 3) + conv(8, 3, 3)
    fused = models.fcn((32, 32, 3), 3, filters=(4, 8), skips=True, batch_norm=False)
    assert [layer.name for layer in fused.layers if isinstance(layer, layers.Add)] == ["fuse1"]
    assert fused.count_params() == encoder + conv(1, 8, 3) + 2 * conv(4, 3, 3) + conv(1, 4, 3)
    probs = fused.predict(np.zeros((1, 32, 32, 3)), verbose=0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="multiples of 4"):
        models.fcn((30, 32, 3), 3, filters=(4, 8))


# ------------------------------------------------------------------------ detection (lab 12)

# The slides' DarkNet-19 table: (filters, kernel, output side at 224) of every convolution.
_DARKNET19_TABLE = [
    (32, 3, 224),
    (64, 3, 112),
    (128, 3, 56),
    (64, 1, 56),
    (128, 3, 56),
    (256, 3, 28),
    (128, 1, 28),
    (256, 3, 28),
    (512, 3, 14),
    (256, 1, 14),
    (512, 3, 14),
    (256, 1, 14),
    (512, 3, 14),
    (1024, 3, 7),
    (512, 1, 7),
    (1024, 3, 7),
    (512, 1, 7),
    (1024, 3, 7),
    (1000, 1, 7),
]


def _darknet19_by_hand(side: int) -> tuple[int, int]:
    """(weights, MACs) of DarkNet-19's convolutions at ``side x side``, from the table alone."""
    weights = macs = 0
    c_in = 3
    for filters, k, out224 in _DARKNET19_TABLE:
        out = side * out224 // 224
        weights += k * k * c_in * filters
        macs += out * out * k * k * c_in * filters
        c_in = filters
    return weights, macs


def test_darknet19_matches_the_slide_table():
    model = models.darknet19()
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    assert [(c.filters, c.kernel_size[0], c.output.shape[1]) for c in convs] == _DARKNET19_TABLE
    assert [c.name for c in convs] == [f"conv{i}" for i in range(1, 20)]
    assert sum(isinstance(layer, layers.MaxPooling2D) for layer in model.layers) == 5
    assert all(not c.use_bias for c in convs[:-1]) and convs[-1].use_bias
    weights, macs = _darknet19_by_hand(224)
    assert models.count_weights(model) == weights == 20_826_976
    assert models.count_macs(model) == macs == 2_790_989_824  # the lab's "2.79 G multiply-adds"
    assert model.output.shape == (None, 1000)


def test_darknet19_at_256_is_the_slides_7_29_bn_ops():
    model = models.darknet19((256, 256, 3))
    assert models.count_macs(model) == _darknet19_by_hand(256)[1]
    assert round(2 * models.count_macs(model) / 1e9, 2) == 7.29  # two operations per multiply-add


def test_tiny_grid_detector_shapes_and_parameters():
    model = models.tiny_grid_detector((64, 64, 3), 3, width=4, stride=8)
    assert model.output.shape == (None, 8, 8, 8)  # 8x8 grid, 1 + 4 + 3 numbers per cell
    conv = lambda k, c_in, c_out: k * k * c_in * c_out  # noqa: E731 (no bias before BatchNorm)
    bn = lambda c: 4 * c  # noqa: E731 (gamma, beta, moving mean, moving variance)
    stages = [(3, 4), (4, 4), (4, 8), (8, 8), (8, 16), (16, 16), (16, 32), (32, 32)]
    expected = sum(conv(3, a, b) + bn(b) for a, b in stages) + 32 * 8 + 8  # head: 1x1 + bias
    assert model.count_params() == expected
    x = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3)).astype("float32")
    assert model.predict(x, verbose=0).shape == (2, 8, 8, 8)
    small = models.tiny_grid_detector((32, 32, 3), 2, width=4, stride=4)
    assert small.output.shape == (None, 8, 8, 7)
    with pytest.raises(ValueError, match="power of two"):
        models.tiny_grid_detector((64, 64, 3), 3, stride=6)
    with pytest.raises(ValueError, match="multiples of 8"):
        models.tiny_grid_detector((60, 64, 3), 3, stride=8)


def test_small_backbone_layers_parameters_and_macs():
    model = models.small_backbone()
    pairs = [(3, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128)]  # (C_in, C_out)
    conv = [3 * 3 * a * b for a, b in pairs]
    bn = 4 * 2 * (32 + 64 + 128)  # gamma, beta, moving mean, moving variance per channel
    assert model.count_params() == sum(conv) + bn == 288_352
    assert model.output.shape == (None, 128)
    names = [layer.name for layer in model.layers]
    assert names[1:4] == ["block1_conv1", "block1_bn1", "block1_relu1"]
    assert "block2_pool" in names and "block3_pool" not in names and names[-1] == "features"
    sizes = [32, 32, 16, 16, 8, 8]  # output side of each convolution
    assert models.count_macs(model) == sum(c * s * s for c, s in zip(conv, sizes)) == 38_633_472
    small = models.small_backbone((16, 16, 3), (8, 16))
    assert small.output.shape == (None, 16) and small.count_params() == (
        9 * (3 * 8 + 8 * 8 + 8 * 16 + 16 * 16) + 4 * 2 * (8 + 16)
    )
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    assert model.predict(x, verbose=0).shape == (2, 128)

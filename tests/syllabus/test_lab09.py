"""Lab 09 (famous architectures): the numbers the lab reproduces, against Keras layers.

Parameter counts are Keras's ``count_params()``; MACs are output positions times kernel
entries read off the built Keras layer (no lablib counter: ``conv_macs`` is the lab's
exercise); the residual block is written here from the paper (it is the lab's exercise,
so lablib has none). Counts are compared exactly; the identity check at atol 1e-6.

The families (``lab_code("09")``: the notebook's own ``vgg_from_config``, ``vgg_config_params``,
``imagenet_resnet``, ``my_residual_block``, ``usual_params``): VGG A-E against the paper's
Table 2 (millions, rounded) and ``keras.applications.VGG16/VGG19``; ResNet-18 to 152 against
the ResNet paper's Table 1 "FLOPs" (multiply-adds, one decimal: a count passes within 0.1 G,
one unit of that last digit; ours lie within 0.07 G) and ``keras.applications.ResNet50/101/152``
built with ``weights=None``. The slide's AlexNet/LeNet table: LeNet's dense rows and FLOP
column are 10x the Keras counts, and its "Increase 11x" is 77x by its own totals, 768x by Keras.
"""

import math
import os

import numpy as np
import pytest
from labcode import lab_code  # tests/syllabus/conftest.py puts this folder on sys.path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
layers = keras.layers


@pytest.fixture(scope="module")
def lab():
    return lab_code("09")


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


# ------------------------------------------------------------- the AlexNet / LeNet slide table


def dense(units, n_in):
    layer = layers.Dense(units)
    layer(keras.Input((n_in,)))
    return layer


def test_lenet_column_is_ten_times_the_keras_counts_and_increase_is_not_11x():
    # LeNet-5 on 32x32x1, the slide's rows: Conv1, Conv2, Dense1 (C5), Dense2 (F6).
    c1, c3 = conv(6, 5, 1, size=32), conv(16, 5, 6, size=14)
    c5, f6 = dense(120, 400), dense(84, 120)
    assert (c5.count_params(), f6.count_params()) == (48_120, 10_164)  # LeCun et al. 1998
    # the slide: 0.48M and 0.1M parameters, 0.48M and 0.1M FLOP: ten times these
    assert round(0.48e6 / c5.count_params()) == round(0.1e6 / f6.count_params()) == 10
    lenet = [c1, c3, c5, f6]
    lenet_params = sum(layer.count_params() for layer in lenet)
    lenet_macs = macs(c1) + macs(c3) + 400 * 120 + 120 * 84
    assert (lenet_params, lenet_macs) == (60_856, 415_680)
    assert round(1.2e6 / macs(c1)) == round(2.4e6 / macs(c3)) == 10  # the slide's LeNet FLOP
    # AlexNet's rows in one tower: conv1 11x11/4 on 224 -> 54, pools 3x3/2: 54 -> 26 -> 12 -> 5.
    alex = [
        conv(96, 11, 3, size=224, strides=4),
        conv(256, 5, 96, size=26, padding="same"),
        conv(384, 3, 256, size=12, padding="same"),
        conv(384, 3, 384, size=12, padding="same"),
        conv(256, 3, 384, size=12, padding="same"),
    ]
    fcs = [dense(4096, 5 * 5 * 256), dense(4096, 4096)]
    alex_params = sum(layer.count_params() for layer in alex + fcs)
    alex_macs = sum(macs(layer) for layer in alex) + 6400 * 4096 + 4096 * 4096
    assert alex_params == 46_747_008 and round(alex_params / 1e6) == 47  # the slide: 46M
    assert round(alex_params / lenet_params) == 768  # the slide: 11x
    assert round(46e6 / 0.6e6) == 77  # the slide's own totals
    assert round(alex_macs / lenet_macs) == 2420 and round(1e9 / 4e6) == 250


# ------------------------------------------------------------------------------- VGG A to E

# Simonyan & Zisserman, Table 1: kernel sizes per block ("LRN": no parameters); Table 2: millions.
VGG = {
    "A": ([[3], [3], [3, 3], [3, 3], [3, 3]], 133),
    "A-LRN": ([[3, "LRN"], [3], [3, 3], [3, 3], [3, 3]], 133),
    "B": ([[3, 3]] * 5, 133),
    "C": ([[3, 3], [3, 3], [3, 3, 1], [3, 3, 1], [3, 3, 1]], 134),
    "D": ([[3, 3], [3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]], 138),
    "E": ([[3, 3], [3, 3], [3, 3, 3, 3], [3, 3, 3, 3], [3, 3, 3, 3]], 144),
}
VGG_EXACT = {
    "A": 132_863_336,
    "A-LRN": 132_863_336,
    "B": 133_047_848,
    "C": 133_638_952,
    "D": 138_357_544,
    "E": 143_667_240,
}


@pytest.mark.parametrize("config", list(VGG))
def test_vgg_configuration_against_the_paper(lab, config):
    blocks, millions = VGG[config]
    net = lab.vgg_from_config(blocks, initializer="zeros")
    weighted = sum(isinstance(layer, (layers.Conv2D, layers.Dense)) for layer in net.layers)
    assert weighted == {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}[config]
    assert net.count_params() == VGG_EXACT[config] and round(net.count_params() / 1e6) == millions
    assert lab.vgg_config_params(blocks) == net.count_params()  # the exercise, by arithmetic


@pytest.mark.parametrize("config, application", [("D", "VGG16"), ("E", "VGG19")])
def test_vgg_d_and_e_are_keras_applications_vgg16_and_vgg19(config, application):
    reference = getattr(keras.applications, application)(weights=None)
    assert reference.count_params() == VGG_EXACT[config]
    if config == "E":  # the ResNet paper: "VGG-19 (19.6 billion FLOPs)"
        assert round(model_macs(reference) / 1e9, 1) == 19.6


@pytest.mark.parametrize(
    "blocks, widths, size, classes, units, channels",
    [
        ([[3], [3, 1]], (8, 16), 32, 10, 64, 3),
        ([[3, "LRN", 3], [1], [3, 3]], (4, 6, 10), 36, 5, 32, 1),  # 36 -> 18 -> 9 -> 4
    ],
)
def test_vgg_config_params_on_small_configurations(
    lab, blocks, widths, size, classes, units, channels
):
    x = inputs = keras.Input((size, size, channels))
    for filters, block in zip(widths, blocks):
        for kernel in block:
            if kernel != "LRN":
                x = layers.Conv2D(filters, kernel, padding="same")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    for n in (units, units, classes):
        x = layers.Dense(n)(x)
    expected = keras.Model(inputs, x).count_params()
    got = lab.vgg_config_params(blocks, widths, size, classes, units, channels)
    assert got == expected
    net = lab.vgg_from_config(blocks, widths, (size, size, channels), classes, units)
    assert net.count_params() == expected


def test_local_response_norm_is_tensorflows_and_has_no_parameters(lab):
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 8)).astype("float32")
    for kwargs in [{}, dict(alpha=0.3, k=1.0, beta=0.6)]:  # AlexNet's constants, and larger ones
        lrn = lab.LocalResponseNorm(**kwargs)
        ours = keras.ops.convert_to_numpy(lrn(x))
        alpha, k, beta = kwargs.get("alpha", 1e-4), kwargs.get("k", 2.0), kwargs.get("beta", 0.75)
        theirs = tf.nn.local_response_normalization(
            x, depth_radius=2, bias=k, alpha=alpha, beta=beta
        ).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
        assert lrn.count_params() == 0


# ------------------------------------------------------------------------ ResNet-18 to 152

PAPER_GFLOPS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}  # Table 1, multiply-adds


def model_macs(model):
    """Multiply-adds per image of the Conv2D and Dense layers: kernel entries x positions."""
    return sum(
        math.prod(layer.kernel.shape) * math.prod(int(d) for d in layer.output.shape[1:-1])
        for layer in model.layers
        if isinstance(layer, (layers.Conv2D, layers.Dense))
    )


def without_conv_biases(model):
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    return trainable - sum(
        math.prod(layer.bias.shape)
        for layer in model.layers
        if isinstance(layer, layers.Conv2D) and layer.use_bias
    )


@pytest.mark.parametrize(
    "depth, per_stage, params, usual, total_macs",
    [
        (18, (2, 2, 2, 2), 11_699_112, 11_689_512, 1_814_073_344),
        (34, (3, 4, 6, 3), 21_814_696, 21_797_672, 3_663_761_408),
    ],
)
def test_resnet18_and_34_from_the_basic_block(lab, depth, per_stage, params, usual, total_macs):
    """usual: torchvision's documented num_params (11,689,512 and 21,797,672)."""
    net = lab.imagenet_resnet(lab.my_residual_block, per_stage)
    assert (net.count_params(), without_conv_biases(net)) == (params, usual)
    assert lab.usual_params(net) == usual
    assert model_macs(net) == total_macs and abs(total_macs / 1e9 - PAPER_GFLOPS[depth]) < 0.1
    # the three 1x1/2 projection shortcuts: 28*28*64*128 + 14*14*128*256 + 7*7*256*512
    assert lab.projection_macs(net) == 3 * 6_422_528
    assert round((total_macs - 3 * 6_422_528) / 1e9, 1) == PAPER_GFLOPS[depth]  # plain network


@pytest.mark.parametrize(
    "depth, params, usual, total_macs",
    [
        (50, 25_636_712, 25_557_032, 3_857_973_248),
        (101, 44_707_176, 44_549_160, 7_570_194_432),
        (152, 60_419_944, 60_192_808, 11_282_415_616),
    ],
)
def test_keras_applications_resnets_against_the_paper(lab, depth, params, usual, total_macs):
    net = getattr(keras.applications, f"ResNet{depth}")(weights=None)
    assert (net.count_params(), without_conv_biases(net), lab.usual_params(net)) == (
        params,
        usual,
        usual,
    )
    assert model_macs(net) == total_macs and abs(total_macs / 1e9 - PAPER_GFLOPS[depth]) < 0.1


def test_resnet50_v1_5_costs_more_for_the_same_parameters(lab):
    from lablib import architectures

    net = lab.imagenet_resnet(architectures.bottleneck_block, (3, 4, 6, 3))
    assert without_conv_biases(net) == 25_557_032  # = Keras's v1 ResNet50 without conv biases
    assert model_macs(net) == 4_089_184_256  # lab 11's v1.5 figure (the slide's 4.1 G)

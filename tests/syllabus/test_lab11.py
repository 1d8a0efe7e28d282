"""Lab 11 (transfer learning): the slides' backbone figures, computed from Keras's own models.

References: ``keras.applications`` models built with ``weights=None`` (no download),
``count_params()``, and multiply-adds counted here from each Conv2D/Dense layer's kernel shape
and output size (no lablib counter involved). The slide (seed 003, a survey's table) gives
ResNet50 as 25.6M parameters and 4.1 GFLOPs (multiply-adds, of ResNet50 v1.5) and ResNet152 as
60.2M; the comparison is at the slide's precision (one decimal, in millions / billions), and
exact where the lab prints exact counts.
"""

import math

import keras
import pytest
from keras import layers


def macs(model):
    """Multiply-adds per image: kernel entries times output positions, Conv2D and Dense."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            positions = math.prod(int(d) for d in layer.output.shape[1:-1])
            total += math.prod(layer.kernel.shape) * positions
    return total


def conv_biases(model):
    return sum(math.prod(layer.bias.shape) for layer in model.layers
               if isinstance(layer, layers.Conv2D) and layer.use_bias)


def trainable(model):
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def resnet50_v1_5():
    """torchvision's ResNet50 (v1.5: stride on the 3x3 conv, no conv biases), plain Keras layers."""
    inputs = keras.Input((224, 224, 3))
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for stage, (filters, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
        for b in range(blocks):
            stride = 2 if b == 0 and stage else 1
            y = x
            convs = ((filters, 1, 1), (filters, 3, stride), (4 * filters, 1, 1))
            for channels, kernel, step in convs:
                y = layers.Conv2D(channels, kernel, strides=step, padding="same", use_bias=False)(y)
                y = layers.BatchNormalization()(y)
                if channels == filters:
                    y = layers.ReLU()(y)
            if b == 0:
                x = layers.Conv2D(4 * filters, 1, strides=stride, use_bias=False)(x)
                x = layers.BatchNormalization()(x)
            x = layers.ReLU()(layers.Add()([y, x]))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(1000)(x))


@pytest.fixture(scope="module")
def resnet50():
    return keras.applications.ResNet50(weights=None)


def test_resnet50_has_the_slides_25_6_million_parameters(resnet50):
    assert resnet50.count_params() == 25_636_712
    assert round(resnet50.count_params() / 1e6, 1) == 25.6
    torch_style = trainable(resnet50) - conv_biases(resnet50)  # no conv biases, no BN statistics
    assert torch_style == 25_557_032 and round(torch_style / 1e6, 1) == 25.6


def test_resnet50_v1_5_costs_the_slides_4_1_giga_multiply_adds(resnet50):
    """The slide's 4.1 G is ResNet50 v1.5; keras.applications builds v1 (3.86 G, the paper's
    "3.8 x 10^9"): the stride on the first 1x1 conv instead of the 3x3 one."""
    assert tuple(resnet50.input_shape) == (None, 224, 224, 3)
    assert round(macs(resnet50) / 1e9, 2) == 3.86
    v15 = resnet50_v1_5()
    assert v15.count_params() == resnet50.count_params() - conv_biases(resnet50)
    assert macs(v15) == 4_089_184_256 and round(macs(v15) / 1e9, 1) == 4.1


def test_resnet152_without_conv_biases_and_bn_statistics_is_the_slides_60_2_million():
    """Keras's ResNets give each convolution a bias (redundant before BatchNorm) and count
    BatchNorm's moving statistics; torchvision's count has neither: 60.4M vs the slide's 60.2M."""
    model = keras.applications.ResNet152(weights=None)
    assert round(model.count_params() / 1e6, 1) == 60.4
    assert round((trainable(model) - conv_biases(model)) / 1e6, 1) == 60.2


def test_the_labs_own_backbone():
    from lablib import architectures

    model = architectures.small_backbone()
    conv = 3 * 3 * (3 * 32 + 32 * 32 + 32 * 64 + 64 * 64 + 64 * 128 + 128 * 128)
    assert conv == 286_560
    assert model.count_params() == conv + 4 * 2 * (32 + 64 + 128) == 288_352
    assert macs(model) == 38_633_472

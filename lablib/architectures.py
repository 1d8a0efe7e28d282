"""Model builders for the famous CNN architectures, and counters for their cost.

Lab 09 (famous architectures) and later labs build networks from these pieces:

* whole models, uncompiled: :func:`lenet5`, :func:`alexnet_like`, and the CIFAR-style
  pair :func:`small_resnet` / :func:`small_plainnet` (same depth, with and without
  shortcuts) for the degradation experiment; :func:`small_resnet` is built from a residual
  block that the caller passes in (lab 09's students write it: ResNet's basic block is an
  exercise, so it is not in this module);
* blocks, functions ``(x, ...) -> y`` on Keras tensors of shape ``(batch, H, W, C)``:
  :func:`vgg_block`, :func:`nin_block`, :func:`inception_block`, :func:`bottleneck_block`,
  :func:`dense_block`, :func:`convnext_block`, and the ViT :func:`patch_embedding`
  (``(batch, H, W, C) -> (batch, num_patches, dim)``);
* counters: :func:`count_macs` (multiply-accumulates of the Conv/Dense layers, from their
  output shapes and kernels; "FLOPs" in most papers means this number, a strict FLOP
  count is about twice it), :func:`count_weights` (trainable parameters without biases)
  and :func:`layer_stats` / :func:`stats_table` (a per-layer breakdown).

Example:
    >>> model = lenet5()
    >>> count_weights(model), count_macs(model)   # LeNet-5: 61,470 weights without biases
    (61470, 416520)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import keras
from keras import layers

__all__ = [
    "lenet5",
    "alexnet_like",
    "vgg_block",
    "nin_block",
    "inception_block",
    "bottleneck_block",
    "dense_block",
    "convnext_block",
    "patch_embedding",
    "small_resnet",
    "small_plainnet",
    "count_macs",
    "count_weights",
    "layer_stats",
    "stats_table",
]


def _name(prefix: str | None, suffix: str) -> str | None:
    """Layer name ``prefix_suffix``, or None (Keras picks a unique name) without a prefix."""
    return f"{prefix}_{suffix}" if prefix else None


# ---------------------------------------------------------------------------- whole models


def lenet5(
    input_shape: tuple[int, int, int] = (32, 32, 1),
    num_classes: int = 10,
    *,
    activation: str = "relu",
    pooling: str = "max",
) -> keras.Model:
    """LeNet-5 (LeCun et al., 1998) as in the course slides.

    C1: 6 filters 5x5 -> S2: 2x2 pooling -> C3: 16 filters 5x5 -> S4: 2x2 pooling ->
    C5: 120 units (a Dense layer on the flattened 5x5x16 = 400 values, the same weights as a
    5x5 convolution) -> F6: 84 units -> output. With a 32x32x1 input it has 61,470 weights
    without biases, 48,000 of them (78%) in C5.

    Args:
        input_shape: ``(H, W, C)``; the classic input is ``(32, 32, 1)``.
        num_classes: units of the softmax output.
        activation: ``"relu"`` (the slides) or ``"tanh"`` (the 1998 paper).
        pooling: ``"max"`` (the slides) or ``"avg"`` (the paper's subsampling).

    Returns:
        An uncompiled ``keras.Model`` named ``lenet5``, layers named c1, s2, c3, s4,
        flatten, c5, f6, output; output ``(batch, num_classes)`` probabilities.
    """
    if pooling not in ("max", "avg"):
        raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
    pool = layers.MaxPooling2D if pooling == "max" else layers.AveragePooling2D
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(6, 5, activation=activation, name="c1")(inputs)  # (28, 28, 6)
    x = pool(2, name="s2")(x)  # (14, 14, 6)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)  # (10, 10, 16)
    x = pool(2, name="s4")(x)  # (5, 5, 16)
    x = layers.Flatten(name="flatten")(x)  # (400,)
    x = layers.Dense(120, activation=activation, name="c5")(x)
    x = layers.Dense(84, activation=activation, name="f6")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="lenet5")


def alexnet_like(
    input_shape: tuple[int, int, int] = (224, 224, 3),
    num_classes: int = 1000,
    *,
    filters: tuple[int, int, int, int, int] = (96, 256, 384, 384, 256),
    first_kernel: int = 11,
    first_stride: int = 4,
    dense_units: int = 4096,
    dropout: float = 0.5,
) -> keras.Model:
    """AlexNet (Krizhevsky et al., 2012) in one tower, scalable down to small images.

    conv1 ``first_kernel`` x ``first_kernel``, stride ``first_stride``, valid -> 3x3/2 max
    pool -> conv2 5x5 -> pool -> conv3, conv4, conv5 3x3 -> pool -> two Dense layers of
    ``dense_units`` with dropout -> softmax. ReLU everywhere. The defaults at 224x224x3 give
    the slide's AlexNet figures (conv1 34,848 weights and 101.6M multiply-adds; the
    last feature map is 5x5x256, so the first Dense layer holds 6,400 x 4,096 = 26.2M).

    Args:
        input_shape: ``(H, W, C)``.
        num_classes: units of the softmax output.
        filters: the five convolutions' filter counts (96, 256, 384, 384, 256 in AlexNet).
        first_kernel, first_stride: conv1's kernel size and stride (3 and 1 suit 32x32).
        dense_units: width of the two hidden Dense layers.
        dropout: dropout rate after each hidden Dense layer.

    Returns:
        An uncompiled ``keras.Model`` named ``alexnet_like``, output ``(batch, num_classes)``.
    """
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(
        filters[0], first_kernel, strides=first_stride, activation="relu", name="conv1"
    )(inputs)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)  # overlapping pooling
    x = layers.Conv2D(filters[1], 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    for i, f in enumerate(filters[2:], start=3):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    x = layers.Flatten(name="flatten")(x)
    for i in (6, 7):
        x = layers.Dense(dense_units, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(dropout, name=f"dropout{i}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc8")(x)
    return keras.Model(inputs, outputs, name="alexnet_like")


# BatchNorm's moving statistics with PyTorch's default momentum (0.1 there, 0.9 in Keras terms):
# Keras's 0.99 needs several hundred steps before evaluation-mode outputs make sense, more than
# the short CPU trainings of the labs give it.
_SHORT_RUN_MOMENTUM = 0.9


Block = Callable[[Any, int, int], Any]  # (x, filters, stride) -> y, on Keras tensors


def _plain_block(x: Any, filters: int, stride: int, *, name: str | None = None) -> Any:
    """Two 3x3 conv + BN + ReLU, no shortcut: the block of :func:`small_plainnet`."""
    for i, step in ((1, stride), (2, 1)):
        x = layers.Conv2D(
            filters, 3, strides=step, padding="same", use_bias=False, name=_name(name, f"{i}_conv")
        )(x)
        x = layers.BatchNormalization(name=_name(name, f"{i}_bn"))(x)
        x = layers.ReLU(name=_name(name, "1_relu" if i == 1 else "out"))(x)
    return x


def _all_layers(model: keras.Model) -> list[layers.Layer]:
    """The layers of ``model``, those of nested models included."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found += _all_layers(layer)
    return found


def _cifar_net(
    depth: int,
    block: Block,
    input_shape: tuple[int, int, int],
    num_classes: int,
    width: int,
    name: str,
) -> keras.Model:
    """The CIFAR networks of He et al. (2016), section 4.2: 6n + 2 weighted layers."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 26, 32, 44, 56, ...), got {depth}"
        )
    n = (depth - 2) // 6
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for stage in range(3):  # feature maps 32 -> 16 -> 8, channels width -> 2 width -> 4 width
        for i in range(n):
            x = block(x, width * 2**stage, 2 if stage > 0 and i == 0 else 1)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    model = keras.Model(inputs, outputs, name=name)
    for layer in _all_layers(model):  # whatever momentum the block chose
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = _SHORT_RUN_MOMENTUM
    return model


def small_resnet(
    depth: int,
    block: Block,
    *,
    input_shape: tuple[int, int, int] = (32, 32, 3),
    num_classes: int = 10,
    width: int = 16,
) -> keras.Model:
    """A CIFAR-style ResNet: a 3x3 stem, 3 stages of residual blocks, GAP, softmax.

    Args:
        depth: weighted layers, ``6n + 2`` (20 is ResNet-20): 1 stem conv, ``3n`` blocks of
            2 convs, 1 Dense. The 1x1 projections on the shortcuts are not counted.
        block: the residual block, called as ``block(x, filters, stride)`` on a Keras tensor
            ``(batch, H, W, C)`` and returning ``(batch, ceil(H / stride), ceil(W / stride),
            filters)``; lab 09 passes the student's ``my_residual_block``. The first block of
            stages 2 and 3 gets stride 2 and twice the channels.
        input_shape: ``(H, W, C)``.
        num_classes: units of the softmax output.
        width: channels of the first stage (doubled at each of the next two stages).

    Every BatchNorm layer of the network (the block's too) gets momentum 0.9 (PyTorch's
    default) so that its moving statistics, which evaluation uses, settle within a few
    epochs of a small dataset.

    Returns:
        An uncompiled ``keras.Model`` named ``resnet{depth}``; :func:`small_plainnet` with the
        same arguments has the same convolutions without the shortcuts.
    """
    return _cifar_net(depth, block, input_shape, num_classes, width, f"resnet{depth}")


def small_plainnet(
    depth: int = 20,
    *,
    input_shape: tuple[int, int, int] = (32, 32, 3),
    num_classes: int = 10,
    width: int = 16,
) -> keras.Model:
    """The "plain" twin of :func:`small_resnet`: the same convolutions, no shortcuts.

    Each block is conv 3x3 (stride) -> BN -> ReLU -> conv 3x3 -> BN -> ReLU. Args and
    returns as :func:`small_resnet` (without ``block``); the model is named ``plain{depth}``.
    With ResNet's basic block in :func:`small_resnet` the two differ by exactly the two 1x1
    projection shortcuts (and their BatchNorms).
    """
    return _cifar_net(depth, _plain_block, input_shape, num_classes, width, f"plain{depth}")


# ---------------------------------------------------------------------------------- blocks


def vgg_block(x: Any, filters: int, n_convs: int, *, name: str | None = None) -> Any:
    """VGG block: ``n_convs`` 3x3 convolutions (same padding, ReLU), then 2x2 max pooling.

    Args:
        x: ``(batch, H, W, C)``.
        filters: output channels of every convolution.
        n_convs: number of convolutions (2 or 3 in VGG16).
        name: prefix for the layer names (``{name}_conv1``, ..., ``{name}_pool``).

    Returns:
        ``(batch, H // 2, W // 2, filters)``. Receptive field of the convolutions: ``2 n + 1``.
    """
    for i in range(1, n_convs + 1):
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=_name(name, f"conv{i}")
        )(x)
    return layers.MaxPooling2D(2, strides=2, name=_name(name, "pool"))(x)


def nin_block(
    x: Any,
    filters: int,
    kernel_size: int,
    *,
    strides: int = 1,
    padding: str = "same",
    name: str | None = None,
) -> Any:
    """Network-in-Network block: a k x k convolution then two 1x1 convolutions, all ReLU.

    The 1x1 convolutions are a small MLP applied at every pixel across the channels.

    Args:
        x: ``(batch, H, W, C)``.
        filters: output channels of all three convolutions.
        kernel_size, strides, padding: of the first convolution.
        name: prefix for the layer names.

    Returns:
        ``(batch, H', W', filters)`` with ``H'`` set by the first convolution.
    """
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        activation="relu",
        name=_name(name, "conv"),
    )(x)
    x = layers.Conv2D(filters, 1, activation="relu", name=_name(name, "mlp1"))(x)
    return layers.Conv2D(filters, 1, activation="relu", name=_name(name, "mlp2"))(x)


def _spatial_conv(x: Any, filters: int, k: int, factorize: bool, name: str | None) -> Any:
    """A k x k ReLU convolution, or with ``factorize`` a 1 x k followed by a k x 1."""
    if not factorize:
        return layers.Conv2D(
            filters, k, padding="same", activation="relu", name=_name(name, f"{k}x{k}")
        )(x)
    x = layers.Conv2D(
        filters, (1, k), padding="same", activation="relu", name=_name(name, f"1x{k}")
    )(x)
    return layers.Conv2D(
        filters, (k, 1), padding="same", activation="relu", name=_name(name, f"{k}x1")
    )(x)


def inception_block(
    x: Any,
    f1: int,
    f3_reduce: int,
    f3: int,
    f5_reduce: int,
    f5: int,
    pool_proj: int,
    *,
    factorize: bool = False,
    name: str | None = None,
) -> Any:
    """GoogLeNet's Inception module with dimension reductions: four parallel branches.

    Branches (all ReLU, same padding): 1x1 (``f1``); 1x1 (``f3_reduce``) -> 3x3 (``f3``);
    1x1 (``f5_reduce``) -> 5x5 (``f5``); 3x3 max pool (stride 1) -> 1x1 (``pool_proj``).
    The outputs are concatenated along the channels. The argument order is the GoogLeNet
    paper's table: inception (3a) is ``(64, 96, 128, 16, 32, 32)`` on a 28x28x192 input.

    Args:
        x: ``(batch, H, W, C)``.
        f1, f3_reduce, f3, f5_reduce, f5, pool_proj: filters of each convolution.
        factorize: replace every n x n convolution by a 1 x n then an n x 1 (Inception v3);
            for C -> C channels that is ``2 n C^2`` weights instead of ``n^2 C^2``.
        name: prefix for the layer names.

    Returns:
        ``(batch, H, W, f1 + f3 + f5 + pool_proj)``.
    """
    b1 = layers.Conv2D(f1, 1, activation="relu", name=_name(name, "1x1"))(x)
    b3 = layers.Conv2D(f3_reduce, 1, activation="relu", name=_name(name, "3x3_reduce"))(x)
    b3 = _spatial_conv(b3, f3, 3, factorize, name)
    b5 = layers.Conv2D(f5_reduce, 1, activation="relu", name=_name(name, "5x5_reduce"))(x)
    b5 = _spatial_conv(b5, f5, 5, factorize, name)
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=_name(name, "pool"))(x)
    bp = layers.Conv2D(pool_proj, 1, activation="relu", name=_name(name, "pool_proj"))(bp)
    return layers.Concatenate(name=_name(name, "concat"))([b1, b3, b5, bp])


def bottleneck_block(
    x: Any,
    filters: int,
    stride: int = 1,
    expansion: int = 4,
    *,
    use_bias: bool = False,
    name: str | None = None,
) -> Any:
    """ResNet-50's bottleneck block: 1x1 reduce -> 3x3 -> 1x1 expand, plus the shortcut.

    ``F`` = conv 1x1 (``filters``) -> BN -> ReLU -> conv 3x3 (``filters``, stride) -> BN ->
    ReLU -> conv 1x1 (``expansion * filters``) -> BN; output ``relu(F(x) + shortcut(x))``,
    the shortcut projected by a 1x1 conv + BN when the shapes differ. The stride sits on
    the 3x3 convolution (ResNet v1.5); ``keras.applications.ResNet50`` puts it on the first
    1x1, which changes the multiply-adds but not the parameter count.

    Args:
        x: ``(batch, H, W, C)``.
        filters: channels of the two inner convolutions.
        stride: stride of the 3x3 convolution and of the projection.
        expansion: output channels are ``expansion * filters``.
        use_bias: biases in the convolutions (``True`` matches ``keras.applications.ResNet50``).
        name: prefix for the layer names.

    Returns:
        ``(batch, ceil(H / stride), ceil(W / stride), expansion * filters)``.
    """
    out_channels = expansion * filters
    y = x
    for i, (channels, kernel, step) in enumerate(
        ((filters, 1, 1), (filters, 3, stride), (out_channels, 1, 1)), 1
    ):
        y = layers.Conv2D(
            channels,
            kernel,
            strides=step,
            padding="same",
            use_bias=use_bias,
            name=_name(name, f"{i}_conv"),
        )(y)
        y = layers.BatchNormalization(name=_name(name, f"{i}_bn"))(y)
        if i < 3:
            y = layers.ReLU(name=_name(name, f"{i}_relu"))(y)
    if stride != 1 or x.shape[-1] != out_channels:  # shapes differ: project with a 1x1 conv
        x = layers.Conv2D(
            out_channels,
            1,
            strides=stride,
            padding="same",
            use_bias=use_bias,
            name=_name(name, "proj_conv"),
        )(x)
        x = layers.BatchNormalization(name=_name(name, "proj_bn"))(x)
    y = layers.Add(name=_name(name, "add"))([y, x])
    return layers.ReLU(name=_name(name, "out"))(y)


def dense_block(
    x: Any, n_layers: int, growth_rate: int, *, bottleneck: bool = True, name: str | None = None
) -> Any:
    """DenseNet block: every layer sees the concatenation of all earlier feature maps.

    Each of the ``n_layers`` layers is BN -> ReLU -> [conv 1x1 (``4 * growth_rate``) -> BN
    -> ReLU ->] conv 3x3 (``growth_rate``), no biases, and its output is concatenated to
    its input (DenseNet-B with ``bottleneck``, as in ``keras.applications.DenseNet121``).

    Args:
        x: ``(batch, H, W, C)``.
        n_layers: layers in the block (6 in DenseNet-121's first block).
        growth_rate: channels each layer adds (``k``, 32 in DenseNet-121).
        bottleneck: use the 1x1 bottleneck convolution.
        name: prefix for the layer names.

    Returns:
        ``(batch, H, W, C + n_layers * growth_rate)``.
    """
    for i in range(1, n_layers + 1):
        y = layers.BatchNormalization(name=_name(name, f"{i}_bn0"))(x)
        y = layers.ReLU(name=_name(name, f"{i}_relu0"))(y)
        if bottleneck:
            y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=_name(name, f"{i}_conv1x1"))(
                y
            )
            y = layers.BatchNormalization(name=_name(name, f"{i}_bn1"))(y)
            y = layers.ReLU(name=_name(name, f"{i}_relu1"))(y)
        y = layers.Conv2D(
            growth_rate, 3, padding="same", use_bias=False, name=_name(name, f"{i}_conv3x3")
        )(y)
        x = layers.Concatenate(name=_name(name, f"{i}_concat"))([x, y])
    return x


@keras.saving.register_keras_serializable(package="lablib")
class LayerScale(layers.Layer):
    """Multiply the channels by a learned vector ``gamma`` (initialized to ``init_value``)."""

    def __init__(self, init_value: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.init_value = init_value

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.gamma = self.add_weight(
            shape=(input_shape[-1],),
            name="gamma",
            initializer=keras.initializers.Constant(self.init_value),
        )

    def call(self, x: Any) -> Any:
        return x * self.gamma

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "init_value": self.init_value}


def convnext_block(
    x: Any, dim: int, *, layer_scale: float | None = 1e-6, name: str | None = None
) -> Any:
    """ConvNeXt block (Liu et al., 2022): depthwise 7x7 -> LayerNorm -> inverted bottleneck.

    ``y = x + gamma * Dense_dim(GELU(Dense_4dim(LayerNorm(DepthwiseConv7x7(x)))))``: the
    Dense layers act on the channels of every pixel (1x1 convolutions), expanding to
    ``4 * dim`` and projecting back; ``gamma`` is the layer scale. The parameters match one
    block of ``keras.applications.ConvNeXtTiny`` (which writes the depthwise convolution as
    a grouped Conv2D).

    Args:
        x: ``(batch, H, W, dim)``; the input must already have ``dim`` channels.
        dim: channels.
        layer_scale: initial value of ``gamma``; None leaves the layer scale out.
        name: prefix for the layer names.

    Returns:
        ``(batch, H, W, dim)``.
    """
    if x.shape[-1] != dim:
        raise ValueError(
            f"convnext_block needs an input with dim={dim} channels, got shape {tuple(x.shape)}"
        )
    y = layers.DepthwiseConv2D(7, padding="same", name=_name(name, "depthwise"))(x)
    y = layers.LayerNormalization(epsilon=1e-6, name=_name(name, "layernorm"))(y)
    y = layers.Dense(4 * dim, name=_name(name, "expand"))(y)  # 1x1 conv, (H, W, 4 dim)
    y = layers.Activation("gelu", name=_name(name, "gelu"))(y)
    y = layers.Dense(dim, name=_name(name, "project"))(y)  # 1x1 conv, (H, W, dim)
    if layer_scale is not None:
        y = LayerScale(layer_scale, name=_name(name, "layer_scale"))(y)
    return layers.Add(name=_name(name, "add"))([x, y])


@keras.saving.register_keras_serializable(package="lablib")
class PositionEmbedding(layers.Layer):
    """Add a learned vector per position to a sequence ``(batch, n, dim)``."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.embedding = self.add_weight(
            shape=tuple(input_shape[1:]),
            name="embedding",
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, x: Any) -> Any:
        return x + self.embedding


def patch_embedding(
    x: Any, patch_size: int, dim: int, *, position: bool = True, name: str | None = None
) -> Any:
    """Vision Transformer patch embedding: cut the image into patches, project each to ``dim``.

    A Conv2D with kernel = stride = ``patch_size`` applies the same linear map to every
    non-overlapping ``patch_size x patch_size x C`` patch; the grid of patches is then
    flattened into a sequence of tokens (row by row) and, with ``position``, a learned
    position embedding is added. (ViT also prepends a class token; not done here.)

    Args:
        x: ``(batch, H, W, C)`` with H and W multiples of ``patch_size``.
        patch_size: side of a patch (16 in ViT-B/16).
        dim: embedding size of a token (768 in ViT-B/16).
        position: add a learned position embedding.
        name: prefix for the layer names.

    Returns:
        ``(batch, (H // patch_size) * (W // patch_size), dim)``.
    """
    h, w = x.shape[1], x.shape[2]
    if h % patch_size or w % patch_size:
        raise ValueError(f"image size {h}x{w} is not a multiple of patch_size={patch_size}")
    y = layers.Conv2D(dim, patch_size, strides=patch_size, name=_name(name, "projection"))(x)
    y = layers.Reshape(((h // patch_size) * (w // patch_size), dim), name=_name(name, "tokens"))(y)
    return PositionEmbedding(name=_name(name, "position"))(y) if position else y


# -------------------------------------------------------------------------------- counters

_CONV = (
    layers.Conv1D,
    layers.Conv2D,
    layers.Conv3D,
    layers.DepthwiseConv1D,
    layers.DepthwiseConv2D,
)
_TRANSPOSED = (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)
_SEPARABLE = (layers.SeparableConv1D, layers.SeparableConv2D)


def _positions(layer: layers.Layer, shape: tuple[int | None, ...]) -> int:
    """Positions a kernel is applied at: the product of the non-batch, non-channel sizes."""
    dims = (
        shape[2:]
        if getattr(layer, "data_format", "channels_last") == "channels_first"
        else shape[1:-1]
    )
    return math.prod(int(d) for d in dims)


def _layer_weights_and_macs(layer: layers.Layer) -> tuple[int, int]:
    """``(weights, macs)`` of one Conv/Dense layer (kernels only, no biases), else ``(0, 0)``."""
    if isinstance(layer, _SEPARABLE):
        weights = math.prod(layer.depthwise_kernel.shape) + math.prod(layer.pointwise_kernel.shape)
        return weights, _positions(layer, layer.output.shape) * weights
    if isinstance(layer, _TRANSPOSED):  # every input position scatters the whole kernel
        weights = math.prod(layer.kernel.shape)
        return weights, _positions(layer, layer.input.shape) * weights
    if isinstance(layer, (*_CONV, layers.Dense)):  # (groups are already in the kernel's shape)
        weights = math.prod(layer.kernel.shape)
        dense_positions = math.prod(int(d) for d in layer.output.shape[1:-1])
        positions = (
            dense_positions
            if isinstance(layer, layers.Dense)
            else _positions(layer, layer.output.shape)
        )
        return weights, positions * weights
    return 0, 0


@dataclass(frozen=True)
class LayerStats:
    """One layer's line in :func:`layer_stats`.

    Attributes:
        name: the layer's name (``outer/inner`` inside a nested model).
        kind: the layer's class name.
        output_shape: without the batch dimension.
        weights: kernel entries of a Conv/Dense layer (no biases); 0 for other layers.
        params: all parameters, trainable or not (biases, BatchNorm statistics...).
        macs: multiply-accumulates for one example.
    """

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    weights: int
    params: int
    macs: int


def layer_stats(model: keras.Model) -> list[LayerStats]:
    """Per-layer weights, parameters and multiply-accumulates of a built model.

    Counted layers: Conv1D/2D/3D (grouped too), DepthwiseConv1D/2D, SeparableConv1D/2D,
    Conv*Transpose and Dense (on any rank: a Dense on ``(batch, H, W, C)`` is a 1x1
    convolution). A convolution with kernel ``(kh, kw, C_in / groups, C_out)`` producing
    ``H_out x W_out`` positions costs ``H_out * W_out * kh * kw * C_in / groups * C_out``
    MACs; biases, activations, pooling and normalization are not counted. Nested models
    are expanded.

    Args:
        model: a Keras model whose layers have been called (any functional or built model).

    Returns:
        One :class:`LayerStats` per layer (input layers left out), in model order.
    """
    rows = []
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            rows += [
                LayerStats(
                    f"{layer.name}/{r.name}", r.kind, r.output_shape, r.weights, r.params, r.macs
                )
                for r in layer_stats(layer)
            ]
            continue
        weights, macs = _layer_weights_and_macs(layer)
        shape = tuple(layer.output.shape[1:]) if not isinstance(layer.output, (list, tuple)) else ()
        rows.append(
            LayerStats(layer.name, type(layer).__name__, shape, weights, layer.count_params(), macs)
        )
    return rows


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates for one example through the Conv and Dense layers of ``model``.

    This is the "FLOPs" of most papers (ResNet-50: "3.8 x 10^9"); a strict count of
    floating-point operations (one multiply plus one add) is about twice this number.
    See :func:`layer_stats` for which layers count and the formula.
    """
    return sum(row.macs for row in layer_stats(model))


def count_weights(model: keras.Model) -> int:
    """Kernel entries of the Conv and Dense layers: the parameters without biases.

    Normalization parameters (BatchNorm, LayerNorm) and other weights are not counted; use
    ``model.count_params()`` for everything. LeNet-5 on 32x32x1 has 61,470.
    """
    return sum(row.weights for row in layer_stats(model))


def stats_table(model: keras.Model, *, only_counted: bool = False) -> str:
    """A fixed-width text table of :func:`layer_stats` with a total line.

    Args:
        model: a built Keras model.
        only_counted: keep only the layers with weights or MACs (Conv and Dense).

    Returns:
        The table as one string: layer, type, output shape, weights (share of the total),
        parameters, MACs.
    """
    rows = [r for r in layer_stats(model) if r.weights or r.macs or not only_counted]
    total_w = max(1, sum(r.weights for r in rows))
    lines = [
        f"{'layer':<26}{'type':<20}{'output shape':<17}{'weights':>12}{'':7}"
        f"{'params':>13}{'MACs':>16}"
    ]
    for r in rows:
        share = f" ({r.weights / total_w:4.0%})" if r.weights else ""
        lines.append(
            f"{r.name[:25]:<26}{r.kind[:19]:<20}{str(r.output_shape)[:16]:<17}"
            f"{r.weights:>12,}{share:<7}{r.params:>13,}{r.macs:>16,}"
        )
    lines.append(
        f"{'total':<63}{sum(r.weights for r in rows):>12,}{'':7}{model.count_params():>13,}"
        f"{sum(r.macs for r in rows):>16,}"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------ segmentation (lab 13)


def _seg_conv_block(x: Any, filters: int, *, batch_norm: bool, name: str) -> Any:
    """Two 3x3 convolutions (same padding), each followed by BatchNorm (optional) and ReLU."""
    for i in (1, 2):
        x = layers.Conv2D(
            filters, 3, padding="same", use_bias=not batch_norm, name=f"{name}_conv{i}"
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=_SHORT_RUN_MOMENTUM, name=f"{name}_bn{i}")(x)
        x = layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def _check_divisible(input_shape: tuple[int, int, int], levels: int, what: str) -> None:
    factor = 2**levels
    if any(d is not None and d % factor for d in input_shape[:2]):
        raise ValueError(
            f"{what}: height and width must be multiples of {factor} "
            f"({levels} poolings), got input_shape={tuple(input_shape)}"
        )


def unet(
    input_shape: tuple[int, int, int] = (64, 64, 3),
    num_classes: int = 4,
    *,
    filters: tuple[int, ...] = (16, 32, 64, 128),
    batch_norm: bool = True,
    name: str = "unet",
) -> keras.Model:
    """U-Net (Ronneberger et al., 2015) with same padding: encoder, decoder, skips, 1x1 head.

    Encoder level ``i`` (``filters[i]`` for all but the last entry): two 3x3 convolutions,
    saved as the skip, then 2x2 max pooling. Bottleneck: two 3x3 convolutions with
    ``filters[-1]``. Decoder, mirror image: a 2x2 transposed convolution with stride 2
    (the "up-convolution", doubling height and width), **concatenation** with the
    encoder's skip of the same resolution, two 3x3 convolutions. Head: a 1x1 convolution
    to ``num_classes`` maps with a softmax over the classes at every pixel.

    Differences from the paper: same padding (the output has the input's size, so skips
    need no cropping), BatchNorm after each convolution (optional), fewer filters.

    Args:
        input_shape: ``(H, W, C)``; H and W multiples of ``2 ** (len(filters) - 1)``.
        num_classes: output channels of the head.
        filters: channels per level, encoder first, bottleneck last (the paper: 64 ... 1024).
        batch_norm: BatchNorm after every 3x3 convolution.
        name: the model's name.

    Returns:
        An uncompiled ``keras.Model``, input ``(batch, H, W, C)`` floats, output
        ``(batch, H, W, num_classes)`` per-pixel class probabilities. Layers are named
        ``enc{i}_*``, ``pool{i}``, ``bottleneck_*``, ``up{i}``, ``concat{i}``, ``dec{i}_*``
        and ``head``.
    """
    if len(filters) < 2:
        raise ValueError(f"filters needs an encoder level and the bottleneck, got {filters!r}")
    _check_divisible(input_shape, len(filters) - 1, "unet")
    inputs = keras.Input(input_shape)
    x, skips = inputs, []
    for i, f in enumerate(filters[:-1], start=1):
        x = _seg_conv_block(x, f, batch_norm=batch_norm, name=f"enc{i}")  # (H/2^(i-1), ., f)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)  # halves H and W
    x = _seg_conv_block(x, filters[-1], batch_norm=batch_norm, name="bottleneck")
    for i in range(len(filters) - 1, 0, -1):
        x = layers.Conv2DTranspose(filters[i - 1], 2, strides=2, name=f"up{i}")(x)  # doubles H, W
        x = layers.Concatenate(name=f"concat{i}")([x, skips[i - 1]])  # (..., 2 * filters[i - 1])
        x = _seg_conv_block(x, filters[i - 1], batch_norm=batch_norm, name=f"dec{i}")
    outputs = layers.Conv2D(num_classes, 1, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=name)


def fcn(
    input_shape: tuple[int, int, int] = (64, 64, 3),
    num_classes: int = 4,
    *,
    filters: tuple[int, ...] = (16, 32, 64),
    skips: bool = True,
    batch_norm: bool = True,
    name: str | None = None,
) -> keras.Model:
    """A small fully convolutional network (Long et al., 2015), FCN-32s or FCN-8s style.

    Encoder: per entry of ``filters``, two 3x3 convolutions and 2x2 max pooling, down to
    ``1 / 2^L`` of the input (``L = len(filters)``). A 1x1 convolution turns the last map
    into ``num_classes`` class scores. Back to full size with transposed convolutions:

    * ``skips=False`` (FCN-32s's idea): one transposed convolution with stride ``2^L`` and
      kernel ``2 * 2^L``, straight from the coarsest scores to the input size;
    * ``skips=True`` (FCN-16s/8s): ``L`` transposed convolutions with stride 2 and kernel 4;
      after each one the 1x1 class scores of the pooled encoder map of that resolution are
      **added** (FCN fuses by summation; U-Net concatenates).

    A softmax over the classes ends both. The transposed convolutions are learned from a
    random start (the paper initializes them to bilinear upsampling).

    Args:
        input_shape: ``(H, W, C)``; H and W multiples of ``2 ** len(filters)``.
        num_classes: number of classes.
        filters: channels of the encoder stages.
        skips: fuse the encoder's intermediate scores (FCN-8s style) or not (FCN-32s style).
        batch_norm: BatchNorm after every 3x3 convolution.
        name: the model's name; default ``fcn_skips`` or ``fcn_no_skips``.

    Returns:
        An uncompiled ``keras.Model``, output ``(batch, H, W, num_classes)`` probabilities.
    """
    levels = len(filters)
    _check_divisible(input_shape, levels, "fcn")
    inputs = keras.Input(input_shape)
    x, pooled = inputs, []
    for i, f in enumerate(filters, start=1):
        x = _seg_conv_block(x, f, batch_norm=batch_norm, name=f"enc{i}")
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)  # (H / 2^i, W / 2^i, f)
        pooled.append(x)
    scores = layers.Conv2D(num_classes, 1, name=f"score{levels}")(x)  # class scores at 1 / 2^L
    if not skips:
        factor = 2**levels
        scores = layers.Conv2DTranspose(
            num_classes, 2 * factor, strides=factor, padding="same", name=f"up_x{factor}"
        )(scores)
    else:
        for i in range(levels - 1, -1, -1):
            scores = layers.Conv2DTranspose(
                num_classes, 4, strides=2, padding="same", name=f"up{i}"
            )(scores)
            if i > 0:  # fuse the pooled map of the same resolution
                side = layers.Conv2D(num_classes, 1, name=f"score{i}")(pooled[i - 1])
                scores = layers.Add(name=f"fuse{i}")([scores, side])
    outputs = layers.Softmax(name="softmax")(scores)
    return keras.Model(inputs, outputs, name=name or ("fcn_skips" if skips else "fcn_no_skips"))


# ---------------------------------------------------------------------- detection (lab 12)

# DarkNet-19 (Redmon and Farhadi, 2017, table 6): (filters, kernel) per convolution, "M" a
# 2x2/2 max pooling. The classifier's last 1x1 convolution (1000 filters) is added after.
_DARKNET19 = (
    (32, 3),
    "M",
    (64, 3),
    "M",
    (128, 3),
    (64, 1),
    (128, 3),
    "M",
    (256, 3),
    (128, 1),
    (256, 3),
    "M",
    (512, 3),
    (256, 1),
    (512, 3),
    (256, 1),
    (512, 3),
    "M",
    (1024, 3),
    (512, 1),
    (1024, 3),
    (512, 1),
    (1024, 3),
)


def darknet19(
    input_shape: tuple[int, int, int] = (224, 224, 3), num_classes: int = 1000
) -> keras.Model:
    """DarkNet-19, YOLOv2's classification backbone, as in the course slides' layer table.

    18 convolutions (3x3 and 1x1, same padding, no bias, each followed by BatchNorm and a
    leaky ReLU with slope 0.1) and 5 max poolings 2x2/2, then a 1x1 convolution to
    ``num_classes`` maps (with bias), global average pooling and a softmax: 19 convolutional
    layers. At 224x224x3 the 19 convolutions hold 20,826,976 weights and cost 2.79 G
    multiply-adds per image (:func:`count_weights`, :func:`count_macs`); at 256x256 the
    cost is 3.65 G multiply-adds, which is the paper's "7.29 Bn operations" counted as two
    operations (a multiply and an add) each.

    Args:
        input_shape: ``(H, W, 3)``; H and W multiples of 32 keep every pooling exact.
        num_classes: filters of the last 1x1 convolution.

    Returns:
        An uncompiled ``keras.Model`` named ``darknet19``, layers named ``conv1`` ...
        ``conv19``, ``bn1`` ... ``bn18``, ``leaky1`` ... ``leaky18``, ``pool1`` ... ``pool5``,
        ``avgpool`` and ``softmax``; output ``(batch, num_classes)`` probabilities.
    """
    inputs = keras.Input(input_shape)
    x, conv, pool = inputs, 0, 0
    for spec in _DARKNET19:
        if spec == "M":
            pool += 1
            x = layers.MaxPooling2D(2, name=f"pool{pool}")(x)  # halves H and W
            continue
        conv += 1
        filters, kernel = spec
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"conv{conv}")(x)
        x = layers.BatchNormalization(name=f"bn{conv}")(x)
        x = layers.LeakyReLU(negative_slope=0.1, name=f"leaky{conv}")(x)
    x = layers.Conv2D(num_classes, 1, name=f"conv{conv + 1}")(x)  # (H / 32, W / 32, classes)
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    outputs = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, outputs, name="darknet19")


def tiny_grid_detector(
    input_shape: tuple[int, int, int] = (64, 64, 3),
    num_classes: int = 3,
    *,
    width: int = 16,
    stride: int = 8,
) -> keras.Model:
    """A tiny single-stage detector: a small CNN whose output is one prediction per grid cell.

    The YOLO idea at toy scale. Input pixels in [0, 255] are rescaled to [0, 1]; then
    ``log2(stride)`` stages of two 3x3 convolutions (BatchNorm, ReLU) and a 2x2 max pooling
    (``width``, ``2 width``, ``4 width``, ... channels), two more 3x3 convolutions at the grid
    resolution, and a 1x1 convolution head. The image is cut into an ``S x S`` grid with
    ``S = H / stride``; each cell predicts ``5 + num_classes`` raw numbers: an objectness
    logit, four box offsets relative to the cell's anchor, and one logit per class (the
    caller chooses the losses and the decoding).

    Args:
        input_shape: ``(H, W, C)``, H and W multiples of ``stride``.
        num_classes: number of object classes.
        width: channels of the first stage (doubled at each pooling).
        stride: pixels per grid cell, a power of two (8: a 64x64 image gives an 8x8 grid).

    Returns:
        An uncompiled ``keras.Model`` named ``tiny_grid_detector``, input ``(batch, H, W, C)``
        pixel values in [0, 255], output ``(batch, H / stride, W / stride, 5 + num_classes)``
        float32: ``[..., 0]`` objectness logit, ``[..., 1:5]`` box offsets, ``[..., 5:]``
        class logits.
    """
    levels = int(round(math.log2(stride)))
    if stride < 1 or 2**levels != stride:
        raise ValueError(f"stride must be a power of two, got {stride!r}")
    _check_divisible(input_shape, levels, "tiny_grid_detector")
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255, name="rescale")(inputs)
    for i in range(1, levels + 1):
        x = _seg_conv_block(x, width * 2 ** (i - 1), batch_norm=True, name=f"stage{i}")
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)  # (H / 2^i, W / 2^i, width 2^(i-1))
    x = _seg_conv_block(x, width * 2**levels, batch_norm=True, name="grid")  # (S, S, width 2^L)
    outputs = layers.Conv2D(5 + num_classes, 1, name="head")(x)  # (S, S, 5 + classes)
    return keras.Model(inputs, outputs, name="tiny_grid_detector")


# ------------------------------------------------------------------- transfer learning (lab 11)


def small_backbone(
    input_shape: tuple[int, int, int] = (32, 32, 3),
    widths: tuple[int, ...] = (32, 64, 128),
    *,
    momentum: float = 0.9,
    name: str = "backbone",
) -> keras.Model:
    """A small VGG-style feature extractor with BatchNorm: the backbone that lab 11 pretrains.

    Block ``b`` (1-based) is two ``Conv2D 3x3 (no bias) -> BatchNormalization -> ReLU``
    layers named ``block{b}_conv{j}``, ``block{b}_bn{j}``, ``block{b}_relu{j}`` (j = 1, 2),
    then a 2x2 max pooling ``block{b}_pool`` after every block but the last; global average
    pooling (``features``) turns the last map into one vector. With the defaults on 32x32x3
    it has 288,352 parameters (286,560 in the convolutions, 1,792 in BatchNorm, half of
    those the non-trainable moving statistics) and costs 38.6M multiply-adds per image.

    Args:
        input_shape: ``(H, W, C)``; H and W divisible by ``2 ** (len(widths) - 1)``.
        widths: output channels of each block's two convolutions.
        momentum: BatchNorm momentum (0.9, PyTorch's default, lets the moving statistics
            settle within a few epochs of a small dataset).
        name: the model's name.

    Returns:
        An uncompiled ``keras.Model``: input ``(batch, H, W, C)`` float32 images scaled to
        [-1, 1] (the "tf" preprocessing of MobileNetV2), output ``(batch, widths[-1])``
        features. No classifier: put a head on top.
    """
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for b, width in enumerate(widths, start=1):
        for j in (1, 2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{b}_conv{j}")(x)
            x = layers.BatchNormalization(momentum=momentum, name=f"block{b}_bn{j}")(x)
            x = layers.ReLU(name=f"block{b}_relu{j}")(x)
        if b < len(widths):
            x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)  # (H / 2^b, W / 2^b, width)
    outputs = layers.GlobalAveragePooling2D(name="features")(x)  # (batch, widths[-1])
    return keras.Model(inputs, outputs, name=name)

"""Lab 08 (CIFAR-10 regularization): the slide's standardized pixel and the CNN's counts.

References: ``keras.layers.Normalization`` (float32, atol 5e-3 for the slide's two-decimal
rounding), ``count_params()`` of Keras models, Keras's L1 and L2 regularizer values (rtol 1e-6),
Keras's ``CategoricalCrossentropy(label_smoothing=...)`` (rtol 1e-5). The lab's own functions
(``lab_code("08")``) are held to the same numbers: its standardize, build_cnn, weight_penalty and
smoothed_targets, and the label-smoothing numbers it prints (0.91 / 0.01, a loss floor of 0.5003).
"""

import ast
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from labcode import lab_code  # tests/syllabus/conftest.py puts this folder on sys.path

LABS = Path(__file__).resolve().parents[2] / "labs"
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


# --- the lab's own code ------------------------------------------------------------------------


def test_the_lab_standardizes_the_slide_pixel_and_counts_its_cnn():
    lab = lab_code("08")
    np.testing.assert_allclose(lab.standardize([0.98, 0.84, 0.15]), [2.16, 1.71, -1.14], atol=5e-3)
    # its default statistics are ImageNet's
    np.testing.assert_allclose(lab.standardize(MEAN), 0.0, atol=1e-6)
    np.testing.assert_allclose(lab.standardize(np.add(MEAN, STD)), 1.0, atol=1e-6)
    assert lab.build_cnn().count_params() == cnn().count_params() == 156_074
    assert lab.build_cnn(batch_norm=True).count_params() == cnn(batch_norm=True).count_params()
    assert len(lab.build_cnn(l1=1e-4).losses) == 5  # 3 Conv2D + 2 Dense kernels


def test_the_lab_weight_penalty_is_keras_l1_and_l2():
    lab = lab_code("08")
    rng = np.random.default_rng(1)
    kernels = [rng.normal(size=s).astype("float32") for s in [(3, 3, 3, 16), (1024, 128), (7,)]]
    l1 = sum(float(keras.regularizers.L1(1e-4)(k)) for k in kernels)
    l2 = sum(float(keras.regularizers.L2(2e-3)(k)) for k in kernels)
    np.testing.assert_allclose(lab.weight_penalty(kernels, l1=1e-4), l1, rtol=1e-5)
    np.testing.assert_allclose(lab.weight_penalty(kernels, l2=2e-3), l2, rtol=1e-5)
    np.testing.assert_allclose(lab.weight_penalty(kernels, l1=1e-4, l2=2e-3), l1 + l2, rtol=1e-5)


def expected_penalties(width, dense, l1, l2, num_classes=10):
    """E[L1] and E[L2] penalties of the lab's CNN at Glorot-uniform initialization.

    A kernel with fan_in + fan_out = f is uniform on [-a, a], a = sqrt(6 / f): E|w| = a / 2 and
    E[w^2] = a^2 / 3 per weight.
    """
    shapes = [(3 * 9, width), (width * 9, 2 * width), (2 * width * 9, 4 * width)]
    receptive = [9, 9, 9]
    shapes += [(4 * 4 * 4 * width, dense), (dense, num_classes)]
    receptive += [1, 1]
    e1 = e2 = 0.0
    for (fan_in, n_out), r in zip(shapes, receptive):
        fan_out = n_out * r
        a = math.sqrt(6 / (fan_in + fan_out))
        e1 += fan_in * n_out * a / 2
        e2 += fan_in * n_out * a * a / 3
    return l1 * e1, l2 * e2


def lab_profiles():
    """The lab's ``profiles = dict(quick=dict(...), ...)``, read from its setup cell."""
    setup = next(
        "".join(c["source"])
        for c in json.loads(next(LABS.glob("08_*.ipynb")).read_text())["cells"]
        if c["cell_type"] == "code"
    )
    for node in ast.parse(setup.replace("!", "#")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "profiles":
            return eval(compile(ast.Expression(node.value), "setup", "eval"), {"dict": dict})
    raise AssertionError("no profiles = dict(...) in the setup cell")


@pytest.mark.parametrize("profile", ["quick", "standard", "full"])
def test_cfg_l1_adds_about_as_much_as_cfg_l2_at_initialization(profile):
    """The lab chooses cfg.l1 so that the L1 and L2 arms of the ablation start from similar
    penalties; the expectation by formula, and one initialization measured with Keras."""
    cfg = lab_profiles()[profile]
    width, dense, l1, l2 = cfg["width"], cfg["dense"], cfg["l1"], cfg["l2"]
    assert cfg["label_smoothing"] == 0.1  # Inception-v3's epsilon
    e1, e2 = expected_penalties(width, dense, l1, l2)
    assert 0.8 < e1 / e2 < 1.25
    lab = lab_code("08")
    keras.utils.set_random_seed(0)
    model = lab.build_cnn(width=width, dense=dense)
    kernels = [
        keras.ops.convert_to_numpy(layer.kernel)
        for layer in model.layers
        if isinstance(layer, (layers.Conv2D, layers.Dense))
    ]
    np.testing.assert_allclose(lab.weight_penalty(kernels, l1=l1), e1, rtol=0.02)
    np.testing.assert_allclose(lab.weight_penalty(kernels, l2=l2), e2, rtol=0.02)


def test_label_smoothing_targets_and_the_loss_floor():
    lab = lab_code("08")
    target = lab.smoothed_targets(lab.one_hot([3], 10), 0.1)
    np.testing.assert_allclose(target[0], [0.01] * 3 + [0.91] + [0.01] * 6, atol=1e-7)
    # Keras's smoothed loss is smallest at p = the smoothed target, where it is the entropy
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)
    floor = float(loss(np.eye(10, dtype="float32")[[3]], target))
    entropy = -(0.91 * math.log(0.91) + 9 * 0.01 * math.log(0.01))
    np.testing.assert_allclose(floor, entropy, rtol=1e-5)
    assert round(entropy, 4) == 0.5003
    for sure in (0.5, 0.99, 0.999):  # less or more sure than 0.91 costs more
        p = np.full((1, 10), (1 - sure) / 9, "float32")
        p[0, 3] = sure
        assert float(loss(np.eye(10, dtype="float32")[[3]], p)) > floor


def test_smoothed_targets_is_keras_label_smoothing():
    lab = lab_code("08")
    rng = np.random.default_rng(2)
    for eps, k in [(0.1, 10), (0.05, 3), (0.3, 7)]:
        logits = rng.normal(size=(9, k))
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = np.eye(k, dtype="float32")[rng.integers(0, k, 9)]
        ours = -np.sum(lab.smoothed_targets(y, eps) * np.log(p), axis=1)
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=eps, reduction=None)
        np.testing.assert_allclose(
            ours, keras.ops.convert_to_numpy(loss(y, p.astype("float32"))), rtol=1e-5
        )

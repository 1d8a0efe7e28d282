"""The slide and syllabus numbers that Lab 12 (object detection basics) reproduces.

Each number is computed here by third-party code (Keras layers and their shapes,
``keras.utils.bounding_boxes``, NumPy formulas), never by a student exercise:

* Faster R-CNN: 3 scales x 3 aspect ratios = 9 anchors per position; a 60 x 40 feature map
  gives 21,600 anchors (the paper's "roughly 20,000" for a 1000 x 600 image);
* SSD's default boxes: 8,732 for SSD300 and 24,564 for SSD512 (the slides' table);
* DarkNet-19 (the slides' layer table): 20,826,976 convolution weights and 2.79 G
  multiply-adds at 224 x 224; the slides' "7.29 Bn ops" is two operations per multiply-add at
  256 x 256;
* a positive anchor match needs IoU > 0.5 (the slides); a box shifted by a third of its width
  sits exactly at 0.5.

Counts are integers and compared exactly; IoU values are float32 from Keras, compared with
``rtol=1e-6``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from keras import layers
from keras.utils import bounding_boxes

from lablib import architectures


def test_faster_rcnn_has_nine_anchors_per_position():
    scales, ratios = (128, 256, 512), (0.5, 1.0, 2.0)
    shapes = [(s / math.sqrt(r), s * math.sqrt(r)) for s, r in itertools.product(scales, ratios)]
    assert len(shapes) == 9
    np.testing.assert_allclose([w * h for w, h in shapes], np.repeat(np.square(scales), 3))
    assert 60 * 40 * len(shapes) == 21_600  # "roughly 20,000" anchors for a 1000 x 600 image


@pytest.mark.parametrize("sizes, per_cell, total", [
    ((38, 19, 10, 5, 3, 1), (4, 6, 6, 6, 4, 4), 8_732),  # SSD300
    ((64, 32, 16, 8, 4, 2, 1), (4, 6, 6, 6, 6, 4, 4), 24_564),  # SSD512
])
def test_ssd_default_box_counts(sizes, per_cell, total):
    assert int(np.sum(np.square(sizes) * np.array(per_cell))) == total


def _keras_conv_counts(model) -> tuple[int, int]:
    """(kernel weights, multiply-adds) of the Conv2D layers, from Keras's kernels and shapes."""
    weights = macs = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            kernel = int(np.prod(layer.kernel.shape))
            weights += kernel
            macs += int(np.prod(layer.output.shape[1:3])) * kernel
    return weights, macs


def test_darknet19_weights_and_multiply_adds_at_224():
    model = architectures.darknet19((224, 224, 3))
    weights, macs = _keras_conv_counts(model)
    assert sum(isinstance(layer, layers.Conv2D) for layer in model.layers) == 19
    assert weights == 20_826_976
    assert round(macs / 1e9, 2) == 2.79


def test_darknet19_slide_ops_are_two_per_multiply_add_at_256():
    _, macs = _keras_conv_counts(architectures.darknet19((256, 256, 3)))
    assert round(2 * macs / 1e9, 2) == 7.29
    assert round(macs / 1e9, 2) != 7.29  # not the multiply-adds themselves


def test_positive_match_threshold_is_strict():
    box = np.array([[0.0, 0.0, 30.0, 30.0]], dtype="float32")
    third, quarter = box + [10, 0, 10, 0], box + [7.5, 0, 7.5, 0]
    iou = np.asarray(bounding_boxes.compute_iou(box, np.concatenate([third, quarter]), "xyxy"))
    np.testing.assert_allclose(iou[0], [0.5, 0.6], rtol=1e-6)
    assert not iou[0, 0] > 0.5 and iou[0, 1] > 0.5  # "IoU > 0.5": the third-shifted box is out

"""Tests for lablib.datasets.synthetic.scenes: shapes, dtypes, ranges, balance, determinism,
consistency.

Small n everywhere, so the file runs in a few seconds.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lablib.datasets.synthetic import scenes as generated

CIFAR10_NAMES = {
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
}


# --- classification scenes ------------------------------------------------------------


@pytest.fixture(scope="module")
def scenes():
    return generated.make_scenes(53, seed=3)


def test_scene_classes_name_what_is_drawn():
    assert len(generated.SCENE_CLASSES) == 10
    assert len(set(generated.SCENE_CLASSES)) == 10
    assert not CIFAR10_NAMES & set(generated.SCENE_CLASSES)


def test_scenes_shapes_dtypes_ranges(scenes):
    x, y = scenes
    assert x.shape == (53, 32, 32, 3) and x.dtype == np.uint8
    assert y.shape == (53,) and y.dtype == np.uint8
    assert y.min() >= 0 and y.max() <= 9
    # Not blank: every image has a foreground and a background.
    assert (x.reshape(53, -1).std(axis=1) > 10).all()


def test_scenes_are_balanced_and_shuffled(scenes):
    _, y = scenes
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == 53
    assert sorted(counts.tolist()) == [5] * 7 + [6] * 3  # 53 // 10 each, remainder spread
    assert not (np.diff(y.astype(int)) >= 0).all()  # not sorted by class


def test_scenes_other_size():
    x, y = generated.make_scenes(10, size=48, seed=1)
    assert x.shape == (10, 48, 48, 3)
    assert sorted(y.tolist()) == list(range(10))


def test_scenes_determinism():
    x1, y1 = generated.make_scenes(12, seed=7)
    x2, y2 = generated.make_scenes(12, seed=7)
    x3, _ = generated.make_scenes(12, seed=8)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


def test_scene_colour_is_not_the_class():
    # Same class, different images: foreground/background colours vary widely.
    x, y = generated.make_scenes(100, seed=0)
    means = x[y == 0].reshape(-1, 32 * 32, 3).mean(axis=1)  # (10, 3) mean colours of "circle"
    assert means.std(axis=0).min() > 15


@pytest.mark.parametrize("bad", [-1, 2.5, "10"])
def test_scenes_bad_n_raises(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        generated.make_scenes(bad)


def test_scenes_zero():
    x, y = generated.make_scenes(0)
    assert x.shape == (0, 32, 32, 3) and y.shape == (0,)


# --- segmentation scenes --------------------------------------------------------------


@pytest.fixture(scope="module")
def seg():
    return generated.make_segmentation_scenes(12, seed=5)


def test_segmentation_shapes_dtypes_ranges(seg):
    images, masks = seg
    assert generated.SEG_CLASSES == ("background", "circle", "square", "triangle")
    assert images.shape == (12, 64, 64, 3) and images.dtype == np.uint8
    assert masks.shape == (12, 64, 64) and masks.dtype == np.uint8
    assert masks.max() <= 3
    assert ((masks > 0).reshape(12, -1).sum(axis=1) > 0).all()  # every image has an object
    assert (masks == 0).mean() > 0.5  # mostly background


def test_segmentation_objects_are_visible(seg):
    # Object pixels differ in colour from the background around them.
    images, masks = seg
    for image, mask in zip(images.astype(float), masks):
        for class_id in np.unique(mask[mask > 0]):
            inside = image[mask == class_id].mean(axis=0)
            outside = image[mask == 0].mean(axis=0)
            assert np.linalg.norm(inside - outside) > 10


def test_segmentation_all_classes_and_max_objects():
    _, masks = generated.make_segmentation_scenes(30, size=32, max_objects=1, seed=2)
    assert masks.shape == (30, 32, 32)
    present = [set(np.unique(m).tolist()) - {0} for m in masks]
    assert all(len(p) == 1 for p in present)  # one object, one class per image
    assert set().union(*present) == {1, 2, 3}


def test_segmentation_determinism():
    a = generated.make_segmentation_scenes(3, seed=1)
    b = generated.make_segmentation_scenes(3, seed=1)
    c = generated.make_segmentation_scenes(3, seed=2)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])


# --- detection scenes -----------------------------------------------------------------


@pytest.fixture(scope="module")
def det():
    return generated.make_detection_scenes(25, seed=4)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def test_detection_shapes_dtypes_ranges(det):
    images, boxes, labels = det
    assert generated.DET_CLASSES == ("circle", "square", "triangle")
    assert images.shape == (25, 64, 64, 3) and images.dtype == np.uint8
    assert len(boxes) == len(labels) == 25
    for b, lab in zip(boxes, labels):
        assert b.dtype == np.float32 and lab.dtype == np.int32
        assert b.ndim == 2 and b.shape[1] == 4 and 1 <= len(b) <= 3 and lab.shape == (len(b),)
        assert ((lab >= 0) & (lab <= 2)).all()
        assert (b[:, :2] >= 0).all() and (b[:, 2:] <= 64).all()
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
        assert (b == np.round(b)).all()  # whole pixels


def test_detection_box_sizes(det):
    _, boxes, _ = det
    sides = np.concatenate([np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) for b in boxes])
    assert sides.min() >= 4 and sides.max() <= 24 + 1  # inscribed in a circle of diameter <= 24


def test_detection_boxes_overlap_little(det):
    _, boxes, _ = det
    for b in boxes:
        for i, j in itertools.combinations(range(len(b)), 2):
            assert _iou(b[i], b[j]) < 0.3


def test_detection_box_regions_hold_their_object(det):
    # Each box region contains pixels of its object: it is not plain background, so it
    # varies more (object edge inside) than the image's strips far from every box.
    images, boxes, _ = det
    for image, b in zip(images.astype(float), boxes):
        for x0, y0, x1, y1 in b.astype(int):
            region = image[y0:y1, x0:x1]
            assert region.size > 0
            assert region.reshape(-1, 3).std(axis=0).max() > 15


def test_place_objects_boxes_are_tight_and_pixels_disjoint():
    rng = np.random.default_rng(0)
    for _ in range(20):
        placed = generated._place_objects(rng, 64, 3, 8, 24)
        assert 1 <= len(placed) <= 3
        covered = np.zeros((64, 64), int)
        for label, rr, cc, box in placed:
            assert 0 <= label <= 2
            np.testing.assert_array_equal(box, [cc.min(), rr.min(), cc.max() + 1, rr.max() + 1])
            covered[rr, cc] += 1
        assert covered.max() == 1  # no pixel shared by two objects


def test_detection_max_objects_and_classes():
    _, boxes, labels = generated.make_detection_scenes(
        30, size=48, max_objects=5, min_size=6, max_size=12, seed=9
    )
    counts = [len(b) for b in boxes]
    assert min(counts) >= 1 and max(counts) <= 5 and max(counts) >= 4
    assert set(np.concatenate(labels).tolist()) == {0, 1, 2}


def test_detection_bad_sizes_raise():
    with pytest.raises(ValueError, match="min_size"):
        generated.make_detection_scenes(2, min_size=30, max_size=20)
    with pytest.raises(ValueError, match="min_size"):
        generated.make_detection_scenes(2, size=32, max_size=40)


def test_detection_determinism():
    a = generated.make_detection_scenes(4, seed=3)
    b = generated.make_detection_scenes(4, seed=3)
    c = generated.make_detection_scenes(4, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    for u, v in zip(a[1] + a[2], b[1] + b[2]):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])

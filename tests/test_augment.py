"""Tests for lablib.augment, against NumPy references and albumentations' own transforms.

Tolerances: normalization is compared with NumPy at atol 1e-5 (float32 arithmetic);
crops and flips exactly. Rates are binomial counts with a stated standard error. Seeds are
fixed everywhere.
"""

from __future__ import annotations

import albumentations as A
import keras
import numpy as np
import pytest

from lablib import augment
from lablib.augment import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentedDataset,
    apply_batch,
    cifar_pipeline,
    compose,
)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(6, 40, 40, 3), dtype=np.uint8)


def _normalized(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float64) / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)


def test_imagenet_constants_reproduce_the_slide_pixel():
    # Slide (seed 003): RGB (0.98, 0.84, 0.15) -> standardized (2.16, 1.71, -1.14), 2 decimals.
    pixel = (np.array([0.98, 0.84, 0.15]) - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(pixel, [2.16, 1.71, -1.14], atol=0.005)


def _changed_rate(pipeline, image, n):
    return np.mean([not np.array_equal(pipeline(image=image)["image"], image) for _ in range(n)])


def test_compose_gives_transforms_independent_streams(images):
    # Two independent p=0.5 flips leave the image unchanged only when neither fires:
    # P(changed) = 0.75.
    # n = 2000 calls: standard error sqrt(0.75 * 0.25 / 2000) = 0.0097; we allow 4 of them.
    flips = [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]
    rate = _changed_rate(compose(flips, seed=0), images[0], 2000)
    assert abs(rate - 0.75) < 4 * 0.0097
    one_of = compose(
        [A.OneOf([A.HorizontalFlip(p=1.0), A.VerticalFlip(p=1.0)], p=0.5), A.Transpose(p=0.5)],
        seed=1,
    )
    both = np.mean(
        [not np.array_equal(one_of(image=images[0])["image"], images[0]) for _ in range(2000)]
    )
    assert abs(both - 0.75) < 4 * 0.0097


def test_compose_is_repeatable_with_a_seed(images):
    def make():
        return compose(
            [A.HorizontalFlip(p=0.5), A.ColorJitter(p=0.5), A.Rotate(limit=20, p=0.5)], seed=3
        )

    a, b = make(), make()
    for _ in range(10):
        np.testing.assert_array_equal(a(image=images[1])["image"], b(image=images[1])["image"])


def test_cifar_pipeline_outputs_are_shifted_or_flipped_crops_of_the_padded_image():
    # Reference: NumPy zero padding; every output must equal one of the 2 * 9 * 9 crops exactly.
    image = np.random.default_rng(2).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    pipeline = cifar_pipeline(32, mean=(0, 0, 0), std=(1, 1, 1), seed=0)
    padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
    crops = {
        (flip, dy, dx): (padded[:, ::-1] if flip else padded)[dy : dy + 32, dx : dx + 32]
        for flip in (0, 1)
        for dy in range(9)
        for dx in range(9)
    }
    seen = set()
    for _ in range(200):
        out = np.round(pipeline(image=image)["image"] * 255.0).astype(np.uint8)
        matches = [key for key, crop in crops.items() if np.array_equal(crop, out)]
        assert matches, "output is not a crop of the zero-padded (possibly flipped) image"
        seen.update(matches)
    flips = {key[0] for key in seen}
    shifts = {key[1:] for key in seen}
    assert flips == {0, 1} and len(shifts) > 30  # both orientations and many of the 81 shifts occur


def test_apply_batch_flips_images_and_masks_together(images):
    masks = (images[..., 0] > 128).astype(np.uint8)
    out = apply_batch(A.HorizontalFlip(p=1.0), images, mask=masks)
    np.testing.assert_array_equal(out["image"], images[:, :, ::-1])
    np.testing.assert_array_equal(out["mask"], masks[:, :, ::-1])


def test_apply_batch_keeps_ragged_boxes_as_lists():
    images = np.zeros((2, 20, 20, 3), dtype=np.uint8)
    boxes = [
        np.array([[1, 2, 5, 6]], np.float32),
        np.array([[0, 0, 4, 4], [10, 10, 20, 20]], np.float32),
    ]
    labels = [np.array([0]), np.array([1, 2])]
    flip = A.Compose(
        [A.HorizontalFlip(p=1.0)],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
    )
    out = apply_batch(flip, images, bboxes=boxes, labels=labels)
    assert isinstance(out["bboxes"], list)
    np.testing.assert_allclose(out["bboxes"][0], [[15, 2, 19, 6]])  # x -> W - x, max exclusive
    np.testing.assert_allclose(out["bboxes"][1], [[16, 0, 20, 4], [0, 10, 10, 20]])


def _indexed(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose pixels all equal their index, and labels equal to the index."""
    x = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 8, 8, 3)).copy()
    return x, np.arange(n)


def test_dataset_batches_cover_every_image_once_with_aligned_labels():
    x, y = _indexed(10)
    data = AugmentedDataset(x, y, A.Compose([]), batch_size=4, seed=1)
    assert len(data) == 3
    seen = []
    for i in range(len(data)):
        xb, yb = data[i]
        np.testing.assert_array_equal(xb[:, 0, 0, 0], yb)  # each image travels with its label
        seen += yb.tolist()
    assert [len(data[i][1]) for i in range(3)] == [4, 4, 2]
    assert sorted(seen) == list(range(10))
    with pytest.raises(IndexError):
        data[3]


def test_dataset_reshuffles_each_epoch_and_repeats_with_seed():
    x, y = _indexed(50)
    a, b = (
        AugmentedDataset(x, y, A.Compose([]), seed=3),
        AugmentedDataset(x, y, A.Compose([]), seed=3),
    )
    first = a.order.copy()
    np.testing.assert_array_equal(first, b.order)
    a.on_epoch_end()
    assert not np.array_equal(first, a.order) and sorted(a.order) == list(range(50))
    fixed = AugmentedDataset(x, y, A.Compose([]), shuffle=False)
    fixed.on_epoch_end()
    np.testing.assert_array_equal(fixed.order, np.arange(50))


def test_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        AugmentedDataset(np.zeros((3, 8, 8, 3), np.uint8), np.zeros(2), A.Compose([]))


def test_dataset_feeds_model_fit():
    x = np.random.default_rng(1).integers(0, 256, size=(40, 16, 16, 3), dtype=np.uint8)
    y = np.arange(40) % 2
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(
        AugmentedDataset(x, y, cifar_pipeline(16, pad=2, seed=0), batch_size=16),
        epochs=2,
        verbose=0,
    )
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_module_exports():
    assert set(augment.__all__) >= {
        "cifar_pipeline",
        "compose",
        "apply_batch",
        "AugmentedDataset",
    }


def test_cifar_pipeline_normalizes_with_the_given_statistics():
    # A flat image is the same after any shift that stays inside it (pad=0) and any flip:
    # the output is exactly the normalization, compared with NumPy.
    image = np.full((32, 32, 3), 200, np.uint8)
    out = cifar_pipeline(32, pad=0, seed=0)(image=image)["image"]
    assert out.dtype == np.float32 and out.shape == (32, 32, 3)
    np.testing.assert_allclose(out, np.broadcast_to(_normalized(image), out.shape), atol=1e-5)


def test_compose_passes_bbox_params_through():
    pipeline = compose(
        [A.HorizontalFlip(p=1.0)],
        seed=0,
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
    )
    out = pipeline(image=np.zeros((20, 20, 3), np.uint8), bboxes=[[1, 2, 5, 6]], labels=[0])
    np.testing.assert_allclose(out["bboxes"], [[15, 2, 19, 6]])


def test_no_exercise_pipelines_in_the_module():
    """Lab 10's make_train_pipeline / make_val_pipeline are exercises: nothing here builds them."""
    assert not hasattr(augment, "train_pipeline") and not hasattr(augment, "val_pipeline")

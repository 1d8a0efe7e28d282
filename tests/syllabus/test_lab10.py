"""Lab 10 (data augmentation): probabilities, the slide's blur and the box flip, measured.

References: albumentations' own transforms (flips, Blur, BboxParams), SciPy's
uniform_filter (within one grey level), and binomial standard errors (4 of them) for rates.
"""

import albumentations as A
import numpy as np
from scipy import ndimage

from lablib import augment


def changed_rate(pipeline, image, n):
    return np.mean([not np.array_equal(pipeline(image=image)["image"], image) for _ in range(n)])


def test_two_independent_flips_change_three_quarters_of_the_images():
    image = np.random.default_rng(0).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    flips = [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]
    rate = changed_rate(augment.compose(flips, seed=2), image, 2000)
    assert abs(rate - (1 - 0.5 * 0.5)) < 4 * np.sqrt(0.75 * 0.25 / 2000)


def test_the_slide_blur_example_and_albumentations_mean_filter():
    kernel = np.array([[0.0, 0.5, 0.0], [0.5, 0.5, 0.5], [0.0, 0.5, 0.0]])
    assert np.sum(np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]) * kernel) == 0.5
    photo = np.random.default_rng(1).integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    blurred = A.Blur(blur_limit=(3, 3), p=1.0)(image=photo)["image"].astype(float)
    reference = ndimage.uniform_filter(photo.astype(float), size=(3, 3, 1), mode="mirror")
    assert np.abs(blurred - reference).max() <= 1.0


def test_horizontal_flip_of_a_box():
    flip = A.Compose(
        [A.HorizontalFlip(p=1.0)],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
    )
    out = flip(image=np.zeros((64, 64, 3), np.uint8), bboxes=[[10, 20, 30, 40]], labels=[0])
    np.testing.assert_allclose(out["bboxes"], [[64 - 30, 20, 64 - 10, 40]])  # [[34, 20, 54, 40]]


def test_normalize_maps_the_mean_pixel_to_zero():
    mean = np.round(np.array(augment.IMAGENET_MEAN) * 255).astype(np.uint8)
    out = A.Normalize(mean=augment.IMAGENET_MEAN, std=augment.IMAGENET_STD)(
        image=np.full((2, 2, 3), mean)
    )["image"]
    np.testing.assert_allclose(out, 0.0, atol=0.01)  # up to the rounding of the mean to uint8

"""Data augmentation for the labs: albumentations pipelines and a Keras feeder.

Lab 10 builds its pipelines with albumentations (https://albumentations.ai) and feeds
Keras through a :class:`keras.utils.PyDataset`. This module holds the small pieces that
lab reuses, so that the notebook shows the ideas and not the plumbing:

- :func:`compose`: ``A.Compose`` with a seed, where every transform gets its own random
  stream (albumentations 2.0's ``Compose(seed=s)`` gives all of them the same one).
- :func:`cifar_pipeline`: the standard CIFAR recipe (pad 4, random 32x32 crop, flip).
- :func:`apply_batch`: run a pipeline on each image of a batch (with masks or boxes).
- :class:`AugmentedDataset`: a ``PyDataset`` that augments every batch on the fly and
  reshuffles after every epoch, so each epoch sees new variants of the same images.

The transforms themselves are albumentations' own; nothing here reimplements one. The
training and validation pipelines of lab 10 are its exercises (``make_train_pipeline``,
``make_val_pipeline``): students write them, so they are not here.

Example:
    >>> import numpy as np
    >>> flip = compose([A.HorizontalFlip(p=1.0)], seed=0)
    >>> image = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    >>> np.array_equal(flip(image=image)["image"], image[:, ::-1])
    True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import albumentations as A
import cv2
import keras
import numpy as np

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "compose",
    "cifar_pipeline",
    "apply_batch",
    "AugmentedDataset",
]

#: Per-channel mean and standard deviation of ImageNet, RGB in [0, 1] (the usual convention).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def _spread_seeds(
    transform: A.BasicTransform | A.BaseCompose, seeds: np.random.SeedSequence
) -> None:
    """Give each child of a composition (recursively) its own seed, spawned from ``seeds``."""
    children = transform.transforms if isinstance(transform, A.BaseCompose) else []
    for child, child_seeds in zip(children, seeds.spawn(len(children))):
        child.set_random_seed(int(child_seeds.generate_state(1)[0]))
        _spread_seeds(child, child_seeds)


def compose(
    transforms: Sequence[A.BasicTransform | A.BaseCompose],
    *,
    seed: int | None = None,
    **kwargs: Any,
) -> A.Compose:
    """``A.Compose(transforms, seed=seed, **kwargs)`` with independent random streams.

    albumentations 2.0's ``Compose(seed=s)`` seeds *every* transform with the same ``s``, so
    two transforms that draw the same random numbers decide alike: ``HorizontalFlip(p=0.5)``
    and ``VerticalFlip(p=0.5)`` then fire together or not at all, on every call. Here each
    transform (and each transform inside a ``OneOf`` or nested ``Compose``) gets its own seed,
    spawned from ``seed`` with ``numpy.random.SeedSequence``: still repeatable, now independent.
    (Nesting the result in another seeded ``Compose`` would reseed it; seed the outer one here.)

    Args:
        transforms: the transforms, in order.
        seed: the pipeline's seed; None draws fresh, independent streams (albumentations' default).
        **kwargs: passed to ``A.Compose`` (``bbox_params``, ``additional_targets``, ``p``...).

    Returns:
        The ``albumentations.Compose``.
    """
    pipeline = A.Compose(list(transforms), seed=seed, **kwargs)
    if seed is not None:
        _spread_seeds(pipeline, np.random.SeedSequence(seed))
    return pipeline


def cifar_pipeline(
    size: int = 32,
    *,
    pad: int = 4,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    seed: int | None = None,
) -> A.Compose:
    """The standard CIFAR-10 augmentation of He et al. (2016, section 4.2), then normalization.

    "4 pixels are padded on each side, and a 32x32 crop is randomly sampled from the padded
    image or its horizontal flip": ``PadIfNeeded`` with zeros to ``size + 2 pad``,
    ``RandomCrop(size, size)``, ``HorizontalFlip(p=0.5)``, ``Normalize(mean, std)``. Every
    output is the input shifted by at most ``pad`` pixels each way, mirrored half of the time.

    Args:
        size: side of the (square) input and output images.
        pad: zero padding on each side, the largest shift.
        mean, std: per-channel statistics of ``Normalize`` (pixels are first divided by 255).
        seed: seed of the pipeline (see :func:`compose`).

    Returns:
        An ``albumentations.Compose`` mapping uint8 ``(size, size, C)`` to float32
        ``(size, size, C)``.
    """
    side = size + 2 * pad
    return compose(
        [
            A.PadIfNeeded(min_height=side, min_width=side, border_mode=cv2.BORDER_CONSTANT, fill=0),
            A.RandomCrop(height=size, width=size),
            A.HorizontalFlip(p=0.5),
            A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=255.0),
        ],
        seed=seed,
    )


def apply_batch(
    pipeline: A.BasicTransform | A.Compose, images: np.ndarray, **targets: Any
) -> dict[str, np.ndarray]:
    """Run ``pipeline`` once per image and stack the results.

    Args:
        pipeline: any albumentations transform or composition.
        images: ``(n, H, W, C)`` (uint8, as albumentations expects).
        **targets: per-image targets with the same first dimension, e.g. ``mask=(n, H, W)``.
            Targets whose outputs differ in shape (``bboxes``) come back as lists.

    Returns:
        ``{"image": (n, h, w, C), <target>: stacked array or list}``.
    """
    outputs: dict[str, list[Any]] = {}
    for i in range(len(images)):
        result = pipeline(image=images[i], **{k: v[i] for k, v in targets.items()})
        for key in ("image", *targets):
            outputs.setdefault(key, []).append(result[key])
    stacked: dict[str, Any] = {}
    for key, values in outputs.items():
        shapes = {np.shape(v) for v in values}
        stacked[key] = np.stack(values) if len(shapes) == 1 else values
    return stacked


class AugmentedDataset(keras.utils.PyDataset):
    """Batches of ``(pipeline(x[i]), y[i])``, augmented afresh every time, for ``model.fit``.

    Each epoch visits every image once in a new random order (when ``shuffle``); each
    image goes through ``pipeline`` when its batch is requested, so with a random
    pipeline no two epochs see the same pixels.

    Args:
        x: images, uint8 ``(n, H, W, C)``.
        y: targets ``(n, ...)`` (class ids or one-hot rows).
        pipeline: an albumentations transform that maps one image to an array.
        batch_size: images per batch; the last batch may be smaller.
        shuffle: reshuffle the order after every epoch (and before the first one).
        seed: seed of the shuffling order.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for PyDataset.

    Example:
        >>> data = AugmentedDataset(np.zeros((10, 32, 32, 3), np.uint8), np.arange(10),
        ...                         A.Compose([A.Normalize()]), batch_size=4)
        >>> len(data), data[0][0].shape, data[2][0].shape
        (3, (4, 32, 32, 3), (2, 32, 32, 3))
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        pipeline: A.BasicTransform | A.Compose,
        *,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if len(x) != len(y):
            raise ValueError(
                f"x and y must have the same length, got {len(x)} images and {len(y)} targets"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.x, self.y, self.pipeline = x, y, pipeline
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range: this dataset has {len(self)} batches")
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = np.stack([self.pipeline(image=self.x[i])["image"] for i in rows])
        return images, self.y[rows]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self.rng.permutation(len(self.x))

"""Deterministic generated data: shape scenes (images, masks, boxes) and a review corpus.

Nothing here pretends to be a real dataset: the class names describe what is drawn, and
the reviews are written from word lists. Same seed, same arrays, on every machine.
"""

from lablib.datasets.synthetic.reviews import make_review_corpus
from lablib.datasets.synthetic.scenes import (
    DET_CLASSES,
    SCENE_CLASSES,
    SEG_CLASSES,
    make_detection_scenes,
    make_scenes,
    make_segmentation_scenes,
)

__all__ = [
    "DET_CLASSES",
    "SCENE_CLASSES",
    "SEG_CLASSES",
    "make_detection_scenes",
    "make_review_corpus",
    "make_scenes",
    "make_segmentation_scenes",
]

"""Datasets: the real data when it can be had, honest fallbacks when not.

- :mod:`~lablib.datasets.loaders`: ``load_mnist()``, ``load_cifar10()``, ``load_imdb()``
  with the ``keras.datasets`` return contract, plus the digits and shape-scene sets.
- :mod:`~lablib.datasets.remote`: checksummed downloads into the Keras cache, the offline switch.
- :mod:`~lablib.datasets.fallback`: the files shipped in ``data/``, their manifest, their rebuild.
- :mod:`~lablib.datasets.synthetic`: the seeded generators behind the fallbacks.
"""

from lablib.datasets import synthetic as synthetic
from lablib.datasets.loaders import (
    CIFAR10_CLASSES,
    Loaded,
    imdb_word_index,
    load_cifar10,
    load_digits28,
    load_imdb,
    load_mnist,
    load_shapes_detection,
    load_shapes_segmentation,
)
from lablib.datasets.remote import DatasetError, data_mode

__all__ = [
    "CIFAR10_CLASSES",
    "DatasetError",
    "Loaded",
    "data_mode",
    "imdb_word_index",
    "load_cifar10",
    "load_digits28",
    "load_imdb",
    "load_mnist",
    "load_shapes_detection",
    "load_shapes_segmentation",
]

"""Argument checks and label helpers shared by the synthetic generators."""

from __future__ import annotations

import numpy as np

__all__ = ["balanced_labels", "check_count", "check_size"]


def check_count(n: int, name: str = "n") -> None:
    """Raise a readable error unless ``n`` is a non-negative integer."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(
            f"`{name}` must be a non-negative integer (number of examples), got {n!r}."
        )


def check_size(size: int, smallest: int) -> None:
    """Raise a readable error unless ``size`` is an integer of at least ``smallest``."""
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < smallest:
        raise ValueError(
            f"`size` must be an integer >= {smallest} (image side in pixels), got {size!r}."
        )


def balanced_labels(rng: np.random.Generator, n: int, n_classes: int) -> np.ndarray:
    """Shuffled labels with ``n // n_classes`` of each class, the remainder on random classes.

    Returns:
        int64 array of shape ``(n,)`` with values in ``0 .. n_classes - 1``.
    """
    labels = np.repeat(np.arange(n_classes), n // n_classes)
    extra = rng.choice(n_classes, size=n % n_classes, replace=False)
    labels = np.concatenate([labels, extra]).astype(np.int64)
    rng.shuffle(labels)
    return labels

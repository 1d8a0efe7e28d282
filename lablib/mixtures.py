"""Gaussians on a ring: the 2D toy data of GAN mode-collapse experiments (lab 16).

A standard toy of the GAN literature (e.g. Metz et al. 2017, *Unrolled Generative
Adversarial Networks*): eight small Gaussians whose centres sit evenly spaced on a circle.
The data has eight well-separated modes, so one can *count* what a generator learned: a
generator that puts samples on every mode has covered the data; one that puts them all on
one or two modes has collapsed.

- :func:`ring_centers`: the centres of the modes.
- :func:`sample_ring`: seeded samples of the mixture (equal weights).
- :func:`mode_coverage`: how many modes a set of samples covers, and how many of the
  samples are "high quality" (close to some mode).

These are data and a measurement for the lab, not exercises.

Example:
    >>> x = sample_ring(4000, seed=0)
    >>> x.shape, x.dtype.name
    ((4000, 2), 'float32')
    >>> mode_coverage(x)["covered"]
    8
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["mode_coverage", "ring_centers", "sample_ring"]


def ring_centers(n_modes: int = 8, *, radius: float = 2.0) -> np.ndarray:
    """The centres of the modes: ``n_modes`` points evenly spaced on a circle.

    Args:
        n_modes: number of Gaussians.
        radius: radius of the circle; the first centre is ``(radius, 0)``, the others follow
            counter-clockwise.

    Returns:
        float64 array ``(n_modes, 2)``.
    """
    if n_modes < 1:
        raise ValueError(f"n_modes must be at least 1, got {n_modes}")
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def sample_ring(
    n: int,
    *,
    n_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.02,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Draw ``n`` points of the ring mixture: a random mode (equal weights) plus Gaussian noise.

    Args:
        n: number of points.
        n_modes, radius: the ring (see :func:`ring_centers`).
        std: standard deviation of each Gaussian, the same along both axes.
        seed: an int or a NumPy ``Generator``; the same int gives the same points.

    Returns:
        float32 array ``(n, 2)``.
    """
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, n_modes, size=n)
    points = ring_centers(n_modes, radius=radius)[modes] + std * rng.normal(size=(n, 2))
    return points.astype(np.float32)


def mode_coverage(
    samples: Any,
    *,
    n_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.02,
    min_share: float = 0.01,
) -> dict[str, Any]:
    """Count the modes that ``samples`` cover.

    A sample is *high quality* when it lies within 3 ``std`` of the nearest centre (a sample
    of the true mixture does so with probability ``1 - exp(-9/2) = 0.989``). A mode is
    *covered* when at least ``min_share`` of all the samples are high-quality samples of that
    mode (an even spread puts ``1 / n_modes`` of them on each).

    Args:
        samples: array-like ``(n, 2)`` of generated points.
        n_modes, radius, std: the ring the samples should match.
        min_share: the share of the samples that a mode needs to count as covered.

    Returns:
        A dict with ``"covered"`` (int, number of covered modes), ``"counts"`` (list of
        ``n_modes`` ints, high-quality samples per mode), ``"high_quality"`` (float, share of
        the samples that are high quality) and ``"n"`` (number of samples).
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
        raise ValueError(f"mode_coverage needs samples of shape (n, 2) with n >= 1, got {x.shape}")
    centers = ring_centers(n_modes, radius=radius)
    distances = np.linalg.norm(x[:, None, :] - centers[None, :, :], axis=-1)  # (n, n_modes)
    nearest = distances.argmin(axis=1)
    good = distances.min(axis=1) <= 3 * std
    counts = np.bincount(nearest[good], minlength=n_modes)
    return {
        "covered": int(np.sum((counts > 0) & (counts >= min_share * len(x)))),
        "counts": [int(c) for c in counts],
        "high_quality": float(good.mean()),
        "n": len(x),
    }

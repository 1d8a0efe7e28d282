"""Profiles: one notebook, three sizes.

``LABLIB_PROFILE`` selects how big a lab runs:

* ``quick``: CI and autograding; tiny data, 1-2 epochs, well under a minute on 2 cores.
* ``standard``: a student's laptop (the default on CPU); a few minutes, reaches the
  lab's learning target.
* ``full``: the default when a GPU is visible (Colab); full datasets and epochs.

A lab declares its sizes once, per profile, in its setup call; :class:`LabConfig`
hands back the values of the active profile as attributes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

PROFILES = ("quick", "standard", "full")
ENV_VAR = "LABLIB_PROFILE"


class ProfileError(ValueError):
    """An unknown profile name, or a lab whose per-profile settings disagree."""


def gpu_visible() -> bool:
    """Return True when TensorFlow can see at least one GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def profile_name(
    environ: Mapping[str, str] | None = None, *, gpu: bool | None = None
) -> tuple[str, str]:
    """Pick the active profile.

    Args:
        environ: environment to read ``LABLIB_PROFILE`` from (default ``os.environ``).
        gpu: whether a GPU is visible; detected with TensorFlow when None and needed.

    Returns:
        ``(name, reason)``, e.g. ``("quick", "LABLIB_PROFILE")`` or
        ``("standard", "auto: no GPU")``.

    Raises:
        ProfileError: ``LABLIB_PROFILE`` names no known profile.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(ENV_VAR, "").strip()
    if raw:
        name = raw.lower()
        if name not in PROFILES:
            raise ProfileError(
                f"{ENV_VAR}={raw!r} is not a profile. Valid profiles: {', '.join(PROFILES)} "
                f"(or leave {ENV_VAR} unset to pick 'full' with a GPU, 'standard' without)."
            )
        return name, ENV_VAR
    if gpu is None:
        gpu = gpu_visible()
    return ("full", "auto: GPU visible") if gpu else ("standard", "auto: no GPU")


@dataclass(frozen=True)
class LabConfig:
    """The settings of one lab under the active profile.

    Attributes:
        lab: the lab's name, e.g. ``"01_convolution_filters"``.
        profile: ``"quick"``, ``"standard"`` or ``"full"``.
        values: the lab's settings for this profile (``cfg.epochs`` reads ``values["epochs"]``).

    Example:
        >>> cfg = LabConfig("07_mnist", "quick", {"epochs": 2})
        >>> cfg.epochs
        2
    """

    lab: str
    profile: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, key: str) -> Any:
        values = object.__getattribute__(self, "values")
        if key in values:
            return values[key]
        raise AttributeError(
            f"lab {self.lab!r} has no setting {key!r} in profile {self.profile!r}; "
            f"its settings are: {', '.join(sorted(values)) or '(none)'}"
        )

    @property
    def fit_verbose(self) -> int:
        """``verbose=`` for ``model.fit``: one line per epoch, except in the quick profile.

        Example:
            >>> LabConfig("08_x", "quick").fit_verbose, LabConfig("08_x", "standard").fit_verbose
            (0, 2)
        """
        return 0 if self.profile == "quick" else 2

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"LabConfig({self.lab}, profile={self.profile}: {settings})"


def select(profile: str, per_profile: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """Return the settings for ``profile`` after checking that all profiles agree on keys.

    Args:
        profile: the active profile name.
        per_profile: ``{"quick": {...}, "standard": {...}, "full": {...}}``; all None
            means the lab has no size settings.

    Raises:
        ProfileError: some profiles are missing or name different settings.
    """
    given = {name: dict(v) for name, v in per_profile.items() if v is not None}
    if not given:
        return {}
    missing = [name for name in PROFILES if name not in given]
    if missing:
        raise ProfileError(
            f"settings missing for profile(s) {', '.join(missing)}: "
            f"give all of {', '.join(PROFILES)}"
        )
    keys = {name: set(v) for name, v in given.items()}
    reference = keys["quick"]
    for name, k in keys.items():
        if k != reference:
            raise ProfileError(
                f"profile {name!r} names settings {sorted(k)} "
                f"but 'quick' names {sorted(reference)}; "
                "every profile must set the same names"
            )
    return given[profile]

"""The one call at the top of every lab: seeds, quiet logs, profile, one status line."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from typing import Any, Iterator, Mapping

from lablib import profiles
from lablib.course import LAB_NAME


def _quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ and Python log noise (set before TF is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r".*input_shape.*input_dim.*")


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (TensorFlow's C++ start-up
    messages about CUDA and absl ignore TF_CPP_MIN_LOG_LEVEL). Python exceptions are
    unaffected: they propagate as usual."""
    fd = 2  # the process's stderr, also inside Jupyter (ipykernel forwards it)
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    saved = os.dup(fd)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def describe_device() -> str:
    """Name the device Keras will train on: ``"GPU (NVIDIA ...)"`` or ``"CPU (2 cores)"``."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    tf.config.list_logical_devices()  # initialize the runtime now (CUDA probing logs here)
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})" + (
            f" x{len(gpus)}" if len(gpus) > 1 else ""
        )
    return f"CPU ({os.cpu_count()} cores)"


def setup(
    lab: str,
    *,
    quick: Mapping[str, Any] | None = None,
    standard: Mapping[str, Any] | None = None,
    full: Mapping[str, Any] | None = None,
    seed: int = 42,
    verbose: bool = True,
) -> profiles.LabConfig:
    """Prepare a lab: fix seeds, quiet TensorFlow, pick the profile, print one line.

    Args:
        lab: the lab's name, its file name without ``.ipynb`` (``"01_convolution_filters"``).
            The autograder recognizes a notebook by this name.
        quick, standard, full: the lab's sizes and epochs for each profile; every
            profile must set the same names. Read them back as ``cfg.name``.
        seed: seeds Python, NumPy and the Keras backend (``keras.utils.set_random_seed``).
        verbose: print the status line.

    Returns:
        The :class:`~lablib.profiles.LabConfig` of the active profile.

    Raises:
        ValueError: ``lab`` is not of the form ``NN_snake_case``.
        ProfileError: unknown ``LABLIB_PROFILE`` or inconsistent settings.

    Example:
        >>> cfg = setup("07_mnist_mlp_vs_cnn", quick=dict(epochs=1),
        ...             standard=dict(epochs=5), full=dict(epochs=15))
        lablib ... | 07_mnist_mlp_vs_cnn | profile ... | keras ... | device ... | data ...
        >>> cfg.epochs == {"quick": 1, "standard": 5, "full": 15}[cfg.profile]
        True
    """
    if not isinstance(lab, str) or not LAB_NAME.match(lab):
        raise ValueError(f"setup() needs the lab's name like '01_convolution_filters', got {lab!r}")
    _quiet_tensorflow()
    with _native_stderr_silenced():
        import keras
        import tensorflow as tf

        tf.get_logger().setLevel(logging.ERROR)  # e.g. retracing warnings
        tf.autograph.set_verbosity(0)
        device = describe_device()
    from lablib import __version__, datasets

    name, reason = profiles.profile_name(gpu=device.startswith("GPU"))
    values = profiles.select(name, {"quick": quick, "standard": standard, "full": full})
    with _native_stderr_silenced():
        keras.utils.set_random_seed(seed)
    if verbose:
        mode, why = datasets.data_mode()
        print(
            f"lablib {__version__} | {lab} | profile {name} ({reason}) | keras {keras.__version__} "
            f"({keras.backend.backend()} backend) | device {device} | data {mode} ({why})"
        )
    from lablib import feedback

    feedback.install()  # test cells say when they pass; failed checks show their sentence
    return profiles.LabConfig(lab, name, values)

"""Downloads into the Keras cache, checksummed; the offline switch.

:func:`fetch` returns the verified local path of one of :data:`REMOTES` (the same files
and checksums ``keras.datasets`` uses), downloading it into ``$KERAS_HOME/datasets``
(default ``~/.keras/datasets``) when it is not cached. ``LABLIB_OFFLINE=1`` forbids the
download. A cached file with a wrong checksum is never used: :class:`DatasetError` says
which file and what to do.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DatasetError",
    "OFFLINE_VAR",
    "REMOTES",
    "Remote",
    "cache_dir",
    "data_mode",
    "fetch",
    "file_digest",
    "offline",
    "verified",
]

OFFLINE_VAR = "LABLIB_OFFLINE"
_KERAS_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


class DatasetError(RuntimeError):
    """A dataset file is missing, corrupted or unreadable; the message says what to do."""


@dataclass(frozen=True)
class Remote:
    """One downloadable file: its name in the Keras cache, its URL and its checksum.

    ``file_hash`` is a sha256 (64 hex digits) or, where Keras itself only publishes one,
    an md5 (32 hex digits).
    """

    fname: str
    origin: str
    file_hash: str


# The same files and checksums that keras.datasets uses.
REMOTES = {
    "mnist": Remote(
        "mnist.npz",
        _KERAS_BASE + "mnist.npz",
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    ),
    "cifar10": Remote(
        "cifar-10-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    ),
    "imdb": Remote(
        "imdb.npz",
        _KERAS_BASE + "imdb.npz",
        "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
    ),
    "imdb_word_index": Remote(
        "imdb_word_index.json",
        _KERAS_BASE + "imdb_word_index.json",
        "bfafd718b763782e994055a2d397834f",
    ),  # md5, as in keras
    # Oxford-IIIT Pet (Parkhi et al., 2012), lab 13's full profile. No checksum from the dataset's
    # authors was found; these sha256 digests (sizes 791,918,971 and 19,173,078 bytes) are the ones
    # TensorFlow Datasets records for these two URLs (tensorflow/datasets,
    # tensorflow_datasets/datasets/oxford_iiit_pet/checksums.tsv); torchvision publishes md5
    # 5c4f3ee8e5d25df40f4fd59a7f44e54c (images) and 95a8c909bbe2e81eed6a22bccdf3f68f (annotations).
    # This package was written without network access and never downloaded the files itself: a
    # download that does not match is not used (the loader falls back and prints why), a cached
    # file that does not match raises DatasetError.
    "oxford_pets_images": Remote(
        "oxford_iiit_pet_images.tar.gz",
        "https://thor.robots.ox.ac.uk/~vgg/data/pets/images.tar.gz",
        "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
    ),
    "oxford_pets_annotations": Remote(
        "oxford_iiit_pet_annotations.tar.gz",
        "https://thor.robots.ox.ac.uk/~vgg/data/pets/annotations.tar.gz",
        "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
    ),
    # tf_flowers (the TensorFlow team's 3,670 Flickr photos of 5 flowers, CC-BY), lab 11's full
    # profile. The sha256 and size (228,813,984 bytes) are the ones TensorFlow Datasets records
    # for this file (tensorflow/datasets, tensorflow_datasets/url_checksums/tf_flowers.txt, URL
    # http://download.tensorflow.org/example_images/flower_photos.tgz); the TensorFlow tutorials
    # fetch it without a checksum. Not verified here against a download (this package was
    # written without network access): a download that does not match is not used (the loader
    # falls back and prints why), a cached file that does not match raises DatasetError.
    "flowers": Remote(
        "flower_photos.tgz",
        "https://download.tensorflow.org/example_images/flower_photos.tgz",
        "4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
    ),
}


def offline() -> bool:
    """True when ``LABLIB_OFFLINE`` is set to a true value (1, true, yes)."""
    return os.environ.get(OFFLINE_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def data_mode() -> tuple[str, str]:
    """Return ``(mode, reason)``: ``("offline", "LABLIB_OFFLINE=1")`` or ``("online", ...)``."""
    if offline():
        return "offline", f"{OFFLINE_VAR}=1: shipped fallbacks"
    return "online", f"real datasets when reachable, cached in {cache_dir()}"


def cache_dir() -> Path:
    """The Keras dataset cache: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest (sha256 by default) of a file, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, file_hash: str, what: str) -> Path:
    algorithm = "md5" if len(file_hash) == 32 else "sha256"
    actual = file_digest(path, algorithm)
    if actual != file_hash:
        raise DatasetError(
            f"{what}: the cached file {path} is corrupted ({algorithm} {actual[:12]}..., expected "
            f"{file_hash[:12]}...). Delete it and run again to download it afresh, or set "
            f"{OFFLINE_VAR}=1 to use the offline fallback."
        )
    return path


def fetch(key: str) -> Path:
    """Return the verified local path of remote file ``key``, downloading it if needed.

    Raises:
        DatasetError: the cached file is corrupted (never silently replaced or used).
        ConnectionError: offline mode, or the download failed (the caller falls back).
    """
    remote = REMOTES[key]
    path = cache_dir() / remote.fname
    if path.exists():
        return verified(path, remote.file_hash, key)
    if offline():
        raise ConnectionError(f"{OFFLINE_VAR}=1")
    import keras

    try:
        got = keras.utils.get_file(
            remote.fname,
            remote.origin,
            file_hash=remote.file_hash,
            cache_dir=str(cache_dir().parent),
            cache_subdir="datasets",
        )
    except Exception as exc:  # network errors come in many types; the fallback handles all
        raise ConnectionError(
            f"download of {remote.origin} failed: {str(exc).splitlines()[0][:120]}"
        ) from exc
    return verified(Path(got), remote.file_hash, key)

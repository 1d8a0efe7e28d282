"""Dataset loaders: the real data when it can be had, honest fallbacks when not.

``load_mnist()``, ``load_cifar10()`` and ``load_imdb()`` return exactly what
``keras.datasets.<name>.load_data()`` returns: ``(x_train, y_train), (x_test, y_test)``
with the same dtypes, shapes and value ranges.

Where the data comes from, in order:

1. the Keras cache (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``), when the
   file is there and its sha256 matches;
2. a download into that cache (checksummed), unless ``LABLIB_OFFLINE=1``;
3. a fallback that this package ships in ``data/`` (rebuilt by ``lablib data``):
   MNIST -> scikit-learn's 1,797 real handwritten digits at 28x28; CIFAR-10 -> generated
   32x32 shape scenes in 10 classes; IMDB -> a generated review corpus with IMDB's
   encoding. The loader prints one line naming what it uses and why.

A cached file whose checksum is wrong is never used: :class:`DatasetError` says which
file and what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lablib import datafiles, generated

__all__ = [
    "DatasetError",
    "data_mode",
    "load_mnist",
    "load_cifar10",
    "load_imdb",
    "load_digits28",
    "load_shapes_segmentation",
    "load_shapes_detection",
    "CIFAR10_CLASSES",
    "last_source",
]

OFFLINE_VAR = "LABLIB_OFFLINE"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
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
    "mnist": Remote("mnist.npz", _KERAS_BASE + "mnist.npz",
                    "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
    "cifar10": Remote("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                      "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),
    "imdb": Remote("imdb.npz", _KERAS_BASE + "imdb.npz",
                   "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"),
    "imdb_word_index": Remote("imdb_word_index.json", _KERAS_BASE + "imdb_word_index.json",
                              "bfafd718b763782e994055a2d397834f"),  # md5, as in keras
}

#: What the last loader call used, per dataset: ``{"mnist": "real (Keras cache)", ...}``.
last_source: dict[str, str] = {}


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


def _verified(path: Path, file_hash: str, what: str) -> Path:
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
        return _verified(path, remote.file_hash, key)
    if offline():
        raise ConnectionError(f"{OFFLINE_VAR}=1")
    import keras

    try:
        got = keras.utils.get_file(remote.fname, remote.origin, file_hash=remote.file_hash,
                                   cache_dir=str(cache_dir().parent), cache_subdir="datasets")
    except Exception as exc:  # network errors come in many types; the fallback handles all
        raise ConnectionError(f"download of {remote.origin} failed: {str(exc).splitlines()[0][:120]}") from exc
    return _verified(Path(got), remote.file_hash, key)


def _note(name: str, source: str, why: str = "") -> None:
    last_source[name] = source
    print(f"lablib.datasets: {name}: {source}" + (f" ({why})" if why else ""))


def _fallback_reason(exc: ConnectionError) -> str:
    return f"real data unavailable: {exc}"


def _real_or_fallback(name: str, load_real, load_fallback):
    """Try the real loader; on ConnectionError (offline, no network) use the fallback."""
    try:
        data, source = load_real()
    except ConnectionError as exc:
        data, source = load_fallback()
        _note(name, source, _fallback_reason(exc))
        return data
    _note(name, source)
    return data


def load_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST handwritten digits, as ``keras.datasets.mnist.load_data()`` returns them.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 ``(n, 28, 28)`` in [0, 255],
        labels uint8 ``(n,)`` in 0..9. Real MNIST has 60,000 / 10,000 images; the offline
        fallback (scikit-learn's real handwritten digits, upscaled) has 1,347 / 450.
    """

    def real():
        with np.load(fetch("mnist"), allow_pickle=False) as f:
            data = (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
        return data, f"real MNIST, {len(data[0][0]):,} train / {len(data[1][0]):,} test"

    def fallback():
        return load_digits28(), ("fallback: scikit-learn's 1,797 real handwritten digits (8x8, "
                                 "upscaled to 28x28), 1,347 train / 450 test; not MNIST")

    return _real_or_fallback("mnist", real, fallback)


def load_digits28() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's 1,797 handwritten digits at MNIST's format (shipped in ``data/``).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 ``(n, 28, 28)`` in [0, 255] and
        uint8 labels ``(n,)``; a stratified 1,347 / 450 split.
    """
    f = datafiles.load("digits28")
    return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_cifar_archive(path: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Parse ``cifar-10-python.tar.gz`` (already checksummed) into Keras's layout."""
    batches: dict[str, dict[bytes, Any]] = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            base = os.path.basename(member.name)
            if base.startswith(("data_batch_", "test_batch")):
                batches[base] = pickle.load(tar.extractfile(member), encoding="bytes")  # noqa: S301

    def stack(names):
        x = np.concatenate([batches[n][b"data"] for n in names]).reshape(-1, 3, 32, 32)
        y = np.concatenate([batches[n][b"labels"] for n in names]).astype("uint8")
        return x.transpose(0, 2, 3, 1).astype("uint8"), y.reshape(-1, 1)

    return stack([f"data_batch_{i}" for i in range(1, 6)]), stack(["test_batch"])


def load_cifar10() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """CIFAR-10, as ``keras.datasets.cifar10.load_data()`` returns it.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 ``(n, 32, 32, 3)`` in
        [0, 255], labels uint8 ``(n, 1)`` in 0..9. Class names: :data:`CIFAR10_CLASSES`
        for the real data, ``lablib.generated.SCENE_CLASSES`` for the offline fallback
        (generated shape scenes; :func:`class_names` picks the right list).
    """

    def real():
        data = _read_cifar_archive(fetch("cifar10"))
        return data, f"real CIFAR-10, {len(data[0][0]):,} train / {len(data[1][0]):,} test"

    def fallback():
        f = datafiles.load("scenes32")
        n_train, n_test = len(f["y_train"]), len(f["y_test"])
        return ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])), (
            f"fallback: generated 32x32 shape scenes in 10 classes, {n_train:,} train / "
            f"{n_test:,} test; not CIFAR-10")

    return _real_or_fallback("cifar10", real, fallback)


def class_names(name: str) -> tuple[str, ...]:
    """Class names for the data the last ``load_<name>()`` call returned (real or fallback)."""
    fallback = last_source.get(name, "").startswith("fallback")
    if name == "cifar10":
        return generated.SCENE_CLASSES if fallback else CIFAR10_CLASSES
    if name == "mnist":
        return tuple(str(d) for d in range(10))
    raise ValueError(f"no class names for {name!r}; known: 'cifar10', 'mnist'")


def imdb_encode(train, test, *, num_words=None, skip_top=0, seed=113, start_char=1,
                oov_char=2, index_from=3):
    """Apply ``keras.datasets.imdb.load_data``'s conventions to raw rank sequences.

    Args:
        train, test: ``(sequences, labels)`` with word ranks (1 = most frequent word).
        num_words, skip_top, seed, start_char, oov_char, index_from: as in Keras.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` with object arrays of lists, like Keras.
    """
    rng = np.random.RandomState(seed)
    parts = []
    for seqs, labels in (train, test):
        order = np.arange(len(seqs))
        rng.shuffle(order)
        parts.append(([[start_char] + [w + index_from for w in seqs[i]] for i in order], np.asarray(labels)[order]))
    xs = parts[0][0] + parts[1][0]
    if not num_words:
        num_words = max(max(x) for x in xs)
    xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    n = len(parts[0][0])
    as_objects = lambda seqs: np.array(seqs + [None], dtype="object")[:-1]  # noqa: E731 (keep lists)
    return (as_objects(xs[:n]), parts[0][1]), (as_objects(xs[n:]), parts[1][1])


def load_imdb(*, num_words: int | None = None, skip_top: int = 0, seed: int = 113,
              start_char: int = 1, oov_char: int = 2, index_from: int = 3):
    """IMDB movie reviews, as ``keras.datasets.imdb.load_data(...)`` returns them.

    Args:
        num_words: keep the ``num_words`` most frequent words, others become ``oov_char``.
        skip_top, seed, start_char, oov_char, index_from: Keras's conventions.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: object arrays of int lists, each review
        starting with ``start_char`` (1), out-of-vocabulary words as ``oov_char`` (2),
        word ranks offset by ``index_from`` (3); labels int64 0/1. Real IMDB has 25,000 /
        25,000 reviews; the offline fallback is a generated corpus (see
        ``lablib.generated.make_review_corpus``). :func:`imdb_word_index` matches it.
    """
    options = dict(num_words=num_words, skip_top=skip_top, seed=seed, start_char=start_char,
                   oov_char=oov_char, index_from=index_from)

    def real():
        with np.load(fetch("imdb"), allow_pickle=True) as f:  # checksummed file from Keras's bucket
            raw = (list(f["x_train"]), f["y_train"]), (list(f["x_test"]), f["y_test"])
        return imdb_encode(*raw, **options), (
            f"real IMDB, {len(raw[0][0]):,} train / {len(raw[1][0]):,} test reviews")

    def fallback():
        raw = datafiles.load_reviews()
        n_train, n_test = len(raw[0][0]), len(raw[1][0])
        return imdb_encode(*raw, **options), (
            f"fallback: generated movie-review corpus with IMDB's encoding, {n_train:,} train / "
            f"{n_test:,} test; not IMDB")

    return _real_or_fallback("imdb", real, fallback)


def imdb_word_index() -> dict[str, int]:
    """Word -> rank for the data :func:`load_imdb` last returned (real or fallback)."""
    if last_source.get("imdb", "").startswith("fallback"):
        return datafiles.load_reviews_word_index()
    with open(fetch("imdb_word_index"), encoding="utf-8") as f:
        return json.load(f)


def load_shapes_segmentation(n: int = 200, *, size: int = 64, seed: int = 0):
    """Generated scenes with per-pixel masks (``lablib.generated.make_segmentation_scenes``)."""
    return generated.make_segmentation_scenes(n, size=size, seed=seed)


def load_shapes_detection(n: int = 200, *, size: int = 64, seed: int = 0):
    """Generated scenes with boxes and labels (``lablib.generated.make_detection_scenes``)."""
    return generated.make_detection_scenes(n, size=size, seed=seed)

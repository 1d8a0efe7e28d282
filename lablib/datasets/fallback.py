"""The offline fallback files in ``data/``: build them reproducibly, verify, load.

``lablib data`` (``make data``) rebuilds every file from its source (scikit-learn's
digits, lablib.datasets.synthetic) byte for byte, and rewrites ``data/MANIFEST.sha256``.
Loading checks a file's sha256 against the manifest first, so a corrupted or stale file is
reported instead of used.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from lablib.datasets.remote import file_digest

__all__ = [
    "DataFileError",
    "data_dir",
    "build_all",
    "verify",
    "load",
    "load_reviews",
    "load_reviews_word_index",
]

MANIFEST = "MANIFEST.sha256"
_REBUILD = "run `lablib data` to rebuild it (it writes to {})"
SCENES_TRAIN, SCENES_TEST = 3000, 600
REVIEWS_TRAIN, REVIEWS_TEST = 5000, 5000


class DataFileError(RuntimeError):
    """A fallback file is missing or does not match the manifest."""


def shipped_dir() -> Path:
    """The fallback files installed with lablib: ``lablib/data/`` in a wheel or a non-editable
    install (pyproject.toml maps ``data/`` there), the repository's ``data/`` in a checkout."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "data"
    return installed if (installed / MANIFEST).exists() else package.parent / "data"


def user_dir() -> Path:
    """Where ``lablib data`` rebuilds the files outside a checkout: ``$KERAS_HOME/lablib-data``
    (default ``~/.keras/lablib-data``), never site-packages."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "lablib-data"


def in_checkout() -> bool:
    """True when lablib runs from a source checkout (its ``data/`` sits beside pyproject.toml)."""
    return (Path(__file__).resolve().parents[2] / "pyproject.toml").exists()


def data_dir() -> Path:
    """Where the fallback files are read: ``$LABLIB_DATA`` if set; else a copy rebuilt by
    ``lablib data`` in :func:`user_dir`, if there is one; else the files installed with the
    package (:func:`shipped_dir`)."""
    if os.environ.get("LABLIB_DATA"):
        return Path(os.environ["LABLIB_DATA"])
    if not in_checkout() and (user_dir() / MANIFEST).exists():
        return user_dir()
    return shipped_dir()


def rebuild_dir() -> Path:
    """Where ``lablib data`` writes by default: ``$LABLIB_DATA``, else the checkout's ``data/``,
    else :func:`user_dir` (an installed package is never rewritten in place)."""
    if os.environ.get("LABLIB_DATA"):
        return Path(os.environ["LABLIB_DATA"])
    return shipped_dir() if in_checkout() else user_dir()


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but byte-reproducible (fixed zip timestamps)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def _build_digits28(out: Path) -> None:
    """scikit-learn's 8x8 digits -> 20x20 glyph centred in 28x28, like MNIST's layout."""
    from skimage.transform import resize
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    small = digits.images / 16.0  # (1797, 8, 8) in [0, 1]
    big = np.stack([resize(im, (20, 20), order=1, anti_aliasing=False) for im in small])
    x = np.zeros((len(big), 28, 28), dtype="uint8")
    x[:, 4:24, 4:24] = np.clip(np.round(big * 255), 0, 255).astype("uint8")
    y = digits.target.astype("uint8")
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=450, stratify=y, random_state=0)
    _write_npz(
        out / "digits28.npz", {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
    )


def _build_scenes32(out: Path) -> None:
    from lablib.datasets import synthetic

    x, y = synthetic.make_scenes(SCENES_TRAIN + SCENES_TEST, size=32, seed=2024)
    y = y.reshape(-1, 1).astype("uint8")  # CIFAR-10 layout: (n, 1)
    _write_npz(
        out / "scenes32.npz",
        {
            "x_train": x[:SCENES_TRAIN],
            "y_train": y[:SCENES_TRAIN],
            "x_test": x[SCENES_TRAIN:],
            "y_test": y[SCENES_TRAIN:],
        },
    )


def _build_reviews(out: Path) -> None:
    from lablib.datasets import synthetic

    (tr, y_tr), (te, y_te), word_index = synthetic.make_review_corpus(
        REVIEWS_TRAIN, REVIEWS_TEST, seed=2024
    )
    arrays = {"y_train": np.asarray(y_tr, "int64"), "y_test": np.asarray(y_te, "int64")}
    for split, seqs in (("train", tr), ("test", te)):
        arrays[f"{split}_words"] = np.concatenate([np.asarray(s, "int32") for s in seqs])
        arrays[f"{split}_lengths"] = np.asarray([len(s) for s in seqs], "int32")
    _write_npz(out / "reviews.npz", arrays)
    text = json.dumps(word_index, sort_keys=True, separators=(",", ":"))
    (out / "reviews_word_index.json").write_text(text, encoding="utf-8")


def _build_scenes_backbone(out: Path) -> None:
    """Lab 11's backbone, retrained on the source classes of the generated scenes (minutes)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # as in lablib.setup: plain TF kernels
    from lablib import pretrained

    backbone, record = pretrained.train_scenes_backbone()
    _write_npz(out / pretrained.BACKBONE_FILE, pretrained.backbone_arrays(backbone, record))


BUILDERS: dict[str, tuple[tuple[str, ...], Callable[[Path], None]]] = {
    "digits28": (("digits28.npz",), _build_digits28),
    "scenes32": (("scenes32.npz",), _build_scenes32),
    "reviews": (("reviews.npz", "reviews_word_index.json"), _build_reviews),
    "scenes_backbone": (("scenes_backbone.npz",), _build_scenes_backbone),
}


def build_all(out: Path | None = None, only: list[str] | None = None) -> list[Path]:
    """Rebuild the fallback files (all, or ``only`` those named) and the manifest.

    Returns:
        The paths written.
    """
    out = Path(out or rebuild_dir())
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (files, build) in BUILDERS.items():
        if only and name not in only:
            continue
        build(out)
        written += [out / f for f in files]
    files = sorted(f for files, _ in BUILDERS.values() for f in files if (out / f).exists())
    (out / MANIFEST).write_text("".join(f"{file_digest(out / f)}  {f}\n" for f in files))
    return written


def manifest(directory: Path | None = None) -> dict[str, str]:
    """``{file name: sha256}`` from ``MANIFEST.sha256``."""
    path = Path(directory or data_dir()) / MANIFEST
    if not path.exists():
        raise DataFileError(f"{path} is missing: {_REBUILD.format(rebuild_dir())}")
    return {
        name: digest
        for digest, name in (line.split(None, 1) for line in path.read_text().splitlines() if line)
    }


def verify(name: str, directory: Path | None = None) -> Path:
    """Return the path of fallback file ``name`` after checking it against the manifest.

    Raises:
        DataFileError: the file is missing, not in the manifest, or its sha256 differs.
    """
    directory = Path(directory or data_dir())
    path = directory / name
    expected = manifest(directory).get(name)
    if not path.exists():
        raise DataFileError(f"fallback file {path} is missing: {_REBUILD.format(rebuild_dir())}")
    if expected is None:
        raise DataFileError(
            f"{name} is not listed in {directory / MANIFEST}: {_REBUILD.format(rebuild_dir())}"
        )
    actual = file_digest(path)
    if actual != expected:
        raise DataFileError(
            f"fallback file {path} is corrupted or stale (sha256 {actual[:12]}..., manifest says "
            f"{expected[:12]}...): {_REBUILD.format(rebuild_dir())}"
        )
    return path


def load(stem: str) -> dict[str, np.ndarray]:
    """Load ``data/<stem>.npz`` after verifying it, as a dict of arrays."""
    with np.load(verify(f"{stem}.npz"), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def load_reviews():
    """The generated review corpus as raw ranks: ``(train_seqs, y_train), (test_seqs, y_test)``."""
    f = load("reviews")
    out = []
    for split in ("train", "test"):
        bounds = np.cumsum(f[f"{split}_lengths"])[:-1]
        seqs = [s.tolist() for s in np.split(f[f"{split}_words"], bounds)]
        out.append((seqs, f[f"y_{split}"]))
    return tuple(out)


def load_reviews_word_index() -> dict[str, int]:
    """Word -> rank of the generated review corpus."""
    return json.loads(verify("reviews_word_index.json").read_text(encoding="utf-8"))

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

import io
import json
import os
import pickle
import tarfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lablib.datasets import fallback as shipped
from lablib.datasets import synthetic
from lablib.datasets.remote import DatasetError, fetch

__all__ = [
    "CIFAR10_CLASSES",
    "FLOWERS_CLASSES",
    "Loaded",
    "imdb_word_index",
    "load_cifar10",
    "load_digits28",
    "load_flowers",
    "load_imdb",
    "load_mnist",
    "load_oxford_pets",
    "load_shapes_detection",
    "load_shapes_segmentation",
    "PETS_CLASSES",
    "read_flowers",
    "read_oxford_pets",
]

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


class Loaded(tuple):
    """What a loader returns: the ``keras.datasets`` tuple, plus where the data came from.

    It unpacks like Keras's result, ``(x_train, y_train), (x_test, y_test) = load_mnist()``,
    and, like scikit-learn's ``Bunch.DESCR``, describes itself:

    Attributes:
        name: the dataset asked for (``"mnist"``, ``"cifar10"``, ``"imdb"``).
        real: True for the real dataset, False for an offline fallback.
        source: one line naming the data actually returned (and "not X" for a fallback).
        class_names: the names of the label values, for the data actually returned.
        DESCR: ``source``, plus why a fallback was used.
    """

    name: str
    real: bool
    source: str
    class_names: tuple[str, ...]
    DESCR: str

    def __new__(
        cls,
        data: tuple,
        *,
        name: str,
        real: bool,
        source: str,
        class_names: tuple[str, ...] = (),
        why: str = "",
    ) -> Loaded:
        self = super().__new__(cls, data)
        self.name, self.real, self.source, self.class_names = name, real, source, tuple(class_names)
        self.DESCR = source + (f" ({why})" if why else "")
        return self

    def __getnewargs_ex__(self):  # pickling keeps the description
        return (tuple(self),), dict(
            name=self.name, real=self.real, source=self.source, class_names=self.class_names
        )


Loader = Callable[[], tuple[tuple, str, tuple[str, ...]]]


def _real_or_fallback(name: str, load_real: Loader, load_fallback: Loader) -> Loaded:
    """Try the real loader; on ConnectionError (offline, no network) use the fallback."""
    try:
        data, source, names = load_real()
        loaded = Loaded(data, name=name, real=True, source=source, class_names=names)
    except ConnectionError as exc:
        data, source, names = load_fallback()
        loaded = Loaded(
            data,
            name=name,
            real=False,
            source=source,
            class_names=names,
            why=f"real data unavailable: {exc}",
        )
    print(f"lablib.datasets: {name}: {loaded.DESCR}")
    return loaded


_DIGIT_NAMES = tuple(str(d) for d in range(10))
_SENTIMENTS = ("negative", "positive")


def load_mnist() -> Loaded:
    """MNIST handwritten digits, as ``keras.datasets.mnist.load_data()`` returns them.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 ``(n, 28, 28)`` in [0, 255],
        labels uint8 ``(n,)`` in 0..9. Real MNIST has 60,000 / 10,000 images; the offline
        fallback (scikit-learn's real handwritten digits, upscaled) has 1,347 / 450.
    """

    def real():
        with np.load(fetch("mnist"), allow_pickle=False) as f:
            data = (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
        return (
            data,
            f"real MNIST, {len(data[0][0]):,} train / {len(data[1][0]):,} test",
            _DIGIT_NAMES,
        )

    def fallback():
        return (
            load_digits28(),
            (
                "fallback: scikit-learn's 1,797 real handwritten digits (8x8, "
                "upscaled to 28x28), 1,347 train / 450 test; not MNIST"
            ),
            _DIGIT_NAMES,
        )

    return _real_or_fallback("mnist", real, fallback)


def load_digits28() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's 1,797 handwritten digits at MNIST's format (shipped in ``data/``).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 ``(n, 28, 28)`` in [0, 255] and
        uint8 labels ``(n,)``; a stratified 1,347 / 450 split.
    """
    f = shipped.load("digits28")
    return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_cifar_archive(
    path: Path,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
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


def load_cifar10() -> Loaded:
    """CIFAR-10, as ``keras.datasets.cifar10.load_data()`` returns it.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 ``(n, 32, 32, 3)`` in
        [0, 255], labels uint8 ``(n, 1)`` in 0..9. ``.class_names`` is :data:`CIFAR10_CLASSES`
        for the real data, ``synthetic.SCENE_CLASSES`` for the offline fallback (generated
        shape scenes).
    """

    def real():
        data = _read_cifar_archive(fetch("cifar10"))
        return (
            data,
            f"real CIFAR-10, {len(data[0][0]):,} train / {len(data[1][0]):,} test",
            CIFAR10_CLASSES,
        )

    def fallback():
        f = shipped.load("scenes32")
        n_train, n_test = len(f["y_train"]), len(f["y_test"])
        return (
            ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])),
            (
                f"fallback: generated 32x32 shape scenes in 10 classes, {n_train:,} train / "
                f"{n_test:,} test; not CIFAR-10"
            ),
            synthetic.SCENE_CLASSES,
        )

    return _real_or_fallback("cifar10", real, fallback)


def imdb_encode(
    train, test, *, num_words=None, skip_top=0, seed=113, start_char=1, oov_char=2, index_from=3
):
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
        parts.append(
            (
                [[start_char] + [w + index_from for w in seqs[i]] for i in order],
                np.asarray(labels)[order],
            )
        )
    xs = parts[0][0] + parts[1][0]
    if not num_words:
        num_words = max(max(x) for x in xs)
    xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    n = len(parts[0][0])
    as_objects = lambda seqs: np.array(seqs + [None], dtype="object")[:-1]  # noqa: E731 (keep lists)
    return (as_objects(xs[:n]), parts[0][1]), (as_objects(xs[n:]), parts[1][1])


def load_imdb(
    *,
    num_words: int | None = None,
    skip_top: int = 0,
    seed: int = 113,
    start_char: int = 1,
    oov_char: int = 2,
    index_from: int = 3,
) -> Loaded:
    """IMDB movie reviews, as ``keras.datasets.imdb.load_data(...)`` returns them.

    Args:
        num_words: keep the ``num_words`` most frequent words, others become ``oov_char``.
        skip_top, seed, start_char, oov_char, index_from: Keras's conventions.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: object arrays of int lists, each review
        starting with ``start_char`` (1), out-of-vocabulary words as ``oov_char`` (2),
        word ranks offset by ``index_from`` (3); labels int64 0/1. Real IMDB has 25,000 /
        25,000 reviews; the offline fallback is a generated corpus (see
        ``synthetic.make_review_corpus``). :func:`imdb_word_index` gives its word index.
    """
    options = dict(
        num_words=num_words,
        skip_top=skip_top,
        seed=seed,
        start_char=start_char,
        oov_char=oov_char,
        index_from=index_from,
    )

    def real():
        with np.load(fetch("imdb"), allow_pickle=True) as f:  # checksummed file from Keras's bucket
            raw = (list(f["x_train"]), f["y_train"]), (list(f["x_test"]), f["y_test"])
        return (
            imdb_encode(*raw, **options),
            (f"real IMDB, {len(raw[0][0]):,} train / {len(raw[1][0]):,} test reviews"),
            _SENTIMENTS,
        )

    def fallback():
        raw = shipped.load_reviews()
        n_train, n_test = len(raw[0][0]), len(raw[1][0])
        return (
            imdb_encode(*raw, **options),
            (
                "fallback: generated movie-review corpus with IMDB's encoding, "
                f"{n_train:,} train / {n_test:,} test; not IMDB"
            ),
            _SENTIMENTS,
        )

    return _real_or_fallback("imdb", real, fallback)


def imdb_word_index(data: Loaded) -> dict[str, int]:
    """Word -> rank for ``data``, a :func:`load_imdb` result (real IMDB or the fallback corpus).

    Raises:
        TypeError: ``data`` is not what :func:`load_imdb` returned.
    """
    if not isinstance(data, Loaded) or data.name != "imdb":
        raise TypeError(
            f"imdb_word_index(data) takes the result of load_imdb(), got {type(data).__name__}"
        )
    if not data.real:
        return shipped.load_reviews_word_index()
    with open(fetch("imdb_word_index"), encoding="utf-8") as f:
        return json.load(f)


def load_shapes_segmentation(n: int = 200, *, size: int = 64, seed: int = 0):
    """Generated scenes with per-pixel masks (``synthetic.make_segmentation_scenes``)."""
    return synthetic.make_segmentation_scenes(n, size=size, seed=seed)


def load_shapes_detection(n: int = 200, *, size: int = 64, seed: int = 0):
    """Generated scenes with boxes and labels (``synthetic.make_detection_scenes``)."""
    return synthetic.make_detection_scenes(n, size=size, seed=seed)


# --- Oxford-IIIT Pet (lab 13, full profile) ------------------------------------------------

PETS_CLASSES = ("background", "pet", "border")
# The trimaps store 1 = pet, 2 = background, 3 = border (not classified); the course keeps
# class 0 for the background, as in the generated scenes.
_TRIMAP_TO_CLASS = np.array([0, 1, 0, 2], dtype=np.uint8)


def _pets_split(tar: tarfile.TarFile, split: str) -> list[str]:
    """Image ids listed in ``annotations/{split}.txt`` (lines ``id class species breed``)."""
    member = next(
        (m for m in tar.getmembers() if m.name.endswith(f"annotations/{split}.txt")), None
    )
    if member is None:
        raise DatasetError(f"Oxford-IIIT Pet: annotations archive {tar.name} has no {split}.txt")
    lines = tar.extractfile(member).read().decode("utf-8").splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


def _read_members(path: Path, wanted: dict[str, str]) -> dict[str, bytes]:
    """Bytes of the archive members whose names end with a key of ``wanted``, by its value."""
    found: dict[str, bytes] = {}
    with tarfile.open(path, "r:*") as tar:  # plain tar or gzip, whatever the suffix says
        for member in tar:
            suffix = "/".join(member.name.split("/")[-2:])
            if member.isfile() and suffix in wanted:
                found[wanted[suffix]] = tar.extractfile(member).read()
    missing = sorted(set(wanted.values()) - set(found))
    if missing:
        raise DatasetError(
            f"Oxford-IIIT Pet: {path} lacks {len(missing)} listed files, e.g. {missing[:3]}"
        )
    return found


def read_oxford_pets(
    images_archive: Path,
    annotations_archive: Path,
    *,
    size: int = 128,
    n_train: int | None = None,
    n_test: int | None = None,
):
    """Read the Oxford-IIIT Pet archives (``images.tar.gz``, ``annotations.tar.gz``) into arrays.

    The split is the dataset's own: ``trainval.txt`` (3,680 images) for training and
    ``test.txt`` (3,669) for testing, the first ``n_train`` / ``n_test`` ids of each list.
    Images are converted to RGB and resized to ``size x size`` (bilinear, aspect ratio not
    kept, as in the keras-io example); trimaps are resized with nearest neighbour and
    mapped to :data:`PETS_CLASSES` (0 background, 1 pet, 2 border).

    Args:
        images_archive, annotations_archive: paths of the two archives (tar or tar.gz).
        size: output height and width in pixels.
        n_train, n_test: how many images of each split (None: all).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 ``(n, size, size, 3)`` in
        [0, 255], masks uint8 ``(n, size, size)`` in 0..2.

    Raises:
        DatasetError: a split list or a listed file is missing from the archives.
    """
    from PIL import Image

    with tarfile.open(annotations_archive, "r:*") as tar:
        ids = {split: _pets_split(tar, split) for split in ("trainval", "test")}
    ids["trainval"], ids["test"] = ids["trainval"][:n_train], ids["test"][:n_test]
    all_ids = ids["trainval"] + ids["test"]
    jpegs = _read_members(images_archive, {f"images/{i}.jpg": i for i in all_ids})
    trimaps = _read_members(annotations_archive, {f"trimaps/{i}.png": i for i in all_ids})

    def arrays(split_ids):
        x = np.empty((len(split_ids), size, size, 3), dtype=np.uint8)
        y = np.empty((len(split_ids), size, size), dtype=np.uint8)
        for k, i in enumerate(split_ids):
            image = Image.open(io.BytesIO(jpegs[i])).convert("RGB")
            x[k] = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR))
            trimap = Image.open(io.BytesIO(trimaps[i]))
            trimap = trimap.resize((size, size), Image.Resampling.NEAREST)
            y[k] = _TRIMAP_TO_CLASS[np.clip(np.asarray(trimap), 0, 3)]
        return x, y

    return arrays(ids["trainval"]), arrays(ids["test"])


def load_oxford_pets(
    *, size: int = 128, n_train: int | None = None, n_test: int | None = None
) -> Loaded:
    """Oxford-IIIT Pet images with pet / background / border masks, or the generated scenes.

    Online, the two archives (about 755 MiB and 18 MiB) are downloaded once into the Keras
    cache and checked against the sha256 that TensorFlow Datasets publishes (see
    ``remote.REMOTES``); :func:`read_oxford_pets` turns them into arrays. Offline, or when
    a download fails, the fallback is the generated segmentation scenes
    (``synthetic.make_segmentation_scenes``, train seed 0, test seed 1): other classes,
    and ``.class_names`` says which.

    Args:
        size: image height and width in pixels (at least 16).
        n_train, n_test: images per split (None: all of the real data; 1,000 and 200
            generated scenes for the fallback).

    Returns:
        A :class:`Loaded` ``(x_train, y_train), (x_test, y_test)``: images uint8
        ``(n, size, size, 3)``, masks uint8 ``(n, size, size)`` indexing ``.class_names``
        (:data:`PETS_CLASSES` for the real data, ``synthetic.SEG_CLASSES`` for the
        fallback; class 0 is the background in both).
    """

    def real():
        images, annotations = fetch("oxford_pets_images"), fetch("oxford_pets_annotations")
        data = read_oxford_pets(images, annotations, size=size, n_train=n_train, n_test=n_test)
        return (
            data,
            (
                f"real Oxford-IIIT Pet, {len(data[0][0]):,} train / {len(data[1][0]):,} "
                f"test, resized to {size}x{size}"
            ),
            PETS_CLASSES,
        )

    def fallback():
        n_tr, n_te = n_train or 1000, n_test or 200
        train = synthetic.make_segmentation_scenes(n_tr, size=size, seed=0)
        test = synthetic.make_segmentation_scenes(n_te, size=size, seed=1)
        return (
            (train, test),
            (
                f"fallback: generated {size}x{size} scenes of circles, squares and "
                f"triangles, {n_tr:,} train / {n_te:,} test; not Oxford-IIIT Pet"
            ),
            synthetic.SEG_CLASSES,
        )

    return _real_or_fallback("oxford_pets", real, fallback)


# --- tf_flowers (lab 11, full profile) -----------------------------------------------------

FLOWERS_CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


def read_flowers(archive: Path, *, size: int = 160, test_fraction: float = 0.2, seed: int = 0):
    """Read ``flower_photos.tgz`` (``flower_photos/<class>/<name>.jpg``) into arrays.

    The archive has no split of its own: each class's photos, sorted by file name, are
    shuffled with ``np.random.default_rng(seed)`` and the last ``round(test_fraction * n)``
    go to the test set (a stratified split, the same on every machine). Photos are converted
    to RGB and resized to ``size x size`` (bilinear, aspect ratio not kept, as
    ``keras.utils.image_dataset_from_directory`` does by default).

    Args:
        archive: path of ``flower_photos.tgz`` (tar or tar.gz).
        size: output height and width in pixels.
        test_fraction: share of each class held out for testing.
        seed: seed of the split.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 ``(n, size, size, 3)`` in
        [0, 255], labels uint8 ``(n,)`` indexing :data:`FLOWERS_CLASSES`.

    Raises:
        DatasetError: a class folder is missing or empty.
    """
    from PIL import Image

    photos: dict[str, list[tuple[str, bytes]]] = {name: [] for name in FLOWERS_CLASSES}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            parts = member.name.split("/")
            if (
                member.isfile()
                and len(parts) >= 2
                and parts[-2] in photos
                and parts[-1].lower().endswith(".jpg")
            ):
                photos[parts[-2]].append((parts[-1], tar.extractfile(member).read()))
    empty = [name for name, files in photos.items() if not files]
    if empty:
        raise DatasetError(f"tf_flowers: {archive} has no photos of {empty}")
    rng = np.random.default_rng(seed)
    split: dict[str, list[tuple[bytes, int]]] = {"train": [], "test": []}
    for label, name in enumerate(FLOWERS_CLASSES):
        files = [blob for _, blob in sorted(photos[name])]
        order = rng.permutation(len(files))
        n_test = int(round(test_fraction * len(files)))
        split["train"] += [(files[i], label) for i in order[: len(files) - n_test]]
        split["test"] += [(files[i], label) for i in order[len(files) - n_test :]]

    def arrays(items):
        x = np.empty((len(items), size, size, 3), dtype=np.uint8)
        for k, (blob, _) in enumerate(items):
            image = Image.open(io.BytesIO(blob)).convert("RGB")
            x[k] = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR))
        return x, np.array([label for _, label in items], dtype=np.uint8)

    return arrays(split["train"]), arrays(split["test"])


def load_flowers(*, size: int = 160, test_fraction: float = 0.2, seed: int = 0) -> Loaded:
    """tf_flowers (3,670 photos of 5 flowers), or lab 11's generated target classes offline.

    Online, ``flower_photos.tgz`` (218 MiB) is downloaded once into the Keras cache and
    checked against the sha256 that TensorFlow Datasets records for it (see
    ``remote.REMOTES["flowers"]``; not verified by this package against a download, so a
    mismatch is reported, never used); :func:`read_flowers` splits it 80/20 per class.
    Offline, or when the download fails, the fallback is the generated 32x32 scenes of the
    five classes that lab 11's own backbone never saw (``pretrained.TARGET_CLASSES``, 300
    train / 60 test per class, seeds 0 and 1, at 32x32 whatever ``size`` says): other
    classes and far smaller images, and ``.class_names`` says which.

    Args:
        size: image height and width in pixels of the real photos.
        test_fraction, seed: the split of :func:`read_flowers`.

    Returns:
        A :class:`Loaded` ``(x_train, y_train), (x_test, y_test)``: images uint8
        ``(n, H, W, 3)`` in [0, 255], labels uint8 ``(n,)`` indexing ``.class_names``
        (:data:`FLOWERS_CLASSES` for the real photos).
    """

    def real():
        data = read_flowers(fetch("flowers"), size=size, test_fraction=test_fraction, seed=seed)
        return (
            data,
            (
                f"real tf_flowers, {len(data[0][0]):,} train / {len(data[1][0]):,} test, "
                f"resized to {size}x{size}"
            ),
            FLOWERS_CLASSES,
        )

    def fallback():
        from lablib import pretrained

        train = pretrained.scene_subset(pretrained.TARGET_CLASSES, 300, seed=0)
        test = pretrained.scene_subset(pretrained.TARGET_CLASSES, 60, seed=1)
        return (
            (train, test),
            (
                "fallback: generated 32x32 scenes of squares, rings, vertical "
                "stripes, diagonal stripes and dots, 1,500 train / 300 test; "
                "not tf_flowers"
            ),
            pretrained.TARGET_CLASSES,
        )

    return _real_or_fallback("flowers", real, fallback)

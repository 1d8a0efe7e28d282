"""lablib.datasets: the Keras contract, real loading from a local/fake file, checksums,
offline fallbacks, and clear errors. No test touches the network."""

import io
import pickle
import tarfile

import numpy as np
import pytest

from lablib import datasets
from lablib.datasets import DatasetError, loaders, remote
from lablib.datasets.remote import Remote


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache, online mode (downloads only ever go to file:// or a closed port)."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("LABLIB_OFFLINE", raising=False)
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    return tmp_path / "keras" / "datasets"


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("LABLIB_OFFLINE", "1")


def fake_mnist(path, n=5):
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        y_train=np.arange(n, dtype=np.uint8),
        x_test=rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        y_test=np.arange(2, dtype=np.uint8),
    )
    return path


def use_remote(monkeypatch, key, path, origin=None):
    monkeypatch.setitem(
        remote.REMOTES,
        key,
        Remote(
            path.name if origin else remote.REMOTES[key].fname,
            origin or "http://127.0.0.1:9/none",
            remote.file_digest(path),
        ),
    )


# --- the keras.datasets contract, offline --------------------------------------------------------


def test_mnist_fallback_matches_keras_contract(offline, capsys):
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist()
    assert x_train.shape == (1347, 28, 28) and x_test.shape == (450, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and y_train.shape == (1347,)
    assert x_train.max() == 255 and x_train.min() == 0 and set(np.unique(y_test)) == set(range(10))
    out = capsys.readouterr().out
    assert "fallback" in out and "not MNIST" in out and "LABLIB_OFFLINE" in out


def test_loaded_data_describes_itself_without_global_state(offline):
    mnist = datasets.load_mnist()
    cifar = datasets.load_cifar10()
    assert not mnist.real and mnist.name == "mnist" and "not MNIST" in mnist.source
    assert "LABLIB_OFFLINE" in mnist.DESCR and mnist.class_names == tuple("0123456789")
    assert (
        cifar.class_names == datasets.synthetic.SCENE_CLASSES
    )  # the scenes' own names, not CIFAR's
    assert mnist.class_names == tuple("0123456789")  # unchanged by the later load
    import pickle

    again = pickle.loads(pickle.dumps(mnist))
    assert again.source == mnist.source and np.array_equal(again[0][0], mnist[0][0])


def test_cifar10_fallback_matches_keras_contract(offline):
    (x_train, y_train), (x_test, y_test) = datasets.load_cifar10()
    assert x_train.shape[1:] == (32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (len(x_train), 1) and y_train.dtype == np.uint8
    assert y_test.shape == (len(x_test), 1) and set(np.unique(y_train)) == set(range(10))
    names = datasets.load_cifar10().class_names
    assert len(names) == 10 and names != datasets.CIFAR10_CLASSES


def test_imdb_fallback_uses_keras_index_conventions(offline):
    imdb = datasets.load_imdb(num_words=10000)
    (x_train, y_train), (x_test, y_test) = imdb
    assert x_train.dtype == object and x_train.ndim == 1 and isinstance(x_train[0], list)
    assert all(seq[0] == 1 for seq in x_train[:50])  # start_char
    assert max(max(seq) for seq in x_train) == 9999  # num_words cut
    assert any(2 in seq for seq in x_train[:200])  # out-of-vocabulary words became 2
    assert min(min(seq[1:]) for seq in x_train[:200]) >= 2  # no padding (0) or start inside
    assert y_train.dtype == np.int64 and set(np.unique(y_train)) == {0, 1}
    word_index = datasets.imdb_word_index(imdb)
    assert min(word_index.values()) == 1
    reverse = {rank + 3: word for word, rank in word_index.items()}
    assert all(w in reverse for w in x_train[0][1:] if w != 2)


# --- real loading path, with local files ----------------------------------------------------------


def test_real_file_in_cache_is_verified_and_used(keras_home, monkeypatch, capsys):
    path = fake_mnist(keras_home / "mnist.npz")
    use_remote(monkeypatch, "mnist", path)
    (x_train, y_train), _ = datasets.load_mnist()
    assert x_train.shape == (5, 28, 28) and list(y_train) == [0, 1, 2, 3, 4]
    assert "real MNIST" in capsys.readouterr().out


def test_download_with_checksum_from_a_local_url(keras_home, tmp_path, monkeypatch):
    source = fake_mnist(tmp_path / "served.npz")
    monkeypatch.setitem(
        remote.REMOTES, "mnist", Remote("mnist.npz", source.as_uri(), remote.file_digest(source))
    )
    (x_train, _), _ = datasets.load_mnist()
    assert x_train.shape == (5, 28, 28)
    assert (keras_home / "mnist.npz").exists()


def test_corrupted_cache_file_is_reported_not_used(keras_home, monkeypatch):
    path = fake_mnist(keras_home / "mnist.npz")
    use_remote(monkeypatch, "mnist", path)
    path.write_bytes(path.read_bytes()[:-10] + b"corrupted!")
    with pytest.raises(DatasetError) as err:
        datasets.load_mnist()
    message = str(err.value)
    assert (
        "corrupted" in message
        and str(path) in message
        and "Delete it" in message
        and "LABLIB_OFFLINE=1" in message
    )


def test_failed_download_falls_back_and_says_why(keras_home, monkeypatch, capsys):
    monkeypatch.setitem(
        remote.REMOTES, "mnist", Remote("mnist.npz", "http://127.0.0.1:9/mnist.npz", "0" * 64)
    )
    (x_train, _), _ = datasets.load_mnist()
    assert x_train.shape == (1347, 28, 28)
    out = capsys.readouterr().out
    assert "fallback" in out and "download of http://127.0.0.1:9/mnist.npz failed" in out
    assert not (keras_home / "mnist.npz").exists()


def test_download_with_wrong_checksum_is_not_used(keras_home, tmp_path, monkeypatch, capsys):
    source = fake_mnist(tmp_path / "served.npz")
    monkeypatch.setitem(remote.REMOTES, "mnist", Remote("mnist.npz", source.as_uri(), "f" * 64))
    (x_train, _), _ = datasets.load_mnist()
    assert x_train.shape == (1347, 28, 28)  # the fallback, not the bad download
    assert "fallback" in capsys.readouterr().out


def test_cifar_archive_parsed_into_keras_layout(keras_home, monkeypatch):
    rng = np.random.default_rng(1)
    batches = {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
            batches[name] = data
            blob = pickle.dumps({b"data": data, b"labels": [1, 2, 3, 4]})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    path = keras_home / "cifar-10-python.tar.gz"
    path.write_bytes(buf.getvalue())
    use_remote(monkeypatch, "cifar10", path)
    cifar = datasets.load_cifar10()
    (x_train, y_train), (x_test, y_test) = cifar
    assert (
        x_train.shape == (20, 32, 32, 3) and y_train.shape == (20, 1) and y_test.dtype == np.uint8
    )
    # channel c of pixel (i, j) is data[c * 1024 + i * 32 + j], as in the CIFAR docs
    assert x_test[0, 2, 5, 1] == batches["test_batch"][0, 1024 + 2 * 32 + 5]
    assert cifar.real and cifar.class_names == datasets.CIFAR10_CLASSES


def test_imdb_encoding_equals_keras_on_the_same_raw_file(keras_home, monkeypatch):
    import keras.src.datasets.imdb as keras_imdb

    rng = np.random.default_rng(2)
    raw = {
        k: np.array(
            [[int(v) for v in rng.integers(1, 60, size=rng.integers(3, 12))] for _ in range(n)]
            + [None],
            dtype=object,
        )[:-1]
        for k, n in (("x_train", 30), ("x_test", 20))
    }
    path = keras_home / "imdb.npz"
    np.savez(
        path,
        x_train=raw["x_train"],
        y_train=rng.integers(0, 2, 30),
        x_test=raw["x_test"],
        y_test=rng.integers(0, 2, 20),
    )
    use_remote(monkeypatch, "imdb", path)
    monkeypatch.setattr(keras_imdb, "get_file", lambda *a, **k: str(path))
    for options in ({}, {"num_words": 20}, {"num_words": 30, "skip_top": 5, "seed": 7}):
        (ours_x, ours_y), (ours_xt, _) = datasets.load_imdb(**options)
        (ref_x, ref_y), (ref_xt, _) = keras_imdb.load_data(**options)
        assert [list(s) for s in ours_x] == [list(s) for s in ref_x]
        assert [list(s) for s in ours_xt] == [list(s) for s in ref_xt]
        assert np.array_equal(ours_y, ref_y)


def test_generated_scene_loaders_are_deterministic():
    a = datasets.load_shapes_segmentation(4, size=32, seed=3)
    b = datasets.load_shapes_segmentation(4, size=32, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    images, boxes, labels = datasets.load_shapes_detection(3, size=48, seed=1)
    assert images.shape == (3, 48, 48, 3) and len(boxes) == len(labels) == 3


def test_imdb_word_index_wants_the_loaded_data():
    with pytest.raises(TypeError, match="load_imdb"):
        datasets.imdb_word_index(((1, 2), (3, 4)))


def test_data_mode(monkeypatch):
    monkeypatch.setenv("LABLIB_OFFLINE", "1")
    assert datasets.data_mode()[0] == "offline"
    monkeypatch.setenv("LABLIB_OFFLINE", "0")
    assert datasets.data_mode()[0] == "online"


# --- Oxford-IIIT Pet (lab 13): a fake pair of archives, no network ------------------------------


def _png_or_jpeg(array, fmt):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def _add(tar, name, blob):
    info = tarfile.TarInfo(name)
    info.size = len(blob)
    tar.addfile(info, io.BytesIO(blob))


def fake_pets(folder, train=("Abyssinian_1", "beagle_2", "pug_3"), test=("Bengal_4", "boxer_5")):
    """images.tar.gz and annotations.tar.gz laid out like the real ones: 20x30 photos (one
    grayscale), trimaps with 1 = pet (top-left 10x10 block), 2 = background, 3 = border (row 12),
    macOS '._' decoys, and the two split lists."""
    rng = np.random.default_rng(13)
    images, annotations = folder / "images.tar.gz", folder / "annotations.tar.gz"
    with tarfile.open(images, "w:gz") as tar:
        for k, name in enumerate(train + test):
            photo = rng.integers(0, 256, (20, 30) if k == 1 else (20, 30, 3), dtype=np.uint8)
            _add(tar, f"images/{name}.jpg", _png_or_jpeg(photo, "JPEG"))
    with tarfile.open(annotations, "w:gz") as tar:
        for split, names in (("trainval", train), ("test", test)):
            lines = "#Image CLASS-ID SPECIES BREED ID\n" + "".join(f"{n} 1 1 1\n" for n in names)
            _add(tar, f"annotations/{split}.txt", lines.encode())
        for name in train + test:
            trimap = np.full((20, 30), 2, dtype=np.uint8)
            trimap[:10, :10], trimap[12] = 1, 3
            _add(tar, f"annotations/trimaps/{name}.png", _png_or_jpeg(trimap, "PNG"))
            _add(tar, f"annotations/trimaps/._{name}.png", b"not a png")
    return images, annotations


def test_pets_archives_read_into_arrays_with_background_zero(tmp_path):
    images, annotations = fake_pets(tmp_path)
    (x, y), (xt, yt) = loaders.read_oxford_pets(images, annotations, size=40)
    assert x.shape == (3, 40, 40, 3) and x.dtype == np.uint8 and xt.shape == (2, 40, 40, 3)
    assert y.shape == (3, 40, 40) and y.dtype == np.uint8 and yt.shape == (2, 40, 40)
    # nearest-neighbour resize of the trimap: rows 0-9 -> 0-19, columns 0-9 -> 0-13 (40 / 30)
    assert np.all(y[:, :20, :13] == 1) and y[0, 39, 39] == 0 and set(np.unique(y)) == {0, 1, 2}
    assert np.all(y[:, 24:26, 20] == 2)  # the border row 12 -> rows 24, 25
    assert np.all(x[1, ..., 0] == x[1, ..., 1])  # the grayscale photo became RGB
    (x1, _), (xt0, _) = loaders.read_oxford_pets(images, annotations, size=16, n_train=1, n_test=0)
    assert x1.shape == (1, 16, 16, 3) and xt0.shape == (0, 16, 16, 3)


def test_pets_archive_missing_a_listed_file_is_an_error(tmp_path):
    images, annotations = fake_pets(tmp_path, test=("Bengal_4",))
    with tarfile.open(annotations, "w:gz") as tar:  # list an image that is not in the archives
        _add(tar, "annotations/trainval.txt", b"Abyssinian_1 1 1 1\nghost_9 2 2 2\n")
        _add(tar, "annotations/test.txt", b"Bengal_4 1 1 1\n")
    with pytest.raises(DatasetError, match="ghost_9"):
        loaders.read_oxford_pets(images, annotations, size=16)


def test_pets_loader_uses_the_verified_cache(keras_home, monkeypatch, capsys):
    images, annotations = fake_pets(keras_home)
    for key, path in (("oxford_pets_images", images), ("oxford_pets_annotations", annotations)):
        target = keras_home / remote.REMOTES[key].fname
        path.rename(target)
        use_remote(monkeypatch, key, target)
    pets = loaders.load_oxford_pets(size=24)
    (x, y), (xt, _) = pets
    assert pets.real and pets.class_names == loaders.PETS_CLASSES == ("background", "pet", "border")
    assert x.shape == (3, 24, 24, 3) and xt.shape == (2, 24, 24, 3) and y.max() == 2
    assert "real Oxford-IIIT Pet, 3 train / 2 test" in capsys.readouterr().out


def test_pets_fallback_is_the_generated_scenes_and_says_so(offline, capsys):
    pets = loaders.load_oxford_pets(size=32, n_train=6, n_test=2)
    (x, y), (xt, yt) = pets
    assert not pets.real and pets.class_names == ("background", "circle", "square", "triangle")
    assert x.shape == (6, 32, 32, 3) and yt.shape == (2, 32, 32) and y.dtype == np.uint8
    assert np.array_equal(x, datasets.load_shapes_segmentation(6, size=32, seed=0)[0])
    assert "not Oxford-IIIT Pet" in capsys.readouterr().out


def test_pets_remotes_are_sha256_over_https():
    for key in ("oxford_pets_images", "oxford_pets_annotations"):
        entry = remote.REMOTES[key]
        assert entry.origin.startswith("https://") and len(entry.file_hash) == 64
        int(entry.file_hash, 16)  # hex digits


# --- tf_flowers (lab 11) -----------------------------------------------------------------------


def fake_flowers(path, per_class=5, skip=None):
    """A flower_photos.tgz with `per_class` small JPEGs per class (class c: red = 50 c)."""
    from PIL import Image

    with tarfile.open(path, "w:gz") as tar:

        def add(name, blob):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))

        add("flower_photos/LICENSE.txt", b"CC-BY 2.0")
        for c, name in enumerate(datasets.loaders.FLOWERS_CLASSES):
            if name == skip:
                continue
            for i in range(per_class):
                buf = io.BytesIO()
                Image.new("RGB", (30 + i, 20), (50 * c, 100, 7 * i)).save(buf, "JPEG", quality=95)
                add(f"flower_photos/{name}/{i:03d}_photo.jpg", buf.getvalue())
    return path


def test_flowers_archive_is_split_per_class_and_resized(keras_home, monkeypatch, capsys):
    path = fake_flowers(keras_home / "flower_photos.tgz")
    use_remote(monkeypatch, "flowers", path)
    flowers = datasets.loaders.load_flowers(size=16)
    (x_train, y_train), (x_test, y_test) = flowers
    assert flowers.real and flowers.class_names == datasets.loaders.FLOWERS_CLASSES
    assert x_train.shape == (20, 16, 16, 3) and x_test.shape == (5, 16, 16, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [4] * 5 and np.bincount(y_test).tolist() == [1] * 5
    # the red channel tells the class (JPEG rounding aside)
    assert np.all(np.abs(x_test[..., 0].mean(axis=(1, 2)) - 50.0 * y_test) < 8)
    assert "real tf_flowers" in capsys.readouterr().out
    again = datasets.loaders.read_flowers(path, size=16)
    assert np.array_equal(again[1][0], x_test) and np.array_equal(again[0][1], y_train)
    other = datasets.loaders.read_flowers(path, size=16, seed=1)
    assert not np.array_equal(other[1][0], x_test)  # another seed, another split


def test_flowers_archive_without_a_class_is_an_error(tmp_path):
    path = fake_flowers(tmp_path / "flower_photos.tgz", per_class=2, skip="roses")
    with pytest.raises(DatasetError, match="roses"):
        datasets.loaders.read_flowers(path)


def test_flowers_offline_fallback_is_the_labs_target_scenes(offline, capsys):
    from lablib import pretrained

    flowers = datasets.loaders.load_flowers()
    (x_train, y_train), (x_test, y_test) = flowers
    assert not flowers.real and flowers.class_names == pretrained.TARGET_CLASSES
    assert x_train.shape == (1500, 32, 32, 3) and x_test.shape == (300, 32, 32, 3)
    assert np.bincount(y_test).tolist() == [60] * 5
    out = capsys.readouterr().out
    assert "not tf_flowers" in out and "LABLIB_OFFLINE" in out


def test_flowers_remote_is_sha256_over_https():
    entry = remote.REMOTES["flowers"]
    assert entry.origin.startswith("https://") and entry.fname == "flower_photos.tgz"
    assert len(entry.file_hash) == 64
    int(entry.file_hash, 16)

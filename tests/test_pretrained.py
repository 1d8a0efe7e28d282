"""lablib.pretrained: the source/target split, the shipped backbone, its rebuild, ImageNet."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lablib import architectures, pretrained
from lablib.datasets import fallback, remote
from lablib.datasets.synthetic import SCENE_CLASSES, make_scenes


def test_source_and_target_are_disjoint_halves_of_the_scene_classes():
    assert len(pretrained.SOURCE_CLASSES) == len(pretrained.TARGET_CLASSES) == 5
    assert set(pretrained.SOURCE_CLASSES) | set(pretrained.TARGET_CLASSES) == set(SCENE_CLASSES)
    assert not set(pretrained.SOURCE_CLASSES) & set(pretrained.TARGET_CLASSES)


def test_scene_subset_keeps_the_named_classes_relabelled():
    classes = ("dots", "square", "ring")
    x, y = pretrained.scene_subset(classes, 4, seed=3)
    assert x.shape == (12, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.uint8
    assert np.bincount(y).tolist() == [4, 4, 4]
    x_all, y_all = make_scenes(40, seed=3)  # the same draw, all ten classes
    keep = np.isin(y_all, [SCENE_CLASSES.index(c) for c in classes])
    assert np.array_equal(x, x_all[keep])
    assert [classes[v] for v in y] == [SCENE_CLASSES[v] for v in y_all[keep]]
    with pytest.raises(ValueError, match="SCENE_CLASSES"):
        pretrained.scene_subset(("square", "hexagon"), 2, seed=0)
    with pytest.raises(ValueError, match="distinct"):
        pretrained.scene_subset(("square", "square"), 2, seed=0)


def test_preprocessing_modes_match_the_keras_families():
    from keras.applications import (
        densenet,
        efficientnet,
        imagenet_utils,
        mobilenet_v2,
        resnet50,
        vgg16,
    )

    x = np.random.default_rng(0).uniform(0, 255, size=(2, 5, 5, 3)).astype("float32")
    families = {"MobileNetV2": mobilenet_v2, "ResNet50": resnet50, "VGG16": vgg16,
                "DenseNet121": densenet, "EfficientNetB0": efficientnet}
    for name, module in families.items():
        mode = pretrained.PREPROCESSING_MODE[name]
        expected = x if mode == "model" else imagenet_utils.preprocess_input(x.copy(), mode=mode)
        got = module.preprocess_input(x.copy())
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)
    assert pretrained.PREPROCESSING_MODE["scenes_backbone"] == "tf"


def test_shipped_backbone_loads_with_its_record():
    backbone = pretrained.load_scenes_backbone()
    assert backbone.count_params() == 288_352 and tuple(backbone.output.shape) == (None, 128)
    assert all(layer.trainable for layer in backbone.layers)
    record = pretrained.backbone_record()
    assert record["source_classes"] == list(pretrained.SOURCE_CLASSES)
    assert record["n_train"] == 7000 and record["epochs"] == len(record["val_accuracy"])
    assert record["val_accuracy"][-1] >= 0.95  # the source task is learned


def _probe_accuracy(backbone, seed=0):
    x, y = pretrained.scene_subset(pretrained.TARGET_CLASSES, 10, seed=seed)
    xt, yt = pretrained.scene_subset(pretrained.TARGET_CLASSES, 60, seed=seed + 1)
    features = [backbone.predict(v.astype("float32") / 127.5 - 1, verbose=0) for v in (x, xt)]
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features[0], y)
    return probe.score(features[1], yt)


def test_shipped_backbone_transfers_to_the_target_classes():
    """10 labels per unseen class: pretrained features beat random ones by a wide margin."""
    import keras

    pretrained_acc = _probe_accuracy(pretrained.load_scenes_backbone())
    keras.utils.set_random_seed(0)
    random_acc = _probe_accuracy(architectures.small_backbone())
    assert pretrained_acc >= 0.85, pretrained_acc
    assert pretrained_acc >= random_acc + 0.15, (pretrained_acc, random_acc)


@pytest.fixture(scope="module")
def tiny_training():
    kw = dict(n_train_per_class=6, n_val_per_class=2, epochs=1, batch_size=10, seed=5)
    return [pretrained.train_scenes_backbone(**kw) for _ in range(2)]


def test_training_is_reproducible(tiny_training):
    (a, record_a), (b, record_b) = tiny_training
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert np.array_equal(wa, wb)
    assert record_a["val_accuracy"].tolist() == record_b["val_accuracy"].tolist()
    assert record_a["n_train"] == 30 and record_a["n_val"] == 10 and record_a["seed"] == 5


def _ship(arrays, folder, monkeypatch):
    path = folder / pretrained.BACKBONE_FILE
    fallback._write_npz(path, arrays)
    (folder / fallback.MANIFEST).write_text(f"{remote.file_digest(path)}  {path.name}\n")
    monkeypatch.setenv("LABLIB_DATA", str(folder))
    return path


def test_shipped_file_round_trip(tiny_training, tmp_path, monkeypatch):
    backbone, record = tiny_training[0]
    _ship(pretrained.backbone_arrays(backbone, record), tmp_path, monkeypatch)
    loaded = pretrained.load_scenes_backbone()
    for w, v in zip(backbone.get_weights(), loaded.get_weights()):
        assert np.array_equal(w, v)
    assert pretrained.backbone_record()["n_train"] == 30


def test_file_not_matching_the_architecture_is_reported(tiny_training, tmp_path, monkeypatch):
    backbone, record = tiny_training[0]
    arrays = pretrained.backbone_arrays(backbone, record)
    arrays["weight_names"] = arrays["weight_names"][::-1]
    _ship(arrays, tmp_path, monkeypatch)
    with pytest.raises(fallback.DataFileError, match="lablib data --only scenes_backbone"):
        pretrained.load_scenes_backbone()


def test_corrupted_backbone_file_is_reported(tmp_path, monkeypatch):
    path = _ship({"w000": np.zeros(3, "float32")}, tmp_path, monkeypatch)
    path.write_bytes(path.read_bytes()[:-5] + b"xxxxx")
    with pytest.raises(fallback.DataFileError, match="corrupted or stale"):
        pretrained.load_scenes_backbone()


def test_imagenet_backbone_offline_raises_connection_error(monkeypatch):
    import keras

    monkeypatch.setenv("LABLIB_OFFLINE", "1")
    monkeypatch.setattr(keras.applications, "MobileNetV2",
                        lambda **kw: pytest.fail("no download may be attempted offline"))
    with pytest.raises(ConnectionError, match="LABLIB_OFFLINE"):
        pretrained.load_imagenet_backbone()


def test_imagenet_backbone_download_failure_becomes_connection_error(monkeypatch):
    import keras

    monkeypatch.delenv("LABLIB_OFFLINE", raising=False)
    calls = []

    def failing(**kw):
        calls.append(kw)
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None")

    monkeypatch.setattr(keras.applications, "MobileNetV2", failing)
    with pytest.raises(ConnectionError, match="could not be downloaded"):
        pretrained.load_imagenet_backbone(input_shape=(96, 96, 3))
    assert calls == [dict(include_top=False, weights="imagenet", input_shape=(96, 96, 3),
                          pooling="avg")]

    def bad_shape(**kw):
        raise ValueError("input_shape must be ...")

    monkeypatch.setattr(keras.applications, "MobileNetV2", bad_shape)
    with pytest.raises(ValueError):  # a usage error is not a network error
        pretrained.load_imagenet_backbone(input_shape=(7, 7, 3))

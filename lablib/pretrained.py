"""Pretrained backbones for transfer learning (lab 11): ImageNet online, our own offline.

A *backbone* is a network without its classifier: images in, one feature vector per image
out. Transfer learning puts a new head on a backbone that was trained on another task.

* Online: :func:`load_imagenet_backbone` returns a ``keras.applications`` model with its
  ImageNet weights (Keras downloads them into ``~/.keras/models`` and checks the hash it
  pins); it raises ``ConnectionError`` when ``LABLIB_OFFLINE=1`` or the download fails.
* Offline: :func:`load_scenes_backbone` returns the package's own
  :func:`~lablib.architectures.small_backbone`, pretrained on the *source* classes of the
  generated 32x32 shape scenes (:data:`SOURCE_CLASSES`) and shipped in
  ``data/scenes_backbone.npz`` (1.1 MB, listed in ``data/MANIFEST.sha256``).
  ``lablib data --only scenes_backbone`` retrains it with :func:`train_scenes_backbone`.

The offline *target* task is the other five scene classes (:data:`TARGET_CLASSES`): the
backbone never saw a square, a ring, vertical or diagonal stripes or dots. Same generator,
different classes: in the slides' terms a target task in a *similar domain*.

Example:
    >>> backbone = load_scenes_backbone()                      # doctest: +SKIP
    >>> x, y = scene_subset(TARGET_CLASSES, 10, seed=0)        # 10 images per class
    >>> x.shape, backbone.output.shape                         # doctest: +SKIP
    ((50, 32, 32, 3), (None, 128))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lablib.datasets.synthetic import SCENE_CLASSES, make_scenes

__all__ = [
    "BACKBONE_FILE",
    "BACKBONE_STEM",
    "PREPROCESSING_MODE",
    "SOURCE_CLASSES",
    "TARGET_CLASSES",
    "backbone_arrays",
    "backbone_record",
    "load_imagenet_backbone",
    "load_scenes_backbone",
    "scene_subset",
    "train_scenes_backbone",
]

# The ten scene classes, split into two disjoint halves; each half mixes shapes and patterns.
SOURCE_CLASSES: tuple[str, ...] = (
    "circle", "triangle", "cross", "horizontal stripes", "checkerboard")
TARGET_CLASSES: tuple[str, ...] = (
    "square", "ring", "vertical stripes", "diagonal stripes", "dots")

BACKBONE_STEM = "scenes_backbone"
BACKBONE_FILE = f"{BACKBONE_STEM}.npz"

# How the shipped backbone was trained (train_scenes_backbone's defaults; data/README.md).
SOURCE_SEED = 2011
SOURCE_TRAIN_PER_CLASS, SOURCE_VAL_PER_CLASS = 1400, 200
SOURCE_EPOCHS, SOURCE_BATCH, SOURCE_LR = 6, 64, 1e-3

# The input scaling each backbone expects, in the names of
# keras.applications.imagenet_utils.preprocess_input: "tf" scales to [-1, 1]; "caffe" flips
# RGB to BGR and subtracts the ImageNet channel means; "torch" scales to [0, 1] and
# standardizes with the ImageNet mean and std; "model" means the model rescales by itself.
PREPROCESSING_MODE: dict[str, str] = {
    "scenes_backbone": "tf",
    "MobileNetV2": "tf",
    "ResNet50": "caffe",
    "VGG16": "caffe",
    "DenseNet121": "torch",
    "EfficientNetB0": "model",
    "ConvNeXtTiny": "model",
}


def scene_subset(classes: tuple[str, ...] | list[str], n_per_class: int, *, seed: int,
                 size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Generated scenes of some classes only, relabelled ``0 .. len(classes) - 1``.

    Draws ``10 * n_per_class`` scenes with :func:`~lablib.datasets.synthetic.make_scenes`
    (exactly ``n_per_class`` of each of the ten classes) and keeps those of ``classes``.

    Args:
        classes: names from :data:`~lablib.datasets.synthetic.SCENE_CLASSES`.
        n_per_class: images per kept class.
        seed: the generator's seed; the same seed gives the same arrays.
        size: image side in pixels.

    Returns:
        ``(x, y)``: uint8 ``(len(classes) * n_per_class, size, size, 3)`` in [0, 255] and
        uint8 labels ``(n,)``; label ``i`` is ``classes[i]``. Shuffled order.

    Raises:
        ValueError: a name is not a scene class, or a class is named twice.
    """
    unknown = [c for c in classes if c not in SCENE_CLASSES]
    if unknown or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names from SCENE_CLASSES {SCENE_CLASSES}, "
                         f"got {list(classes)}")
    x, y = make_scenes(10 * n_per_class, size=size, seed=seed)
    original = np.array([SCENE_CLASSES.index(c) for c in classes])
    keep = np.isin(y, original)
    relabel = np.zeros(len(SCENE_CLASSES), dtype=np.uint8)
    relabel[original] = np.arange(len(classes), dtype=np.uint8)
    return x[keep], relabel[y[keep]]


def train_scenes_backbone(*, n_train_per_class: int = SOURCE_TRAIN_PER_CLASS,
                          n_val_per_class: int = SOURCE_VAL_PER_CLASS, epochs: int = SOURCE_EPOCHS,
                          batch_size: int = SOURCE_BATCH, learning_rate: float = SOURCE_LR,
                          seed: int = SOURCE_SEED, verbose: int = 0) -> tuple[Any, dict[str, Any]]:
    """Pretrain :func:`~lablib.architectures.small_backbone` on the source classes.

    The source model is ``Rescaling to [-1, 1] -> backbone -> Dense(5, softmax)``, trained
    with Adam on ``scene_subset(SOURCE_CLASSES, n_train_per_class + n_val_per_class, seed)``:
    the first ``5 * n_train_per_class`` images (shuffled classes) for training, the rest for
    validation. Seeds are fixed
    with ``keras.utils.set_random_seed(seed)``: on one machine and TensorFlow version the
    weights come out the same every time (floating-point sums on another CPU may differ in
    the last bits, and training amplifies such differences).

    Returns:
        ``(backbone, record)``: the trained backbone (without the Rescaling layer and the
        classifier) and a dict with the recipe and the source accuracies.
    """
    import keras
    from keras import layers

    from lablib import architectures

    keras.utils.set_random_seed(seed)
    x, y = scene_subset(SOURCE_CLASSES, n_train_per_class + n_val_per_class, seed=seed)
    n_train = n_train_per_class * len(SOURCE_CLASSES)
    backbone = architectures.small_backbone(x.shape[1:])
    inputs = keras.Input(x.shape[1:])
    scaled = layers.Rescaling(1 / 127.5, offset=-1.0, name="to_minus1_1")(inputs)
    head = layers.Dense(len(SOURCE_CLASSES), activation="softmax", name="source_head")
    outputs = head(backbone(scaled))
    model = keras.Model(inputs, outputs, name="source_model")
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False)
    history = model.fit(x[:n_train], y[:n_train], epochs=epochs, batch_size=batch_size,
                        validation_data=(x[n_train:], y[n_train:]), verbose=verbose)
    record = {
        "source_classes": np.array(SOURCE_CLASSES),
        "seed": np.int64(seed),
        "n_train": np.int64(n_train),
        "n_val": np.int64(len(x) - n_train),
        "epochs": np.int64(epochs),
        "batch_size": np.int64(batch_size),
        "learning_rate": np.float64(learning_rate),
        "train_accuracy": np.asarray(history.history["accuracy"], dtype=np.float64),
        "val_accuracy": np.asarray(history.history["val_accuracy"], dtype=np.float64),
    }
    return backbone, record


def backbone_arrays(backbone: Any, record: dict[str, Any]) -> dict[str, np.ndarray]:
    """What ``data/scenes_backbone.npz`` stores: the weights in layer order, their names,
    the architecture's widths and input shape, and the training ``record``."""
    names, arrays = [], {}
    for layer in backbone.layers:
        for w in layer.weights:
            arrays[f"w{len(names):03d}"] = np.asarray(w.numpy(), dtype=np.float32)
            names.append(f"{layer.name}/{w.name}")
    widths = [layer.filters for layer in backbone.layers if layer.name.endswith("_conv1")]
    arrays.update(weight_names=np.array(names), widths=np.array(widths, dtype=np.int64),
                  input_shape=np.array(backbone.input_shape[1:], dtype=np.int64))
    arrays.update({f"record_{k}": np.asarray(v) for k, v in record.items()})
    return arrays


def backbone_record() -> dict[str, Any]:
    """The training record shipped with the backbone: recipe, classes, source accuracies."""
    from lablib.datasets import fallback

    f = fallback.load(BACKBONE_STEM)
    record = {k[len("record_"):]: f[k].tolist() for k in f if k.startswith("record_")}
    lists = ("source_classes", "train_accuracy", "val_accuracy")  # the rest are scalars
    return {k: v if k in lists else v[0] for k, v in record.items()}


def load_scenes_backbone(*, name: str = "scenes_backbone") -> Any:
    """The package's backbone, pretrained on :data:`SOURCE_CLASSES` (shipped in ``data/``).

    Returns:
        A ``keras.Model`` (:func:`~lablib.architectures.small_backbone`): input
        ``(batch, 32, 32, 3)`` float32 images scaled to [-1, 1], output ``(batch, 128)``
        features. All layers trainable, as ``keras.applications`` returns them.

    Raises:
        lablib.datasets.fallback.DataFileError: the file is missing or fails its checksum.
    """
    from lablib import architectures
    from lablib.datasets import fallback

    f = fallback.load(BACKBONE_STEM)
    backbone = architectures.small_backbone(tuple(int(v) for v in f["input_shape"]),
                                            tuple(int(v) for v in f["widths"]), name=name)
    expected = [f"{layer.name}/{w.name}" for layer in backbone.layers for w in layer.weights]
    if expected != f["weight_names"].tolist():
        raise fallback.DataFileError(
            f"{BACKBONE_FILE} does not match architectures.small_backbone's layers: "
            "run `lablib data --only scenes_backbone` to rebuild it")
    backbone.set_weights([f[f"w{i:03d}"] for i in range(len(expected))])
    return backbone


def load_imagenet_backbone(name: str = "MobileNetV2", *,
                           input_shape: tuple[int, int, int] = (160, 160, 3),
                           pooling: str = "avg") -> Any:
    """A ``keras.applications`` backbone with its ImageNet weights (online only).

    Args:
        name: a ``keras.applications`` model (``"MobileNetV2"``, ``"ResNet50"``, ...);
            :data:`PREPROCESSING_MODE` says what input scaling it expects.
        input_shape: ``(H, W, 3)`` of the images it will see.
        pooling: ``"avg"`` (one feature vector per image) or ``"max"``.

    Returns:
        The model built with ``include_top=False, weights="imagenet"``; output
        ``(batch, features)``.

    Raises:
        ConnectionError: ``LABLIB_OFFLINE=1``, or the weights could not be downloaded.
    """
    import keras

    from lablib.datasets import remote

    if remote.offline():
        raise ConnectionError(f"{remote.OFFLINE_VAR}=1: no ImageNet weights offline")
    build = getattr(keras.applications, name)
    try:
        return build(include_top=False, weights="imagenet", input_shape=input_shape,
                     pooling=pooling)
    except (ValueError, TypeError):
        raise
    except Exception as exc:  # keras.utils.get_file raises a plain Exception on network errors
        raise ConnectionError(f"ImageNet weights for {name} could not be downloaded: "
                              f"{str(exc).splitlines()[0][:120]}") from exc

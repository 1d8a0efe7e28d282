"""Plots for the labs. Every function returns its matplotlib Figure (tests inspect axes;
notebooks display it), and never calls ``plt.show()``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import matplotlib
import matplotlib.patches
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "image_grid",
    "plot_history",
    "confusion_matrix",
    "show_filters",
    "show_feature_maps",
    "overlay_mask",
    "draw_boxes",
    "image_rows",
    "image_mosaic",
]


def _grid(n: int, ncols: int, cell: float = 1.6, title_lines: int = 1) -> tuple[Figure, np.ndarray]:
    """A grid of ``n`` panels; each row gets room for ``title_lines`` lines of panel title."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    height = nrows * (cell + 0.22 * title_lines) + 0.4  # titles never run into the row above
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, height), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat[:n]


def _show(ax, image: np.ndarray, cmap: str | None = None, **kwargs) -> None:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 3 and image.dtype.kind == "f" and (image.min() < 0 or image.max() > 1):
        image = (image - image.min()) / max(
            float(np.ptp(image)), 1e-12
        )  # floats: rescale to [0, 1]
    ax.imshow(image, cmap=cmap if image.ndim == 2 else None, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])


def image_grid(
    images: Sequence[np.ndarray] | np.ndarray,
    labels: Sequence[Any] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    predictions: Sequence[Any] | None = None,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    suptitle: str | None = None,
    size: float = 1.6,
) -> Figure:
    """Show images in a grid, titled by label (and prediction, red when wrong).

    Args:
        images: ``(n, H, W)``, ``(n, H, W, 1)`` or ``(n, H, W, 3)``; uint8 or float.
        labels: n labels (ints, or names); with ``class_names``, ints are looked up.
        predictions: n predicted labels; a title then reads ``"cat (pred dog)"``.
        titles: n titles, instead of labels.
        ncols: images per row.
        cmap: colormap for single-channel images.
        suptitle: a title for the whole figure.
        size: inches per image.
    """
    n = len(images)
    lines = 2 if predictions is not None else max([str(t).count("\n") + 1 for t in titles or [""]])
    fig, axes = _grid(n, ncols, cell=size, title_lines=lines)
    name = (
        (lambda v: class_names[int(np.ravel(v)[0])])
        if class_names is not None
        else (lambda v: str(np.ravel(v)[0]) if np.ndim(v) else str(v))
    )
    for i, ax in enumerate(axes):
        _show(ax, images[i], cmap)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
        elif labels is not None:
            title, color = name(labels[i]), "black"
            if predictions is not None:
                wrong = name(predictions[i]) != title
                title, color = (
                    f"{title}\n(pred {name(predictions[i])})",
                    ("red" if wrong else "green"),
                )
            ax.set_title(title, fontsize=9, color=color)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_history(
    history: Any,
    metrics: Sequence[str] | None = None,
    *,
    title: str | None = None,
    others: Mapping[str, Any] | None = None,
    label: str = "",
) -> Figure:
    """Training curves from a Keras ``History`` (or its ``.history`` dict).

    One panel per metric (``loss``, ``accuracy``...), training solid, validation dashed.
    ``others={"with BN": hist2}`` draws more runs on the same panels, to compare;
    ``label`` names the first run in the legend.
    """
    runs = {label: history, **(others or {})}
    logs = {name: dict(getattr(h, "history", h)) for name, h in runs.items()}
    first = logs[label]
    metrics = list(
        metrics
        or [k for k in first if not k.startswith("val_") and k not in ("learning_rate", "lr")]
    )
    if not metrics:
        raise ValueError(f"nothing to plot: the history has keys {sorted(first)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        for (name, log), color in zip(
            logs.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]
        ):
            prefix = f"{name} " if name else ("" if len(logs) == 1 else "run ")
            for key, style, kind in ((metric, "-", "train"), (f"val_{metric}", "--", "val")):
                if key in log:
                    epochs = np.arange(1, len(log[key]) + 1)
                    ax.plot(
                        epochs,
                        log[key],
                        style,
                        color=color,
                        marker="o",
                        ms=3,
                        label=f"{prefix}{kind}",
                    )
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    class_names: Sequence[str] | None = None,
    *,
    normalize: str | None = None,
    title: str | None = None,
) -> Figure:
    """Confusion matrix (rows: true class, columns: predicted), via scikit-learn's display.

    Args:
        normalize: None for counts, ``"true"`` for per-class recall.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    y_true, y_pred = np.ravel(y_true), np.ravel(y_pred)
    labels = np.arange(len(class_names)) if class_names is not None else None
    size = 1.8 + 0.55 * (
        len(class_names) if class_names is not None else len(np.unique(np.r_[y_true, y_pred]))
    )
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=labels,
        display_labels=class_names,
        normalize=normalize,
        ax=ax,
        colorbar=False,
        cmap="Blues",
        values_format=".2f" if normalize else "d",
        xticks_rotation=45,
    )
    accuracy = float(np.mean(y_true == y_pred))
    ax.set_title(title or f"confusion matrix (accuracy {accuracy:.1%})")
    fig.tight_layout()
    return fig


def show_filters(
    kernel: np.ndarray, *, ncols: int = 8, cmap: str = "RdBu_r", title: str | None = None
) -> Figure:
    """Show convolution kernels.

    Args:
        kernel: ``(kh, kw)``, or a Keras Conv2D kernel ``(kh, kw, in, out)``: one image per
            output filter (RGB when ``in == 3``, else the mean over input channels).
    """
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim == 2:
        kernel = kernel[:, :, None, None]
    if kernel.ndim != 4:
        raise ValueError(
            f"show_filters needs a (kh, kw) or (kh, kw, in, out) kernel, got shape {kernel.shape}"
        )
    n = kernel.shape[-1]
    fig, axes = _grid(n, ncols, cell=1.3)
    for i, ax in enumerate(axes):
        k = kernel[..., i]
        if k.shape[-1] == 3:
            _show(ax, (k - k.min()) / max(float(np.ptp(k)), 1e-12), interpolation="nearest")
        else:
            k = k.mean(axis=-1)
            lim = max(float(np.abs(k).max()), 1e-12)
            _show(ax, k, cmap, vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(f"filter {i}", fontsize=8)
    fig.suptitle(title or f"{n} filter(s) of size {kernel.shape[0]}x{kernel.shape[1]}")
    fig.tight_layout()
    return fig


def show_feature_maps(
    maps: np.ndarray,
    *,
    max_maps: int = 16,
    ncols: int = 8,
    cmap: str = "viridis",
    title: str | None = None,
) -> Figure:
    """Show the channels of one feature map ``(H, W, C)`` (or ``(1, H, W, C)``)."""
    maps = np.asarray(maps)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(
            f"show_feature_maps needs (H, W, C) or (1, H, W, C), got shape {maps.shape}"
        )
    n = min(max_maps, maps.shape[-1])
    fig, axes = _grid(n, ncols, cell=1.4)
    for i, ax in enumerate(axes):
        _show(ax, maps[..., i], cmap)
        ax.set_title(f"channel {i}", fontsize=8)
    fig.suptitle(
        title or f"feature maps {maps.shape[0]}x{maps.shape[1]} ({n} of {maps.shape[-1]} channels)"
    )
    fig.tight_layout()
    return fig


def overlay_mask(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    alpha: float = 0.45,
    title: str | None = None,
) -> Figure:
    """Image, mask, and the mask over the image, side by side (class 0 stays transparent)."""
    image, mask = np.asarray(image), np.asarray(mask)
    if mask.shape[:2] != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {image.shape}")
    n_classes = int(max(mask.max() + 1, len(class_names) if class_names else 0))
    cmap = matplotlib.colormaps["tab10"].resampled(max(n_classes, 2))
    colored = np.ma.masked_where(mask == 0, mask)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
    for ax, (label, show_image, show_mask) in zip(
        axes, [("image", True, False), ("mask", False, True), ("overlay", True, True)]
    ):
        if show_image:
            _show(ax, image, "gray")
        if show_mask:
            ax.imshow(
                colored if show_image else mask,
                cmap=cmap,
                vmin=0,
                vmax=max(n_classes - 1, 1),
                alpha=alpha if show_image else 1.0,
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(label)
    if class_names:
        handles = [
            matplotlib.patches.Patch(color=cmap(i), label=name)
            for i, name in enumerate(class_names)
        ]
        axes[1].legend(handles=handles, fontsize=7, loc="upper right")
    fig.tight_layout(rect=(0, 0, 1, 0.86) if title else None)
    if title:
        fig.suptitle(title)
    return fig


def draw_boxes(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: Sequence[int] | None = None,
    *,
    scores: Sequence[float] | None = None,
    class_names: Sequence[str] | None = None,
    ax: Any = None,
    color: str | None = None,
    title: str | None = None,
) -> Figure:
    """Draw ``[x_min, y_min, x_max, y_max]`` boxes (pixels) on an image, with label and score."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 4))
        _show(ax, image, "gray")
    else:
        fig = ax.figure
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        label = int(labels[i]) if labels is not None else None
        c = color or colors[(label or 0) % len(colors)]
        ax.add_patch(
            matplotlib.patches.Rectangle(
                (x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=2, edgecolor=c
            )
        )
        text = [
            class_names[label]
            if class_names and label is not None
            else (str(label) if label is not None else "")
        ]
        if scores is not None:
            text.append(f"{scores[i]:.2f}")
        if any(text):
            ax.text(
                x0,
                y0 - 1,
                " ".join(t for t in text if t),
                color="white",
                fontsize=7,
                bbox=dict(facecolor=c, alpha=0.8, pad=1, lw=0),
            )
    if title:
        ax.set_title(title)
    return fig


def image_rows(
    rows: Mapping[str, Sequence[np.ndarray] | np.ndarray],
    *,
    titles: Mapping[str, Sequence[str]] | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "gray",
    size: float = 1.2,
    suptitle: str | None = None,
) -> Figure:
    """Rows of images on one fixed grey scale, each row named at its left.

    For images that must be compared pixel for pixel (originals, noisy inputs,
    reconstructions): unlike :func:`image_grid`, no image is rescaled on its own, so a
    faint reconstruction looks faint.

    Args:
        rows: row name -> images, each ``(n, H, W)`` or ``(n, H, W, 1)``; rows may differ in n.
        titles: row name -> one title per image of that row (optional, per row).
        vmin, vmax: the values shown as black and white in every panel.
        cmap: colormap.
        size: inches per image.
        suptitle: a title for the whole figure.

    Example:
        >>> x = np.random.default_rng(0).random((8, 28, 28))
        >>> fig = image_rows({"input": x, "reconstruction": np.clip(x + 0.1, 0, 1)})
        >>> len(fig.axes)
        16
    """
    if not rows:
        raise ValueError("image_rows needs at least one row, e.g. {'input': images}")
    ncols = max(len(images) for images in rows.values())
    height = size * len(rows) + (0.5 if suptitle else 0.2)
    fig, axes = plt.subplots(len(rows), ncols, squeeze=False, figsize=(size * ncols + 1.0, height))
    for r, (name, images) in enumerate(rows.items()):
        row_titles = (titles or {}).get(name)
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(images):
                ax.set_visible(False)
                continue
            image = np.asarray(images[c])
            ax.imshow(
                image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image,
                cmap=cmap,
                vmin=vmin,
                vmax=vmax,
            )
            if row_titles is not None:
                ax.set_title(str(row_titles[c]), fontsize=8)
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def image_mosaic(
    images: Sequence[np.ndarray] | np.ndarray,
    ncols: int | None = None,
    *,
    pad: int = 1,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "gray",
    xlabels: Sequence[str] | None = None,
    ylabels: Sequence[str] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    size: float = 5.0,
) -> Figure:
    """Tile many small images into one picture on a fixed grey scale (one axes, no gaps).

    For hundreds of samples or a decoded latent grid, where one axes per image is slow and
    wastes room. Images fill rows left to right, the first row at the top.

    Args:
        images: ``(n, H, W)`` or ``(n, H, W, 1)``.
        ncols: images per row (default: a square, ``ceil(sqrt(n))``).
        pad: pixels of ``vmax`` (white) between tiles.
        vmin, vmax: the values shown as black and white.
        cmap: colormap.
        xlabels: ``ncols`` tick labels under the columns; ylabels: one per row, top to bottom.
        xlabel, ylabel: axis labels.
        title: the axes title.
        size: inches of the longer side.
    """
    images = np.asarray(images, dtype=float)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"image_mosaic needs (n, H, W) images, got shape {images.shape}")
    n, h, w = images.shape
    ncols = int(ncols or math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    canvas = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), vmax, dtype=float)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = image
    scale = size / max(canvas.shape)
    fig, ax = plt.subplots(figsize=(canvas.shape[1] * scale + 0.8, canvas.shape[0] * scale + 0.8))
    ax.imshow(canvas, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    xticks = [c * (w + pad) + (w - 1) / 2 for c in range(ncols)]
    yticks = [r * (h + pad) + (h - 1) / 2 for r in range(nrows)]
    ax.set_xticks(xticks if xlabels is not None else [])
    ax.set_yticks(yticks if ylabels is not None else [])
    if xlabels is not None:
        ax.set_xticklabels([str(t) for t in xlabels], fontsize=7)
    if ylabels is not None:
        ax.set_yticklabels([str(t) for t in ylabels], fontsize=7)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def precision_recall(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    ap: Mapping[str, float] | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Figure:
    """Precision-recall curves, one line per entry of ``curves``.

    Args:
        curves: ``{name: (recall, precision)}``, two arrays of the same length: the values
            after each detection, ranked by decreasing score (what an average-precision
            function computes on the way), drawn as they come: the sawtooth of the raw curve.
        ap: optional ``{name: average precision}``, shown in the legend.
        ax: draw on this axes instead of a new figure.
        title: the axes' title.

    Returns:
        The Figure; recall on x, precision on y, both from 0 to 1.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.8, 3.8))
    else:
        fig = ax.figure
    for name, (recall, precision) in curves.items():
        recall, precision = np.asarray(recall, dtype=float), np.asarray(precision, dtype=float)
        if recall.shape != precision.shape:
            raise ValueError(
                f"{name}: recall {recall.shape} and precision {precision.shape} differ"
            )
        label = f"{name} (AP {ap[name]:.3f})" if ap and name in ap else name
        ax.plot(recall, precision, label=label)
    ax.set_xlim(0, 1.0)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=8, loc="lower left")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig

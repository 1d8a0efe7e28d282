"""Time a 2D convolution three ways: NumPy loops, NumPy im2col, TensorFlow.

Runs a loop version of a conv layer (one Python iteration per output position), an im2col
version (a strided window view and one matrix product) and TensorFlow's convolution
(``keras.ops.conv`` forward, ``tf.GradientTape`` for the backward pass) on the same float32
inputs, checks that the three agree, and prints the median wall time of several repeats per
size, with the machine it ran on.

The two NumPy versions are the ones Lab 04 writes out in its section 7 (they are not in
``lablib``: a conv layer's forward and backward passes are exercises of labs 02 and 04).

Usage:
    python benchmarks/conv_numpy_vs_tf.py              # default sizes, 5 repeats
    python benchmarks/conv_numpy_vs_tf.py --quick      # two small sizes, 3 repeats
    python benchmarks/conv_numpy_vs_tf.py --repeats 9 --threads 1   # one thread for NumPy and TF

On a busy machine, multi-threaded BLAS calls can stall while their threads wait for a
core; ``--threads 1`` gives steadier numbers there.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# (N, H, W, C_in, C_out, k, stride, padding)
SIZES = [
    (8, 28, 28, 1, 8, 3, 1, "same"),
    (16, 32, 32, 16, 32, 3, 1, "same"),
    (32, 32, 32, 32, 64, 3, 1, "same"),
    (32, 64, 64, 16, 32, 3, 2, "same"),
]
QUICK_SIZES = SIZES[:2]


# --------------------------------------------------------------------------- the two NumPy layers
# NHWC images, (kh, kw, C_in, C_out) kernels, TensorFlow's "same" padding (the odd pixel after).


def _same_pads(size: int, k: int, stride: int) -> tuple[int, int]:
    total = max((-(-size // stride) - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def _pad_for(x, kh: int, kw: int, stride: int, padding: str):
    import numpy as np

    if padding == "same":
        pads = (_same_pads(x.shape[1], kh, stride), _same_pads(x.shape[2], kw, stride))
    else:
        pads = ((0, 0), (0, 0))
    return np.pad(x, ((0, 0), *pads, (0, 0))), pads


def _crop(dxp, pads):
    (top, bottom), (left, right) = pads
    return dxp[:, top : dxp.shape[1] - bottom, left : dxp.shape[2] - right]


def loops_forward(x, w, b, stride=1, padding="valid"):
    """One Python iteration per output position: a tensordot of its window with the kernel."""
    import numpy as np

    kh, kw, _, c_out = w.shape
    xp, pads = _pad_for(x, kh, kw, stride, padding)
    h_out, w_out = (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1
    out = np.empty((x.shape[0], h_out, w_out, c_out), np.result_type(x, w, b))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, i, j] = np.tensordot(window, w, axes=3) + b
    return out, (xp, w, pads, stride)


def loops_backward(dout, cache):
    """Each output's gradient flows back to its window (through w) and to w (through the window)."""
    import numpy as np

    xp, w, pads, stride = cache
    kh, kw = w.shape[:2]
    dxp = np.zeros(xp.shape, np.result_type(dout, w))
    dw = np.zeros(w.shape, np.result_type(dout, xp))
    for i in range(dout.shape[1]):
        for j in range(dout.shape[2]):
            rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
            dw += np.tensordot(xp[:, rows, cols], dout[:, i, j], axes=([0], [0]))
            dxp[:, rows, cols] += np.tensordot(dout[:, i, j], w, axes=([1], [3]))
    return _crop(dxp, pads), dw, dout.sum(axis=(0, 1, 2))


def _windows(xp, kh: int, kw: int, stride: int):
    """A read-only view (N, H_out, W_out, kh, kw, C) of every kernel window: no copy."""
    import numpy as np

    view = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))
    return view[:, ::stride, ::stride].transpose(0, 1, 2, 4, 5, 3)


def im2col_forward(x, w, b, stride=1, padding="valid"):
    """All windows at once: one tensordot of the window matrix with the kernel."""
    import numpy as np

    xp, pads = _pad_for(x, w.shape[0], w.shape[1], stride, padding)
    out = np.tensordot(_windows(xp, w.shape[0], w.shape[1], stride), w, axes=3) + b
    return out, (xp, w, pads, stride)


def im2col_backward(dout, cache):
    """dL/dw = conv(x, dL/dout) and dL/dx = full_conv(rot180(w), dL/dout), one tensordot each."""
    import numpy as np

    xp, w, pads, stride = cache
    n, h_out, w_out, c_out = dout.shape
    kh, kw = w.shape[:2]
    dw = np.tensordot(_windows(xp, kh, kw, stride), dout, axes=([0, 1, 2], [0, 1, 2]))
    dilated = np.zeros((n, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1, c_out), dout.dtype)
    dilated[:, ::stride, ::stride] = dout
    full = np.pad(dilated, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    w_rot = w[::-1, ::-1].transpose(0, 1, 3, 2)  # rot180, input and output channels swapped
    core = np.tensordot(_windows(full, kh, kw, 1), w_rot, axes=3)
    dxp = np.zeros(xp.shape, core.dtype)  # rows/columns no window reached keep a zero gradient
    dxp[:, : core.shape[1], : core.shape[2]] = core
    return _crop(dxp, pads), dw, dout.sum(axis=(0, 1, 2))


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call, in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    """One paragraph: CPU model, cores usable, load, library versions."""
    import numpy as np
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    gpus = tf.config.list_physical_devices("GPU")
    try:
        from threadpoolctl import threadpool_info

        blas = (
            ", ".join(
                sorted(
                    {
                        f"{p['internal_api']} {p['num_threads']} thread(s)"
                        for p in threadpool_info()
                        if p["user_api"] == "blas"
                    }
                )
            )
            or "unknown"
        )
    except ImportError:
        blas = "unknown"
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {usable} usable core(s) "
        f"(os.cpu_count {os.cpu_count()}), load average {load}; "
        f"Python {platform.python_version()}, "
        f"NumPy {np.__version__} (BLAS: {blas}), TensorFlow {tf.__version__} "
        f"on {'GPU' if gpus else 'CPU'}"
    )


def run_size(size: tuple, repeats: int, loop_repeats: int) -> dict[str, float]:
    """Time every method on one input size; return seconds per method."""
    import keras
    import numpy as np
    import tensorflow as tf

    n, h, w, c_in, c_out, k, stride, padding = size
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, h, w, c_in)).astype("float32")
    kernel = (rng.normal(size=(k, k, c_in, c_out)) / np.sqrt(k * k * c_in)).astype("float32")
    bias = np.zeros(c_out, "float32")
    out_tf = (
        keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, strides=stride, padding=padding))
        + bias
    )
    dout = rng.normal(size=out_tf.shape).astype("float32")

    def tf_backward():
        xt = tf.constant(x)
        kt = tf.constant(kernel)
        with tf.GradientTape() as tape:
            tape.watch([xt, kt])
            loss = tf.reduce_sum(keras.ops.conv(xt, kt, strides=stride, padding=padding) * dout)
        return [g.numpy() for g in tape.gradient(loss, [xt, kt])]

    # The three must agree before their times mean anything.
    out_loop, cache = loops_forward(x, kernel, bias, stride, padding)
    out_fast, cache_fast = im2col_forward(x, kernel, bias, stride, padding)
    np.testing.assert_allclose(out_loop, out_tf, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out_fast, out_tf, rtol=1e-4, atol=1e-4)
    dx_tf, dw_tf = tf_backward()
    for dx, dw, _ in (
        loops_backward(dout, cache),
        im2col_backward(dout, cache_fast),
    ):
        np.testing.assert_allclose(dx, dx_tf, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(dw, dw_tf, rtol=1e-3, atol=1e-2)

    def fwd_bwd(forward, backward):
        out, c = forward(x, kernel, bias, stride, padding)
        return backward(dout, c)

    return {
        "loop fwd": median_time(
            lambda: loops_forward(x, kernel, bias, stride, padding), loop_repeats
        ),
        "loop fwd+bwd": median_time(lambda: fwd_bwd(loops_forward, loops_backward), loop_repeats),
        "im2col fwd": median_time(
            lambda: im2col_forward(x, kernel, bias, stride, padding), repeats
        ),
        "im2col fwd+bwd": median_time(lambda: fwd_bwd(im2col_forward, im2col_backward), repeats),
        "TF fwd": median_time(
            lambda: keras.ops.convert_to_numpy(
                keras.ops.conv(x, kernel, strides=stride, padding=padding)
            ),
            repeats,
        ),
        "TF fwd+bwd": median_time(tf_backward, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two small sizes only")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed calls per method (median reported)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="limit both TensorFlow's and NumPy's BLAS threads (0: their defaults)",
    )
    args = parser.parse_args()
    import tensorflow as tf

    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads, user_api="blas")
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    sizes, repeats = (QUICK_SIZES, min(args.repeats, 3)) if args.quick else (SIZES, args.repeats)
    print(f"machine: {machine()}")
    print(
        f"float32; median of {repeats} timed calls after one warm-up "
        f"(loop version: max(3, repeats // 2));"
        f" times in ms\n"
    )
    header = [
        "input (N,H,W,Cin) -> Cout, k, s",
        "loop fwd",
        "loop f+b",
        "im2col fwd",
        "im2col f+b",
        "TF fwd",
        "TF f+b",
        "loop/TF f+b",
        "im2col/TF f+b",
    ]
    print(" | ".join(f"{h:>12s}" if i else f"{h:<34s}" for i, h in enumerate(header)))
    for size in sizes:
        t = run_size(size, repeats, loop_repeats=max(3, repeats // 2))
        n, h, w, c_in, c_out, k, stride, padding = size
        label = f"({n},{h},{w},{c_in}) -> {c_out}, {k}x{k}, s{stride} {padding}"
        cells = [
            t["loop fwd"],
            t["loop fwd+bwd"],
            t["im2col fwd"],
            t["im2col fwd+bwd"],
            t["TF fwd"],
            t["TF fwd+bwd"],
        ]
        ratios = [t["loop fwd+bwd"] / t["TF fwd+bwd"], t["im2col fwd+bwd"] / t["TF fwd+bwd"]]
        print(
            " | ".join(
                [
                    f"{label:<34s}",
                    *(f"{1e3 * c:12.2f}" for c in cells),
                    *(f"{r:11.1f}x" for r in ratios),
                ]
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Time a 2D convolution three ways: NumPy loops, NumPy im2col, TensorFlow.

Runs ``lablib.numpy_nn.conv2d_forward/backward`` (one Python iteration per output position),
``conv2d_forward_fast/backward_fast`` (im2col: a strided window view and one matrix
product) and TensorFlow's convolution (``keras.ops.conv`` forward, ``tf.GradientTape`` for
the backward pass) on the same float32 inputs, checks that the three agree, and prints the
median wall time of several repeats per size, with the machine it ran on.

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

    from lablib import numpy_nn as layers

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
    out_loop, cache = layers.conv2d_forward(x, kernel, bias, stride, padding)
    out_fast, cache_fast = layers.conv2d_forward_fast(x, kernel, bias, stride, padding)
    np.testing.assert_allclose(out_loop, out_tf, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out_fast, out_tf, rtol=1e-4, atol=1e-4)
    dx_tf, dw_tf = tf_backward()
    for dx, dw, _ in (
        layers.conv2d_backward(dout, cache),
        layers.conv2d_backward_fast(dout, cache_fast),
    ):
        np.testing.assert_allclose(dx, dx_tf, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(dw, dw_tf, rtol=1e-3, atol=1e-2)

    def fwd_bwd(forward, backward):
        out, c = forward(x, kernel, bias, stride, padding)
        return backward(dout, c)

    return {
        "loop fwd": median_time(
            lambda: layers.conv2d_forward(x, kernel, bias, stride, padding), loop_repeats
        ),
        "loop fwd+bwd": median_time(
            lambda: fwd_bwd(layers.conv2d_forward, layers.conv2d_backward), loop_repeats
        ),
        "im2col fwd": median_time(
            lambda: layers.conv2d_forward_fast(x, kernel, bias, stride, padding), repeats
        ),
        "im2col fwd+bwd": median_time(
            lambda: fwd_bwd(layers.conv2d_forward_fast, layers.conv2d_backward_fast), repeats
        ),
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

"""The student's Colab path, outside this checkout: what a student's runtime really sees.

1. A fresh virtual environment holds only what Colab preinstalls (TensorFlow, Keras, NumPy,
   SciPy, matplotlib, scikit-learn, scikit-image, albumentations, tqdm, ipykernel, and the
   Jupyter client libraries Colab runs on), at the versions of this checkout's venv.
2. A lab's own setup cell runs there with a fake ``google.colab`` module. It pip-installs
   lablib from git at the ref it names; git's ``insteadOf`` sends that GitHub URL to a local
   clone of this repository (``git+file://`` stands in for the public repository).
3. Lab 07 executes in the quick profile in that environment, from a folder outside the
   repository, with every download failing: the installed package must carry its fallback
   data and find it.

The packages are installed from the uv cache that ``make setup`` filled, so this takes about a
minute. The figures (packages added, seconds) are printed for the record.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

import lablib

ROOT = Path(__file__).resolve().parent.parent
COLAB = [
    "tensorflow", "keras", "numpy", "scipy", "matplotlib", "scikit-learn", "scikit-image",
    "albumentations", "tqdm", "ipykernel", "nbclient", "nbformat", "pip",
]  # fmt: skip
PROBE = """
import importlib.metadata, json, sys, time, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
names = lambda: {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
before, start = names(), time.perf_counter()
exec(compile(open(sys.argv[1]).read(), "setup cell", "exec"), {})
seconds = time.perf_counter() - start
importlib.invalidate_caches()
import lablib
print(json.dumps({"added": sorted(names() - before), "seconds": seconds, "file": lablib.__file__}))
"""


def run(*cmd: str, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{' '.join(cmd[:4])}... failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """(python of the Colab-like venv, environment for it, what the setup cell added)."""
    tmp = tmp_path_factory.mktemp("colab")
    venv = tmp / "venv"
    uv = [sys.executable, "-m", "uv"]
    run(*uv, "venv", "-q", "--python", sys.executable, str(venv))
    python = str(venv / "bin" / "python")
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in COLAB]
    run(*uv, "pip", "install", "-q", "--python", python, *pins)
    origin = tmp / "origin"  # what the public repository holds: the committed tree, tagged
    run("git", "clone", "-q", str(ROOT), str(origin))
    run("git", "-C", str(origin), "tag", "-f", lablib.SOURCE_REF)
    gitconfig = tmp / "gitconfig"
    gitconfig.write_text(
        f'[url "file://{origin}"]\n\tinsteadOf = https://github.com/{lablib.SOURCE_REPO}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABLIB_", "VIRTUAL_ENV"))}
    env.update(GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1",
               PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")  # fmt: skip
    lab = nbformat.read(ROOT / "labs" / "07_mnist_mlp_vs_cnn.ipynb", as_version=4)
    prelude = next(c for c in lab.cells if c.cell_type == "code").source.split("import lablib\n")[0]
    (tmp / "setup_cell.py").write_text(prelude)
    (tmp / "probe.py").write_text(PROBE)
    done = run(python, str(tmp / "probe.py"), str(tmp / "setup_cell.py"), env=env, cwd=tmp)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nColab setup cell: added {report['added']} in {report['seconds']:.1f} s")
    return python, env, report, tmp


def test_the_setup_cell_adds_lablib_alone_and_keeps_colabs_packages(colab):
    python, _, report, tmp = colab
    assert "lablib" in report["added"], report
    assert len(report["added"]) <= 5, f"the setup cell added {report['added']}"
    assert Path(report["file"]).is_relative_to(tmp / "venv"), "lablib installed into the venv"
    for name in ("tensorflow", "keras"):
        pinned = run(python, "-c", f"import importlib.metadata as m; print(m.version('{name}'))")
        assert pinned.stdout.strip() == importlib.metadata.version(name), name


def test_a_lab_runs_from_another_folder_with_downloads_failing(colab):
    python, env, _, tmp = colab
    kernels = tmp / "kernels" / "colab"
    kernels.mkdir(parents=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (kernels / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python"}))
    work = tmp / "student"
    work.mkdir()
    env = dict(env, LABLIB_PROFILE="quick", KERAS_HOME=str(tmp / "keras"), MPLBACKEND="Agg",
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")  # fmt: skip
    km = AsyncKernelManager(kernel_name="colab")
    km.kernel_spec_manager = KernelSpecManager(kernel_dirs=[str(tmp / "kernels")])
    nb = nbformat.read(ROOT / "labs" / "07_mnist_mlp_vs_cnn.ipynb", as_version=4)
    NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": str(work)}}).execute(
        env=env, cwd=str(work)
    )
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "lablib.datasets: mnist: fallback" in text and "download of" in text, text[:2000]
    assert str(ROOT) not in text, "the lab read something from the checkout"

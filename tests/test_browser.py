"""The student's JupyterLab path in a real browser (Debian's chromium, driven by Playwright).

JupyterLab serves the released notebooks; the test opens lab 01 as a student does, runs all
cells, checks what a student sees (the setup line, plots rendered as images, the first
error being exercise 1's NotImplementedError), types a right and then a wrong solution into
the first exercise and reads the test cell's verdict. Screenshots go to build/browser/.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it when it is
missing) because Playwright cannot download its own browsers here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lablib.grading.release import release_all

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RIGHT = '''def conv1d(x, k):
    """My 1D convolution."""
    x, k = np.asarray(x, dtype=float), np.asarray(k, dtype=float)
    padded = np.pad(x, len(k) // 2)
    return np.array([padded[n:n + len(k)] @ k[::-1] for n in range(len(x))])'''
WRONG = '''def conv1d(x, k):
    """Correlation, not convolution: the kernel is not flipped."""
    x, k = np.asarray(x, dtype=float), np.asarray(k, dtype=float)
    padded = np.pad(x, len(k) // 2)
    return np.array([padded[n:n + len(k)] @ k for n in range(len(x))])'''


# Every cell stays in the page (JupyterLab otherwise renders only the visible ones), and no
# pop-up asks about Jupyter news.
_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM}: apt-get install chromium")
    release = tmp_path_factory.mktemp("release")
    release_all(ROOT / "labs", release, tmp_path_factory.mktemp("autograder"))
    port, token = _free_port(), "lablib-browser-test"
    settings = tmp_path_factory.mktemp("lab-settings")
    for plugin, values in _SETTINGS.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ, LABLIB_PROFILE="quick", LABLIB_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
           "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={release}", f"--LabApp.user_settings_dir={settings}",
           "--allow-root"]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start within 60 s")
    yield base, token
    server.terminate()
    server.wait(20)


@pytest.fixture(scope="module")
def page(jupyter):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    base, token = jupyter
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/lab/tree/01_convolution_filters.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        select = page.get_by_role("button", name="Select", exact=True)
        try:  # a fresh JupyterLab may ask which kernel to start; the lab's own is preselected
            select.wait_for(timeout=15_000)
            select.click()
        except PlaywrightTimeout:
            pass
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
        )
        yield page
        browser.close()


def _cell(page, text: str):
    """The notebook cell whose editor contains ``text``."""
    return page.locator(".jp-Notebook .jp-CodeCell").filter(has_text=text).first


def _run_cell(page, cell) -> None:
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_timeout(300)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)


def _replace_source(page, cell, source: str) -> None:
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)  # plain text: no auto-indent, no auto-closed brackets


def test_run_all_stops_at_exercise_1_with_a_readable_error(page):
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    error = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    page.wait_for_selector(f"{error}:has-text('NotImplementedError')", timeout=240_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    page.locator(error).filter(has_text="NotImplementedError").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "01_run_all.png"))
    text = page.locator(".jp-Notebook").inner_text()
    assert "lablib 0.1.0 | 01_convolution_filters | profile quick" in text
    assert page.locator(".jp-RenderedImage img").count() >= 1, "the plots render as images"
    first = page.locator(error).filter(has_text="Error").first.inner_text()
    assert "NotImplementedError" in first and "conv1d: write your code here" in first, first


def _answer(page, source: str, shot: str):
    """Type ``source`` as exercise 1, run it and its test cell; the test cell, screenshotted."""
    exercise, test = _cell(page, "def conv1d("), _cell(page, "# TEST conv1d (2 points)")
    _replace_source(page, exercise, source)
    _run_cell(page, exercise)
    _run_cell(page, test)
    test.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / shot))
    return test


def test_a_right_answer_says_the_test_passed(page):
    test = _answer(page, RIGHT, "02_test_passed.png")
    assert "✔ test conv1d passed (2 points)" in test.inner_text()


def test_a_wrong_answer_gets_a_sentence_not_a_traceback(page):
    test = _answer(page, WRONG, "03_test_failed.png")
    out = test.locator(".jp-OutputArea").inner_text()
    assert "CheckError" in out and "expected" in out and "Hint: flip the kernel" in out, out
    assert "Traceback" not in out and "checks.py" not in out and "passed" not in out, out

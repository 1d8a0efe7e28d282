"""data/: the manifest matches the files, corruption is caught, rebuilding is reproducible."""

import shutil
from pathlib import Path

import pytest

from lablib.datasets import fallback as datafiles
from lablib.datasets.fallback import DataFileError
from lablib.datasets.remote import file_digest


def test_every_file_matches_the_manifest():
    names = datafiles.manifest()
    assert set(names) == {f for files, _ in datafiles.BUILDERS.values() for f in files}
    for name in names:
        datafiles.verify(name)


def test_data_folder_is_small_and_documented():
    folder = datafiles.data_dir()
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total < 20e6, f"data/ holds {total / 1e6:.1f} MB; keep it under 20 MB"
    readme = (folder / "README.md").read_text()
    for name in datafiles.manifest():
        assert name in readme, f"data/README.md does not describe {name}"


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    for p in datafiles.data_dir().iterdir():
        shutil.copy(p, tmp_path / p.name)
    monkeypatch.setenv("LABLIB_DATA", str(tmp_path))
    return tmp_path


def test_corrupted_fallback_is_reported_with_the_fix(data_copy):
    path = data_copy / "digits28.npz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataFileError, match=r"corrupted or stale.*lablib data"):
        datafiles.load("digits28")


def test_missing_fallback_and_missing_manifest(data_copy):
    (data_copy / "digits28.npz").unlink()
    with pytest.raises(DataFileError, match="missing: run `lablib data`"):
        datafiles.load("digits28")
    (data_copy / datafiles.MANIFEST).unlink()
    with pytest.raises(DataFileError, match="MANIFEST.sha256 is missing"):
        datafiles.load("scenes32")


def test_offline_loader_surfaces_a_corrupted_fallback(data_copy, monkeypatch):
    from lablib import datasets

    monkeypatch.setenv("LABLIB_OFFLINE", "1")
    (data_copy / "digits28.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match="digits28.npz"):
        datasets.load_mnist()


def test_rebuild_is_byte_for_byte_reproducible(tmp_path):
    expected = datafiles.manifest()
    datafiles.build_all(tmp_path, only=["digits28", "reviews"])
    for name in ("digits28.npz", "reviews.npz", "reviews_word_index.json"):
        assert file_digest(tmp_path / name) == expected[name], f"{name} rebuilt differently"


def test_an_installed_package_reads_its_own_files_and_rebuilds_into_the_user_cache(
    tmp_path, monkeypatch
):
    """Outside a checkout nothing is ever written into site-packages."""
    monkeypatch.delenv("LABLIB_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(datafiles, "in_checkout", lambda: False)
    assert datafiles.data_dir() == datafiles.shipped_dir()
    assert datafiles.rebuild_dir() == tmp_path / "keras" / "lablib-data"
    written = datafiles.build_all(only=["digits28"])
    assert all(p.is_relative_to(tmp_path) for p in written)
    assert datafiles.data_dir() == tmp_path / "keras" / "lablib-data"  # the rebuilt copy wins
    assert datafiles.load("digits28")["x_train"].shape == (1347, 28, 28)


def test_in_a_checkout_the_repository_data_folder_is_used():
    assert datafiles.in_checkout()
    assert datafiles.shipped_dir() == Path(datafiles.__file__).resolve().parents[2] / "data"
    assert datafiles.rebuild_dir() == datafiles.shipped_dir()

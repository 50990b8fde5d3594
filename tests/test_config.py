"""sknet.config: every SKNET_* variable is read there, and documented in one table."""

import re
from pathlib import Path

import pytest

from sknet import config

ROOT = Path(__file__).resolve().parent.parent


def test_docs_table_lists_exactly_the_variables():
    text = (ROOT / "docs" / "configuration.md").read_text()
    table = set(re.findall(r"^\| `(SKNET_\w+)` \|", text, flags=re.M))
    assert table == set(config.VARIABLES)


def test_no_other_module_reads_an_sknet_variable():
    readers = set()
    for path in [
        *(ROOT / "sknet").rglob("*.py"),
        ROOT / "conftest.py",
        *(ROOT / "bench").glob("*.py"),
        *(ROOT / "examples").glob("*.py"),
    ]:
        text = path.read_text()
        if re.search(r"(environ(\.get)?\(?\[?|getenv\()\s*[\"']SKNET_", text):
            readers.add(path.relative_to(ROOT).as_posix())
    # sknet/config.py reads them by name through one helper; nobody names one to os.environ
    assert readers == set()
    assert "os.environ.get(name" in (ROOT / "sknet" / "config.py").read_text()


def test_every_variable_of_the_sources_is_in_the_table():
    used = set()
    for path in [
        *(ROOT / "sknet").rglob("*.py"),
        ROOT / "conftest.py",
        *(ROOT / "bench").glob("*.py"),
        *(ROOT / "examples").glob("*.py"),
    ]:
        used |= set(re.findall(r"[\"'](SKNET_[A-Z_]+)[\"']", path.read_text()))
    assert used <= set(config.VARIABLES)


@pytest.mark.parametrize("value, expected", [("", True), ("1", True), ("0", False), ("off", False), (" No ", False)])
def test_switches(monkeypatch, value, expected):
    monkeypatch.setenv("SKNET_PCH", value)
    assert config.pch_enabled() is expected


def test_numbers_are_parsed_and_checked(monkeypatch):
    monkeypatch.setenv("SKNET_BLAS_THREADS", "3")
    monkeypatch.setenv("SKNET_COMPILE_WORKERS", "0")
    assert config.blas_threads() == 3 and config.compile_workers() == 1
    monkeypatch.setenv("SKNET_BLAS_THREADS", "many")
    with pytest.raises(ValueError, match="SKNET_BLAS_THREADS"):
        config.blas_threads()
    monkeypatch.setenv("SKNET_COMPILE_WORKERS", "x")
    with pytest.raises(ValueError, match="SKNET_COMPILE_WORKERS"):
        config.compile_workers()


def test_data_dir_and_modes(monkeypatch, tmp_path):
    monkeypatch.setenv("SKNET_DATA", str(tmp_path))
    monkeypatch.setenv("SKNET_TEST_MODE", "numba")
    monkeypatch.delenv("SKNET_BENCH_MODE", raising=False)
    assert config.data_dir() == tmp_path and config.mode_for_tests() == "NUMBA" and config.bench_mode() is None


def test_thread_policy(monkeypatch):
    monkeypatch.delenv("SKNET_THREAD_POLICY", raising=False)
    assert config.thread_policy() == "adaptive"
    monkeypatch.setenv("SKNET_THREAD_POLICY", " Fixed ")
    assert config.thread_policy() == "fixed"
    monkeypatch.setenv("SKNET_THREAD_POLICY", "sometimes")
    with pytest.raises(ValueError, match="SKNET_THREAD_POLICY"):
        config.thread_policy()

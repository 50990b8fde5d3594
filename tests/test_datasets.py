"""sknet.datasets on tiny IDX files written by the tests (nothing is downloaded)."""

import gzip
import hashlib
import struct

import numpy as np
import pytest

from sknet import datasets
from sknet.datasets import get_data_home, load_fashion_mnist, load_mnist, read_idx


def idx_bytes(array):
    """The IDX encoding of a uint8 array: magic (0, 0, 0x08, ndim), big-endian dims, data."""
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_gz(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(payload)
    return path


def make_dataset(folder, n_train=5, n_test=3, seed=0):
    """Four tiny gzipped IDX files in ``folder``; returns the arrays and their md5s."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    md5 = {}
    for name, array in arrays.items():
        path = write_gz(folder / name, idx_bytes(array))
        md5[name] = hashlib.md5(path.read_bytes()).hexdigest()
    return arrays, md5


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No $SKNET_DATA and a HOME without sknet_data, so only the test's folders are searched."""
    monkeypatch.delenv("SKNET_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def use_md5(monkeypatch, name, md5):
    monkeypatch.setitem(datasets._DATASETS, name, dict(datasets._DATASETS[name], md5=md5))


class TestReadIdx:
    @pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (1, 2, 2, 2)])
    def test_round_trip_gzipped(self, tmp_path, shape):
        array = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
        out = read_idx(write_gz(tmp_path / "a.gz", idx_bytes(array)))
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, array)

    def test_uncompressed_file(self, tmp_path):
        array = np.array([[1, 2], [3, 255]], dtype=np.uint8)
        path = tmp_path / "raw-idx2-ubyte"
        path.write_bytes(idx_bytes(array))
        np.testing.assert_array_equal(read_idx(path), array)

    def test_bad_magic(self, tmp_path):
        payload = bytearray(idx_bytes(np.zeros(3, np.uint8)))
        payload[2] = 0x0D  # float32 IDX, which MNIST never uses
        with pytest.raises(ValueError, match="bad magic number"):
            read_idx(write_gz(tmp_path / "f.gz", bytes(payload)))

    def test_truncated_file(self, tmp_path):
        payload = idx_bytes(np.zeros((4, 5), np.uint8))[:-3]
        with pytest.raises(ValueError, match=r"truncated or corrupt.*20 bytes.*\(4, 5\).*holds 17"):
            read_idx(write_gz(tmp_path / "t.gz", payload))

    def test_trailing_bytes_are_rejected_too(self, tmp_path):
        payload = idx_bytes(np.zeros(4, np.uint8)) + b"\x00"
        with pytest.raises(ValueError, match="truncated or corrupt"):
            read_idx(write_gz(tmp_path / "t.gz", payload))


class TestSearchOrder:
    def test_order_data_home_env_home(self, clean_env, monkeypatch):
        monkeypatch.setenv("SKNET_DATA", str(clean_env / "env"))
        homes = get_data_home(clean_env / "explicit")
        assert homes == [clean_env / "explicit", clean_env / "env", clean_env / "home" / "sknet_data"]

    def test_without_data_home_or_env(self, clean_env):
        assert get_data_home() == [clean_env / "home" / "sknet_data"]

    def test_data_home_then_env_then_home(self, clean_env, monkeypatch):
        folders = {key: clean_env / key for key in ("explicit", "env", "home/sknet_data")}
        md5s = {key: make_dataset(folder / "mnist", seed=i)[1] for i, (key, folder) in enumerate(folders.items())}
        monkeypatch.setenv("SKNET_DATA", str(folders["env"]))
        use_md5(monkeypatch, "mnist", md5s["explicit"])
        assert load_mnist(folders["explicit"]).path == str(folders["explicit"] / "mnist")
        use_md5(monkeypatch, "mnist", md5s["env"])
        assert load_mnist().path == str(folders["env"] / "mnist")
        monkeypatch.delenv("SKNET_DATA")
        use_md5(monkeypatch, "mnist", md5s["home/sknet_data"])
        assert load_mnist().path == str(folders["home/sknet_data"] / "mnist")

    def test_falls_through_to_home(self, clean_env, monkeypatch):
        arrays, md5 = make_dataset(clean_env / "home" / "sknet_data" / "mnist", n_train=4)
        use_md5(monkeypatch, "mnist", md5)
        monkeypatch.setenv("SKNET_DATA", str(clean_env / "empty"))
        data = load_mnist(clean_env / "also-empty")
        assert data.path == str(clean_env / "home" / "sknet_data" / "mnist")

    def test_incomplete_folder_is_skipped(self, clean_env, monkeypatch):
        make_dataset(clean_env / "partial" / "mnist")
        (clean_env / "partial" / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
        _, md5 = make_dataset(clean_env / "env" / "mnist", seed=3)
        use_md5(monkeypatch, "mnist", md5)
        monkeypatch.setenv("SKNET_DATA", str(clean_env / "env"))
        assert load_mnist(clean_env / "partial").path == str(clean_env / "env" / "mnist")


class TestLoad:
    def test_arrays_scaled_and_shaped(self, clean_env, monkeypatch):
        arrays, md5 = make_dataset(clean_env / "d" / "mnist", n_train=5, n_test=3)
        use_md5(monkeypatch, "mnist", md5)
        data = load_mnist(clean_env / "d")
        assert data.X_train.shape == (5, 1, 28, 28) and data.X_test.shape == (3, 1, 28, 28)
        assert data.X_train.dtype == np.float32 and data.y_train.dtype == np.int32
        np.testing.assert_allclose(data.X_train[:, 0], arrays["train-images-idx3-ubyte.gz"] / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte.gz"])

    def test_fashion_mnist_reads_its_own_folder(self, clean_env, monkeypatch):
        make_dataset(clean_env / "d" / "mnist", seed=1)
        arrays, md5 = make_dataset(clean_env / "d" / "fashion-mnist", n_train=6, seed=2)
        use_md5(monkeypatch, "fashion-mnist", md5)
        data = load_fashion_mnist(clean_env / "d")
        assert data.path == str(clean_env / "d" / "fashion-mnist")
        np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte.gz"])

    def test_md5_mismatch_names_the_file(self, clean_env, monkeypatch):
        _, md5 = make_dataset(clean_env / "d" / "mnist")
        md5["t10k-images-idx3-ubyte.gz"] = "0" * 32
        use_md5(monkeypatch, "mnist", md5)
        with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz does not match its published md5"):
            load_mnist(clean_env / "d")

    def test_real_checksums_reject_tiny_files(self, clean_env):
        make_dataset(clean_env / "d" / "mnist")
        with pytest.raises(ValueError, match="md5"):
            load_mnist(clean_env / "d")

    def test_truncated_file_with_matching_md5(self, clean_env, monkeypatch):
        _, md5 = make_dataset(clean_env / "d" / "mnist", n_train=5)
        bad = clean_env / "d" / "mnist" / "train-images-idx3-ubyte.gz"
        write_gz(bad, idx_bytes(np.zeros((5, 28, 28), np.uint8))[:-100])
        md5["train-images-idx3-ubyte.gz"] = hashlib.md5(bad.read_bytes()).hexdigest()
        use_md5(monkeypatch, "mnist", md5)
        with pytest.raises(ValueError, match="truncated or corrupt"):
            load_mnist(clean_env / "d")

    def test_not_found_names_every_path_tried(self, clean_env, monkeypatch):
        monkeypatch.setenv("SKNET_DATA", str(clean_env / "env"))
        with pytest.raises(FileNotFoundError) as info:
            load_mnist(clean_env / "explicit")
        message = str(info.value)
        tried = [
            clean_env / "explicit" / "mnist",
            clean_env / "env" / "mnist",
            clean_env / "home" / "sknet_data" / "mnist",
        ]
        positions = [message.index(str(path)) for path in tried]
        assert positions == sorted(positions)
        assert "train-images-idx3-ubyte.gz" in message and "SKNET_DATA" in message
        assert "download_if_missing=True" in message

    def test_no_download_unless_asked(self, clean_env, monkeypatch):
        def fail(*args, **kwargs):
            raise AssertionError("tried to download")

        monkeypatch.setattr(datasets.urllib.request, "urlopen", fail)
        with pytest.raises(FileNotFoundError):
            load_mnist(clean_env / "nowhere")
        assert not (clean_env / "nowhere").exists()

    def test_download_verifies_and_keeps_nothing_bad(self, clean_env, monkeypatch):
        """download_if_missing fetches from the mirrors (faked here) and checks md5s."""
        source = clean_env / "mirror"
        _, md5 = make_dataset(source)
        use_md5(monkeypatch, "mnist", md5)
        monkeypatch.setitem(
            datasets._DATASETS, "mnist", dict(datasets._DATASETS["mnist"], mirrors=("bad://", "good://"))
        )

        class Response:
            def __init__(self, data):
                self.data = data

            def read(self):
                return self.data

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        def urlopen(url, timeout=None):
            fname = url.split("//", 1)[1]
            if url.startswith("bad://"):
                return Response(b"corrupt")  # md5 mismatch: the next mirror is tried
            return Response((source / fname).read_bytes())

        monkeypatch.setattr(datasets.urllib.request, "urlopen", urlopen)
        data = load_mnist(clean_env / "target", download_if_missing=True)
        assert data.path == str(clean_env / "target" / "mnist")
        assert not list((clean_env / "target" / "mnist").glob("*.part"))


class TestRelativeSknetData:
    """A relative $SKNET_DATA is found from the current directory or from the checkout's root."""

    @pytest.fixture
    def layout(self, clean_env, monkeypatch):
        """tmp/repo (a checkout with examples/) beside tmp/shared/data/mnist."""
        repo = clean_env / "repo"
        (repo / "examples").mkdir(parents=True)
        (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        monkeypatch.setattr(datasets, "_REPO_ROOT", repo)
        _, md5 = make_dataset(clean_env / "shared" / "data" / "mnist")
        use_md5(monkeypatch, "mnist", md5)
        return repo

    @pytest.mark.parametrize(
        "where, value",
        [
            (".", "../shared/data"),  # from the root, as the README writes it
            ("examples", "../shared/data"),  # the same value from examples/: via the root
            ("examples", "../../shared/data"),  # relative to examples/ itself
        ],
    )
    def test_found_from_root_and_subfolder(self, layout, monkeypatch, where, value):
        monkeypatch.chdir(layout / where)
        monkeypatch.setenv("SKNET_DATA", value)
        expected = layout.parent / "shared" / "data" / "mnist"
        assert load_mnist().path == str(expected)

    def test_current_directory_comes_first(self, layout, monkeypatch):
        monkeypatch.chdir(layout / "examples")
        assert datasets.resolve_data_path("d") == [layout / "examples" / "d", layout / "d"]
        monkeypatch.chdir(layout)
        assert datasets.resolve_data_path("d") == [layout / "d"]  # no repeat
        assert datasets.resolve_data_path(layout / "x") == [layout / "x"]

    def test_not_found_names_both_places(self, layout, monkeypatch):
        monkeypatch.chdir(layout / "examples")
        monkeypatch.setenv("SKNET_DATA", "nowhere")
        with pytest.raises(FileNotFoundError) as info:
            load_mnist()
        message = str(info.value)
        assert str(layout / "examples" / "nowhere" / "mnist") in message
        assert str(layout / "nowhere" / "mnist") in message

    def test_outside_a_checkout_only_the_current_directory(self, clean_env, monkeypatch):
        monkeypatch.setattr(datasets, "_REPO_ROOT", clean_env / "site-packages")
        monkeypatch.chdir(clean_env)
        assert datasets.resolve_data_path("d") == [clean_env / "d"]

    def test_the_real_checkout_root(self):
        from pathlib import Path

        root = Path(datasets.__file__).resolve().parents[1]
        assert (root / "pyproject.toml").is_file() and datasets._REPO_ROOT == root

"""Loaders for MNIST and Fashion-MNIST from the standard gzipped IDX files.

Files are looked for in ``data_home``, then ``$SKNET_DATA``, then
``~/sknet_data``, each holding one folder per dataset (``mnist/``,
``fashion-mnist/``) with the four official ``*-ubyte.gz`` files. A relative
``$SKNET_DATA`` is looked up from the current directory and then from the root
of the sknet checkout, so ``SKNET_DATA=../shared/data`` works from the
repository root and from ``examples/`` alike. Every file is checked against its
published md5 before it is read.
"""

import gzip
import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from . import config

__all__ = ["load_mnist", "load_fashion_mnist", "read_idx", "get_data_home", "resolve_data_path"]

# The checkout sknet runs from (an editable install); a relative $SKNET_DATA is
# also looked up from here. An installed wheel has no pyproject.toml beside it.
_REPO_ROOT = Path(__file__).resolve().parent.parent

_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

_DATASETS = {
    "mnist": {
        "md5": dict(
            zip(
                _FILES,
                (
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                    "9fb629c4189551a2d022fa330f9573f3",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
            )
        ),
        "mirrors": (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
    },
    "fashion-mnist": {
        "md5": dict(
            zip(
                _FILES,
                (
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
            )
        ),
        "mirrors": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    },
}


def resolve_data_path(path):
    """The folders a (possibly relative) ``$SKNET_DATA`` value names, in search order.

    An absolute path is itself. A relative one is taken from the current
    directory first, then from the root of the sknet checkout (when sknet
    runs from one), so a path written for the repository root still works
    from a subfolder such as ``examples/``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    list of Path
        Absolute paths, without repeats.

    Examples
    --------
    >>> resolve_data_path('/data/sets')
    [PosixPath('/data/sets')]
    >>> resolve_data_path('data')[0] == Path.cwd() / 'data'
    True
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return [path]
    bases = [Path.cwd()]
    if (_REPO_ROOT / "pyproject.toml").is_file():
        bases.append(_REPO_ROOT)
    found = []
    for base in bases:
        candidate = (base / path).resolve()
        if candidate not in found:
            found.append(candidate)
    return found


def get_data_home(data_home=None):
    """Return the folders searched for datasets, in order.

    Parameters
    ----------
    data_home : str or Path, optional
        Searched first when given.

    Returns
    -------
    list of Path
        ``data_home``, the folders ``$SKNET_DATA`` names (see
        :func:`resolve_data_path`), then ``~/sknet_data``.

    Examples
    --------
    >>> get_data_home('/tmp/x')[0]
    PosixPath('/tmp/x')
    """
    homes = []
    if data_home is not None:
        homes.append(Path(data_home))
    if config.data_dir() is not None:
        homes.extend(resolve_data_path(config.data_dir()))
    homes.append(Path.home() / "sknet_data")
    return homes


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_idx(path):
    """Read a (gzipped) IDX file into a numpy array.

    Parameters
    ----------
    path : str or Path
        A ``.gz`` file or an uncompressed IDX file.

    Returns
    -------
    numpy.ndarray
        uint8 array of the shape stored in the header.

    Examples
    --------
    >>> import gzip, struct, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), 'labels.gz')
    >>> with gzip.open(p, 'wb') as f:
    ...     _ = f.write(struct.pack('>II', 2049, 3) + bytes([7, 1, 4]))
    >>> read_idx(p).tolist()
    [7, 1, 4]
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    header_end = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(data[4:header_end], dtype=">u4"))
    expected = int(np.prod(shape))
    if len(data) - header_end != expected:
        raise ValueError(
            f"{path} is truncated or corrupt: header promises {expected} bytes of data "
            f"for shape {shape}, file holds {len(data) - header_end}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_end).reshape(shape)


def _download(name, folder):
    info = _DATASETS[name]
    folder.mkdir(parents=True, exist_ok=True)
    for fname in _FILES:
        target = folder / fname
        if target.exists() and _md5(target) == info["md5"][fname]:
            continue
        errors = []
        for mirror in info["mirrors"]:
            tmp = target.with_suffix(".part")
            try:
                with urllib.request.urlopen(mirror + fname, timeout=30) as r, open(tmp, "wb") as f:
                    f.write(r.read())
                if _md5(tmp) != info["md5"][fname]:
                    raise ValueError("md5 mismatch")
                os.replace(tmp, target)
                break
            except Exception as exc:  # try the next mirror
                errors.append(f"{mirror}{fname}: {exc}")
                if tmp.exists():
                    tmp.unlink()
        else:
            raise OSError(f"Could not download {fname}:\n  " + "\n  ".join(errors))


def _load(name, data_home, download_if_missing):
    info = _DATASETS[name]
    tried = []
    for home in get_data_home(data_home):
        folder = home / name
        tried.append(str(folder))
        if all((folder / f).exists() for f in _FILES):
            break
    else:
        if not download_if_missing:
            raise FileNotFoundError(
                f"{name} not found. Looked for {', '.join(_FILES)} in: "
                + "; ".join(tried)
                + ". Set SKNET_DATA or data_home to the folder holding "
                f"'{name}/', or pass download_if_missing=True."
            )
        folder = get_data_home(data_home)[0] / name
        _download(name, folder)

    arrays = []
    for fname in _FILES:
        path = folder / fname
        if _md5(path) != info["md5"][fname]:
            raise ValueError(f"{path} does not match its published md5 checksum; delete it and fetch it again")
        arrays.append(read_idx(path))
    x_train, y_train, x_test, y_test = arrays
    scale = np.float32(1.0 / 255.0)
    return Bunch(
        X_train=(x_train[:, None, :, :] * scale).astype(np.float32),
        y_train=y_train.astype(np.int32),
        X_test=(x_test[:, None, :, :] * scale).astype(np.float32),
        y_test=y_test.astype(np.int32),
        path=str(folder),
    )


def load_mnist(data_home=None, download_if_missing=False):
    """Load MNIST as float32 images in [0, 1] of shape ``(n, 1, 28, 28)``.

    Parameters
    ----------
    data_home : str or Path, optional
        Folder holding ``mnist/``; searched before ``$SKNET_DATA`` and
        ``~/sknet_data``.
    download_if_missing : bool
        Download (and verify) the files into the first folder when they are
        found nowhere.

    Returns
    -------
    sklearn.utils.Bunch
        ``X_train`` (60000, 1, 28, 28), ``y_train`` (60000,) int32, ``X_test``
        (10000, 1, 28, 28), ``y_test`` and ``path``.

    Examples
    --------
    >>> try:
    ...     mnist = load_mnist()
    ... except FileNotFoundError:
    ...     mnist = None
    >>> mnist is None or mnist.X_train.shape == (60000, 1, 28, 28)
    True
    """
    return _load("mnist", data_home, download_if_missing)


def load_fashion_mnist(data_home=None, download_if_missing=False):
    """Load Fashion-MNIST; the same layout and options as :func:`load_mnist`.

    Zalando's 28 x 28 grey images of ten kinds of clothing (label 0 is
    T-shirt/top, 9 ankle boot): a harder drop-in for MNIST, stored in a
    ``fashion-mnist/`` folder.

    Examples
    --------
    >>> from contextlib import suppress
    >>> shapes = []
    >>> with suppress(FileNotFoundError):
    ...     shapes = [load_fashion_mnist().y_test.shape]
    >>> shapes in ([], [(10000,)])
    True
    """
    return _load("fashion-mnist", data_home, download_if_missing)

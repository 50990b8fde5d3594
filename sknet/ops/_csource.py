"""The C source of sknet's ops, held in the ``.c`` files beside these modules.

A ``*_support.c`` file is an op's support code, compiled as is. Any other
``.c`` file is an op's code block: it names the op's inputs, outputs and
parameters as macros ``SKNET_<NAME>``, which :func:`block` defines before the
block (and undefines after it) for one node.

Examples
--------
>>> from sknet.ops import _csource
>>> print(_csource.block("reduce.c", x="in", z="out").splitlines()[0])
#define SKNET_X in
>>> _csource.checksum("reduce.c") == _csource.checksum("reduce.c")
True
"""

import functools
import zlib
from pathlib import Path

__all__ = ["read", "block", "checksum"]

_HERE = Path(__file__).parent


@functools.cache
def read(name):
    """The text of ``sknet/ops/<name>`` (read once).

    Examples
    --------
    >>> read("reduce.c").startswith("/*")
    True
    """
    return (_HERE / name).read_text()


def block(name, **values):
    """The code block ``name`` with each value defined as the macro ``SKNET_<KEY>``.

    Examples
    --------
    >>> block("reduce.c", ndim=4).splitlines()[-1]
    '#undef SKNET_NDIM'
    """
    keys = [f"SKNET_{key.upper()}" for key in values]
    # a macro is one line: PyTensor's failure statement is, but be safe
    defines = "".join(f"#define {key} {' '.join(str(v).splitlines())}\n" for key, v in zip(keys, values.values()))
    return defines + read(name) + "".join(f"#undef {key}\n" for key in keys)


def checksum(*names):
    """A checksum of the files ``names``, for an op's ``c_code_cache_version``.

    An edit of the C source then rebuilds the module even if the version is
    not bumped.

    Examples
    --------
    >>> isinstance(checksum("corr.c", "corr_support.c"), int)
    True
    """
    return zlib.crc32("".join(read(name) for name in names).encode())

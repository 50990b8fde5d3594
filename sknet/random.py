"""The one place that owns sknet's random number generators.

Parameter initializers draw from a numpy ``RandomState`` (:func:`get_rng`);
symbolic noise (dropout masks, Gaussian noise) draws from PyTensor shared
generators that are seeded from it, so a single seed makes both reproducible.
"""

import numpy as np
import pytensor.tensor.random as ptr
from pytensor.tensor.random.basic import UniformRV

from .utils import set_default_update

__all__ = ["get_rng", "set_rng", "seed", "shared_generator", "uniform", "normal", "Float32UniformRV"]

_rng = np.random.RandomState()


def get_rng():
    """Return the numpy ``RandomState`` used by initializers and noise seeds.

    Examples
    --------
    >>> isinstance(get_rng(), np.random.RandomState)
    True
    """
    return _rng


def set_rng(new_rng):
    """Replace the generator returned by :func:`get_rng`.

    Parameters
    ----------
    new_rng : numpy.random.RandomState

    Examples
    --------
    >>> old = get_rng()
    >>> set_rng(np.random.RandomState(0))
    >>> set_rng(old)
    """
    global _rng
    if not isinstance(new_rng, np.random.RandomState):
        raise TypeError(f"set_rng expects a numpy.random.RandomState, got {type(new_rng).__name__}")
    _rng = new_rng


def seed(value):
    """Seed sknet's generator: ``seed(0)`` is ``set_rng(RandomState(0))``.

    Examples
    --------
    >>> seed(42)
    >>> int(get_rng().randint(100))
    51
    """
    set_rng(np.random.RandomState(value))


def shared_generator(name=None):
    """Return a new PyTensor shared generator seeded from :func:`get_rng`.

    Examples
    --------
    >>> g = shared_generator('noise')
    >>> g.name
    'noise'
    """
    return ptr.shared_rng(seed=int(get_rng().randint(2**31 - 1)), name=name)


def _draw(method, name, **kwargs):
    rng = shared_generator(name)
    next_rng, sample = getattr(rng, method)(**kwargs)
    # Compiled functions pick the state update up by themselves, so every
    # call of a train function draws fresh noise without explicit updates.
    set_default_update(rng, next_rng)
    return sample


class Float32UniformRV(UniformRV):
    """PyTensor's uniform distribution, drawn in float32 by the C and Python backends.

    numpy's ``Generator.uniform`` draws float64 (then cast); a float32 draw
    of ``Generator.random`` scaled to ``[low, high)`` is 3.5x faster: the
    tutorial CNN's two dropout masks per train step take 123 + 66 us instead
    of 427 + 221 us (compiled draws of 128 x 512 and 128 x 256, medians of
    300). NUMBA and JAX compile ``UniformRV``'s own implementation (their
    dispatch follows the class).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = Float32UniformRV(dtype='float32').rng_fn(rng, np.float32(2), np.float32(3), (4,))
    >>> x.dtype, bool(((x >= 2) & (x < 3)).all())
    (dtype('float32'), True)
    """

    def rng_fn(self, rng, low, high, size):
        if self.dtype != "float32":
            return super().rng_fn(rng, low, high, size)
        if size is None:
            size = np.broadcast_shapes(np.shape(low), np.shape(high))
        sample = rng.random(size, dtype=np.float32)
        if np.any(low != 0) or np.any(high != 1):
            sample = (low + (high - low) * sample).astype(np.float32)
        return sample


_float32_uniform = Float32UniformRV(dtype="float32")


def uniform(size, low=0.0, high=1.0, dtype="float32", name=None):
    """A symbolic uniform sample of shape ``size`` with its own generator.

    Examples
    --------
    >>> u = uniform((2, 3))
    >>> u.eval().shape
    (2, 3)
    >>> bool(((u.eval() >= 0) & (u.eval() < 1)).all())
    True
    """
    if dtype != "float32":
        return _draw("uniform", name, low=low, high=high, size=size, dtype=dtype)
    rng = shared_generator(name)
    next_rng, sample = _float32_uniform(low, high, size=size, rng=rng, return_next_rng=True)
    set_default_update(rng, next_rng)
    return sample


def normal(size, loc=0.0, scale=1.0, dtype="float32", name=None):
    """A symbolic normal sample of shape ``size`` with its own generator.

    Examples
    --------
    >>> normal((4,)).eval().shape
    (4,)
    """
    return _draw("normal", name, loc=loc, scale=scale, size=size, dtype=dtype)

"""Lasagne's ``theano_extensions`` on PyTensor: alternative 1-D convolutions and padding.

``import sknet.theano_extensions.conv`` serves code written for
``lasagne.theano_extensions.conv``; :mod:`.padding` holds :func:`~.padding.pad`.

Examples
--------
>>> from sknet.theano_extensions import conv, padding
>>> padding.pad(np.ones((1, 2), 'float32'), 1).eval()
array([[0., 1., 1., 0.]], dtype=float32)
"""

from . import conv, padding

__all__ = ["conv", "padding"]

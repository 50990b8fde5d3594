"""sknet: scikit-learn estimators for neural networks, on a Lasagne-style layer library.

``import sknet as lasagne`` gives Lasagne's modules (``layers``, ``init``,
``nonlinearities``, ``objectives``, ``updates``, ``regularization``,
``random``, ``utils``) so Lasagne-era code ports by changing the import.
"""

from . import (
    backend,  # first: PyTensor's floatX, BLAS and default mode, before anything compiles
    callbacks,
    config,  # the SKNET_* environment variables
    init,
    layers,
    nonlinearities,
    objectives,
    random,
    regularization,
    updates,
    utils,
)
from .batch_iterators import BatchIterator, TrainSplit
from .compile import grad_scale
from .estimator import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from .handlers import RememberBestWeights, RestoreBestWeights, SaveWeights, WeightLog

__version__ = "0.2.0"

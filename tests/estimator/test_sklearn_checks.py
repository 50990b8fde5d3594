"""scikit-learn's estimator checks on the default small spec and on the project's tuned tiny nets.

The default small spec runs with nothing but ``max_epochs=40`` set: every
check passes, including those about learning (``check_class_weight_classifiers``,
``check_regressors_train``); the only expected failures are the ones
``sknet.estimator.expected_failed_checks`` declares, with their reason.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknet import NeuralNetClassifier, NeuralNetRegressor, TrainSplit
from sknet.estimator import expected_failed_checks
from sknet.layers import DenseLayer, InputLayer

DEFAULT_SPEC = [(InputLayer, {}), (DenseLayer, {"num_units": 16}), (DenseLayer, {})]
TUNED_SPEC = [(InputLayer, {}), (DenseLayer, {"num_units": 8}), (DenseLayer, {})]
TUNED = dict(update__learning_rate=0.05, batch_iterator_train__batch_size=32, random_state=0)

ESTIMATORS = [
    NeuralNetClassifier(DEFAULT_SPEC, max_epochs=40),
    NeuralNetRegressor(DEFAULT_SPEC, max_epochs=40),
    NeuralNetClassifier(TUNED_SPEC, max_epochs=20, **TUNED),
    NeuralNetRegressor(TUNED_SPEC, max_epochs=40, train_split=TrainSplit(eval_size=0.1), **TUNED),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)

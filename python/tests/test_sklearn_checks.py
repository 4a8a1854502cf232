"""scikit-learn's own test suite for estimators, on SoftmaxClassifier."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from softmax import SoftmaxClassifier

#: Checks it does not pass, with the reason (at most two).
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    [SoftmaxClassifier()], expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)

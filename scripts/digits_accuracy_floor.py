"""The accuracy floor of the tests that train with the defaults on the embedded digits.

scikit-learn's LogisticRegression at the defaults' regularization (reg 1e-4 `half` on 1,293
training samples: C = 1/(reg·N) ≈ 7.7), on pixels scaled to [0, 1] as `auto` does for images,
over 20 random stratified 80/20 splits of the same 1,797 digits. The tests require 0.95: below
the lowest of these, so that a broken trainer fails and another split or optimum does not.

Printed on 2026-11-30 (scikit-learn 1.9.1): min 0.9528, mean 0.9687, max 0.9806.

    pip install scikit-learn && python3 scripts/digits_accuracy_floor.py
"""

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score

X, y = load_digits(return_X_y=True)
splits = StratifiedShuffleSplit(n_splits=20, test_size=0.2, random_state=0)
model = LogisticRegression(C=1 / (1e-4 * 1293), max_iter=5000, tol=1e-8)
scores = cross_val_score(model, X / 16, y, cv=splits)
print(f"min {scores.min():.4f}, mean {scores.mean():.4f}, max {scores.max():.4f}")

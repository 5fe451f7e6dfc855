"""Mean correlation coefficient (MCC): component-wise identifiability of a code.

Each code dimension is matched to one true dimension so that the summed absolute Pearson
correlation is largest (Hungarian matching); MCC is the mean absolute correlation over the
matched pairs. It is 1 for a code equal to the truth up to permutation, scaling and sign,
and it ignores any other invertible mixing, which R² does not. When the two sides differ
in dimension, the min(d_code, d_true) best-matched pairs count.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from maeid.evaluate.regression import as_matrix


def correlation_matrix(code: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(d_code, d_true) Pearson correlations between the columns of two (N, d) arrays."""
    code, truth = as_matrix(code, "code"), as_matrix(truth, "truth")
    if len(code) != len(truth):
        raise ValueError(f"code has {len(code)} samples but truth has {len(truth)}")
    if len(code) < 2:
        raise ValueError("correlations need at least 2 samples")
    a = _zscore(code)
    b = _zscore(truth)
    return a.T @ b / len(a)


def mcc(code: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute correlation after Hungarian matching of code to true dimensions."""
    corr = np.abs(correlation_matrix(code, truth))
    rows, cols = linear_sum_assignment(corr, maximize=True)
    return float(corr[rows, cols].mean())


def _zscore(a: np.ndarray) -> np.ndarray:
    # A constant column correlates with nothing: it becomes all zeros, not NaN.
    sd = a.std(axis=0)
    return (a - a.mean(axis=0)) / np.where(sd > 1e-12, sd, np.inf)

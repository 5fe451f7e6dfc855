"""The pre-registered studies' statistics: rank agreement over cells with a bootstrap
over seeds, Welch's interval, and the count of distinct theory values."""

import numpy as np
import pytest
from scipy import stats

from maeid.evaluate.intervals import cell_means_spearman, distinct_values, welch_interval


def test_cell_means_spearman_is_certain_when_the_cells_are_far_apart():
    per_cell = {c: [10.0 * c + d for d in (-0.1, 0.0, 0.1)] for c in range(5)}
    theory = {c: float(c) for c in range(5)}
    rho, low, high = cell_means_spearman(per_cell, theory, np.random.default_rng(0), 500)
    assert (rho, low, high) == pytest.approx((1.0, 1.0, 1.0))
    reversed_theory = {c: -float(c) for c in range(5)}
    rho, low, high = cell_means_spearman(per_cell, reversed_theory, np.random.default_rng(0), 500)
    assert (rho, low, high) == pytest.approx((-1.0, -1.0, -1.0))


def test_cell_means_spearman_widens_with_seed_noise_and_repeats_with_its_seed():
    rng = np.random.default_rng(1)
    per_cell = {c: list(c + rng.normal(0, 2.0, 3)) for c in range(5)}
    theory = {c: float(c) for c in range(5)}
    first = cell_means_spearman(per_cell, theory, np.random.default_rng(7), 2000)
    assert first == cell_means_spearman(per_cell, theory, np.random.default_rng(7), 2000)
    rho, low, high = first
    assert low <= rho <= high
    assert high - low > 0.2  # noiseless cells give a zero-width interval (above)


def test_welch_interval_matches_scipy():
    a, b = [0.71, 0.74, 0.72, 0.75], [0.69, 0.70, 0.66]
    diff, low, high = welch_interval(a, b)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(np.mean(a) - np.mean(b))
    assert (low, high) == pytest.approx((ci.low, ci.high))
    with pytest.raises(ValueError, match="2 values on each side"):
        welch_interval([0.7], b)


def test_distinct_values_counts_values_more_than_two_standard_errors_apart():
    assert distinct_values([(0.10, 0.01), (0.13, 0.01), (0.50, 0.01)]) == 3
    assert distinct_values([(0.10, 0.01), (0.11, 0.01), (0.50, 0.01)]) == 2
    # the larger of two standard errors decides
    assert distinct_values([(0.10, 0.001), (0.13, 0.02)]) == 1

"""R² from a representation to true latents: the identifiability measurement.

Two regressors, both fitted on a training split and scored on held-out samples:

- ``"kernel"``: kernel ridge regression with an RBF kernel, as identifiability papers use.
  To stay fast on tens of thousands of samples the kernel is approximated by Nyström
  features on ``n_landmarks`` training points, and the ridge is solved in the eigenbasis
  of the feature covariance, so that a whole grid of (gamma, alpha) costs one
  eigendecomposition per gamma. Hyperparameters are chosen per latent by exact
  leave-one-out error on the training split (the closed form for ridge), never on the
  test split.
- ``"linear"``: the same ridge on the standardised inputs themselves.

Inputs and every target dimension are standardised with training statistics. The R² of a
vector latent is the mean of the per-dimension R² on the test split; on standardised
targets this is also the variance-weighted R² (sklearn's ``"variance_weighted"``), so
the two usual conventions agree. Dimensions that are constant on the training split carry
no information and are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

Method = str  # "kernel" | "linear"
METHODS = ("kernel", "linear")


@dataclass(frozen=True)
class RegressorConfig:
    """How `latent_r2` fits. Defaults take ~10 s for 10k samples and 21 latents on 2 cores.

    `gamma_scales` multiply the median heuristic ``1 / median squared distance``;
    `alpha_scales` multiply the mean eigenvalue of the feature covariance, so both grids
    mean the same thing whatever the input dimension and sample size.
    """

    method: Method = "kernel"
    test_fraction: float = 0.25
    max_train: int | None = 8000
    n_landmarks: int = 1000
    gamma_scales: tuple[float, ...] = (0.25, 1.0, 4.0)
    alpha_scales: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    seed: int = 0
    # BLAS threads while fitting (None: the library's default). One is the default: the
    # matrices are mid-sized, and on a busy 2-core machine two BLAS threads took 22.7 s
    # where one took 6.2 s for 10k samples x 21 latents, spinning while waiting for a core.
    threads: int | None = 1

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"regressor {self.method!r} is unknown; use one of {METHODS}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction {self.test_fraction} must lie in (0, 1), e.g. 0.25")
        if self.n_landmarks < 1:
            raise ValueError(f"n_landmarks {self.n_landmarks} must be positive")


def latent_r2(
    features: np.ndarray,
    latents: Mapping[str, np.ndarray],
    config: RegressorConfig | None = None,
    **overrides: object,
) -> dict[str, float]:
    """Held-out R² of predicting each latent from `features`.

    `features` is (N, D); `latents` maps a name to (N,) or (N, d). Returns {name: R²},
    the mean over the latent's dimensions. Keyword overrides replace fields of `config`,
    e.g. ``latent_r2(code, sample.latents, method="linear")``.
    """
    return {k: fit.r2() for k, fit in _fits(features, latents, config, overrides).items()}


def latent_r2_interval(
    features: np.ndarray,
    latents: Mapping[str, np.ndarray],
    config: RegressorConfig | None = None,
    bootstrap: int = 200,
    **overrides: object,
) -> dict[str, tuple[float, float]]:
    """{name: (R², 95 % half-width)}: `latent_r2` with a bootstrap over the held-out
    samples (the fitted regressor fixed), half the width of its 2.5-97.5 % interval."""
    if bootstrap < 2:
        raise ValueError(f"bootstrap={bootstrap}: use at least 2 resamples, e.g. 200")
    cfg = _config(config, overrides)
    fits = _fits(features, latents, cfg, {})
    rng = np.random.default_rng(cfg.seed + 2)
    n_test = len(next(iter(fits.values())).truth) if fits else 0
    draws = [rng.integers(0, n_test, n_test) for _ in range(bootstrap)]
    out = {}
    for name, fit in fits.items():
        values = [fit.r2(rows) for rows in draws]
        low, high = np.nanpercentile(values, [2.5, 97.5]) if fit.truth.shape[1] else (np.nan,) * 2
        out[name] = (fit.r2(), float((high - low) / 2))
    return out


@dataclass(frozen=True)
class _HeldOutFit:
    """One latent's held-out truth and prediction (informative dimensions only)."""

    truth: np.ndarray
    prediction: np.ndarray

    def r2(self, rows: np.ndarray | None = None) -> float:
        if not self.truth.shape[1]:
            return float("nan")
        y, p = (
            (self.truth, self.prediction)
            if rows is None
            else (self.truth[rows], self.prediction[rows])
        )
        return float(np.mean(_r2(y, p)))


def _fits(features, latents, config, overrides) -> dict[str, _HeldOutFit]:
    cfg = _config(config, overrides)
    x = as_matrix(features, "features")
    names = list(latents)
    if not names:
        return {}
    ys = [as_matrix(latents[k], f"latent {k!r}") for k in names]
    for k, y in zip(names, ys, strict=True):
        if len(y) != len(x):
            raise ValueError(f"latent {k!r} has {len(y)} samples but features have {len(x)}")
    if len(x) < 10:
        raise ValueError(f"{len(x)} samples are too few to fit and hold out; use at least 10")
    y = np.concatenate(ys, axis=1)
    slices = np.cumsum([0] + [v.shape[1] for v in ys])
    groups = [np.arange(a, b) for a, b in zip(slices[:-1], slices[1:], strict=True)]

    train, test = _split(len(x), cfg)
    x_tr, x_te = _standardise(x[train], x[test])
    y_tr, y_te = _standardise(y[train], y[test])
    informative = y[train].std(axis=0) > 1e-12
    groups = [cols[informative[cols]] for cols in groups]
    with threadpool_limits(cfg.threads):
        prediction = _fit_and_predict(x_tr, y_tr, x_te, groups, cfg)
    return {
        name: _HeldOutFit(y_te[:, cols], prediction[:, cols])
        for name, cols in zip(names, groups, strict=True)
    }


class EigenRidge:
    """Ridge regression with an unpenalised intercept, solved once in the eigenbasis of
    the centred features' Gram matrix, so that every ridge strength costs a rescaling.
    Its leave-one-out residuals are exact: (y - fit) / (1 - hat matrix diagonal)."""

    def __init__(self, features: np.ndarray) -> None:
        self.mean = features.mean(axis=0)
        centred = features - self.mean
        evals, self.evecs = np.linalg.eigh(centred.T @ centred)
        self.evals = np.maximum(evals, 0.0)
        self.rotated = centred @ self.evecs
        self.n = len(features)

    def fit(self, targets: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """(coefficients in the eigenbasis, leave-one-out residuals) for centred targets."""
        shrink = 1.0 / (self.evals + alpha)
        coef = (self.rotated.T @ targets) * shrink[:, None]
        fit = self.rotated @ coef
        leverage = 1.0 / self.n + (self.rotated * self.rotated) @ shrink
        return coef, (targets - fit) / np.maximum(1.0 - leverage, 1e-6)[:, None]

    def predict(self, features: np.ndarray, coef: np.ndarray) -> np.ndarray:
        return ((features - self.mean) @ self.evecs) @ coef


# --------------------------------------------------------------------------- internals
def _config(config: RegressorConfig | None, overrides: Mapping[str, object]) -> RegressorConfig:
    cfg = config or RegressorConfig()
    if overrides:
        unknown = sorted(set(overrides) - set(RegressorConfig.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown regressor options {unknown}")
        cfg = RegressorConfig(**{**cfg.__dict__, **overrides})
    return cfg


def as_matrix(a: np.ndarray, what: str) -> np.ndarray:
    """`a` as a finite float64 (N, dim) matrix; a vector becomes one column."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{what} has shape {a.shape}; expected (N,) or (N, dim)")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains NaN or inf")
    return a


def _split(n: int, cfg: RegressorConfig) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(cfg.seed).permutation(n)
    n_test = max(1, int(round(n * cfg.test_fraction)))
    test, train = perm[:n_test], perm[n_test:]
    if cfg.max_train is not None and len(train) > cfg.max_train:
        train = train[: cfg.max_train]
    return train, test


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = train.mean(axis=0), train.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return (train - mu) / sd, (test - mu) / sd


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def _feature_maps(x_tr: np.ndarray, x_te: np.ndarray, cfg: RegressorConfig):
    """Yield (train features, test features) for each gamma of the grid (one for linear)."""
    if cfg.method == "linear":
        yield x_tr, x_te
        return
    rng = np.random.default_rng(cfg.seed + 1)
    m = min(cfg.n_landmarks, len(x_tr))
    landmarks = x_tr[rng.choice(len(x_tr), m, replace=False)]
    d_mm, d_tr, d_te = (_sq_dists(a, landmarks) for a in (landmarks, x_tr, x_te))
    off_diag = d_mm[~np.eye(m, dtype=bool)]
    median = float(np.median(off_diag)) if off_diag.size else 1.0
    for scale in cfg.gamma_scales:
        gamma = scale / max(median, 1e-12)
        # Nyström: phi(x) = k(x, L) U diag(s^-1/2), with K_LL = U diag(s) U^T.
        s, u = np.linalg.eigh(np.exp(-gamma * d_mm))
        keep = s > 1e-8 * s.max()
        proj = u[:, keep] / np.sqrt(s[keep])
        yield np.exp(-gamma * d_tr) @ proj, np.exp(-gamma * d_te) @ proj


def _fit_and_predict(x_tr, y_tr, x_te, groups, cfg) -> np.ndarray:
    """Held-out predictions with, for each latent, the grid point of least LOO error."""
    best_loo = np.full(len(groups), np.inf)
    prediction = np.zeros((len(x_te), y_tr.shape[1]))
    for phi_tr, phi_te in _feature_maps(x_tr, x_te, cfg):
        ridge = EigenRidge(phi_tr)
        for scale in cfg.alpha_scales:
            # y_tr is centred, so the intercept is the training mean (0).
            coef, loo = ridge.fit(y_tr, scale * max(ridge.evals.mean(), 1e-12))
            loo_err = (loo * loo).mean(axis=0)
            pred_te = ridge.predict(phi_te, coef)
            for g, cols in enumerate(groups):
                if not len(cols):
                    continue
                err = float(loo_err[cols].mean())
                if err < best_loo[g]:
                    best_loo[g] = err
                    prediction[:, cols] = pred_te[:, cols]
    return prediction


def _r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    sse = ((y - pred) ** 2).sum(axis=0)
    sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - sse / np.maximum(sst, 1e-12)

"""ALS fits (implicit's CPU implementation), kept for reuse: a fit depends only on its confidence
matrix and settings, and the solutions of a group often train on the same ones."""

from __future__ import annotations

import hashlib
import os
import threading

import numpy as np
import scipy.sparse as sp

ALPHA_MIN = 10.0  # confidence = 1 + alpha * log1p(weight); the lowest default alpha
ALPHA_DENSITY = 0.3  # alpha x density: ~26 on the demo data, ~190 at store size (bench/quality.py)


def default_alpha(summed: sp.csr_matrix) -> float:
    """ALS's confidence scale for this data: ``ALPHA_DENSITY / density``, at least ``ALPHA_MIN``.

    A user's solve weighs their few items (confidence ~ alpha) against every item at confidence 1,
    so the balance is alpha x (items per user / catalogue size). One fixed alpha tuned on the small
    demo data (1.2% dense) drowned the store's users (0.16% dense: 6.5 items of 4,182) in the
    catalogue; keeping alpha x density fixed keeps that balance. Dense data (small tests) keeps
    ALPHA_MIN, the old fixed default.
    """
    users = int(np.count_nonzero(np.diff(summed.indptr)))
    density = summed.nnz / max(1, users * summed.shape[1])
    return float(max(ALPHA_MIN, ALPHA_DENSITY / density)) if density else ALPHA_MIN


def threads() -> int:
    return int(os.environ.get("LOCAL_PERSONALIZE_TRAIN_THREADS", os.cpu_count() or 1))


FITS_KEPT = 2  # ALS fits kept for reuse: the newest ones, a few dozen MB each at store size
_fits: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # oldest first
_fit_locks: dict[str, threading.Lock] = {}
_fits_guard = threading.Lock()


def als_factors(matrix: sp.csr_matrix, factors: int, regularization: float, iterations: int,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) factors of an ALS fit; a fit of the same matrix with the same settings is reused,
    so solutions trained on the same data (user-personalization, item-affinity) pay for one."""
    digest = hashlib.blake2b(repr((matrix.shape, factors, regularization, iterations, seed)).encode())
    for part in (matrix.indptr, matrix.indices, matrix.data):
        digest.update(np.ascontiguousarray(part).data)
    key = digest.hexdigest()
    with _fits_guard:
        lock = _fit_locks.setdefault(key, threading.Lock())
    with lock:  # the same fit asked for twice at once: the second waits for the first
        with _fits_guard:
            fitted = _fits.get(key)
        if fitted is None:
            from implicit.cpu.als import AlternatingLeastSquares

            als = AlternatingLeastSquares(
                factors=factors, regularization=regularization, iterations=iterations,
                random_state=seed, num_threads=threads(), calculate_training_loss=False,
            )
            als.fit(matrix, show_progress=False)
            fitted = (np.ascontiguousarray(als.user_factors, dtype=np.float32),
                      np.ascontiguousarray(als.item_factors, dtype=np.float32))
            with _fits_guard:
                _fits[key] = fitted
                while len(_fits) > FITS_KEPT:
                    _fit_locks.pop(oldest := next(iter(_fits)), None)
                    del _fits[oldest]
    return fitted[0].copy(), fitted[1].copy()  # callers change their copy (evaluation folds users in)

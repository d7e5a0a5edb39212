"""Metrics of one prediction of a test set, and their aggregation over seeds (NASLib's definitions)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from predictors.base import Z90

METRICS: tuple[str, ...] = (
    "kendalltau",
    "spearman",
    "pearson",
    "mae",
    "precision_at_10",
    "coverage90",
    "fit_time_s",
    "query_time_s",
)


def precision_at(y_true: np.ndarray, y_pred: np.ndarray, fraction: float = 0.1) -> float:
    """Overlap of the predicted and the true top ``fraction`` of cells (NASLib's precision@k)."""
    k = max(1, int(round(fraction * len(y_true))))
    top_true = np.argsort(-y_true, kind="stable")[:k]
    top_pred = np.argsort(-y_pred, kind="stable")[:k]
    return len(np.intersect1d(top_true, top_pred)) / k


def score_predictions(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """Ranking, error and calibration metrics of one prediction of a test set."""
    from scipy.stats import kendalltau, pearsonr, spearmanr

    y_true = np.asarray(y_true, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    out: dict[str, float] = {}
    finite = bool(np.all(np.isfinite(mean)))
    varying = finite and np.ptp(mean) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input -> NaN, reported as such
        out["kendalltau"] = float(kendalltau(y_true, mean).statistic) if varying else math.nan
        out["spearman"] = float(spearmanr(y_true, mean).statistic) if varying else math.nan
        out["pearson"] = float(pearsonr(y_true, mean).statistic) if varying else math.nan
    out["mae"] = float(np.mean(np.abs(mean - y_true))) if finite else math.nan
    out["precision_at_10"] = precision_at(y_true, mean) if finite else math.nan
    ok = np.isfinite(std)
    out["coverage90"] = float(np.mean(ok & (np.abs(y_true - mean) <= Z90 * np.where(ok, std, 0))))
    return out


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One object per predictor x train size: means and standard deviations over seeds."""
    out = []
    keys = list(dict.fromkeys((r["predictor"], r["train_size"]) for r in rows))
    for pred, size in keys:
        group = [r for r in rows if r["predictor"] == pred and r["train_size"] == size]
        item: dict[str, Any] = {"predictor": pred, "train_size": size, "n_seeds": len(group)}
        for m in METRICS:
            vals = np.array([r[m] for r in group], dtype=np.float64)
            ok = vals[np.isfinite(vals)]
            mean = float(ok.mean()) if len(ok) else math.nan
            sd = float(ok.std(ddof=1)) if len(ok) > 1 else (0.0 if len(ok) else math.nan)
            if m in ("fit_time_s", "query_time_s"):
                item[m] = mean
            else:
                item[f"{m}_mean"] = mean
                item[f"{m}_std"] = sd
        out.append(item)
    return out

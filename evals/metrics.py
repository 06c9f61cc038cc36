"""Agreement metrics between what was requested and what a recognizer measured."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def accuracy(true: Sequence[str], pred: Sequence[str]) -> float:
    t, p = np.asarray(true), np.asarray(pred)
    return float(np.mean(t == p)) if len(t) else float("nan")


def confusion(true: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    idx = {l: i for i, l in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(true, pred):
        if t in idx and p in idx:
            m[idx[t], idx[p]] += 1
    return m


def macro_f1(true: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    m = confusion(true, pred, labels)
    f1s = []
    for i in range(len(labels)):
        tp = m[i, i]
        fp = m[:, i].sum() - tp
        fn = m[i, :].sum() - tp
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else float("nan")


def ccc(x: Sequence[float], y: Sequence[float]) -> float:
    """Lin's concordance correlation coefficient."""
    a, b = np.asarray(x, float), np.asarray(y, float)
    if len(a) < 2:
        return float("nan")
    va, vb = a.var(), b.var()
    cov = ((a - a.mean()) * (b - b.mean())).mean()
    den = va + vb + (a.mean() - b.mean()) ** 2
    return float(2 * cov / den) if den > 0 else float("nan")


def mae(x: Sequence[float], y: Sequence[float]) -> float:
    return float(np.mean(np.abs(np.asarray(x, float) - np.asarray(y, float))))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    if len(x) < 3 or np.ptp(np.asarray(x, float)) == 0 or np.ptp(np.asarray(y, float)) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    a, b = np.asarray(x, float), np.asarray(y, float)
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's κ between two raters' labels on the same items (NaN for fewer than two items)."""
    a, b = list(a), list(b)
    if len(a) != len(b) or len(a) < 2:
        return float("nan")
    labels = sorted(set(a) | set(b))
    n = len(a)
    po = sum(x == y for x, y in zip(a, b)) / n
    pe = sum((a.count(l) / n) * (b.count(l) / n) for l in labels)
    return float("nan") if pe >= 1.0 else float((po - pe) / (1.0 - pe))

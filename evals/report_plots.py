"""PNG figures for evaluation reports: a confusion matrix, the valence-arousal plane (requested
vs measured) and intensity-response curves.

Figures are drawn on matplotlib's Agg canvas directly (``Figure`` + ``FigureCanvasAgg``) rather
than through pyplot, so no global backend is switched, nothing leaks between calls, and worker
threads or processes can plot at the same time. Files are written atomically.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from studio.errors import StudioError

DPI = 110


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return fig


def _save(fig, path: str | Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from studio.media import atomic_path, check_output

    p = check_output(path, {".png"})
    FigureCanvasAgg(fig)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.08)
    return p


def _colours(n: int):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def confusion_png(matrix, labels: Sequence[str], path: str | Path, title: str = "confusion") -> Path:
    """Rows are the requested labels, columns the recognised ones. Cells are coloured by the
    row-normalised rate (so rare classes are as readable as common ones) and show the count."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(labels):
        raise StudioError(f"confusion matrix must be {len(labels)}x{len(labels)} for {len(labels)} labels, got shape {m.shape}")
    totals = m.sum(axis=1, keepdims=True)
    rates = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    n = len(labels)
    fig = _figure(1.2 + 0.6 * n, 1.0 + 0.55 * n)
    ax = fig.add_subplot()
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("recognised")
    ax.set_ylabel("requested")
    for i in range(n):
        for j in range(n):
            if m[i, j]:
                ax.text(j, i, f"{m[i, j]:g}", ha="center", va="center", fontsize=8,
                        color="white" if rates[i, j] > 0.55 else "black")
    acc = np.trace(m) / m.sum() if m.sum() else float("nan")
    ax.set_title(f"{title}\naccuracy {acc:.1%} (n={m.sum():g})", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, label="row rate")
    return _save(fig, path)


def va_scatter_png(requested_va, measured_va, labels: Sequence[str], path: str | Path,
                   title: str = "valence-arousal") -> Path:
    """Each item is an arrow from its requested (valence, arousal) to the measured one, coloured
    by its label; hollow circles are requests, filled dots measurements."""
    req = np.asarray(requested_va, dtype=float).reshape(-1, 2)
    mea = np.asarray(measured_va, dtype=float).reshape(-1, 2)
    if len(req) != len(mea) or len(req) != len(labels):
        raise StudioError(f"need one requested point, one measured point and one label per item; got {len(req)}, {len(mea)}, {len(labels)}")
    names = list(dict.fromkeys(labels))
    colour = dict(zip(names, _colours(len(names))))
    fig = _figure(5.6, 5.0)
    ax = fig.add_subplot()
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ok = np.isfinite(mea).all(axis=1) & np.isfinite(req).all(axis=1)
    for (r, m, lab, good) in zip(req, mea, labels, ok):
        if good and np.hypot(*(m - r)) > 1e-3:
            ax.annotate("", xy=m, xytext=r, arrowprops=dict(arrowstyle="->", color=colour[lab], alpha=0.6, lw=1))
    for lab in names:
        sel = np.array([l == lab for l in labels]) & ok
        ax.scatter(req[sel, 0], req[sel, 1], s=46, facecolors="none", edgecolors=[colour[lab]], lw=1.4)
        ax.scatter(mea[sel, 0], mea[sel, 1], s=18, color=colour[lab], label=lab)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xlabel("valence")
    ax.set_ylabel("arousal")
    err = np.abs(mea[ok] - req[ok]).mean(axis=0) if ok.any() else (np.nan, np.nan)
    ax.set_title(f"{title}\n○ requested → ● measured; MAE V {err[0]:.2f}, A {err[1]:.2f}", fontsize=10)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _save(fig, path)


def intensity_curves_png(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | Path,
                         title: str = "intensity response") -> Path:
    """One line per emotion: measured response (e.g. recognised probability) against requested
    intensity, with Spearman's rank correlation over all items in the legend — the studio's
    intensity metric. Dots are items; the line joins the mean at each requested intensity."""
    from evals.metrics import spearman

    if not curves:
        raise StudioError("no intensity curves to plot; pass {emotion: (intensities, measured)}")
    fig = _figure(6.0, 4.2)
    ax = fig.add_subplot()
    for (emotion, (x, y)), c in zip(curves.items(), _colours(len(curves))):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.shape != y.shape:
            raise StudioError(f"intensity curve {emotion!r}: {x.size} intensities but {y.size} measurements")
        rho = spearman(x, y)
        # several seeds per intensity: show every item, and join the per-intensity means
        levels = np.unique(x[np.isfinite(x)])
        means = np.array([np.nanmean(y[x == v]) for v in levels])
        ax.scatter(x, y, color=c, s=12, alpha=0.45)
        ax.plot(levels, means, "o-", color=c, ms=4, lw=1.6, label=f"{emotion} (ρ={rho:.2f})")
    ax.set_xlabel("requested intensity")
    ax.set_ylabel("measured")
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _save(fig, path)

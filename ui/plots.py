"""Figures beside every result: the valence-arousal plane and the recognizers' probabilities.

Figures are built with ``matplotlib.figure.Figure`` (not pyplot) so a long-running server keeps no
global figure registry: each figure is freed once Gradio has serialised it.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from studio.affect import taxonomy  # noqa: E402

# one colour per recognizer, in the order they are listed, so bars and plane points agree
PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
REQUEST_COLOUR = "#111111"
TOP = 0.9  # headroom: Gradio draws the component's label over the figure's top edge


def _anchors(ax) -> None:
    for name in taxonomy.EMOTIONS:
        v, a, _ = taxonomy.anchor(name)
        ax.scatter([v], [a], s=14, color="#bbbbbb", zorder=1)
        ax.annotate(name, (v, a), textcoords="offset points", xytext=(4, 3), fontsize=7, color="#888888")


def va_plane(request: Sequence[tuple[float, float]] | None = None,
             measured: Sequence[tuple[str, float, float]] = (), title: str = "") -> Figure:
    """``request``: one (v, a) point, or a path for a trajectory; ``measured``: (recognizer, v, a) each."""
    fig = Figure(figsize=(4.2, 4.0), dpi=90)
    ax = fig.add_subplot()
    ax.axhline(0, color="#dddddd", lw=0.8, zorder=0)
    ax.axvline(0, color="#dddddd", lw=0.8, zorder=0)
    _anchors(ax)
    if request:
        vs = [p[0] for p in request]
        as_ = [p[1] for p in request]
        if len(request) > 1:
            ax.plot(vs, as_, "-", color=REQUEST_COLOUR, lw=1.2, alpha=0.6, zorder=2)
        ax.scatter(vs[-1:], as_[-1:], marker="*", s=220, color=REQUEST_COLOUR, zorder=3, label="requested")
        if len(request) > 1:
            ax.scatter(vs[:-1], as_[:-1], marker="*", s=90, color=REQUEST_COLOUR, alpha=0.5, zorder=3)
    for i, (name, v, a) in enumerate(measured):
        c = PALETTE[i % len(PALETTE)]
        ax.scatter([v], [a], marker="o", s=90, facecolor="none", edgecolor=c, lw=2.2, zorder=4, label=f"measured: {name}")
        if request:
            ax.annotate("", xy=(v, a), xytext=request[-1], arrowprops=dict(arrowstyle="->", color=c, alpha=0.6), zorder=3)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("valence")
    ax.set_ylabel("arousal")
    ax.set_aspect("equal")
    if title:  # the Gradio component's label usually says it already
        ax.set_title(title, fontsize=10)
    if request or measured:
        ax.legend(loc="lower left", fontsize=7, framealpha=0.8)
    fig.tight_layout(rect=(0, 0, 1, TOP))
    return fig


def prob_bars(probs_by_recognizer: Sequence[tuple[str, dict[str, float]]], highlight: str | None = None) -> Figure:
    """Horizontal bars, one group per class and one bar per recognizer; ``highlight`` (the requested label) is bold."""
    groups = [(n, p) for n, p in probs_by_recognizer if p]
    labels: list[str] = []
    for _, p in groups:
        labels += [k for k in p if k not in labels]
    fig = Figure(figsize=(4.2, max(2.4, 0.30 * max(1, len(labels)) * max(1, len(groups)) + 1.0)), dpi=90)
    ax = fig.add_subplot()
    if not groups:
        ax.text(0.5, 0.5, "no class probabilities\nfrom these recognizers", ha="center", va="center", fontsize=9)
        ax.set_axis_off()
        return fig
    h = 0.8 / len(groups)
    for j, (name, p) in enumerate(groups):
        ys = [i + (j - (len(groups) - 1) / 2) * h for i in range(len(labels))]
        ax.barh(ys, [p.get(k, 0.0) for k in labels], height=h, color=PALETTE[j % len(PALETTE)], label=name)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels)
    for t in ax.get_yticklabels():
        if t.get_text() == highlight:
            t.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout(rect=(0, 0, 1, TOP))
    return fig

"""A classifier's own class names → the studio's core labels, through the taxonomy.

Published emotion classifiers name their classes in many ways: IEMOCAP/SUPERB codes ("neu", "hap",
"ang", "sad"), CREMA-D codes ("ANG", "FEA"), AffectNet words ("Happiness", "Contempt"), EmoSet's
eight ("amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness"). Each
name is looked up in the taxonomy (name or synonym, after expanding the dataset codes below); a core
term maps to itself, an extended term to its mixture of core labels (amusement → joy 0.8, surprise 0.2).
A name the taxonomy does not know is kept under its own name, never dropped, so probabilities still
sum to 1 and a report shows what the model said.

Valence, arousal and dominance of a categorical model are E_p[anchor]: the probability-weighted VAD
anchors of the terms (as ``evals.fer`` does), renormalised over the known classes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

log = logging.getLogger(__name__)

# Dataset codes that are not words: IEMOCAP (Busso et al. 2008; the SUPERB ER task keeps neu/hap/ang/sad),
# CREMA-D (Cao et al. 2014: ANG DIS FEA HAP NEU SAD) and common short forms.
CODES: dict[str, str] = {
    "neu": "neutral", "hap": "happy", "ang": "angry", "sad": "sad", "exc": "excited", "fru": "frustrated",
    "sur": "surprised", "fea": "fearful", "dis": "disgusted", "cal": "calm", "hap+exc": "happy",
    "happiness": "happy", "suprise": "surprised",  # a misspelling published in several FER configs
}


def _term(label: str):
    from studio.affect.taxonomy import lookup

    key = label.strip().lower().replace("_", " ")
    return lookup(CODES.get(key, key)) or lookup(key)


@dataclass(frozen=True)
class LabelMap:
    """How each class index of one model lands on the studio's labels."""

    raw: tuple[str, ...]                          # the model's class names, in index order
    targets: tuple[tuple[tuple[str, float], ...], ...]  # per class: (studio label, weight) pairs summing to 1
    known: tuple[bool, ...]                       # the taxonomy knows this class
    anchors: np.ndarray                           # (n, 3) VAD anchor per class (NaN where unknown)

    @property
    def unknown(self) -> list[str]:
        return [r for r, k in zip(self.raw, self.known) if not k]

    def fold(self, p: np.ndarray) -> dict[str, float]:
        """Class probabilities (n,) → probabilities over studio labels (and unknown names), summing to 1."""
        out: dict[str, float] = {}
        for pi, target in zip(np.asarray(p, np.float64), self.targets):
            for label, w in target:
                out[label] = out.get(label, 0.0) + float(pi) * w
        return out

    def vad(self, p: np.ndarray) -> tuple[float, float, float] | None:
        """E_p[anchor] over the known classes; None when the model has no class the taxonomy knows."""
        p = np.asarray(p, np.float64)
        k = np.array(self.known)
        if not k.any() or p[k].sum() <= 0:
            return None
        w = p[k] / p[k].sum()
        v = w @ self.anchors[k]
        return float(v[0]), float(v[1]), float(v[2])

    def raw_measures(self, p: np.ndarray) -> dict[str, float]:
        """The model's own class probabilities, for the report (``class:NAME``)."""
        return {f"class:{r}": float(x) for r, x in zip(self.raw, np.asarray(p, np.float64))}


def label_map(id2label: Mapping[Any, str] | list[str] | tuple[str, ...]) -> LabelMap:
    if isinstance(id2label, Mapping):
        names = [str(id2label[k]) for k in sorted(id2label, key=lambda k: int(k))]
    else:
        names = [str(x) for x in id2label]
    targets, known, anchors = [], [], []
    for name in names:
        t = _term(name)
        if t is None:
            targets.append(((name.strip(), 1.0),))
            known.append(False)
            anchors.append((np.nan,) * 3)
            continue
        mix = dict(t.mixture) if t.tier != "core" else {t.name: 1.0}
        total = sum(mix.values()) or 1.0
        targets.append(tuple((lab, w / total) for lab, w in sorted(mix.items())))
        known.append(True)
        anchors.append(t.vad)
    lm = LabelMap(tuple(names), tuple(targets), tuple(known), np.array(anchors, np.float64).reshape(-1, 3))
    if lm.unknown:
        log.info("classes the taxonomy does not know, kept under their own names: %s", ", ".join(lm.unknown))
    return lm


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)

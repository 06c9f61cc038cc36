"""Sourced example phrases as evidence: a nearest-neighbour vote over the studio's labelled phrase sets.

The parser's tables name an emotion when the text holds a cue word, an idiom or a taxonomy term. A sentence that only
describes a situation or a behaviour ("someone keyed my car in the car park", "the children ran out into the first
snow, shouting") holds none, and its embedding against the short taxonomy anchors lands on the wrong label about as
often as the right one. Whole phrases labelled by people are closer to what users type: the ``k`` most similar of
them (MiniLM cosine), each weighing ``exp((cos - 1) / T)``, vote on the core label. The corpus is every phrase set in
``studio/data/phrases`` (each row cites a dictionary entry or a paper for its label) except the sets kept for
measurement only. Its embeddings are a derived cache keyed by the phrases and the embedder's hashes.

``leave_out(name)`` hides one set, and every phrase within ``NEAR_DUPLICATE`` cosine of the one asked about, so that
a set scores the vote without voting on itself or on a near copy written for another set: every accuracy the studio
reports for a phrase set is measured that way.
K, T and the parser's ``PHRASE_WEIGHT`` were picked by leave-one-set-out scores over the thirteen sets committed
when this was written (benchmarks/text_vad.py prints them), never on the sets scored afterwards.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from studio.affect.taxonomy import CORE_LABELS
from studio.errors import StudioError

FOLDER = Path(__file__).resolve().parents[1] / "data" / "phrases"
MEASUREMENT_ONLY = frozenset({"idioms_gloss"})  # idioms left out of the idiom table to measure what it misses
K = 7
TEMPERATURE = 0.1
# the vote counts in full once its nearest phrase is this close, not at all below FLOOR: farther neighbours share
# only surface words ("short tempered" ~ "a short perfunctory response", 0.42; "the table is brown", 0.34)
FLOOR, FULL = 0.35, 0.65
NEAR_DUPLICATE = 0.9  # left out with the set: a phrase from another set this close says the same thing
_left_out: ContextVar[str | None] = ContextVar("phrase_vote_left_out", default=None)


@dataclass(frozen=True)
class Corpus:
    phrases: tuple[str, ...]
    labels: np.ndarray  # (n,) index into CORE_LABELS
    sets: tuple[str, ...]
    embeddings: np.ndarray  # (n, d), unit rows


def set_name(path: Path) -> str:
    return path.stem.removeprefix("phrases_")


def read_set(name: str) -> list[dict[str, str]]:
    """The rows of one phrase set; a bad label is a one-line error naming the file and row."""
    path = FOLDER / f"phrases_{name}.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for n, r in enumerate(rows, start=2):
        if r.get("label") not in CORE_LABELS or not (r.get("phrase") or "").strip():
            raise StudioError(f"{path.name} line {n}: needs a phrase and one of {', '.join(CORE_LABELS)} as label")
    return rows


def set_names() -> list[str]:
    return sorted(set_name(p) for p in FOLDER.glob("phrases_*.csv"))


@lru_cache(maxsize=1)
def corpus() -> Corpus:
    from studio import derived
    from studio.affect.embedder import MODEL, embedder

    phrases, labels, sets = [], [], []
    for name in set_names():
        if name in MEASUREMENT_ONLY:
            continue
        for r in read_set(name):
            phrases.append(r["phrase"].strip())
            labels.append(CORE_LABELS.index(r["label"]))
            sets.append(name)
    inputs = {"phrases": hashlib.sha256("\n".join(phrases).encode()).hexdigest(), "model": derived.model_digest(MODEL)}
    arrays = derived.cached("phrase-corpus", inputs, lambda: {"embeddings": embedder().encode(phrases)},
                            valid=lambda a: a.get("embeddings", np.empty(0)).shape[:1] == (len(phrases),))
    return Corpus(tuple(phrases), np.array(labels), tuple(sets), arrays["embeddings"])


@contextlib.contextmanager
def leave_out(name: str | None) -> Iterator[None]:
    """Within the block the vote ignores set ``name`` and every corpus phrase within ``NEAR_DUPLICATE`` of the text
    voted on (an exact copy from another set among them)."""
    token = _left_out.set(name)
    try:
        yield
    finally:
        _left_out.reset(token)


@dataclass(frozen=True)
class Vote:
    shares: dict[str, float]  # core label -> share of the K nearest phrases' weight
    trust: float  # 0..1 from the nearest phrase's cosine (FLOOR .. FULL)
    nearest: float

    @property
    def winner(self) -> str:
        return max(self.shares, key=self.shares.get)


def vote(text: str, vec: np.ndarray | None = None) -> Vote:
    """The ``K`` corpus phrases nearest to ``text`` vote on its core label; ``vec`` is its embedding if the caller
    already has it."""
    from studio.affect.embedder import embedder

    c = corpus()
    sims = c.embeddings @ (embedder().encode([text])[0] if vec is None else vec)
    hidden = _left_out.get()
    if hidden is not None:
        sims = np.where((np.array(c.sets) == hidden) | (sims >= NEAR_DUPLICATE), -np.inf, sims)
    top = np.argsort(-sims)[:K]
    weights = np.exp((sims[top] - 1.0) / TEMPERATURE)
    shares = dict.fromkeys(CORE_LABELS, 0.0)
    for i, w in zip(top, weights):
        shares[CORE_LABELS[c.labels[i]]] += float(w)
    total = sum(shares.values())
    nearest = float(sims[top[0]])
    return Vote({k: v / total for k, v in shares.items()}, float(np.clip((nearest - FLOOR) / (FULL - FLOOR), 0, 1)), nearest)


@dataclass(frozen=True)
class SetScore:
    right: Counter  # per kind (or label) of row
    rows: Counter
    errors: int  # rows the parser refused with a StudioError (counted as wrong)


def score(name: str, by: str = "kind", use_phrases: bool = True) -> SetScore:
    """Top label right per ``by`` column on one phrase set, the vote leaving that set (and near copies) out: how
    every phrase-set accuracy in the tests and benchmarks/text_vad.py is measured."""
    from studio.affect.parse import parse_text

    right, rows, errors = Counter(), Counter(), 0
    with leave_out(name):
        for r in read_set(name):
            rows[r[by]] += 1
            try:
                right[r[by]] += parse_text(r["phrase"], use_phrases=use_phrases).top_label == r["label"]
            except StudioError:
                errors += 1
    return SetScore(right, rows, errors)

"""The emotion vocabulary: core labels with VAD anchors and an extended vocabulary mapped onto them.

All rows live in ``studio/data/taxonomy.csv`` with a source for every value.
"""
from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from studio.errors import StudioError

CORE_LABELS: tuple[str, ...] = ("neutral", "anger", "disgust", "fear", "joy", "sadness", "surprise", "contempt")
EMOTIONS: tuple[str, ...] = CORE_LABELS[1:]


@dataclass(frozen=True)
class Term:
    name: str
    tier: str
    synonyms: tuple[str, ...]
    vad: tuple[float, float, float]
    mixture: tuple[tuple[str, float], ...]
    intensity: float
    opposite: str
    source: str


def parse_mixture(text: str, sep: str = ",") -> dict[str, float]:
    """``"joy:0.6,surprise:0.4"`` → ``{"joy": 0.6, "surprise": 0.4}`` (weights not yet normalised)."""
    out: dict[str, float] = {}
    for part in text.split(sep):
        part = part.strip()
        if not part:
            continue
        if ":" not in part:
            raise StudioError(f"mixture part {part!r} has no weight: write label:weight, e.g. 'joy:0.6,surprise:0.4'")
        name, _, w = part.partition(":")
        try:
            weight = float(w)
        except ValueError:
            raise StudioError(f"mixture weight {w!r} for {name.strip()!r} is not a number") from None
        if not weight >= 0 or weight == float("inf"):
            raise StudioError(f"mixture weight for {name.strip()!r} must be a finite number >= 0, got {w!r}")
        out[name.strip().lower()] = out.get(name.strip().lower(), 0.0) + weight
    return out


@lru_cache(maxsize=1)
def terms() -> dict[str, Term]:
    text = resources.files("studio.data").joinpath("taxonomy.csv").read_text(encoding="utf-8")
    table: dict[str, Term] = {}
    for row in csv.DictReader(text.splitlines()):
        mix = parse_mixture(row["mixture"], sep=";")
        table[row["term"]] = Term(
            name=row["term"],
            tier=row["tier"],
            synonyms=tuple(s for s in row["synonyms"].split("|") if s),
            vad=(float(row["valence"]), float(row["arousal"]), float(row["dominance"])),
            mixture=tuple(sorted(mix.items())),
            intensity=float(row["intensity"]),
            opposite=row["opposite"],
            source=row["source"],
        )
    return table


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    idx: dict[str, str] = {}
    for name, term in terms().items():
        idx.setdefault(name, name)
        for syn in term.synonyms:
            idx.setdefault(syn.lower(), name)
    return idx


def lookup(word: str) -> Term | None:
    """A term by name or synonym, or None."""
    name = _index().get(word.strip().lower())
    return terms()[name] if name else None


def closest(word: str, n: int = 3) -> list[str]:
    return difflib.get_close_matches(word.strip().lower(), list(_index()), n=n, cutoff=0.5)


def resolve(word: str) -> Term:
    term = lookup(word)
    if term is None:
        near = closest(word)
        hint = f"closest known: {', '.join(near)}" if near else f"try one of: {', '.join(CORE_LABELS)}"
        raise StudioError(f"unknown emotion label {word!r}; {hint} (or quote free text, which is parsed by meaning)")
    return term


def anchor(label: str) -> tuple[float, float, float]:
    return terms()[label].vad

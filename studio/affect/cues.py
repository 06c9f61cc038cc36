"""What free text says about emotion beyond the taxonomy's own words.

Two sourced tables in ``studio/data``: ``anchor_phrases.csv`` (idioms, glosses and behaviours, matched by
meaning alongside the taxonomy terms) and ``cue_words.csv`` (single words such as "sneer" or "icky"
that name an emotion no taxonomy term spells out, matched by their stem in any position).
"""
from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from studio.affect import taxonomy
from studio.errors import StudioError


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("studio.data").joinpath(name).read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    for r in rows:
        if r["term"] not in taxonomy.terms():
            raise StudioError(f"{name}: {r['term']!r} is not a taxonomy term")
        if not r["source"].strip():
            raise StudioError(f"{name}: a row for {r['term']!r} has no source")
    return rows


@lru_cache(maxsize=1)
def anchor_phrases() -> tuple[tuple[str, str], ...]:
    """(phrase, term) pairs."""
    return tuple((r["phrase"], r["term"]) for r in _rows("anchor_phrases.csv"))


def stems(word: str) -> set[str]:
    """The word and the stems an English inflection could have come from ("sneering" -> "sneer")."""
    out = {word}
    for suf in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            stem = word[: -len(suf)]
            out |= {stem, stem + "e"}
            if stem[-1] == stem[-2]:
                out.add(stem[:-1])  # sobbing -> sob
            if stem.endswith("i"):
                out.add(stem[:-1] + "y")  # worried -> worry
    return out


@lru_cache(maxsize=1)
def cue_words() -> dict[str, str]:
    """Cue word -> taxonomy term."""
    out: dict[str, str] = {}
    for r in _rows("cue_words.csv"):
        for w in r["words"].split("|"):
            if w.strip():
                out.setdefault(w.strip().lower(), r["term"])
    return out


def cue_terms(words: list[str]) -> list[str]:
    """Taxonomy terms named by cue words in ``words``, in order of appearance."""
    table = cue_words()
    found: list[str] = []
    for w in words:
        hit = next((table[s] for s in sorted(stems(w)) if s in table), None)
        if hit and hit not in found:
            found.append(hit)
    return found

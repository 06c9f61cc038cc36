"""One affect written as text: a label, ``joy:0.6,surprise:0.4``, ``v,a,d`` or free text.

It sits above both ``core`` (the value) and ``parse`` (free text), so neither imports the other's
caller: core never reaches for the parser. ``trajectory`` and ``coerce`` read their keyframes and
arguments through here.
"""
from __future__ import annotations

import difflib

from studio.affect import cues, taxonomy
from studio.affect.core import Affect, numbers
from studio.affect.parse import parse_text
from studio.errors import StudioError

TYPO = 0.8  # difflib ratio above which a word is a misspelt label ("angr" ~ "anger" 0.89, "sunshine" ~ "pensive" 0.53)


def from_spec(spec: str, intensity: float | None = None) -> Affect:
    """What the CLI and spec files accept: a label, 'a:0.6,b:0.4', 'v,a,d' or quoted free text."""
    if not isinstance(spec, str) or not spec.strip():
        raise StudioError("emotion is empty: give a label ('joy'), a mixture ('joy:0.6,surprise:0.4'), a VAD triple ('0.5,-0.2,0.1') or free text")
    s = spec.strip()
    nums = numbers(s)
    if nums is not None:
        if len(nums) not in (2, 3):
            raise StudioError(f"VAD {s!r} needs two or three numbers (valence, arousal[, dominance]), got {len(nums)}")
        return Affect.from_vad(*nums, intensity=1.0 if intensity is None else intensity)
    if ":" in s:
        return Affect.from_mixture(s, 1.0 if intensity is None else intensity)
    if taxonomy.lookup(s) is not None:
        return Affect.of(s, intensity)
    if " " in s:
        return parse_text(s, intensity)
    # one word that is no label: a cue word ("gobsmacked") or any other word ("sunshine") is read by meaning,
    # but a near-miss of a label ("angr") is a typo and gets the closest labels
    if not cues.cue_terms([s.lower()]) and difflib.get_close_matches(s.lower(), list(taxonomy.terms()), n=1, cutoff=TYPO):
        return Affect.of(s, intensity)
    return parse_text(s, intensity)

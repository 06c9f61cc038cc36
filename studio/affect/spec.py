"""One affect written as text: a label, ``joy:0.6,surprise:0.4``, ``v,a,d`` or free text.

It sits above both ``core`` (the value) and ``parse`` (free text), so neither imports the other's
caller: core never reaches for the parser. ``trajectory`` and ``coerce`` read their keyframes and
arguments through here.
"""
from __future__ import annotations

from studio.affect import cues, taxonomy
from studio.affect.core import Affect, numbers
from studio.affect.parse import parse_text
from studio.errors import StudioError


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
    # one word that is no label: a cue word ("gobsmacked", "sneering") names its emotion; any other word is
    # a misspelt label ("angr") or no emotion at all ("xyzzy") and gets the closest labels (quoted free text,
    # "the sunshine", is still read by meaning)
    if cues.cue_terms([s.lower()]):
        return parse_text(s, intensity)
    return Affect.of(s, intensity)

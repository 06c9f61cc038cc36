"""Back-classification for the UI, through one function so the source can change underneath.

A recognizer that cannot judge an output (no face found, silent audio) is reported beside the
result as a note instead of failing the whole request: the rendered media is still worth showing.
"""
from __future__ import annotations

from pathlib import Path

from evals.base import Recognition
from studio.errors import StudioError


def recognize_file(medium: str, path: str | Path) -> tuple[list[Recognition], list[str]]:
    """Recognitions of one output file, plus notes for the recognizers that could not judge it."""
    from evals import dispatch

    notes: list[str] = []
    try:
        recs = dispatch.recognize_file(medium, Path(path), errors=notes)
    except StudioError as e:
        return [], [f"could not back-classify: {e}"]
    if not recs and not notes:
        notes.append(f"no {medium} recognizer is installed")
    return recs, notes

"""The result every engine returns: the same fields for every medium, and one ``save``.

``save(path)`` writes the media atomically plus its metadata: inside the file where the format has a
place for it (PNG text chunks), else a sidecar ``<file>.json`` beside it (WAV/FLAC/MP4), so the media
bytes themselves stay what the engine made.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

SIDECAR_SUFFIX = ".json"


def sidecar_path(path: str | Path) -> Path:
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


@dataclass(kw_only=True)
class Result:
    medium: ClassVar[str] = ""
    request: Any = None                                 # the studio.requests.Request that was rendered
    plan: Any = None                                    # the plan (or PlanTrack) the engine realised
    affect: dict = field(default_factory=dict)
    engine: str = ""
    seed: int = 0
    timings: dict[str, float] = field(default_factory=dict)   # seconds per stage
    meta: dict = field(default_factory=dict)            # engine diagnostics

    def metadata(self) -> dict[str, Any]:
        from studio.affect.tracks import plan_to_dict
        from studio.serial import jsonable

        plan = plan_to_dict(self.plan) if self.plan is not None else None
        return jsonable({"medium": self.medium, "engine": self.engine, "seed": self.seed, "affect": self.affect,
                         "plan": plan, "request": self.request.to_dict() if self.request is not None else None,
                         "timings": self.timings})

    def media(self):
        """The output as ``studio.media.Media`` for recognizers."""
        raise NotImplementedError

    def _write(self, path: Path, progress: bool) -> Path:
        raise NotImplementedError

    def save(self, path: str | Path, *, sidecar: bool = True, progress: bool = False) -> Path:
        """Write the media (atomically) and, for formats without a metadata slot, ``<path>.json`` beside it."""
        from studio.media import atomic_path

        p = self._write(Path(path), progress)
        if sidecar and p.suffix.lower() != ".png":
            with atomic_path(sidecar_path(p)) as tmp:
                tmp.write_text(json.dumps(self.metadata(), indent=1, sort_keys=True), encoding="utf-8")
        return p

"""One dataset item: a canonical request, its deterministic id, and how it is rendered to a file.

The id is a hash of the canonical request (medium, mode, emotion, intensity, seed, text/prompt, portrait
bytes, options), so the same request always lands in the same file and a resumed run recognises it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

FOLDERS = {("speech", "speak"): "speech", ("face", "express"): "face", ("face", "talk"): "video",
           ("image", "generate"): "image"}
ID_LEN = 16
SPEECH_ENGINE_KEYS = ("weights", "vocoder", "directions", "speaker")
FACE_ENGINE_KEYS = ("weights", "controlnet", "motion_adapter")
FACE_RUN_KEYS = ("strength", "control_scale", "steps", "guidance", "temporal", "blend")


@dataclass(frozen=True)
class Item:
    medium: str
    mode: str
    emotion: str
    intensity: float
    seed: int
    text: str | None = None
    prompt: str | None = None
    portrait: str | None = None                                   # as written in the spec ('default' or a path)
    portrait_sha256: str | None = None                            # identity of the portrait: moving the file keeps ids
    options: tuple[tuple[str, Any], ...] = ()
    portrait_path: str | None = field(default=None, compare=False)  # where to read it on this machine
    index: int = field(default=0, compare=False)                   # position in the spec (manifest order)

    def request(self) -> dict[str, Any]:
        """Everything that determines the output, in a canonical JSON-able form."""
        return {"medium": self.medium, "mode": self.mode, "emotion": self.emotion, "intensity": round(self.intensity, 6),
                "seed": self.seed, "text": self.text, "prompt": self.prompt, "portrait_sha256": self.portrait_sha256,
                "options": dict(self.options)}

    @cached_property
    def id(self) -> str:
        blob = json.dumps(self.request(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:ID_LEN]

    @property
    def opts(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def folder(self) -> str:
        return FOLDERS[(self.medium, self.mode)]

    @property
    def extension(self) -> str:
        if self.medium == "speech":
            return self.opts.get("format", "wav")
        return "mp4" if self.mode == "talk" else "png"

    def affect(self):
        from studio.affect.coerce import coerce

        return coerce(self.emotion, self.intensity)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """Requested label and VAD point; a trajectory reports its time-average and final label."""
        from studio.affect.coerce import summary

        return summary(self.affect())

    def to_request(self):
        """The typed request this item renders (``studio.requests``)."""
        from studio.requests import FaceRequest, ImageRequest, SpeechRequest

        o = self.opts
        engine = o.get("engine", "embedded")
        if self.medium == "speech":
            return SpeechRequest(text=self.text, affect=self.affect(), seed=self.seed, engine=engine,
                                 voice=o.get("voice"), engine_options={k: o.get(k) for k in SPEECH_ENGINE_KEYS})
        if self.medium == "face":
            portrait = None if self.portrait in (None, "default") else (self.portrait_path or self.portrait)
            eopts = {k: o.get(k) for k in FACE_ENGINE_KEYS}
            run = {k: o[k] for k in FACE_RUN_KEYS if k in o}
            if self.mode == "talk":
                return FaceRequest(portrait=portrait, text=self.text, affect=self.affect(), seed=self.seed,
                                   fps=o.get("fps", 25), size=o.get("size", 512), voice=o.get("voice"), engine=engine,
                                   engine_options=eopts, options=run)
            return FaceRequest(portrait=portrait, affect=self.affect(), seed=self.seed, engine=engine,
                               engine_options=eopts, options=run)
        return ImageRequest(prompt=self.prompt, affect=self.affect(), seed=self.seed, width=o.get("width", 512),
                            height=o.get("height", 512), engine=engine,
                            engine_options={"weights": o.get("weights")} if engine != "embedded" else {})

    @property
    def rel_path(self) -> str:
        return f"{self.folder}/{self.summary['label']}-{self.id}.{self.extension}"

    def request_row(self) -> dict[str, Any]:
        s = self.summary
        v, a, d = s["point"]
        return {
            "id": self.id, "index": self.index, "medium": self.medium, "mode": self.mode, "file": self.rel_path,
            "emotion": self.emotion, "intensity": float(self.intensity), "label": s["label"],
            "valence": float(v), "arousal": float(a), "dominance": float(d), "trajectory": s["trajectory"],
            "text": self.text, "prompt": self.prompt, "portrait": self.portrait, "portrait_sha256": self.portrait_sha256,
            "seed": int(self.seed), "engine": self.opts.get("engine", "embedded"),
            "options": json.dumps(self.opts, sort_keys=True), "affect": json.dumps(s["affect"], sort_keys=True),
        }


def run_pipeline(item: Item):
    """Render the item through the spine; returns its result (with .save(path) and .plan)."""
    from studio import spine

    return spine.render(item.to_request())


def media_facts(result: Any) -> dict[str, Any]:
    """Duration / size / frame count of a result, read from its own fields."""
    out: dict[str, Any] = {"duration_s": None, "width": None, "height": None, "frames": None}
    if getattr(result, "duration_s", None) is not None:
        out["duration_s"] = float(result.duration_s)
    img = getattr(result, "image", None)
    frames = getattr(result, "frames", None)
    if img is not None:
        out["height"], out["width"] = int(img.shape[0]), int(img.shape[1])
    if frames is not None and len(frames):
        out["frames"] = len(frames)
        out["height"], out["width"] = int(frames[0].shape[0]), int(frames[0].shape[1])
        fps = getattr(result, "fps", None)
        if fps:
            out["duration_s"] = len(frames) / float(fps)
    return out


def render_item(item: Item, out_dir: Path) -> dict[str, Any]:
    """Render one item into ``out_dir/item.rel_path`` atomically and return its manifest row."""
    from studio.media import atomic_path
    from studio.weights import sha256_of

    result = run_pipeline(item)
    dest = Path(out_dir) / item.rel_path
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        result.save(tmp, sidecar=False)  # the manifest row is this item's metadata
    row = item.request_row()
    row.update(media_facts(result))
    plan = getattr(result, "plan", None)
    from studio.serial import jsonable

    row["plan"] = json.dumps(jsonable(plan) if plan is not None else None, sort_keys=True)
    row["sha256"] = sha256_of(dest)
    row["bytes"] = dest.stat().st_size
    return row

"""Long speech, rendered segment by segment straight into the output file: memory stays flat at any length.

    from studio.speech_stream import render_to_file
    res = render_to_file(SpeechRequest(text=book, affect="sadness"), "book.wav", progress=True)

The text is normalised once and cut at sentence boundaries (a sentence longer than a segment at clause
punctuation, then between words) into segments of at most ``segment_chars`` characters. Each segment is an
ordinary request through the spine (same engine, voice and options) and is appended to the WAV/FLAC through
``soundfile.SoundFile`` opened on the ``atomic_path`` temporary file, so a crash or Ctrl-C leaves nothing
behind and only one segment's audio is ever in memory (plus the engine's bounded cache).

* A text of one segment renders and saves exactly as ``spine.render`` + ``Result.save`` do (same bytes).
* Segment 0 renders with the request's seed, segment k with a seed drawn from (seed, k): same text and seed,
  same file, bit for bit.
* Segments are joined by the engine's own sentence pause (0.25 s x pause / rate of the plan at the joint),
  with 10 ms raised-cosine fades on the inner edges so no joint clicks.
* A steady affect's plan applies to every segment. A trajectory in relative time is laid over the text by
  character position: the segment spanning characters [a, b) of the normalised text gets the slice [a, b) of
  the trajectory, re-timed to 0..1 (so "neutral > joy" reaches joy on the last word however the emotion's rate
  stretches the audio). A trajectory in seconds is laid over the audio written so far: the segment starting
  at t0 seconds gets the trajectory from t0 on. Inside a segment the engine maps its slice as it always does.
"""
from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from studio import spine
from studio.affect import ProsodyPlan, Trajectory
from studio.affect.tracks import PlanTrack
from studio.errors import StudioError
from studio.requests import SEED_MAX, SpeechRequest
from studio.results import Result

log = logging.getLogger(__name__)

SEGMENT_CHARS = 600      # ~30 s of neutral speech: the embedded engine peaks near 0.8 GB at this size (benchmarks/)
SEGMENT_PAUSE_S = 0.25   # the engines' pause between sentences, before the plan's pause and rate scaling
FADE_S = 0.01            # raised-cosine fade on each inner segment edge
MEASURE_S = 60.0         # a streamed file is judged on this much audio, in evenly spread windows
MEASURE_WINDOWS = 6


@dataclass(frozen=True)
class Segment:
    text: str     # sentences joined by blank lines, so the engine splits them exactly as here
    start: int    # character span in the normalised text (sentences joined by single spaces)
    end: int


def _cut(sentence: str, limit: int) -> list[str]:
    """A sentence over ``limit`` characters, cut at clause punctuation, then between words (no mark added:
    the segment joint is a pause of its own)."""
    from pipelines.speech.text import split_long

    return [p for p in split_long(sentence, limit, mark="") if p]


def segments(text: str, segment_chars: int | None = None) -> list[Segment]:
    """``text`` normalised (the speech engines' front end) and grouped into segments of at most
    ``segment_chars`` characters, cut at sentence, then clause, then word boundaries."""
    segs, caught = _segments(text, segment_chars)
    for w in caught:
        warnings.warn(w.message, stacklevel=2)
    return segs


def _segments(text: str, segment_chars: int | None) -> tuple[list[Segment], list]:
    """The segments, and the front end's warnings (dropped characters) held back: a one-segment text is
    normalised again by the engine, which warns then."""
    from pipelines.speech import text as textfe

    segment_chars = SEGMENT_CHARS if segment_chars is None else segment_chars
    if isinstance(segment_chars, bool) or not isinstance(segment_chars, int) or segment_chars < 20:
        raise StudioError(f"segment_chars must be a whole number >= 20, got {segment_chars!r}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = textfe.prepare(text)
    sents = [p for c in chunks for s in c.sentences for p in _cut(s, segment_chars)]
    out: list[Segment] = []
    group: list[str] = []
    start = pos = 0          # where the group starts, where the next sentence starts (single-space joins)
    for s in sents:
        if group and pos - start + len(s) > segment_chars:
            out.append(Segment("\n\n".join(group), start, pos - 1))
            group, start = [], pos
        group.append(s)
        pos += len(s) + 1
    out.append(Segment("\n\n".join(group), start, pos - 1))
    return out, list(caught)


def segment_seed(seed: int, k: int) -> int:
    """Segment k's seed: the request's own for segment 0, else a draw from (seed, k) in [0, 2^63-1]."""
    if k == 0:
        return seed
    return int(np.random.SeedSequence([seed, k]).generate_state(1, np.uint64)[0]) & SEED_MAX


def slice_plan(plan: Any, a: float, b: float, t0_s: float) -> Any:
    """The part of ``plan`` that a segment renders: characters [a, b) (fractions of the text) of a relative
    track, or a track in seconds from ``t0_s`` (the audio written before the segment) on."""
    if not isinstance(plan, PlanTrack):
        return plan
    if plan.relative:
        span = max(b - a, 1e-12)
        inner = lambda keys: [((t - a) / span, x) for t, x in keys if a < t < b]  # noqa: E731
        if plan.source is not None:
            src = plan.source
            keys = [(0.0, src.at(a, 1.0)), *inner(src.keys), (1.0, src.at(b, 1.0))]
            return PlanTrack.of(plan.medium, Trajectory(tuple(keys), True))
        return PlanTrack(plan.medium, ((0.0, plan.at(a, 1.0)), *inner(plan.keys), (1.0, plan.at(b, 1.0))), True)
    later = lambda keys: [(t - t0_s, x) for t, x in keys if t > t0_s]  # noqa: E731
    if plan.source is not None:
        src = plan.source
        return PlanTrack.of(plan.medium, Trajectory(((0.0, src.at(t0_s, 1.0)), *later(src.keys)), False))
    return PlanTrack(plan.medium, ((0.0, plan.at(t0_s, 1.0)), *later(plan.keys)), False)


def _first(plan: Any) -> ProsodyPlan:
    return plan if isinstance(plan, ProsodyPlan) else plan.at(0.0, 1.0)


@dataclass(kw_only=True)
class SpeechFile(Result):
    """Streamed speech: the audio lives in ``path`` only; timings and plans as a SpeechResult has them."""
    medium: ClassVar[str] = "speech"
    path: Path
    sample_rate: int
    samples: int                                                       # samples written (not "frames": a clip has those)
    words: list[tuple[str, float, float]] = field(default_factory=list)
    phones: list[tuple[str, float, float]] = field(default_factory=list)
    plans: list[tuple[float, object]] = field(default_factory=list)
    text: str = ""
    segments: list[dict] = field(default_factory=list)                 # start_s, end_s, chars, seed per segment

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_rate

    @property
    def measured_s(self) -> float:
        """How much of the file ``media()`` hands the recognizers."""
        return min(self.duration_s, MEASURE_S)

    def metadata(self) -> dict:
        from studio.serial import jsonable

        meta = super().metadata()
        meta.update(jsonable({"text": self.text, "sample_rate": self.sample_rate, "duration_s": self.duration_s,
                              "words": self.words, "phones": self.phones,
                              "streamed": {"segments": self.segments, "segment_seeds": "segment 0: the seed; "
                                           "segment k: SeedSequence([seed, k]) (studio.speech_stream.segment_seed)"}}))
        return meta

    def media(self):
        """The file as audio media: all of it up to MEASURE_S, else MEASURE_WINDOWS windows spread over it
        (the recognizers' memory grows with the audio, ~2.3 MB per second for the acoustic one)."""
        import soundfile as sf

        from studio.media import Media

        with sf.SoundFile(self.path) as f:
            if f.frames <= MEASURE_S * f.samplerate:
                audio = f.read(dtype="float32")
            else:
                win = int(MEASURE_S / MEASURE_WINDOWS * f.samplerate)
                parts = []
                for start in np.linspace(0, f.frames - win, MEASURE_WINDOWS).astype(int):
                    f.seek(int(start))
                    parts.append(f.read(win, dtype="float32"))
                audio = np.concatenate(parts)
        return Media.of_audio(audio, self.sample_rate, path=self.path)

    def _write(self, path: Path, progress: bool) -> Path:
        import shutil

        from studio.media import AUDIO_EXT, atomic_path, check_output

        p = check_output(path, AUDIO_EXT)
        if p.suffix.lower() != self.path.suffix.lower():
            raise StudioError(f"a streamed {self.path.suffix} file is copied, not converted: save it as {p.stem}{self.path.suffix}")
        if p.resolve() != self.path.resolve():
            with atomic_path(p) as tmp:
                shutil.copyfile(self.path, tmp)
        return p


def render_to_file(request: SpeechRequest, path: str | Path, plan: Any = None, *, progress: bool = False,
                   segment_chars: int | None = None, sidecar: bool = True):
    """Render ``request`` into ``path`` (WAV or FLAC) and its ``<path>.json`` sidecar.

    Returns the SpeechResult (audio in memory) when the text is one segment, else a SpeechFile."""
    from studio.media import AUDIO_EXT, check_output

    if not isinstance(request, SpeechRequest):
        raise StudioError(f"render_to_file renders a SpeechRequest, got {type(request).__name__}")
    out = check_output(path, AUDIO_EXT)
    p = spine.checked_plan(request, plan)
    segs, caught = _segments(request.text, segment_chars)
    if len(segs) == 1:
        res = spine.render(request, p, progress=progress)
        res.save(out, sidecar=sidecar)
        return res
    for w in caught:  # the segments are normalised text: the engine has nothing left to warn about
        warnings.warn(w.message, stacklevel=2)
    res = _stream(request, p, segs, out, progress)
    if sidecar:
        res.write_sidecar(out)
    return res


def _stream(request: SpeechRequest, plan: Any, segs: list[Segment], out: Path, progress: bool) -> SpeechFile:
    import soundfile as sf

    from studio.media import AUDIO_EXT, atomic_path
    from studio.progress import open_bar

    total = segs[-1].end
    words: list[tuple[str, float, float]] = []
    phones: list[tuple[str, float, float]] = []
    spans: list[tuple[float, float, float, float]] = []   # (start_s, duration_s, a, b) per segment
    info: list[dict] = []
    meta: dict = {}
    timings = {"load_s": 0.0, "render_s": 0.0}
    sr = written = 0
    t_start = time.perf_counter()
    bar = open_bar(progress, total, "speech", "char")
    try:
        with atomic_path(out) as tmp:
            f = None
            try:
                for k, seg in enumerate(segs):
                    a, b = seg.start / total, (seg.end + 1) / total if k < len(segs) - 1 else 1.0
                    gap = 0
                    if k:  # the pause before this segment, from the plan at the joint
                        pl = _first(slice_plan(plan, a, min(b, 1.0), written / sr))
                        gap = int(round(SEGMENT_PAUSE_S * pl.pause_scale / pl.rate_scale * sr))
                    sub = slice_plan(plan, a, min(b, 1.0), (written + gap) / sr if sr else 0.0)
                    seed = segment_seed(request.seed, k)
                    res = spine.render(dataclasses.replace(request, text=seg.text, seed=seed), sub)
                    timings["load_s"] += res.timings.get("load_s", 0.0)
                    y = np.asarray(res.audio, np.float32)
                    if y.size == 0 or not np.all(np.isfinite(y)):
                        raise StudioError(f"segment {k + 1} of {len(segs)} rendered empty or non-finite audio; "
                                          "refusing to write it")
                    if f is None:
                        sr = res.sample_rate
                        f = sf.SoundFile(tmp, "w", samplerate=sr, channels=1, format=AUDIO_EXT[out.suffix.lower()],
                                         subtype="PCM_16")
                    elif res.sample_rate != sr:
                        raise StudioError(f"segment {k + 1} came at {res.sample_rate} Hz, the file is {sr} Hz")
                    if k:
                        f.write(np.zeros(gap, np.float32))
                        phones.append(("sil", written / sr, (written + gap) / sr))
                        written += gap
                    y = _fade(y, sr, fade_in=k > 0, fade_out=k < len(segs) - 1)
                    off = written / sr
                    f.write(y)
                    words += [(w, s + off, e + off) for w, s, e in res.words]
                    phones += [(ph, s + off, e + off) for ph, s, e in res.phones]
                    spans.append((off, len(y) / sr, a, min(b, 1.0)))
                    info.append({"start_s": off, "end_s": off + len(y) / sr, "chars": len(seg.text), "seed": seed})
                    written += len(y)
                    bar.update(seg.end - seg.start + (1 if k < len(segs) - 1 else 0))
                    bar.set_postfix_str(f"{written / sr:.0f} s of audio")
                    if "voice" in (res.meta or {}):  # one voice speaks every segment: the manifest names it
                        meta["voice"] = res.meta["voice"]
                    del res, y
            finally:
                if f is not None:
                    f.close()
    finally:
        bar.close()
    timings["render_s"] = time.perf_counter() - t_start - timings["load_s"]
    log.info("streamed %d segments, %.1f s of audio into %s", len(segs), written / sr, out)
    text = " ".join(s.text.replace("\n\n", " ") for s in segs)
    return SpeechFile(path=out, sample_rate=sr, samples=written, words=words, phones=phones,
                      plans=_key_times(plan, spans, written / sr), text=text, segments=info, request=request,
                      plan=plan, affect=request.affect.to_dict(), engine=request.engine, seed=request.seed,
                      timings=timings, meta=meta)


def _fade(y: np.ndarray, sr: int, *, fade_in: bool, fade_out: bool) -> np.ndarray:
    n = min(int(FADE_S * sr), len(y) // 2)
    if n < 2 or not (fade_in or fade_out):
        return y
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
    y = y.copy()
    if fade_in:
        y[:n] *= ramp
    if fade_out:
        y[-n:] *= ramp[::-1]
    return y


def _key_times(plan: Any, spans: list[tuple[float, float, float, float]], duration: float) -> list[tuple[float, Any]]:
    """Each keyframe's output time: inside its segment, in proportion to the segment's characters."""
    if not isinstance(plan, PlanTrack):
        return [(0.0, plan)]
    out = []
    for t, p in plan.keys:
        if not plan.relative:
            out.append((min(t, duration), p))
            continue
        start, dur, a, b = next((s for s in spans if s[2] <= t < s[3]), spans[-1])
        out.append((start + dur * min(1.0, (t - a) / max(b - a, 1e-12)), p))
    return out

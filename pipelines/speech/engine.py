"""The embedded speech engine: piper base voice → WORLD prosody rendering → level normalisation."""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.speech import level, prosody, text as textfe
from pipelines.speech.align import word_spans
from pipelines.speech.result import SpeechResult
from pipelines.speech.voice import BaseUtterance, Phone, PiperBase
from studio.affect import ProsodyPlan
from studio.affect.tracks import PlanTrack
from studio.requests import SpeechRequest
from studio.errors import StudioError

SENTENCE_PAUSE_S = 0.25   # silence between sentences, before the plan's pause scaling
TRACK_STEP_S = 0.05       # a trajectory's plan is sampled this often, then interpolated per frame
MAX_TRACK_POINTS = 4000
CACHE_BYTES = 192 * 2**20  # base chunks and their WORLD analyses kept for re-rendering with other plans


@dataclass
class BaseChunk:
    audio: np.ndarray
    phones: list[Phone] = field(default_factory=list)            # samples within the chunk
    words: list[tuple[str, int, int]] = field(default_factory=list)


class EmbeddedEngine:
    name = "embedded"
    medium = "speech"

    def __init__(self, noise_scale: float | None = None, noise_w_scale: float | None = None,
                 cache_bytes: int = CACHE_BYTES, voice: str | Path | None = None, speaker: int | None = None):
        """``voice``: None (the embedded joe voice), a registry voice name, or a path to a piper .onnx
        with its .onnx.json beside it; ``speaker``: the speaker id of a multi-speaker voice."""
        self.base = PiperBase(noise_scale=noise_scale, noise_w_scale=noise_w_scale, voice=voice, speaker=speaker)
        self.voice = {**self.base.source.to_dict(), "speaker": self.base.speaker}
        self.sample_rate = self.base.sample_rate
        self._counts: dict[str, int] = {}
        # The same words with the same seed give the same base voice and analysis whatever the plan, and
        # that is about 90 % of an emotional render: the web demo re-renders a line as the user moves the
        # intensity, and a dataset grid speaks each text in every emotion. Results are bit-identical.
        self.cache = _LRU(cache_bytes)

    def _cached_base(self, chunk: textfe.Chunk, seed: int, index: int) -> BaseChunk:
        key = _key(chunk, seed, index)
        hit = self.cache.get(key)
        if hit is not None:
            return hit[0]
        b = self.base_chunk(chunk, seed, index)
        self.cache.put(key, (b, None), b.audio.nbytes)
        return b

    def _cached_analysis(self, chunk: textfe.Chunk, seed: int, index: int, b: BaseChunk) -> prosody.Analysis:
        key = _key(chunk, seed, index)
        hit = self.cache.get(key)
        if hit is not None and hit[1] is not None:
            return hit[1]
        sr = self.sample_rate
        an = prosody.analyse(b.audio, sr, [(ph.symbol, ph.start / sr, ph.end / sr) for ph in b.phones])
        self.cache.put(key, (b, an), b.audio.nbytes + an.nbytes)
        return an

    # ---- base voice -----------------------------------------------------------------------
    def _count(self, word: str) -> int:
        if word not in self._counts:
            self._counts[word] = self.base.word_phone_count(word)
        return self._counts[word]

    def base_chunk(self, chunk: textfe.Chunk, seed: int, chunk_index: int) -> BaseChunk:
        sr = self.sample_rate
        gap = np.zeros(int(SENTENCE_PAUSE_S * sr), np.float32)
        out = BaseChunk(np.zeros(0, np.float32))
        parts: list[np.ndarray] = []
        k = 0
        for sentence in chunk.sentences:
            # espeak may split a sentence further; its pieces are joined and words aligned across them
            whole = BaseUtterance(np.zeros(0, np.float32), sr, [], [], np.zeros(0, np.int64))
            for phonemes in self.base.phonemize(sentence):
                if not phonemes:
                    continue
                utt = self.base.synth(phonemes, np.random.default_rng([seed, chunk_index, k]))
                k += 1
                if len(whole.audio):
                    whole.phones.append(Phone("sil", len(whole.audio), len(whole.audio) + len(gap)))
                    whole.audio = np.concatenate([whole.audio, gap])
                off, base_idx = len(whole.audio), len(whole.phones)
                whole.phones += [Phone(p.symbol, p.start + off, p.end + off) for p in utt.phones]
                whole.groups += [[i + base_idx for i in g] for g in utt.groups]
                whole.audio = np.concatenate([whole.audio, utt.audio])
            if not len(whole.audio):
                continue
            ws = textfe.words(sentence)
            pos = sum(len(a) for a in parts)
            if parts:
                parts.append(gap)
                out.phones.append(Phone("sil", pos, pos + len(gap)))
                pos += len(gap)
            _add(out, whole, pos, word_spans(whole, ws, [self._count(w) for w in ws]))
            parts.append(whole.audio)
        if not parts:
            raise StudioError("nothing speakable in the text after phonemisation: give English words")
        out.audio = np.concatenate(parts)
        _merge_sil(out.phones)
        return out

    def base_audio(self, text: str, seed: int = 0) -> tuple[np.ndarray, int]:
        """Plain piper output for ``text`` (chunks joined by sentence pauses), level-normalised."""
        sr = self.sample_rate
        chunks = [self._cached_base(c, seed, i) for i, c in enumerate(textfe.prepare(text))]
        gap = np.zeros(int(SENTENCE_PAUSE_S * sr), np.float32)
        pieces = []
        for i, c in enumerate(chunks):
            if i:
                pieces.append(gap)
            pieces.append(level.normalise(c.audio, sr))
        return np.concatenate(pieces), sr

    # ---- emotional rendering ----------------------------------------------------------------
    def render(self, request: SpeechRequest, plan: ProsodyPlan | PlanTrack, *, progress: bool = False) -> SpeechResult:
        """Speak ``request.text`` with ``plan`` (from ``studio.spine``: the affect's plan, or a hand-edited one)."""
        if not isinstance(request, SpeechRequest):
            raise StudioError(f"the speech engine renders a SpeechRequest, got {type(request).__name__}")
        res = self.speak(request.text, plan, seed=request.seed, progress=progress)
        res.request, res.affect = request, request.affect.to_dict()
        return res

    def speak(self, text: str, plan: ProsodyPlan | PlanTrack, *, seed: int = 0, progress: bool = False,
              vocode: bool = False) -> SpeechResult:
        """An identity plan returns the base voice untouched unless ``vocode`` asks for the WORLD round trip
        anyway (the benchmarks use it to separate the vocoder's own change from the plan's)."""
        sr = self.sample_rate
        if not isinstance(plan, (ProsodyPlan, PlanTrack)):
            raise StudioError(f"plan must be a ProsodyPlan or a speech PlanTrack, got {type(plan).__name__}")
        chunks_txt = textfe.prepare(text)
        bar = _bar(progress, 2 * len(chunks_txt))
        bases = []
        for i, c in enumerate(chunks_txt):
            bases.append(self._cached_base(c, seed, i))
            bar.update(1)
        gap_s = SENTENCE_PAUSE_S
        total_src = sum(len(b.audio) for b in bases) / sr + gap_s * (len(bases) - 1)
        track, key_plans = _track(plan, total_src)
        identity = track.is_identity() and not vocode
        analyses = [None] * len(bases) if identity else [
            self._cached_analysis(c, seed, i, b) for i, (c, b) in enumerate(zip(chunks_txt, bases))]

        audio_parts: list[np.ndarray] = []
        words: list[tuple[str, float, float]] = []
        phones: list[tuple[str, float, float]] = []
        src_map: list[np.ndarray] = []
        out_map: list[np.ndarray] = []
        src_off = out_off = 0.0
        f0_tracks: list[np.ndarray] = []
        for i, b in enumerate(bases):
            if i:
                here = track.at(np.array([src_off]))
                g = gap_s if identity else gap_s * math.exp(here["log_pause"][0] - here["log_rate"][0])
                audio_parts.append(np.zeros(int(round(g * sr)), np.float32))
                phones.append(("sil", out_off, out_off + len(audio_parts[-1]) / sr))
                src_map.append(np.array([src_off, src_off + gap_s]))
                out_map.append(np.array([out_off, out_off + g]))
                src_off += gap_s
                out_off += len(audio_parts[-1]) / sr
            if identity:
                y = level.normalise(b.audio, sr)
                t_src = np.array([0.0, len(b.audio) / sr])
                t_out = t_src.copy()
            else:
                r = prosody.render(analyses[i], sr, track, src_off, np.random.default_rng([seed, i, 7]))
                y = level.normalise(r.audio, sr, r.loudness_db_mean)
                f0_tracks.append(r.f0)
                t_src = np.append(r.src_frame_t, len(b.audio) / sr)
                t_out = np.append(r.out_frame_t, len(y) / sr)
            to_out = lambda s, ts=t_src, to=t_out, o=out_off: float(np.interp(s / sr, ts, to)) + o  # noqa: E731
            phones += [(p.symbol, to_out(p.start), to_out(p.end)) for p in b.phones]
            words += [(w, to_out(a), to_out(e)) for w, a, e in b.words]
            src_map.append(t_src + src_off)
            out_map.append(t_out + out_off)
            audio_parts.append(y)
            src_off += len(b.audio) / sr
            out_off += len(y) / sr
            bar.update(1)
        bar.close()
        audio = np.concatenate(audio_parts).astype(np.float32)
        s_all, o_all = np.concatenate(src_map), np.concatenate(out_map)
        plans = [(float(np.interp(t, s_all, o_all)), pl) for t, pl in key_plans]
        return SpeechResult(audio=audio, sample_rate=sr, words=words, phones=phones, plan=plan, plans=plans,
                            engine=self.name, seed=seed, text=" ".join(s for c in chunks_txt for s in c.sentences),
                            meta={"voice": dict(self.voice), **({"world_f0": np.concatenate(f0_tracks)} if f0_tracks else {})})


def _key(chunk: textfe.Chunk, seed: int, index: int) -> tuple:
    return tuple(chunk.sentences), int(seed), index


def _add(out: BaseChunk, utt: BaseUtterance, pos: int, spans) -> None:
    out.phones += [Phone(p.symbol, p.start + pos, p.end + pos) for p in utt.phones]
    out.words += [(w, a + pos, b + pos) for w, a, b in spans]


def _merge_sil(phones: list[Phone]) -> None:
    i = 1
    while i < len(phones):
        if phones[i].symbol == "sil" and phones[i - 1].symbol == "sil" and phones[i - 1].end >= phones[i].start:
            phones[i - 1].end = max(phones[i - 1].end, phones[i].end)
            del phones[i]
        else:
            i += 1


def _track(plan: ProsodyPlan | PlanTrack, total_s: float) -> tuple[prosody.PlanTrack, list[tuple[float, ProsodyPlan]]]:
    """Plan track over source time, and each keyframe's (source time, plan)."""
    if isinstance(plan, ProsodyPlan):
        return prosody.PlanTrack.from_plans([0.0], [plan]), [(0.0, plan)]
    n = int(min(MAX_TRACK_POINTS, max(2, math.ceil(total_s / TRACK_STEP_S) + 1)))
    times = np.linspace(0.0, total_s, n)
    plans = [plan.at(float(t), total_s) for t in times]
    keys = list(zip(plan.key_times(total_s), [p for _, p in plan.keys]))
    return prosody.PlanTrack.from_plans(list(times), plans), keys


class _LRU:
    """A least-recently-used map bounded by the bytes its values hold. Locked: one engine instance is
    shared by every thread of a process (the web demo's request handlers among them)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict = OrderedDict()
        self.bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key, value, nbytes: int) -> None:
        with self._lock:
            if key in self._items:
                self.bytes -= self._items.pop(key)[1]
            if nbytes > self.max_bytes:
                return
            self._items[key] = (value, nbytes)
            self.bytes += nbytes
            while self.bytes > self.max_bytes:
                self.bytes -= self._items.popitem(last=False)[1][1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)


def _bar(progress: bool, total: int):
    from studio.progress import open_bar

    return open_bar(progress, total, "speech", "step")



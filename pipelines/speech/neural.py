"""The neural speech engine: SpeechT5 whose speaker embedding is moved along emotion directions.

embedding = neutral + Σ wᵢ · intensity · dᵢ over the affect's mixture (EmoKnob's α · direction, with the
studio's affect algebra for negation and mixtures; see pipelines/speech/directions.py). Intensity 0 adds
nothing, so it is the backbone's plain output, bit for bit. A trajectory moves the embedding inside each
sentence: knots read from the track at estimated times, interpolated per decoder step; a hand-edited plan is realised through the
directions' measured prosody response. Word and character timings come from the decoder's cross-attention
(monotonic alignment, pipelines/speech/t5.py); SpeechT5 reads characters, so the "phones" are letters with
English digraphs merged (th → θ, sh → ʃ …): an approximation the talking head's viseme map reads correctly.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pipelines.speech import level, text as textfe
from pipelines.speech.directions import DEFAULT_FILE, Directions
from pipelines.speech.result import SpeechResult
from pipelines.speech.t5 import SpeechT5Voice, Utterance
from studio.affect import Affect, ProsodyPlan, Trajectory, prosody_plan
from studio.affect.tracks import PlanTrack
from studio.errors import StudioError

log = logging.getLogger(__name__)

SENTENCE_PAUSE_S = 0.25   # silence between sentences, scaled by the plan's pause_scale
CHARS_PER_S = 14.0        # speaking-rate guess that places sentences on a trajectory before they are spoken
TRACK_KNOTS = 5           # embeddings per sentence on a trajectory, interpolated per decoder step between them
DEFAULT_SPEAKER_SEED = 20240512
OPTIONS = {"threshold": float, "minlenratio": float, "maxlenratio": float}   # request.options this engine reads
_RESULT_FIELDS = {f.name for f in dataclasses.fields(SpeechResult)}


@dataclasses.dataclass
class _Job:
    req: int
    sentence: str
    embedding: np.ndarray
    seed: int
    options: tuple


class NeuralSpeechEngine:
    name = "neural"
    medium = "speech"

    def __init__(self, weights: str | None = None, vocoder: str | None = None, directions: str | None = None,
                 device: str | None = None, dtype: str | None = None, speaker: str | None = None,
                 attention: str = "auto", batch_size: int = 8, voice: str | None = None):
        speaker = speaker if speaker is not None else voice   # SpeechRequest.voice: the x-vector file
        if weights is None:
            raise StudioError("the neural speech engine needs --weights: a SpeechT5 folder or a cached repo id "
                              "(e.g. microsoft/speecht5_tts); `python -m pipelines.speech.tiny DIR` writes a tiny random one")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise StudioError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        self.voice = SpeechT5Voice(weights, vocoder=vocoder, device=device, dtype=dtype, attention=attention)
        self.sample_rate = self.voice.sample_rate
        self.batch_size = batch_size
        self.directions, self.directions_path = self._load_directions(directions)
        self.neutral, self.speaker_source = self._speaker(speaker)

    # ---- configuration ----------------------------------------------------------------------
    def _load_directions(self, directions: str | None) -> tuple[Directions | None, str | None]:
        if directions == "none":   # fitting: start from the bare voice
            return None, None
        if directions is None:
            default = self.voice.path / DEFAULT_FILE
            if not default.is_file():
                return None, None
            directions = str(default)
        d = Directions.load(directions)
        if d.dim != self.voice.embedding_dim:
            raise StudioError(f"{directions} holds {d.dim}-d directions; this model's speaker embedding is "
                              f"{self.voice.embedding_dim}-d: fit directions for this model")
        return d, str(directions)

    def _speaker(self, speaker: str | None) -> tuple[np.ndarray, str]:
        dim = self.voice.embedding_dim
        if speaker is not None:
            v = read_embedding(speaker, dim)
            if self.directions is not None and self.directions.neutral is not None and not np.allclose(v, self.directions.neutral):
                log.warning("the emotion directions in %s were fitted for another speaker embedding; they may move "
                            "this voice less predictably", self.directions_path)
            return v, str(speaker)
        if self.directions is not None and self.directions.neutral is not None:
            return np.asarray(self.directions.neutral, np.float32), f"{self.directions_path}#neutral"
        log.warning("no speaker embedding given (--speaker x-vector.safetensors|.npy): using the studio's fixed "
                    "synthetic one; SpeechT5 voices come from x-vectors such as the CMU ARCTIC ones")
        v = np.random.default_rng(DEFAULT_SPEAKER_SEED).standard_normal(dim)
        return (v / np.linalg.norm(v)).astype(np.float32), "synthetic"

    # ---- the embedding ----------------------------------------------------------------------
    def _need_directions(self) -> Directions:
        if self.directions is None:
            raise StudioError(f"no emotion directions for the voice in {self.voice.path}: fit them with `studio train "
                              f"speech-directions --weights {self.voice.path} --out {self.voice.path / DEFAULT_FILE}` "
                              "(or give --directions FILE); neutral speech works without them")
        return self.directions

    def affect_offset(self, affect: Affect) -> np.ndarray:
        if affect.intensity == 0 or affect.is_neutral:
            return np.zeros(self.voice.embedding_dim)
        return self._need_directions().offset(affect)

    def plan_offset(self, plan: ProsodyPlan) -> np.ndarray:
        if plan == ProsodyPlan():
            return np.zeros(self.voice.embedding_dim)
        return self._need_directions().offset_for_plan(plan)

    def _offsets(self, affect: Affect | Trajectory, plan: Any, sentences: list[str]
                 ) -> tuple[list[np.ndarray], list[ProsodyPlan], str]:
        """Per sentence: offset knots (K, D) spread evenly over it (K = 1 for a steady plan) and the plan at its
        middle; the source is "affect" or "plan"."""
        if isinstance(plan, PlanTrack):
            chars = np.cumsum([0] + [len(s) + 1 for s in sentences], dtype=np.float64)
            dur = chars[-1] / CHARS_PER_S
            offs, plans = [], []
            for a, b in zip(chars[:-1], chars[1:]):
                ts = (a + np.linspace(0.0, 1.0, TRACK_KNOTS) * (b - 1 - a)) / CHARS_PER_S
                plans.append(plan.at(0.5 * (ts[0] + ts[-1]), dur))
                offs.append(np.stack([self.affect_offset(plan.source.at(float(t), dur)) if plan.source is not None
                                      else self.plan_offset(plan.at(float(t), dur)) for t in ts]))
            return offs, plans, "affect" if plan.source is not None else "plan"
        if not isinstance(plan, ProsodyPlan):
            raise StudioError(f"the neural speech engine renders a ProsodyPlan or a PlanTrack, got {type(plan).__name__}")
        if isinstance(affect, Affect) and plan == prosody_plan(affect):
            off, src = self.affect_offset(affect), "affect"
        else:  # a hand-edited plan renders as written
            off, src = self.plan_offset(plan), "plan"
        return [off[None]] * len(sentences), [plan] * len(sentences), src

    def embedding(self, offset: np.ndarray) -> np.ndarray:
        """neutral + offset, for one offset (D,) or knots (K, D); all-zero offsets give the neutral vector itself."""
        if not np.any(offset):
            return self.neutral if offset.ndim == 1 else self.neutral[None]
        return (self.neutral.astype(np.float64) + offset).astype(np.float32)

    def expected_steps(self, sentence: str) -> float:
        """Decoder steps a sentence is expected to take (CHARS_PER_S), over which its knots are spread."""
        step_s = self.voice.reduction * self.voice.hop / self.sample_rate
        return len(sentence) / CHARS_PER_S / step_s

    # ---- rendering --------------------------------------------------------------------------
    def render(self, request, plan, *, progress: bool = False) -> SpeechResult:
        return self.render_batch([request], [plan], progress=progress)[0]

    def render_batch(self, requests: Sequence[Any], plans: Sequence[Any], *, progress: bool = False) -> list[SpeechResult]:
        """All sentences of all requests decoded together, ``batch_size`` at a time (similar lengths batched)."""
        if len(requests) != len(plans):
            raise StudioError(f"give one plan per request ({len(requests)}), got {len(plans)}")
        t0 = time.perf_counter()
        jobs: list[_Job] = []
        per_req = []
        for i, (req, plan) in enumerate(zip(requests, plans)):
            opts = _options(getattr(req, "options", {}) or {})
            sentences = [s for c in textfe.prepare(req.text) for s in c.sentences]
            offs, sent_plans, src = self._offsets(req.affect, plan, sentences)
            first = len(jobs)
            for k, (s, off) in enumerate(zip(sentences, offs)):
                jobs.append(_Job(i, s, self.embedding(off), _sentence_seed(req.seed, k), opts))
            per_req.append((first, sentences, offs, sent_plans, src))
        utts = self._synthesize(jobs, progress)
        t1 = time.perf_counter()
        out = []
        for i, (req, plan) in enumerate(zip(requests, plans)):
            first, sentences, offs, sent_plans, src = per_req[i]
            res = self._assemble(req, plan, sentences, utts[first:first + len(sentences)], offs, sent_plans, src)
            res.timings.update({"synth_s": (t1 - t0) / len(requests)})
            out.append(res)
        return out

    def speak_embeddings(self, texts: Sequence[str], embeddings: Sequence[np.ndarray], seed: int = 0,
                         options: dict | None = None) -> list[np.ndarray]:
        """Plain audio for each (text, embedding) pair (the direction trainer's renderer)."""
        jobs, spans, opts = [], [], _options(dict(options or {}))
        for i, (t, e) in enumerate(zip(texts, embeddings)):
            sents = [s for c in textfe.prepare(t) for s in c.sentences]
            spans.append((len(jobs), len(sents)))
            jobs += [_Job(i, s, np.asarray(e, np.float32), _sentence_seed(seed, k), opts) for k, s in enumerate(sents)]
        utts = self._synthesize(jobs, False)
        gap = np.zeros(int(SENTENCE_PAUSE_S * self.sample_rate), np.float32)
        res = []
        for a, n in spans:
            parts = []
            for k, u in enumerate(utts[a:a + n]):
                parts += [gap, u.audio] if k else [u.audio]
            res.append(np.concatenate(parts))
        return res

    def _synthesize(self, jobs: list[_Job], progress: bool) -> list[Utterance]:
        order = sorted(range(len(jobs)), key=lambda j: (jobs[j].options, len(jobs[j].sentence)))
        groups: list[list[int]] = []
        for j in order:
            if groups and len(groups[-1]) < self.batch_size and jobs[groups[-1][0]].options == jobs[j].options:
                groups[-1].append(j)
            else:
                groups.append([j])
        bar = _bar(progress, len(groups))
        out: list[Utterance | None] = [None] * len(jobs)
        for g in groups:
            utts = self.voice.synthesize([jobs[j].sentence for j in g], [jobs[j].embedding for j in g],
                                         [jobs[j].seed for j in g], **dict(jobs[g[0]].options),
                                         expected_steps=[self.expected_steps(jobs[j].sentence) for j in g])
            for j, u in zip(g, utts):
                out[j] = u
            bar.update(1)
        bar.close()
        return out  # type: ignore[return-value]

    def _assemble(self, req, plan, sentences, utts: list[Utterance], offs, sent_plans, src) -> SpeechResult:
        sr = self.sample_rate
        parts: list[np.ndarray] = []
        words: list[tuple[str, float, float]] = []
        phones: list[tuple[str, float, float]] = []
        pos = 0
        sentence_meta = []
        for k, (u, off, p) in enumerate(zip(utts, offs, sent_plans)):
            if k:
                gap = np.zeros(int(round(SENTENCE_PAUSE_S * p.pause_scale * sr)), np.float32)
                _add_sil(phones, pos / sr, (pos + len(gap)) / sr)
                parts.append(gap)
                pos += len(gap)
            w, ph = piece_timings(u.pieces, u.token_spans)
            words += [(x, (a + pos) / sr, (b + pos) / sr) for x, a, b in w]
            for x, a, b in ph:
                (_add_sil(phones, (a + pos) / sr, (b + pos) / sr) if x == "sil"
                 else phones.append((x, (a + pos) / sr, (b + pos) / sr)))
            sentence_meta.append({"start_s": pos / sr, "end_s": (pos + len(u.audio)) / sr, "stopped": u.stopped,
                                  "steps": u.steps, "offset_norm": float(np.linalg.norm(off[len(off) // 2]))})
            parts.append(u.audio)
            pos += len(u.audio)
        audio = level.limit(np.concatenate(parts).astype(np.float64), sr)
        dur = len(audio) / sr
        if isinstance(plan, PlanTrack):
            key_plans = [(t, p) for t, (_, p) in zip(plan.key_times(dur), plan.keys)]
        else:
            key_plans = [(0.0, plan)]
        meta = {"embedding_offset": [float(x) for x in offs[0][0]], "embedding_source": src,
                "sentence_offsets": [[float(x) for x in o[len(o) // 2]] for o in offs], "sentences": sentence_meta,
                "speaker": self.speaker_source, "directions": self.directions_path, "model": str(self.voice.path),
                "device": self.voice.device, "dtype": str(self.voice.dtype).replace("torch.", ""),
                "attention": self.voice.attention, "phones": "letters with digraphs merged (SpeechT5 reads characters, not phonemes)"}
        kw = dict(audio=audio, sample_rate=sr, words=words, phones=phones, plan=plan, plans=key_plans,
                  affect=req.affect.to_dict(), engine=self.name, text=" ".join(sentences), meta=meta,
                  request=req, seed=req.seed, timings={})
        if isinstance(plan, PlanTrack):  # the knots each sentence's embedding moved through
            meta["offset_knots"] = [[[float(x) for x in k] for k in o] for o in offs]
        res = SpeechResult(**{k: v for k, v in kw.items() if k in _RESULT_FIELDS})
        for k in ("request", "seed", "timings"):  # until SpeechResult subclasses studio.results.Result
            if k not in _RESULT_FIELDS:
                setattr(res, k, kw[k])
        return res


def read_embedding(path: str | Path, dim: int) -> np.ndarray:
    """A speaker embedding from .safetensors (one tensor, or 'speaker_embedding' / 'neutral') or .npy."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise StudioError(f"speaker embedding {p} does not exist; give a .safetensors or .npy file with a {dim}-d x-vector")
    try:
        if p.suffix.lower() == ".npy":
            v = np.load(p, allow_pickle=False)
        else:
            from safetensors.numpy import load_file

            t = load_file(str(p))
            key = next((k for k in ("speaker_embedding", "neutral") if k in t), None)
            if key is None and len(t) != 1:
                raise StudioError(f"{p} holds {len(t)} tensors; name the speaker embedding 'speaker_embedding'")
            v = t[key] if key else next(iter(t.values()))
    except StudioError:
        raise
    except Exception as e:  # noqa: BLE001  (numpy and safetensors raise several types for a bad file)
        raise StudioError(f"cannot read speaker embedding {p} ({str(e)[:120]}); give a .safetensors or .npy file") from None
    v = np.asarray(v, np.float32).reshape(-1)
    if v.shape[0] != dim or not np.all(np.isfinite(v)):
        raise StudioError(f"speaker embedding {p} has {v.shape[0]} values (finite: {bool(np.all(np.isfinite(v)))}); "
                          f"this model takes {dim} finite values")
    return v


def piece_timings(pieces: list[str], spans: list[tuple[int, int]]) -> tuple[list, list]:
    """Words and letter-phones with [start, end) samples from the tokenizer's pieces ('▁' starts a word)."""
    words: list[tuple[str, int, int]] = []
    chars: list[tuple[str, int, int]] = []
    cur: list | None = None

    def close() -> None:
        nonlocal cur
        if cur is not None:
            w = cur[0].strip("'-")
            if any(c.isalnum() for c in w):
                words.append((w, cur[1], cur[2]))
            cur = None

    for piece, (a, b) in zip(pieces, spans):
        if piece.startswith("▁"):
            close()
        ch = piece.replace("▁", "")
        if ch and (any(c.isalnum() for c in ch) or (cur is not None and ch in ("'", "-"))):
            if cur is None:
                cur = [ch, a, b]
            else:
                cur[0] += ch
                cur[2] = max(cur[2], b)
            chars.append((ch.lower(), a, b))
        else:
            if ch:
                close()
            if b > a:
                chars.append(("sil", a, b))
    close()
    return words, letter_phones(chars)


# English spellings of one sound, so character "phones" map to the right viseme (the talking head's use)
DIGRAPHS = {"th": "θ", "sh": "ʃ", "ch": "tʃ", "ph": "f", "ng": "ŋ", "ck": "k", "wh": "w", "qu": "kw"}
LETTERS = {"c": "k", "q": "k", "x": "ks", "'": ""}


def letter_phones(chars: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Characters → approximate phones: digraphs merged (th → θ …), a few letters respelt; 'sil' kept."""
    out: list[tuple[str, int, int]] = []
    i = 0
    while i < len(chars):
        c, a, b = chars[i]
        if i + 1 < len(chars) and (c + chars[i + 1][0]) in DIGRAPHS:
            out.append((DIGRAPHS[c + chars[i + 1][0]], a, chars[i + 1][2]))
            i += 2
            continue
        c = LETTERS.get(c, c)
        if c:
            out.append((c, a, b))
        i += 1
    return out


def _add_sil(phones: list, a: float, b: float) -> None:
    if b <= a:
        return
    if phones and phones[-1][0] == "sil" and phones[-1][2] >= a:
        phones[-1] = ("sil", phones[-1][1], max(b, phones[-1][2]))
    else:
        phones.append(("sil", a, b))


def _options(options: dict) -> tuple:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise StudioError(f"the neural speech engine has no option {', '.join(unknown)}; it reads {', '.join(sorted(OPTIONS))}")
    out = []
    for k in sorted(options):
        try:
            v = OPTIONS[k](options[k])
        except (TypeError, ValueError):
            raise StudioError(f"option {k} must be a number, got {options[k]!r}") from None
        if not np.isfinite(v) or v < 0 or (k == "maxlenratio" and v <= 0):
            raise StudioError(f"option {k} must be a finite number >= 0 (maxlenratio > 0), got {v}")
        out.append((k, v))
    return tuple(out)


def _sentence_seed(seed: int, k: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(k)]).generate_state(1, np.uint64)[0] & np.uint64(2**63 - 1))


def _bar(progress: bool, total: int):
    from studio.progress import open_bar

    return open_bar(progress, total, "neural speech", "batch")

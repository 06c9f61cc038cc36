"""The base voice: the registry's piper VITS model, run through onnxruntime with two changes.

Piper's graph draws its VITS noise with ``RandomNormalLike`` nodes, which onnxruntime seeds from
the clock, so two calls never match. We replace both nodes by slices of noise tensors we feed
from the item's seed, and expose the duration predictor's ``Ceil`` output (frames per phoneme
id), which gives exact phone timings: the decoder emits ``hop_length`` samples per frame.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.errors import StudioError

VOICE = "piper-joe-medium"  # the embedded default voice (registry name)
Z_CHANNELS = 192  # VITS latent channels (the decoder's input width)
STRESS = {"ˈ", "ˌ"}
LENGTH = {"ː", "ˑ"}
PUNCT = set(",.;:!?¡¿—…\"()-'")


@dataclass
class Phone:
    symbol: str
    start: int  # sample index
    end: int


@dataclass
class BaseUtterance:
    """One sentence from the base voice, before any prosody change."""
    audio: np.ndarray          # float32, raw model output
    sample_rate: int
    phones: list[Phone]        # real phones and "sil" (BOS/EOS/punctuation); spaces are gaps
    groups: list[list[int]]    # indices into ``phones`` of each space-separated phoneme group
    frames_per_id: np.ndarray  # duration predictor output, frames per phoneme id


@dataclass(frozen=True)
class VoiceSource:
    """Where a base voice comes from, as a manifest records it."""
    name: str            # registry model name, or the .onnx file's stem for a path
    onnx: Path
    config: Path
    registry: bool       # True: pulled and verified through weights/registry.toml
    sha256: str          # of the .onnx file

    def to_dict(self) -> dict:
        return {"name": self.name, "source": "registry" if self.registry else "path",
                "path": str(self.onnx), "sha256": self.sha256}


def resolve_voice(voice: str | Path | None) -> VoiceSource:
    """``voice``: None (the embedded joe voice), a registry model name, or a path to a piper ``.onnx``
    with its ``.onnx.json`` beside it (a folder holding exactly one such pair also works)."""
    from studio import weights

    if voice is None:
        voice = VOICE
    if not isinstance(voice, (str, Path)) or not str(voice).strip():
        raise StudioError(f"voice must be a registry voice name or a path to a piper .onnx file, got {voice!r}")
    text = str(voice)
    looks_like_path = isinstance(voice, Path) or text.endswith(".onnx") or "/" in text or "\\" in text or Path(text).exists()
    if not looks_like_path:
        m = weights.model(text)  # an unknown name raises with the closest names
        onnx = next((f.path for f in m.files if f.path.endswith(".onnx")), None)
        cfg = next((f.path for f in m.files if f.path.endswith(".onnx.json")), None)
        if m.medium != "speech" or onnx is None or cfg is None:
            raise StudioError(f"registry model {text!r} is not a piper voice (no .onnx and .onnx.json files); "
                              f"voices: {', '.join(_registry_voices())}")
        on = weights.path(text, onnx)
        return VoiceSource(text, on, weights.path(text, cfg), True, weights.expected_sha(text, next(f for f in m.files if f.path == onnx)) or "")
    p = Path(text).expanduser()
    if p.is_dir():
        found = sorted(p.glob("*.onnx"))
        if len(found) != 1:
            raise StudioError(f"voice folder {p} holds {len(found)} .onnx files; give the path of one piper .onnx file")
        p = found[0]
    if p.suffix != ".onnx":
        raise StudioError(f"voice {text!r} is neither a registry voice ({', '.join(_registry_voices())}) nor a piper .onnx file")
    if not p.is_file():
        raise StudioError(f"voice file {p} does not exist; give a piper .onnx (with its .onnx.json beside it) or a registry voice name")
    cfg = p.with_name(p.name + ".json")
    if not cfg.is_file():
        raise StudioError(f"voice {p} has no config {cfg.name} beside it; piper voices come as .onnx + .onnx.json")
    return VoiceSource(p.stem, p.resolve(), cfg.resolve(), False, weights.sha256_of(p))


def _registry_voices() -> list[str]:
    from studio import weights

    return [m.name for m in weights.models().values() if m.medium == "speech" and any(f.path.endswith(".onnx") for f in m.files)]


def _patch(model_path: str) -> tuple[bytes, str]:
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(model_path)
    g = m.graph
    ceil = [n for n in g.node if n.op_type == "Ceil"]
    rand = [n for n in g.node if n.op_type == "RandomNormalLike"]
    if len(ceil) != 1 or len(rand) != 2:
        raise StudioError(f"{model_path} is not a piper VITS voice this engine understands (expected 1 Ceil, 2 RandomNormalLike)")
    g.initializer.append(numpy_helper.from_array(np.zeros(3, np.int64), "studio_zero3"))
    for i, node in enumerate(rand):
        name = "noise_dp" if node.name.startswith("/dp/") else "noise_z"
        g.input.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [1, None, None]))
        shape = f"studio_shape_{i}"
        idx = list(g.node).index(node)
        out = node.output[0]
        g.node.remove(node)
        g.node.insert(idx, helper.make_node("Slice", [name, "studio_zero3", shape], [out], name=f"studio_slice_{i}"))
        g.node.insert(idx, helper.make_node("Shape", [node.input[0]], [shape], name=f"studio_shape_{i}"))
    g.output.append(onnx.ValueInfoProto(name=ceil[0].output[0]))
    return m.SerializeToString(), ceil[0].output[0]


class PiperBase:
    """Loads the voice once; ``synth(phonemes, rng)`` is deterministic given the generator.
    ``voice``: see ``resolve_voice``; ``speaker``: the speaker id of a multi-speaker voice (default 0)."""

    def __init__(self, noise_scale: float | None = None, noise_w_scale: float | None = None, length_scale: float | None = None,
                 voice: str | Path | None = None, speaker: int | None = None):
        import onnxruntime as ort
        from piper import PiperVoice

        self.source = resolve_voice(voice)
        onnx_path, cfg_path = self.source.onnx, self.source.config
        # PiperVoice gives us its phonemizer and id map; its own session is not used for synthesis
        try:
            self.voice = PiperVoice.load(onnx_path, cfg_path)
        except (ValueError, KeyError, TypeError) as e:
            raise StudioError(f"{cfg_path} is not a piper voice config ({type(e).__name__}: {e})") from None
        cfg = self.voice.config
        n_spk = int(getattr(cfg, "num_speakers", 1) or 1)
        if speaker is not None and not (isinstance(speaker, int) and 0 <= speaker < n_spk):
            raise StudioError(f"speaker must be an integer in 0..{n_spk - 1} for voice {self.source.name} ({n_spk} speaker(s)), got {speaker!r}")
        self.speaker = (speaker or 0) if n_spk > 1 else None
        self.sample_rate = int(cfg.sample_rate)
        self.hop = int(cfg.hop_length)
        self.scales = np.array([cfg.noise_scale if noise_scale is None else noise_scale,
                                cfg.length_scale if length_scale is None else length_scale,
                                cfg.noise_w_scale if noise_w_scale is None else noise_w_scale], np.float32)
        model, _ = _patch(str(onnx_path))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 0
        self.session = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
        self._sid = "sid" in {i.name for i in self.session.get_inputs()}
        self._lock = threading.Lock()

    def phonemize(self, text: str) -> list[list[str]]:
        return self.voice.phonemize(text)

    def word_phone_count(self, word: str) -> int:
        return sum(1 for s in (p for sent in self.phonemize(word) for p in sent) if _is_phone(s))

    def synth(self, phonemes: list[str], rng: np.random.Generator) -> BaseUtterance:
        ids = self.voice.phonemes_to_ids(phonemes)
        n = len(ids)
        dp = rng.standard_normal((n, 2), dtype=np.float32).T[None].copy()
        m = max(1024, 64 * n)
        z_rng_state = rng.bit_generator.state  # a retry with a longer draw repeats the same prefix
        while True:
            # drawn as (frames, channels) so a longer draw keeps the same prefix
            z = rng.standard_normal((m, Z_CHANNELS), dtype=np.float32).T[None].copy()
            feeds = {"input": np.array([ids], np.int64), "input_lengths": np.array([n], np.int64),
                     "scales": self.scales, "noise_dp": dp, "noise_z": z}
            if self._sid:
                feeds["sid"] = np.array([self.speaker or 0], np.int64)
            with self._lock:
                audio, w = self.session.run(None, feeds)
            frames = w.reshape(-1)
            if frames.sum() <= m:
                break
            rng.bit_generator.state = z_rng_state
            m = int(frames.sum()) + 64
        audio = audio.reshape(-1).astype(np.float32)
        return _align(audio, self.sample_rate, phonemes, ids, frames.astype(np.int64), self.hop, self.voice.config.phoneme_id_map)


def _is_phone(s: str) -> bool:
    return s not in STRESS and s not in LENGTH and s != " " and s not in PUNCT


def _align(audio: np.ndarray, sr: int, phonemes: list[str], ids: list[int], frames: np.ndarray, hop: int,
           id_map) -> BaseUtterance:
    """Walk the id sequence the way piper builds it (BOS, each phoneme's ids + PAD, EOS)."""
    from piper.const import BOS, EOS, PAD

    pad = list(id_map.get(PAD, []))
    bounds: list[tuple[str, int, int]] = []
    k = 0
    pos = 0
    for sym in [BOS, *phonemes, EOS]:
        want = list(id_map.get(sym, [])) + (pad if sym != EOS else [])
        if ids[k:k + len(want)] != want:
            raise StudioError(f"phoneme alignment failed at {sym!r}; the voice's id map does not match its phonemes")
        dur = int(frames[k:k + len(want)].sum()) * hop
        bounds.append((sym, pos, pos + dur))
        pos += dur
        k += len(want)
    n = min(len(audio), pos)
    audio = audio[:n]
    phones: list[Phone] = []
    groups: list[list[int]] = [[]]
    pend_start: int | None = None  # a stress mark's span is given to the phone it marks
    for sym, a, b in bounds:
        a, b = min(a, n), min(b, n)
        if sym in (BOS, EOS) or sym in PUNCT:
            _push_sil(phones, a, b)
            if groups[-1]:
                groups.append([])
        elif sym == " ":
            if groups[-1]:
                groups.append([])
            # the space's few frames belong to the gap between words
        elif sym in STRESS:
            pend_start = a if pend_start is None else pend_start
        elif sym in LENGTH and phones and phones[-1].symbol != "sil":
            phones[-1].symbol += sym
            phones[-1].end = b
        else:
            phones.append(Phone(sym, a if pend_start is None else pend_start, b))
            pend_start = None
            groups[-1].append(len(phones) - 1)
    groups = [g for g in groups if g]
    return BaseUtterance(audio, sr, phones, groups, frames)


def _push_sil(phones: list[Phone], a: int, b: int) -> None:
    if b <= a:
        return
    if phones and phones[-1].symbol == "sil" and phones[-1].end == a:
        phones[-1].end = b
    else:
        phones.append(Phone("sil", a, b))

"""SpeechT5 text-to-speech with a movable speaker embedding: loading, batched decoding, alignment.

Loads the published layouts (``microsoft/speecht5_tts``: config.json, model.safetensors, spm_char.model
and tokenizer files; ``microsoft/speecht5_hifigan``: config.json, model.safetensors) from a folder or the
local Hugging Face cache, ``local_files_only`` and safetensors only. The decoding loop is our own rather
than ``generate_speech`` because the engine needs three things that one does not give:
- a seed per utterance: SpeechT5's decoder prenet applies dropout at inference (Shen et al. 2018, §2.2),
  and ``generate_speech`` draws one mask from the global RNG for the whole batch; here each utterance draws
  its masks from its own CPU generator, so the output depends on its seed only, on any device;
- per-utterance stop handling, postnet and vocoder in a batch (nothing bleeds across padded items);
- the decoder's cross-attention at every step, from which word and character timings are aligned.
"""
from __future__ import annotations

import json
import logging
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.image.loading import pick_device, pick_dtype, resolve_folder
from studio.errors import StudioError

log = logging.getLogger(__name__)

TTS_LAYOUT = "a SpeechT5 text-to-speech folder (config.json, model.safetensors, spm_char.model), e.g. microsoft/speecht5_tts"
VOCODER_LAYOUT = "a SpeechT5 HiFi-GAN folder (config.json, model.safetensors), e.g. microsoft/speecht5_hifigan"
DEFAULT_VOCODER_REPO = "microsoft/speecht5_hifigan"
VOCODER_SUBFOLDER = "vocoder"   # where `python -m pipelines.speech.tiny` puts it, and where a user may too


def _read_config(p: Path, what: str, layout: str) -> dict:
    f = p / "config.json"
    if not f.is_file():
        raise StudioError(f"{p} is not {what} (no config.json); give {layout}")
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StudioError(f"{f} is not valid JSON; download the model again") from None


def _check_safetensors(p: Path, what: str) -> None:
    if not (p / "model.safetensors").is_file() and not (p / "model.safetensors.index.json").is_file():
        bins = [x.name for x in p.glob("*.bin")]
        hint = (f" (it has {', '.join(bins)}: the studio never unpickles; fetch the repo's model.safetensors, "
                "which microsoft/speecht5_tts and speecht5_hifigan publish)") if bins else ""
        raise StudioError(f"{p} has no model.safetensors for the {what}{hint}")


def check_tts_folder(p: Path) -> dict:
    cfg = _read_config(p, "a SpeechT5 model", TTS_LAYOUT)
    if cfg.get("model_type") != "speecht5" or "SpeechT5ForTextToSpeech" not in cfg.get("architectures", []):
        kind = cfg.get("model_type") or "unknown"
        arch = ",".join(cfg.get("architectures", [])) or "no architecture"
        raise StudioError(f"{p} holds a {kind} model ({arch}), not SpeechT5ForTextToSpeech; the neural speech engine "
                          f"needs {TTS_LAYOUT}")
    _check_safetensors(p, "text-to-speech model")
    if not (p / "spm_char.model").is_file():
        raise StudioError(f"{p} has no spm_char.model (the SpeechT5 tokenizer); the download is incomplete, fetch it again")
    return cfg


def check_vocoder_folder(p: Path) -> dict:
    cfg = _read_config(p, "a vocoder", VOCODER_LAYOUT)
    if cfg.get("model_type") not in ("hifigan", "speecht5_hifigan") and "SpeechT5HifiGan" not in cfg.get("architectures", []):
        raise StudioError(f"{p} holds a {cfg.get('model_type') or 'unknown'} model, not a SpeechT5 HiFi-GAN vocoder; "
                          f"give --vocoder {VOCODER_LAYOUT}")
    _check_safetensors(p, "vocoder")
    return cfg


def find_vocoder(tts: Path, weights: str, vocoder: str | None) -> Path:
    """An explicit folder/repo id; else ``<weights>/vocoder``; else microsoft/speecht5_hifigan from the cache."""
    if vocoder:
        return resolve_folder(vocoder, engine="neural speech", layout=VOCODER_LAYOUT)
    if (tts / VOCODER_SUBFOLDER / "config.json").is_file():
        return tts / VOCODER_SUBFOLDER
    from studio.weights import hf_cached_snapshot

    snap = hf_cached_snapshot(DEFAULT_VOCODER_REPO)
    if snap is not None:
        return snap
    raise StudioError(f"no vocoder for {weights}: give --vocoder {VOCODER_LAYOUT} (or put one in {tts / VOCODER_SUBFOLDER})")


@dataclass
class Utterance:
    audio: np.ndarray                 # float32 mono at the vocoder's rate
    pieces: list[str]                 # tokenizer pieces of the input (without the end token)
    token_spans: list[tuple[int, int]]  # per piece: [start, end) output samples from the monotonic alignment
    steps: int                        # decoder steps taken
    stopped: bool                     # the model predicted its stop token (False: ran to the length cap)
    attention: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0), np.float32))


class SpeechT5Voice:
    """The loaded model, tokenizer and vocoder, and ``synthesize`` for a batch of (text, embedding, seed)."""

    def __init__(self, weights: str, vocoder: str | None = None, device: str | None = None, dtype: str | None = None,
                 attention: str = "auto"):
        import torch
        from transformers import SpeechT5ForTextToSpeech, SpeechT5HifiGan

        self.path = resolve_folder(weights, engine="neural speech", layout=TTS_LAYOUT)
        self.config = check_tts_folder(self.path)
        self.vocoder_path = find_vocoder(self.path, weights, vocoder)
        self.vocoder_config = check_vocoder_folder(self.vocoder_path)
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self.tokenizer = _load_tokenizer(self.path)
        try:
            self.model = SpeechT5ForTextToSpeech.from_pretrained(self.path, local_files_only=True, use_safetensors=True,
                                                                 dtype=self.dtype).eval()
            self.vocoder = SpeechT5HifiGan.from_pretrained(self.vocoder_path, local_files_only=True, use_safetensors=True,
                                                           dtype=self.dtype).eval()
        except (OSError, ValueError, RuntimeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StudioError(f"cannot load SpeechT5 from {self.path} / {self.vocoder_path}: {first[:300]}") from None
        if self.device != "cpu":
            self.model.to(self.device)
            self.vocoder.to(self.device)
        cfg = self.model.config
        if self.vocoder.config.model_in_dim != cfg.num_mel_bins:
            raise StudioError(f"the vocoder in {self.vocoder_path} takes {self.vocoder.config.model_in_dim} mel bins but the "
                              f"model makes {cfg.num_mel_bins}; give the vocoder that belongs to this model")
        self.embedding_dim = int(cfg.speaker_embedding_dim)
        self.sample_rate = int(self.vocoder.config.sampling_rate)
        self.hop = int(np.prod(self.vocoder.config.upsample_rates))
        self.reduction = int(cfg.reduction_factor)
        self.attention = _use_sdpa(self.model, self.device, attention)
        self._torch = torch

    # ---- text ---------------------------------------------------------------------------
    def pieces(self, text: str) -> tuple[list[int], list[str]]:
        ids = self.tokenizer(text)["input_ids"]
        if len(ids) > self.model.config.max_text_positions:
            raise StudioError(f"a sentence of {len(ids)} tokens is longer than SpeechT5's {self.model.config.max_text_positions}; "
                              "split the text into shorter sentences")
        toks = self.tokenizer.convert_ids_to_tokens(ids)
        eos = self.tokenizer.eos_token
        return ids, [t for t in toks if t != eos]

    # ---- decoding -----------------------------------------------------------------------
    def synthesize(self, texts: list[str], embeddings, seeds: list[int], *, threshold: float = 0.5,
                   minlenratio: float = 0.0, maxlenratio: float = 20.0, expected_steps: list[float] | None = None
                   ) -> list[Utterance]:
        """One utterance per text; each item's decoder dropout from its own seed. ``embeddings``: (N, D), or per
        item (K, D) knots spread evenly over ``expected_steps[i]`` decoder steps and interpolated per step
        (a trajectory inside a sentence; past the expected end the last knot holds).
        ``threshold`` / ``minlenratio`` / ``maxlenratio`` are generate_speech's stop rule and length bounds."""
        torch = self._torch
        n = len(texts)
        knots = [np.asarray(e, np.float32).reshape(-1, np.shape(e)[-1]) for e in embeddings]
        if len(knots) != n or any(k.shape[1] != self.embedding_dim for k in knots):
            raise StudioError(f"give one speaker embedding of {self.embedding_dim} values per text")
        emb = np.stack([k[0] for k in knots])
        moving = [i for i, k in enumerate(knots) if len(k) > 1]
        if moving and (expected_steps is None or len(expected_steps) != n):
            raise StudioError("embeddings that move within a sentence need expected_steps per text")
        model, cfg, dev = self.model, self.model.config, self.device
        enc_ids = [self.pieces(t)[0] for t in texts]
        src = max(len(x) for x in enc_ids)
        ids = torch.full((n, src), cfg.pad_token_id, dtype=torch.long)
        mask = torch.zeros((n, src), dtype=torch.long)
        for i, x in enumerate(enc_ids):
            ids[i, :len(x)] = torch.tensor(x)
            mask[i, :len(x)] = 1
        lens = [len(x) for x in enc_ids]
        cap = int(model.speecht5.decoder.prenet.encode_positions.pe.shape[1])  # max_speech_positions
        maxlen = [min(cap, max(1, int(s * maxlenratio / self.reduction))) for s in lens]
        minlen = [int(s * minlenratio / self.reduction) for s in lens]
        gens = [torch.Generator().manual_seed(int(s) & (2**63 - 1)) for s in seeds]
        pre = model.speecht5.decoder.prenet
        p_keep = float(cfg.speech_decoder_prenet_dropout)
        with torch.inference_mode():
            ids, mask = ids.to(dev), mask.to(dev)
            enc = model.speecht5.encoder(input_values=ids, attention_mask=mask, return_dict=True).last_hidden_state
            spk = torch.nn.functional.normalize(torch.from_numpy(emb).to(dev, self.dtype))
            frame = enc.new_zeros(n, 1, cfg.num_mel_bins)
            cache, frames, atts = None, [], []
            stop_at: list[int | None] = [None] * n
            for step in range(max(maxlen)):
                h = frame
                for layer in pre.layers:
                    h = torch.relu(layer(h))
                    # the prenet's always-on dropout (keep probability p, as SpeechT5 draws it), one mask per item
                    keep = torch.stack([torch.rand(h.shape[-1], generator=g) < p_keep for g in gens]).to(dev)
                    h = torch.where(keep[:, None, :], h, 0) / (1 - p_keep)
                h = pre.final_layer(h) + pre.encode_positions.alpha * pre.encode_positions.pe[:, step:step + 1].to(h.dtype)
                if moving:
                    spk = spk.clone()
                    for i in moving:
                        spk[i] = torch.nn.functional.normalize(torch.from_numpy(
                            _interp_knots(knots[i], step / max(1.0, float(expected_steps[i])))).to(dev, self.dtype), dim=0)
                h = torch.relu(pre.speaker_embeds_layer(torch.cat([h, spk[:, None, :]], dim=-1)))
                out = model.speecht5.decoder.wrapped_decoder(hidden_states=h, attention_mask=None, encoder_hidden_states=enc,
                                                             encoder_attention_mask=mask, cache=cache, use_cache=True,
                                                             output_attentions=True, return_dict=True)
                cache = out.cache
                atts.append(torch.stack([a[:, :, 0, :] for a in out.cross_attentions if a is not None]).float().mean((0, 2)).cpu())
                last = out.last_hidden_state[:, 0]
                spec = model.speech_decoder_postnet.feat_out(last).view(n, self.reduction, cfg.num_mel_bins)
                frames.append(spec)
                frame = spec[:, -1:, :]
                prob = torch.sigmoid(model.speech_decoder_postnet.prob_out(last)).sum(-1)
                for i in range(n):
                    if stop_at[i] is None and step + 1 >= minlen[i] and (prob[i] >= threshold or step + 1 >= maxlen[i]):
                        stop_at[i] = step + 1
                if all(s is not None for s in stop_at):
                    break
            mel = torch.cat(frames, dim=1)
            att = torch.stack(atts, dim=1).numpy()   # (n, steps, src)
            result = []
            for i in range(n):
                k = int(stop_at[i] or len(frames))
                m = model.speech_decoder_postnet.postnet(mel[i:i + 1, :k * self.reduction])
                wav = self.vocoder(m[0]).float().cpu().numpy().reshape(-1)
                a = att[i, :k, :lens[i]]
                spans = token_spans(a, k, self.reduction * self.hop, len(wav))
                _, pieces = self.pieces(texts[i])
                result.append(Utterance(wav.astype(np.float32), pieces, spans[:len(pieces)], k,
                                        stopped=k < maxlen[i], attention=a.astype(np.float32)))
        return result


def _interp_knots(knots: np.ndarray, frac: float) -> np.ndarray:
    """The embedding at ``frac`` (0..1, clamped) of a sentence whose knots are spread evenly over it."""
    x = min(1.0, max(0.0, frac)) * (len(knots) - 1)
    i = min(int(x), len(knots) - 2)
    w = x - i
    return ((1 - w) * knots[i].astype(np.float64) + w * knots[i + 1].astype(np.float64)).astype(np.float32)


def _load_tokenizer(path: Path):
    try:
        from transformers import SpeechT5Tokenizer

        return SpeechT5Tokenizer.from_pretrained(str(path), local_files_only=True)
    except ImportError as e:
        raise StudioError(f"the SpeechT5 tokenizer needs sentencepiece ({e}); pip install 'affect-studio[cpu]'") from None
    except (OSError, ValueError) as e:
        raise StudioError(f"cannot read the SpeechT5 tokenizer in {path}: {str(e).splitlines()[0][:200]}") from None


def monotonic_path(att: np.ndarray) -> np.ndarray:
    """The token index at each decoder step: the path through ``att`` (steps, tokens) that starts on the first
    token, ends on the last, moves forward by 0 or 1 token per step, and maximises the summed log attention
    (a DTW-style dynamic programme; argmax alone can jump back and forth)."""
    t_n, s_n = att.shape
    if s_n == 0 or t_n == 0:
        return np.zeros(t_n, np.int64)
    if t_n < s_n:  # fewer steps than tokens: no path can visit every token, share the steps out evenly
        return np.minimum(s_n - 1, (np.arange(t_n) * s_n) // t_n)
    logp = np.log(np.maximum(att, 1e-8))
    score = np.full(s_n, -np.inf)
    score[0] = logp[0, 0]
    back = np.zeros((t_n, s_n), np.bool_)  # True: came from token s-1
    for t in range(1, t_n):
        move = np.concatenate([[-np.inf], score[:-1]])
        back[t] = move > score
        score = np.maximum(score, move) + logp[t]
    path = np.zeros(t_n, np.int64)
    s = s_n - 1
    for t in range(t_n - 1, -1, -1):
        path[t] = s
        if t and back[t, s]:
            s -= 1
    return path


def token_spans(att: np.ndarray, steps: int, samples_per_step: int, n_samples: int) -> list[tuple[int, int]]:
    """[start, end) output samples per input token from the monotonic path (each step = reduction × hop samples)."""
    s_n = att.shape[1]
    path = monotonic_path(att[:steps])
    spans = []
    for s in range(s_n):
        hit = np.nonzero(path == s)[0]
        if len(hit):
            a, b = int(hit[0]) * samples_per_step, (int(hit[-1]) + 1) * samples_per_step
        else:
            a = b = spans[-1][1] if spans else 0
        spans.append((min(a, n_samples), min(b, n_samples)))
    return spans


def _use_sdpa(model, device: str, requested: str) -> str:
    """PyTorch SDPA for the decoder's self-attention on CUDA (or when asked); cross-attention stays explicit
    because its weights give the alignment, and the encoder keeps SpeechT5's relative position bias path."""
    if requested not in ("auto", "sdpa", "eager"):
        raise StudioError(f"attention {requested!r} unknown; use auto, sdpa or eager")
    if requested == "eager" or (requested == "auto" and not device.startswith("cuda")):
        return "eager"
    for layer in model.speecht5.decoder.wrapped_decoder.layers:
        attn = layer.self_attn
        attn.forward = types.MethodType(_sdpa_self_attention, attn)
    return "sdpa"


def _sdpa_self_attention(self, hidden_states, key_value_states=None, cache=None, attention_mask=None,
                         position_bias=None, output_attentions=False, **kwargs):
    """SpeechT5Attention.forward for decoder self-attention (no relative bias) through F.scaled_dot_product_attention;
    the same cache protocol as the original, no attention weights returned."""
    import torch
    from transformers.cache_utils import EncoderDecoderCache

    bsz, tgt_len, _ = hidden_states.size()
    q = self.q_proj(hidden_states).view(bsz, tgt_len, self.num_heads, self.head_dim).transpose(1, 2)
    k = self.k_proj(hidden_states).view(bsz, -1, self.num_heads, self.head_dim).transpose(1, 2)
    v = self.v_proj(hidden_states).view(bsz, -1, self.num_heads, self.head_dim).transpose(1, 2)
    if cache is not None:
        cur = cache.self_attention_cache if isinstance(cache, EncoderDecoderCache) else cache
        k, v = cur.update(k, v, self.layer_idx, kwargs=kwargs)
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask, scale=self.scaling)
    out = out.transpose(1, 2).reshape(bsz, tgt_len, self.embed_dim)
    return self.out_proj(out), None

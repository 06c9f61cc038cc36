"""Random-weight SpeechT5 text-to-speech + HiFi-GAN in the published on-disk layout, for tests and benchmarks.

``python -m pipelines.speech.tiny DIR`` writes DIR/config.json, model.safetensors, spm_char.model and the
tokenizer files (as microsoft/speecht5_tts has them), DIR/vocoder/ (as microsoft/speecht5_hifigan) and
DIR/emotion_directions.safetensors fitted on that model, and prints the paths as JSON. The character
sentencepiece model is trained here on a short text that holds every character the text front end lets
through, so the tokenizer works offline and the model loads through the same path as real weights.

``--full`` builds the published sizes instead (config values below) with random weights: for CPU timing only.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import string
from pathlib import Path

log = logging.getLogger(__name__)

# microsoft/speecht5_tts config.json (architecture fields; the rest are SpeechT5Config's defaults, which the
# published file repeats). Parameter count checked in benchmarks/speech_neural.py against the published
# model.safetensors size (577,789,320 bytes, float32).
PUBLISHED_TTS = dict(vocab_size=81, hidden_size=768, encoder_layers=12, encoder_attention_heads=12, encoder_ffn_dim=3072,
                     decoder_layers=6, decoder_attention_heads=12, decoder_ffn_dim=3072, num_mel_bins=80,
                     speech_decoder_prenet_layers=2, speech_decoder_prenet_units=256, speech_decoder_prenet_dropout=0.5,
                     speaker_embedding_dim=512, speech_decoder_postnet_layers=5, speech_decoder_postnet_units=256,
                     speech_decoder_postnet_kernel=5, reduction_factor=2, max_speech_positions=1876, max_text_positions=600,
                     encoder_max_relative_position=160)
# microsoft/speecht5_hifigan config.json (= SpeechT5HifiGanConfig's defaults): 16 kHz, hop 4*4*4*4 = 256.
PUBLISHED_VOCODER = dict(model_in_dim=80, sampling_rate=16000, upsample_initial_channel=512, upsample_rates=[4, 4, 4, 4],
                         upsample_kernel_sizes=[8, 8, 8, 8], resblock_kernel_sizes=[3, 7, 11],
                         resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]], normalize_before=True)

TINY_TTS = dict(PUBLISHED_TTS, hidden_size=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                decoder_layers=2, decoder_attention_heads=2, decoder_ffn_dim=64, speech_decoder_prenet_units=32,
                speech_decoder_postnet_layers=2, speech_decoder_postnet_units=32, encoder_max_relative_position=16)
TINY_VOCODER = dict(PUBLISHED_VOCODER, upsample_initial_channel=16, upsample_rates=[4, 4, 4, 4],
                    upsample_kernel_sizes=[8, 8, 8, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]])

_CORPUS = ("Hello there. I can't believe we won! Is it really over? The quick brown fox jumps over the lazy dog; "
           "pack my box with five dozen liquor jugs: (sphinx of black quartz, judge my vow) \"well\" - "
           + string.ascii_letters + " " + string.digits + " " + "ÀÁÂÄÇÈÉÊËÌÍÎÏÑÒÓÔÖÙÚÛÜàáâäçèéêëìíîïñòóôöùúûüÿ")


def write_tokenizer(folder: Path) -> Path:
    """A character-level sentencepiece model with SpeechT5's special ids (<s>=0, <pad>=1, </s>=2, <unk>=3)."""
    import sentencepiece as spm
    from transformers import SpeechT5Tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter([_CORPUS] * 4), model_writer=buf, model_type="char",
                                   vocab_size=len(set(_CORPUS.replace(" ", ""))) + 5, character_coverage=1.0,
                                   bos_id=0, pad_id=1, eos_id=2, unk_id=3, minloglevel=2)
    (folder / "spm_char.model").write_bytes(buf.getvalue())
    tok = SpeechT5Tokenizer(vocab_file=str(folder / "spm_char.model"))
    tok.save_pretrained(str(folder))
    return folder


def build(folder: str | Path, *, full: bool = False, seed: int = 0, directions: bool = True) -> dict[str, str]:
    """Write the model folder (and its vocoder/ and, unless ``directions`` is False, fitted directions)."""
    import torch
    from transformers import SpeechT5Config, SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5HifiGanConfig

    from pipelines.speech.t5 import VOCODER_SUBFOLDER

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok = write_tokenizer(folder)
    from transformers import SpeechT5Tokenizer

    n_vocab = len(SpeechT5Tokenizer.from_pretrained(str(tok), local_files_only=True))
    torch.manual_seed(seed)
    cfg = SpeechT5Config(**dict(PUBLISHED_TTS if full else TINY_TTS, vocab_size=max(n_vocab, 81)))
    model = SpeechT5ForTextToSpeech(cfg).eval()
    with torch.no_grad():
        # A random stop head fires at a random step; a fixed "never stop" makes every random render run to
        # the length cap (maxlenratio × tokens), so lengths are predictable in tests and timings.
        model.speech_decoder_postnet.prob_out.weight.zero_()
        model.speech_decoder_postnet.prob_out.bias.fill_(-10.0)
        # A trained SpeechT5 voice depends strongly on its x-vector; at init std 0.02 the (unit-norm) embedding
        # barely reaches the decoder, so directions would have nothing to move. Widen its input columns.
        if not full:
            model.speecht5.decoder.prenet.speaker_embeds_layer.weight[:, cfg.hidden_size:].mul_(40.0)
    model.save_pretrained(str(folder), safe_serialization=True)
    voc = SpeechT5HifiGan(SpeechT5HifiGanConfig(**(PUBLISHED_VOCODER if full else TINY_VOCODER))).eval()
    _audible(voc)
    voc.save_pretrained(str(folder / VOCODER_SUBFOLDER), safe_serialization=True)
    out = {"weights": str(folder), "vocoder": str(folder / VOCODER_SUBFOLDER)}
    if directions:
        from pipelines.speech.directions import fit_directions

        path = folder / "emotion_directions.safetensors"
        fit_directions(str(folder), str(path), basis=4, iters=1, population=2, texts=["Hello there."], seed=seed,
                       options=None if full else {"maxlenratio": 8.0})
        out["directions"] = str(path)
    return out


def _audible(vocoder) -> None:
    """HiFi-GAN's own init (std 0.01) makes a random vocoder output about 1e-9: rescale its convolutions to
    fan-in variance × 1.5² so random weights give audio near -25 dBFS, which the level and prosody measures can read."""
    import math

    import torch

    with torch.no_grad():
        for name, p in vocoder.named_parameters():
            if name.endswith("weight") and p.dim() == 3:
                fan = (p.shape[0] if "upsampler" in name else p.shape[1]) * p.shape[2]
                p.normal_(0.0, 1.5 / math.sqrt(fan))
            elif name.endswith("bias"):
                p.zero_()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m pipelines.speech.tiny", description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--full", action="store_true", help="published sizes with random weights (about 600 MB)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-directions", action="store_true", help="skip fitting emotion directions")
    a = ap.parse_args(argv)
    import torch

    if not a.full:
        torch.set_num_threads(1)  # a tiny model is latency-bound: extra threads only contend (3-10x slower measured)
    paths = build(a.folder, full=a.full, seed=a.seed, directions=not a.no_directions)
    print(json.dumps(paths))


if __name__ == "__main__":
    main()

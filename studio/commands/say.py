"""`studio say`: speak a text with an emotion and report what the recognizers measured."""
from __future__ import annotations

import argparse
from pathlib import Path

from studio.commands.common import affect_of, check_writable, render, seed_of
from studio.errors import StudioError

AUDIO_EXT = (".wav", ".flac")


def read_text(args: argparse.Namespace) -> str:
    if args.text is not None and args.text_file:
        raise StudioError("give the TEXT or --text-file, not both")
    if args.text_file:
        f = Path(args.text_file)
        if not f.is_file():
            raise StudioError(f"text file {f} does not exist")
        try:
            return f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise StudioError(f"text file {f} is not UTF-8 text") from None
    if args.text is None:
        raise StudioError("nothing to say: give TEXT or --text-file")
    return args.text


def _cmd_say(args: argparse.Namespace) -> int:
    from studio.api import Studio
    from studio.media import check_output
    from studio.requests import SpeechRequest

    text = read_text(args)
    out = check_output(args.out or "say.wav", set(AUDIO_EXT))  # fail before rendering, not after
    check_writable(out)
    req = SpeechRequest(text=text, affect=affect_of(args), seed=seed_of(args), engine=args.engine, voice=args.voice,
                        engine_options={"weights": args.weights, "device": args.device, "vocoder": args.vocoder,
                                        "directions": args.directions, "speaker": args.speaker, "dtype": args.dtype})
    s = Studio()
    result = render(s, req, args, progress=len(text) > 300)
    path = result.save(out)
    print(path)
    line = f"duration {result.duration_s:.2f} s"
    errors: list[str] = []
    recs = {r.recognizer: r for r in s.recognize(result, errors=errors)}
    ac = recs.get("acoustic-prosody")
    if ac is not None:
        m = ac.measures
        line += (f"; measured F0 median {m['f0_median_hz']:.0f} Hz, range {m['f0_range_st']:.1f} st, "
                 f"level {m['rms_db']:.1f} dBFS, peak {m['peak_db']:.1f} dBFS, arousal~{ac.arousal:+.2f}")
    for name, r in recs.items():
        if name != "acoustic-prosody" and r.top:
            line += f"; {name}: {r.top} {r.probs[r.top]:.2f}"
    if errors and ac is None:
        line += f"; not measured ({errors[0]})"
    print(line)
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("say", parents=[common], help="speak TEXT with an emotion (WAV or FLAC)",
                       description="Render speech with the emotion's prosody plan; prints the output path, duration "
                                   "and what the speech recognizers measured.")
    p.add_argument("text", nargs="?", default=None, metavar="TEXT", help="what to say (or use --text-file)")
    p.add_argument("--text-file", default=None, help="read the text from this UTF-8 file")
    p.add_argument("--engine", default="embedded", help="speech engine (`studio engines` lists them; default embedded)")
    p.add_argument("--voice", default=None, help="a voice name from `studio weights list` or a voice file path")
    p.add_argument("--weights", default=None, help="neural engines: a local model folder or a repo id in the HF cache")
    p.add_argument("--device", default=None, help="neural engines: auto, cpu, cuda, cuda:1 …")
    p.add_argument("--dtype", default=None, help="neural engines: auto (fp16 on CUDA), fp16, bf16, fp32")
    p.add_argument("--vocoder", default=None, help="neural engine: the HiFi-GAN vocoder folder (default: beside --weights)")
    p.add_argument("--directions", default=None, help="neural engine: emotion directions from `studio train speech-directions`")
    p.add_argument("--speaker", default=None, help="neural engine: a speaker x-vector (.safetensors or .npy)")
    p.set_defaults(func=_cmd_say)

    from pipelines.speech.cli_train import add_train_command
    from studio.commands.image import train_subparsers

    add_train_command(train_subparsers(sub))

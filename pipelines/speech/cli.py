"""`studio say`: speak a text with an emotion and report what the recognizer measured."""
from __future__ import annotations

import argparse
from pathlib import Path

from studio.errors import StudioError


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("say", parents=[common], help="speak TEXT with an emotion (WAV or FLAC)",
                       description="Render speech with the emotion's prosody plan; prints the output path, duration "
                                   "and the F0 / loudness the acoustic recognizer measured.")
    p.add_argument("text", nargs="?", default=None, metavar="TEXT", help="what to say (or use --text-file)")
    p.add_argument("--text-file", default=None, help="read the text from this UTF-8 file")
    p.add_argument("--engine", default="embedded", help="speech engine (default: embedded)")
    p.set_defaults(func=_cmd_say)


def _read_text(args: argparse.Namespace) -> str:
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
    from pipelines.speech import synthesize
    from studio.cli import affect_from_args
    from studio.media import AUDIO_EXT, check_output

    text = _read_text(args)
    out = check_output(args.out or "say.wav", AUDIO_EXT)  # fail before rendering, not after
    affect = affect_from_args(args)
    result = synthesize(text, affect, seed=args.seed, engine=args.engine, progress=len(text) > 300)
    path = result.save(out)
    print(path)
    line = f"duration {result.duration_s:.2f} s"
    try:
        from evals.speech import AcousticRecognizer

        rec = AcousticRecognizer().recognize(result.audio, result.sample_rate)
        m = rec.measures
        line += (f"; measured F0 median {m['f0_median_hz']:.0f} Hz, range {m['f0_range_st']:.1f} st, "
                 f"level {m['rms_db']:.1f} dBFS, peak {m['peak_db']:.1f} dBFS, arousal~{rec.arousal:+.2f}")
    except StudioError as e:
        line += f"; not measured ({e})"
    print(line)
    return 0

"""``studio serve``: the web demo."""
from __future__ import annotations

import argparse

from studio.errors import StudioError


def _port(value: str) -> int:
    try:
        p = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number, got {value!r}") from None
    if not 1 <= p <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 1..65535, got {p}")
    return p


def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.diffusion_weights and not Path(args.diffusion_weights).exists():
        raise StudioError(f"--diffusion-weights {args.diffusion_weights} does not exist; give a local diffusers folder or .safetensors file")
    _check_port(args.host, args.port)  # before the slow app build, so the mistake is reported at once
    from ui.app import launch

    try:
        launch(args.host, args.port, args.diffusion_weights, block=True)
    except OSError:  # gradio reports a port taken since the check as OSError
        raise StudioError(f"port {args.port} on {args.host} is taken; pick another --port") from None
    return 0


def _check_port(host: str, port: int) -> None:
    import errno
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, port))
    except socket.gaierror:
        raise StudioError(f"--host {host} is not an address of this machine; use 127.0.0.1 or 0.0.0.0") from None
    except OSError as e:
        why = "is taken" if e.errno == errno.EADDRINUSE else f"cannot be used ({e.strerror})"
        raise StudioError(f"port {port} on {host} {why}; pick another --port") from None


def add_commands(sub, common) -> None:
    p = sub.add_parser("serve", help="start the web demo (Gradio) on this machine")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind; 0.0.0.0 exposes the demo to your network")
    p.add_argument("--port", type=_port, default=7860)
    p.add_argument("--diffusion-weights", metavar="PATH", default=None,
                   help="local diffusion weights; enables the diffusion engine in the Image tab (also $STUDIO_DIFFUSION_WEIGHTS)")
    p.set_defaults(func=_serve)

"""Keep third-party chatter (MediaPipe's glog / TFLite lines, absl, deprecation notices) out of the user's
terminal unless ``--verbose``. Those libraries write straight to file descriptor 2 from C++, so the filter
sits on the descriptor: a pipe whose reader thread drops known noise lines and passes the rest through
(progress bars, which end in '\\r' rather than a newline, are passed on at once)."""
from __future__ import annotations

import atexit
import os
import re
import threading
import warnings

NOISE = re.compile(
    rb"(WARNING: Logging before InitGoogle\(\)|[WIE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]|"
    rb"INFO: Created TensorFlow Lite|INFO: Initialized TensorFlow Lite|"
    rb".*pkg_resources is deprecated|\s+from pkg_resources import|\s+import pkg_resources|\[transformers\] |"
    rb"(\x1b\[A)?Loading (weights|pipeline components|checkpoint shards))")

_installed = False


def silence_python_warnings() -> None:
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("absl", "jax", "tensorflow", "diffusers", "transformers", "urllib3", "PIL", "matplotlib", "ray"):
        import logging

        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("GLOG_minloglevel", "2")


def _clean(line: bytes) -> bytes:
    """Drop third-party text inside one line: progress-bar redraws ('\\r'-separated) and log lines that landed
    after one of our own progress bars (no newline between them); keep the studio's own."""
    parts = []
    for p in line.split(b"\r"):
        m = NOISE.search(p)
        if m is not None:
            p = p[:m.start()]
        if p:
            parts.append(p)
    return b"\r".join(parts) + (b"\r" if line.endswith(b"\r") and parts else b"")


def install() -> None:
    """Filter descriptor 2 for the rest of this process (and the workers it starts)."""
    global _installed
    if _installed:
        return
    _installed = True
    silence_python_warnings()
    try:
        real = os.dup(2)
        r, w = os.pipe()
        os.dup2(w, 2)
        os.close(w)
    except OSError:
        return

    def pump() -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(r, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            kept = [_clean(ln) for ln in lines]
            out = b"".join(k + b"\n" for k, ln in zip(kept, lines) if k.strip() or not ln.strip())
            if buf and b"\r" in buf:  # a progress bar redraw: show it now
                head, _, tail = buf.rpartition(b"\r")
                out += _clean(head + b"\r")
                buf = tail
            if out:
                os.write(real, out)
        if buf and _clean(buf):
            os.write(real, _clean(buf))

    t = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    t.start()

    @atexit.register
    def _restore() -> None:
        import sys

        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(real, 2)  # closes the pipe's last writer in this process: the pump drains and ends
        t.join(timeout=2.0)

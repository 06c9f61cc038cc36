"""What sits beside every rendered output, and how failures reach the page.

Each tab returns the output plus: a bar chart of recognized probabilities, the measured VA points
on the same plane as the request, the raw recognitions and the plan used (both as JSON).
"""
from __future__ import annotations

import functools
import logging
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from studio.affect import Affect, Trajectory
from studio.errors import StudioError
from ui.affect_control import plan_dict, request_points
from ui.plots import prob_bars, va_plane

log = logging.getLogger("ui")
WORK_ROOT = Path(tempfile.gettempdir()) / "affect-studio-ui"
KEEP_JOBS_S = 3600.0  # Gradio copies results into its own cache; our job folders only need to outlive a request


def job_dir(kind: str) -> Path:
    """A fresh folder per request; folders older than an hour are swept so a long-lived server stays small."""
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in WORK_ROOT.iterdir():
        try:
            if old.is_dir() and now - old.stat().st_mtime > KEEP_JOBS_S:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:
            pass
    return Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=WORK_ROOT))


def jsonable(d: Any) -> Any:
    """Plain JSON types only: action-unit plans key by int and gr.JSON (orjson) refuses non-str keys."""
    import json

    return json.loads(json.dumps(d, default=str))


def plan_of(result: Any, x: Affect | Trajectory) -> dict:
    """The plan the pipeline reports it used (else the plans the affect implies), with the affect it came from."""
    from dataclasses import asdict, is_dataclass

    p = getattr(result, "plan", None)
    if p is None:
        return jsonable(plan_dict(x))
    if hasattr(p, "to_dict"):
        p = p.to_dict()
    elif is_dataclass(p):
        p = asdict(p)
    return jsonable({"affect": x.to_dict(), "plan": p})


def present(x: Affect | Trajectory, recognitions: list, notes: list[str]):
    """(bars figure, VA-plane figure, recognition JSON) for a result."""
    requested = None if isinstance(x, Trajectory) else x.top_label
    bars = prob_bars([(r.recognizer, r.probs) for r in recognitions], highlight=requested)
    measured = [(r.recognizer, r.valence, r.arousal) for r in recognitions if r.valence is not None and r.arousal is not None]
    plane = va_plane(request_points(x), measured)
    rec_json = {"requested": x.to_dict(),
                "recognitions": [r.to_dict() for r in recognitions], "notes": notes}
    return bars, plane, jsonable(rec_json)


def user_errors(fn: Callable) -> Callable:
    """StudioError → gr.Error with its one line; anything else → a short message, traceback in the server log only."""
    import gradio as gr

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except StudioError as e:
            raise gr.Error(str(e).splitlines()[0] if str(e) else type(e).__name__, print_exception=False) from None
        except Exception as e:  # the page gets one line; the log keeps the details for a bug report
            log.error("unexpected failure in %s:\n%s", fn.__name__, traceback.format_exc())
            first = (str(e).splitlines() or [""])[0][:200]
            raise gr.Error(f"internal error ({type(e).__name__}: {first}); the server log has the details",
                           print_exception=False) from None

    return wrapper


def render_and_judge(request, kind: str, filename: str, x: Affect | Trajectory):
    """The one path every tab takes: render the request through the studio's spine, save it, back-classify the
    saved file with every available recognizer of its medium, and present (file, bars, plane, recognitions, plan)."""
    from studio.api import Studio

    s = Studio()
    result = s.render_request(request)
    out = job_dir(kind) / filename
    result.save(out, sidecar=False)
    recs, notes = recognize_saved(s, request.medium, out)
    bars, plane, rec = present(x, recs, notes)
    return str(out), bars, plane, rec, plan_of(result, x)


def recognize_saved(s, medium: str, path: Path) -> tuple[list, list[str]]:
    """Recognitions of one output file, plus notes for the recognizers that could not judge it: the rendered
    media is still worth showing when a recognizer fails."""
    notes: list[str] = []
    try:
        recs = s.recognize(path, medium=medium, errors=notes)
    except StudioError as e:
        return [], [f"could not back-classify: {e}"]
    if not recs and not notes:
        notes.append(f"no {medium} recognizer is installed")
    return recs, notes

"""The render spine: request → plan → engine → result. Every entry point renders through ``render``.

    from studio.requests import SpeechRequest
    from studio.spine import render
    result = render(SpeechRequest(text="We won!", affect=Affect.of("joy", 0.9)))

``plan`` replaces the affect's own plan (a hand-edited plan renders as it is written).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Sequence

from studio import engines
from studio.affect.tracks import PlanTrack, plan_for, plan_from_json
from studio.errors import StudioError
from studio.requests import Request

log = logging.getLogger(__name__)


def plan(request: Request) -> Any:
    """The editable plan for ``request`` (a plan dataclass, or a PlanTrack for a trajectory)."""
    return plan_for(request.medium, request.affect)


def _check_plan(request: Request, p: Any) -> Any:
    if p is None:
        return plan(request)
    if isinstance(p, (dict, str)) or hasattr(p, "read_text"):
        p = plan_from_json(p, request.medium)
    from studio.affect.tracks import PLAN_TYPES

    want = PLAN_TYPES[request.medium]
    if isinstance(p, PlanTrack):
        if p.medium != request.medium:
            raise StudioError(f"this is a {p.medium} plan track; a {request.medium} engine cannot render it")
    elif not isinstance(p, want):
        raise StudioError(f"a {request.medium} engine renders a {want.__name__}, got {type(p).__name__}")
    return p


def engine_for(request: Request) -> Any:
    return engines.get(request.medium, request.engine, **request.engine_config())


def render(request: Request, plan: Any = None, *, progress: bool = False) -> Any:
    """Render one request; ``plan`` (an object, a dict or a JSON file path) overrides the affect's plan."""
    if not isinstance(request, Request):
        raise StudioError(f"render takes a studio.requests Request, got {type(request).__name__}")
    p = _check_plan(request, plan)
    t0 = time.perf_counter()
    eng = engine_for(request)
    t1 = time.perf_counter()
    result = eng.render(request, p, progress=progress)
    result.timings.setdefault("load_s", t1 - t0)
    result.timings.setdefault("render_s", time.perf_counter() - t1)
    log.debug("%s/%s rendered in %.2f s", request.medium, request.engine, time.perf_counter() - t0)
    return result


def render_many(requests: Sequence[Request], plans: Sequence[Any] | None = None, *, progress: bool = False) -> list[Any]:
    """Render requests in as few engine calls as each engine allows (requests grouped by engine)."""
    requests = list(requests)
    plans = [None] * len(requests) if plans is None else list(plans)
    if len(plans) != len(requests):
        raise StudioError(f"give one plan per request ({len(requests)}), got {len(plans)}")
    checked = [_check_plan(r, p) for r, p in zip(requests, plans)]
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(requests):
        key = (r.medium, r.engine, tuple(sorted((k, repr(v)) for k, v in r.engine_config().items())))
        groups.setdefault(key, []).append(i)
    out: list[Any] = [None] * len(requests)
    for idx in groups.values():
        eng = engine_for(requests[idx[0]])
        for i, res in zip(idx, engines.render_batch(eng, [requests[i] for i in idx], [checked[i] for i in idx],
                                                    progress=progress)):
            out[i] = res
    return out

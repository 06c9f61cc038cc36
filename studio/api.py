"""``Studio``: the Python API, and the front of the render spine that the CLI, datasets and web demo share.

    from studio import Studio
    s = Studio()
    speech = s.speak("We won!", "joy", intensity=0.9)
    speech.save("won.wav")
    verdicts = s.recognize(speech)
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

from studio import spine
from studio.affect import Affect, Plans, Trajectory
from studio.affect.coerce import coerce, coerce_single
from studio.errors import StudioError
from studio.requests import FaceRequest, ImageRequest, Request, SpeechRequest

log = logging.getLogger(__name__)
class Studio:
    """Every medium behind one affect; engines load once per process and are shared by all calls."""

    # ---- plans ------------------------------------------------------------------------------
    def plan(self, affect: Any, intensity: float | None = None) -> Plans:
        """The three editable plans of one affect."""
        from studio.affect import plan

        return plan(coerce_single(affect, intensity, "plan()"))

    def plan_for(self, request: Request) -> Any:
        """The plan the request's engine would render (edit it, then ``render_plan``)."""
        return spine.plan(request)

    def render_plan(self, request: Request, plan: Any, *, progress: bool = False) -> Any:
        """Render ``request`` with a given plan (an object, its JSON dict, or a JSON file path)."""
        return spine.render(request, plan, progress=progress)

    def render_request(self, request: Request, *, progress: bool = False) -> Any:
        return spine.render(request, progress=progress)

    # ---- media ------------------------------------------------------------------------------
    def speak(self, text: str, affect: Any = None, *, intensity: float | None = None, seed: int = 0,
              engine: str = "embedded", voice: str | None = None, weights: str | None = None,
              device: str | None = None, progress: bool = False):
        """Speech for ``text``: a SpeechResult (audio, sample_rate, words, phones, plan)."""
        req = SpeechRequest(text=text, affect=coerce(affect, intensity), seed=seed, engine=engine, voice=voice,
                            engine_options={"weights": weights, "device": device})
        return spine.render(req, progress=progress)

    def express(self, portrait: Any = None, affect: Any = None, *, intensity: float | None = None, seed: int = 0,
                face_index: int = 0, size: int = 512, engine: str = "embedded", progress: bool = False, **engine_options: Any):
        """A still expression (ExpressResult); ``portrait`` None = the default portrait."""
        req = FaceRequest(portrait=portrait, affect=coerce_single(affect, intensity, "a still expression"), seed=seed,
                          face_index=face_index, size=size, engine=engine, engine_options=engine_options)
        return spine.render(req, progress=progress)

    def talk(self, portrait: Any, text: str, affect: Any = None, *, intensity: float | None = None, seed: int = 0,
             fps: float = 25.0, size: int = 512, face_index: int = 0, voice: str | None = None,
             engine: str = "embedded", options: dict | None = None, progress: bool = False, **engine_options: Any):
        """A talking head (TalkResult: frames, fps, speech); ``affect`` may be a trajectory."""
        req = FaceRequest(portrait=portrait, text=text, affect=coerce(affect, intensity), seed=seed, fps=fps, size=size,
                          face_index=face_index, voice=voice, engine=engine, engine_options=engine_options,
                          options=options or {})
        return spine.render(req, progress=progress)

    def image(self, prompt: str, affect: Any = None, *, intensity: float | None = None, seed: int = 0, n: int = 1,
              width: int | None = None, height: int | None = None, engine: str = "auto", weights: str | None = None,
              init: Any = None, steps: int | None = None, guidance: float | None = None,
              negative_prompt: str | None = None, emotion_scale: float | None = None, descriptors: bool | None = None,
              strength: float | None = None, batch_size: int | None = None, grade_amount: float | None = None,
              device: str | None = None, dtype: str | None = None, attention: str | None = None,
              attention_slicing: bool | None = None, vae_slicing: bool | None = None, mapper: str | None = None,
              progress: bool = False) -> list:
        """``n`` images per affect (seeds seed, seed+1, …); ``affect`` may be a list of affects."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 256:
            raise StudioError(f"n must be an integer in [1, 256], got {n!r}")
        many = isinstance(affect, (list, tuple)) and not (len(affect) == 3 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in affect))
        affects = [coerce_single(a, intensity, "an image") for a in (affect if many else [affect])]
        name = engine
        if engine == "auto":
            name = ImageRequest(prompt=prompt, engine="auto", engine_options={"weights": weights}).engine
        eopts = {"weights": weights, "device": device, "dtype": dtype, "attention": attention,
                 "attention_slicing": attention_slicing, "vae_slicing": vae_slicing, "mapper": mapper}
        if name != "diffusion":
            bad = sorted(k for k, v in eopts.items() if v is not None and k != "weights")
            if bad:
                raise StudioError(f"{', '.join(bad)} appl{'y' if len(bad) > 1 else 'ies'} to the diffusion engine only")
            eopts = {}
        opts = {"steps": steps, "guidance": guidance, "negative_prompt": negative_prompt, "emotion_scale": emotion_scale,
                "descriptors": descriptors, "strength": strength, "batch_size": batch_size, "grade_amount": grade_amount}
        reqs = [ImageRequest(prompt=prompt, affect=a, seed=seed + i, width=width, height=height, init=init,
                             engine=name, engine_options=eopts, options=opts) for a in affects for i in range(n)]
        return spine.render_many(reqs, progress=progress)

    # ---- back-classification ----------------------------------------------------------------
    def recognize(self, result_or_path: Any, *, medium: str | None = None, recognizers: Sequence[str] | None = None,
                  errors: list[str] | None = None) -> list:
        """Recognitions of a result (in memory) or a rendered file, by every available recognizer of its medium
        (or the named ones, ``NAME`` or ``NAME=PATH``)."""
        from evals import dispatch

        if isinstance(result_or_path, (str, Path)):
            return dispatch.recognize_file(medium or _medium_of_file(result_or_path), result_or_path, errors,
                                           recognizers=recognizers)
        m = medium or getattr(result_or_path, "medium", None)
        if not m:
            raise StudioError("recognize() takes a result or a file path")
        return dispatch.recognize(m, result_or_path.media(), errors, recognizers=recognizers)

    def engines(self) -> list:
        from studio import engines

        return engines.entries()

    def recognizers(self) -> list:
        from evals import registry

        return registry.entries()

    # ---- datasets ---------------------------------------------------------------------------
    def render(self, spec: Any, out_dir: Any, *, workers: int | None = None, limit: int | None = None,
               resume: bool = False, eval: bool = False, progress: bool = False,
               recognizers: Sequence[str] | None = None, ray: str | None = None, yes: bool = False):
        """Render a dataset spec into ``out_dir``. ``workers``: local processes (default 1), or Ray actors with
        ``ray="local"`` / an address (default one per cluster CPU); ``yes`` allows a spec of over 100,000 items."""
        from studio.datasets import render

        return render(spec, out_dir, workers=workers, limit=limit, resume=resume, eval=eval, progress=progress,
                      recognizers=recognizers, ray=ray, yes=yes)

    def evaluate(self, out_dir: Any, *, recognizers: Sequence[str] | None = None, progress: bool = False):
        from studio.datasets import evaluate

        return evaluate(out_dir, progress=progress, recognizers=recognizers)

    def iter_render(self, spec: Any, out_dir: Any, **kw: Any) -> Iterator[dict]:
        """Yield each item's manifest row as it finishes (see ``studio.datasets.iter_render``)."""
        from studio.datasets import iter_render

        return iter_render(spec, out_dir, **kw)

    def iter_evaluate(self, out_dir: Any, *, recognizers: Sequence[str] | None = None, progress: bool = False):
        """Yield each item's recognitions as it is judged (see ``studio.datasets.iter_evaluate``)."""
        from studio.datasets import iter_evaluate

        return iter_evaluate(out_dir, progress=progress, recognizers=recognizers)


def _medium_of_file(path: Any) -> str:
    ext = Path(path).suffix.lower()
    if ext in (".wav", ".flac", ".ogg", ".mp3"):
        return "speech"
    if ext in (".mp4", ".mov", ".mkv", ".webm"):
        return "face"
    raise StudioError(f"say which medium {Path(path).name} is (medium='face' or 'image')")


__all__ = ["Studio", "Affect", "Trajectory"]

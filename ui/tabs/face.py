"""Talking-head tab: a portrait (uploaded, or the default astronaut) speaks a line, or holds a still expression."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.errors import StudioError
from ui.affect_control import AffectInputs, resolve, single
from ui.results import render_and_judge, user_errors
from ui.tabs.common import require_text, result_panel, seed_of

MAX_CHARS = 200  # every character costs video frames; a demo clip stays under ~15 s
SIZES = (256, 384, 512)


def _file_path(upload) -> str | None:
    if upload is None:
        return None
    if isinstance(upload, (list, tuple)):
        upload = upload[0] if upload else None
    p = getattr(upload, "name", upload)  # gr.File gives a path string; older clients a tempfile wrapper
    return str(p) if p else None


def portrait_of(upload) -> np.ndarray:
    """The uploaded portrait as RGB, or the default; a non-image upload is a user error, not a crash."""
    from studio.media import default_portrait, load_image

    p = _file_path(upload)
    if p is None:
        return default_portrait()
    img = load_image(p, max_side=1024, name=Path(p).name)  # the user's file name, not the server's copy
    if min(img.shape[:2]) < 64:
        raise StudioError(f"portrait is only {img.shape[1]}x{img.shape[0]} pixels; upload one at least 64x64 with a visible face")
    return img


def _size(value) -> int:
    try:
        s = int(value)
    except (TypeError, ValueError):
        raise StudioError(f"video size must be one of {SIZES}, got {value!r}") from None
    if s not in SIZES:
        raise StudioError(f"video size must be one of {SIZES}, got {s}")
    return s


def talk(affect_from, label, mixture, valence, arousal, dominance, free_text, trajectory, intensity, portrait, text, seed, size):
    """The affect control's inputs, portrait file, text, seed, size → (mp4 path, bars, plane, recognition, plan)."""
    inp = AffectInputs(affect_from, label, mixture, valence, arousal, dominance, free_text, trajectory, intensity)
    upload = portrait
    text = require_text(text, example="Hello there.")
    if len(text) > MAX_CHARS:
        raise StudioError(f"text is {len(text)} characters; the talking head takes at most {MAX_CHARS} (use the CLI for longer clips)")
    from studio.requests import FaceRequest

    x = resolve(inp)
    req = FaceRequest(portrait=portrait_of(upload), text=text, affect=x, seed=seed_of(seed), fps=25, size=_size(size))
    return render_and_judge(req, "talk", "talk.mp4", x)


def express(affect_from, label, mixture, valence, arousal, dominance, free_text, trajectory, intensity, portrait, seed):
    """The affect control's inputs, portrait file, seed → (png path, bars, plane, recognition, plan)."""
    inp = AffectInputs(affect_from, label, mixture, valence, arousal, dominance, free_text, trajectory, intensity)
    upload = portrait
    from studio.requests import FaceRequest

    x = single(resolve(inp), "a still expression")
    req = FaceRequest(portrait=portrait_of(upload), affect=x, seed=seed_of(seed))
    return render_and_judge(req, "still", "still.png", x)


def _preview(upload):
    try:
        return portrait_of(upload)
    except StudioError as e:
        import gradio as gr

        raise gr.Error(str(e), print_exception=False) from None


def build(control):
    """Wires the tab; returns the still-expression event (handler, inputs, outputs) for the app's showcase."""
    import gradio as gr

    with gr.Tab("Talking head", id="face"):
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(label="Portrait (PNG/JPEG with one face; empty = default portrait)",
                                 file_types=["image"], type="filepath", elem_id="face-portrait")
                preview = gr.Image(label="Portrait used", interactive=False, height=200, value=_preview(None))
            with gr.Column(scale=2):
                text = gr.Textbox("Hello there, how are you?", label="Line to speak", lines=2)
                with gr.Row():
                    seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                    size = gr.Dropdown(list(SIZES), value=256, label="Video size (px)", allow_custom_value=True)  # "256" from the API too; _size checks it
                with gr.Row():
                    go = gr.Button("Talk", variant="primary")
                    still_btn = gr.Button("Still expression")
        with gr.Row():
            video = gr.Video(label="Talking head", interactive=False, height=320, elem_id="face-video")
            still = gr.Image(label="Still expression", type="filepath", format="png", interactive=False, height=320,
                             elem_id="face-still")
        panel = result_panel("face")
    upload.change(_preview, upload, preview, api_visibility="private", show_progress="hidden")
    go.click(user_errors(talk), control.inputs + [upload, text, seed, size], [video] + panel.outputs,
             api_name="talk", concurrency_id="render")
    still_event = user_errors(express), control.inputs + [upload, seed], [still] + panel.outputs
    still_btn.click(*still_event, api_name="express", concurrency_id="render")
    return still_event

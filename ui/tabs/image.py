"""Image tab: prompt + affect → image with the embedded engine, or diffusion when weights are configured."""
from __future__ import annotations

import os

from studio.errors import StudioError
from ui.affect_control import AffectInputs, resolve, single
from ui.results import render_and_judge, user_errors
from ui.tabs.common import require_text, result_panel, seed_of

ENGINES = ("embedded", "diffusion")
WEIGHTS_ENV = "STUDIO_DIFFUSION_WEIGHTS"
MIN_SIDE, MAX_SIDE = 64, 1024


def diffusion_weights(explicit: str | None = None) -> str | None:
    """--diffusion-weights wins over $STUDIO_DIFFUSION_WEIGHTS; None means diffusion is not offered."""
    return explicit or os.environ.get(WEIGHTS_ENV) or None


def _side(value, name: str) -> int:
    try:
        s = int(value)
    except (TypeError, ValueError):
        raise StudioError(f"{name} must be a whole number of pixels, got {value!r}") from None
    if not MIN_SIDE <= s <= MAX_SIDE:
        raise StudioError(f"{name} must be between {MIN_SIDE} and {MAX_SIDE} pixels, got {s}")
    return s


def make_handler(weights: str | None):
    def generate(affect_from, label, mixture, valence, arousal, dominance, free_text, trajectory, intensity, prompt, engine, width, height, seed):
        """The affect control's inputs, prompt, engine, width, height, seed → (png path, bars, plane, recognition, plan)."""
        inp = AffectInputs(affect_from, label, mixture, valence, arousal, dominance, free_text, trajectory, intensity)
        prompt = require_text(prompt, "prompt", "a lighthouse on a cliff")
        if engine not in ENGINES:
            raise StudioError(f"unknown image engine {engine!r}; choose one of {', '.join(ENGINES)}")
        if engine == "diffusion" and not weights:
            raise StudioError(f"no diffusion weights configured: start `studio serve --diffusion-weights PATH` or set {WEIGHTS_ENV}")
        from studio.requests import ImageRequest

        x = single(resolve(inp), "an image")
        req = ImageRequest(prompt=prompt, affect=x, seed=seed_of(seed), width=_side(width, "width"),
                           height=_side(height, "height"), engine=engine,
                           engine_options={"weights": weights} if engine == "diffusion" else {})
        return render_and_judge(req, "image", "image.png", x)

    return generate


def build(control, weights: str | None):
    """Wires the tab; returns (handler, inputs, outputs) so the app can run it on page load for a showcase."""
    import gradio as gr

    with gr.Tab("Image", id="image"):
        prompt = gr.Textbox("a lighthouse on a cliff at the end of the day", label="Prompt", lines=2)
        with gr.Row():
            engine = gr.Radio(list(ENGINES) if weights else ["embedded"], value="embedded", label="Engine",
                              info=None if weights else "diffusion: serve with --diffusion-weights")
            width = gr.Slider(MIN_SIDE, MAX_SIDE, value=384, step=64, label="Width")
            height = gr.Slider(MIN_SIDE, MAX_SIDE, value=384, step=64, label="Height")
            seed = gr.Number(0, label="Seed", precision=0, minimum=0)
        go = gr.Button("Generate", variant="primary")
        image = gr.Image(label="Image", type="filepath", format="png", interactive=False, height=384, elem_id="image-out")
        panel = result_panel("image")
    handler, inputs, outputs = user_errors(make_handler(weights)), control.inputs + [prompt, engine, width, height, seed], [image] + panel.outputs
    go.click(handler, inputs, outputs, api_name="image", concurrency_id="render")
    return handler, inputs, outputs

"""The Gradio Blocks app: one shared affect control on the left, one tab per medium on the right."""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TITLE = "Affect Studio"
INTRO = ("Name an emotion once, render it as speech, a talking face or an image, and see beside each output "
         "what independent recognizers make of it.")
CONCURRENCY = 1   # renders share the CPU; one at a time keeps each request fast and memory bounded
QUEUE_SIZE = 16   # beyond this a visitor is told the queue is full rather than waiting minutes
CSS = "#affect-control {padding: 8px;} .gradio-container {max-width: 1400px !important;}"


def build_app(diffusion_weights: str | None = None, showcase: str | None = None):
    """The app, queue configured, not yet launched (tests launch it on a free port).

    ``showcase`` ("face" or "image") opens that tab and renders its default request on page load, so a headless
    browser's screenshot (docs/screenshot.png, made by ``python -m ui.screenshot``) shows a result.
    """
    import gradio as gr

    from ui.affect_control import AffectControl
    from ui.tabs import dataset, face, image, speech
    from ui.tabs.image import diffusion_weights as resolve_weights

    weights = resolve_weights(diffusion_weights)
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 7200)) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Row():
            with gr.Column(scale=1, min_width=360):
                control = AffectControl()
            with gr.Column(scale=2):
                with gr.Tabs(selected=showcase or "speech"):
                    speech.build(control)
                    events = {"face": face.build(control), "image": image.build(control, weights)}
                    dataset.build()
        control.wire_preview(demo)
        if showcase:
            # queue=False: a plain request that a headless browser's virtual clock waits for
            fn, inputs, outputs = events[showcase]
            demo.load(fn, inputs, outputs, queue=False, api_visibility="private")
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def launch(host: str = "127.0.0.1", port: int = 7860, diffusion_weights: str | None = None, block: bool = True,
           showcase: str | None = None, **kw):
    """Start the server; with ``block=False`` return (demo, url) and keep serving in a thread."""
    import gradio as gr

    demo = build_app(diffusion_weights, showcase)
    _, url, _ = demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=not block,
                            show_error=False, quiet=not block, footer_links=["api"], theme=gr.themes.Soft(),
                            css=CSS, ssr_mode=False, **kw)
    return demo, url


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (tests and `serve --port 0` use it)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]

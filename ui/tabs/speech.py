"""Speech tab: text + affect → audio, back-classified from the rendered WAV."""
from __future__ import annotations

from ui.affect_control import AffectInputs, resolve
from ui.results import render_and_judge, user_errors
from ui.tabs.common import require_text, result_panel, seed_of

MAX_CHARS = 600  # a demo request, not an audiobook: keeps one request within a few seconds on CPU


def speak(affect_from, label, mixture, valence, arousal, dominance, free_text, trajectory, intensity, text, seed):
    """The affect control's inputs, text, seed → (wav path, bars, plane, recognition JSON, plan JSON)."""
    inp = AffectInputs(affect_from, label, mixture, valence, arousal, dominance, free_text, trajectory, intensity)
    text = require_text(text)
    if len(text) > MAX_CHARS:
        from studio.errors import StudioError

        raise StudioError(f"text is {len(text)} characters; the demo takes at most {MAX_CHARS} (use `studio say` for long texts)")
    from studio.requests import SpeechRequest

    x = resolve(inp)
    return render_and_judge(SpeechRequest(text=text, affect=x, seed=seed_of(seed)), "speech", "speech.wav", x)


def build(control) -> None:
    import gradio as gr

    with gr.Tab("Speech", id="speech"):
        with gr.Row():
            text = gr.Textbox("I can't believe we actually won.", label="Text to speak", lines=2)
            seed = gr.Number(0, label="Seed", precision=0, minimum=0)
        go = gr.Button("Speak", variant="primary")
        audio = gr.Audio(label="Speech", type="filepath", interactive=False, elem_id="speech-audio")
        panel = result_panel("speech")
    go.click(user_errors(speak), control.inputs + [text, seed], [audio] + panel.outputs, api_name="speech",
             concurrency_id="render")

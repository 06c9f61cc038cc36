"""Widgets every result shares: the back-classification beside the output, and the plan below it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ResultPanel:
    bars: object
    plane: object
    recognition: object
    plan: object

    @property
    def outputs(self) -> list:
        return [self.bars, self.plane, self.recognition, self.plan]


def result_panel(prefix: str) -> ResultPanel:
    import gradio as gr

    with gr.Row():
        bars = gr.Plot(label="Back-classification: recognized emotion", format="png", elem_id=f"{prefix}-bars")
        plane = gr.Plot(label="Requested ★ vs measured ○ (valence-arousal)", format="png", elem_id=f"{prefix}-plane")
    with gr.Accordion("Recognizer output (JSON)", open=False):
        rec = gr.JSON(label="recognitions", elem_id=f"{prefix}-recognition")
    with gr.Accordion("Plan used (JSON)", open=False):
        plan = gr.JSON(label="plan", elem_id=f"{prefix}-plan")
    return ResultPanel(bars, plane, rec, plan)


def require_text(text: str | None, what: str = "text", example: str = "I can't believe we won!") -> str:
    from studio.errors import StudioError

    if text is None or not str(text).strip():
        raise StudioError(f"the {what} is empty: type something to render, e.g. '{example}'")
    return str(text).strip()


def seed_of(value) -> int:
    from studio.requests import check_seed

    return check_seed(value)

"""The one affect control every tab shares, and the rule that turns its inputs into an affect.

Precedence: the *Affect from* radio names the single input that is read; the others are kept
(so switching back restores them) but ignored. Intensity scales whatever the mode produced.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.affect import Affect, Trajectory, taxonomy
from studio.affect.coerce import coerce, coerce_single
from studio.affect.parse import parse_text
from studio.errors import StudioError

MODES = ("label", "mixture", "VAD", "free text", "trajectory")
PRECEDENCE = ("Only the input named by **Affect from** is used; the others are ignored until you switch to them. "
              "**Intensity** scales it (0 = neutral, 1 = full, up to 1.5 exaggerated).")


@dataclass(frozen=True)
class AffectInputs:
    """The control's raw values, in the order the Gradio inputs are wired."""
    mode: str = "label"
    label: str = "joy"
    mixture: str = "joy:0.6,surprise:0.4"
    valence: float = 0.5
    arousal: float = 0.3
    dominance: float = 0.0
    text: str = "bittersweet relief"
    trajectory: str = "neutral > joy > sadness"
    intensity: float = 0.8

    @classmethod
    def from_values(cls, *values: Any) -> "AffectInputs":
        return cls(*values)


def _parse_text(text: str, intensity: float) -> Affect:
    if not text or not text.strip():
        raise StudioError("the free-text box is empty: describe a feeling, e.g. 'bittersweet relief'")
    return parse_text(text.strip(), intensity)


def resolve(inp: AffectInputs) -> Affect | Trajectory:
    """The affect (or trajectory) the control currently asks for."""
    inten = float(inp.intensity)
    if inp.mode == "label":
        if not inp.label or not str(inp.label).strip():
            raise StudioError("no emotion label chosen: pick one from the list, e.g. 'joy'")
        return coerce_single(str(inp.label).strip(), inten, "a label")
    if inp.mode == "mixture":
        if not inp.mixture or not inp.mixture.strip():
            raise StudioError("the mixture box is empty: write label:weight pairs, e.g. 'joy:0.6,surprise:0.4'")
        return coerce_single(inp.mixture if ":" in inp.mixture else f"{inp.mixture}:1", inten, "a mixture")
    if inp.mode == "VAD":
        return coerce_single([float(inp.valence), float(inp.arousal), float(inp.dominance)], inten, "a VAD point")
    if inp.mode == "free text":
        return _parse_text(inp.text, inten)
    if inp.mode == "trajectory":
        if not inp.trajectory or not inp.trajectory.strip():
            raise StudioError("the trajectory box is empty: write e.g. 'neutral > joy > sadness'")
        x = coerce(inp.trajectory, inten)
        return x if isinstance(x, Trajectory) else Trajectory.of((0.0, x), (1.0, x))  # one keyframe: held throughout
    raise StudioError(f"unknown affect mode {inp.mode!r}; choose one of {', '.join(MODES)}")


def single(x: Affect | Trajectory, what: str) -> Affect:
    """Media that show one moment (a still, an image) refuse a trajectory rather than silently pick a keyframe."""
    if isinstance(x, Trajectory):
        raise StudioError(f"{what} shows one moment and takes one affect; switch **Affect from** away from trajectory")
    return x


def request_points(x: Affect | Trajectory) -> list[tuple[float, float]]:
    """Where the request lies on the VA plane: one point, or the keyframes of a trajectory."""
    if isinstance(x, Trajectory):
        return [(a.point[0], a.point[1]) for _, a in x.keys]
    return [(x.point[0], x.point[1])]


def summary(x: Affect | Trajectory) -> str:
    """Markdown shown under the control: what was understood, and the nearest labels for free text."""
    if isinstance(x, Trajectory):
        keys = " → ".join(f"{a.label} @ {t:.2f}" for t, a in x.keys)
        return f"**Trajectory** ({len(x.keys)} keyframes): {keys}"
    v, a, d = x.point
    lines = [f"**{x.label}** · intensity {x.intensity:.2f} · V {v:+.2f} A {a:+.2f} D {d:+.2f}"]
    if x.mixture:
        lines.append("mixture: " + ", ".join(f"{n} {w:.2f}" for n, w in sorted(x.mixture, key=lambda kv: -kv[1])))
    if x.why:
        lines.append("nearest labels: " + ", ".join(f"{n} ({s:.2f})" for n, s in x.why))
    if x.note:
        lines.append(f"_{x.note}_")
    return "  \n".join(lines)


def plan_dict(x: Affect | Trajectory) -> dict:
    """The plans for an affect; for a trajectory, the plans at each keyframe."""
    from studio.affect import plan

    if isinstance(x, Trajectory):
        return {"trajectory": x.to_dict(), "keyframe_plans": [plan(a).to_dict() for _, a in x.keys]}
    return plan(x).to_dict()


def label_choices() -> list[str]:
    core = list(taxonomy.CORE_LABELS)
    return core + sorted(t for t in taxonomy.terms() if t not in core)


class AffectControl:
    """Builds the Gradio widgets; ``inputs`` is the list every tab's handler receives first."""

    def __init__(self) -> None:
        import gradio as gr

        d = AffectInputs()
        with gr.Group(elem_id="affect-control"):
            gr.Markdown("### Affect")
            self.mode = gr.Radio(list(MODES), value=d.mode, label="Affect from", elem_id="affect-mode")
            gr.Markdown(PRECEDENCE, elem_id="affect-precedence")
            with gr.Row():
                self.label = gr.Dropdown(label_choices(), value=d.label, label="Emotion label", filterable=True)
                self.mixture = gr.Textbox(d.mixture, label="Mixture (label:weight, …)", max_lines=1)
            with gr.Row():
                self.text = gr.Textbox(d.text, label="Free text", max_lines=1)
                self.trajectory = gr.Textbox(d.trajectory, label="Trajectory (a > b > c, optional @time)", max_lines=1)
            with gr.Row():
                self.valence = gr.Slider(-1, 1, value=d.valence, step=0.05, label="Valence", min_width=100)
                self.arousal = gr.Slider(-1, 1, value=d.arousal, step=0.05, label="Arousal", min_width=100)
                self.dominance = gr.Slider(-1, 1, value=d.dominance, step=0.05, label="Dominance", min_width=100)
            self.intensity = gr.Slider(0, 1.5, value=d.intensity, step=0.05, label="Intensity")
            self.summary = gr.Markdown(elem_id="affect-summary")
            self.plane = gr.Plot(label="Requested point (valence-arousal)", format="png")
        self.inputs = [self.mode, self.label, self.mixture, self.valence, self.arousal, self.dominance,
                       self.text, self.trajectory, self.intensity]

    def wire_preview(self, demo) -> None:
        """Every change re-resolves the affect so the summary and the plane always show what will be rendered."""
        from ui.plots import va_plane

        def preview(*values):
            try:
                x = resolve(AffectInputs.from_values(*values))
            except StudioError as e:
                return f"⚠️ {e}", va_plane(None)
            return summary(x), va_plane(request_points(x))

        outs = [self.summary, self.plane]
        opts = dict(queue=False, api_visibility="private", show_progress="hidden")
        # text boxes update on Enter or leaving the box, not per keystroke (free-text parsing runs a model)
        for box in (self.mixture, self.text, self.trajectory):
            box.submit(preview, self.inputs, outs, **opts)
            box.blur(preview, self.inputs, outs, **opts)
        for comp in (self.mode, self.label, self.valence, self.arousal, self.dominance, self.intensity):
            comp.change(preview, self.inputs, outs, trigger_mode="always_last", **opts)
        demo.load(preview, self.inputs, [self.summary, self.plane], queue=False, api_visibility="private")

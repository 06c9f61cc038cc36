"""Dataset tab: a small TOML spec (pasted or uploaded) → rendered, back-classified, reported and zipped.

The web demo is for trying a spec; it caps the item count and renders with the default portrait and
embedded engines only, so a visitor cannot make the server read its own files or run for hours.
`studio render SPEC` has no such limits.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from studio.errors import StudioError
from ui.results import job_dir, user_errors

MAX_ITEMS = 24
MAX_SPEC_CHARS = 20_000
EXAMPLE = """[dataset]
name = "ui-demo"

[[grid]]
medium = "speech"
texts = ["The results are in."]
emotions = ["neutral", "joy", "sadness"]
intensities = [1.0]

[[grid]]
medium = "image"
prompts = ["a quiet harbour"]
emotions = ["joy", "fear"]
width = 256
height = 256
"""


def _spec_text(text: str | None, upload) -> str:
    if upload:
        p = Path(getattr(upload, "name", upload))
        try:
            return p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise StudioError(f"{p.name} is not a UTF-8 text file; upload a .toml spec") from None
    if text is None or not text.strip():
        raise StudioError("the spec is empty: paste a TOML spec (the example shows the format) or upload a .toml file")
    return text


def _refuse_before_loading(text: str) -> None:
    """Before the spec is loaded (loading reads portrait files and parses every emotion): a bounded paste, at most
    MAX_ITEMS items by its list lengths, only the default portrait, no weight paths."""
    import tomllib

    from studio.datasets.spec import upper_bound

    if len(text) > MAX_SPEC_CHARS:
        raise StudioError(f"the spec is {len(text):,} characters; the web demo takes at most {MAX_SPEC_CHARS:,} (use `studio render` for big specs)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # load_spec reports it with the line number
    n = upper_bound(data)
    if n > MAX_ITEMS:  # counted from the list lengths alone: a huge paste costs the server nothing
        raise StudioError(f"the spec holds up to {n:,} items; the web demo renders at most {MAX_ITEMS} (use `studio render` for more)")
    for table in ("grid", "item"):
        rows = data.get(table, [])
        for i, t in enumerate(rows if isinstance(rows, list) else []):
            if not isinstance(t, dict):
                continue
            named = t.get("portraits", t.get("portrait", "default"))
            if any(p != "default" for p in (named if isinstance(named, list) else [named])):
                raise StudioError(f"[[{table}]] #{i + 1}: the web demo renders with the default portrait only; remove 'portrait' or use `studio render`")
            if t.get("weights"):
                raise StudioError(f"[[{table}]] #{i + 1}: the web demo does not load weights named in a spec; remove 'weights' or use `studio render`")


def check_spec(text: str):
    """Validated spec within the demo's limits."""
    from studio.datasets.spec import load_spec

    _refuse_before_loading(text)
    spec = load_spec(text if "\n" in text or "=" in text else text + "\n")
    if len(spec.items) > MAX_ITEMS:
        raise StudioError(f"the spec expands to {len(spec.items)} items; the web demo renders at most {MAX_ITEMS} (use `studio render` for more)")
    return spec


def _report_markdown(out: Path) -> str:
    rep = out / "report.md"
    if not rep.exists():
        return f"Rendered into `{out.name}`; no report was written."
    # image links are relative to the report's folder; the plots are shown in the gallery instead
    return re.sub(r"!\[[^\]]*\]\([^)]*\)", "", rep.read_text(encoding="utf-8"))


def render(spec_text, upload, progress=None):
    """(spec text, spec file) → (report markdown, plot paths, zip path)."""
    progress = progress or (lambda *a, **k: None)
    text = _spec_text(spec_text, upload)
    spec = check_spec(text)
    work = job_dir("dataset")
    out = work / (re.sub(r"[^A-Za-z0-9_.-]+", "-", spec.name).strip("-.") or "dataset")
    from studio.datasets import evaluate, iter_render

    total = len(spec.items)
    progress(0.0, desc=f"rendering {total} items")
    # rendering is most of the time; back-classification and the report take the last fifth of the bar
    for done, _ in enumerate(iter_render(spec, out, workers=1), start=1):
        progress(0.8 * done / total, desc=f"rendered {done}/{total}")
    progress(0.8, desc="back-classifying and writing the report")
    evaluate(out)
    progress(1.0, desc="zipping")
    plots = sorted(str(p) for p in (out / "plots").glob("*.png"))
    archive = shutil.make_archive(str(work / out.name), "zip", root_dir=out)
    return _report_markdown(out), plots, archive


def build() -> None:
    import gradio as gr

    def handler(spec_text, upload, progress=gr.Progress()):
        return render(spec_text, upload, progress)

    with gr.Tab("Dataset", id="dataset"):
        gr.Markdown(f"Paste a TOML spec or upload one (at most {MAX_ITEMS} items here; `studio render` has no cap).")
        with gr.Row():
            spec = gr.Code(EXAMPLE, language=None, label="Spec (TOML)", lines=14, elem_id="dataset-spec")
            upload = gr.File(label="…or upload a .toml spec", file_types=[".toml"], type="filepath")
        go = gr.Button("Render dataset", variant="primary")
        zipped = gr.File(label="Dataset (zip)", interactive=False, elem_id="dataset-zip")
        gallery = gr.Gallery(label="Report plots", columns=3, height=360, elem_id="dataset-plots")
        with gr.Accordion("Report", open=True):
            report = gr.Markdown(elem_id="dataset-report")
    go.click(user_errors(handler), [spec, upload], [report, gallery, zipped], api_name="dataset", concurrency_id="render")

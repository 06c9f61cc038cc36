"""Datasets: render a spec (grids and explicit items over all media) into a resumable, deterministic dataset
folder, and back-classify it into a report.

    from studio.datasets import render, evaluate, iter_render
    s = render("examples/demo.toml", "out/demo", workers=2)
    s = render("examples/demo.toml", "out/demo-ray", ray="local")   # Ray actors (the `ray` extra; docs/ray.md)
    for row in iter_render(spec_dict, "out/x", resume=True): print(row["id"], row["file"])
    evaluate("out/demo").summary
"""
from studio.datasets.evaluate import EvalSummary, evaluate, iter_evaluate
from studio.datasets.items import Item
from studio.datasets.manifest import load_manifest
from studio.datasets.runner import RenderSummary, iter_render, render
from studio.datasets.spec import Spec, load_spec

__all__ = ["render", "iter_render", "evaluate", "iter_evaluate", "load_spec", "load_manifest", "Spec", "Item",
           "RenderSummary", "EvalSummary"]

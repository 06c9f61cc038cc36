"""Render a small dataset from Python, watch items arrive, then back-classify it.

    HF_HUB_OFFLINE=1 .venv/bin/python examples/batch_api.py out/batch
"""
from __future__ import annotations

import sys

from studio import Studio

SPEC = {
    "dataset": {"name": "intensity-sweep", "description": "Joy and sadness at five intensities, voiced and painted."},
    "grid": [
        {"medium": "speech", "texts": ["The letter arrived this morning."], "emotions": ["neutral", "joy", "sadness"],
         "intensities": [0.25, 0.5, 0.75, 1.0, 1.25]},
        {"medium": "image", "prompts": ["an empty street"], "emotions": ["neutral", "joy", "sadness"],
         "intensities": [0.25, 0.5, 0.75, 1.0, 1.25], "width": 256, "height": 256},
    ],
}


def main(out: str) -> None:
    studio = Studio()
    # resume=True: running the script again continues (or skips) instead of refusing the folder
    for row in studio.iter_render(SPEC, out, resume=True):
        print(f"{row['id']}  {row['medium']:6s} {row['label']:8s} intensity {row['intensity']:.2f}  {row['file']}")
    result = studio.evaluate(out)
    print(result.summary.to_string(index=False))
    print(f"report: {result.report}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/batch")

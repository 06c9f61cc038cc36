"""Affective image generation: an ImagePlan rendered by an engine (see ``studio.engines``).

- ``embedded``: procedural compositions / colour grading with NumPy, no weights (embedded.py);
- ``diffusion``: Stable Diffusion 1.x/2.x/SDXL from a local diffusers folder or the HF cache, with
  the affect added to the prompt embeddings (diffusion.py).
Render through ``studio.spine.render(ImageRequest(...))`` or ``Studio().image(...)``.
"""
from pipelines.image.result import ImageResult

__all__ = ["ImageResult"]


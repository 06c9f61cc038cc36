"""Affect Studio: one emotion, three media."""
__version__ = "0.1.0"


def __getattr__(name):  # lazy, so `import studio.affect` never drags in the pipelines
    if name == "Studio":
        from studio.api import Studio

        return Studio
    raise AttributeError(name)

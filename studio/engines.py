"""Engine registry: each medium maps engine names to factories, so engines plug in by name."""
from __future__ import annotations

from typing import Any, Callable

from studio.errors import StudioError

_ENGINES: dict[str, dict[str, Callable[..., Any]]] = {}
_INSTANCES: dict[tuple, Any] = {}


def register(medium: str, name: str) -> Callable:
    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        _ENGINES.setdefault(medium, {})[name] = factory
        return factory
    return deco


def names(medium: str) -> list[str]:
    _import_medium(medium)
    return sorted(_ENGINES.get(medium, {}))


def _import_medium(medium: str) -> None:
    import importlib

    try:
        importlib.import_module(f"pipelines.{medium}")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("pipelines"):
            raise StudioError(f"no pipeline for medium {medium!r}; known media: speech, face, image") from None
        raise


def get(medium: str, name: str, **options: Any) -> Any:
    """One shared instance per (medium, name, options): models load once per process."""
    _import_medium(medium)
    table = _ENGINES.get(medium, {})
    if name not in table:
        raise StudioError(f"no {medium} engine named {name!r}; available: {', '.join(sorted(table)) or 'none'}")
    key = (medium, name, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key not in _INSTANCES:
        _INSTANCES[key] = table[name](**options)
    return _INSTANCES[key]

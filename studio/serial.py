"""Plans, requests and results → plain JSON values."""
from __future__ import annotations

import dataclasses
import math
from typing import Any


def jsonable(x: Any) -> Any:
    """Dataclasses, numpy scalars and arrays, tuples and dicts with int keys → JSON values (NaN → None)."""
    if hasattr(x, "__json__"):
        return jsonable(x.__json__())
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if hasattr(x, "to_dict") and callable(x.to_dict):
        return jsonable(x.to_dict())
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    return str(x)

"""JSON conversion of frozen config and result dataclasses.

``to_jsonable`` turns dataclasses (recursively), numpy scalars and small arrays, tuples and
mappings into plain JSON types; ``from_dict`` rebuilds a dataclass from such a mapping, refusing
unknown keys. A leaf module.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

from toyforge.core.errors import InvalidParameter

T = TypeVar("T")


def to_jsonable(obj: Any) -> Any:
    """Convert ``obj`` into JSON-serialisable Python types (non-finite floats become None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def to_json(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(to_jsonable(obj))`` with ``allow_nan=False``."""
    return json.dumps(to_jsonable(obj), allow_nan=False, **kwargs)


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys raise :class:`InvalidParameter`."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise InvalidParameter("config", unknown, f"keys among {sorted(names)}")
    return cls(**dict(data))

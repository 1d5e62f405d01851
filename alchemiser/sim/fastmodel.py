"""Build broker models from trusted, already-typed values without pydantic's per-field work (hot paths only).

``pydantic.BaseModel.model_construct`` walks every field (aliases, defaults) on each call; the exchange builds an
``Order`` per state change and wants ≥ 20k orders/s in-process. ``trusted(cls, values)`` sets the same internals
``model_construct`` sets, from a dict that already names every field — so the result is indistinguishable
(``tests/sim`` checks it against ``model_validate``). Never use it on unvalidated input.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__


def trusted(cls: type[M], values: dict[str, Any], extra: dict[str, Any] | None = None) -> M:
    """An instance of ``cls`` whose fields are exactly ``values`` (every field named, by field name)."""
    obj = cls.__new__(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(values))
    _set(obj, "__pydantic_extra__", extra if extra is not None else {})
    _set(obj, "__pydantic_private__", None)
    return obj

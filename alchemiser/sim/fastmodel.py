"""Build broker models from trusted, already-typed values without pydantic's per-field work (hot paths only).

``pydantic.BaseModel.model_construct`` walks every field (aliases, defaults) on each call; the exchange builds an
``Order`` per state change and wants ≥ 20k orders/s in-process. ``trusted(cls, values)`` sets the same internals
``model_construct`` sets, from a dict that already names every field — so the result is indistinguishable
(``tests/sim`` checks it against ``model_validate``). Never use it on unvalidated input.

``Trusted(cls)`` is the same for one frozen model class, called per event: it shares one fields-set between the
instances it builds instead of making a set of every field name per instance (for ``Order`` a 27-name set, the
biggest allocation of a trade update). Sharing is safe because frozen models never mutate it in place and pydantic's
copies (``model_copy``, ``copy``) copy it before changing it.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

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


class Trusted(Generic[M]):
    """``trusted`` for one frozen model class; ``values`` must name exactly the class's fields."""

    __slots__ = ("_cls", "_fields_set")

    def __init__(self, cls: type[M]) -> None:
        if not cls.model_config.get("frozen"):
            raise TypeError(f"{cls.__name__} is not frozen: its instances cannot share a fields-set")
        self._cls = cls
        self._fields_set = set(cls.model_fields)

    def __call__(self, values: dict[str, Any], extra: dict[str, Any] | None = None) -> M:
        obj = self._cls.__new__(self._cls)
        _set(obj, "__dict__", values)
        _set(obj, "__pydantic_fields_set__", self._fields_set)
        _set(obj, "__pydantic_extra__", extra if extra is not None else {})
        _set(obj, "__pydantic_private__", None)
        return obj

"""Readiness: named conditions that components register; ``/readyz`` is 200 only when all of them hold.

Two styles:

* pull — ``readiness.register("broker", check)`` where ``check()`` returns (or awaits) a :class:`Check`;
* push — ``flag = readiness.flag("stream", reason="connecting")`` then ``flag.set_ok()`` / ``flag.set_failed(why)``.

A condition that raises or takes longer than the evaluation timeout counts as failing, with the reason shown.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from alchemiser.errors import AlchemiserError


@dataclass(frozen=True)
class Check:
    ok: bool
    reason: str = ""

    @classmethod
    def passed(cls, reason: str = "") -> Check:
        return cls(True, reason)

    @classmethod
    def failed(cls, reason: str) -> Check:
        return cls(False, reason)


Condition = Callable[[], Check | Awaitable[Check]]


class ReadinessFlag:
    """A push-style condition owned by one component."""

    def __init__(self, ok: bool, reason: str) -> None:
        self._check = Check(ok, reason)

    def set_ok(self, reason: str = "") -> None:
        self._check = Check(True, reason)

    def set_failed(self, reason: str) -> None:
        self._check = Check(False, reason)

    def __call__(self) -> Check:
        return self._check


@dataclass(frozen=True)
class ReadinessReport:
    ready: bool
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def failing(self) -> dict[str, str]:
        return {name: check.reason for name, check in self.checks.items() if not check.ok}

    def as_json(self) -> dict[str, object]:
        return {
            "ready": self.ready,
            "failing": self.failing,
            "conditions": {name: {"ok": c.ok, "reason": c.reason} for name, c in self.checks.items()},
        }


class Readiness:
    def __init__(self, *, timeout_seconds: float = 2.0) -> None:
        self._conditions: dict[str, Condition] = {}
        self.timeout_seconds = timeout_seconds

    def register(self, name: str, condition: Condition) -> None:
        if name in self._conditions:
            raise ValueError(f"readiness condition {name!r} is already registered")
        self._conditions[name] = condition

    def unregister(self, name: str) -> None:
        self._conditions.pop(name, None)

    def flag(self, name: str, *, ok: bool = False, reason: str = "starting") -> ReadinessFlag:
        flag = ReadinessFlag(ok, reason)
        self.register(name, flag)
        return flag

    @property
    def names(self) -> list[str]:
        return list(self._conditions)

    async def evaluate(self) -> ReadinessReport:
        checks: dict[str, Check] = {}
        for name, condition in list(self._conditions.items()):
            checks[name] = await self._run(condition)
        return ReadinessReport(ready=all(c.ok for c in checks.values()), checks=checks)

    async def _run(self, condition: Condition) -> Check:
        try:
            result = condition()
            if inspect.isawaitable(result):
                async with asyncio.timeout(self.timeout_seconds):
                    result = await result
        except TimeoutError:
            return Check.failed(f"check timed out after {self.timeout_seconds:g}s")
        except (AlchemiserError, OSError, ValueError, LookupError, TypeError, AttributeError) as exc:
            return Check.failed(f"check raised {type(exc).__name__}: {exc}")
        if not isinstance(result, Check):
            return Check.failed(f"check returned {type(result).__name__}, not Check")
        return result

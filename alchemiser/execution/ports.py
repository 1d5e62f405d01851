"""What the execution actor needs from its surroundings, as small protocols.

``alchemiser.store.AuditLog`` satisfies ``AuditSink`` and ``alchemiser.store.KillSwitch`` satisfies
``KillSwitchPort``; tests and the backtester can pass their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

KillAction = Literal["freeze", "cancel", "flatten"]


class AuditSink(Protocol):
    async def append(
        self,
        kind: str,
        *,
        actor: str = "system",
        data: Mapping[str, Any] | None = None,
        decision_id: str | None = None,
        order_id: str | None = None,
    ) -> int: ...


class KillSwitchStateLike(Protocol):
    @property
    def engaged(self) -> bool: ...

    @property
    def action(self) -> KillAction | None: ...


class KillSwitchPort(Protocol):
    @property
    def engaged(self) -> bool: ...

    async def engage(self, *, reason: str, by: str, action: KillAction = "freeze") -> Any: ...


class MemoryAudit:
    """An in-memory ``AuditSink`` (tests, backtests, tools)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any], str | None]] = []

    async def append(
        self,
        kind: str,
        *,
        actor: str = "system",
        data: Mapping[str, Any] | None = None,
        decision_id: str | None = None,
        order_id: str | None = None,
    ) -> int:
        del decision_id
        self.events.append((kind, actor, dict(data or {}), order_id))
        return len(self.events)

    def kinds(self) -> list[str]:
        return [kind for kind, _, _, _ in self.events]


class MemoryKillSwitch:
    """An in-memory ``KillSwitchPort`` (tests, tools). The daemon uses the store-backed ``KillSwitch``."""

    def __init__(self) -> None:
        self.engaged = False
        self.action: KillAction | None = None
        self.reason = ""

    async def engage(self, *, reason: str, by: str, action: KillAction = "freeze") -> MemoryKillSwitch:
        del by
        self.engaged, self.action, self.reason = True, action, reason
        return self

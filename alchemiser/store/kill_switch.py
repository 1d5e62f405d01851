"""The latched kill switch: engaged through the API or CLI, survives restarts, cleared only by an explicit resume.

``KillSwitch`` keeps the state in SQLite (the single ``kill_switch`` row) and a cached copy for synchronous checks
(``engaged``) on hot paths; call ``await load()`` once after opening the store. Every change is written together
with an audit event in one transaction, then listeners run (execution reacts to ``action``: freeze, cancel open
orders, or flatten). A listener that fails is logged and does not undo the latch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError, StoreError
from alchemiser.logging import get_logger
from alchemiser.store.audit import AuditLog
from alchemiser.store.database import Store

KillAction = Literal["freeze", "cancel", "flatten"]
_ACTIONS: tuple[KillAction, ...] = ("freeze", "cancel", "flatten")


@dataclass(frozen=True)
class KillSwitchState:
    engaged: bool
    action: KillAction | None
    reason: str | None
    changed_at: datetime
    changed_by: str

    def as_json(self) -> dict[str, object]:
        return {
            "engaged": self.engaged,
            "action": self.action,
            "reason": self.reason,
            "changed_at": self.changed_at.isoformat(),
            "changed_by": self.changed_by,
        }


KillSwitchListener = Callable[[KillSwitchState], Awaitable[None]]


class KillSwitch:
    def __init__(self, store: Store, audit: AuditLog, clock: Clock) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._state: KillSwitchState | None = None
        self._listeners: list[KillSwitchListener] = []
        self._log = get_logger("kill_switch")

    def add_listener(self, listener: KillSwitchListener) -> None:
        self._listeners.append(listener)

    async def load(self) -> KillSwitchState:
        """Read the latched state from the store (call at start)."""
        row = await self._store.fetchone("SELECT engaged, action, reason, changed_at, changed_by FROM kill_switch")
        if row is None:
            raise StoreError("kill_switch row is missing: the store was not migrated")
        self._state = KillSwitchState(
            engaged=bool(row["engaged"]),
            action=row["action"],
            reason=row["reason"],
            changed_at=datetime.fromisoformat(row["changed_at"]),
            changed_by=row["changed_by"],
        )
        return self._state

    @property
    def state(self) -> KillSwitchState:
        if self._state is None:
            raise StoreError("KillSwitch.load() was not called")
        return self._state

    @property
    def engaged(self) -> bool:
        """Fail closed: an unloaded kill switch counts as engaged."""
        return self._state is None or self._state.engaged

    async def engage(self, *, reason: str, by: str, action: KillAction = "freeze") -> KillSwitchState:
        """Latch the switch (idempotent: engaging again updates the reason/action and is audited)."""
        if action not in _ACTIONS:
            raise ValueError(f"kill switch action must be one of {_ACTIONS}, got {action!r}")
        return await self._change(True, action=action, reason=reason, by=by)

    async def resume(self, *, reason: str, by: str) -> KillSwitchState:
        """Clear the latch (the only way it is ever cleared)."""
        return await self._change(False, action=None, reason=reason, by=by)

    async def _change(self, engaged: bool, *, action: KillAction | None, reason: str, by: str) -> KillSwitchState:
        now = self._clock.now()
        previous = self._state
        async with self._store.transaction():
            await self._store.execute(
                "UPDATE kill_switch SET engaged = ?, action = ?, reason = ?, changed_at = ?, changed_by = ?"
                " WHERE id = 1",
                (int(engaged), action, reason, now.isoformat(), by),
            )
            await self._audit.append(
                "kill_switch.engaged" if engaged else "kill_switch.resumed",
                actor=by,
                data={"reason": reason, "action": action, "was_engaged": previous.engaged if previous else None},
            )
        self._state = KillSwitchState(engaged=engaged, action=action, reason=reason, changed_at=now, changed_by=by)
        self._log.warning(
            "kill_switch.engaged" if engaged else "kill_switch.resumed", reason=reason, action=action, by=by
        )
        for listener in list(self._listeners):
            try:
                await listener(self._state)
            except AlchemiserError as exc:
                self._log.error("kill_switch.listener_failed", error=str(exc), error_type=type(exc).__name__)
        return self._state

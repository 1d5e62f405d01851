"""The execution side of the audit journal: one small wrapper so every event carries the rebalance run id."""

from __future__ import annotations

from typing import Any

from alchemiser.execution.ports import AuditSink


class Journal:
    """Appends execution events to an ``AuditSink`` (the store's append-only ``AuditLog`` in the daemon).

    Kinds: ``execution.plan``, ``execution.approval``, ``execution.risk_verdict``, ``execution.order_blocked``,
    ``execution.order_sent``, ``execution.order_rejected``, ``execution.fill``, ``execution.cancel``,
    ``execution.kill_switch``, ``execution.resume``, ``execution.resumed``, ``execution.resume_cancel``,
    ``execution.run_finished``.
    """

    def __init__(self, sink: AuditSink | None) -> None:
        self._sink = sink

    async def record(
        self,
        kind: str,
        run_id: str | None,
        data: dict[str, Any],
        *,
        order_id: str | None = None,
        actor: str = "execution",
    ) -> None:
        if self._sink is None:
            return
        payload = dict(data)
        if run_id is not None:
            payload["execution_run_id"] = run_id
        await self._sink.append(kind, actor=actor, data=payload, order_id=order_id)

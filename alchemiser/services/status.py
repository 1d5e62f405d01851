"""Liveness and the ``/status`` snapshot: mode, run, clocks, readiness, kill switch, actors, component sections."""

from __future__ import annotations

import inspect
import json
from typing import Any

from alchemiser.services.daemon_view import DaemonView, StatusProvider


def liveness(view: DaemonView) -> tuple[int, str]:
    """``(200, "ok\\n")`` while the supervisor's heartbeats (and extra probes) are fresh, else 503 with reasons."""
    checks = [view.supervisor.liveness(), *(probe() for probe in view.liveness)]
    failing = [c.reason for c in checks if not c.ok]
    if failing:
        return 503, "unhealthy: " + "; ".join(failing) + "\n"
    return 200, "ok\n"


async def status_snapshot(view: DaemonView) -> dict[str, Any]:
    """The ``/status`` body (JSON-able): built-in fields plus one section per registered status provider."""
    now = view.runtime_clock.now()
    report = await view.readiness.evaluate()
    body: dict[str, Any] = {
        "mode": view.mode,
        "version": view.version,
        "run_id": view.run_id,
        "started_at": view.started_at.isoformat(),
        "uptime_seconds": round((now - view.started_at).total_seconds(), 3),
        "now": view.domain_clock.now().isoformat(),
        "ready": report.ready,
        "readiness": report.as_json()["conditions"],  # every condition of /readyz, passing or not
        "kill_switch": view.kill_switch.state.as_json(),
        "actors": [s.as_json() for s in view.supervisor.statuses()],
        "next_decision": None,
    }
    for name, provider in list(view.status_providers.items()):
        body[name] = await _provide(provider)
    result: dict[str, Any] = json.loads(json.dumps(body, default=str))
    return result


async def _provide(provider: StatusProvider) -> Any:
    result = provider()
    if inspect.isawaitable(result):
        result = await result
    return result

"""``alchemiser status`` human output, golden-tested on a fixed ``/status`` body (regenerate with
``ALCHEMISER_UPDATE_GOLDEN=1`` after an intended change, and read the diff)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from alchemiser.cli.status_view import render_status

GOLDEN = Path(__file__).parent / "golden"


def _status() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((GOLDEN / "status.json").read_text())
    return body


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("ALCHEMISER_UPDATE_GOLDEN") == "1":
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text()


def test_ready_daemon_with_positions_orders_and_fills() -> None:
    _check("status_ready.txt", render_status(_status()))


def test_not_ready_with_kill_switch_and_broker_down() -> None:
    status = _status()
    status["ready"] = False
    status["readiness"]["kill_switch"] = {"ok": False, "reason": "kill switch engaged by http:local-socket: drill"}
    status["kill_switch"] = {
        "engaged": True,
        "action": "freeze",
        "reason": "drill",
        "changed_at": "2024-03-06T20:01:02+00:00",
        "changed_by": "http:local-socket",
    }
    status["account"] = {"error": "broker unreachable: timed out"}
    status["positions"] = {"error": "broker unreachable: timed out"}
    _check("status_not_ready.txt", render_status(status))


def test_sections_the_daemon_did_not_send_are_left_out() -> None:
    text = render_status({"mode": "paper", "version": "1", "ready": True, "readiness": {}, "now": None})
    assert text.splitlines() == ["alchemiser 1 · paper mode · ready", "kill switch   off", "clock         —"]


def test_a_strategy_not_due_reads_as_held_with_its_next_rebalance() -> None:
    status = _status()
    status["decisions"]["last_per_strategy"]["core"].update(
        {"not_due": "not due; next rebalance 2024-04-01", "evaluated_in": "D20240301"}
    )
    lines = render_status(status).splitlines()
    assert (
        "last decision [core] session 2024-03-06 D20240306: held, not due; next rebalance 2024-04-01 "
        "(last evaluated in D20240301)"
    ) in lines, lines

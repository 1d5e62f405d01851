"""Logs a person can read: at the default level (INFO) a normal simulated day is one line per decision and one per
order line that filled; start-up says what runs in a few lines, and routine steps (bars refreshed, plan built, each
order submitted, reconciled, actors started and stopped) are DEBUG."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import cast

import pytest

from alchemiser.config import LoggingSettings
from alchemiser.logging import Redactor, configure_logging
from tests.daemon.simrig import build_sim_daemon, sim_settings
from tests.daemon.test_daemon_sim_run import _records

START = date(2024, 3, 4)  # Monday
DAYS = 4
START_UP_BUDGET = 8  # daemon starting/started, the world, the exchange, the stream, trading ready, the listeners


@pytest.mark.slow
async def test_a_simulated_day_logs_one_line_per_decision_and_per_fill(tmp_path: Path) -> None:
    stream = io.StringIO()
    settings = sim_settings(tmp_path, start=START, webhook=None)
    configure_logging(LoggingSettings(level="INFO", format="json"), Redactor(settings.secret_values()), stream)
    try:
        rig = build_sim_daemon(settings)
        await rig.start()
        decisions = rig.trading.decisions
        assert decisions is not None
        async with asyncio.timeout(150):
            while await decisions.count() < DAYS or rig.trading.cycle is None or rig.trading.cycle.running:
                await asyncio.sleep(0.1)
        code = await rig.stop()
    finally:
        configure_logging(settings.logging, Redactor(), io.StringIO())  # the rig's own level again (WARNING)
    assert code == 0
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    events = [line["event"] for line in lines]
    started, stopping = events.index("daemon.started"), events.index("daemon.stopping")
    start_up, days = lines[: started + 1], lines[started + 1 : stopping]
    assert len(start_up) <= START_UP_BUDGET, [line["event"] for line in start_up]

    records = [r for r in await _records(tmp_path) if r["finished_at"]]  # one may have started as we stopped
    order_lines = sum(len(cast(list[object], r["lines"])) for r in records)
    assert len(records) >= DAYS and order_lines >= 3  # the first day buys the whole book
    # one line per decision (a blocked or failed one is a warning) and one per order line, whatever happened
    summary = Counter(x["event"] for x in days if x["event"] in ("decision_finished", "order_outcome"))
    assert summary == Counter({"decision_finished": len(records), "order_outcome": order_lines})
    # and nothing else at INFO: the routine steps are DEBUG; warnings only when something needs a look (a slow
    # machine can make an order acknowledgement late)
    routine = [x["event"] for x in days if x["level"] == "info" and x["event"] not in summary]
    assert routine == []
    assert not [line for line in lines if line["level"] in ("error", "critical")]

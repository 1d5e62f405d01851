"""Decisions repository on a real SQLite file with the real migration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.clock import ManualClock
from alchemiser.errors import StoreError
from alchemiser.store import Store
from alchemiser.store.decisions import (
    DecisionStore,
    StrategyDecision,
    manual_decision_id,
    scheduled_decision_id,
)

T0 = datetime(2024, 3, 5, 20, 45, tzinfo=UTC)


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[DecisionStore]:
    store = await Store.open(tmp_path / "store.sqlite", clock=ManualClock(T0))
    try:
        yield DecisionStore(store)
    finally:
        await store.close()


async def test_roundtrip_with_traces_and_fail_closed(repo: DecisionStore) -> None:
    did = scheduled_decision_id(date(2024, 3, 5))
    assert did == "D20240305"
    await repo.start(
        did,
        session=date(2024, 3, 5),
        trigger="schedule",
        as_of_policy="previous_close",
        as_of=date(2024, 3, 4),
        started_at=T0,
        run_id="r1",
    )
    trace = {"branches": [{"if": "(> (rsi SPY 10) 79)", "value": 81.2, "taken": "then"}]}
    await repo.record_strategy(
        did, StrategyDecision("nuclear", Decimal("0.3"), "ok", {"UVXY": Decimal("1")}, trace=trace)
    )
    await repo.record_strategy(
        did, StrategyDecision("tecl", Decimal("0.7"), "failed_closed", fail_reason="TECL: stale data")
    )
    await repo.finish(
        did,
        status="executed",
        finished_at=T0 + timedelta(minutes=3),
        plan={"lines": [{"symbol": "UVXY"}]},
        summary={"orders": 1},
    )
    rec = await repo.get(did)
    assert rec is not None
    assert rec.status == "executed" and rec.as_of == date(2024, 3, 4) and rec.run_id == "r1"
    assert rec.plan == {"lines": [{"symbol": "UVXY"}]}
    by_name = {s.strategy: s for s in rec.strategies}
    assert by_name["nuclear"].trace == trace
    assert by_name["nuclear"].allocation == {"UVXY": Decimal("1")}
    assert by_name["tecl"].fail_reason == "TECL: stale data"
    body = rec.to_json()
    assert body["strategies"][0]["allocation"] == {"UVXY": "1"}
    assert "trace" not in rec.to_json(with_traces=False)["strategies"][0]
    last = await repo.last_per_strategy()
    assert last["tecl"]["status"] == "failed_closed" and last["nuclear"]["allocation"] == {"UVXY": "1"}


async def test_same_session_cannot_be_decided_twice(repo: DecisionStore) -> None:
    did = scheduled_decision_id(date(2024, 3, 5))
    kwargs = dict(
        session=date(2024, 3, 5), trigger="schedule", as_of_policy="previous_close", as_of=None, started_at=T0
    )
    await repo.start(did, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="UNIQUE"):
        await repo.start(did, **kwargs)  # type: ignore[arg-type]
    assert not await repo.record_skipped(
        did, session=date(2024, 3, 5), reason="x", at=T0, as_of_policy="previous_close", run_id=None
    )


async def test_skipped_and_interrupted(repo: DecisionStore) -> None:
    assert await repo.record_skipped(
        "D20240304",
        session=date(2024, 3, 4),
        reason="missed by 40 min",
        at=T0,
        as_of_policy="previous_close",
        run_id=None,
    )
    await repo.start(
        "D20240305",
        session=date(2024, 3, 5),
        trigger="schedule",
        as_of_policy="previous_close",
        as_of=None,
        started_at=T0,
    )
    assert await repo.mark_interrupted(T0 + timedelta(hours=1)) == ["D20240305"]
    rec = await repo.get("D20240305")
    assert rec is not None and rec.status == "failed" and "interrupted" in (rec.reason or "")
    assert await repo.count("skipped") == 1
    last = await repo.last()
    assert last is not None and last.decision_id == "D20240305"
    assert [r.decision_id for r in await repo.latest()] == ["D20240305", "D20240304"]


async def test_finish_validation(repo: DecisionStore) -> None:
    with pytest.raises(StoreError, match="final status"):
        await repo.finish("X", status="running", finished_at=T0)
    with pytest.raises(StoreError, match="does not exist"):
        await repo.finish("nope", status="failed", finished_at=T0)
    assert await repo.get("nope") is None


async def test_manual_id_and_unknown_json_type(repo: DecisionStore) -> None:
    assert manual_decision_id(T0) == "M20240305T204500000000"
    await repo.start(
        "M1", session=date(2024, 3, 5), trigger="manual", as_of_policy="previous_close", as_of=None, started_at=T0
    )
    with pytest.raises(TypeError, match="cannot store object"):
        await repo.finish("M1", status="no_trade", finished_at=T0, summary={"x": object()})


async def test_bad_trigger_rejected_by_schema(repo: DecisionStore) -> None:
    with pytest.raises(StoreError, match="CHECK"):
        await repo.start(
            "Z",
            session=date(2024, 3, 5),
            trigger="cron",
            as_of_policy="p",
            as_of=None,  # type: ignore[arg-type]
            started_at=T0,
        )

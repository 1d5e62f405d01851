"""The broker's fee activities: which rows are fees (the regulatory TAF/REG named), recorded once, per order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from alchemiser.broker.activities import NonTradeActivity
from alchemiser.clock import ManualClock
from alchemiser.store.corporate_actions import CorporateActionStore
from alchemiser.store.database import Store
from alchemiser.store.fees import FeeStore, fee_rows
from tests.parity.factories import D, worked_order

DAY = date(2024, 3, 5)


def _activity(id_: str, kind: str = "FEE", amount: str = "-0.02", **extra: str) -> NonTradeActivity:
    return NonTradeActivity.model_validate(
        {"id": id_, "activity_type": kind, "date": "2024-03-05", "net_amount": amount, **extra}
    )


def test_fee_rows_name_the_regulatory_fees_and_skip_what_is_no_fee() -> None:
    rows = fee_rows(
        [
            _activity("a", description="TAF fee for proceed of 10 shares", order_id="b-1"),
            _activity("b", description="SEC/REG fee"),
            _activity("c", description="monthly statement fee"),
            _activity("d", "DIV", "2.50", symbol="SPY"),
            _activity("e", status="canceled"),
        ]
    )
    assert [(r.activity_id, r.kind, r.amount, r.order_id) for r in rows] == [
        ("a", "TAF", D("0.02"), "b-1"),
        ("b", "REG", D("0.02"), None),
        ("c", "FEE", D("0.02"), None),
    ]


async def test_fees_are_recorded_once_and_read_per_order_or_per_day(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite")
    try:
        at = datetime(2024, 3, 5, 20, 45, tzinfo=UTC)
        await worked_order(store, "sched-1", "SPY", "sell", "3", "3", "100", "99.9", at, broker_order_id="b-1")
        corporate = CorporateActionStore(store, ManualClock(at))
        batch = [
            _activity("ours", description="TAF", order_id="b-1"),
            _activity("daily", "FEE", "-0.01"),
            _activity("theirs", description="REG", order_id="someone-else"),
        ]
        await corporate.record(batch, "applied")
        await corporate.record(batch[:1], "applied")  # seen again: not twice
        fees = FeeStore(store)
        assert [f.activity_id for f in await fees.for_orders(["b-1"])] == ["ours"]
        assert [f.activity_id for f in await fees.unmatched_on(DAY)] == ["daily", "theirs"]
        assert await fees.for_orders([]) == []
        assert await fees.unmatched_on(date(2024, 3, 6)) == []
    finally:
        await store.close()

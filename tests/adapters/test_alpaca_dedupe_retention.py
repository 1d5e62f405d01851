"""The stream deduplicator forgets finished orders by event-time age, never open ones, never while the stream is
quiet, and still catches the re-reports a reconciliation can produce."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from alchemiser.adapters.alpaca.dedupe import EventDeduplicator
from alchemiser.adapters.alpaca.reconcile import synthesize_events
from alchemiser.broker.models import Order, TradeUpdate
from tests.adapters.alpaca_fakes import T0, filled, order_json, trade_update_json

DAY = timedelta(days=1)


def event(kind: str, order: dict[str, Any], at: datetime, **extra: Any) -> TradeUpdate:
    return TradeUpdate.model_validate(trade_update_json(kind, order, at=at, **extra)["data"])


def finished_order(dedupe: EventDeduplicator, at: datetime) -> tuple[dict[str, Any], TradeUpdate]:
    order = order_json(at=at)
    assert dedupe.admit(event("new", order, at)) is None
    fill = event("fill", filled(order, "10", "1", at), at, execution_id=f"x-{order['id']}")
    assert dedupe.admit(fill) is None
    return order, fill


def test_finished_orders_are_forgotten_after_the_retention_in_event_time() -> None:
    dedupe = EventDeduplicator(retention=DAY)
    old, old_fill = finished_order(dedupe, T0)
    assert old["id"] not in dedupe.open_order_ids()
    assert dedupe.admit(old_fill) == "duplicate"
    _, recent_fill = finished_order(dedupe, T0 + 2 * DAY)  # event time moves two days on
    assert len(dedupe) == 1, "the order finished two days before the newest event should be gone"
    assert dedupe.admit(recent_fill) == "duplicate"
    assert dedupe.remembered_keys() == 4  # two keys per admitted event of the one remembered order


def test_open_orders_are_kept_however_old() -> None:
    dedupe = EventDeduplicator(retention=DAY)
    open_order = order_json(at=T0)
    new = event("new", open_order, T0)
    assert dedupe.admit(new) is None
    for day in range(1, 6):
        finished_order(dedupe, T0 + day * DAY)
    assert open_order["id"] in dedupe.open_order_ids()
    assert dedupe.admit(new) == "duplicate"
    # Its late fill is news, then the order ages out like any finished one.
    fill = event("fill", filled(open_order, "10", "1", T0 + 6 * DAY), T0 + 6 * DAY, execution_id="late")
    assert dedupe.admit(fill) is None
    finished_order(dedupe, T0 + 8 * DAY)
    assert open_order["id"] not in dedupe.open_order_ids() and len(dedupe) == 1


def test_nothing_ages_while_no_events_arrive() -> None:
    """Age is measured against the newest event, not the wall clock: a long outage forgets nothing, and the
    reconciliation after it (oldest first, from shortly before the drop) is recognised."""
    dedupe = EventDeduplicator(retention=DAY)
    order, _ = finished_order(dedupe, T0)
    # Three days later the stream reconnects; reconciliation re-reports the order's fill first, then newer news.
    snapshot = Order.model_validate(filled(order, "10", "1", T0))
    newer = Order.model_validate(order_json(at=T0 + 3 * DAY))
    replay = synthesize_events([snapshot, newer], [])
    assert [u.order.id for u in replay] == [order["id"], newer.id]
    verdicts = [dedupe.admit(u) for u in replay]
    assert verdicts == ["duplicate", None]


def test_capacity_is_a_hard_backstop() -> None:
    dedupe = EventDeduplicator(capacity=5, retention=30 * DAY)
    for i in range(20):
        finished_order(dedupe, T0 + i * timedelta(minutes=1))
    assert len(dedupe) == 5 and dedupe.remembered_keys() == 20


def test_memory_stays_flat_over_a_simulated_year() -> None:
    dedupe = EventDeduplicator(retention=3 * DAY)
    sizes = []
    for day in range(365):
        for _ in range(20):
            finished_order(dedupe, T0 + day * DAY)
        sizes.append(len(dedupe))
    assert max(sizes[30:]) <= 4 * 20 and sizes[-1] == sizes[100]


@pytest.mark.parametrize(("kwargs", "message"), [({"capacity": 0}, "capacity"), ({"retention": -DAY}, "retention")])
def test_bad_settings_are_refused_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EventDeduplicator(**kwargs)

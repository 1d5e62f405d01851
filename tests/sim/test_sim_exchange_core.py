"""The exchange core: lifecycle, fills, partial fills, expiry, every reject path, cancel/replace, calendar."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alchemiser.broker.enums import OrderStatus, TradeEvent
from alchemiser.errors import (
    DuplicateClientOrderIdError,
    InsufficientBuyingPowerError,
    NotCancelableError,
    NotFoundError,
    NotFractionableError,
    OrderRejectedError,
)
from alchemiser.sim import ExchangeConfig
from alchemiser.sim.calendar import AlwaysOpenCalendar, XnysCalendar
from tests.sim.conftest import MIDDAY, MakeExchange, order


def events_of(events: list, order_id: str) -> list[str]:  # type: ignore[type-arg]
    return [e.event.value for e in events if e.record.id == order_id]


def test_market_buy_lifecycle_pays_ask_plus_slippage(make_exchange: MakeExchange) -> None:
    ex, events = make_exchange(slippage_bps=Decimal(10))
    quote = ex.quote("SPY", MIDDAY)
    placed = ex.submit(order(qty="10"), MIDDAY)
    assert placed.status is OrderStatus.PENDING_NEW
    ex.advance(MIDDAY)
    filled = ex.get_order(placed.id)
    assert events_of(events, placed.id) == ["pending_new", "new", "fill"]
    assert filled.status is OrderStatus.FILLED
    assert filled.filled_qty == 10
    expected = (quote.ask_price * Decimal("1.001")).quantize(Decimal("0.01"), rounding="ROUND_CEILING")
    assert filled.filled_avg_price == expected
    assert ex.cash == Decimal(100_000) - 10 * expected
    fill_event = events[-1]
    assert fill_event.position_qty == 10 and fill_event.qty == 10 and fill_event.price == expected
    assert fill_event.execution_id is not None
    [position] = ex.positions(MIDDAY)
    assert position.qty == 10 and position.cost_basis == 10 * expected


def test_market_sell_receives_bid_minus_slippage_and_closes_position(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    ex.submit(order(qty="5", cid="b"), MIDDAY)
    ex.advance(MIDDAY)
    bid = ex.quote("SPY", MIDDAY).bid_price
    sold = ex.submit(order(side="sell", qty="5", cid="s"), MIDDAY)
    ex.advance(MIDDAY)
    assert ex.get_order(sold.id).filled_avg_price == (bid * Decimal("0.9999")).quantize(
        Decimal("0.01"), rounding="ROUND_FLOOR"
    )
    assert ex.positions(MIDDAY) == []
    with pytest.raises(NotFoundError):
        ex.position("SPY", MIDDAY)


def test_partial_fills_sum_to_the_order(make_exchange: MakeExchange) -> None:
    ex, events = make_exchange(partial_fill_rate=1.0, partial_fill_delay=3.0)
    placed = ex.submit(order(qty="37"), MIDDAY)
    ex.advance(MIDDAY + timedelta(minutes=5))
    kinds = events_of(events, placed.id)
    assert kinds[:2] == ["pending_new", "new"]
    assert kinds[-1] == "fill" and "partial_fill" in kinds
    fills = [e for e in events if e.event in (TradeEvent.FILL, TradeEvent.PARTIAL_FILL)]
    assert sum(e.qty for e in fills) == 37
    final = ex.get_order(placed.id)
    assert final.filled_qty == 37
    cost = sum(e.qty * e.price for e in fills)
    assert abs(final.filled_avg_price - cost / 37) < Decimal("0.000000001")
    # Remainders arrive partial_fill_delay apart, at the then-current time.
    times = [e.timestamp for e in fills]
    assert all(b - a == timedelta(seconds=3) for a, b in itertools.pairwise(times))
    activities = ex.fill_activities(direction="asc")
    assert [a.type for a in activities][-1] == "fill"
    assert sum(a.qty for a in activities) == 37


def test_default_partial_fill_rate_is_about_ten_percent(make_exchange: MakeExchange) -> None:
    ex, events = make_exchange(partial_fill_rate=0.10)
    for i in range(400):
        ex.submit(order("BIL", qty="1" if i % 2 else "3", cid=f"p{i}"), MIDDAY)
    ex.advance(MIDDAY + timedelta(minutes=1))
    partial_orders = {e.record.id for e in events if e.event is TradeEvent.PARTIAL_FILL}
    # 3-share orders can split; 1-share orders cannot (nothing to split), so expect ~10 % of 200.
    assert 8 <= len(partial_orders) <= 40


def test_notional_buy_fills_fractional_qty(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    placed = ex.submit(order(qty=None, notional="1000"), MIDDAY)
    ex.advance(MIDDAY)
    done = ex.get_order(placed.id)
    assert done.status is OrderStatus.FILLED and done.qty is None and done.notional == 1000
    assert done.filled_qty % 1 != 0
    assert Decimal(999) < done.filled_qty * done.filled_avg_price <= Decimal(1000)


def test_limit_rests_until_marketable_and_fills_at_limit_or_better(make_exchange: MakeExchange) -> None:
    ex, events = make_exchange()
    day_low = ex.quotes.latest_bar("SPY", datetime(2025, 6, 4, 20, 30, tzinfo=UTC))
    assert day_low is not None
    open_at = datetime(2025, 6, 4, 13, 30, tzinfo=UTC)
    mid_then = ex.quotes.mid("SPY", open_at + timedelta(minutes=1))
    assert day_low.low < mid_then
    limit = Decimal(repr(day_low.low + (mid_then - day_low.low) * 0.3)).quantize(Decimal("0.01"))
    placed = ex.submit(order(qty="2", limit=str(limit), cid="lim"), open_at + timedelta(minutes=1))
    ex.advance(open_at + timedelta(minutes=1))
    assert ex.get_order(placed.id).status is OrderStatus.NEW
    ex.advance(open_at + timedelta(hours=7))
    done = ex.get_order(placed.id)
    assert done.status is OrderStatus.FILLED
    assert done.filled_avg_price is not None and done.filled_avg_price <= limit
    assert done.filled_at is not None and done.filled_at > open_at + timedelta(minutes=1)
    # At the fill instant the quote's ask really was at or below the limit.
    assert ex.quote("SPY", done.filled_at).ask_price <= limit
    assert events_of(events, placed.id) == ["pending_new", "new", "fill"]


def test_day_order_expires_at_the_close(make_exchange: MakeExchange) -> None:
    ex, events = make_exchange()
    placed = ex.submit(order(qty="1", limit="1.00"), MIDDAY)
    ex.advance(MIDDAY + timedelta(days=1))
    done = ex.get_order(placed.id)
    assert done.status is OrderStatus.EXPIRED
    assert done.expired_at == datetime(2025, 6, 3, 20, 0, tzinfo=UTC)  # 16:00 New York (EDT)
    assert events_of(events, placed.id)[-1] == "expired"
    assert ex.buying_power(MIDDAY + timedelta(days=1)) == Decimal(100_000)  # hold released


def test_day_order_expires_at_an_early_close(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    black_friday = datetime(2025, 11, 28, 15, 0, tzinfo=UTC)  # 10:00 New York; the session closes at 13:00
    placed = ex.submit(order(qty="1", limit="1.00"), black_friday)
    ex.advance(black_friday + timedelta(hours=6))
    assert ex.get_order(placed.id).expired_at == datetime(2025, 11, 28, 18, 0, tzinfo=UTC)


def test_gtc_limit_survives_the_close(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    placed = ex.submit(order(qty="1", limit="1.00", tif="gtc"), MIDDAY)
    ex.advance(MIDDAY + timedelta(days=3))
    assert ex.get_order(placed.id).status is OrderStatus.NEW
    # Alpaca cancels GTC orders 90 days after creation, at 16:15 New York.
    ex.advance(MIDDAY + timedelta(days=91))
    expired = ex.get_order(placed.id)
    assert expired.status is OrderStatus.EXPIRED
    assert expired.expired_at == datetime(2025, 9, 1, 20, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "error", "status", "code", "message"),
    [
        ({"qty": "1000"}, InsufficientBuyingPowerError, 403, 40310000, "insufficient buying power"),
        ({"symbol": "NOPE"}, OrderRejectedError, 422, 42210000, 'asset "NOPE" not found'),
        ({"symbol": "FNGU", "qty": "0.5"}, NotFractionableError, 422, 40010001, "requested asset is not fractionable"),
        ({"symbol": "SVIX", "qty": None, "notional": "50"}, NotFractionableError, 422, 40010001, "not fractionable"),
        ({"qty": "1", "limit": "100.123"}, OrderRejectedError, 422, 42210000, "sub-penny increment"),
        ({"qty": None, "notional": "0.5"}, OrderRejectedError, 403, 40310000, "cost basis must be >= 1"),
        ({"qty": "0.5", "tif": "gtc"}, OrderRejectedError, 422, 42210000, "fractional orders must be DAY orders"),
        ({"side": "sell", "qty": "1"}, OrderRejectedError, 403, 40310000, "insufficient qty available for order"),
    ],
)
def test_reject_paths_carry_alpacas_status_code_and_message(  # noqa: PLR0917 - parametrized
    make_exchange: MakeExchange,
    kwargs: dict[str, str | None],
    error: type[Exception],
    status: int,
    code: int,
    message: str,
) -> None:
    ex, events = make_exchange()
    with pytest.raises(error) as caught:
        ex.submit(order(**kwargs), MIDDAY)  # type: ignore[arg-type]
    err = caught.value
    assert getattr(err, "status_code", None) == status
    assert getattr(err, "code", None) == code
    assert message in str(err)
    assert events == [] and ex.order_count == 0


def test_insufficient_buying_power_body_names_the_amounts(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    with pytest.raises(InsufficientBuyingPowerError) as caught:
        ex.submit(order(qty="1000"), MIDDAY)
    extra = caught.value.context["body_extra"]
    assert extra["buying_power"] == "100000"
    assert Decimal(extra["cost_basis"]) > Decimal(100_000)


def test_open_buys_hold_buying_power(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    resting = ex.submit(order(qty="150", limit="500.00", cid="h1"), MIDDAY)  # far below the market: rests
    ex.advance(MIDDAY)
    assert ex.buying_power(MIDDAY) == Decimal(100_000) - 150 * Decimal(500)
    with pytest.raises(InsufficientBuyingPowerError):
        ex.submit(order(qty="60", limit="500.00", cid="h2"), MIDDAY)
    ex.cancel(resting.id, MIDDAY)
    ex.advance(MIDDAY)
    assert ex.buying_power(MIDDAY) == Decimal(100_000)


def test_duplicate_client_order_id_is_rejected_even_after_cancel(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    placed = ex.submit(order(qty="1", limit="1.00", cid="dup"), MIDDAY)
    ex.cancel(placed.id, MIDDAY)
    ex.advance(MIDDAY)
    with pytest.raises(DuplicateClientOrderIdError, match="client_order_id must be unique") as caught:
        ex.submit(order(qty="1", cid="dup"), MIDDAY)
    assert caught.value.status_code == 422 and caught.value.code == 40010001
    assert ex.get_order_by_client_id("dup").id == placed.id


@pytest.mark.parametrize(
    "when",
    [
        datetime(2025, 6, 7, 15, 0, tzinfo=UTC),  # Saturday
        datetime(2025, 7, 4, 15, 0, tzinfo=UTC),  # Independence Day
        datetime(2025, 6, 3, 13, 0, tzinfo=UTC),  # 09:00 New York, before the open
        datetime(2025, 6, 3, 20, 0, tzinfo=UTC),  # 16:00 New York, at the close
    ],
)
def test_market_closed_rejects_when_configured_to(make_exchange: MakeExchange, when: datetime) -> None:
    ex, _ = make_exchange(closed_market="reject")
    with pytest.raises(OrderRejectedError, match="market is closed"):
        ex.submit(order(qty="1"), when)


def test_off_hours_day_orders_are_queued_by_default_and_fill_at_the_open(make_exchange: MakeExchange) -> None:
    ex, events = make_exchange()
    saturday = datetime(2025, 6, 7, 15, 0, tzinfo=UTC)
    placed = ex.submit(order(qty="1"), saturday)
    assert placed.status is OrderStatus.ACCEPTED
    ex.advance(datetime(2025, 6, 9, 13, 29, tzinfo=UTC))
    assert ex.get_order(placed.id).status is OrderStatus.ACCEPTED
    ex.advance(datetime(2025, 6, 9, 13, 31, tzinfo=UTC))
    done = ex.get_order(placed.id)
    assert done.status is OrderStatus.FILLED
    assert done.filled_at == datetime(2025, 6, 9, 13, 30, tzinfo=UTC)
    assert events_of(events, placed.id) == ["accepted", "pending_new", "new", "fill"]


def test_cancel_lifecycle_and_not_cancelable(make_exchange: MakeExchange) -> None:
    ex, events = make_exchange()
    resting = ex.submit(order(qty="1", limit="1.00", cid="r"), MIDDAY)
    ex.advance(MIDDAY)
    ex.cancel(resting.id, MIDDAY)
    assert ex.get_order(resting.id).status is OrderStatus.PENDING_CANCEL
    ex.advance(MIDDAY)
    assert ex.get_order(resting.id).status is OrderStatus.CANCELED
    assert events_of(events, resting.id) == ["pending_new", "new", "pending_cancel", "canceled"]
    with pytest.raises(NotCancelableError) as caught:
        ex.cancel(resting.id, MIDDAY)
    assert caught.value.status_code == 422
    filled = ex.submit(order(qty="1", cid="f"), MIDDAY)
    ex.advance(MIDDAY)
    with pytest.raises(NotCancelableError):
        ex.cancel(filled.id, MIDDAY)
    with pytest.raises(NotFoundError):
        ex.cancel("00000000-0000-4000-8000-000000000000", MIDDAY)


def test_cancel_all_reports_each_order(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    ids = [ex.submit(order(qty="1", limit="1.00", cid=f"x{i}"), MIDDAY).id for i in range(3)]
    results = ex.cancel_all(MIDDAY)
    assert sorted(results) == sorted((i, 200) for i in ids)
    ex.advance(MIDDAY)
    assert all(ex.get_order(i).status is OrderStatus.CANCELED for i in ids)


def test_replace_creates_a_new_order_and_marks_the_old_replaced(make_exchange: MakeExchange) -> None:
    ex, events = make_exchange()
    old = ex.submit(order(qty="2", limit="1.00", cid="old"), MIDDAY)
    ex.advance(MIDDAY)
    new = ex.replace(old.id, MIDDAY, limit_price=Decimal("2.00"), client_order_id="new")
    assert new.id != old.id and new.replaces == old.id and new.limit_price == 2
    stale = ex.get_order(old.id)
    assert stale.status is OrderStatus.REPLACED and stale.replaced_by == new.id
    assert "replaced" in events_of(events, old.id)
    sequence = [(e.record.id, e.event.value) for e in events]
    assert sequence.index((old.id, "replaced")) < sequence.index((new.id, "new"))
    assert events_of(events, new.id) == ["pending_new", "new"]
    with pytest.raises(NotCancelableError):
        ex.replace(old.id, MIDDAY, limit_price=Decimal("3.00"))


def test_list_orders_filters_and_directions(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    first = ex.submit(order(qty="1", cid="a"), MIDDAY)
    second = ex.submit(order("QQQ", qty="1", limit="1.00", cid="b"), MIDDAY + timedelta(seconds=1))
    ex.advance(MIDDAY + timedelta(seconds=1))
    assert [o.id for o in ex.list_orders(status="open")] == [second.id]
    assert [o.id for o in ex.list_orders(status="closed")] == [first.id]
    assert [o.id for o in ex.list_orders(status="all", direction="asc")] == [first.id, second.id]
    assert [o.id for o in ex.list_orders(status="all", after=MIDDAY)] == [second.id]
    assert [o.id for o in ex.list_orders(status="all", symbols=["SPY"])] == [first.id]


def test_same_seed_same_outcome(make_exchange: MakeExchange) -> None:
    def run() -> list[tuple[str, str, str]]:
        ex, events = make_exchange(partial_fill_rate=0.5, seed=11)
        for i in range(20):
            ex.submit(order("TQQQ", qty=str(3 + i), cid=f"d{i}"), MIDDAY + timedelta(seconds=i))
        ex.advance(MIDDAY + timedelta(minutes=2))
        return [(e.record.id, e.event.value, str(e.price)) for e in events]

    assert run() == run()


def test_calendar_sessions_holidays_and_early_closes(xnys: XnysCalendar) -> None:
    days = {d.date.isoformat(): d for d in xnys.sessions(datetime(2025, 11, 26).date(), datetime(2025, 12, 1).date())}
    assert "2025-11-27" not in days  # Thanksgiving
    assert days["2025-11-28"].close.strftime("%H:%M") == "13:00"
    assert days["2025-11-26"].close.strftime("%H:%M") == "16:00"
    assert not xnys.is_open(datetime(2025, 11, 27, 16, 0, tzinfo=UTC))
    assert xnys.next_open(datetime(2025, 11, 27, 16, 0, tzinfo=UTC)) == datetime(2025, 11, 28, 14, 30, tzinfo=UTC)
    assert xnys.next_close(datetime(2025, 11, 28, 15, 0, tzinfo=UTC)) == datetime(2025, 11, 28, 18, 0, tzinfo=UTC)


def test_always_open_calendar_trades_on_a_sunday_night(make_exchange: MakeExchange, xnys: XnysCalendar) -> None:
    ex, _ = make_exchange(calendar=AlwaysOpenCalendar(xnys))
    sunday_night = datetime(2025, 6, 8, 23, 30, tzinfo=UTC)
    placed = ex.submit(order(qty="1"), sunday_night)
    ex.advance(sunday_night)
    assert ex.get_order(placed.id).status is OrderStatus.FILLED
    # Priced from the latest real session (Friday 2025-06-06).
    friday = ex.quotes.latest_bar("SPY", datetime(2025, 6, 6, 21, 0, tzinfo=UTC))
    assert friday is not None
    assert friday.low * 0.99 <= float(ex.get_order(placed.id).filled_avg_price or 0) <= friday.high * 1.01
    assert ex.market_clock(sunday_night).is_open


def test_ioc_and_fok_fill_at_once_or_cancel(make_exchange: MakeExchange) -> None:
    ex, events = make_exchange(partial_fill_rate=1.0)
    ioc = ex.submit(order(qty="10", tif="ioc", cid="ioc"), MIDDAY)
    done = ex.get_order(ioc.id)
    assert done.status is OrderStatus.CANCELED and 0 < done.filled_qty < 10  # partial, the rest canceled
    assert events_of(events, ioc.id) == ["pending_new", "new", "partial_fill", "canceled"]
    fok = ex.submit(order(qty="10", tif="fok", cid="fok"), MIDDAY)
    assert ex.get_order(fok.id).status is OrderStatus.FILLED and ex.get_order(fok.id).filled_qty == 10
    away = ex.submit(order(qty="1", limit="1.00", tif="ioc", cid="away"), MIDDAY)
    assert ex.get_order(away.id).status is OrderStatus.CANCELED and ex.get_order(away.id).filled_qty == 0
    ex.advance(MIDDAY + timedelta(minutes=5))
    assert ex.get_order(ioc.id).filled_qty == done.filled_qty  # nothing fills after the cancel
    with pytest.raises(OrderRejectedError, match="fractional orders must be DAY orders"):
        ex.submit(order(qty="0.5", tif="ioc", cid="frac"), MIDDAY)
    with pytest.raises(OrderRejectedError, match="time_in_force opg is not supported"):
        ex.submit(order(qty="1", tif="opg", cid="opg"), MIDDAY)


def test_unaffordable_remainder_is_canceled_not_overdrawn(make_exchange: MakeExchange) -> None:
    probe, _ = make_exchange()
    session_open = datetime(2025, 6, 4, 13, 30, tzinfo=UTC)
    start = next(
        session_open + timedelta(minutes=m)
        for m in range(0, 300, 5)
        if probe.quotes.mid("TQQQ", session_open + timedelta(minutes=m + 60))
        > probe.quotes.mid("TQQQ", session_open + timedelta(minutes=m)) * 1.003
    )
    ask = probe.quote("TQQQ", start).ask_price
    cost = 40 * (ask * Decimal("1.0001")).quantize(Decimal("0.01"), rounding="ROUND_CEILING")
    ex, events = make_exchange(initial_cash=cost, partial_fill_rate=1.0, partial_fill_delay=3600.0)
    placed = ex.submit(order("TQQQ", qty="40", cid="tight"), start)
    assert ex.get_order(placed.id).status is OrderStatus.PARTIALLY_FILLED
    ex.config = dataclasses.replace(ex.config, partial_fill_rate=0.0)  # the remainder now tries to fill whole
    ex.advance(start + timedelta(hours=2, seconds=1))  # price up 0.3 %+: the rest no longer fits the cash
    done = ex.get_order(placed.id)
    assert done.status is OrderStatus.CANCELED and 0 < done.filled_qty < 40
    assert events_of(events, placed.id)[-1] == "canceled"
    assert ex.cash >= 0 and ex.position_qty("TQQQ") == done.filled_qty


def test_notional_sell_and_holds_on_shares(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange()
    ex.submit(order("QQQ", qty="10", cid="b"), MIDDAY)
    sold = ex.submit(order("QQQ", "sell", qty=None, notional="1000", cid="s"), MIDDAY)
    done = ex.get_order(sold.id)
    assert done.status is OrderStatus.FILLED and done.filled_qty % 1 != 0
    assert Decimal(999) < done.filled_qty * (done.filled_avg_price or 0) <= Decimal(1000)
    assert ex.position_qty("QQQ") == 10 - done.filled_qty
    resting = ex.submit(order("QQQ", "sell", qty="5", limit="9999.00", cid="r"), MIDDAY)
    [position] = ex.positions(MIDDAY)
    assert position.qty_available == position.qty - 5  # shares held by the open sell
    with pytest.raises(OrderRejectedError, match="insufficient qty available"):
        ex.submit(order("QQQ", "sell", qty="5", cid="s2"), MIDDAY)
    ex.cancel(resting.id, MIDDAY)
    ex.advance(MIDDAY)
    assert ex.positions(MIDDAY)[0].qty_available == position.qty


def test_margin_multiplier_raises_buying_power(make_exchange: MakeExchange) -> None:
    ex, _ = make_exchange(margin_multiplier=Decimal(2))
    assert ex.buying_power(MIDDAY) == Decimal(200_000)
    ex.submit(order("BIL", qty="1500", cid="m"), MIDDAY)  # ≈ 137k: more than the cash
    assert ex.cash < 0
    account = ex.account(MIDDAY)
    assert account.multiplier == "2" and account.equity > Decimal(99_000)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("partial_fill_rate", 1.5, "partial_fill_rate"),
        ("initial_cash", Decimal(-1), "initial_cash"),
        ("slippage_bps", Decimal(-1), "slippage_bps"),
        ("margin_multiplier", Decimal("0.5"), "margin_multiplier"),
        ("ack_delay", -1.0, "delays"),
    ],
)
def test_exchange_config_rejects_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExchangeConfig(**{field: value})  # type: ignore[arg-type]

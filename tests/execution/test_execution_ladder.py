"""Execution against the scripted broker: ladder steps, partial fills, rejects, cancel races, event faults."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alchemiser.broker.enums import OrderSide, OrderType
from alchemiser.errors import InsufficientBuyingPowerError
from alchemiser.execution import MARKET_STEP, ExecutionParams, LineOutcome, RunStatus
from alchemiser.execution.ids import client_order_id
from tests.execution.conftest import FAST, ActorFactory, plan_for
from tests.execution.fakes import Behaviour, FakeBroker, fill_at_step, step_of

D = Decimal
QUOTES = {"SPY": ("99.90", "100.10"), "TLT": ("49.95", "50.05"), "GLD": ("199.80", "200.20")}


def broker_with(clock, **kwargs) -> FakeBroker:  # type: ignore[no-untyped-def]
    kwargs.setdefault("quotes", QUOTES)
    return FakeBroker(clock, **kwargs)


async def assert_fills_recorded(harness) -> None:  # type: ignore[no-untyped-def]
    """Every broker fill is in the store once; per order the stored fills add up to its filled qty."""
    stored = await harness.repo.all_fills()
    by_order: dict[str, Decimal] = {}
    for fill in stored:
        by_order[fill.broker_order_id] = by_order.get(fill.broker_order_id, D(0)) + fill.qty
    for order in harness.broker.orders.values():
        assert by_order.get(order.id, D(0)) == order.filled_qty, order
    assert sum(by_order.values()) == sum((f.qty for f in harness.broker.fills), D(0))


@pytest.mark.parametrize("step", [0, 1, 2, MARKET_STEP])
async def test_ladder_fills_at_each_step(clock, make_actor: ActorFactory, step: int) -> None:
    broker = broker_with(clock, script=fill_at_step(step))
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-step")
    await harness.actor.stop()
    line = result.lines[0]
    assert result.status is RunStatus.COMPLETED
    assert line.outcome is LineOutcome.FILLED and line.step_reached == step
    assert broker.positions["SPY"] == plan.line("SPY").delta_qty
    sent = [step_of(r.client_order_id) for r in broker.requests]
    assert sent == [*range(3), MARKET_STEP][: sent.index(step) + 1]
    # each earlier step was cancelled (and confirmed) before the next was sent; a cancel whose confirmation is slow
    # (a loaded host) is sent again, which is harmless, so count distinct orders
    assert len(set(broker.cancels)) == len(sent) - 1
    limit_prices = [r.limit_price for r in broker.requests if r.type is OrderType.LIMIT]
    assert limit_prices == [D("100.00"), D("100.05"), D("100.09")][: len(limit_prices)]
    label = "market" if step == MARKET_STEP else str(step)
    assert harness.metric("alchemiser_execution_ladder_step_reached_total", {"step": label}) == 1
    await assert_fills_recorded(harness)


async def test_partial_fills_complete_over_steps_with_remaining_quantity(clock, make_actor: ActorFactory) -> None:
    def script(request):  # type: ignore[no-untyped-def]
        return Behaviour(fill_fraction=D("0.5") if step_of(request.client_order_id) < 2 else D(1))

    broker = broker_with(clock, script=script, fractionable=("SPY",))
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)})
    result = await harness.actor.execute(plan, "run-partial")
    await harness.actor.stop()
    target = plan.line("SPY").delta_qty
    qtys = [r.qty for r in broker.requests]
    assert qtys[0] == target
    assert qtys[1] == target - target / 2  # the remaining quantity, re-priced with a fresh quote
    assert qtys[2] == target - target / 2 - qtys[1] / 2
    assert result.lines[0].outcome is LineOutcome.FILLED
    assert broker.positions["SPY"] == target
    await assert_fills_recorded(harness)


async def test_partial_fill_then_no_market_fallback_reports_partial(clock, make_actor: ActorFactory) -> None:
    broker = broker_with(
        clock, script=lambda r: Behaviour(fill_fraction=D("0.25") if step_of(r.client_order_id) == 0 else D(0))
    )
    harness = make_actor(broker, params=ExecutionParams(step_wait_seconds=5, ack_sla_seconds=2, market_fallback=False))
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-nofallback")
    await harness.actor.stop()
    line = result.lines[0]
    assert line.outcome is LineOutcome.PARTIALLY_FILLED
    assert "market fallback disabled" in line.reason
    assert D(0) < line.filled_qty < line.requested_qty
    assert all(r.type is OrderType.LIMIT for r in broker.requests)
    assert result.status is RunStatus.COMPLETED_WITH_ISSUES


async def test_reject_is_typed_with_reason_and_counted(clock, make_actor: ActorFactory) -> None:
    def script(request):  # type: ignore[no-untyped-def]
        if request.symbol == "TLT":
            return Behaviour(reject=InsufficientBuyingPowerError("insufficient buying power", status_code=403))
        return Behaviour(fill_fraction=D(1))

    broker = broker_with(clock, script=script)
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D("0.5"), "TLT": D("0.5")}, whole=("SPY", "TLT"))
    result = await harness.actor.execute(plan, "run-reject")
    await harness.actor.stop()
    tlt = next(ln for ln in result.lines if ln.symbol == "TLT")
    assert tlt.outcome is LineOutcome.REJECTED and "insufficient buying power" in tlt.reason
    assert next(ln for ln in result.lines if ln.symbol == "SPY").outcome is LineOutcome.FILLED
    assert harness.metric("alchemiser_execution_rejects_total", {"reason": "InsufficientBuyingPowerError"}) == 1
    assert "execution.order_rejected" in harness.audit.kinds()
    intent = await harness.repo.get_intent(tlt.client_order_ids[0])
    assert intent is not None and intent.state == "rejected"


async def test_reject_by_event_after_acceptance_stops_the_line(clock, make_actor: ActorFactory) -> None:
    # Alpaca can accept an order (pending_new) and reject it afterwards on the trade_updates stream: the line stops
    # there (no further ladder or market orders), typed REJECTED with the reason, counted, journaled, stored.
    def script(request):  # type: ignore[no-untyped-def]
        return Behaviour(reject_after_ack=request.symbol == "TLT", fill_fraction=D(1))

    broker = broker_with(clock, script=script)
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D("0.5"), "TLT": D("0.4")}, whole=("SPY", "TLT"))
    result = await harness.actor.execute(plan, "run-reject-event")
    await harness.actor.stop()
    tlt = next(ln for ln in result.lines if ln.symbol == "TLT")
    assert tlt.outcome is LineOutcome.REJECTED, tlt
    assert "rejected" in tlt.reason and tlt.filled_qty == 0
    assert [r.symbol for r in broker.requests].count("TLT") == 1  # no second order after the reject
    assert next(ln for ln in result.lines if ln.symbol == "SPY").outcome is LineOutcome.FILLED
    assert result.status is RunStatus.COMPLETED_WITH_ISSUES
    assert harness.metric("alchemiser_execution_rejects_total", {"reason": "rejected_event"}) == 1
    assert "execution.order_rejected" in harness.audit.kinds()
    intent = await harness.repo.get_intent(tlt.client_order_ids[0])
    assert intent is not None and intent.state == "rejected" and intent.reject_reason


async def test_cancel_race_fill_wins_and_no_next_step(clock, make_actor: ActorFactory) -> None:
    broker = broker_with(clock, script=lambda r: Behaviour(fill_on_cancel=True))
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-race")
    await harness.actor.stop()
    assert len(broker.requests) == 1  # the cancel lost the race: filled, so no second order
    assert result.lines[0].outcome is LineOutcome.FILLED
    await assert_fills_recorded(harness)


async def test_cancel_never_confirmed_is_unresolved_and_stops_the_ladder(clock, make_actor: ActorFactory) -> None:
    broker = broker_with(clock, script=lambda r: Behaviour(ignore_cancel=True))
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-stuck")
    await harness.actor.stop()
    assert len(broker.requests) == 1  # never a second order while the first may still fill
    assert result.lines[0].outcome is LineOutcome.UNRESOLVED
    assert harness.metric("alchemiser_execution_unresolved_orders_total") == 1


async def test_duplicate_and_out_of_order_events_are_counted_once(clock, make_actor: ActorFactory) -> None:
    broker = broker_with(
        clock,
        script=lambda r: Behaviour(fill_fraction=D("0.5") if step_of(r.client_order_id) == 0 else D(1)),
        fractionable=("SPY", "TLT"),
    )
    broker.feed.duplicate = True
    broker.stale_replays = True
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D("0.6"), "TLT": D("0.4")})
    result = await harness.actor.execute(plan, "run-dupes")
    await harness.actor.stop()
    assert result.status is RunStatus.COMPLETED
    assert broker.feed.delivered > len(broker.history)  # duplicates really were delivered
    await assert_fills_recorded(harness)
    assert sum(ln.filled_qty for ln in result.lines) == sum(f.qty for f in broker.fills)


async def test_stream_dropped_mid_ladder_is_resolved_by_rest(clock, make_actor: ActorFactory) -> None:
    broker = broker_with(clock, script=fill_at_step(1))
    broker.feed.dropped = True  # no events at all: the ack watchdog must verify by REST
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-dropped")
    await harness.actor.stop()
    assert result.lines[0].outcome is LineOutcome.FILLED and result.lines[0].step_reached == 1
    assert harness.metric("alchemiser_execution_watchdog_resolutions_total") >= 1
    assert harness.actor.events.stream_errors >= 1
    await assert_fills_recorded(harness)


async def test_lost_submit_response_is_adopted_not_resent(clock, make_actor: ActorFactory) -> None:
    broker = broker_with(clock)
    broker.submit_faults = ["lost_response"]
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-lost")
    await harness.actor.stop()
    assert len(broker.orders) == 1
    assert result.lines[0].outcome is LineOutcome.FILLED


async def test_timeout_before_broker_saw_it_resends_with_the_same_id(clock, make_actor: ActorFactory) -> None:
    broker = broker_with(clock)
    broker.submit_faults = ["timeout_before"]
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-resend")
    await harness.actor.stop()
    assert len(broker.orders) == 1
    assert list(broker.by_coid) == [client_order_id("run-resend", "SPY", OrderSide.BUY, 0)]
    assert result.lines[0].outcome is LineOutcome.FILLED


async def test_sells_before_buys_and_buys_fit_cash_after_sells(clock, make_actor: ActorFactory) -> None:
    broker = broker_with(clock, cash=D(0), positions={"GLD": D(50)}, fractionable=("SPY", "TLT", "GLD"))
    order_log: list[str] = []
    original = broker.submit_order

    async def spy_submit(request):  # type: ignore[no-untyped-def]
        order_log.append(f"{request.side.value}:{request.symbol}")
        return await original(request)

    broker.submit_order = spy_submit  # type: ignore[method-assign]
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D("0.5"), "TLT": D("0.5")})
    result = await harness.actor.execute(plan, "run-order")
    await harness.actor.stop()
    assert order_log[0] == "sell:GLD"
    assert {o.split(":")[0] for o in order_log[1:]} == {"buy"}
    assert result.status is RunStatus.COMPLETED
    assert broker.positions["GLD"] == 0
    assert broker.cash >= 0


async def test_same_run_id_twice_returns_the_stored_result_and_sends_nothing(clock, make_actor: ActorFactory) -> None:
    broker = broker_with(clock)
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    first = await harness.actor.execute(plan, "run-twice")
    sent = len(broker.requests)
    second = await harness.actor.execute(plan, "run-twice")
    await harness.actor.stop()
    assert len(broker.requests) == sent
    assert second.status is first.status and second.lines[0].filled_qty == first.lines[0].filled_qty


async def test_metrics_latency_slippage_exposure_cash(clock, make_actor: ActorFactory) -> None:
    broker = broker_with(clock, script=fill_at_step(MARKET_STEP))
    harness = make_actor(broker, params=FAST)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    await harness.actor.execute(plan, "run-metrics")
    await harness.actor.stop()
    assert harness.metric("alchemiser_execution_submit_to_fill_seconds_count") >= 1
    assert harness.metric("alchemiser_execution_slippage_bps_count", {"side": "buy"}) >= 1
    # bought at the ask 100.10 vs a decision mid of 100.00: 10 bps worse
    # (histograms with negative buckets expose no _sum: check the buckets)
    assert harness.metric("alchemiser_execution_slippage_bps_bucket", {"side": "buy", "le": "5.0"}) == 0
    assert harness.metric("alchemiser_execution_slippage_bps_bucket", {"side": "buy", "le": "10.0"}) == 1
    assert harness.metric("alchemiser_execution_exposure_dollars") > 0
    assert harness.metric("alchemiser_execution_cash_dollars") == float(broker.cash)


async def test_ack_watchdog_flags_unacknowledged_orders_and_settles_them_by_rest(
    clock, make_actor: ActorFactory
) -> None:
    broker = broker_with(clock)
    broker.feed.dropped = True  # no events
    broker.stale_submit_reply = True  # and the POST reply only says pending_new
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-ack")
    await harness.actor.stop()
    assert result.lines[0].outcome is LineOutcome.FILLED and result.lines[0].step_reached == 0
    assert len(broker.requests) == 1
    assert harness.metric("alchemiser_execution_ack_overdue_total") == 1
    assert harness.metric("alchemiser_execution_watchdog_resolutions_total") == 1
    await assert_fills_recorded(harness)

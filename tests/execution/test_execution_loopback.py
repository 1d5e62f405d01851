"""Execution through the Alpaca adapter against the simulated exchange over real loopback sockets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.execution import ExecutionParams, LineOutcome, RunStatus
from alchemiser.portfolio import Plan
from alchemiser.sim import ExchangeConfig
from alchemiser.sim.faults import FaultConfig
from tests.execution.loopback import Stack, loopback_stack

D = Decimal
TARGETS = {"SPY": D("0.3"), "TLT": D("0.25"), "QQQ": D("0.2"), "FNGU": D("0.15"), "BIL": D("0.1")}
EXACT = D(0)
pytestmark = pytest.mark.timeout(120)


async def check_end_state(stack: Stack, plan: Plan, run_id: str, *, value_tolerance: Decimal = EXACT) -> None:
    """Positions at the plan's targets; every broker fill recorded once; no client order id reused."""
    positions = {p.symbol: p.qty for p in await stack.broker.list_positions()}
    for line in plan.lines:
        expected = line.current_qty + line.delta_qty
        held = positions.get(line.symbol, D(0))
        assert abs(held - expected) * line.price <= value_tolerance, (line.symbol, held, expected)
    orders = await stack.broker.list_orders(status="all")
    coids = [o.client_order_id for o in orders]
    assert len(coids) == len(set(coids))
    activities = await stack.broker.list_fill_activities()
    stored = await stack.repo.all_fills()
    assert {f.run_id for f in await stack.repo.fills_for_run(run_id)} == {run_id}
    by_order: dict[str, Decimal] = {}
    for fill in stored:
        by_order[fill.broker_order_id] = by_order.get(fill.broker_order_id, D(0)) + fill.qty
    for order in orders:
        assert by_order.get(order.id, D(0)) == order.filled_qty, order.client_order_id
    assert sum(by_order.values()) == sum((a.qty for a in activities), D(0))


async def test_rebalance_over_loopback_reaches_targets(tmp_path: Path) -> None:
    async with loopback_stack(tmp_path) as stack:
        plan = await stack.plan(TARGETS)
        assert plan.line("FNGU").delta_qty == plan.line("FNGU").delta_qty.to_integral_value()  # not fractionable
        result = await stack.actor.execute(plan, "loop-1")
        assert result.status is RunStatus.COMPLETED, result.as_dict()
        await check_end_state(stack, plan, "loop-1")
        # a second rebalance to other targets: sells first, then buys
        plan2 = await stack.plan({"SPY": D("0.5"), "IEF": D("0.45")})
        result2 = await stack.actor.execute(plan2, "loop-2")
        assert result2.status is RunStatus.COMPLETED, result2.as_dict()
        await check_end_state(stack, plan2, "loop-2")
        assert stack.metric("alchemiser_execution_orders_submitted_total", {"side": "sell", "type": "limit"}) >= 1


async def test_duplicate_and_reordered_stream_events(tmp_path: Path) -> None:
    faults = FaultConfig(ws_duplicate_rate=0.5, ws_reorder_rate=0.3)
    async with loopback_stack(tmp_path, faults=faults, seed=5) as stack:
        plan = await stack.plan(TARGETS)
        result = await stack.actor.execute(plan, "loop-dupes")
        assert result.status is RunStatus.COMPLETED, result.as_dict()
        await check_end_state(stack, plan, "loop-dupes")


async def test_stream_dropped_mid_ladder(tmp_path: Path) -> None:
    faults = FaultConfig(ws_drop_after_events=4)
    params = ExecutionParams(step_wait_seconds=20, ack_sla_seconds=5, max_concurrent_orders=2)
    async with loopback_stack(tmp_path, faults=faults, params=params, seed=7) as stack:
        plan = await stack.plan(TARGETS)
        result = await stack.actor.execute(plan, "loop-drop")
        assert result.status is RunStatus.COMPLETED, result.as_dict()
        await check_end_state(stack, plan, "loop-drop")


async def test_submit_responses_lost_and_server_errors_never_double_place(tmp_path: Path) -> None:
    faults = FaultConfig(
        submit_accept_timeout_rate=0.4,
        submit_hang_seconds=3.0,
        error_rates={"GET /v2/orders:by_client_order_id": {"500": 0.2}},
    )
    async with loopback_stack(tmp_path, faults=faults, seed=11, client_timeout=0.5) as stack:
        plan = await stack.plan(TARGETS)
        result = await stack.actor.execute(plan, "loop-lost")
        assert result.status in (RunStatus.COMPLETED, RunStatus.COMPLETED_WITH_ISSUES), result.as_dict()
        orders = await stack.broker.list_orders(status="all")
        coids = [o.client_order_id for o in orders]
        assert len(coids) == len(set(coids))
        if result.status is RunStatus.COMPLETED:
            await check_end_state(stack, plan, "loop-lost")
        else:
            assert all(ln.outcome in (LineOutcome.FILLED, LineOutcome.UNRESOLVED) for ln in result.lines)


async def test_cash_spent_elsewhere_sizes_the_buy_down(tmp_path: Path) -> None:
    from alchemiser.broker.enums import OrderSide, OrderType
    from alchemiser.broker.models import OrderRequest

    async with loopback_stack(tmp_path, exchange=ExchangeConfig(initial_cash=D(100000), seed=2)) as stack:
        plan = await stack.plan({"SPY": D("0.5")})
        real_quotes = stack.broker.get_latest_quotes
        spent = False

        async def spend_then_quote(symbols):  # type: ignore[no-untyped-def]
            # someone else spends the cash after the plan passed its checks
            nonlocal spent
            if not spent:
                spent = True
                await stack.broker.submit_order(
                    OrderRequest(
                        symbol="TLT",
                        side=OrderSide.BUY,
                        type=OrderType.MARKET,
                        client_order_id="other-1",
                        notional=D(99000),
                    )
                )
            return await real_quotes(symbols)

        stack.broker.get_latest_quotes = spend_then_quote  # type: ignore[method-assign]
        result = await stack.actor.execute(plan, "loop-sized")
        line = result.lines[0]
        assert line.outcome is LineOutcome.PARTIALLY_FILLED, line
        assert "buying_power" in line.reason
        assert D(0) < line.filled_qty * plan.line("SPY").price < D(1100)
        account = await stack.broker.get_account()
        assert account.cash >= 0


async def test_reject_from_the_exchange_is_typed(tmp_path: Path) -> None:
    from alchemiser.portfolio import AccountState, AssetInfo, PlannerParams, StrategyTarget, plan_rebalance

    async with loopback_stack(tmp_path) as stack:
        account = await stack.broker.get_account()
        quotes = await stack.broker.get_latest_quotes(["FNGU"])
        # the planner is told FNGU is fractionable (it is not): the exchange refuses the fractional order
        plan = plan_rebalance(
            [StrategyTarget("s", D(1), {"FNGU": D("0.5")})],
            AccountState(equity=account.equity, cash=account.cash, buying_power=account.buying_power),
            {},
            {"FNGU": quotes["FNGU"].mid},
            {"FNGU": AssetInfo("FNGU", fractionable=True)},
            params=PlannerParams(),
        )
        assert plan.line("FNGU").delta_qty != plan.line("FNGU").delta_qty.to_integral_value()
        result = await stack.actor.execute(plan, "loop-reject")
        line = result.lines[0]
        assert line.outcome is LineOutcome.REJECTED, line
        assert "fractionable" in line.reason
        assert stack.metric("alchemiser_execution_rejects_total", {"reason": "NotFractionableError"}) == 1
        assert result.status is RunStatus.COMPLETED_WITH_ISSUES
        assert await stack.broker.list_orders(status="all") == []


@pytest.mark.parametrize("step", [0, 1, 2, 90])
async def test_ladder_fills_at_each_step_over_loopback(tmp_path: Path, step: int) -> None:
    # steps at 0 % of the spread rest at the bid (the quote path needs ~a minute to cross a 2 bps spread); the step
    # at 100 % is the ask, marketable at once. So the order fills exactly at the chosen step (or at market).
    # Real speed: at 20x a step of 2 simulated seconds was 0.1 wall second, which a loaded host spent between the
    # quote and the fill (the marketable step then expired and the line went to market). 5 s steps still rest far
    # less than the minute the bid needs to cross.
    ladder = tuple(1.0 if i == step else 0.0 for i in range(3))
    params = ExecutionParams(ladder_steps=ladder, step_wait_seconds=5, ack_sla_seconds=1, max_concurrent_orders=2)
    exchange = ExchangeConfig(partial_fill_rate=0.0, seed=13)
    async with loopback_stack(tmp_path, params=params, exchange=exchange, speed=1, seed=13) as stack:
        plan = await stack.plan({"SPY": D("0.5"), "FNGU": D("0.3")})
        result = await stack.actor.execute(plan, f"loop-step{step}")
        assert result.status is RunStatus.COMPLETED, result.as_dict()
        assert [line.step_reached for line in result.lines] == [step, step]
        label = "market" if step == 90 else str(step)
        assert stack.metric("alchemiser_execution_ladder_step_reached_total", {"step": label}) == 2
        await check_end_state(stack, plan, f"loop-step{step}")


async def test_partial_fills_over_loopback(tmp_path: Path) -> None:
    exchange = ExchangeConfig(partial_fill_rate=1.0, seed=17)  # every fill is partial; remainders follow later
    async with loopback_stack(tmp_path, exchange=exchange, seed=17) as stack:
        plan = await stack.plan({"SPY": D("0.4"), "FNGU": D("0.3"), "TLT": D("0.2")})
        result = await stack.actor.execute(plan, "loop-partial")
        fills = await stack.repo.fills_for_run("loop-partial")
        assert len(fills) > len(plan.trades)  # several fills per order
        for line in result.lines:
            # filled, or a remainder worth less than Alpaca's $1 minimum for fractional orders, said so
            left = (line.requested_qty - line.filled_qty) * plan.line(line.symbol).price
            assert line.outcome is LineOutcome.FILLED or (
                line.outcome is LineOutcome.PARTIALLY_FILLED and left < 1 and "minimum" in line.reason
            ), line
        await check_end_state(stack, plan, "loop-partial", value_tolerance=D(1))


async def test_orders_rejected_after_acceptance_stop_their_lines(tmp_path: Path) -> None:
    # every order is accepted (pending_new), then rejected on the trade_updates stream: one order per line, each
    # line typed REJECTED, nothing bought, every intent marked rejected
    exchange = ExchangeConfig(reject_after_accept_rate=1.0, seed=23)
    async with loopback_stack(tmp_path, exchange=exchange, seed=23) as stack:
        plan = await stack.plan({"SPY": D("0.4"), "TLT": D("0.3"), "QQQ": D("0.2")})
        result = await stack.actor.execute(plan, "loop-rejected")
        assert result.status is RunStatus.COMPLETED_WITH_ISSUES, result.as_dict()
        assert all(ln.outcome is LineOutcome.REJECTED and ln.filled_qty == 0 for ln in result.lines), result.lines
        orders = await stack.broker.list_orders(status="all")
        assert len(orders) == len(plan.trades) and all(o.status.value == "rejected" for o in orders)
        for line in result.lines:
            intent = await stack.repo.get_intent(line.client_order_ids[0])
            assert intent is not None and intent.state == "rejected"
        assert await stack.broker.list_positions() == []
        assert stack.metric("alchemiser_execution_rejects_total", {"reason": "rejected_event"}) == len(plan.trades)


async def test_rate_limits_and_server_errors_on_orders_and_quotes(tmp_path: Path) -> None:
    faults = FaultConfig(
        error_rates={
            "POST /v2/orders": {"429": 0.2, "503": 0.1},
            "GET /v2/stocks/quotes/latest": {"500": 0.2},
            "DELETE /v2/orders/{order_id}": {"503": 0.2},
        }
    )
    async with loopback_stack(tmp_path, faults=faults, seed=19) as stack:
        plan = await stack.plan(TARGETS)
        result = await stack.actor.execute(plan, "loop-errors")
        assert result.status is RunStatus.COMPLETED, [ln for ln in result.lines if ln.outcome is not LineOutcome.FILLED]
        await check_end_state(stack, plan, "loop-errors")

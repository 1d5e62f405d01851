"""Risk inside execution, kill switch actions, approval mode and the plan API, crash resume (in-process)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from alchemiser.broker.enums import OrderSide, OrderType
from alchemiser.execution import (
    MARKET_STEP,
    ExecutionParams,
    LineOutcome,
    PlanBoard,
    RunStatus,
    client_order_id,
)
from alchemiser.execution.serialize import plan_to_dict
from alchemiser.logging import get_logger
from alchemiser.portfolio import RiskParams, TradingMode
from alchemiser.store.execution import IntentState
from alchemiser.web.middleware import BearerAuthMiddleware
from alchemiser.web.plan_routes import plan_routes
from tests.execution.conftest import FAST, ActorFactory, plan_for
from tests.execution.fakes import Behaviour, FakeBroker, fill_at_step

D = Decimal
QUOTES = {"SPY": ("99.90", "100.10"), "TLT": ("49.95", "50.05"), "GLD": ("199.80", "200.20")}
AUTH = {"Authorization": "Bearer s3cret-token"}


async def test_live_with_market_closed_never_sends(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES, market_open=False)
    harness = make_actor(broker, mode=TradingMode.LIVE, risk=RiskParams(market_hours_enforced=False))
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-live-closed")
    await harness.actor.stop()
    assert broker.requests == [] and broker.orders == {}
    assert result.status is RunStatus.BLOCKED
    assert "market_hours" in result.blocked_by
    assert all(line.outcome is LineOutcome.NOT_STARTED for line in result.lines)
    assert await harness.repo.intents_for_run("run-live-closed") == []


async def test_market_closes_mid_run_blocks_remaining_orders(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES, positions={"GLD": D(100)}, cash=D(0))
    original = broker.submit_order

    async def close_after_first(request):  # type: ignore[no-untyped-def]
        result = await original(request)
        broker.market_open = False
        return result

    broker.submit_order = close_after_first  # type: ignore[method-assign]
    harness = make_actor(broker, mode=TradingMode.LIVE)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-closing")
    await harness.actor.stop()
    assert [r.side for r in broker.requests] == [OrderSide.SELL]
    spy = next(ln for ln in result.lines if ln.symbol == "SPY")
    assert spy.outcome is LineOutcome.BLOCKED and spy.reason.startswith("market_hours")


async def test_collar_forbids_market_fallback(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES, script=fill_at_step(99))  # limits never fill
    harness = make_actor(broker, risk=RiskParams(limit_collar_pct=D("0.01")))
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    broker.quotes["SPY"] = (D("101.50"), D("101.70"))  # the market ran away 1.7 % after the decision
    result = await harness.actor.execute(plan, "run-collar")
    await harness.actor.stop()
    line = result.lines[0]
    assert line.outcome is LineOutcome.BLOCKED and line.reason.startswith("limit_collar")
    assert all(r.type is OrderType.LIMIT for r in broker.requests)
    assert len(broker.requests) < 3  # steps beyond the collar were refused, not sent


async def test_failed_sell_blocks_buys(clock, make_actor: ActorFactory) -> None:
    from alchemiser.errors import OrderRejectedError

    def script(request):  # type: ignore[no-untyped-def]
        if request.side is OrderSide.SELL:
            return Behaviour(reject=OrderRejectedError("wash trade detected", status_code=403))
        return Behaviour(fill_fraction=D(1))

    broker = FakeBroker(clock, quotes=QUOTES, positions={"GLD": D(100)}, cash=D(30000), script=script)
    harness = make_actor(broker)
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-failed-sell")
    await harness.actor.stop()
    spy = next(ln for ln in result.lines if ln.symbol == "SPY")
    assert spy.outcome is LineOutcome.BLOCKED and spy.reason.startswith("failed_sells_block_buys")
    assert all(r.side is OrderSide.SELL for r in broker.requests)


async def test_drawdown_latches_kill_switch_and_blocks(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES)
    harness = make_actor(broker, risk=RiskParams(drawdown_halt_pct=D("0.10"), kill_switch_action="freeze"))  # type: ignore[arg-type]
    await harness.repo.raise_high_water_mark(D(150000))
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-drawdown")
    await harness.actor.stop()
    assert result.status is RunStatus.BLOCKED
    assert "drawdown_guard" in result.blocked_by
    assert harness.kill_switch.engaged and "high-water mark" in harness.kill_switch.reason
    assert broker.requests == []


async def test_kill_switch_cancel_and_flatten(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES, positions={"GLD": D(10), "TLT": D("3.5")}, script=lambda r: Behaviour())
    harness = make_actor(broker)
    await harness.actor.start()
    # an open order left from elsewhere
    from alchemiser.broker.models import OrderRequest

    await broker.submit_order(
        OrderRequest(
            symbol="SPY",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            client_order_id="manual-1",
            qty=D(1),
            limit_price=D(90),
        )
    )
    broker.script = lambda r: Behaviour(fill_fraction=D(1))
    harness.kill_switch.engaged, harness.kill_switch.action = True, "flatten"
    await harness.actor.on_kill_switch(harness.kill_switch)
    await harness.actor.stop()
    assert broker.orders[broker.by_coid["manual-1"]].status.is_terminal
    assert broker.positions == {"GLD": D(0), "TLT": D(0)}
    flatten_orders = [r for r in broker.requests if r.client_order_id != "manual-1"]
    assert {r.type for r in flatten_orders} == {OrderType.MARKET}
    assert "execution.kill_switch" in harness.audit.kinds()


async def test_kill_switch_engaged_mid_run_freezes_remaining_lines(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES, fractionable=("SPY", "TLT", "GLD"))
    harness = make_actor(
        broker, params=ExecutionParams(step_wait_seconds=5, ack_sla_seconds=2, max_concurrent_orders=1)
    )
    original = broker.submit_order

    async def engage_after_first(request):  # type: ignore[no-untyped-def]
        result = await original(request)
        harness.kill_switch.engaged = True
        return result

    broker.submit_order = engage_after_first  # type: ignore[method-assign]
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D("0.4"), "TLT": D("0.3"), "GLD": D("0.3")})
    result = await harness.actor.execute(plan, "run-freeze")
    await harness.actor.stop()
    assert len(broker.requests) == 1
    assert result.status is RunStatus.HALTED
    assert sum(1 for ln in result.lines if ln.reason.startswith("kill_switch")) == 2


async def test_approval_mode_via_http(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES)
    board = PlanBoard(clock)
    harness = make_actor(
        broker,
        params=ExecutionParams(
            step_wait_seconds=5, ack_sla_seconds=2, approval_mode=True, approval_timeout_seconds=3600
        ),
        board=board,
    )
    app = _guarded(board, "s3cret-token")
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    task = asyncio.create_task(harness.actor.execute(plan, "run-approve"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for _ in range(200):
            snapshot = (await client.get("/api/plan", headers=AUTH)).json()
            if snapshot["awaiting_approval"]:
                break
            await asyncio.sleep(0.005)
        assert snapshot["run_id"] == "run-approve" and snapshot["plan"] == plan_to_dict(plan)
        assert broker.requests == []  # held until approval
        assert (await client.post("/api/plan/approve")).status_code == 401
        wrong = await client.post("/api/plan/approve", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        bad = await client.post("/api/plan/approve", headers={"Authorization": "Bearer s3cret-token"}, content=b"[")
        assert bad.status_code == 400
        ok = await client.post("/api/plan/approve", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200 and ok.json() == {"run_id": "run-approve", "decision": "approved"}
        result = await asyncio.wait_for(task, timeout=30)
        again = await client.post("/api/plan/approve", headers={"Authorization": "Bearer s3cret-token"})
        assert again.status_code == 409
        assert (await client.get("/api/plan", headers=AUTH)).json()["status"] == "completed"
    await harness.actor.stop()
    assert result.status is RunStatus.COMPLETED
    assert "execution.approval" in harness.audit.kinds()


async def test_approval_timeout_and_disabled_api(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES)
    harness = make_actor(
        broker,
        params=ExecutionParams(step_wait_seconds=5, ack_sla_seconds=2, approval_mode=True, approval_timeout_seconds=5),
    )
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await asyncio.wait_for(harness.actor.execute(plan, "run-timeout"), timeout=30)
    await harness.actor.stop()
    assert result.status is RunStatus.APPROVAL_TIMEOUT and broker.requests == []
    app = _guarded(PlanBoard(clock), None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        disabled = await client.post("/api/plan/approve", headers={"Authorization": "Bearer x"})
        assert disabled.status_code == 403 and "disabled" in disabled.json()["error"]


async def test_resume_adopts_sent_orders_and_sends_unsent_intent_with_same_id(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES, script=fill_at_step(99), fractionable=("SPY", "TLT"))
    first = make_actor(broker)
    await first.actor.start()
    plan = await plan_for(broker, {"SPY": D("0.5"), "TLT": D("0.5")})
    # simulate the crash: the run is stored, SPY step 0 was sent (rests at the broker), TLT's step-0 intent was
    # written but the process died before sending it
    await first.repo.create_run("run-crash", mode="paper", plan=plan_to_dict(plan))
    await first.repo.set_run_status("run-crash", "executing", verdict={"allowed": True, "blocked_symbols": []})
    spy0 = client_order_id("run-crash", "SPY", OrderSide.BUY, 0)
    tlt0 = client_order_id("run-crash", "TLT", OrderSide.BUY, 0)
    from alchemiser.broker.models import OrderRequest

    spy_line = plan.line("SPY")
    await first.repo.add_intent(
        client_order_id=spy0,
        run_id="run-crash",
        symbol="SPY",
        side=OrderSide.BUY,
        step=0,
        order_type=OrderType.LIMIT,
        qty=spy_line.delta_qty,
        limit_price=D("100.00"),
        reference_price=spy_line.price,
    )
    await broker.submit_order(
        OrderRequest(
            symbol="SPY",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            client_order_id=spy0,
            qty=spy_line.delta_qty,
            limit_price=D("100.00"),
        )
    )
    broker.fill(broker.by_coid[spy0], spy_line.delta_qty / 4)  # partly filled while we were down
    await first.repo.add_intent(
        client_order_id=tlt0,
        run_id="run-crash",
        symbol="TLT",
        side=OrderSide.BUY,
        step=0,
        order_type=OrderType.LIMIT,
        qty=plan.line("TLT").delta_qty,
        limit_price=D("50.00"),
        reference_price=plan.line("TLT").price,
    )
    await first.actor.stop()

    broker.script = lambda r: Behaviour(fill_fraction=D(1))
    restarted = make_actor(broker)
    await restarted.actor.start()
    results = await restarted.actor.resume()
    await restarted.actor.stop()
    assert [r.run_id for r in results] == ["run-crash"]
    assert results[0].status is RunStatus.COMPLETED
    coids = [r.client_order_id for r in broker.requests]
    assert len(coids) == len(set(coids))  # never the same id for two orders
    assert coids.count(spy0) == 1 and coids.count(tlt0) == 1  # tlt0 sent once, after the restart
    assert broker.positions["SPY"] == spy_line.delta_qty
    assert broker.positions["TLT"] == plan.line("TLT").delta_qty
    fills = await restarted.repo.fills_for_run("run-crash")
    assert sum(f.qty for f in fills if f.symbol == "SPY") == spy_line.delta_qty
    assert (await restarted.repo.get_run("run-crash")).status == "completed"  # type: ignore[union-attr]


async def test_resume_finds_an_order_rejected_after_acceptance_and_stops_that_line(
    clock, make_actor: ActorFactory
) -> None:
    from alchemiser.broker.models import OrderRequest

    broker = FakeBroker(clock, quotes=QUOTES, fractionable=("SPY", "TLT"))
    first = make_actor(broker)
    await first.actor.start()
    plan = await plan_for(broker, {"SPY": D("0.5"), "TLT": D("0.4")})
    # the crash: TLT's step-0 intent was written and sent; the broker accepted it, then rejected it on the stream
    # while the process was dead, so the store still says "intent"
    await first.repo.create_run("run-rej", mode="paper", plan=plan_to_dict(plan))
    await first.repo.set_run_status("run-rej", "executing", verdict={"allowed": True, "blocked_symbols": []})
    tlt0 = client_order_id("run-rej", "TLT", OrderSide.BUY, 0)
    tlt = plan.line("TLT")
    await first.repo.add_intent(
        client_order_id=tlt0,
        run_id="run-rej",
        symbol="TLT",
        side=OrderSide.BUY,
        step=0,
        order_type=OrderType.LIMIT,
        qty=tlt.delta_qty,
        limit_price=D("50.00"),
        reference_price=tlt.price,
    )
    broker.script = lambda r: Behaviour(reject_after_ack=r.symbol == "TLT", fill_fraction=D(1))
    await broker.submit_order(
        OrderRequest(
            symbol="TLT",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            client_order_id=tlt0,
            qty=tlt.delta_qty,
            limit_price=D("50.00"),
        )
    )
    await first.actor.stop()

    restarted = make_actor(broker)
    await restarted.actor.start()
    results = await restarted.actor.resume()
    await restarted.actor.stop()
    assert [r.run_id for r in results] == ["run-rej"]
    line = next(ln for ln in results[0].lines if ln.symbol == "TLT")
    assert line.outcome is LineOutcome.REJECTED and "rejected" in line.reason, line
    assert [r.symbol for r in broker.requests].count("TLT") == 1  # nothing sent after the reject
    assert next(ln for ln in results[0].lines if ln.symbol == "SPY").outcome is LineOutcome.FILLED
    intent = await restarted.repo.get_intent(tlt0)
    assert intent is not None and intent.state == IntentState.REJECTED


async def test_resume_too_late_closes_run_and_cancels_open_orders(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES, script=fill_at_step(99))
    first = make_actor(broker)
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    await first.repo.create_run("run-late", mode="paper", plan=plan_to_dict(plan))
    await first.repo.set_run_status("run-late", "executing")
    coid = client_order_id("run-late", "SPY", OrderSide.BUY, 0)
    await first.repo.add_intent(
        client_order_id=coid,
        run_id="run-late",
        symbol="SPY",
        side=OrderSide.BUY,
        step=0,
        order_type=OrderType.LIMIT,
        qty=D(5),
        limit_price=D(100),
        reference_price=D(100),
    )
    from alchemiser.broker.models import OrderRequest

    await broker.submit_order(
        OrderRequest(
            symbol="SPY", side=OrderSide.BUY, type=OrderType.LIMIT, client_order_id=coid, qty=D(5), limit_price=D(100)
        )
    )
    broker.market_open = False
    restarted = make_actor(broker)
    await restarted.actor.start()
    results = await restarted.actor.resume()
    await restarted.actor.stop()
    assert results[0].status is RunStatus.ABANDONED_TOO_LATE and "market closed" in results[0].detail
    assert broker.orders[broker.by_coid[coid]].status.is_terminal
    assert len(broker.requests) == 1
    assert (await restarted.repo.unfinished_runs()) == []


async def test_intent_is_written_before_the_order_is_sent(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES)
    harness = make_actor(broker)
    seen: list[str | None] = []
    original = broker.submit_order

    async def check_intent(request):  # type: ignore[no-untyped-def]
        intent = await harness.repo.get_intent(request.client_order_id)
        seen.append(None if intent is None else intent.state)
        return await original(request)

    broker.submit_order = check_intent  # type: ignore[method-assign]
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    await harness.actor.execute(plan, "run-intent")
    coid = broker.requests[0].client_order_id
    events: list[str] = []
    for _ in range(500):  # the event pump stores the stream's events after the run returned: bounded wait
        events = [e["event"] for e in await harness.repo.events_for(coid)]
        if "fill" in events:
            break
        await asyncio.sleep(0.002)
    await harness.actor.stop()
    assert seen == [IntentState.INTENT]
    assert events == ["pending_new", "new", "fill"]


async def test_market_step_id_and_fast_params(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES, script=fill_at_step(MARKET_STEP))
    harness = make_actor(broker, params=FAST)
    await harness.actor.start()
    plan = await plan_for(broker, {"TLT": D(1)}, whole=("TLT",))
    result = await harness.actor.execute(plan, "r" * 60)  # long run id still gives ≤ 48-char ids
    await harness.actor.stop()
    assert all(len(r.client_order_id) <= 48 for r in broker.requests)
    assert result.lines[0].client_order_ids[-1] == client_order_id("r" * 60, "TLT", OrderSide.BUY, MARKET_STEP)


async def test_strategy_books_attributed_from_fills_and_persisted(clock, make_actor: ActorFactory) -> None:
    from alchemiser.portfolio import AccountState, AssetInfo, PlannerParams, StrategyTarget, plan_rebalance

    broker = FakeBroker(clock, quotes=QUOTES, fractionable=("SPY", "TLT"))
    harness = make_actor(broker)
    await harness.actor.start()
    plan = plan_rebalance(
        [
            StrategyTarget("alpha", D("0.6"), {"SPY": D(1)}),
            StrategyTarget("beta", D("0.4"), {"SPY": D("0.5"), "TLT": D("0.5")}),
        ],
        AccountState(equity=D(100000), cash=D(100000), buying_power=D(100000)),
        {},
        {"SPY": D(100), "TLT": D(50)},
        {"SPY": AssetInfo("SPY"), "TLT": AssetInfo("TLT")},
        params=PlannerParams(cash_buffer_pct=D("0.01")),
    )
    result = await harness.actor.execute(plan, "run-books")
    await harness.actor.stop()
    assert result.status is RunStatus.COMPLETED
    spy = plan.line("SPY").delta_qty
    alpha, beta = harness.actor.books.book("alpha"), harness.actor.books.book("beta")
    assert alpha.qty("SPY") + beta.qty("SPY") == spy
    assert abs(alpha.qty("SPY") / spy - D("0.75")) < D("0.000001")  # 0.6 of 0.8
    assert beta.qty("TLT") == plan.line("TLT").delta_qty
    # a new actor on the same store sees the same books
    again = make_actor(broker)
    await again.actor.start()
    await again.actor.stop()
    assert again.actor.books.book("alpha").qty("SPY") == alpha.qty("SPY")
    assert again.actor.books.book("beta").holding("TLT").cost == beta.holding("TLT").cost


async def test_daily_order_cap_counts_ladder_steps_and_blocks_by_name(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES, script=fill_at_step(2))
    harness = make_actor(broker, risk=RiskParams(max_daily_orders=3, max_turnover=None, max_position_weight=None))
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D("0.5"), "TLT": D("0.5")}, whole=("SPY", "TLT"))
    result = await harness.actor.execute(plan, "run-cap")
    await harness.actor.stop()
    assert len(broker.requests) == 3
    blocked = [ln for ln in result.lines if ln.outcome is LineOutcome.BLOCKED]
    assert blocked and all(ln.reason.startswith("max_daily_orders") for ln in blocked)
    assert harness.metric("alchemiser_execution_rejects_total", {"reason": "max_daily_orders"}) >= 1


async def test_flatten_during_a_run_waits_for_it_and_leaves_nothing(clock, make_actor: ActorFactory) -> None:
    broker = FakeBroker(clock, quotes=QUOTES, positions={"GLD": D(40)}, cash=D(50000), script=fill_at_step(99))
    harness = make_actor(broker)
    original = broker.submit_order
    engaged: list[asyncio.Task[None]] = []

    async def engage_on_first_buy(request):  # type: ignore[no-untyped-def]
        result = await original(request)
        if request.side is OrderSide.BUY and not engaged:
            harness.kill_switch.engaged, harness.kill_switch.action = True, "flatten"
            engaged.append(asyncio.create_task(harness.actor.on_kill_switch(harness.kill_switch)))
        return result

    broker.submit_order = engage_on_first_buy  # type: ignore[method-assign]
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D("0.3"), "TLT": D("0.3"), "GLD": D("0.3")}, whole=("SPY", "TLT", "GLD"))
    assert [line.side.value for line in plan.trades] == ["buy", "buy", "buy"]
    result = await harness.actor.execute(plan, "run-flatten")
    await asyncio.wait_for(engaged[0], timeout=30)
    await harness.actor.stop()
    assert result.status is RunStatus.HALTED
    assert all(o.status.is_terminal for o in broker.orders.values())
    assert {s: q for s, q in broker.positions.items() if q} == {}
    flatten_sells = [i for i, r in enumerate(broker.requests) if r.client_order_id.startswith("alc-flatten")]
    assert flatten_sells and all(r.side is OrderSide.SELL for r in broker.requests[flatten_sells[0] :])


async def test_flatten_interrupted_by_a_crash_resumes_as_a_flatten(clock, make_actor: ActorFactory) -> None:
    from alchemiser.execution.outcomes import flatten_plan

    broker = FakeBroker(clock, quotes=QUOTES, positions={"GLD": D(40), "TLT": D("2.5")})
    first = make_actor(broker)
    plan = flatten_plan(await broker.list_positions())
    await first.repo.create_run("flatten-20260310T180000", mode="paper", plan=plan_to_dict(plan), status="executing")
    restarted = make_actor(broker)
    restarted.kill_switch.engaged, restarted.kill_switch.action = True, "flatten"  # still latched after restart
    await restarted.actor.start()
    results = await restarted.actor.resume()
    await restarted.actor.stop()
    assert [r.status for r in results] == [RunStatus.COMPLETED]
    assert {s: q for s, q in broker.positions.items() if q} == {}
    assert {r.type for r in broker.requests} == {OrderType.MARKET}


@pytest.mark.parametrize("via_stream", [True, False])
async def test_a_failed_fill_write_is_derived_again_not_lost(clock, make_actor: ActorFactory, via_stream: bool) -> None:
    from alchemiser.errors import StoreError

    broker = FakeBroker(clock, quotes=QUOTES, script=fill_at_step(1))
    # the fill reaches us on the stream (the submit reply says pending_new), or in the submit reply itself
    broker.stale_submit_reply = via_stream
    harness = make_actor(broker)
    original = harness.repo.add_fill
    failures = []

    async def flaky_add_fill(fill):  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(fill)
            raise StoreError("disk I/O error (injected)")
        return await original(fill)

    harness.repo.add_fill = flaky_add_fill  # type: ignore[method-assign]
    await harness.actor.start()
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    result = await harness.actor.execute(plan, "run-store-fault")
    await harness.actor.stop()
    assert failures, "the fault was injected"
    assert result.lines[0].outcome is LineOutcome.FILLED
    assert harness.metric("alchemiser_execution_watchdog_resolutions_total") >= 1  # REST derived it again
    stored = await harness.repo.fills_for_run("run-store-fault")
    assert sum(f.qty for f in stored) == plan.line("SPY").delta_qty == sum(f.qty for f in broker.fills)


async def test_resume_close_to_the_close_is_too_late(clock, make_actor: ActorFactory) -> None:
    from datetime import timedelta

    from alchemiser.broker.models import MarketClock

    broker = FakeBroker(clock, quotes=QUOTES)

    async def closing_soon() -> MarketClock:
        now = clock.now()
        return MarketClock(
            timestamp=now, is_open=True, next_open=now + timedelta(hours=18), next_close=now + timedelta(minutes=2)
        )

    broker.get_clock = closing_soon  # type: ignore[method-assign]
    first = make_actor(broker)
    plan = await plan_for(broker, {"SPY": D(1)}, whole=("SPY",))
    await first.repo.create_run("run-closing", mode="paper", plan=plan_to_dict(plan))
    harness = make_actor(
        broker, params=ExecutionParams(step_wait_seconds=5, ack_sla_seconds=2, resume_cutoff_minutes=5)
    )
    await harness.actor.start()
    results = await harness.actor.resume()
    await harness.actor.stop()
    assert results[0].status is RunStatus.ABANDONED_TOO_LATE
    assert "minutes to the close" in results[0].detail
    assert broker.requests == []


def _guarded(board: PlanBoard, token: str | None) -> Starlette:
    """The plan routes behind the daemon's bearer-token middleware, as the daemon serves them."""
    app = Starlette(routes=plan_routes(board))
    secret = SecretStr(token) if token is not None else None
    app.add_middleware(BearerAuthMiddleware, token=lambda: secret, log=get_logger("http"))
    return app

"""Units: client order ids, the order state machine, plan serialisation, Settings mapping, ladder prices, store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alchemiser.broker.enums import OrderSide, OrderStatus, TradeEvent
from alchemiser.broker.models import Order, Quote, TradeUpdate
from alchemiser.execution import (
    ExecutionParams,
    client_order_id,
    execution_params_from,
    planner_params_from,
    risk_params_from,
)
from alchemiser.execution.ladder import ladder_price, tick_for
from alchemiser.execution.serialize import plan_from_dict, plan_to_dict
from alchemiser.execution.state import OrderTracker
from alchemiser.portfolio import AccountState, AssetInfo, KillSwitchAction, StrategyTarget, plan_rebalance
from alchemiser.store.execution import ExecutionRepository, FillRecord

D = Decimal
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------------------ client order ids


@given(
    run=st.text(min_size=1, max_size=80),
    symbol=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ./", min_size=1, max_size=20),
    step=st.integers(min_value=0, max_value=99),
)
def test_client_order_ids_are_deterministic_short_and_safe(run: str, symbol: str, step: int) -> None:
    coid = client_order_id(run, symbol, OrderSide.BUY, step)
    assert coid == client_order_id(run, symbol, OrderSide.BUY, step)
    assert len(coid) <= 48 and coid.startswith("alc-")
    assert all(c.isalnum() or c == "-" for c in coid)
    assert coid != client_order_id(run, symbol, OrderSide.SELL, step)


def test_client_order_ids_differ_for_every_input_even_when_truncated() -> None:
    base = "x" * 30
    ids = {
        client_order_id(base + "a", "SPY", OrderSide.BUY, 0),
        client_order_id(base + "b", "SPY", OrderSide.BUY, 0),
        client_order_id(base + "a", "SPY", OrderSide.BUY, 1),
        client_order_id(base + "a", "SPY", OrderSide.SELL, 0),
        client_order_id(base + "a", "SPY.A", OrderSide.BUY, 0),
        client_order_id(base + "a", "SPYA", OrderSide.BUY, 0),
    }
    assert len(ids) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "SPY", OrderSide.BUY, 0), "run id"),
        (("r", "", OrderSide.BUY, 0), "symbol"),
        (("r", "SPY", OrderSide.UNKNOWN, 0), "buy or sell"),
        (("r", "SPY", OrderSide.BUY, 100), "outside 0..99"),
    ],
)
def test_client_order_id_bad_input(args: tuple[str, str, OrderSide, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        client_order_id(*args)


# ------------------------------------------------------------------------------------------ state machine


def order(status: OrderStatus, filled: str = "0", avg: str | None = None, at: int = 0) -> Order:
    return Order(
        id="o1",
        client_order_id="c1",
        symbol="SPY",
        side=OrderSide.BUY,
        status=status,
        qty=D(10),
        filled_qty=D(filled),
        filled_avg_price=None if avg is None else D(avg),
        created_at=T0,
        updated_at=T0 + timedelta(seconds=at),
    )


def update(
    event: TradeEvent, o: Order, *, exec_id: str | None = None, qty: str | None = None, price: str | None = None
) -> TradeUpdate:
    return TradeUpdate(
        event=event,
        order=o,
        execution_id=exec_id,
        qty=None if qty is None else D(qty),
        price=None if price is None else D(price),
    )


def test_tracker_counts_each_fill_once_and_ignores_stale_and_backwards() -> None:
    tracker = OrderTracker("c1")
    assert tracker.apply_event(update(TradeEvent.NEW, order(OrderStatus.NEW, at=1))).accepted
    partial = update(
        TradeEvent.PARTIAL_FILL,
        order(OrderStatus.PARTIALLY_FILLED, "4", "100", at=2),
        exec_id="e1",
        qty="4",
        price="100",
    )
    first = tracker.apply_event(partial)
    assert [(f.qty, f.price) for f in first.fills] == [(D(4), D(100))]
    assert tracker.apply_event(partial).reason == "duplicate"
    # an older snapshot (out of order) changes nothing
    assert tracker.apply_snapshot(order(OrderStatus.NEW, at=1)).reason == "stale filled_qty"
    # a "new" event with the same filled qty but earlier in the lifecycle is refused
    assert (
        tracker.apply_event(update(TradeEvent.NEW, order(OrderStatus.NEW, "4", "100", at=3))).reason
        == "backwards status"
    )
    # REST shows the order filled before the stream says so: the missing 6 come from the average price
    done = tracker.apply_snapshot(order(OrderStatus.FILLED, "10", "101.2", at=5))
    assert [(f.qty, f.price) for f in done.fills] == [(D(6), D("102"))]
    assert tracker.terminal
    # the stream's late fill event for the same quantity adds nothing; nothing leaves a terminal state
    late = update(TradeEvent.FILL, order(OrderStatus.FILLED, "10", "101.2", at=4), exec_id="e2", qty="6", price="102")
    assert tracker.apply_event(late).fills == ()
    assert tracker.apply_snapshot(order(OrderStatus.CANCELED, "10", "101.2", at=6)).reason == "terminal"
    assert tracker.status is OrderStatus.FILLED and tracker.filled_qty == 10


def test_tracker_seeded_after_restart_does_not_recount() -> None:
    tracker = OrderTracker("c1", base_filled=D(4), base_value=D(400))
    applied = tracker.apply_snapshot(order(OrderStatus.FILLED, "10", "101.2", at=5))
    assert [(f.qty, f.price) for f in applied.fills] == [(D(6), D("102"))]


def test_tracker_ignores_other_orders() -> None:
    other = order(OrderStatus.NEW).model_copy(update={"client_order_id": "c2"})
    assert OrderTracker("c1").apply_snapshot(other).reason == "other order"


# ------------------------------------------------------------------------------------------ ladder


def test_ladder_prices_sit_inside_the_spread_on_the_tick() -> None:
    quote = Quote(symbol="SPY", t=T0, bp=D("100.00"), ap=D("100.10"))
    assert [ladder_price(quote, OrderSide.BUY, f) for f in (0.5, 0.75, 0.95)] == [D("100.05"), D("100.08"), D("100.10")]
    assert [ladder_price(quote, OrderSide.SELL, f) for f in (0.5, 0.75, 0.95)] == [
        D("100.05"),
        D("100.02"),
        D("100.00"),
    ]
    penny = Quote(symbol="X", t=T0, bp=D("0.5010"), ap=D("0.5030"))
    assert tick_for(penny.bid_price) == D("0.0001")
    assert ladder_price(penny, OrderSide.BUY, 0.5) == D("0.5020")
    with pytest.raises(ValueError, match="unusable quote"):
        ladder_price(Quote(symbol="X", t=T0, bp=D(0), ap=D(1)), OrderSide.BUY, 0.5)


# ------------------------------------------------------------------------------------------ params / settings


def test_settings_mapping_converts_units_and_validates() -> None:
    from alchemiser.config import ExecutionSettings, RiskSettings

    risk = risk_params_from(RiskSettings(drawdown_halt_pct=20.0, kill_switch_action="flatten"))  # type: ignore[arg-type]
    assert risk.drawdown_halt_pct == D("0.2") and risk.kill_switch_action is KillSwitchAction.FLATTEN
    assert planner_params_from(RiskSettings()).cash_buffer_pct == D("0.01")  # type: ignore[arg-type]
    params = execution_params_from(ExecutionSettings(ladder_steps=[0.4, 0.9], approval_mode=True))  # type: ignore[arg-type]
    assert params.ladder_steps == (0.4, 0.9) and params.approval_mode
    with pytest.raises(ValueError, match="ladder_steps"):
        ExecutionParams(ladder_steps=(1.5,))
    with pytest.raises(ValueError, match="at least one step"):
        ExecutionParams(ladder_steps=())


def test_plan_round_trips_through_json() -> None:
    plan = plan_rebalance(
        [StrategyTarget("a", D("0.7"), {"SPY": D(1)}), StrategyTarget("b", D("0.3"), {"TLT": D(1)})],
        AccountState(equity=D(10000), cash=D(5000), buying_power=D(5000)),
        {"SPY": D(20), "GLD": D(3)},
        {"SPY": D(100), "TLT": D(50), "GLD": D(200)},
        {s: AssetInfo(s) for s in ("SPY", "TLT", "GLD")},
    )
    assert plan_from_dict(plan_to_dict(plan)) == plan


# ------------------------------------------------------------------------------------------ repository


async def test_repository_is_idempotent_and_keeps_books(repo: ExecutionRepository) -> None:
    assert await repo.create_run("r1", mode="paper", plan={"lines": []})
    assert not await repo.create_run("r1", mode="paper", plan={"lines": []})
    assert [r.run_id for r in await repo.unfinished_runs()] == ["r1"]
    fill = FillRecord("o1:5", "c1", "o1", "r1", "SPY", OrderSide.BUY, D(5), D(100), D(5), T0, "stream")
    assert await repo.add_fill(fill)
    assert not await repo.add_fill(fill)
    assert [f.qty for f in await repo.fills_for_order("c1")] == [D(5)]
    await repo.save_books({"a": {"SPY": (D(5), D(500), D(0))}}, {"SPY": {"a": D(2)}})
    holdings, pending = await repo.load_books()
    assert holdings == {"a": {"SPY": (D(5), D(500), D(0))}} and pending == {"SPY": {"a": D(2)}}
    assert await repo.raise_high_water_mark(D(1000)) == D(1000)
    assert await repo.raise_high_water_mark(D(900)) == D(1000)
    await repo.set_run_status("r1", "completed", finished=True, result={"ok": True})
    assert await repo.unfinished_runs() == []
    from alchemiser.errors import StoreError

    with pytest.raises(StoreError, match="does not exist"):
        await repo.set_run_status("nope", "completed")


def test_harness_refuses_bad_targets_before_connecting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "alchemiser.execution.harness",
            "--store",
            str(tmp_path / "h.db"),
            "--exchange-url",
            "http://127.0.0.1:9",
            "--run-id",
            "r",
            "--targets",
            "SPY=0.5,TLT",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "'TLT' is not SYMBOL=WEIGHT" in done.stderr
    assert not (tmp_path / "h.db").exists()

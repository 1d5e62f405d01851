"""Property: after any sequence of orders, fills and cancels, value is conserved.

cash + Σ qty × mid(now) == start cash − costs + Σ fill qty × side × (mid(now) − mid at the fill)

where costs = Σ fill qty × side × (fill price − mid at the fill) ≥ 0 (the spread and slippage paid). Exact in
Decimal. Also: positions equal the signed sum of fills, and no order fills more than it asked for.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alchemiser.broker.enums import OrderSide
from alchemiser.errors import NotCancelableError, OrderRejectedError
from tests.sim.conftest import MIDDAY, MakeExchange, order

SYMBOLS = ("SPY", "TQQQ", "BIL", "SOXL", "UVXY")

actions = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell", "buy_notional", "limit_buy", "cancel", "wait"]),
        st.sampled_from(SYMBOLS),
        st.integers(min_value=1, max_value=40),
        st.integers(min_value=0, max_value=600),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=actions, partial_rate=st.sampled_from([0.0, 0.1, 0.7]))
def test_value_is_conserved(
    make_exchange: MakeExchange, steps: list[tuple[str, str, int, int]], partial_rate: float
) -> None:
    ex, _ = make_exchange(partial_fill_rate=partial_rate, partial_fill_delay=1.0, seed=len(steps))
    now = MIDDAY
    placed: list[str] = []
    for i, (kind, symbol, size, wait) in enumerate(steps):
        try:
            if kind == "buy":
                placed.append(ex.submit(order(symbol, qty=str(size), cid=f"o{i}"), now).id)
            elif kind == "sell":
                held = ex.position_qty(symbol)
                qty = min(Decimal(size), held) if held > 0 else Decimal(size)
                placed.append(ex.submit(order(symbol, "sell", qty=str(qty), cid=f"o{i}"), now).id)
            elif kind == "buy_notional":
                placed.append(ex.submit(order(symbol, qty=None, notional=str(size * 25), cid=f"o{i}"), now).id)
            elif kind == "limit_buy":
                mid = ex.quote(symbol, now).mid
                limit = (mid * Decimal("0.998")).quantize(Decimal("0.01"))
                placed.append(ex.submit(order(symbol, qty=str(size), limit=str(limit), cid=f"o{i}"), now).id)
            elif kind == "cancel" and placed:
                ex.cancel(placed[size % len(placed)], now)
        except (OrderRejectedError, NotCancelableError):
            pass
        now += timedelta(seconds=wait)
        ex.advance(now)

    fills = ex.fills_with_mids()
    costs = Decimal(0)
    drift = Decimal(0)
    expected_positions: dict[str, Decimal] = {}
    for activity, mid_at_fill in fills:
        sign = 1 if activity.side is OrderSide.BUY else -1
        costs += sign * activity.qty * (activity.price - mid_at_fill)
        drift += sign * activity.qty * (ex.quote(activity.symbol, now).mid - mid_at_fill)
        expected_positions[activity.symbol] = expected_positions.get(activity.symbol, Decimal(0)) + sign * activity.qty
    value = ex.cash + sum((p.qty * ex.quote(p.symbol, now).mid for p in ex.positions(now)), Decimal(0))
    assert costs >= 0
    assert value == Decimal(100_000) - costs + drift
    assert {p.symbol: p.qty for p in ex.positions(now)} == {s: q for s, q in expected_positions.items() if q != 0}
    for order_id in placed:
        o = ex.get_order(order_id)
        if o.qty is not None:
            assert o.filled_qty <= o.qty
        else:
            assert o.notional is not None and o.filled_qty * (o.filled_avg_price or 0) <= o.notional
    assert ex.cash >= 0  # a cash account never goes negative

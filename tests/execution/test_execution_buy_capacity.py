"""Buy sizing under concurrency, over loopback against the simulated exchange.

Regression for the "last buy refused: no cash left" bug: an earlier buy budget counted a just-filled order twice
(once as spent, once as still open until its cancel was confirmed), so with concurrent buys the last one was
sometimes refused. Buys are now sized from one fresh account read (buying power holds open orders atomically with
their fills); on margin accounts our own open buys are subtracted from cash so the account never borrows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest

from alchemiser.broker.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from alchemiser.broker.models import OrderRequest, Quote
from alchemiser.errors import BrokerTransientError, RateLimitedError
from alchemiser.execution import ExecutionParams, LineOutcome, RunStatus
from alchemiser.execution.buying_power import is_margin_account
from alchemiser.execution.line import RunState
from alchemiser.execution.results import LineResult
from alchemiser.portfolio.planner import PlanLine
from alchemiser.sim import ExchangeConfig
from tests.execution.loopback import loopback_stack
from tests.execution.test_execution_loopback import check_end_state

D = Decimal
pytestmark = pytest.mark.timeout(120)
# six buys from all cash: the planner leaves only its 1 % cash buffer
FILLED = OrderStatus.FILLED
ALL_IN = {"SPY": D("0.2"), "TLT": D("0.2"), "QQQ": D("0.2"), "GLD": D("0.2"), "IEF": D("0.1"), "BIL": D("0.1")}


@pytest.mark.parametrize(("margin", "seed"), [(D(1), 3), (D(1), 8), (D(2), 5)])
async def test_concurrent_buys_spending_nearly_all_cash_all_fill(tmp_path: Path, margin: Decimal, seed: int) -> None:
    exchange = ExchangeConfig(seed=seed, partial_fill_rate=0.5, margin_multiplier=margin)
    params = ExecutionParams(step_wait_seconds=20, ack_sla_seconds=10, max_concurrent_orders=6)
    async with loopback_stack(tmp_path, exchange=exchange, params=params, seed=seed) as stack:
        plan = await stack.plan(ALL_IN)
        assert len(plan.buys) == 6
        result = await stack.actor.execute(plan, f"all-in-{seed}")
        assert result.status is RunStatus.COMPLETED, [ln for ln in result.lines if ln.outcome is not LineOutcome.FILLED]
        assert all(line.outcome is LineOutcome.FILLED for line in result.lines)
        await check_end_state(stack, plan, f"all-in-{seed}", value_tolerance=D(1))
        assert (await stack.broker.get_account()).cash >= 0


async def test_margin_account_never_borrows_against_our_open_buys(tmp_path: Path) -> None:
    """On a margin account ``cash`` ignores open orders and ``buying_power`` is twice the equity, so neither alone
    stops a second concurrent buy from spending cash the first one's resting order already holds. After planning,
    half the cash is spent elsewhere: the two buys (planned for 90 % of the old cash) must share what is left."""
    # orders wait 5 s for their acknowledgement (holding cash), then the marketable limit at the ask fills
    exchange = ExchangeConfig(
        initial_cash=D(100000), margin_multiplier=D(2), partial_fill_rate=0.0, ack_delay=5.0, seed=2
    )
    params = ExecutionParams(ladder_steps=(1.0,), step_wait_seconds=30, ack_sla_seconds=10, max_concurrent_orders=2)
    async with loopback_stack(tmp_path, exchange=exchange, params=params) as stack:
        plan = await stack.plan({"SPY": D("0.45"), "TLT": D("0.45")})
        real_quotes = stack.broker.get_latest_quotes
        spend = asyncio.Lock()
        spent = False

        async def spend_then_quote(symbols: Sequence[str]) -> dict[str, Quote]:
            # after the plan passed its checks, half the cash is spent elsewhere; both lines see the cash after it
            nonlocal spent
            async with spend:
                if not spent:
                    spent = True
                    await stack.broker.submit_order(
                        OrderRequest(
                            symbol="IEF",
                            side=OrderSide.BUY,
                            type=OrderType.MARKET,
                            time_in_force=TimeInForce.DAY,
                            client_order_id="elsewhere-1",
                            notional=D(50000),
                        )
                    )
                    async with asyncio.timeout(30):
                        while (await stack.broker.get_order_by_client_id("elsewhere-1")).status is not FILLED:
                            await stack.clock.sleep(1)
            return await real_quotes(symbols)

        stack.broker.get_latest_quotes = spend_then_quote  # type: ignore[method-assign]
        result = await stack.actor.execute(plan, "margin-held")
        account = await stack.broker.get_account()
        assert account.multiplier == "2" and account.buying_power > account.cash  # a margin account indeed
        assert account.cash >= 0, f"borrowed {-account.cash}"
        sized = [ln for ln in result.lines if ln.outcome is LineOutcome.PARTIALLY_FILLED]
        assert sized and all("buying_power" in ln.reason for ln in sized), result.lines
        assert sum((ln.filled_qty * (ln.avg_price or D(0)) for ln in result.lines), D(0)) > D(45000)


async def test_margin_account_never_borrows_against_a_foreign_open_buy(tmp_path: Path) -> None:
    """An open buy placed elsewhere (not by us) holds cash too: the buy is sized to what it leaves."""
    exchange = ExchangeConfig(initial_cash=D(100000), margin_multiplier=D(2), partial_fill_rate=0.0, seed=2)
    async with loopback_stack(tmp_path, exchange=exchange) as stack:
        plan = await stack.plan({"SPY": D("0.5")})
        real_quotes = stack.broker.get_latest_quotes
        held = D(0)

        async def other_order_then_quote(symbols: Sequence[str]) -> dict[str, Quote]:
            # after the plan passed its checks, an order placed elsewhere rests far below the market, holding $60k
            nonlocal held
            if not held:
                bid = (await real_quotes(["TLT"]))["TLT"].bid_price
                limit = (bid * D("0.8")).quantize(D("0.01"), rounding=ROUND_DOWN)
                qty = (D(60000) / limit).to_integral_value(rounding=ROUND_DOWN)
                held = qty * limit
                await stack.broker.submit_order(
                    OrderRequest(
                        symbol="TLT",
                        side=OrderSide.BUY,
                        type=OrderType.LIMIT,
                        time_in_force=TimeInForce.DAY,
                        limit_price=limit,
                        client_order_id="elsewhere-2",
                        qty=qty,
                    )
                )
            return await real_quotes(symbols)

        stack.broker.get_latest_quotes = other_order_then_quote  # type: ignore[method-assign]
        result = await stack.actor.execute(plan, "margin-foreign")
        account = await stack.broker.get_account()
        line = result.lines[0]
        assert line.outcome is LineOutcome.PARTIALLY_FILLED and "buying_power" in line.reason, line
        assert line.filled_qty > 0
        assert account.cash >= held, (account.cash, held)  # what was bought + what the other order holds fits


def test_margin_account_detection() -> None:
    assert is_margin_account("4") and is_margin_account("2") and is_margin_account(None)
    assert is_margin_account("garbage")  # unknown: assume margin, the safe side
    assert not is_margin_account("1")


class UnreadableAccount:
    """``BuyingPower.available`` as after the client's retries are spent: it raises for the first ``failures`` reads
    (all of them when None), then reads the account as usual."""

    def __init__(self, real: Callable[[], Awaitable[Decimal]], failures: int | None) -> None:
        self.real, self.failures, self.raised = real, failures, 0

    async def __call__(self) -> Decimal:
        if self.failures is None or self.raised < self.failures:
            self.raised += 1
            raise RateLimitedError("/v2/account: rate limited (rate limit exceeded)", endpoint="/v2/account")
        return await self.real()


async def test_a_buying_power_read_that_fails_skips_the_step_not_the_run(tmp_path: Path) -> None:
    """A 429 storm outlasting the client's retries while a buy is sized: that step sends nothing, the next step reads
    again, and the run still completes (before, the error escaped the line and failed the whole run)."""
    params = ExecutionParams(step_wait_seconds=20, ack_sla_seconds=10, max_concurrent_orders=3)
    async with loopback_stack(tmp_path, params=params, seed=11) as stack:
        lines = stack.actor._lines
        unreadable = UnreadableAccount(lines._buying_power.available, failures=2)
        lines._buying_power.available = unreadable  # type: ignore[method-assign]
        plan = await stack.plan({"SPY": D("0.3"), "TLT": D("0.3"), "GLD": D("0.3")})
        result = await stack.actor.execute(plan, "skip-step")
        assert unreadable.raised == 2
        assert result.status is RunStatus.COMPLETED, result.as_dict()
        await check_end_state(stack, plan, "skip-step", value_tolerance=D(1))
        # the first read of all is some line's step 0: that step sent nothing, its line went on to step 1
        sent_at_step_0 = {i.symbol for i in await stack.repo.intents_for_run("skip-step") if i.step == 0}
        assert len(sent_at_step_0) < len(plan.buys), sent_at_step_0


async def test_buying_power_unreadable_throughout_blocks_the_buys_and_ends_the_run(tmp_path: Path) -> None:
    """The account cannot be read for any buy: nothing is bought (never sized blind), each buy line ends blocked
    with the reason, and the run finishes with that outcome instead of raising."""
    params = ExecutionParams(step_wait_seconds=20, ack_sla_seconds=10, max_concurrent_orders=3)
    async with loopback_stack(tmp_path, params=params, seed=12) as stack:
        lines = stack.actor._lines
        lines._buying_power.available = UnreadableAccount(lines._buying_power.available, failures=None)  # type: ignore[method-assign]
        plan = await stack.plan({"SPY": D("0.5"), "TLT": D("0.4")})
        result = await stack.actor.execute(plan, "never-readable")
        assert result.status is not RunStatus.COMPLETED
        assert [line.outcome for line in result.lines] == [LineOutcome.BLOCKED] * 2, result.as_dict()
        assert all("account unreadable" in line.reason for line in result.lines)
        assert await stack.repo.intents_for_run("never-readable") == []  # not one order sent
        assert await stack.broker.list_positions() == []


async def test_a_line_that_raises_cancels_its_siblings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error escaping one line fails the run and cancels the other lines, rather than leaving them working orders
    that nobody observes while the daemon records the decision as failed."""
    params = ExecutionParams(step_wait_seconds=20, ack_sla_seconds=10, max_concurrent_orders=3)
    async with loopback_stack(tmp_path, params=params, seed=13) as stack:
        plan = await stack.plan({"SPY": D("0.3"), "TLT": D("0.3"), "GLD": D("0.3")})
        started: set[str] = set()
        cancelled: set[str] = set()

        async def line_execute(state: RunState, line: PlanLine) -> LineResult:
            started.add(line.symbol)
            if line.symbol == "TLT":
                await asyncio.sleep(0.05)
                raise BrokerTransientError("/v2/account: no reply within 10s (ReadTimeout)", endpoint="/v2/account")
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.add(line.symbol)
                raise
            raise AssertionError("unreachable")

        monkeypatch.setattr(stack.actor._lines, "execute", line_execute)
        with pytest.raises(BrokerTransientError, match="no reply"):
            await stack.actor.execute(plan, "one-raises")
        assert started == {"SPY", "TLT", "GLD"}
        assert cancelled == {"SPY", "GLD"}
        assert (await stack.repo.get_run("one-raises")).status == RunStatus.EXECUTING.value  # resumes from the store

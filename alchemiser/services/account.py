"""Account queries: the live account (equity, cash, buying power, today's P&L) and the equity curve since the first
run, with its drawdown and a benchmark (SPY) over the same days.

The curve is built only from recorded snapshots (``alchemiser.store.account``): one point per New York session —
the last snapshot taken that day — so nothing the daemon did not observe is drawn. The benchmark is scaled to the
curve's first equity so both lines start together.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from alchemiser.broker.models import Account
from alchemiser.errors import AlchemiserError
from alchemiser.services.format import NEW_YORK
from alchemiser.services.sources import BenchmarkCloses, LiveSources
from alchemiser.store.account import AccountHistory, AccountSnapshot

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class AccountView:
    equity: Decimal | None
    cash: Decimal | None
    buying_power: Decimal | None
    day_pnl: Decimal | None  # equity - the broker's last_equity (previous close)
    day_pnl_fraction: Decimal | None
    live: bool  # False: the broker did not answer, the values are the last snapshot's
    as_of: datetime | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CurvePoint:
    session: date
    at: datetime
    equity: Decimal
    drawdown: Decimal  # fraction below the running peak (<= 0)
    benchmark: Decimal | None  # the benchmark's close scaled to the first equity


@dataclass(frozen=True, slots=True)
class EquityCurve:
    points: tuple[CurvePoint, ...]
    benchmark_symbol: str
    total_return: Decimal | None
    benchmark_return: Decimal | None
    max_drawdown: Decimal
    note: str | None = None


def day_pnl(account: Account) -> tuple[Decimal | None, Decimal | None]:
    """Today's P&L against the broker's ``last_equity`` (the previous session's close), in money and as a fraction."""
    if account.last_equity is None:
        return None, None
    pnl = account.equity - account.last_equity
    return pnl, (pnl / account.last_equity if account.last_equity else None)


async def account_view(sources: LiveSources, history: AccountHistory) -> AccountView:
    """The broker's account now; if it does not answer in time, the last snapshot with the reason."""
    try:
        async with asyncio.timeout(sources.broker_timeout_seconds):
            account = await sources.account()
    except (TimeoutError, AlchemiserError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
        last = await history.latest()
        return AccountView(
            equity=None if last is None else last.equity,
            cash=None if last is None else last.cash,
            buying_power=None if last is None else last.buying_power,
            day_pnl=None,
            day_pnl_fraction=None,
            live=False,
            as_of=None if last is None else last.taken_at,
            error=f"broker unreachable ({reason}); showing the last snapshot",
        )
    pnl, fraction = day_pnl(account)
    return AccountView(
        equity=account.equity,
        cash=account.cash,
        buying_power=account.buying_power,
        day_pnl=pnl,
        day_pnl_fraction=fraction,
        live=True,
        as_of=sources.now(),
    )


def daily_points(snapshots: list[AccountSnapshot]) -> list[tuple[date, datetime, Decimal]]:
    """The last snapshot of each New York day, in order."""
    by_day: dict[date, tuple[datetime, Decimal]] = {}
    for snap in snapshots:
        day = snap.session or snap.taken_at.astimezone(NEW_YORK).date()
        current = by_day.get(day)
        if current is None or snap.taken_at >= current[0]:
            by_day[day] = (snap.taken_at, snap.equity)
    return [(day, at, equity) for day, (at, equity) in sorted(by_day.items())]


async def equity_curve(
    history: AccountHistory, benchmark: BenchmarkCloses | None, symbol: str = "SPY", *, wait: float = 2.0
) -> EquityCurve:
    """The curve from the recorded snapshots; the benchmark's closes are awaited at most ``wait`` seconds."""
    points = daily_points(await history.history())
    if not points:
        return EquityCurve((), symbol, None, None, ZERO, note="no account snapshot recorded yet")
    closes: dict[date, Decimal] = {}
    note = None
    if benchmark is None:
        note = f"{symbol} comparison unavailable: no price source"
    else:
        try:
            async with asyncio.timeout(wait):
                closes = await benchmark(points[0][0], points[-1][0])
        except (TimeoutError, AlchemiserError) as exc:
            note = f"{symbol} comparison unavailable: {'timed out' if isinstance(exc, TimeoutError) else exc}"
    first_equity = points[0][2]
    base = next((closes[d] for d, _, _ in points if d in closes), None)
    peak = ZERO
    out: list[CurvePoint] = []
    for day, at, equity in points:
        peak = max(peak, equity)
        drawdown = (equity / peak - 1) if peak > 0 else ZERO
        bench = None if base is None or day not in closes else first_equity * closes[day] / base
        out.append(CurvePoint(day, at, equity, drawdown, bench))
    total = (points[-1][2] / first_equity - 1) if first_equity else None
    bench_points = [p.benchmark for p in out if p.benchmark is not None]
    bench_return = (bench_points[-1] / bench_points[0] - 1) if len(bench_points) >= 2 and bench_points[0] else None
    if note is None and closes and base is None:
        note = f"{symbol} has no close on the curve's days"
    return EquityCurve(
        points=tuple(out),
        benchmark_symbol=symbol,
        total_return=total,
        benchmark_return=bench_return,
        max_drawdown=min((p.drawdown for p in out), default=ZERO),
        note=note,
    )

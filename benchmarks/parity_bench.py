"""Parity cost per session (replay, shadow, attribution) for the three default symphonies; one simulated year.

For each of the last ``--sessions`` sessions of the simulated exchange's synthetic market (what ``make run``
trades on; the shared bar folder lacks some of the symbols), a stand-in account decides as the daemon does (each
symphony on its warm-up window through the previous close, merged by capital weight), trades to the targets at the
decision price plus 3 bps (every seventh order fills two thirds), and is marked at the close. Timed: what the
parity monitor computes off the event loop for that session — every strategy's replay with the bars known now (the
window plus the new session; skipped when the window's digest is unchanged), the shadow's plan and fills, and the
attribution — without the store reads and writes. Timed apart: the replay when it must evaluate (a revised bar).
The live decision itself is not timed (the daemon already made it).

    PYTHONPATH=. .venv/bin/python benchmarks/parity_bench.py [--sessions 252] [--end YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from datetime import date
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from alchemiser.backtest.fills import QuoteFillModel
from alchemiser.backtest.result import Costs
from alchemiser.dsl import Symphony, load_symphony, requirements
from alchemiser.parity.attribution import attribute_session
from alchemiser.parity.facts import DecisionLeg, LiveSession, OrderFacts
from alchemiser.parity.flips import window_digest
from alchemiser.parity.replay import evaluate_on, merged_targets, replay_strategy
from alchemiser.parity.shadow import ShadowRule, ShadowState, step_shadow
from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.market import day_date
from alchemiser.sim.synthetic import SyntheticMarket

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = (("nuclear", Decimal("0.30")), ("tecl", Decimal("0.50")), ("klm", Decimal("0.20")))
Closes = dict[str, list[tuple[date, float]]]


def _load(end: date) -> tuple[list[tuple[str, Symphony, Decimal, int]], Closes]:
    """The default symphonies and the simulated exchange's synthetic closes for every symbol they use (the shared
    bar folder lacks some of them): what ``make run`` trades on."""
    strategies = []
    for name, weight in DEFAULTS:
        symphony = load_symphony(ROOT / "config" / "strategies" / f"{name}.clj")
        needs = requirements(symphony)
        strategies.append((name, symphony, weight, min(2000, max(needs.longest, 1))))
    symbols = sorted(set().union(*(requirements(s).symbols for _, s, _, _ in strategies)))
    market = SyntheticMarket(XnysCalendar(), seed=7, start=end, history_years=12, extra_symbols=symbols)
    closes: Closes = {}
    for symbol in symbols:
        series = market.series(symbol)
        if series is None:
            raise SystemExit(f"the synthetic market has no {symbol}")
        closes[symbol] = [(day_date(int(d)), float(c)) for d, c in zip(series.days, series.close, strict=True)]
    return strategies, closes


class Account:
    """The stand-in live account: cash and positions in Decimal."""

    def __init__(self, cash: Decimal) -> None:
        self.cash = cash
        self.positions: dict[str, Decimal] = {}

    def equity(self, marks: dict[str, Decimal]) -> Decimal:
        return self.cash + sum((q * marks[s] for s, q in self.positions.items()), Decimal(0))

    def trade(self, targets: dict[str, Decimal], prices: dict[str, Decimal], k: int) -> tuple[OrderFacts, ...]:
        equity = self.equity(prices) * Decimal("0.99")
        orders = []
        for symbol in sorted(set(targets) | set(self.positions)):
            want = (targets.get(symbol, Decimal(0)) * equity / prices[symbol]).quantize(Decimal("0.001"), ROUND_DOWN)
            delta = want - self.positions.get(symbol, Decimal(0))
            if abs(delta) * prices[symbol] < 1:
                continue
            side = "buy" if delta > 0 else "sell"
            qty = abs(delta)
            filled = (qty * 2 / 3).quantize(Decimal("0.001"), ROUND_DOWN) if (k + len(orders)) % 7 == 0 else qty
            fill = (prices[symbol] * (1 + Decimal("0.0003") * (1 if side == "buy" else -1))).quantize(Decimal("0.01"))
            sign = 1 if side == "buy" else -1
            self.cash -= sign * filled * fill
            self.positions[symbol] = self.positions.get(symbol, Decimal(0)) + sign * filled
            orders.append(OrderFacts(symbol, side, qty, filled, prices[symbol], fill if filled else None))
        self.positions = {s: q for s, q in self.positions.items() if q}
        return tuple(orders)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=252)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 6, 30), help="last session")
    args = parser.parse_args()
    strategies, closes = _load(args.end)
    common = sorted(set.intersection(*(set(d for d, _ in rows) for rows in closes.values())))
    sessions = common[-args.sessions - 1 :]
    index = {s: {d: i for i, (d, _) in enumerate(rows)} for s, rows in closes.items()}
    capital = {name: weight for name, _, weight, _ in strategies}
    rules = {name: ShadowRule(weight, symphony.rebalance_rule) for name, symphony, weight, _ in strategies}
    account = Account(Decimal(100_000))
    shadow: ShadowState | None = None
    fills = QuoteFillModel(Costs(spread_bps=Decimal(4)))
    per_session: list[float] = []
    replay_ms: list[float] = []
    total_gap = Decimal(0)
    for k, (as_of, day) in enumerate(itertools.pairwise(sessions)):
        decided: dict[str, dict[str, Decimal]] = {}
        work = []
        for name, symphony, _, warmup in strategies:
            symbols = requirements(symphony).symbols
            then = {s: closes[s][max(0, index[s][as_of] - warmup + 1) : index[s][as_of] + 1] for s in symbols}
            now = {s: closes[s][max(0, index[s][as_of] - warmup + 1) : index[s][day] + 1] for s in symbols}
            live = evaluate_on(symphony, then, as_of)
            decided[name] = live.allocation or {}
            work.append((name, symphony, then, now, live))
        prev = {s: Decimal(repr(rows[index[s][as_of]][1])) for s, rows in closes.items()}
        close = {s: Decimal(repr(rows[index[s][day]][1])) for s, rows in closes.items()}
        start_equity, start_cash, start_positions = account.equity(prev), account.cash, dict(account.positions)
        live_targets = merged_targets(decided, capital)
        orders = account.trade(live_targets, prev, k)

        # a revised bar makes the replay evaluate again: time that case on its own (no digests: always evaluates)
        started = time.perf_counter()
        for name, symphony, then, now, live in work:
            replay_strategy(
                name,
                symphony,
                asof=as_of,
                live_allocation=decided[name],
                live_trace={"steps": list(live.steps)},
                bars_then={s: rows[-40:] for s, rows in then.items()},
                bars_now=now,
                starts={s: rows[0][0] for s, rows in then.items() if rows},
            )
        replay_ms.append((time.perf_counter() - started) * 1000)
        digests = [{s: window_digest(rows) for s, rows in then.items()} for _, _, then, _, _ in work]

        started = time.perf_counter()
        replayed = {}
        for (name, symphony, then, now, live), digest in zip(work, digests, strict=True):
            replay = replay_strategy(
                name,
                symphony,
                asof=as_of,
                live_allocation=decided[name],
                live_trace={"steps": list(live.steps)},
                bars_then={s: rows[-40:] for s, rows in then.items()},
                bars_now=now,
                starts={s: rows[0][0] for s, rows in then.items() if rows},
                digests=digest,
            )
            replayed[name] = replay.replayed if replay.error is None else decided[name]
        leg = DecisionLeg(f"D{day}", orders, prev, live_targets, merged_targets(replayed, capital), replayed)
        facts = LiveSession(
            session=day,
            start_cash=start_cash,
            start_positions=start_positions,
            start_equity=start_equity,
            end_equity=account.equity(close),
            end_positions=dict(account.positions),
            decisions=(leg,),
            previous_closes=prev,
            closes=close,
            previous_session=as_of,
        )
        state = shadow or ShadowState.mirror(start_positions, start_equity, prev)
        step = step_shadow(state, facts, fills, rules=rules)
        attribution = attribute_session(facts, step)
        per_session.append((time.perf_counter() - started) * 1000)
        shadow = attribution.shadow_after
        total_gap += attribution.session_gap
        assert sum(attribution.parts.values()) == attribution.session_gap
    ordered = sorted(per_session)
    print(f"sessions: {len(per_session)} ({sessions[1]} .. {sessions[-1]}), strategies: {', '.join(capital)}")
    print(
        f"per session (replay + shadow + attribution): median {statistics.median(per_session):.1f} ms, "
        f"p95 {ordered[int(0.95 * (len(ordered) - 1))]:.1f} ms, max {ordered[-1]:.1f} ms"
    )
    print("  (unchanged bars: the replay is skipped by the window digests, computed at decision time)")
    full = sorted(replay_ms)
    print(
        f"replay that must evaluate (a revised bar), 3 symphonies: median {statistics.median(full):.1f} ms, "
        f"p95 {full[int(0.95 * (len(full) - 1))]:.1f} ms"
    )
    year = sum(per_session) / 1000
    worst = (sum(per_session) + sum(replay_ms)) / 1000
    print(f"one simulated year: {year:.2f} s total ({worst:.2f} s if every session had a revised bar)")
    print(f"cumulative gap {total_gap} on 100,000")
    return 0


if __name__ == "__main__":
    sys.exit(main())

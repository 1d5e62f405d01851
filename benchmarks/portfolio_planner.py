"""Planner time for 500 symbols (3 strategies merged, drift bands, whole/fractional mix, buying-power scaling).

.venv/bin/python benchmarks/portfolio_planner.py [--symbols 500] [--repeat 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from decimal import Decimal

from alchemiser.portfolio import AccountState, AssetInfo, PlannerParams, StrategyTarget, plan_rebalance


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(1)
    symbols = [f"S{i:04d}" for i in range(args.symbols)]
    prices = {s: Decimal(str(round(rng.uniform(5, 800), 2))) for s in symbols}
    assets = {s: AssetInfo(s, fractionable=rng.random() > 0.1) for s in symbols}
    held = rng.sample(symbols, args.symbols // 2)
    positions = {
        s: Decimal(str(round(rng.uniform(1, 300), 4))) if assets[s].fractionable else Decimal(rng.randint(1, 300))
        for s in held
    }
    equity = sum((q * prices[s] for s, q in positions.items()), Decimal(0)) + Decimal(50000)

    def weights(chosen: list[str]) -> dict[str, Decimal]:
        raw = {s: Decimal(rng.randint(1, 10)) for s in chosen}
        total = sum(raw.values())
        return {s: w / total for s, w in raw.items()}

    strategies = [
        StrategyTarget(
            "a", Decimal("0.5"), weights(rng.sample(symbols, args.symbols // 2)), Decimal("0.02"), frozenset(held[:50])
        ),
        StrategyTarget("b", Decimal("0.3"), weights(rng.sample(symbols, args.symbols // 3))),
        StrategyTarget("c", Decimal("0.2"), weights(rng.sample(symbols, args.symbols // 5)), Decimal("0.05")),
    ]
    account = AccountState(equity=equity, cash=Decimal(50000), buying_power=Decimal(40000))
    times = []
    plan = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        plan = plan_rebalance(strategies, account, positions, prices, assets, params=PlannerParams())
        times.append(time.perf_counter() - t0)
    assert plan is not None
    print(
        f"planner, {args.symbols} symbols, 3 strategies: median {statistics.median(times) * 1000:.1f} ms, "
        f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms over {args.repeat} runs "
        f"({len(plan.sells)} sells, {len(plan.buys)} buys, buy scale {plan.totals.buy_scale:.4f})"
    )


if __name__ == "__main__":
    main()

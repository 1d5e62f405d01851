"""The symphony worker process stays lean: it evaluates the configured symphonies with numpy alone (no pandas, no
pyarrow, no pydantic, store or logging stack) and still gives the daemon's in-process answer, trace included."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from alchemiser.config import StrategyEntry
from alchemiser.trading.strategies import SymphonyEngine
from alchemiser.trading.symphony_worker import SymphonyRunner
from tests.daemon.fakes import bar

REPO = Path(__file__).resolve().parents[2]
SESSIONS = 700  # past the 256-bar threshold where long EMAs (RSI, PPO) took pandas' ewm
# Not needed to evaluate; each would cost the worker tens of MiB (pydantic, structlog: the daemon's side).
NOT_IN_WORKER = ("pandas", "pyarrow", "pydantic", "pydantic_settings", "structlog", "sqlite3", "alchemiser.store")


def random_walk_bars(symbols: frozenset[str], seed: int) -> dict[str, list]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    days = [date(2022, 1, 3) + timedelta(days=i) for i in range(SESSIONS)]
    return {
        symbol: [
            bar(day, float(close))
            for day, close in zip(days, 100 * np.exp(np.cumsum(rng.normal(0, 0.02, SESSIONS))), strict=True)
        ]
        for symbol in sorted(symbols)
    }


@pytest.mark.parametrize("name", ["nuclear", "tecl", "klm"])
async def test_the_worker_answers_like_the_daemon_without_importing_pandas(name: str) -> None:
    engine = SymphonyEngine.from_entry(StrategyEntry(file=REPO / f"config/strategies/{name}.clj", weight=1.0))
    runner = SymphonyRunner([engine], worker_start_timeout=300, evaluation_timeout=300)
    try:
        for seed in (1, 2, 3):
            bars = random_walk_bars(engine.symbols, seed)
            session = bars[min(bars)][-1].session_date
            remote = await runner.evaluate(engine, bars, session)
            local = engine.evaluate(bars, session)  # in this process, where pandas is loaded: pandas' ewm
            assert remote == local
        pool = await runner._ready_worker()
        loaded = await asyncio.wrap_future(pool.submit(eval, "sorted(__import__('sys').modules)"))
    finally:
        runner.close()
    assert "alchemiser.dsl" in loaded and "numpy" in loaded  # it did evaluate there
    assert [m for m in loaded if m in NOT_IN_WORKER or m.startswith(tuple(f"{h}." for h in NOT_IN_WORKER))] == []

"""Parity in an accelerated sim run: ≥ 20 sessions with partial fills left unfilled, late fills and a revised bar,
each attributed to its cause; the parts of every session add up to its gap to the cent; the same store and bars
give the same attribution."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from alchemiser.clock import RealClock
from alchemiser.config import ParitySettings
from alchemiser.parity.monitor import ParityMonitor, ParityStrategy
from alchemiser.services.parity import parity_view
from alchemiser.sim.exchange_config import ExchangeConfig
from alchemiser.sim.fees import ALPACA_LIVE_2024
from alchemiser.store.database import Store
from alchemiser.store.decisions import DecisionStore
from alchemiser.trading.strategies import SymphonyEngine
from tests.daemon.simrig import build_sim_daemon, sim_settings

START = date(2024, 3, 4)
SESSIONS = 20  # settled: the decision of session N+1 settles session N


def _exchange() -> ExchangeConfig:
    # a third of the fills are partial and the rest never comes within the run: with one ladder step and no market
    # fallback, those lines end short (timing)
    # Alpaca's live regulatory fees on sells: posted as FEE activities, recorded by reconciliation, attributed as fees
    return ExchangeConfig(
        initial_cash=Decimal(100_000), partial_fill_rate=0.3, partial_fill_delay=36_000.0, seed=5, fees=ALPACA_LIVE_2024
    )


@pytest.mark.slow
async def test_twenty_sessions_every_gap_attributed(tmp_path: Path) -> None:
    settings = sim_settings(
        tmp_path,
        start=START,
        webhook=None,
        extra={"execution": {"ladder_steps": [0.9], "market_fallback": False, "step_wait_seconds": 20.0}},
    )
    rig = build_sim_daemon(settings, parity=True, exchange=_exchange())
    await rig.start()
    try:
        assert rig.parity is not None and rig.parity.runner is not None
        runner = rig.parity.runner
        async with asyncio.timeout(600):  # generous: about 4 minutes under CI load
            while runner.settled < SESSIONS:
                assert runner.failures == 0, "a parity run failed: see the log"
                await asyncio.sleep(0.2)
        # the vendor's bars as the daemon's source serves them now, for settling again after the run
        fetched = await rig.trading.broker.get_daily_bars(  # type: ignore[union-attr]
            runner.monitor.symbols, START - timedelta(days=3 * 365), START + timedelta(days=60)
        )
        vendor = {s: {b.session_date: b.c for b in rows} for s, rows in fetched.items()}
        async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
            status = (await client.get("/status")).json()
        assert status["parity"]["sessions_settled"] >= SESSIONS and status["parity"]["failures"] == 0
        assert status["parity"]["tracking_error_bps"] is not None
    finally:
        assert await rig.stop() == 0
    engines = [SymphonyEngine.from_entry(e) for e in settings.strategies]
    strategies = {e.name: ParityStrategy(e.symphony, e.capital_weight, e.warmup) for e in engines}
    store = await Store.open(settings.store.path)
    try:
        view = await parity_view(store)
        sessions = view["sessions"]
        assert len(sessions) >= SESSIONS
        for s in sessions:
            parts = {k: Decimal(v) for k, v in s["parts"].items()}
            assert sum(parts.values()) == Decimal(s["session_gap"]), s
        assert Decimal(view["gap"]) != 0  # the sim's spread and partial fills leave a gap
        charged = [o for o in view["tca"]["orders"] if Decimal(o["fees"]) > 0]
        assert charged and all(o["side"] == "sell" for o in charged), "no sell bore its regulatory fee"
        assert Decimal(view["cumulative"]["fees"]) < 0
        orders = view["tca"]["orders"]
        short = [o for o in orders if Decimal(o["filled_qty"]) < Decimal(o["planned_qty"])]
        assert short, "no line ended short: the partial-fill injection did not bite"
        for o in short:
            causes = next(x["causes"] for x in sessions if x["session"] == o["session"])
            assert any(
                c["part"] == "timing" and c["symbol"] == o["symbol"] and "filled" in c["what"] for c in causes
            ), (o, causes)

        # late fills: re-settle with the median time-to-fill as the threshold; the same store gives the same answer
        times = sorted(o["seconds_to_fill"] for o in orders if o["seconds_to_fill"] is not None)
        late_after = statistics.median(times)

        async def source(symbols: Sequence[str], start: date, end: date) -> dict[str, list[tuple[date, float]]]:
            return {s: sorted((d, c) for d, c in vendor[s].items() if start <= d <= end) for s in symbols}

        parity = ParitySettings(late_fill_seconds=late_after)
        monitor = ParityMonitor(store, strategies, parity, clock=RealClock(), bars=source)
        day = date.fromisoformat(sessions[3]["session"])
        first = await monitor.settle(day)
        again = await monitor.settle(day)
        assert first is not None and again is not None
        assert first.attribution.parts == again.attribution.parts  # deterministic
        late = [o for o in first.tca if (o["seconds_to_fill"] or 0) > late_after]
        for o in late:
            assert any(
                c.part == "timing" and c.symbol == o["symbol"] and "late" in c.what for c in first.attribution.causes
            )

        # a revised bar: move QQQ's as-of close far enough to flip the switch strategy's RSI test, settle again
        decision = next(d for d in await DecisionStore(store).for_session(day) if d.status in ("executed", "no_trade"))
        switch = next(s for s in decision.strategies if s.strategy == "switch")
        branch = next(step["branch"] for step in switch.trace["steps"] if step["kind"] == "if")
        factor = 0.6 if branch == "then" else 1.6
        assert decision.as_of is not None
        vendor["QQQ"][decision.as_of] *= factor
        revised = await monitor.settle(day)
        assert revised is not None
    finally:
        await store.close()
    drift = [r for r in revised.replays if r.data_drift]
    assert [r.strategy for r in drift] == ["switch"]
    [flip] = drift[0].flips
    assert flip.kind == "if" and flip.before.startswith(branch)
    assert any(c.symbol == "QQQ" and c.kind == "revised" for c in drift[0].changed_bars)
    named = {c.symbol for c in revised.attribution.causes if c.part == "signal"}
    assert named >= set(drift[0].live) ^ set(drift[0].replayed), revised.attribution.to_json()
    assert sum(revised.attribution.parts.values()) == revised.attribution.session_gap

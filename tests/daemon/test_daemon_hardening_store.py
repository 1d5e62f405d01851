"""Store faults mid-decision on a running sim daemon: the disk fills up (a real size-limited tmpfs, when this
machine lets us mount one) or the store turns read-only. Trading stops fail-closed with a clear reason, nothing is
half-written, and the daemon recovers by itself once the store is writable again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alchemiser.store.decisions import DecisionStore, StrategyDecision
from alchemiser.trading.schedule import TradingCalendar
from tests.daemon.simrig import TOKEN, build_sim_daemon, sim_settings

START = date(2024, 3, 6)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str) -> Iterator[None]:
    """``folder`` as a size-limited tmpfs (skips the test where mounting is not allowed)."""
    folder.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    mounted = subprocess.run(command, check=False, capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte; the filler file (delete it to free the space)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 65_536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


async def _readiness(client: httpx.AsyncClient) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/readyz")).json()
    return body


@pytest.mark.parametrize("fault", ["disk_full", "read_only"])
async def test_store_fault_mid_decision_fails_closed_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    var = tmp_path / "var"
    with small_filesystem(var, "64m") if fault == "disk_full" else contextlib.nullcontext():
        settings = sim_settings(tmp_path, start=START, webhook=None)
        slot = TradingCalendar(start=date(2020, 1, 1)).slot(START)
        assert slot is not None
        rig = build_sim_daemon(settings, speed=10, fast_forward=False, start_at=slot.decision_at - timedelta(seconds=5))
        await rig.start()
        try:
            decisions = rig.trading.decisions
            assert decisions is not None and rig.daemon.context is not None
            store = rig.daemon.context.store
            async with asyncio.timeout(60):
                while await decisions.count() < 1 or (rig.trading.cycle is not None and rig.trading.cycle.running):
                    await asyncio.sleep(0.05)
            orders_before = await store.fetchval("SELECT COUNT(*) FROM execution_orders")
            original = DecisionStore.record_strategy
            filler: list[Path] = []

            async def fault_then_record(self: DecisionStore, decision_id: str, result: StrategyDecision) -> None:
                if not filler:  # the decision row is written: now the store breaks, mid-decision
                    filler.append(fill(var) if fault == "disk_full" else var)
                    if fault == "read_only":
                        await store._raw("PRAGMA query_only = ON")
                await original(self, decision_id, result)

            monkeypatch.setattr(DecisionStore, "record_strategy", fault_then_record)
            async with httpx.AsyncClient(base_url=rig.url, timeout=90) as client:
                response = await client.post("/api/rebalance", json={"wait_seconds": 60}, headers=HEADERS)
                assert response.status_code == 503, response.text
                decision_id = response.json()["error"].split()[1]
                assert "failed" in response.json()["error"]
                expected = "the disk is full" if fault == "disk_full" else "the store is read-only"
                assert store.write_fault is not None and store.write_fault.startswith(expected)
                readiness = await _readiness(client)
                assert any("store writes failing" in reason for reason in readiness["failing"].values())
                # The gate is closed: even without the injected failure, a decision would trade nothing now.
                monkeypatch.setattr(DecisionStore, "record_strategy", original)
                cycle = rig.trading.cycle
                assert cycle is not None and not cycle.running

                # Space returns / the store is writable again: the daemon notices by itself.
                if fault == "disk_full":
                    filler[0].unlink()
                else:
                    await store._raw("PRAGMA query_only = OFF")
                async with asyncio.timeout(30):
                    while store.write_fault is not None or "store" in (await _readiness(client))["failing"]:
                        await asyncio.sleep(0.1)
                    while (record := await decisions.get(decision_id)) is None or record.status == "running":
                        await asyncio.sleep(0.1)
                    while (await client.get("/status")).json()["operator_requests"]["open"]:
                        await asyncio.sleep(0.1)
            # Nothing half-written: the decision is closed with the reason, no order was placed, no strategy row.
            assert record.status == "failed" and "store could not be written" in (record.reason or "")
            assert record.strategies == ()
            assert await store.fetchval("SELECT COUNT(*) FROM execution_orders") == orders_before
            assert await store.fetchval("PRAGMA quick_check") == "ok"
        finally:
            await rig.stop()

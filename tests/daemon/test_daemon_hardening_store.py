"""Store faults mid-decision on a running sim daemon: the disk fills up or the store turns read-only. Trading stops
fail-closed with a clear reason naming the store, readiness fails (the kill switch stays as it was: the fault is not
an operator's latch), nothing is half-written, and the daemon recovers by itself once the store is writable again.

The full disk is a real size-limited tmpfs where this machine lets us mount one, else the store's own page limit
(``store_full.PageLimit``: the same SQLITE_FULL from the real SQLite engine), so the case always runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alchemiser.errors import StoreError
from alchemiser.store.database import Store
from alchemiser.store.decisions import DecisionStore, StrategyDecision
from alchemiser.trading.schedule import TradingCalendar
from tests.daemon.simrig import TOKEN, build_sim_daemon, sim_settings
from tests.daemon.store_full import PageLimit

START = date(2024, 3, 6)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str) -> Iterator[bool]:
    """``folder`` as a size-limited tmpfs; yields ``False`` (nothing mounted) where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    mounted = subprocess.run(command, check=False, capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
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


async def _row_keys(store: Store) -> dict[str, set[tuple[Any, ...]]]:
    """Every table's primary keys (its rowids where it has none): what must still be there after the fault."""
    tables = await store.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    keys: dict[str, set[tuple[Any, ...]]] = {}
    for (table,) in tables:
        columns = [r["name"] for r in sorted(await store.fetchall(f'PRAGMA table_info("{table}")'), key=_pk) if r["pk"]]
        select = ", ".join(f'"{c}"' for c in columns) or "rowid"
        query = f'SELECT {select} FROM "{table}"'  # noqa: S608 (names from sqlite_master, not input)
        keys[table] = {tuple(r) for r in await store.fetchall(query)}
    return keys


def _pk(column: sqlite3.Row) -> int:
    return int(column["pk"])


@pytest.mark.parametrize("fault", ["disk_full", "read_only"])
async def test_store_fault_mid_decision_fails_closed_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    var = tmp_path / "var"
    with small_filesystem(var, "64m") if fault == "disk_full" else contextlib.nullcontext(False) as mounted:
        settings = sim_settings(tmp_path, start=START, webhook=None)
        slot = TradingCalendar(start=date(2020, 1, 1)).slot(START)
        assert slot is not None
        rig = build_sim_daemon(settings, speed=10, fast_forward=False, start_at=slot.decision_at - timedelta(seconds=5))
        await rig.start()
        try:
            decisions = rig.trading.decisions
            assert decisions is not None and rig.daemon.context is not None
            store, kill_switch = rig.daemon.context.store, rig.daemon.context.kill_switch
            async with asyncio.timeout(60):
                while await decisions.count() < 1 or (rig.trading.cycle is not None and rig.trading.cycle.running):
                    await asyncio.sleep(0.05)
            orders_before = await store.fetchval("SELECT COUNT(*) FROM execution_orders")
            rows_before = await _row_keys(store)
            page_limit = PageLimit(store) if fault == "disk_full" and not mounted else None
            original = DecisionStore.record_strategy
            filler: list[Path] = []

            async def fault_then_record(self: DecisionStore, decision_id: str, result: StrategyDecision) -> None:
                if not filler:  # the decision row is written: now the store breaks, mid-decision
                    filler.append(fill(var) if mounted else var)
                    if page_limit is not None:
                        await page_limit.fill()
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
                cause = "database or disk is full" if fault == "disk_full" else "readonly database"
                assert cause in store.write_fault and str(store.path) in store.write_fault, store.write_fault
                readiness = await _readiness(client)
                assert readiness["ready"] is False
                reasons = [reason for reason in readiness["failing"].values() if "store writes failing" in reason]
                assert reasons and str(store.path) in reasons[0], readiness
                assert not kill_switch.engaged  # not an operator's latch: the fault clears itself
                # The gate is closed: even without the injected failure, a decision would trade nothing now.
                monkeypatch.setattr(DecisionStore, "record_strategy", original)
                cycle = rig.trading.cycle
                assert cycle is not None and not cycle.running
                # Still full: a readiness evaluation (its write probe) does not mistake a small write for space.
                assert "store" in (await _readiness(client))["failing"]

                # Space returns / the store is writable again: the daemon notices by itself.
                if page_limit is not None:
                    await page_limit.release()
                elif fault == "disk_full":
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
            # Nothing half-written: the decision is closed with the reason, no order was placed, no strategy row,
            # every row from before is still there and the whole file checks out.
            assert record.status == "failed" and "store could not be written" in (record.reason or "")
            assert record.strategies == ()
            assert await store.fetchval("SELECT COUNT(*) FROM execution_orders") == orders_before
            if page_limit is not None:
                await page_limit.remove_filler()
            rows_after = await _row_keys(store)
            for table, keys in rows_before.items():
                assert keys <= rows_after[table], f"{table}: rows lost {sorted(keys - rows_after[table])[:5]}"
            assert [tuple(r) for r in await store.fetchall("PRAGMA integrity_check")] == [("ok",)]
            assert not kill_switch.engaged
        finally:
            await rig.stop()


async def test_a_full_store_stays_faulted_until_it_can_grow_again(tmp_path: Path) -> None:
    """A small in-place write can still fit in a full store; only the probe (fresh pages) ends the fault."""
    store = await Store.open(tmp_path / "store.sqlite")
    try:
        seen: list[str | None] = []
        store.add_fault_listener(seen.append)
        page_limit = PageLimit(store)
        await page_limit.fill()
        with pytest.raises(StoreError, match="database or disk is full"):
            await store.execute("INSERT INTO disk_full_filler (room) VALUES (zeroblob(8192))")
        assert seen == [f"the disk is full: database or disk is full (store {store.path})"]
        await store.execute("UPDATE store_probe SET at = 'now' WHERE id = 1")  # fits in its page: not space
        assert await store.probe_write() == seen[0] and store.write_fault == seen[0]
        await page_limit.release()
        assert await store.probe_write() is None
        assert seen == [seen[0], None]
        assert await store.fetchval("PRAGMA integrity_check") == "ok"
    finally:
        await store.close()

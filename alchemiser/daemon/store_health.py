"""The store's write health as the daemon shows it: a ``store`` readiness condition and a critical log line.

When SQLite reports the disk full, the file read-only or an I/O error, :class:`~alchemiser.store.database.Store`
records a write fault. Readiness then fails (``/readyz`` 503, the readiness watch notifies), the trading gate closes
(``daemon/trading.py``) and each readiness evaluation probes one tiny write, so the daemon recovers by itself once
space returns. SQLite's transactions keep what was being written all-or-nothing.
"""

from __future__ import annotations

from alchemiser.logging import get_logger
from alchemiser.process.readiness import Check, Readiness
from alchemiser.store.database import Store

log = get_logger("store")


def watch_store_health(store: Store, readiness: Readiness) -> None:
    """Register the ``store`` readiness condition and log write faults and recoveries."""

    async def store_check() -> Check:
        fault = await store.probe_write()
        return Check.failed(f"store writes failing ({fault}); trading stopped") if fault else Check.passed("writable")

    def on_fault(fault: str | None) -> None:
        if fault is None:
            log.warning("store.writable_again", path=str(store.path))
        else:
            log.critical("store.write_failed", path=str(store.path), fault=fault, action="trading stopped")

    readiness.register("store", store_check)
    store.add_fault_listener(on_fault)

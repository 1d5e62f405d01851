"""Repository of migration 0007: non-trade activities taken into account, daily book holdings, alerts sent."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from alchemiser.broker.activities import NonTradeActivity
from alchemiser.clock import Clock
from alchemiser.store.database import Store
from alchemiser.store.fees import FeeStore


class CorporateActionStore:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def known_ids(self, ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(ids))
        known: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._store.fetchall(
                f"SELECT activity_id FROM corporate_activities WHERE activity_id IN ({marks})",  # noqa: S608 - only ?s
                chunk,
            )
            known |= {str(r["activity_id"]) for r in rows}
        return known

    async def record(self, activities: Iterable[NonTradeActivity], outcome: str) -> int:
        """Take ``activities`` into account once; the fees among them also go to the fee table (``store.fees``)."""
        activities = list(activities)
        now = self._clock.now().isoformat()
        rows = [
            (a.id, a.activity_type, a.symbol, a.date.isoformat(), json.dumps(a.to_alpaca()), outcome, now)
            for a in activities
        ]
        if not rows:
            return 0
        await FeeStore(self._store).record(activities, now)
        return await self._store.executemany(
            "INSERT OR IGNORE INTO corporate_activities (activity_id, activity_type, symbol, activity_date, body,"
            " outcome, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    async def renames(self) -> list[tuple[str, str, date]]:
        """(old, new, effective) of every name change recorded (Alpaca ``NC``: ``-qty OLD`` and ``+qty NEW``)."""
        rows = await self._store.fetchall(
            "SELECT symbol, activity_date, body FROM corporate_activities WHERE activity_type = 'NC'"
            " ORDER BY activity_date"
        )
        sides: dict[str, dict[str, str]] = {}
        for row in rows:
            qty = Decimal(str(json.loads(str(row["body"])).get("qty") or 0))
            if qty:
                sides.setdefault(str(row["activity_date"]), {})["old" if qty < 0 else "new"] = str(row["symbol"])
        return [
            (pair["old"], pair["new"], date.fromisoformat(day))
            for day, pair in sides.items()
            if "old" in pair and "new" in pair
        ]

    async def save_day(self, day: date, holdings: Mapping[str, Mapping[str, Decimal]]) -> None:
        """What each strategy held at the end of ``day`` (replaces that day's record)."""
        async with self._store.transaction():
            await self._store.execute("DELETE FROM strategy_book_days WHERE day = ?", (day.isoformat(),))
            for strategy, symbols in holdings.items():
                for symbol, qty in symbols.items():
                    if qty:
                        await self._store.execute(
                            "INSERT INTO strategy_book_days (day, strategy, symbol, qty) VALUES (?, ?, ?, ?)",
                            (day.isoformat(), strategy, symbol, str(qty)),
                        )

    async def holders_before(self, symbol: str, day: date) -> dict[str, Decimal] | None:
        """strategy → shares of ``symbol`` at the end of the latest recorded day before ``day`` — who held it going
        into a record (ex-) date (``None`` with no record)."""
        row = await self._store.fetchone(
            "SELECT MAX(day) AS d FROM strategy_book_days WHERE day < ?", (day.isoformat(),)
        )
        if row is None or row["d"] is None:
            return None
        rows = await self._store.fetchall(
            "SELECT strategy, qty FROM strategy_book_days WHERE day = ? AND symbol = ?", (row["d"], symbol)
        )
        return {str(r["strategy"]): Decimal(r["qty"]) for r in rows}

    async def alert_once(self, key: str, message: str) -> bool:
        """Record an alert; ``False`` when this key was already alerted."""
        result = await self._store.execute(
            "INSERT OR IGNORE INTO corporate_alerts (alert_key, message, sent_at) VALUES (?, ?, ?)",
            (key, message, self._clock.now().isoformat()),
        )
        return result.rowcount > 0

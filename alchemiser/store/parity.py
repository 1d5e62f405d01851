"""The parity monitor's tables (``0009_parity.sql``): the bars each decision saw, per-session results, TCA rows;
and the reads it needs from the execution tables (an order's ladder steps with their arrival quotes, fill times).

Values cross as JSON-able dicts and Decimals: the pure model lives in ``alchemiser.parity`` (above this layer).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from alchemiser.store.database import Store

Closes = dict[str, list[tuple[date, float]]]
KEPT_BARS = 40  # recent closes kept per symbol and decision


@dataclass(frozen=True, slots=True)
class StepRow:
    """One ladder step of a plan line (an ``execution_orders`` row) with its arrival quote."""

    symbol: str
    side: str
    step: int
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    reference_price: Decimal | None
    arrival_bid: Decimal | None
    arrival_ask: Decimal | None
    created_at: datetime
    broker_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionBars:
    """What one decision read, per symbol: where its window started, the window's digest, the recent closes."""

    starts: dict[str, date]
    digests: dict[str, str]
    closes: Closes


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class ParityRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -------------------------------------------------------------------------------------------- bars

    async def save_decision_bars(
        self, decision_id: str, closes: Mapping[str, Sequence[tuple[date, float]]], digests: Mapping[str, str]
    ) -> None:
        """Keep, per symbol, where the decision's window started, the window's digest and its last ``KEPT_BARS``
        closes (a revision, an adjustment or a filled-in bar shows there; the replay reads the rest again)."""
        await self._store.executemany(
            "INSERT OR REPLACE INTO parity_decision_bars (decision_id, symbol, bars) VALUES (?, ?, ?)",
            [
                (
                    decision_id,
                    symbol,
                    json.dumps(
                        {
                            "first": rows[0][0].isoformat(),
                            "digest": digests.get(symbol, ""),
                            "bars": [[d.isoformat(), c] for d, c in rows[-KEPT_BARS:]],
                        }
                    ),
                )
                for symbol, rows in sorted(closes.items())
                if rows
            ],
        )

    async def decision_bars(self, decision_id: str) -> DecisionBars:
        """Per symbol, as the decision read them: the window's start, its digest, the recent closes."""
        rows = await self._store.fetchall(
            "SELECT symbol, bars FROM parity_decision_bars WHERE decision_id = ?", (decision_id,)
        )
        out = DecisionBars({}, {}, {})
        for r in rows:
            data = json.loads(r["bars"])
            out.starts[r["symbol"]] = date.fromisoformat(data["first"])
            out.digests[r["symbol"]] = data.get("digest", "")
            out.closes[r["symbol"]] = [(date.fromisoformat(d), float(c)) for d, c in data["bars"]]
        return out

    # -------------------------------------------------------------------------------------------- orders

    async def steps_for_run(self, run_id: str) -> list[StepRow]:
        rows = await self._store.fetchall(
            "SELECT symbol, side, step, filled_qty, filled_avg_price, reference_price, arrival_bid, arrival_ask,"
            " created_at, broker_order_id FROM execution_orders WHERE run_id = ? ORDER BY symbol, side, step",
            (run_id,),
        )
        return [
            StepRow(
                symbol=r["symbol"],
                side=r["side"],
                step=int(r["step"]),
                filled_qty=Decimal(r["filled_qty"]),
                filled_avg_price=_dec(r["filled_avg_price"]),
                reference_price=_dec(r["reference_price"]),
                arrival_bid=_dec(r["arrival_bid"]),
                arrival_ask=_dec(r["arrival_ask"]),
                created_at=datetime.fromisoformat(r["created_at"]),
                broker_order_id=r["broker_order_id"],
            )
            for r in rows
        ]

    async def last_fill_times(self, run_id: str) -> dict[tuple[str, str], datetime]:
        rows = await self._store.fetchall(
            "SELECT symbol, side, MAX(COALESCE(filled_at, recorded_at)) AS at FROM execution_fills"
            " WHERE run_id = ? GROUP BY symbol, side",
            (run_id,),
        )
        return {(r["symbol"], r["side"]): datetime.fromisoformat(r["at"]) for r in rows if r["at"]}

    # -------------------------------------------------------------------------------------------- results

    async def save_session(self, row: Mapping[str, Any], orders: Sequence[Mapping[str, Any]]) -> None:
        """Store one session's result and its TCA rows (replacing an earlier computation of the same session); a TCA
        row with a ``decision_id`` is stored under its own decision (a session may have several)."""
        async with self._store.transaction() as tx:
            await tx.execute(
                "INSERT OR REPLACE INTO parity_sessions (session, decision_id, computed_at, live_equity,"
                " shadow_equity, gap, session_gap, data_drift, parts, replay, shadow)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row["session"],
                    row["decision_id"],
                    row["computed_at"],
                    row["live_equity"],
                    row["shadow_equity"],
                    row["gap"],
                    row["session_gap"],
                    int(row["data_drift"]),
                    json.dumps(row["parts"]),
                    json.dumps(row["replay"]),
                    json.dumps(row["shadow"]),
                ),
            )
            await tx.execute("DELETE FROM parity_orders WHERE session = ?", (row["session"],))
            await tx.executemany(
                "INSERT INTO parity_orders (decision_id, symbol, side, session, data) VALUES (?, ?, ?, ?, ?)",
                [
                    (o.get("decision_id", row["decision_id"]), o["symbol"], o["side"], o["session"], json.dumps(o))
                    for o in orders
                ],
            )

    async def sessions(self, since: date | None = None) -> list[dict[str, Any]]:
        rows = await self._store.fetchall(
            "SELECT * FROM parity_sessions WHERE session >= ? ORDER BY session", ((since or date.min).isoformat(),)
        )
        return [
            {
                **{k: r[k] for k in ("session", "decision_id", "computed_at", "live_equity", "shadow_equity", "gap")},
                "session_gap": r["session_gap"],
                "data_drift": int(r["data_drift"]),
                "parts": json.loads(r["parts"]),
                "replay": json.loads(r["replay"]),
                "shadow": json.loads(r["shadow"]),
            }
            for r in rows
        ]

    async def last_session(self, before: date) -> dict[str, Any] | None:
        found = [s for s in await self.sessions() if s["session"] < before.isoformat()]
        return found[-1] if found else None

    async def orders(self, since: date | None = None) -> list[dict[str, Any]]:
        rows = await self._store.fetchall(
            "SELECT data FROM parity_orders WHERE session >= ? ORDER BY session, symbol, side",
            ((since or date.min).isoformat(),),
        )
        return [json.loads(r["data"]) for r in rows]

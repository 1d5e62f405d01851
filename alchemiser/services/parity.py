"""The parity view every surface reads (CLI ``alchemiser parity``, the dashboard's Parity page, its JSON twin):
sessions with live and shadow equity, the gap and its attribution, cumulative parts, data-drift events, TCA rows
with summaries by symbol/strategy/day and the worst orders."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from alchemiser.parity.parts import PARTS
from alchemiser.portfolio.tca import TcaRow, summarise, worst_orders
from alchemiser.store.database import Store
from alchemiser.store.parity import ParityRepository

WORST = 10
FEES_NOTE = (
    "Live fees are the broker's fee activities (Alpaca FEE rows, the regulatory TAF/REG fees among them), booked on"
    " the order they name, else on their session; equity fills themselves carry no commission, and the simulated"
    " exchange, like Alpaca paper, charges no fee unless its fee schedule is set"
)


async def parity_view(store: Store, *, since: date | None = None) -> dict[str, Any]:
    repo = ParityRepository(store)
    sessions = await repo.sessions(since)
    rows = [TcaRow.from_json(o) for o in await repo.orders(since)]
    total = dict.fromkeys(PARTS, Decimal(0))
    out_sessions = []
    for s in sessions:
        parts = {k: Decimal(v) for k, v in s["parts"]["parts"].items()}
        for k, v in parts.items():
            total[k] += v
        live = Decimal(s["live_equity"])
        gap = Decimal(s["gap"])
        out_sessions.append(
            {
                "session": s["session"],
                "decision_id": s["decision_id"],
                "live_equity": s["live_equity"],
                "shadow_equity": s["shadow_equity"],
                "gap": s["gap"],
                "session_gap": s["session_gap"],
                "tracking_error_bps": str((abs(gap) / live * 10_000).quantize(Decimal("0.01"))) if live else "0",
                "data_drift": s["data_drift"],
                "parts": {k: str(v) for k, v in parts.items()},
                "causes": s["parts"].get("causes", []),
                "replay": s["replay"],
            }
        )
    return {
        "sessions": out_sessions,
        "cumulative": {k: str(v) for k, v in total.items()},
        "gap": out_sessions[-1]["gap"] if out_sessions else "0",
        "data_drift_events": sum(s["data_drift"] for s in sessions),
        "fees_note": FEES_NOTE,
        "tca": {
            "orders": [r.to_json() for r in rows],
            "by_symbol": [x.to_json() for x in summarise(rows, "symbol")],
            "by_strategy": [x.to_json() for x in summarise(rows, "strategy")],
            "by_day": [x.to_json() for x in summarise(rows, "day")],
            "worst": [r.to_json() for r in worst_orders(rows, WORST)],
        },
    }

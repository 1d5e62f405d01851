"""Decisions repository: every decision cycle with its per-strategy allocations, traces and fail-closed reasons.

Schema in ``migrations/0004_decisions.sql``. A decision row is written when the cycle starts (status
``running``) and finished with its outcome (``executed``, ``no_trade``, ``failed``, ``blocked``); a missed
decision is recorded as ``skipped`` with the reason. Scheduled decisions have deterministic ids
(``D20240305``), so a restart never decides the same session twice; manual ones are ``M20240305T154512123456``
(microseconds).

Decimals are stored as text, JSON as text, times as ISO-8601 UTC.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from alchemiser.clock import ensure_utc
from alchemiser.errors import StoreError
from alchemiser.store.database import Store

Trigger = Literal["schedule", "late", "manual"]
DecisionStatus = Literal["running", "executed", "no_trade", "failed", "skipped", "blocked"]
StrategyStatus = Literal["ok", "failed_closed"]
FINAL_STATUSES: frozenset[str] = frozenset({"executed", "no_trade", "failed", "skipped", "blocked"})
#: trace keys of a strategy that was not due on the session: "not due; next rebalance <date>"
#: (``StrategyDecision.not_due``) and the id of the decision that last evaluated it
NOT_DUE = "not_due"
EVALUATED_IN = "evaluated_in"


def scheduled_decision_id(session: date) -> str:
    return f"D{session:%Y%m%d}"


def manual_decision_id(at: datetime) -> str:
    """Microsecond resolution; :class:`~alchemiser.trading.manual_rebalance.ManualRebalance` also skips taken ids."""
    return f"M{ensure_utc(at):%Y%m%dT%H%M%S%f}"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=_json_default, sort_keys=True)


def _from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class StrategyDecision:
    strategy: str
    capital_weight: Decimal
    status: StrategyStatus
    allocation: Mapping[str, Decimal] = field(default_factory=dict)
    trace: Any = None
    fail_reason: str | None = None

    @property
    def not_due(self) -> str | None:
        """The note "not due; next rebalance <date>" when the strategy was not evaluated (a calendar rule between
        its rebalance days: its allocation is the book it held); None when it was evaluated or failed closed."""
        note = self.trace.get(NOT_DUE) if isinstance(self.trace, dict) else None
        return note if isinstance(note, str) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "capital_weight": format(self.capital_weight, "f"),
            "status": self.status,
            "allocation": {s: format(w, "f") for s, w in sorted(self.allocation.items())},
            "trace": self.trace,
            "fail_reason": self.fail_reason,
            "evaluated": self.status == "ok" and self.not_due is None,
            "not_due": self.not_due,
        }


@dataclass(frozen=True)
class DecisionRecord:
    decision_id: str
    session: date
    trigger: Trigger
    as_of_policy: str
    as_of: date | None
    started_at: datetime
    finished_at: datetime | None
    status: DecisionStatus
    reason: str | None
    run_id: str | None
    plan: Any
    summary: Any
    strategies: tuple[StrategyDecision, ...] = ()

    def to_json(self, *, with_traces: bool = True) -> dict[str, Any]:
        strategies = []
        for s in self.strategies:
            body = s.to_json()
            if not with_traces:
                body.pop("trace")
            strategies.append(body)
        return {
            "decision_id": self.decision_id,
            "session": self.session.isoformat(),
            "trigger": self.trigger,
            "as_of_policy": self.as_of_policy,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "started_at": self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "status": self.status,
            "reason": self.reason,
            "run_id": self.run_id,
            "plan": self.plan,
            "summary": self.summary,
            "strategies": strategies,
        }


class DecisionStore:
    """Reads and writes decisions through the shared ``Store`` (migrations applied at open)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def _write(self, sql: str, params: Sequence[Any]) -> int:
        result = await self._store.execute(sql, params)
        return result.rowcount

    async def start(
        self,
        decision_id: str,
        *,
        session: date,
        trigger: Trigger,
        as_of_policy: str,
        as_of: date | None,
        started_at: datetime,
        run_id: str | None = None,
    ) -> None:
        """Record a decision as running. A duplicate id raises ``StoreError`` (the session was decided already)."""
        await self._write(
            "INSERT INTO decisions (decision_id, session, trigger, as_of_policy, as_of, started_at, status, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
            (
                decision_id,
                session.isoformat(),
                trigger,
                as_of_policy,
                None if as_of is None else as_of.isoformat(),
                ensure_utc(started_at).isoformat(),
                run_id,
            ),
        )

    async def record_strategy(self, decision_id: str, result: StrategyDecision) -> None:
        await self._write(
            "INSERT INTO decision_strategies "
            "(decision_id, strategy, capital_weight, status, allocation, trace, fail_reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                decision_id,
                result.strategy,
                format(result.capital_weight, "f"),
                result.status,
                to_json({s: format(w, "f") for s, w in result.allocation.items()}),
                to_json(result.trace),
                result.fail_reason,
            ),
        )

    async def finish(
        self,
        decision_id: str,
        *,
        status: DecisionStatus,
        finished_at: datetime,
        reason: str | None = None,
        plan: Any = None,
        summary: Any = None,
    ) -> None:
        if status not in FINAL_STATUSES:
            raise StoreError(f"finish() needs a final status, got {status!r}")
        changed = await self._write(
            "UPDATE decisions SET status = ?, finished_at = ?, reason = ?, plan = COALESCE(?, plan), "
            "summary = COALESCE(?, summary) WHERE decision_id = ?",
            (status, ensure_utc(finished_at).isoformat(), reason, to_json(plan), to_json(summary), decision_id),
        )
        if changed != 1:
            raise StoreError(f"decision {decision_id} does not exist", decision_id=decision_id)

    async def record_plan(self, decision_id: str, plan: Any) -> None:
        await self._write("UPDATE decisions SET plan = ? WHERE decision_id = ?", (to_json(plan), decision_id))

    async def record_skipped(
        self, decision_id: str, *, session: date, reason: str, at: datetime, as_of_policy: str, run_id: str | None
    ) -> bool:
        """Record a skipped decision; False if that decision id already exists (already decided or skipped)."""
        try:
            await self._write(
                "INSERT INTO decisions (decision_id, session, trigger, as_of_policy, started_at, finished_at, "
                "status, reason, run_id) VALUES (?, ?, 'schedule', ?, ?, ?, 'skipped', ?, ?)",
                (
                    decision_id,
                    session.isoformat(),
                    as_of_policy,
                    ensure_utc(at).isoformat(),
                    ensure_utc(at).isoformat(),
                    reason,
                    run_id,
                ),
            )
        except StoreError:
            return False
        return True

    async def mark_interrupted(
        self, at: datetime, *, reason: str = "interrupted: the daemon stopped mid-decision"
    ) -> list[str]:
        """Decisions left ``running`` by a crash become ``failed`` (their orders are resumed by execution)."""
        rows = await self._fetch("SELECT decision_id FROM decisions WHERE status = 'running'", ())
        ids = [str(r[0]) for r in rows]
        for decision_id in ids:
            await self.finish(decision_id, status="failed", finished_at=at, reason=reason)
        return ids

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        return await self._store.fetchall(sql, params)

    async def get(self, decision_id: str) -> DecisionRecord | None:
        rows = await self._fetch(f"{_SELECT} WHERE decision_id = ?", (decision_id,))
        if not rows:
            return None
        return await self._with_strategies(rows[0])

    async def exists(self, decision_id: str) -> bool:
        return bool(await self._fetch("SELECT 1 FROM decisions WHERE decision_id = ?", (decision_id,)))

    async def latest(self, limit: int = 20, *, with_strategies: bool = False) -> list[DecisionRecord]:
        rows = await self._fetch(f"{_SELECT} ORDER BY started_at DESC, decision_id DESC LIMIT ?", (limit,))
        if with_strategies:
            return [await self._with_strategies(r) for r in rows]
        return [_record(r, ()) for r in rows]

    async def last(self) -> DecisionRecord | None:
        """The most recent decision that was not skipped."""
        rows = await self._fetch(
            f"{_SELECT} WHERE status != 'skipped' ORDER BY started_at DESC, decision_id DESC LIMIT 1", ()
        )
        return await self._with_strategies(rows[0]) if rows else None

    async def for_session(self, session: date) -> list[DecisionRecord]:
        rows = await self._fetch(f"{_SELECT} WHERE session = ? ORDER BY started_at", (session.isoformat(),))
        return [await self._with_strategies(r) for r in rows]

    async def last_per_strategy(self) -> dict[str, dict[str, Any]]:
        """For each strategy, its most recent decision outcome (allocation or fail-closed reason), without trace;
        ``not_due`` says when it was not evaluated, ``evaluated_in`` is the decision that last evaluated it."""
        rows = await self._fetch(
            "SELECT s.strategy, s.decision_id, d.session, d.started_at, s.status, s.allocation, s.fail_reason "
            "FROM decision_strategies s JOIN decisions d ON d.decision_id = s.decision_id "
            "ORDER BY d.started_at, d.decision_id",
            (),
        )
        out: dict[str, dict[str, Any]] = {}
        for strategy, decision_id, session, started_at, status, allocation, fail_reason in rows:
            out[str(strategy)] = {
                "decision_id": decision_id,
                "session": session,
                "at": started_at,
                "status": status,
                "allocation": _from_json(allocation) or {},
                "fail_reason": fail_reason,
            }
        for strategy, last in out.items():  # only the last rows' traces are read (a trace may be megabytes)
            row = await self._store.fetchone(
                "SELECT json_extract(trace, ?), json_extract(trace, ?) FROM decision_strategies "
                "WHERE decision_id = ? AND strategy = ?",
                (f"$.{NOT_DUE}", f"$.{EVALUATED_IN}", last["decision_id"], strategy),
            )
            note = None if row is None or not isinstance(row[0], str) else row[0]
            last["not_due"] = note
            # the decision that last evaluated the strategy (its trace is the logic behind what it holds)
            last[EVALUATED_IN] = last["decision_id"] if note is None else (row[1] if row is not None else None)
        return out

    async def count(self, status: DecisionStatus | None = None) -> int:
        if status is None:
            rows = await self._fetch("SELECT COUNT(*) FROM decisions", ())
        else:
            rows = await self._fetch("SELECT COUNT(*) FROM decisions WHERE status = ?", (status,))
        return int(rows[0][0])

    async def _with_strategies(self, row: sqlite3.Row) -> DecisionRecord:
        srows = await self._fetch(
            "SELECT strategy, capital_weight, status, allocation, trace, fail_reason FROM decision_strategies "
            "WHERE decision_id = ? ORDER BY strategy",
            (row[0],),
        )
        strategies = tuple(
            StrategyDecision(
                strategy=str(s[0]),
                capital_weight=Decimal(s[1]),
                status=s[2],
                allocation={k: Decimal(v) for k, v in (_from_json(s[3]) or {}).items()},
                trace=_from_json(s[4]),
                fail_reason=s[5],
            )
            for s in srows
        )
        return _record(row, strategies)


_SELECT = (
    "SELECT decision_id, session, trigger, as_of_policy, as_of, started_at, finished_at, status, reason, run_id, "
    "plan, summary FROM decisions"
)


def _record(row: sqlite3.Row, strategies: tuple[StrategyDecision, ...]) -> DecisionRecord:
    return DecisionRecord(
        decision_id=str(row[0]),
        session=date.fromisoformat(row[1]),
        trigger=row[2],
        as_of_policy=str(row[3]),
        as_of=None if row[4] is None else date.fromisoformat(row[4]),
        started_at=datetime.fromisoformat(row[5]),
        finished_at=None if row[6] is None else datetime.fromisoformat(row[6]),
        status=row[7],
        reason=row[8],
        run_id=row[9],
        plan=_from_json(row[10]),
        summary=_from_json(row[11]),
        strategies=strategies,
    )

"""Position reconciliation: does the broker hold what the store says we should hold?

The store keeps the broker positions last *confirmed* (``position_snapshots``: at startup, after every decision,
or when an operator accepts the broker's state). A reconciliation explains today's broker positions as

    expected = snapshot + Σ broker fills since the snapshot of orders that are ours
                        + Σ share changes of corporate actions not yet taken into account


where "ours" means the order's id or client order id is in the execution store, or the client order id carries our
prefix (``alc-``). Anything else — a position changed by hand, a fill of a foreign order, a position that vanished —
is a mismatch; beyond ``tolerance`` the daemon must stay not-ready until an operator acts (``accept``).
Open orders at the broker that we do not know are *adopted* when they carry our prefix (execution resumes them)
and *flagged* otherwise.

Corporate actions are the broker's non-trade activities (splits, renames, mergers, closed funds: see
``broker/activities.py``); each is taken into account once (``corporate_activities``, migration 0007). When a
reconciliation that used them succeeds, the ``on_corporate_actions`` hook adjusts the strategy books the same way.
An operator's accept (or a fresh store's adoption) takes the broker's positions as they are, corporate actions
included, so the activities seen then are recorded as the baseline and never applied again.

``compare`` is pure; ``Reconciler`` gathers the inputs from the broker and the store and writes snapshots.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from alchemiser.broker.activities import NonTradeActivity
from alchemiser.broker.enums import OrderSide
from alchemiser.broker.models import FillActivity, Order, Position
from alchemiser.clock import Clock, ensure_utc
from alchemiser.errors import StoreError
from alchemiser.logging import get_logger
from alchemiser.portfolio.corporate_actions import position_deltas
from alchemiser.process.crashpoints import crash_point
from alchemiser.store.audit import AuditLog
from alchemiser.store.corporate_actions import CorporateActionStore
from alchemiser.store.database import Store

OUR_PREFIX = "alc-"
ZERO = Decimal(0)
log = get_logger("reconcile")


class ReconcileBroker(Protocol):
    """The Broker methods reconciliation needs (``alchemiser.broker.protocol.Broker`` satisfies it)."""

    async def list_positions(self) -> list[Position]: ...

    async def list_orders(
        self,
        *,
        status: Any = "all",
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int = 500,
    ) -> list[Order]: ...

    async def list_fill_activities(self, *, after: datetime | None = None) -> list[FillActivity]: ...

    async def list_non_trade_activities(self, *, after: date | None = None) -> list[NonTradeActivity]: ...


CorporateActionHook = Callable[[Sequence[NonTradeActivity]], Awaitable[None]]
#: how far before the snapshot's date to look for activities (Alpaca may post a split's rows a few days late)
ACTIVITY_LOOKBACK = timedelta(days=10)


@dataclass(frozen=True)
class Tolerance:
    """A position matches when |broker − expected| ≤ ``absolute`` + ``relative`` × |expected|."""

    absolute: Decimal = Decimal("0.000001")
    relative: Decimal = Decimal("0.001")

    def within(self, broker: Decimal, expected: Decimal) -> bool:
        return abs(broker - expected) <= self.absolute + self.relative * abs(expected)


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    source: str
    positions: dict[str, Decimal]


@dataclass(frozen=True)
class ReconcileReport:
    at: datetime
    ok: bool
    mismatches: tuple[str, ...] = ()
    adopted_orders: tuple[str, ...] = ()
    flagged_orders: tuple[str, ...] = ()
    foreign_fills: tuple[str, ...] = ()
    unrecorded_fills: tuple[str, ...] = ()  # fills of our orders the store has not recorded (yet)
    corporate_actions: tuple[str, ...] = ()  # share changes explained by corporate actions
    broker_positions: dict[str, Decimal] = field(default_factory=dict)
    expected_positions: dict[str, Decimal] = field(default_factory=dict)
    baseline: str = ""

    @property
    def reason(self) -> str:
        if self.ok:
            return "positions reconcile with the store"
        return "position mismatch (operator must accept or fix): " + "; ".join(self.mismatches)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "ok": self.ok,
            "reason": self.reason,
            "mismatches": list(self.mismatches),
            "adopted_orders": list(self.adopted_orders),
            "flagged_orders": list(self.flagged_orders),
            "foreign_fills": list(self.foreign_fills),
            "unrecorded_fills": list(self.unrecorded_fills),
            "corporate_actions": list(self.corporate_actions),
            "broker_positions": {s: format(q, "f") for s, q in sorted(self.broker_positions.items())},
            "expected_positions": {s: format(q, "f") for s, q in sorted(self.expected_positions.items())},
            "baseline": self.baseline,
        }


def is_ours(client_order_id: str | None, known_client_ids: Iterable[str] = ()) -> bool:
    return bool(client_order_id) and (
        str(client_order_id).startswith(OUR_PREFIX) or client_order_id in set(known_client_ids)
    )


def compare(
    *,
    at: datetime,
    snapshot: Snapshot,
    broker_positions: Sequence[Position],
    fills_since: Sequence[FillActivity],
    our_order_ids: set[str],
    open_orders: Sequence[Order],
    known_client_ids: set[str],
    tolerance: Tolerance = Tolerance(),
    corporate_deltas: Mapping[str, Decimal] | None = None,
) -> ReconcileReport:
    """Explain ``broker_positions`` from ``snapshot``, our fills and corporate actions' share changes; pure."""
    expected: dict[str, Decimal] = dict(snapshot.positions)
    explained: list[str] = []
    for symbol, delta in sorted((corporate_deltas or {}).items()):
        expected[symbol] = expected.get(symbol, ZERO) + delta
        explained.append(f"{symbol} {'+' if delta > 0 else ''}{_q(delta)}")
    foreign: list[str] = []
    for fill in fills_since:
        if fill.transaction_time <= snapshot.taken_at:
            continue
        signed = fill.qty if fill.side is OrderSide.BUY else -fill.qty
        if fill.order_id in our_order_ids:
            expected[fill.symbol] = expected.get(fill.symbol, ZERO) + signed
        else:
            foreign.append(f"{fill.symbol} {fill.side.value} {fill.qty} (order {fill.order_id})")
    actual = {p.symbol: p.qty for p in broker_positions if p.qty != 0}
    mismatches: list[str] = []
    for symbol in sorted(set(actual) | {s for s, q in expected.items() if q != 0}):
        have = actual.get(symbol, ZERO)
        want = expected.get(symbol, ZERO)
        if not tolerance.within(have, want):
            mismatches.append(f"{symbol}: broker holds {_q(have)}, store expects {_q(want)} (diff {_q(have - want)})")
    adopted: list[str] = []
    flagged: list[str] = []
    for order in open_orders:
        if order.client_order_id in known_client_ids or order.id in our_order_ids:
            continue
        label = f"{order.symbol} {order.side.value} {order.qty or order.notional} ({order.client_order_id})"
        (adopted if order.client_order_id.startswith(OUR_PREFIX) else flagged).append(label)
    return ReconcileReport(
        at=at,
        ok=not mismatches,
        mismatches=tuple(mismatches),
        adopted_orders=tuple(adopted),
        flagged_orders=tuple(flagged),
        foreign_fills=tuple(foreign),
        corporate_actions=tuple(explained),
        broker_positions=actual,
        expected_positions={s: q for s, q in expected.items() if q != 0},
        baseline=f"{snapshot.source} snapshot of {snapshot.taken_at.isoformat()}",
    )


def _q(value: Decimal) -> str:
    return format(value.normalize(), "f") if value != 0 else "0"


class SnapshotStore:
    """``position_snapshots`` (migration 0004) plus read-only lookups of our orders in the execution tables."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def latest(self) -> Snapshot | None:
        row = await self._store.fetchone(
            "SELECT taken_at, source, positions FROM position_snapshots ORDER BY snapshot_id DESC LIMIT 1"
        )
        if row is None:
            return None
        raw: dict[str, str] = json.loads(row["positions"])
        return Snapshot(
            taken_at=datetime.fromisoformat(row["taken_at"]),
            source=str(row["source"]),
            positions={s: Decimal(q) for s, q in raw.items()},
        )

    async def write(self, at: datetime, source: str, positions: Mapping[str, Decimal]) -> None:
        body = json.dumps({s: format(q, "f") for s, q in sorted(positions.items()) if q != 0})
        await self._store.execute(
            "INSERT INTO position_snapshots (taken_at, source, positions) VALUES (?, ?, ?)",
            (ensure_utc(at).isoformat(), source, body),
        )

    async def recorded_fill_qty(self) -> dict[str, Decimal]:
        """Broker order id → the largest cumulative quantity the execution store recorded for it."""
        try:
            rows = await self._store.fetchall(
                "SELECT broker_order_id, MAX(CAST(cum_qty AS REAL)) AS q, cum_qty FROM execution_fills "
                "GROUP BY broker_order_id"
            )
        except StoreError as exc:
            if "no such table" in str(exc):
                return {}
            raise
        return {str(r["broker_order_id"]): Decimal(str(r["cum_qty"])) for r in rows}

    async def our_orders(self) -> tuple[set[str], set[str]]:
        """(broker order ids, client order ids) of every order intent the execution store holds."""
        try:
            rows = await self._store.fetchall("SELECT client_order_id, broker_order_id FROM execution_orders")
        except StoreError as exc:  # only a store without the execution tables (no orders yet) is tolerated
            if "no such table" in str(exc):
                return set(), set()
            raise
        client_ids = {str(r["client_order_id"]) for r in rows}
        broker_ids = {str(r["broker_order_id"]) for r in rows if r["broker_order_id"]}
        return broker_ids, client_ids


class Reconciler:
    def __init__(
        self,
        broker: ReconcileBroker,
        store: Store,
        audit: AuditLog,
        clock: Clock,
        *,
        tolerance: Tolerance = Tolerance(),
        fill_margin: timedelta = timedelta(minutes=5),
        on_corporate_actions: CorporateActionHook | None = None,
    ) -> None:
        self._broker = broker
        self._snapshots = SnapshotStore(store)
        self._corporate = CorporateActionStore(store, clock)
        self.on_corporate_actions = on_corporate_actions
        self._audit = audit
        self._clock = clock
        self._tolerance = tolerance
        self._fill_margin = fill_margin
        self.last_report: ReconcileReport | None = None

    async def run(self, *, source: str) -> ReconcileReport:
        """Reconcile now. On success the broker's positions become the new snapshot (``source`` labels it).

        With no snapshot at all (a fresh store) the broker's positions are adopted as the baseline.
        """
        now = self._clock.now()
        positions = await self._broker.list_positions()
        snapshot = await self._snapshots.latest()
        if snapshot is None:
            adopted = {p.symbol: p.qty for p in positions if p.qty != 0}
            await self._snapshots.write(now, "adopt", adopted)
            await self._baseline_activities(now)
            await self._audit.append("reconcile.adopted", data={"positions": {s: str(q) for s, q in adopted.items()}})
            report = ReconcileReport(
                at=now,
                ok=True,
                broker_positions=adopted,
                expected_positions=adopted,
                baseline="fresh store: adopted the broker's positions",
            )
            log.info("reconcile_adopted", positions=len(adopted))
            self.last_report = report
            return report
        fills = await self._broker.list_fill_activities(after=snapshot.taken_at - self._fill_margin)
        activities = await self._new_activities(snapshot.taken_at)
        open_orders = await self._broker.list_orders(status="open")
        broker_ids, client_ids = await self._snapshots.our_orders()
        # Orders of ours the store does not know yet (adopted by execution) still explain fills.
        fill_order_ids = {f.order_id for f in fills} - broker_ids
        if fill_order_ids:
            recent = await self._broker.list_orders(status="all", after=snapshot.taken_at - self._fill_margin)
            broker_ids |= {o.id for o in recent if is_ours(o.client_order_id, client_ids)}
        crash_point("during_reconcile")
        report = compare(
            at=now,
            snapshot=snapshot,
            broker_positions=positions,
            fills_since=fills,
            our_order_ids=broker_ids,
            open_orders=open_orders,
            known_client_ids=client_ids,
            tolerance=self._tolerance,
            corporate_deltas=position_deltas(activities),
        )
        recorded = await self._snapshots.recorded_fill_qty()
        latest: dict[str, FillActivity] = {}
        for fill in fills:
            ours = fill.order_id in broker_ids and fill.transaction_time > snapshot.taken_at
            if ours and (fill.order_id not in latest or fill.cum_qty > latest[fill.order_id].cum_qty):
                latest[fill.order_id] = fill
        unrecorded = tuple(
            f"{f.symbol} {f.side.value} order {f.order_id}: broker filled {f.cum_qty}, store has "
            f"{recorded.get(f.order_id, ZERO)}"
            for f in latest.values()
            if recorded.get(f.order_id, ZERO) < f.cum_qty
        )
        if unrecorded:
            report = replace(report, unrecorded_fills=unrecorded)
            log.warning("reconcile_unrecorded_fills", fills=list(unrecorded))
        self.last_report = report
        if report.ok:
            if activities:
                if self.on_corporate_actions is not None:
                    await self.on_corporate_actions(activities)
                await self._corporate.record(activities, "applied")
                log.info("reconcile_corporate_actions", activities=len(activities), changes=report.corporate_actions)
            await self._snapshots.write(now, source, report.broker_positions)
            log.debug("reconciled", source=source, positions=len(report.broker_positions))
        else:
            log.error("reconcile_mismatch", source=source, mismatches=list(report.mismatches))
        await self._audit.append("reconcile." + ("ok" if report.ok else "mismatch"), data=report.to_json())
        return report

    async def _new_activities(self, since: datetime) -> list[NonTradeActivity]:
        """Non-trade activities from shortly before ``since`` that no earlier reconciliation took into account."""
        rows = await self._broker.list_non_trade_activities(after=(since - ACTIVITY_LOOKBACK).date())
        known = await self._corporate.known_ids(a.id for a in rows)
        return [a for a in rows if a.id not in known]

    async def has_new_activities(self) -> bool:
        """Whether the broker posted a position-changing activity no reconciliation took into account yet."""
        snapshot = await self._snapshots.latest()
        if snapshot is None:
            return False
        return bool(position_deltas(await self._new_activities(snapshot.taken_at)))

    async def _baseline_activities(self, now: datetime) -> None:
        """The broker's positions were taken as they are: the activities behind them must never apply again."""
        rows = await self._new_activities(now)
        if rows:
            await self._corporate.record(rows, "baseline")

    async def accept(self, *, by: str, reason: str) -> ReconcileReport:
        """An operator accepts the broker's positions as the truth: they become the new snapshot."""
        now = self._clock.now()
        positions = {p.symbol: p.qty for p in await self._broker.list_positions() if p.qty != 0}
        await self._snapshots.write(now, "operator", positions)
        await self._baseline_activities(now)
        await self._audit.append(
            "reconcile.accepted",
            actor=by,
            data={"reason": reason, "positions": {s: str(q) for s, q in positions.items()}},
        )
        report = ReconcileReport(
            at=now,
            ok=True,
            broker_positions=positions,
            expected_positions=positions,
            baseline=f"accepted by {by}: {reason}",
        )
        self.last_report = report
        return report

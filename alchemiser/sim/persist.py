"""The embedded exchange's state on disk, so a second ``alchemiser run`` in sim mode carries on where the first one
stopped: the account (id, cash, holdings with cost basis), every order (open ones keep their holds and are
re-queued), every fill, the order counter, the seeded random source, the simulated clock and the market's first
session (the synthetic market is anchored on it).

The state is one JSON file beside the store (``<store>.sim.json``), written atomically (temporary file +
``os.replace``). ``world_id`` names the simulated world; the store records the same id (``store/sim_world.py``) so
a store and an exchange that belong to different worlds are detected at start instead of trading against each
other.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from alchemiser.broker.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from alchemiser.errors import ConfigError
from alchemiser.sim.core import SimExchange
from alchemiser.sim.events import FillRecord
from alchemiser.sim.ledger import Holding
from alchemiser.sim.orders import OrderRecord

FORMAT_VERSION = 1
SUFFIX = ".sim.json"

_DECIMALS = (
    "qty",
    "notional",
    "limit_price",
    "filled_qty",
    "filled_cost",
    "avg_price",
    "reserved_cash",
    "reserved_qty",
)
_INSTANTS = (
    "created_at",
    "submitted_at",
    "updated_at",
    "filled_at",
    "expired_at",
    "canceled_at",
    "failed_at",
    "replaced_at",
    "expire_at",
)
_TEXTS = ("id", "client_order_id", "symbol", "asset_id", "replaced_by", "replaces")


def state_path(store_path: Path) -> Path:
    """Where the exchange state of the store at ``store_path`` lives."""
    return store_path.with_name(store_path.name + SUFFIX)


@dataclass(frozen=True, slots=True)
class SavedWorld:
    """The parts of a saved state read before the exchange is built: who it is, when it is, what market."""

    world_id: str
    clock: datetime
    market_start: date
    body: dict[str, Any]


def read_state(path: Path) -> SavedWorld | None:
    """The saved state at ``path`` (``None`` when there is none); ``ConfigError`` naming the file when unreadable."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            [f"sim state {path}: unreadable ({exc}); `alchemiser run --fresh` starts a new simulated account"]
        ) from exc
    try:
        if body["version"] != FORMAT_VERSION:
            raise ValueError(f"format version {body['version']}, expected {FORMAT_VERSION}")
        return SavedWorld(
            world_id=str(body["world_id"]),
            clock=datetime.fromisoformat(body["clock"]),
            market_start=date.fromisoformat(body["market_start"]),
            body=body,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            [f"sim state {path}: malformed ({exc}); `alchemiser run --fresh` starts a new simulated account"]
        ) from exc


def snapshot(exchange: SimExchange, *, world_id: str, clock: datetime, market_start: date) -> dict[str, Any]:
    """Everything needed to rebuild ``exchange`` as it is now (JSON-able)."""
    ledger, book = exchange.ledger, exchange.book
    return {
        "version": FORMAT_VERSION,
        "world_id": world_id,
        "clock": clock.isoformat(),
        "market_start": market_start.isoformat(),
        "last_time": exchange.last_time.isoformat(),
        "account": {
            "id": ledger.account_id,
            "created_at": ledger.created_at.isoformat(),
            "cash": str(ledger.cash),
            "holdings": {s: {"qty": str(h.qty), "cost": str(h.cost)} for s, h in ledger.holdings.items()},
            "close_mark": None if ledger.close_mark is None else ledger.close_mark.isoformat(),
            "close_equity": None if ledger.close_equity is None else str(ledger.close_equity),
        },
        "order_seq": book.seq,
        "orders": [_order_json(rec) for rec in book.records],
        "fills": [_fill_json(fill) for fill in book.fills],
        "rng": _rng_json(exchange.rng.getstate()),
    }


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically replace the state file (0600: it describes the operator's simulated account)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def restore(exchange: SimExchange, saved: SavedWorld) -> None:
    """Put a freshly built ``exchange`` (same market, same config) into the saved state and re-queue open orders."""
    body = saved.body
    account = body["account"]
    ledger = exchange.ledger
    ledger.account_id = str(account["id"])
    ledger.created_at = datetime.fromisoformat(account["created_at"])
    ledger.cash = Decimal(account["cash"])
    ledger.holdings = {
        symbol: Holding(qty=Decimal(h["qty"]), cost=Decimal(h["cost"])) for symbol, h in account["holdings"].items()
    }
    if account.get("close_mark") and account.get("close_equity") is not None:  # absent in states saved before
        ledger.close_mark = datetime.fromisoformat(account["close_mark"])
        ledger.close_equity = Decimal(account["close_equity"])
    records = [_order_of(item) for item in body["orders"]]
    by_id = {rec.id: rec for rec in records}
    fills = [_fill_of(item, by_id, ledger.account_id) for item in body["fills"]]
    exchange.book.restore(records, fills, seq=int(body["order_seq"]))
    exchange.rng.setstate(_rng_of(body["rng"]))
    exchange.last_time = datetime.fromisoformat(body["last_time"])
    exchange.requeue_open_orders(saved.clock)


def _order_json(rec: OrderRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "seq": rec.seq,
        "side": rec.side.value,
        "type": rec.type.value,
        "time_in_force": rec.time_in_force.value,
        "status": rec.status.value,
        "extended_hours": rec.extended_hours,
    }
    for name in _TEXTS:
        item[name] = getattr(rec, name)
    for name in _DECIMALS:
        value = getattr(rec, name)
        item[name] = None if value is None else str(value)
    for name in _INSTANTS:
        value = getattr(rec, name)
        item[name] = None if value is None else value.isoformat()
    return item


def _order_of(item: dict[str, Any]) -> OrderRecord:
    rec = OrderRecord(
        id=item["id"],
        seq=int(item["seq"]),
        client_order_id=item["client_order_id"],
        symbol=item["symbol"],
        asset_id=item["asset_id"],
        side=OrderSide(item["side"]),
        type=OrderType(item["type"]),
        time_in_force=TimeInForce(item["time_in_force"]),
        qty=None,
        notional=None,
        limit_price=None,
        extended_hours=bool(item["extended_hours"]),
        status=OrderStatus(item["status"]),
        now=datetime.fromisoformat(item["created_at"]),
        replaces=item["replaces"],
    )
    rec.replaced_by = item["replaced_by"]
    for name in _DECIMALS:
        value = item[name]
        setattr(rec, name, None if value is None else Decimal(value))
    for name in _INSTANTS:
        value = item[name]
        setattr(rec, name, None if value is None else datetime.fromisoformat(value))
    return rec


def _fill_json(fill: FillRecord) -> dict[str, Any]:
    return {
        "order_id": fill.record.id,
        "qty": str(fill.qty),
        "price": str(fill.price),
        "cum_qty": str(fill.cum_qty),
        "leaves_qty": str(fill.leaves_qty),
        "at": fill.at.isoformat(),
        "execution_id": fill.execution_id,
        "done": fill.done,
        "mid": str(fill.mid),
    }


def _fill_of(item: dict[str, Any], orders: dict[str, OrderRecord], account_id: str) -> FillRecord:
    return FillRecord(
        orders[item["order_id"]],
        Decimal(item["qty"]),
        Decimal(item["price"]),
        Decimal(item["cum_qty"]),
        Decimal(item["leaves_qty"]),
        datetime.fromisoformat(item["at"]),
        str(item["execution_id"]),
        bool(item["done"]),
        Decimal(item["mid"]),
        account_id,
    )


def _rng_json(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_of(item: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = item
    return (int(version), tuple(int(x) for x in internal), gauss)

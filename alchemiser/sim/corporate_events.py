"""The simulated exchange's corporate-action calendar: what happens to which symbol when, from code or a CSV file.

A CSV of events has the header ``kind,symbol,date`` and any of ``ratio,amount,pay_date,announced,new_symbol,
cash_in_lieu``; one row per event::

    kind,symbol,date,ratio,amount,pay_date,announced,new_symbol,cash_in_lieu
    split,UVXY,2024-04-11,0.1,,,2024-03-28,,true       # 1:10 reverse split at the open of 2024-04-11
    dividend,TLT,2024-04-01,,0.28,2024-04-05,,,          # ex-date 04-01, paid 04-05
    halt,SOXL,2024-04-03,,,,,,                           # not tradable from the open of 04-03
    resume,SOXL,2024-04-04,,,,,,
    close,TECS,2024-04-20,,,,2024-03-20,,               # fund closes (liquidated at the open), announced a month ahead
    rename,FB,2024-04-10,,,,,META,                       # FB becomes META at the open

``ratio`` is new shares per old share (2 = a 2:1 split, 0.1 = a 1:10 reverse split). ``announced`` is when the
corporate-actions announcements route starts to show the event (default: two weeks before ``date``; halts are never
announced).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, cast, get_args

from alchemiser.errors import ConfigError

EventKind = Literal["split", "dividend", "halt", "resume", "close", "rename"]
ANNOUNCE_LEAD = timedelta(days=14)
_TRUE = frozenset({"1", "true", "yes", "y"})


@dataclass(frozen=True, slots=True)
class CorporateEvent:
    kind: EventKind
    symbol: str
    effective: date  # ex-date of a split or dividend; the day a halt, resume, close or rename takes effect
    ratio: Decimal = Decimal(1)  # split: new shares per old share
    amount: Decimal = Decimal(0)  # dividend: cash per share
    pay_date: date | None = None  # dividend: when the cash arrives (default: the ex-date)
    announced: date | None = None
    new_symbol: str = ""  # rename
    cash_in_lieu: bool = False  # split: pay the fractional leftover in cash instead of keeping a fraction

    def __post_init__(self) -> None:
        where = f"{self.kind} {self.symbol} {self.effective}"
        if self.kind not in get_args(EventKind):
            raise ValueError(f"corporate event {where}: kind must be one of {', '.join(get_args(EventKind))}")
        if self.kind == "split" and (self.ratio <= 0 or self.ratio == 1):
            raise ValueError(f"corporate event {where}: a split needs a ratio > 0 and ≠ 1, got {self.ratio}")
        if self.kind == "dividend" and self.amount <= 0:
            raise ValueError(f"corporate event {where}: a dividend needs an amount > 0, got {self.amount}")
        if self.kind == "rename" and not self.new_symbol:
            raise ValueError(f"corporate event {where}: a rename needs new_symbol")
        if self.pay_date is not None and self.pay_date < self.effective:
            raise ValueError(f"corporate event {where}: pay_date {self.pay_date} is before the ex-date")

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.symbol}:{self.effective.isoformat()}"

    @property
    def announce_on(self) -> date | None:
        if self.kind in ("halt", "resume"):
            return None
        return self.announced or self.effective - ANNOUNCE_LEAD

    @property
    def paid_on(self) -> date:
        return self.pay_date or self.effective


def _decimal(value: str, column: str, line: int) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ConfigError([f"corporate events line {line}: {column} {value!r} is not a number"]) from exc


def _date(value: str, column: str, line: int) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError([f"corporate events line {line}: {column} {value!r} is not a YYYY-MM-DD date"]) from exc


def load_events_csv(path: Path) -> tuple[CorporateEvent, ...]:
    """Read a CSV of events (see the module docstring); errors name the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"corporate events: cannot read {path}: {exc.strerror}"]) from exc
    reader = csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    missing = {"kind", "symbol", "date"} - set(reader.fieldnames or ())
    if missing:
        raise ConfigError([f"corporate events {path}: missing columns {', '.join(sorted(missing))}"])
    events: list[CorporateEvent] = []
    for line, row in enumerate(reader, start=2):
        cells = {k: (v or "").split("#", 1)[0].strip() for k, v in row.items() if k}
        fields: dict[str, Any] = {
            "kind": cast(EventKind, cells["kind"].lower()),
            "symbol": cells["symbol"].upper(),
            "effective": _date(cells["date"], "date", line),
        }
        if cells.get("ratio"):
            fields["ratio"] = _decimal(cells["ratio"], "ratio", line)
        if cells.get("amount"):
            fields["amount"] = _decimal(cells["amount"], "amount", line)
        for column, name in (("pay_date", "pay_date"), ("announced", "announced")):
            if cells.get(column):
                fields[name] = _date(cells[column], column, line)
        if cells.get("new_symbol"):
            fields["new_symbol"] = cells["new_symbol"].upper()
        fields["cash_in_lieu"] = cells.get("cash_in_lieu", "").lower() in _TRUE
        try:
            events.append(CorporateEvent(**fields))
        except ValueError as exc:
            raise ConfigError([f"corporate events {path} line {line}: {exc}"]) from exc
    return tuple(events)


def announcement_json(event: CorporateEvent, announcement_id: str) -> dict[str, Any] | None:
    """The event as Alpaca's announcement row (``None`` for halts and resumes, which are never announced)."""
    base: dict[str, Any] = {
        "id": announcement_id,
        "corporate_action_id": f"{event.symbol}{event.effective:%Y%m%d}",
        "initiating_symbol": event.symbol,
        "initiating_original_cusip": "",
        "target_symbol": event.new_symbol or event.symbol,
        "target_original_cusip": "",
        "declaration_date": event.announce_on.isoformat() if event.announce_on else None,
        "ex_date": event.effective.isoformat(),
        "record_date": event.effective.isoformat(),
        "payable_date": event.paid_on.isoformat(),
        "cash": "0",
        "old_rate": "1",
        "new_rate": "1",
    }
    if event.kind == "split":
        old, new = (Decimal(1), event.ratio) if event.ratio > 1 else (1 / event.ratio, Decimal(1))
        sub = "stock_split" if event.ratio > 1 else "reverse_split"
        return {**base, "ca_type": "split", "ca_sub_type": sub, "old_rate": f"{old:f}", "new_rate": f"{new:f}"}
    if event.kind == "dividend":
        return {**base, "ca_type": "dividend", "ca_sub_type": "cash", "cash": f"{event.amount:f}"}
    if event.kind == "close":
        return {**base, "ca_type": "merger", "ca_sub_type": "redemption"}
    if event.kind == "rename":
        return {**base, "ca_type": "merger", "ca_sub_type": "merger_update"}
    return None

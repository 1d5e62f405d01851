"""Human formatting of money, weights and times, in one place for the dashboard, ``/status`` and the CLI.

Rules: dollars to the cent with thousands separators (``$12,345.67``, negatives as ``-$5.00``), weights with four
decimals (``0.2500``), percentages and basis points with the precision their column needs, times in New York
(where sessions live) with the zone named. ``None`` renders as an em dash so a missing value is never mistaken for
zero. Every function takes ``Decimal``/``float``/``int`` (or a decimal string as stored) and returns ``str``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
MISSING = "—"
CENT = Decimal("0.01")
WEIGHT_QUANTUM = Decimal("0.0001")

Number = Decimal | float | int | str


def to_decimal(value: Number) -> Decimal:
    """``value`` as a Decimal (floats through ``repr`` so 0.1 stays 0.1); a bad string raises ``ValueError``."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def money(value: Number | None, *, signed: bool = False) -> str:
    """``$1,234.57``; ``-$5.00``; ``+$5.00`` with ``signed``."""
    if value is None:
        return MISSING
    amount = to_decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}${abs(amount):,.2f}"


def weight(value: Number | None) -> str:
    """A portfolio weight as a fraction with four decimals: ``0.2500``."""
    if value is None:
        return MISSING
    return f"{to_decimal(value).quantize(WEIGHT_QUANTUM, rounding=ROUND_HALF_EVEN):.4f}"


def signed_weight(value: Number | None) -> str:
    """A weight difference (drift): ``+0.0125`` / ``-0.0030`` / ``0.0000``."""
    if value is None:
        return MISSING
    amount = to_decimal(value).quantize(WEIGHT_QUANTUM, rounding=ROUND_HALF_EVEN)
    return f"{'+' if amount > 0 else ''}{amount:.4f}"


def percent(value: Number | None, *, places: int = 2, signed: bool = False) -> str:
    """A fraction as a percentage: ``0.1234`` → ``12.34%``."""
    if value is None:
        return MISSING
    amount = to_decimal(value) * 100
    text = f"{amount:.{places}f}%"
    return f"+{text}" if signed and amount > 0 else text


def bps(value: Number | None) -> str:
    """Basis points with one decimal: ``3.2 bps`` (positive = cost)."""
    if value is None:
        return MISSING
    return f"{to_decimal(value):.1f} bps"


def quantity(value: Number | None) -> str:
    """A share quantity without trailing zeros, at most six decimals: ``10``, ``0.5``, ``1,250``."""
    if value is None:
        return MISSING
    amount = to_decimal(value).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN).normalize()
    if amount == amount.to_integral_value():
        return f"{amount:,.0f}"
    return f"{amount:,f}"


def price(value: Number | None) -> str:
    """A per-share price: cents, or four decimals under a dollar."""
    if value is None:
        return MISSING
    amount = to_decimal(value)
    return f"${amount:,.4f}" if abs(amount) < 1 else money(amount)


def duration(seconds: float | None) -> str:
    """``0.8s``, ``42s``, ``3m 05s``, ``2h 07m``, ``3d 04h``."""
    if seconds is None:
        return MISSING
    if seconds < 0:
        return "-" + duration(-seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def countdown(target: datetime | None, now: datetime) -> str:
    """Time left until ``target`` (``in 1h 02m``), or how long ago it passed (``3m 05s ago``)."""
    if target is None:
        return MISSING
    left = (target - now).total_seconds()
    return f"in {duration(left)}" if left >= 0 else f"{duration(-left)} ago"


def timestamp(moment: datetime | None, *, seconds: bool = True) -> str:
    """A moment in New York time with the zone: ``2024-03-05 15:45:12 EST``."""
    if moment is None:
        return MISSING
    local = moment.astimezone(NEW_YORK)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was: ``12s``."""
    if moment is None:
        return MISSING
    return duration(max(0.0, (now - moment).total_seconds()))


def elapsed(start: datetime | None, end: datetime | None) -> str:
    """``end - start`` as a duration (``—`` while unfinished)."""
    if start is None or end is None:
        return MISSING
    return duration((end - start) / timedelta(seconds=1))


__all__ = [
    "MISSING",
    "NEW_YORK",
    "age",
    "bps",
    "countdown",
    "duration",
    "elapsed",
    "money",
    "percent",
    "price",
    "quantity",
    "signed_weight",
    "timestamp",
    "to_decimal",
    "weight",
]

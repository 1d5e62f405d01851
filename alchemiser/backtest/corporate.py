"""Splits and dividends for backtests: derived from a bar file's two close columns, or read from a CSV of events,
and the unadjusted (trading) closes they imply.

A bar file holds ``close`` and ``adj_close``. Their ratio ``m = adj_close / close`` only moves on a corporate action:

* a **split** of ratio r (new shares per old) in a file whose ``close`` is *unadjusted*: the close drops to 1/r
  while the adjusted close runs on, so ``m[t] / m[t-1]`` is r — a simple fraction (2, 3, 1/10, 3/2…) far from 1;
* a **cash distribution** D on ex-date t: Yahoo-style adjustment multiplies every earlier adjusted close by
  ``1 - D / close[t-1]``, so ``q = m[t] / m[t-1] = 1 / (1 - D / close[t-1])`` and ``D = close[t-1] x (1 - 1/q)``.

A jump that snaps to a simple fraction is a split (its residual, if any, a distribution on the same day); any other
rise beyond the 6-decimal rounding noise is a distribution; a fall cannot be a corporate action (a stitching seam in
the data) and is reported, not applied.

Most vendors (Yahoo's ``Close``, Alpaca's ``adjustment=split``, and ``../shared/data/bars``) publish ``close``
already **split-adjusted** up to the file's last date: the splits are then invisible in the two columns and must come
from a CSV of events (the simulated exchange's format, ``alchemiser.sim.corporate_events``). ``trading_closes``
undoes each such split: the price actually quoted on session d is ``close x`` Π r over the splits after d that the
file's closes do not show.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd

from alchemiser.data import BarSource, SymbolBars
from alchemiser.data.prices import FloatArray, to_date
from alchemiser.sim.corporate_events import CorporateEvent

__all__ = [
    "CorporateReplay",
    "DerivedActions",
    "build_replay",
    "derive_events",
    "simple_ratio",
    "trading_closes",
]

#: a factor jump at least this far from 1 (either way) may be a split
SPLIT_MIN_JUMP = 1.2
#: how close (relative) a jump must be to a simple fraction to count as a split
SPLIT_SNAP = 0.005
#: the largest numerator/denominator of a split ratio (1-for-20 reverse splits exist; 3-for-2 forward splits too)
SPLIT_MAX_TERM = 20
#: half a unit of the data's 6th decimal: the rounding error of every price in the file
HALF_ULP = 5e-7
#: relative factor changes below this are never read as a distribution, whatever the rounding allows
MIN_DISTRIBUTION = 1e-5


def _split_ratios() -> tuple[Fraction, ...]:
    """n-for-1 and 1-for-n up to SPLIT_MAX_TERM, and the odd forms issuers use (3-for-2, 5-for-4, 2-for-3…)."""
    ratios = {Fraction(n) for n in range(2, SPLIT_MAX_TERM + 1)} | {
        Fraction(1, n) for n in range(2, SPLIT_MAX_TERM + 1)
    }
    ratios |= {Fraction(p, n) for p in range(1, 6) for n in range(1, 6) if p != n}
    return tuple(sorted(ratios))


def simple_ratio(q: float) -> Fraction | None:
    """``q`` as a split ratio (``_split_ratios``) within SPLIT_SNAP, or None when none fits."""
    if not math.isfinite(q) or q <= 0 or 1 / SPLIT_MIN_JUMP < q < SPLIT_MIN_JUMP:
        return None
    best = min(_SPLIT_RATIOS, key=lambda r: abs(math.log(float(r) / q)))
    return best if abs(float(best) / q - 1) <= SPLIT_SNAP else None


_SPLIT_RATIOS = _split_ratios()


@dataclass(frozen=True)
class DerivedActions:
    """What one bar file's two close columns show: its splits and distributions, and the seams that are neither."""

    symbol: str
    events: tuple[CorporateEvent, ...]
    anomalies: tuple[str, ...] = ()

    @property
    def splits(self) -> tuple[CorporateEvent, ...]:
        return tuple(e for e in self.events if e.kind == "split")

    @property
    def dividends(self) -> tuple[CorporateEvent, ...]:
        return tuple(e for e in self.events if e.kind == "dividend")


def derive_events(bars: SymbolBars) -> DerivedActions:
    """Splits and cash distributions of one symbol from its ``close`` / ``adj_close`` columns (module docstring)."""
    close, adj = bars.close, bars.adj_close
    if len(bars) < 2:
        return DerivedActions(bars.symbol, ())
    factor = adj / close
    q = factor[1:] / factor[:-1]
    # the relative rounding error of q: each of the four prices is off by up to half a unit of the 6th decimal
    noise = 2 * HALF_ULP * (1 / close[1:] + 1 / close[:-1] + 1 / adj[1:] + 1 / adj[:-1])
    tolerance = np.maximum(noise, MIN_DISTRIBUTION)
    events: list[CorporateEvent] = []
    anomalies: list[str] = []
    for k in np.flatnonzero(np.abs(q - 1) > tolerance):
        day = to_date(bars.dates[k + 1])
        jump = float(q[k])
        ratio = simple_ratio(jump)
        residual = jump
        if ratio is not None:
            events.append(CorporateEvent("split", bars.symbol, day, ratio=_decimal_ratio(ratio)))
            residual = jump / float(ratio)
            if abs(residual - 1) <= tolerance[k]:
                continue
        if residual > 1:
            amount = float(close[k]) * (1 - 1 / residual)
            if ratio is not None:
                amount /= float(ratio)  # the previous close is quoted in pre-split shares
            events.append(CorporateEvent("dividend", bars.symbol, day, amount=Decimal(repr(round(amount, 6)))))
        else:
            anomalies.append(
                f"{bars.symbol} {day}: adj_close/close fell by {1 - residual:.4%} (a data seam, not a corporate "
                "action: not applied)"
            )
    return DerivedActions(bars.symbol, tuple(events), tuple(anomalies))


def _decimal_ratio(ratio: Fraction) -> Decimal:
    value = Decimal(ratio.numerator) / Decimal(ratio.denominator)
    return value.quantize(Decimal("1e-9")).normalize()


def trading_closes(bars: SymbolBars, extra_splits: Iterable[CorporateEvent], shown: Iterable[date] = ()) -> FloatArray:
    """The closes as quoted on each session: ``close`` x Π ratio over the ``extra_splits`` after the session whose
    ex-date is not in ``shown`` (splits the file's ``close`` already shows are not undone twice)."""
    visible = set(shown)
    out = bars.close.copy()
    for split in extra_splits:
        if split.kind != "split" or split.effective in visible:
            continue
        before = bars.dates < np.datetime64(split.effective, "D")
        out[before] *= float(split.ratio)
    return out


@dataclass(frozen=True, eq=False)
class CorporateReplay:
    """What the backtest loop needs to replay corporate actions: the trading closes (sessions x symbols, NaN where
    no bar) and the splits and dividends, oldest first; ``notes`` say where they came from."""

    closes: pd.DataFrame
    events: tuple[CorporateEvent, ...]
    notes: tuple[str, ...]

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e.kind == kind)


def build_replay(
    source: BarSource,
    symbols: Sequence[str],
    *,
    extra_events: Sequence[CorporateEvent] = (),
    events_file: str = "",
) -> CorporateReplay | None:
    """The replay for ``symbols`` from the source's bars and ``extra_events`` (a CSV's); None when neither shows
    a single split or distribution (adjusted-only data: the caller falls back to adjusted prices and says so)."""
    columns: dict[str, pd.Series] = {}
    events: list[CorporateEvent] = []
    anomalies: list[str] = []
    derived_counts = [0, 0]
    for symbol in dict.fromkeys(symbols):
        bars = source.bars(symbol)
        if bars is None:
            continue
        derived = derive_events(bars)
        anomalies += derived.anomalies
        given = [e for e in extra_events if e.symbol == symbol and e.kind in ("split", "dividend")]
        given_dividends = {e.effective for e in given if e.kind == "dividend"}
        shown = {e.effective for e in derived.splits}
        # a CSV dividend replaces the one derived on its ex-date (it knows the pay date); a CSV split the file's
        # closes already show is the same event
        kept = [e for e in derived.events if not (e.kind == "dividend" and e.effective in given_dividends)]
        added = [e for e in given if not (e.kind == "split" and e.effective in shown)]
        derived_counts[0] += len(derived.splits)
        derived_counts[1] += len(derived.dividends)
        events += kept + added
        index = pd.DatetimeIndex(bars.dates.astype("datetime64[ns]"))
        columns[symbol] = pd.Series(trading_closes(bars, added, shown), index=index)
    if not events:
        return None
    frame = pd.DataFrame(columns).sort_index()
    events.sort(key=lambda e: (e.effective, e.symbol, e.kind))
    splits_given = sum(1 for e in events if e.kind == "split") - derived_counts[0]
    notes = [
        "Prices: fills and marks use unadjusted (as quoted) closes; splits and cash distributions are applied as "
        "events — positions x ratio at the open of the ex-date, cash on the pay date (the ex-date when unknown) to "
        "the strategies that held the shares — while the signals read adjusted closes.",
        f"Corporate actions replayed from the bar data's close vs adj_close: {derived_counts[0]} split(s), "
        f"{derived_counts[1]} distribution(s)"
        + (f"; from {events_file}: {splits_given} split(s)" if events_file else "")
        + ".",
    ]
    if derived_counts[0] == 0 and not splits_given:
        notes.append(
            "No split found: where the data's closes are split-adjusted (Yahoo 'Close', ../shared/data/bars), share "
            "counts are those of the data's last date; give the splits in a CSV of events for as-traded counts."
        )
    if anomalies:
        notes.append(f"{len(anomalies)} adjustment seam(s) in the data not applied, e.g. {anomalies[0]}")
    return CorporateReplay(frame, tuple(events), tuple(notes))

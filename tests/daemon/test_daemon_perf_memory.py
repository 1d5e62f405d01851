"""The bar refresher hands out exactly the bars it received (every field), through the expected session, and keeps
them across incremental refreshes. (A compact row cache was tried for RSS and reverted: rebuilding Bar objects on
every snapshot — trading's last-close lookups included — stalled the event loop ~50 ms at a time.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from alchemiser.broker.models import Bar
from alchemiser.clock import ManualClock
from alchemiser.trading.data_refresh import BarRefresher
from alchemiser.trading.schedule import NEW_YORK, TradingCalendar

SESSION = date(2024, 3, 5)


class JsonBars:
    """Serves validated-from-JSON bars with distinct values (like the adapter), remembering what it served."""

    def __init__(self, calendar: TradingCalendar) -> None:
        self.calendar = calendar
        self.served: dict[str, list[Bar]] = {}

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        out: dict[str, list[Bar]] = {}
        for k, symbol in enumerate(symbols):
            bars = []
            for i, session in enumerate(self.calendar.sessions_between(start, end)):
                t = datetime.combine(session.day, time(0), NEW_YORK).astimezone(UTC)
                price = 50.0 + k + i * 0.37
                payload = {"t": t.isoformat().replace("+00:00", "Z"), "o": price, "h": price + 1, "l": price - 1}
                payload |= {"c": price + 0.5, "v": 1000.0 + i, "vw": price + 0.25}
                if i % 2:
                    payload["n"] = 10 + i
                bars.append(Bar.model_validate(payload))
            out[symbol] = bars
            self.served.setdefault(symbol, []).extend(bars)
        return out


async def test_snapshot_bars_equal_the_served_bars_through_the_expected_session() -> None:
    cal = TradingCalendar(start=date(2022, 1, 1))
    source = JsonBars(cal)
    refresher = BarRefresher(source, cal, ManualClock(datetime(2024, 3, 5, 19, tzinfo=UTC)))
    await refresher.refresh(["SPY", "TLT"], SESSION, 40)
    snap = refresher.snapshot(["SPY", "TLT"], SESSION, 40)
    assert not snap.problems
    for symbol in ("SPY", "TLT"):
        served = [b for b in source.served[symbol] if b.session_date <= date(2024, 3, 4)][-(40 + 30) :]
        assert snap.bars[symbol] == served  # every field, n and vw included (n is None on even days)
        assert snap.bars[symbol][-1].n is None or snap.bars[symbol][-1].n > 0
    # an incremental refresh the next day merges one new bar and keeps the window
    refresher._clock = ManualClock(datetime(2024, 3, 6, 19, tzinfo=UTC))
    await refresher.refresh(["SPY"], date(2024, 3, 6), 40)
    later = refresher.snapshot(["SPY"], date(2024, 3, 6), 40).bars["SPY"]
    assert later[-1].session_date == date(2024, 3, 5) and later[-1] == source.served["SPY"][-1]
    assert later[:-1] == snap.bars["SPY"][-(len(later) - 1) :]

"""Every published symphony in ../shared/reference/strategies parses and evaluates over the whole history of
../shared/data/bars without an unexpected error.

Per-date errors are expected where data is missing; each is one of: an indicator unavailable on that date (too
little history, or no bar), a held symbol without a price that day, or nothing selected because every candidate
lacked data. Date ranges lost to missing data (the evaluation axis is the union of the dates of the symbols each
file uses; "valid" = dates that evaluate to an allocation):

=========================== ========== ========== ====== =====================================================
file                        first ok   last ok    valid  what is missing
=========================== ========== ========== ====== =====================================================
defence.clj                 —          —          0      none of its 12 tickers (ITA, KTOS, JOBY, …) is in bars
ftlt__holy_grail.clj        2010-11-24 2026-08-20 3916   TQQQ starts 2010-02 (+200-day MA); UVXY starts 2011-10
ftlt__tqqq_ftlt.clj         2010-02-26 2025-12-05 3843   TQQQ starts 2010-02; SPXL ends 2025-12-05
gold.clj                    2007-06-12 2026-01-02 3918   GLL has no file; UGL starts 2008-12
gold_currency.clj           2004-12-06 2026-08-04 2824   SHNY has no file (its branch errors)
hedged_sector_rotator.clj   2012-02-03 2025-11-25 583    XTL only 2023-11 → 2025-11; DUSL, ERX, LTL, UTSL, UYM, WANT
klm_sorter.clj              2016-12-13 2025-11-20 1043   QQQE 2013+, VOOG/VOOV 2016+, KMLM 2020-12+; FNGU, FTLS, …
kmlm_switcher.clj           2013-05-08 2025-11-20 1334   QQQE 2013+, KMLM 2020-12+; FTLS, SVIX
nuclear.clj                 2010-02-26 2025-11-25 3921   TQQQ starts 2010-02; IOO/VTV/VOX end 2025-11-25
rains_concise_em.clj        2024-05-16 2025-10-06 14     IEI has no file; EDC/EDZ/DLN… only 2023-11 → 2025-11
soxl_growth.clj             2010-08-11 2026-04-07 2866   SOXS has no file (its branches error)
tecl_for_the_long_term.clj  2010-05-20 2026-01-02 1219   KMLM starts 2020-12 (earlier dates need it in most paths)
=========================== ========== ========== ====== =====================================================
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pytest

from alchemiser.data import CsvBarSource
from alchemiser.dsl import evaluate, load_symphony, trace, used_symbols

EXPECTED = {
    "defence.clj": (None, 0),
    "ftlt__holy_grail.clj": ("2010-11-24", 3916),
    "ftlt__tqqq_ftlt.clj": ("2010-02-26", 3843),
    "gold.clj": ("2007-06-12", 3918),
    "gold_currency.clj": ("2004-12-06", 2824),
    "hedged_sector_rotator.clj": ("2012-02-03", 583),
    "klm_sorter.clj": ("2016-12-13", 1043),
    "kmlm_switcher.clj": ("2013-05-08", 1334),
    "nuclear.clj": ("2010-02-26", 3921),
    "rains_concise_em.clj": ("2024-05-16", 14),
    "soxl_growth.clj": ("2010-08-11", 2866),
    "tecl_for_the_long_term.clj": ("2010-05-20", 1219),
}
EXPECTED_ERRORS = re.compile(
    r"is unavailable on \d{4}-\d\d-\d\d: (needs \d+ consecutive bars of \S+ through that date|\S+ has no bar on that "
    r"date|no price data for \S+)"
    r"|the allocation holds \S+, which has (no price data|no bar on that date)"
    r"|no holding selected on \d{4}-\d\d-\d\d"
)


@pytest.fixture(scope="module")
def source(shared_bars_dir: Path) -> CsvBarSource:
    return CsvBarSource(shared_bars_dir)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_symphony_evaluates_over_whole_history(
    name: str, reference_strategies_dir: Path, source: CsvBarSource
) -> None:
    s = load_symphony(reference_strategies_dir / name)
    prices = source.prices(used_symbols(s))
    ev = evaluate(s, prices)
    first, valid = EXPECTED[name]
    assert ev.first_valid_date == (None if first is None else dt.date.fromisoformat(first))
    assert int(ev.valid.sum()) == valid
    for result in ev:
        if result.allocation is None:
            assert result.error is not None and EXPECTED_ERRORS.search(result.error), result.error
        else:
            assert math.isclose(sum(result.allocation.values()), 1.0, abs_tol=1e-9)
            assert min(result.allocation.values()) > 0
    if valid:
        # no look-ahead on real data: a few valid dates re-evaluated on data truncated there
        idx = np.flatnonzero(ev.valid)
        for i in (idx[0], idx[len(idx) // 2], idx[-1]):
            date = ev.dates[i]
            single = evaluate(s, prices.truncate(date)).last
            assert single.allocation == pytest.approx(ev.result_at(date).allocation)
            t = trace(s, prices, str(date))
            assert t.allocation == pytest.approx(single.allocation)

"""Shared fixtures of the backtest tests: two small symphonies over a folder of random-walk bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

MOMENTUM = """
(defsymphony "momentum" {:rebalance-threshold 0.05}
  (filter (cumulative-return {:window 3}) (select-top 1) [(asset "AAA" nil) (asset "BBB" nil)]))
"""
STEADY = '(defsymphony "steady" {} (weight-equal [(asset "AAA" nil) (asset "SPY" nil)]))'


def write_bars(folder: Path, n: int = 300, seed: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2020-01-02", periods=n)
    for symbol in ("AAA", "BBB", "SPY"):
        close = 20.0 * np.cumprod(1.0 + rng.normal(0.0004, 0.02, n))
        pd.DataFrame(
            {
                "date": [d.date().isoformat() for d in index],
                "open": close,
                "high": close * 1.01,
                "low": close * 0.99,
                "close": close,
                "adj_close": close,
                "volume": 5000,
            }
        ).to_csv(folder / f"{symbol}.csv", index=False)
    return folder


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_bars(tmp_path / "bars")
    (tmp_path / "momentum.clj").write_text(MOMENTUM, encoding="utf-8")
    (tmp_path / "steady.clj").write_text(STEADY, encoding="utf-8")
    return tmp_path

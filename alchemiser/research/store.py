"""Sweep results on disk: one Parquet file per finished chunk under ``OUT/points/``, written as chunks complete.

A part is written to a temporary name and renamed, so an interrupted sweep leaves only whole parts behind; a
re-run reads the ``key`` column of every part and skips those points. Rows of other inputs (another fingerprint)
may share the folder: :meth:`ResultStore.load` keeps only the keys it is asked for.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alchemiser.errors import DataError

LIST_COLUMNS: tuple[str, ...] = ("block_n", "block_sum", "block_sumsq")
TEXT_COLUMNS: tuple[str, ...] = ("key", "status", "error", "signature", "start", "end")
FLOAT_COLUMNS: tuple[str, ...] = (
    "sessions",
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "trades",
    "exposure",
    "final_equity",
    "sr",
    "skew",
    "kurtosis",
    "seconds",
)


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    """Every row with the same columns and types (an error row has no metrics)."""
    out = dict(row)
    for name in TEXT_COLUMNS:
        out[name] = str(out.get(name) or "")
    for name in FLOAT_COLUMNS:
        value = out.get(name)
        out[name] = math.nan if value is None else float(value)
    for name in LIST_COLUMNS:
        out[name] = [float(v) for v in out.get(name) or []]
    out["point"] = int(out["point"])
    return out


class ResultStore:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts = out / "points"
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create the output folder {self.parts}: {exc.strerror or exc}") from exc

    def _files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet"))

    def finished_keys(self) -> set[str]:
        keys: set[str] = set()
        for file in self._files():
            keys.update(pq.read_table(file, columns=["key"]).column("key").to_pylist())
        return keys

    def append(self, rows: Iterable[dict[str, Any]]) -> Path | None:
        """Write ``rows`` as one new part (atomically); None when there are no rows."""
        frame = pd.DataFrame([_normalise(r) for r in rows])
        if frame.empty:
            return None
        name = f"part-{uuid.uuid4().hex}.parquet"
        tmp = self.parts / f".{name}.tmp"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        final = self.parts / name
        os.replace(tmp, final)
        return final

    def load(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Every stored row (only ``keys`` when given, the first copy of each), sorted by point number."""
        files = self._files()
        if not files:
            return pd.DataFrame(columns=["point", "key", "status", "error"])
        frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
        if keys is not None:
            frame = frame[frame["key"].isin(set(keys))]
        frame = frame.drop_duplicates(subset="key", keep="first")
        ordered: pd.DataFrame = frame.sort_values("point", kind="stable").reset_index(drop=True)
        return ordered

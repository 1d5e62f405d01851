"""The strict parser of one daily-bar CSV file, with numpy alone (no pandas: ``alchemiser signals`` has a 400 ms
start-up budget and importing pandas takes about 360 ms of it).

Format: see :mod:`alchemiser.data.bars`. Two passes at most: numpy's C ``loadtxt`` reads a well-formed file; when it
refuses the file, or the values break a rule (a date not written ``YYYY-MM-DD``, a price not a positive finite
number, a blank line), a row-by-row pass with the :mod:`csv` module finds the first problem and names the file and
its line (1-based, the header is line 1). That pass also reads what ``loadtxt`` cannot (quoted fields). Numbers are
parsed correctly rounded, the same floats pandas' ``read_csv`` gives for these files (a test compares every file of
the shared data set).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alchemiser.data.prices import DateArray, FloatArray
from alchemiser.errors import DataError

CSV_HEADER = ("date", "open", "high", "low", "close", "adj_close", "volume")
PRICE_COLUMNS = CSV_HEADER[1:6]
DATE_LENGTH = len("YYYY-MM-DD")
# Dates are read as text one character longer than a date, so a longer value is seen (not cut to fit).
_ROW = np.dtype([("date", f"U{DATE_LENGTH + 1}"), *((name, "f8") for name in CSV_HEADER[1:])])


def parse_bars_csv(path: Path) -> tuple[DateArray, dict[str, FloatArray]]:
    """Dates and one float64 array per column (``volume`` NaN where empty); ``DataError`` names file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{path}: cannot read bar file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: malformed bar file: not UTF-8 text ({exc.reason})") from exc
    header, _, body = text.partition("\n")
    if tuple(header.strip().split(",")) != CSV_HEADER:
        raise DataError(f"{path}:1: header must be {','.join(CSV_HEADER)!r}, got {header.strip()[:80]!r}")
    lines = body.splitlines()
    if not lines:
        raise DataError(f"{path}: bar file has no rows")
    parsed = _fast(lines) or _row_by_row(path, lines)
    dates, columns = parsed
    _check_increasing(path, dates)
    return dates, columns


def _volume(text: str) -> float:
    return float(text) if text else math.nan


def _fast(lines: Sequence[str]) -> tuple[DateArray, dict[str, FloatArray]] | None:
    """The columns of a well-formed file; ``None`` when anything needs the careful pass."""
    if not all(lines):  # loadtxt skips blank lines (and warns when nothing is left); they are errors here
        return None
    try:
        table = np.loadtxt(lines, delimiter=",", dtype=_ROW, comments=None, ndmin=1)
    except ValueError:
        try:  # an empty volume (allowed) needs a converter, a Python call per row: only for the files that have one
            table = np.loadtxt(lines, delimiter=",", dtype=_ROW, comments=None, converters={6: _volume}, ndmin=1)
        except ValueError:
            return None
    if table.shape[0] != len(lines):  # any other line loadtxt skipped
        return None
    raw_dates = table["date"]
    if not bool((np.char.str_len(raw_dates) == DATE_LENGTH).all()):
        return None
    try:
        dates: DateArray = raw_dates.astype("datetime64[D]")
    except ValueError:
        return None
    columns: dict[str, FloatArray] = {name: np.ascontiguousarray(table[name]) for name in CSV_HEADER[1:]}
    if not all(bool((np.isfinite(columns[name]) & (columns[name] > 0)).all()) for name in PRICE_COLUMNS):
        return None
    return dates, columns


def _row_by_row(path: Path, lines: Sequence[str]) -> tuple[DateArray, dict[str, FloatArray]]:
    """Every row checked in order: the first problem is a ``DataError`` naming its line."""
    dates: list[np.datetime64] = []
    values: dict[str, list[float]] = {name: [] for name in CSV_HEADER[1:]}
    for index, row in enumerate(csv.reader(lines)):
        where = f"{path}:{index + 2}"
        if len(row) != len(CSV_HEADER):
            raise DataError(f"{where}: malformed bar file: expected {len(CSV_HEADER)} fields, got {len(row)}")
        dates.append(_date(where, row[0]))
        for name, text in zip(PRICE_COLUMNS, row[1:6], strict=True):
            values[name].append(_price(where, name, text))
        try:
            values["volume"].append(_volume(row[6]))
        except ValueError:
            raise DataError(f"{where}: column 'volume' holds a non-number: {row[6]!r}") from None
    columns = {name: np.array(column, dtype=np.float64) for name, column in values.items()}
    return np.array(dates, dtype="datetime64[D]"), columns


def _date(where: str, text: str) -> np.datetime64:
    if len(text) != DATE_LENGTH:
        raise DataError(f"{where}: bad date {text!r} (expected YYYY-MM-DD)")
    try:
        return np.datetime64(text, "D")
    except ValueError:
        raise DataError(f"{where}: bad date {text!r} (expected YYYY-MM-DD, a real calendar day)") from None


def _price(where: str, name: str, text: str) -> float:
    try:
        value = float(text.replace("_", "x"))  # Python's float() takes "1_000"; a bar file must not
    except ValueError:
        raise DataError(f"{where}: column {name!r} holds a non-number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise DataError(f"{where}: {name} must be a positive number, got {text!r}")
    return value


def _check_increasing(path: Path, dates: DateArray) -> None:
    if dates.shape[0] > 1:
        not_increasing = np.flatnonzero(dates[1:] <= dates[:-1])
        if not_increasing.shape[0]:
            i = int(not_increasing[0]) + 1
            raise DataError(f"{path}:{i + 2}: date {dates[i]} is not after the previous row's {dates[i - 1]}")

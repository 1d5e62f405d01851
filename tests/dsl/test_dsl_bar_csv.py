"""The numpy bar-file parser: the same floats as pandas' ``read_csv`` on real data, and a line-numbered error for each
kind of bad row (found by the row-by-row pass when the fast one refuses the file)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alchemiser.data import CsvBarSource, bar_csv, read_bars_csv
from alchemiser.data.bar_csv import CSV_HEADER
from alchemiser.errors import DataError

HEADER = ",".join(CSV_HEADER) + "\n"
GOOD = "2024-01-02,1,2,0.5,1.5,1.25,100\n"


def _pandas_columns(path: Path) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    """What the parser replaced: pandas' reading of the same file."""
    frame = pd.read_csv(
        path,
        encoding="utf-8-sig",
        dtype={"date": str, "volume": "float64"},
        keep_default_na=False,
        na_values={"volume": [""]},
    )
    columns = {name: frame[name].to_numpy(dtype=np.float64) for name in CSV_HEADER[1:]}
    columns["date"] = frame["date"].to_numpy(dtype=str).astype("datetime64[D]")
    return columns


def test_every_shared_bar_file_parses_to_pandas_floats_bit_for_bit(shared_bars_dir: Path) -> None:
    files = sorted(shared_bars_dir.glob("*.csv"))
    assert len(files) > 50
    for path in files:
        bars = read_bars_csv(path)
        expected = _pandas_columns(path)
        assert np.array_equal(bars.dates, expected["date"]), path
        for name in CSV_HEADER[1:]:
            assert np.array_equal(getattr(bars, name), expected[name], equal_nan=True), (path, name)
            assert getattr(bars, name).dtype == np.float64 and getattr(bars, name).flags.c_contiguous


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "BAD.csv"
    path.write_text(header + body)
    return path


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (GOOD + "\n" + GOOD.replace("01-02", "01-03"), "BAD.csv:3: malformed bar file: expected 7 fields, got 0"),
        (GOOD + "2024-01-03,1,2,0.5,1.5,1.25,100,7\n", "BAD.csv:3: malformed bar file: expected 7 fields, got 8"),
        (GOOD + "2024-01-03,1,2\n", "BAD.csv:3: malformed bar file: expected 7 fields, got 3"),
        ("2024-01-021,1,2,0.5,1.5,1.25,100\n", "BAD.csv:2: bad date '2024-01-021' (expected YYYY-MM-DD)"),
        ("20240102,1,2,0.5,1.5,1.25,100\n", "BAD.csv:2: bad date '20240102'"),
        (GOOD + "2024-02-30,1,2,0.5,1.5,1.25,100\n", "BAD.csv:3: bad date '2024-02-30'"),
        (GOOD + "2024-01-03,1,2,0.5,1_5,1.25,100\n", "BAD.csv:3: column 'close' holds a non-number: '1_5'"),
        (GOOD + "2024-01-03,1,2,0.5,1.5,inf,100\n", "BAD.csv:3: adj_close must be a positive number, got 'inf'"),
        (GOOD + "2024-01-03,1,2,0.5,1.5,NaN,100\n", "BAD.csv:3: adj_close must be a positive number, got 'NaN'"),
        (GOOD + "2024-01-03,0,2,0.5,1.5,1,100\n", "BAD.csv:3: open must be a positive number, got '0'"),
        (GOOD + "2024-01-03,1,2,0.5,1.5,1,lots\n", "BAD.csv:3: column 'volume' holds a non-number: 'lots'"),
        (GOOD + GOOD, "BAD.csv:3: date 2024-01-02 is not after the previous row's 2024-01-02"),
    ],
)
def test_each_bad_row_is_named_by_file_and_line(tmp_path: Path, body: str, fragment: str) -> None:
    with pytest.raises(DataError) as info:
        read_bars_csv(_write(tmp_path, body))
    assert fragment in str(info.value)


def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "BIN.csv"
    path.write_bytes(HEADER.encode() + b"2024-01-02,\xff,1,1,1,1,1\n")
    with pytest.raises(DataError, match=r"BIN\.csv: malformed bar file: not UTF-8"):
        read_bars_csv(path)


def test_quoted_fields_and_empty_volume_are_read_by_the_careful_pass(tmp_path: Path) -> None:
    assert bar_csv._fast(['"2024-01-02",1,2,0.5,1.5,1.25,7']) is None  # the fast pass refuses quotes
    path = _write(tmp_path, '"2024-01-02","1","2","0.5","1.5","1.25",""\n2024-01-03,1,2,0.5,1.5,1.5,7\n')
    bars = read_bars_csv(path)
    assert [str(d) for d in bars.dates] == ["2024-01-02", "2024-01-03"]
    assert bars.adj_close.tolist() == [1.25, 1.5] and np.isnan(bars.volume[0]) and bars.volume[1] == 7


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    source = CsvBarSource(tmp_path)
    (tmp_path / "DIR.csv").mkdir()
    with pytest.raises(DataError, match=r"DIR\.csv: cannot read bar file"):
        read_bars_csv(tmp_path / "DIR.csv")
    assert source.bars("DIR") is None  # not a file: the folder does not serve it


def test_empty_volumes_take_the_fast_pass_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_careful_pass(path: Path, lines: list[str]) -> None:
        raise AssertionError("the row-by-row pass ran")

    monkeypatch.setattr(bar_csv, "_row_by_row", no_careful_pass)
    rows = "".join(f"2024-01-{day:02d},1,2,0.5,1.5,{day},{'' if day % 2 else day * 10}\n" for day in range(2, 30))
    bars = read_bars_csv(_write(tmp_path, rows))
    assert len(bars) == 28 and bars.adj_close[-1] == 29
    assert np.isnan(bars.volume[1]) and bars.volume[0] == 20


def test_blank_rows_are_named_without_a_numpy_warning(tmp_path: Path) -> None:
    """A file of blank rows once reached ``loadtxt``, which warned "input contained no data" on the user's terminal."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"BAD\.csv:2: malformed bar file: expected 7 fields, got 0"):
            read_bars_csv(_write(tmp_path, "\n\n"))

"""Bar sources and the price matrix: strict CSV reading, alignment, missing-data policy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from alchemiser.data import BarSource, CsvBarSource, PriceMatrix, price_matrix, read_bars_csv
from alchemiser.data.prices import day_array
from alchemiser.errors import DataError

HEADER = "date,open,high,low,close,adj_close,volume\n"


def write(folder: Path, symbol: str, rows: list[str], header: str = HEADER) -> Path:
    path = folder / f"{symbol}.csv"
    path.write_text(header + "".join(r + "\n" for r in rows))
    return path


def test_reads_bars_and_aligns_without_forward_fill(tmp_path: Path) -> None:
    write(tmp_path, "AAA", ["2024-01-02,1,1,1,10,9,100", "2024-01-03,1,1,1,11,10,0", "2024-01-05,1,1,1,12,11,5"])
    write(tmp_path, "BBB", ["2024-01-03,1,1,1,20,20,", "2024-01-04,1,1,1,21,21,7"])
    source = CsvBarSource(tmp_path)
    assert isinstance(source, BarSource)
    assert source.available() == {"AAA", "BBB"}
    bars = source.bars("AAA")
    assert bars is not None and len(bars) == 3
    assert bars.adj_close.tolist() == [9, 10, 11]
    assert np.isnan(source.bars("BBB").volume[0])  # type: ignore[union-attr]
    m = source.prices(["AAA", "BBB", "NOPE"])
    assert m.symbols == ("AAA", "BBB")
    assert [str(d) for d in m.dates] == ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    aaa = m.column("AAA")
    assert aaa is not None
    assert aaa[:2].tolist() == [9, 10] and np.isnan(aaa[2]) and aaa[3] == 11  # 01-04 missing: not filled
    assert m.column("NOPE") is None
    assert m.index_of("2024-01-04") == 2 and m.index_of("2024-01-06") is None
    assert len(source.prices(["AAA"], end="2024-01-03")) == 2
    assert m.first_date == dt.date(2024, 1, 2) and m.last_date == dt.date(2024, 1, 5)


@pytest.mark.parametrize(
    ("rows", "header", "fragment"),
    [
        (["2024-01-02,1,1,1,10,9,100"], "Date,Open,High,Low,Close,Adj Close,Volume\n", ":1: header must be"),
        (["2024-01-03,1,1,1,10,9,1", "2024-01-02,1,1,1,10,9,1"], HEADER, ":3: date 2024-01-02 is not after"),
        (["2024-01-02,1,1,1,10,9,1", "2024-01-02,1,1,1,10,9,1"], HEADER, "is not after"),
        (["2024-01-02,1,1,1,10,-9,1"], HEADER, ":2: adj_close must be a positive number"),
        (["2024-01-02,1,1,1,abc,9,1"], HEADER, "column 'close' holds a non-number"),
        (["2024/01/02,1,1,1,10,9,1"], HEADER, "bad date"),
        (["24-01-02,1,1,1,10,9,1"], HEADER, ":2: bad date"),
        ([], HEADER, "has no rows"),
    ],
)
def test_malformed_files_are_clear_errors(tmp_path: Path, rows: list[str], header: str, fragment: str) -> None:
    path = write(tmp_path, "BAD", rows, header)
    with pytest.raises(DataError) as info:
        read_bars_csv(path)
    assert fragment in str(info.value)
    assert "BAD.csv" in str(info.value)


def test_missing_folder_and_unknown_symbol(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        CsvBarSource(tmp_path / "nope")
    source = CsvBarSource(tmp_path)
    assert source.bars("ZZZ") is None
    assert source.bars("../etc/passwd") is None  # never leaves the folder
    assert len(price_matrix(source, ["ZZZ"])) == 0


def test_price_matrix_validation() -> None:
    d = np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]")
    with pytest.raises(DataError, match="shape"):
        PriceMatrix(d, ("A",), np.ones((3, 1)))
    with pytest.raises(DataError, match="strictly increasing"):
        PriceMatrix(d[::-1], ("A",), np.ones((2, 1)))
    with pytest.raises(DataError, match="unique"):
        PriceMatrix(d, ("A", "A"), np.ones((2, 2)))
    with pytest.raises(DataError, match="non-positive"):
        PriceMatrix(d, ("A",), np.array([[1.0], [0.0]]))
    with pytest.raises(DataError, match="2 dates but 1 closes"):
        PriceMatrix.from_columns({"A": (d, [1.0])})
    m = PriceMatrix(d, ("A", "B"), np.array([[1.0, np.nan], [2.0, np.nan]]))
    assert m.values.flags.writeable is False
    sel = m.select(["B"])
    assert sel.symbols == ("B",) and len(sel) == 0
    assert len(PriceMatrix.empty()) == 0


def test_real_bars_load(shared_bars_dir: Path) -> None:
    source = CsvBarSource(shared_bars_dir)
    assert {"SPY", "TQQQ", "UVXY", "KMLM"} <= source.available()
    m = source.prices(["SPY", "KMLM"])
    kmlm = m.column("KMLM")
    assert kmlm is not None
    first = int(np.flatnonzero(~np.isnan(kmlm))[0])
    gaps = int(np.isnan(kmlm[first:]).sum())
    assert gaps >= 80  # KMLM's missing early sessions stay missing (not forward-filled)


def test_with_row_appends_a_provisional_bar() -> None:
    d = np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]")
    m = PriceMatrix(d, ("A", "B"), np.array([[1.0, 2.0], [1.5, 2.5]]))
    live = m.with_row("2024-01-04", {"A": 1.7})
    assert len(live) == 3 and str(live.dates[-1]) == "2024-01-04"
    assert live.column("A")[-1] == 1.7 and np.isnan(live.column("B")[-1])  # type: ignore[index]
    assert len(m) == 2  # the original is unchanged
    with pytest.raises(DataError, match="must be after the last date"):
        m.with_row("2024-01-03", {"A": 1.0})
    with pytest.raises(DataError, match="does not hold: Z"):
        m.with_row("2024-01-04", {"Z": 1.0})
    with pytest.raises(DataError, match="non-positive"):
        m.with_row("2024-01-04", {"A": -1.0})


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "WIN.csv"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER.replace("\n", "\r\n").encode() + b"2024-01-02,1,1,1,10,9,100\r\n")
    bars = read_bars_csv(path)
    assert bars.symbol == "WIN" and bars.adj_close.tolist() == [9.0]


def test_dates_convert_the_same_whatever_their_form() -> None:
    days = [dt.date(1969, 12, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 1)]
    expected = np.array(["1969-12-31", "2024-02-29", "2024-03-01"], dtype="datetime64[D]")
    for form in (days, [d.isoformat() for d in days], expected):
        got = day_array(form)
        assert got.dtype == np.dtype("datetime64[D]") and list(got) == list(expected)
    assert list(day_array([dt.datetime(2024, 2, 29, 15, 30)])) == [expected[1]]  # a timestamp keeps its day
    assert day_array([]).shape == (0,)
    by_date = PriceMatrix.from_columns({"A": (days, [1.0, 2.0, 3.0])})
    by_text = PriceMatrix.from_columns({"A": ([d.isoformat() for d in days], [1.0, 2.0, 3.0])})
    assert list(by_date.dates) == list(by_text.dates) and by_date.values.tolist() == by_text.values.tolist()

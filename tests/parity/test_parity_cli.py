"""``alchemiser parity`` against a real store file, in a subprocess: table, JSON and CSV; bad input named."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from alchemiser.parity.parts import PARTS
from alchemiser.store.database import Store
from tests.parity.factories import order, save_settled, session

DAY = date(2024, 3, 5)


async def _store_with_one_session(path: Path) -> None:
    live = session(
        orders=(order("SPY", "buy", "40", "30", "247.00", "247.20", bid="246.98", ask="247.02"),),
        previous_closes={"SPY": "246.50"},
        closes={"SPY": "249.00"},
        live_targets={"SPY": "0.99"},
        day=DAY,
    )
    store = await Store.open(path)
    try:
        await save_settled(store, live)
    finally:
        await store.close()


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alchemiser.cli.main", "parity", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_parity_command_prints_table_json_and_csv(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    await _store_with_one_session(store)
    config = tmp_path / "alchemiser.toml"
    config.write_text(f'[store]\npath = "{store}"\n')
    table = _cli(config)
    assert table.returncode == 0, table.stderr
    assert "2024-03-05" in table.stdout and "unexplained" in table.stdout and "worst orders" in table.stdout
    data = json.loads(_cli(config, "--format", "json").stdout)
    [row] = data["sessions"]
    assert sum(Decimal(v) for v in row["parts"].values()) == Decimal(row["session_gap"])
    assert data["tca"]["orders"][0]["cost_vs_decision"] == "6.00"
    rows = list(csv.reader(io.StringIO(_cli(config, "--format", "csv").stdout)))
    assert rows[0][-len(PARTS) :] == list(PARTS) and rows[1][0] == "2024-03-05"
    assert json.loads(_cli(config, "--since", "2024-03-06", "--format", "json").stdout)["sessions"] == []


def test_parity_command_names_bad_input(tmp_path: Path) -> None:
    config = tmp_path / "alchemiser.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "missing.sqlite"}"\n')
    missing = _cli(config)
    assert missing.returncode == 1 and "no store at" in missing.stderr
    bad = _cli(config, "--since", "yesterday")
    assert bad.returncode == 2 and "--since" in bad.stderr

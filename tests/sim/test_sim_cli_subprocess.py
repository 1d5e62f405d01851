"""``alchemiser sim-exchange`` as a real subprocess: prints its port, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.sim.server_fixtures import market_order

AUTH = {"APCA-API-KEY-ID": "cli-key", "APCA-API-SECRET-KEY": "cli-secret"}


def _start(*extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "alchemiser.cli.main", "sim-exchange", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ALCHEMISER_SIM_FAULT_TOKEN": "cli-token"},
    )


def test_standalone_server_serves_and_stops(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text('{"error_rates": {"GET /v2/positions": {"503": 1.0}}}')
    proc = _start(
        "--start", "2025-06-03", "--start-time", "11:00", "--seed", "3", "--key-id", "cli-key", "--secret",
        "cli-secret", "--partial-fill-rate", "0", "--faults-file", str(faults),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)  # bounded: never hang on a silent child
        assert ready, "sim-exchange printed nothing within 120 s"
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:(\d+)) port=(\d+)", line)
        assert match, line
        base = match.group(1)
        with httpx.Client(base_url=base, headers=AUTH, timeout=10) as http:
            clock = http.get("/sim/clock").json()
            assert clock["now"].startswith("2025-06-03T11:00") and clock["is_open"]
            assert http.get("/v2/account").json()["cash"] == "100000"
            placed = http.post("/v2/orders", json=market_order(qty="1")).json()
            assert placed["status"] == "pending_new"
            assert http.get("/v2/positions").status_code == 503  # the fault file applies
            switched = http.put("/sim/faults", headers={"X-Sim-Fault-Token": "cli-token"}, json={})
            assert switched.status_code == 200 and switched.json()["error_rates"] == {}
            assert http.get("/v2/positions").status_code == 200  # faults switched off at run time
            for _ in range(100):
                if http.get(f"/v2/orders/{placed['id']}").json()["status"] == "filled":
                    break
            assert http.get(f"/v2/orders/{placed['id']}").json()["status"] == "filled"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--speed", "-2"), "--speed must be > 0"),
        (("--data", "/nonexistent/bars"), "is not a folder of bar CSVs"),
        (("--start", "2025-06-03", "--start-time", "25:99"), "--start-time"),
    ],
)
def test_bad_arguments_exit_2_with_a_named_problem(args: tuple[str, ...], message: str) -> None:
    proc = _start(*args)
    _, err = proc.communicate(timeout=120)  # generous: the CLI's start-up took > 30 s on a loaded 2-core host
    assert proc.returncode == 2
    assert message in err


def test_standalone_replays_a_csv_folder(shared_bars_dir: Path) -> None:
    # real speed: at 60x the half-minute a loaded host took between the start and the first request was 09:30->10:03
    proc = _start("--data", str(shared_bars_dir), "--key-id", "cli-key", "--secret", "cli-secret", "--speed", "1")
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "sim-exchange printed nothing within 120 s"
        match = re.search(r"listening on (http://\S+) port=", proc.stdout.readline())
        assert match
        with httpx.Client(base_url=match.group(1), headers=AUTH, timeout=10) as http:
            clock = http.get("/sim/clock").json()
            assert clock["now"].startswith("2025-11-25T09:3") and clock["is_open"]  # the data's last common session
            quote = http.get("/v2/stocks/quotes/latest", params={"symbols": "SPY"}).json()["quotes"]["SPY"]
            bars = http.get(
                "/v2/stocks/bars", params={"symbols": "SPY", "timeframe": "1Day", "start": "2025-11-17"}
            ).json()["bars"]["SPY"]
            assert bars[-1]["t"].startswith("2025-11-25")
            assert abs(quote["ap"] - bars[-1]["o"]) / bars[-1]["o"] < 0.01  # near the open at 09:30
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0

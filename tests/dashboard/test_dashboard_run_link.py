"""``alchemiser run`` in sim without a control token (what ``make run`` does): a real subprocess prints a one-click
login link with a token made for the run; the link logs in and redirects to a clean URL, and the token never
appears in the daemon's log lines."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests.foundation.conftest import SYMPHONY, DaemonProcess, base_config, free_port, write_config


def test_sim_run_prints_a_one_click_login_link(tmp_path: Path) -> None:
    (tmp_path / "strategies").mkdir()
    for name in ("a", "b"):
        (tmp_path / "strategies" / f"{name}.clj").write_text(SYMPHONY)
    port = free_port()
    config = write_config(tmp_path, base_config(tmp_path, port=port, token=None))
    daemon = DaemonProcess(config, port, tmp_path)
    try:
        daemon.wait_ready(60)
        deadline = time.monotonic() + 10
        while (match := re.search(r"(http://127\.0\.0\.1:\d+)/login\?token=(\S+)", daemon.output())) is None:
            assert time.monotonic() < deadline, daemon.output()
            time.sleep(0.05)
        base, token = match.group(1), match.group(2)
        assert base == daemon.url and len(token) >= 16
        with httpx.Client(base_url=base) as client:
            assert client.get("/").status_code == 303, "no session yet: the dashboard asks for a login"
            login = client.get(f"/login?token={token}")
            assert login.status_code == 303 and login.headers["location"] == "/"
            page = client.get("/")
            assert page.status_code == 200 and "<h1>Overview</h1>" in page.text
            assert client.get("/api/status-nope").status_code in (401, 404)
            api = client.get("/api/decisions", headers={"Authorization": f"Bearer {token}"})
            assert api.status_code == 200, "the run's token also opens the control API"
        log_lines = [line for line in daemon.output().splitlines() if line.startswith("{")]
        assert log_lines and not any(token in line for line in log_lines), "the token must never be logged"
    finally:
        daemon.stop()

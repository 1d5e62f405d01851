"""The daemon as a real process: SIGKILL keeps the kill switch latched, SIGTERM exits 0 within the bound, a second
signal forces, SIGHUP rotates secrets and rejects an invalid reload, and the control CLI talks to it."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from alchemiser.cli.main import main
from tests.foundation.conftest import TOKEN, DaemonProcess, base_config, free_port, write_config

pytestmark = pytest.mark.slow


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_kill_switch_survives_sigkill_and_cli_controls_it(
    workdir: Path, daemon_factory: list[DaemonProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    config = write_config(workdir, base_config(workdir, port=port))
    first = DaemonProcess(config, port, workdir)
    daemon_factory.append(first)
    first.wait_ready()

    assert main(["kill", "--config", str(config), "--reason", "drill", "--action", "cancel"]) == 0
    assert json.loads(capsys.readouterr().out)["kill_switch"]["engaged"] is True
    first.proc.send_signal(signal.SIGKILL)
    assert first.proc.wait(timeout=10) == -signal.SIGKILL

    second = DaemonProcess(config, port, workdir)
    daemon_factory.append(second)
    wait_until(lambda: healthy(second.url), what="restarted daemon /healthz")
    status = httpx.get(f"{second.url}/status", timeout=5).json()
    assert status["kill_switch"]["engaged"] is True
    assert status["kill_switch"]["reason"] == "drill" and status["kill_switch"]["action"] == "cancel"
    ready = httpx.get(f"{second.url}/readyz", timeout=5)
    assert ready.status_code == 503 and "kill_switch" in ready.json()["failing"]

    assert main(["status", "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["kill_switch"]["engaged"] is True
    assert main(["resume", "--url", second.url, "--token", "wrong-token-000000000"]) == 1
    assert "401" in capsys.readouterr().err
    assert main(["resume", "--url", second.url, "--token", TOKEN, "--reason", "all clear"]) == 0
    wait_until(lambda: httpx.get(f"{second.url}/readyz", timeout=5).status_code == 200, what="ready after resume")

    second.proc.send_signal(signal.SIGTERM)
    assert second.proc.wait(timeout=30) == 0
    db = sqlite3.connect(workdir / "var/store.sqlite")
    statuses = [r[0] for r in db.execute("SELECT status FROM runs ORDER BY started_at")]
    kinds = [r[0] for r in db.execute("SELECT kind FROM audit_events ORDER BY id")]
    db.close()
    assert statuses == ["crashed", "stopped"]
    assert "daemon.previous_run_crashed" in kinds
    assert kinds.index("kill_switch.engaged") < kinds.index("kill_switch.resumed")


def test_cli_reports_an_unreachable_daemon(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "2"]) == 1
    assert "cannot reach the daemon" in capsys.readouterr().err
    assert main(["kill", "--url", f"http://127.0.0.1:{free_port()}"]) == 2  # no token anywhere
    assert "no control token" in capsys.readouterr().err


def test_sigterm_exits_zero_within_the_bound(workdir: Path, daemon_factory: list[DaemonProcess]) -> None:
    port = free_port()
    config = write_config(
        workdir, base_config(workdir, port=port, extra="[supervisor]\nshutdown_timeout_seconds = 10\n")
    )
    daemon = DaemonProcess(config, port, workdir)
    daemon_factory.append(daemon)
    daemon.wait_ready()
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=10) == 0
    lines = [json.loads(line) for line in daemon.output().splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert "daemon.stopping" in events and "daemon.stopped" in events
    stopped = lines[events.index("daemon.stopped")]
    assert stopped["exit_code"] == 0 and stopped["clean"] is True
    during_shutdown = lines[events.index("daemon.stopping") :]
    assert not [line for line in during_shutdown if line["level"] in ("error", "critical")]
    assert not healthy(daemon.url)


HANGING_DAEMON = textwrap.dedent(
    """
    import asyncio, sys
    from alchemiser.config import load_settings
    from alchemiser.logging import Redactor, configure_logging
    from alchemiser.daemon.daemon import Daemon

    class HangOnShutdown:
        name = "hang"

        async def setup(self, ctx):
            async def hang():
                await asyncio.Event().wait()
            ctx.add_shutdown_hook(hang)

    settings = load_settings(sys.argv[1], secrets_dir=None)
    configure_logging(settings.logging, Redactor())
    sys.exit(asyncio.run(Daemon(settings, plugins=[HangOnShutdown()]).run()))
    """
)


def start_hanging(workdir: Path, bound: float) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    extra = f"[supervisor]\nshutdown_timeout_seconds = {bound}\n"
    config = write_config(workdir, base_config(workdir, port=port, extra=extra))
    script = workdir / "hanging.py"
    script.write_text(HANGING_DAEMON)
    log = workdir / "hanging.log"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(config)], cwd=workdir, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthy(url), what="hanging daemon up")
    except AssertionError:
        proc.kill()
        raise AssertionError(log.read_text()) from None
    return proc, url, log


def test_shutdown_bound_is_enforced(workdir: Path) -> None:
    proc, _, log = start_hanging(workdir, bound=1.5)
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 1
        assert "daemon.shutdown_timeout" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_second_signal_forces_exit(workdir: Path) -> None:
    proc, _, log = start_hanging(workdir, bound=120)
    try:
        proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "daemon.stopping" in log.read_text(), what="graceful shutdown started")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 128 + signal.SIGINT
        assert "daemon.forced_exit" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sighup_rotates_secrets_and_rejects_invalid_reload(workdir: Path, daemon_factory: list[DaemonProcess]) -> None:
    creds = workdir / "creds"
    creds.mkdir()
    old_token, new_token = "old-token-abcdefghijklmnop", "new-token-qrstuvwxyz012345"
    (creds / "control_token").write_text(old_token + "\n")
    port = free_port()
    config = write_config(workdir, base_config(workdir, port=port, token=None))
    daemon = DaemonProcess(config, port, workdir, env={"CREDENTIALS_DIRECTORY": str(creds)})
    daemon_factory.append(daemon)
    daemon.wait_ready()

    def resume(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.post(f"{daemon.url}/api/resume", headers=headers, timeout=5).status_code

    assert resume(old_token) == 200

    (creds / "control_token").write_text(new_token + "\n")
    daemon.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: resume(new_token) == 200, what="rotated token accepted")
    assert resume(old_token) == 401

    (creds / "control_token").write_text("third-token-abcdefghijklmn\n")
    write_config(workdir, base_config(workdir, port=port, token=None).replace("weight = 0.4", "weight = 0.9"))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "config.reload_rejected" in daemon.output(), what="reload rejected")
    assert resume(new_token) == 200  # the running configuration stayed
    assert resume("third-token-abcdefghijklmn") == 401
    assert healthy(daemon.url)
    output = daemon.output()
    assert "strategies: weights must sum to 1" in output
    for secret in (old_token, new_token, "third-token-abcdefghijklmn"):
        assert secret not in output

    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=30) == 0

"""Fixtures for the foundation tests: an isolated working directory with strategy files and a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-control-token-0123456789"
SYMPHONY = '(defsymphony "test" {:rebalance-frequency :daily} (weight-equal [(asset "SPY")]))\n'


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ALCHEMISER_") and name not in ("ALCHEMISER_REQUIRE_SHARED", "ALCHEMISER_SHARED_DIR"):
            monkeypatch.delenv(name)
    for name in ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cwd holding ``strategies/{a,b}.clj``; no ``config/alchemiser.toml``."""
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    for name in ("a", "b"):
        (strategies / f"{name}.clj").write_text(SYMPHONY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_config(directory: Path, body: str, name: str = "alchemiser.toml") -> Path:
    path = directory / name
    path.write_text(body)
    return path


def base_config(directory: Path, *, port: int = 0, token: str | None = TOKEN, extra: str = "", top: str = "") -> str:
    """A valid sim config; ``top`` holds top-level keys, ``extra`` more tables."""
    token_line = f'control_token = "{token}"\n' if token else ""
    return (
        f"{top}{token_line}"
        f'[[strategies]]\nfile = "{directory / "strategies/a.clj"}"\nweight = 0.6\n'
        f'[[strategies]]\nfile = "{directory / "strategies/b.clj"}"\nweight = 0.4\n'
        f"[http]\nport = {port}\n"
        f'[store]\npath = "{directory / "var/store.sqlite"}"\n'
        f'[logging]\nformat = "json"\n'
        f"{extra}"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaemonProcess:
    """``alchemiser run`` in a real subprocess; stdout/stderr go to a log file."""

    def __init__(self, config: Path, port: int, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = cwd / f"daemon-{time.monotonic_ns()}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ALCHEMISER_")}
        full_env.update(env or {})
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alchemiser.cli.main", "run", "--config", str(config)],
            cwd=cwd,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def daemon_factory(workdir: Path) -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.stop()


def wait_for_a_decision(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 300.0) -> int:
    """The symphony worker's pid once the daemon has stored a decision (the worker evaluated its symphonies)."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {TOKEN}"}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            decided = httpx.get(f"{url}/api/decisions/last", headers=headers, timeout=5.0).status_code == 200
        except httpx.HTTPError:
            decided = False
        workers = [c.pid for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]
        if decided and workers:
            return workers[0]
        time.sleep(0.5)
    raise AssertionError(f"no decision within {timeout}s:\n{log.read_text(errors='replace')}")

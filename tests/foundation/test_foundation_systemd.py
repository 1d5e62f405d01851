"""sd_notify over a real AF_UNIX datagram socket (path and abstract namespace), alone and from the daemon."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from alchemiser.process.systemd import SystemdNotifier
from tests.foundation.conftest import DaemonProcess, base_config, free_port, write_config


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)
    yield sock, str(path)
    sock.close()


def test_disabled_without_notify_socket() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog_interval() is None


def test_ready_watchdog_stopping_on_a_path_socket(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
    assert notifier.enabled and notifier.watchdog_interval() == 2.0
    assert notifier.ready("up")
    message = sock.recv(4096).decode()
    assert message.splitlines()[:2] == ["READY=1", "STATUS=up"] and f"MAINPID={os.getpid()}" in message
    assert notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.stopping()
    assert sock.recv(4096).startswith(b"STOPPING=1")


def test_abstract_namespace_socket() -> None:
    name = f"alchemiser-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(10)
    try:
        assert SystemdNotifier({"NOTIFY_SOCKET": f"@{name}"}).notify("READY=1")
        assert sock.recv(64) == b"READY=1"
    finally:
        sock.close()


def test_watchdog_for_another_pid_or_garbage_is_ignored() -> None:
    assert SystemdNotifier({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_interval() is None
    assert SystemdNotifier({"WATCHDOG_USEC": "soon"}).watchdog_interval() is None
    assert SystemdNotifier({"NOTIFY_SOCKET": "relative/path"}).enabled is False


def test_send_failure_is_reported_not_raised(tmp_path: Path) -> None:
    assert SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")}).ready() is False


@pytest.mark.slow
def test_daemon_notifies_ready_watchdog_and_stopping(
    workdir: Path, notify_socket: tuple[socket.socket, str], daemon_factory: list[DaemonProcess]
) -> None:
    sock, path = notify_socket
    port = free_port()
    config = write_config(workdir, base_config(workdir, port=port))
    daemon = DaemonProcess(config, port, workdir, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    daemon_factory.append(daemon)
    received: list[str] = []
    while not any(m.startswith("WATCHDOG=1") for m in received):
        received.append(sock.recv(4096).decode())
    assert received[0].startswith("READY=1")
    daemon.proc.send_signal(signal.SIGTERM)
    while not received[-1].startswith("STOPPING=1"):
        received.append(sock.recv(4096).decode())
    assert daemon.proc.wait(timeout=30) == 0

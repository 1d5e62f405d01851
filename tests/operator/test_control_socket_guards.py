"""The control socket's guards without a daemon: another user's socket is never replaced, a path too long for
``sun_path`` is a clear error, and without socket or token the CLI refuses state changes."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from alchemiser.cli.main import main
from alchemiser.errors import ConfigError
from alchemiser.process import control_socket


def test_daemon_will_not_replace_another_users_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.sqlite.sock"
    foreign = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    foreign.bind(str(path))
    try:
        me = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: me + 1)
        with pytest.raises(ConfigError, match="refusing to replace it"):
            control_socket.bind_private(path)
        monkeypatch.setattr(os, "getuid", lambda: me)
        mine = control_socket.bind_private(path)  # a leftover socket of ours is replaced
        mine.close()
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
        control_socket.remove(path)
        assert not path.exists()
    finally:
        foreign.close()


def test_socket_path_too_long_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="path longer than"):
        control_socket.bind_private(tmp_path / ("x" * 120))


def test_without_socket_or_token_state_changes_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALCHEMISER_STORE__PATH", str(tmp_path / "none.sqlite"))
    monkeypatch.delenv("ALCHEMISER_CONTROL_TOKEN", raising=False)
    assert main(["resume"]) == 2
    assert "no control token and no local control socket" in capsys.readouterr().err

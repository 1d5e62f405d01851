"""The local control socket: ``status``, ``explain --last``, ``kill``, ``resume`` work without a token over it; the
socket is 0600 and ours; a socket of another user (or one open to others) is refused by the CLI and the daemon."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from alchemiser.cli.main import main
from alchemiser.process import control_socket
from tests.daemon.simrig import SimDaemon, sim_settings, started_after_its_decision

START = date(2024, 3, 6)
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimDaemon]:
    tmp_path: Path = tmp_path_factory.mktemp("sock")
    settings = sim_settings(tmp_path, start=START, webhook=None, extra={"control_token": None})
    assert settings.control_token is None  # like `make run`
    sim = await started_after_its_decision(settings, speed=30, lead=timedelta(seconds=20))
    yield sim
    await sim.stop()


@pytest.fixture
def local_store(rig: SimDaemon, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI's configuration at the rig's store (as `make run` and `alchemiser status` share config)."""
    store = rig.daemon.settings.store.path
    monkeypatch.setenv("ALCHEMISER_STORE__PATH", str(store))
    monkeypatch.setenv("ALCHEMISER_HTTP__PORT", "1")  # TCP would fail: the socket must be what is used
    monkeypatch.delenv("ALCHEMISER_CONTROL_TOKEN", raising=False)
    return store


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_socket_is_private_and_ours(rig: SimDaemon) -> None:
    path = control_socket.socket_path(rig.daemon.settings.store.path)
    info = path.lstat()
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()


async def test_operator_commands_over_the_socket_without_a_token(
    rig: SimDaemon, local_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli("status") == 0
    out = capsys.readouterr().out
    # readiness itself is not under test here (a loaded host may briefly report a stale stream): the summary is
    assert "sim mode · " in out and "kill switch   off" in out and "positions" in out, out[-3000:]
    assert await _cli("explain", "--last") == 0
    assert "decision D20240306 for session 2024-03-06" in capsys.readouterr().out
    assert await _cli("resume") == 0
    assert "not engaged; nothing to resume" in capsys.readouterr().out
    assert await _cli("kill", "--reason", "socket test") == 0
    assert rig.daemon.context is not None and rig.daemon.context.kill_switch.engaged
    assert rig.daemon.context.kill_switch.state.changed_by == "http:local-socket"
    capsys.readouterr()
    assert await _cli("status") == 0
    out = capsys.readouterr().out
    assert "NOT READY" in out and "ENGAGED (freeze)" in out and "socket test" in out
    assert await _cli("resume") == 0
    assert '"changed": true' in capsys.readouterr().out
    assert not rig.daemon.context.kill_switch.engaged


async def test_tcp_control_api_still_needs_a_token(rig: SimDaemon) -> None:
    async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
        response = await client.post("/api/kill", json={})
    assert response.status_code == 403  # no control_token configured: the TCP control API stays closed


async def test_socket_answers_whatever_host_its_client_names(rig: SimDaemon) -> None:
    """No browser can open the owner-only socket, so the DNS-rebinding Host check does not apply to it (httpx and
    curl over a Unix socket name arbitrary hosts such as ``local``); over TCP the same name is still refused."""
    path = control_socket.socket_path(rig.daemon.settings.store.path)
    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=str(path)), timeout=10) as client:
        for url in ("http://local/status", "http://evil.example/status"):
            response = await client.get(url)
            assert response.status_code == 200, url
            assert response.json()["mode"] == "sim"
    async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
        assert (await client.get("/status", headers={"Host": "local"})).status_code == 421


async def test_cli_refuses_another_users_socket(
    rig: SimDaemon, local_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    me = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: me + 1)  # the socket, owned by `me`, now belongs to someone else
    assert await _cli("status") == 2
    err = capsys.readouterr().err
    assert f"is owned by uid {me}, not by you (uid {me + 1}); refusing" in err


async def test_cli_refuses_a_socket_open_to_others(
    rig: SimDaemon, local_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = control_socket.socket_path(local_store)
    os.chmod(path, 0o666)  # noqa: S103 - the permissive socket the CLI must refuse
    try:
        assert await _cli("kill") == 2
    finally:
        os.chmod(path, 0o600)
    assert "mode 0666, open to other users; refusing" in capsys.readouterr().err
    assert rig.daemon.context is not None and not rig.daemon.context.kill_switch.engaged

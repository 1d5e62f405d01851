"""Start-up and request-path cost guards: lazy CLI imports, one XNYS calendar build, uvicorn on httptools."""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import date

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from alchemiser.cli.main import COMMANDS, build_parser, command_of
from alchemiser.trading import schedule
from alchemiser.trading.schedule import TradingCalendar, xnys_sessions
from alchemiser.web.middleware import HealthFastPath
from alchemiser.web.server import HttpServer


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> list[tuple[tuple[str, ...], str, object]]:
    return sorted((tuple(a.option_strings), a.dest, a.nargs) for a in parser._actions)


def test_each_command_parser_built_alone_equals_the_full_one() -> None:
    full = _subcommands(build_parser())
    assert set(full) == set(COMMANDS)  # a new command must be listed (else it would only work via --help)
    for command in full:
        alone = _subcommands(build_parser(command))
        assert _options(alone[command]) == _options(full[command]), command
        assert alone[command].get_default("func") is not None


def test_command_is_the_first_non_option_argument() -> None:
    assert command_of(["run", "--config", "x.toml"]) == "run"
    assert command_of(["--version"]) is None
    assert command_of([]) is None
    parsed = build_parser(command_of(["run", "--real-speed"])).parse_args(["run", "--real-speed"])
    assert parsed.real_speed is True


def test_unknown_command_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser(command_of(["bogus"])).parse_args(["bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert all(name in err for name in ("run", "backtest", "sim-exchange", "rebalance"))


def test_alchemiser_run_does_not_import_the_backtester() -> None:
    code = (
        "import sys; from alchemiser.cli.main import build_parser; build_parser('run'); "
        "print(sorted(m for m in sys.modules if m.startswith(('alchemiser.backtest', 'matplotlib'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "[]"


def test_the_xnys_session_table_is_built_once_per_range_and_shared() -> None:
    start = date(2021, 1, 1)
    first = TradingCalendar(start=start)
    hits = xnys_sessions.cache_info().hits
    second = TradingCalendar(minutes_before_close=30, data_refresh_lead_minutes=5, start=start)
    assert xnys_sessions.cache_info().hits == hits + 1
    assert first.sessions_between(start, date(2024, 12, 31)) == second.sessions_between(start, date(2024, 12, 31))
    # the table is the exchange's: holidays and early closes are there, decision times follow each calendar's rule
    assert first.session(date(2024, 7, 4)) is None and second.session(date(2024, 7, 3)) is not None
    early = second.slot(date(2024, 11, 29))
    assert early is not None and early.session.early_close
    assert early.decision_at.astimezone(schedule.NEW_YORK).hour == 12  # 13:00 close − 30 min
    assert first.slot(date(2024, 11, 29)) != early


async def test_the_http_server_runs_uvicorn_with_the_httptools_parser() -> None:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    server = HttpServer(Starlette(routes=[Route("/healthz", hello)]), "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            responses = [await client.get(f"{server.url}/healthz") for _ in range(3)]  # keep-alive reuse
        assert [r.status_code for r in responses] == [200, 200, 200] and responses[0].text == "ok\n"
        config = server._server.config if server._server is not None else None
        assert config is not None and config.http_protocol_class.__name__ == "HttpToolsProtocol"
    finally:
        await server.stop()


async def test_healthz_fast_path_answers_before_routing_and_passes_everything_else_through() -> None:
    state = {"health": (200, "ok\n")}
    routed: list[str] = []

    async def other(request: Request) -> PlainTextResponse:
        routed.append(request.url.path)
        return PlainTextResponse("routed\n")

    inner = Starlette(routes=[Route("/healthz", other, methods=["GET", "HEAD", "POST"]), Route("/status", other)])
    app = HealthFastPath(inner, health=lambda: state["health"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        ok = await client.get("/healthz")
        assert (ok.status_code, ok.text, ok.headers["content-type"]) == (200, "ok\n", "text/plain; charset=utf-8")
        assert ok.headers["content-length"] == "3"
        assert (await client.head("/healthz")).status_code == 200
        state["health"] = (503, "unhealthy: supervisor watchdog last ran 30.0s ago\n")
        sick = await client.get("/healthz")
        assert sick.status_code == 503 and sick.text.startswith("unhealthy: supervisor watchdog")
        assert routed == []  # none of those reached the router
        assert (await client.post("/healthz")).text == "routed\n"  # other methods and paths go through
        assert (await client.get("/status")).text == "routed\n"
        assert routed == ["/healthz", "/status"]

"""The read-only smoke tool against respx-mocked Alpaca: prints each read, exit code says whether all worked."""

from __future__ import annotations

from datetime import date

import pytest
import respx

from alchemiser.adapters.alpaca import smoke
from tests.adapters.alpaca_fakes import DATA, SECRET, TRADING, account_json, bar_json, clock_json

ARGS = ["--trading-url", TRADING, "--data-url", DATA, "--stream-url", "ws://127.0.0.1:9/stream"]


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPACA_KEY_ID", "PKSMOKE")
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)


def mock_reads(router: respx.MockRouter) -> None:
    router.get(f"{TRADING}/v2/account").respond(200, json=account_json())
    router.get(f"{TRADING}/v2/clock").respond(200, json=clock_json())
    quote = {"t": "2026-03-02T15:00:00Z", "ap": 431.3, "as": 1, "bp": 431.2, "bs": 2}
    router.get(f"{DATA}/v2/stocks/quotes/latest").respond(200, json={"quotes": {"SPY": quote}})
    router.get(f"{DATA}/v2/stocks/bars").respond(
        200, json={"bars": {"SPY": [bar_json(date(2026, 3, 2), 431.0)]}, "next_page_token": None}
    )


def test_all_reads_succeed(keys: None, capsys: pytest.CaptureFixture[str]):
    with respx.mock(assert_all_called=True) as router:
        mock_reads(router)
        assert smoke.main(ARGS) == 0
    out = capsys.readouterr().out
    assert "equity=103820.56" in out and "bid=431.2" in out and "2026-03-02:431" in out
    assert SECRET not in out


def test_failure_names_the_step_and_the_typed_error(keys: None, capsys: pytest.CaptureFixture[str]):
    with respx.mock() as router:
        router.get(f"{TRADING}/v2/account").respond(401, json={"message": "request is not authorized"})
        assert smoke.main(ARGS) == 1
    err = capsys.readouterr().err
    assert "FAILED at account: AuthFailedError" in err and SECRET not in err


def test_missing_keys_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.delenv("ALPACA_KEY_ID", raising=False)
    monkeypatch.delenv("ALPACA_SECRET_KEY", raising=False)
    assert smoke.main(ARGS) == 2
    assert "ALPACA_KEY_ID" in capsys.readouterr().err

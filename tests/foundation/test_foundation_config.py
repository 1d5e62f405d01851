"""Configuration: sources and their priority, validation naming each bad key, live refusal, secrets."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.cli.main import main
from alchemiser.config import LIVE_CONFIRM_PHRASE, Settings, default_secrets_dir, load_settings
from alchemiser.errors import ConfigError
from tests.foundation.conftest import base_config, write_config

KEY_ID = "PKTESTKEY1234567890"
SECRET = "s3cr3t-value-abcdefghijklmnop"


def problems_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return excinfo.value.problems


def test_defaults_are_safe(workdir: Path) -> None:
    settings = load_settings(write_config(workdir, base_config(workdir, token=None)), secrets_dir=None)
    assert settings.mode == "sim"
    assert settings.http.host == "127.0.0.1"
    assert settings.control_token is None
    assert settings.risk.market_hours_enforced is True
    assert settings.risk.max_order_notional == Decimal("100000")
    assert settings.risk.kill_switch_action == "freeze"
    assert settings.execution.ladder_steps == [0.5, 0.75, 0.95]
    assert settings.alpaca.trading_url is None  # sim: the embedded exchange
    assert settings.supervisor.shutdown_timeout_seconds == 30


def test_default_strategies_are_the_three_shipped_files(workdir: Path) -> None:
    config = workdir / "config" / "strategies"
    config.mkdir(parents=True)
    for name in ("nuclear", "tecl", "klm"):
        (config / f"{name}.clj").write_text("(x)")
    settings = load_settings(None, secrets_dir=None)
    assert [(str(s.file), s.weight) for s in settings.strategies] == [
        ("config/strategies/nuclear.clj", 0.3),
        ("config/strategies/tecl.clj", 0.5),
        ("config/strategies/klm.clj", 0.2),
    ]


def test_default_config_file_is_used_when_present(workdir: Path) -> None:
    (workdir / "config").mkdir()
    write_config(workdir / "config", base_config(workdir, port=9911))
    assert load_settings(None, secrets_dir=None).http.port == 9911


def test_environment_overrides_toml_with_nesting(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(workdir, base_config(workdir, port=9000))
    monkeypatch.setenv("ALCHEMISER_HTTP__PORT", "9100")
    monkeypatch.setenv("ALCHEMISER_RISK__MAX_ORDER_NOTIONAL", "1234.5")
    monkeypatch.setenv("ALCHEMISER_STRATEGIES", f'[{{"file": "{workdir}/strategies/a.clj", "weight": 1}}]')
    settings = load_settings(path, secrets_dir=None)
    assert settings.http.port == 9100
    assert settings.risk.max_order_notional == Decimal("1234.5")
    assert len(settings.strategies) == 1


def test_overrides_beat_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(workdir, base_config(workdir))
    monkeypatch.setenv("ALCHEMISER_ALPACA__KEY_ID", KEY_ID)
    monkeypatch.setenv("ALCHEMISER_ALPACA__SECRET_KEY", SECRET)
    settings = load_settings(path, {"mode": "paper"}, secrets_dir=None)
    assert settings.mode == "paper"
    assert settings.alpaca.trading_url == "https://paper-api.alpaca.markets"
    assert settings.alpaca.data_url == "https://data.alpaca.markets"
    assert settings.alpaca.stream_url == "wss://paper-api.alpaca.markets/stream"


def test_live_defaults_and_custom_endpoint(workdir: Path) -> None:
    top = f'live_confirm = "{LIVE_CONFIRM_PHRASE}"\n'
    extra = f'[alpaca]\nkey_id = "{KEY_ID}"\nsecret_key = "{SECRET}"\ntrading_url = "http://127.0.0.1:5000/"\n'
    path = write_config(workdir, base_config(workdir, extra=extra, top=top))
    settings = load_settings(path, {"mode": "live"}, secrets_dir=None)
    assert settings.alpaca.trading_url == "http://127.0.0.1:5000"  # configured URL wins, trailing slash dropped
    assert settings.alpaca.stream_url == "wss://api.alpaca.markets/stream"


def test_secret_files_systemd_credentials(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = workdir / "creds"
    creds.mkdir()
    (creds / "alpaca__key_id").write_text(KEY_ID + "\n")
    (creds / "ALCHEMISER_ALPACA__SECRET_KEY").write_text(SECRET + "\n")
    (creds / "notifications__urls").write_text("json://localhost:1/hook1234567\n\njson://localhost:2/x\n")
    (creds / "unrelated_secret").write_text("ignored")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert default_secrets_dir() == creds
    settings = load_settings(write_config(workdir, base_config(workdir)), {"mode": "paper"})
    assert settings.alpaca.key_id is not None and settings.alpaca.key_id.get_secret_value() == KEY_ID
    assert settings.alpaca.secret_key is not None and settings.alpaca.secret_key.get_secret_value() == SECRET
    assert [u.get_secret_value() for u in settings.notifications.urls] == [
        "json://localhost:1/hook1234567",
        "json://localhost:2/x",
    ]


def test_environment_beats_secret_files(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = workdir / "creds"
    creds.mkdir()
    (creds / "control_token").write_text("file-token-abcdefghijkl")
    monkeypatch.setenv("ALCHEMISER_CONTROL_TOKEN", "env-token-abcdefghijklm")
    settings = load_settings(write_config(workdir, base_config(workdir, token=None)), secrets_dir=creds)
    assert settings.control_token is not None
    assert settings.control_token.get_secret_value() == "env-token-abcdefghijklm"


def test_every_bad_key_is_named(workdir: Path) -> None:
    extra = '[risk]\nmax_position_weight = 1.5\nkill_switch_action = "explode"\n[schedule]\nminutes_before_klose = 3\n'
    body = base_config(workdir, extra=extra).replace("port = 0", 'port = "eighty"')
    with pytest.raises(ConfigError) as excinfo:
        load_settings(write_config(workdir, body), secrets_dir=None)
    keys = [p.split(":", 1)[0] for p in problems_of(excinfo)]
    assert "http.port" in keys
    assert "risk.max_position_weight" in keys
    assert "risk.kill_switch_action" in keys
    assert "schedule.minutes_before_klose" in keys
    assert len(keys) == 4


def test_paper_without_credentials_names_both_keys(workdir: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(write_config(workdir, base_config(workdir)), {"mode": "paper"}, secrets_dir=None)
    assert problems_of(excinfo) == [
        "alpaca.key_id: required in paper mode",
        "alpaca.secret_key: required in paper mode",
    ]


def test_live_without_confirmation_is_refused(workdir: Path) -> None:
    extra = f'[alpaca]\nkey_id = "{KEY_ID}"\nsecret_key = "{SECRET}"\n'
    path = write_config(workdir, base_config(workdir, extra=extra))
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, {"mode": "live"}, secrets_dir=None)
    assert any(p.startswith("live_confirm:") and LIVE_CONFIRM_PHRASE in p for p in problems_of(excinfo))
    with pytest.raises(ConfigError):
        load_settings(path, {"mode": "live", "live_confirm": LIVE_CONFIRM_PHRASE.lower()}, secrets_dir=None)
    settings = load_settings(path, {"mode": "live", "live_confirm": LIVE_CONFIRM_PHRASE}, secrets_dir=None)
    assert settings.mode == "live"


def test_live_cannot_disable_market_hours(workdir: Path) -> None:
    extra = f'[alpaca]\nkey_id = "{KEY_ID}"\nsecret_key = "{SECRET}"\n[risk]\nmarket_hours_enforced = false\n'
    path = write_config(workdir, base_config(workdir, extra=extra))
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, {"mode": "live", "live_confirm": LIVE_CONFIRM_PHRASE}, secrets_dir=None)
    assert problems_of(excinfo) == ["risk.market_hours_enforced: cannot be false in live mode"]
    assert load_settings(path, secrets_dir=None).risk.market_hours_enforced is False  # allowed in sim


def test_strategy_weights_and_files(workdir: Path) -> None:
    body = (
        f'[[strategies]]\nfile = "{workdir}/strategies/a.clj"\nweight = 0.5\n'
        f'[[strategies]]\nfile = "{workdir}/strategies/missing.clj"\nweight = 0.3\n'
    )
    with pytest.raises(ConfigError) as excinfo:
        load_settings(write_config(workdir, body), secrets_dir=None)
    problems = problems_of(excinfo)
    assert any(p.startswith("strategies: weights must sum to 1") and "0.8" in p for p in problems)
    assert any(p.startswith("strategies.1.file:") and "missing.clj" in p for p in problems)


def test_weights_within_tolerance_are_accepted(workdir: Path) -> None:
    body = (
        f'[[strategies]]\nfile = "{workdir}/strategies/a.clj"\nweight = 0.3333\n'
        f'[[strategies]]\nfile = "{workdir}/strategies/b.clj"\nweight = 0.6667\n'
    )
    assert len(load_settings(write_config(workdir, body), secrets_dir=None).strategies) == 2


def test_placeholder_and_short_secrets_are_refused(workdir: Path) -> None:
    extra = '[alpaca]\nkey_id = "changeme"\nsecret_key = "<your secret key>"\n'
    body = base_config(workdir, token="short", extra=extra)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(write_config(workdir, body), secrets_dir=None)
    problems = problems_of(excinfo)
    assert "alpaca.key_id: looks like a placeholder, not a real secret" in problems
    assert "alpaca.secret_key: looks like a placeholder, not a real secret" in problems
    assert any(p.startswith("control_token: must be at least 16") for p in problems)
    assert not any("changeme" in p or "short" in p.split(":", 1)[1] for p in problems)  # values never echoed


def test_invalid_toml_and_missing_file(workdir: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(write_config(workdir, "mode = [unclosed"), secrets_dir=None)
    assert "not valid TOML" in problems_of(excinfo)[0]
    with pytest.raises(ConfigError) as excinfo:
        load_settings(workdir / "nope.toml", secrets_dir=None)
    assert problems_of(excinfo) == [f"--config: {workdir / 'nope.toml'} does not exist or is not a file"]


def test_bad_json_in_environment_is_named(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_STRATEGIES", "[{not json")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(write_config(workdir, base_config(workdir)), secrets_dir=None)
    assert problems_of(excinfo)[0].startswith("strategies:")


def test_secret_values_cover_every_secret(workdir: Path) -> None:
    extra = (
        f'[alpaca]\nkey_id = "{KEY_ID}"\nsecret_key = "{SECRET}"\n'
        '[notifications]\nurls = ["tgram://123456789:AAbbCCddEEff/555777"]\n'
    )
    settings = load_settings(write_config(workdir, base_config(workdir, extra=extra)), secrets_dir=None)
    values = settings.secret_values()
    for expected in (KEY_ID, SECRET, "test-control-token-0123456789", "tgram://123456789:AAbbCCddEEff/555777"):
        assert expected in values
    assert "123456789:AAbbCCddEEff" in values or "AAbbCCddEEff" in values or "555777" not in values
    assert "**********" not in repr(values)
    dumped = repr(settings) + str(settings.summary())
    assert SECRET not in dumped and KEY_ID not in dumped


def test_settings_are_immutable(workdir: Path) -> None:
    settings = load_settings(write_config(workdir, base_config(workdir)), secrets_dir=None)
    with pytest.raises(ValueError, match="frozen"):
        settings.http.port = 1  # type: ignore[misc]
    assert isinstance(settings, Settings)


def test_check_config_cli_ok_and_problems(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_config(workdir, base_config(workdir))
    assert main(["check-config", "--config", str(good)]) == 0
    assert "configuration OK" in capsys.readouterr().out
    bad = write_config(workdir, base_config(workdir).replace("weight = 0.4", "weight = 0.5"), "bad.toml")
    assert main(["check-config", "--config", str(bad), "--mode", "paper"]) == 2
    err = capsys.readouterr().err
    assert "strategies: weights must sum to 1" in err
    assert "alpaca.key_id: required in paper mode" in err


def test_run_refuses_live_without_confirmation_exit_2(workdir: Path) -> None:
    extra = f'[alpaca]\nkey_id = "{KEY_ID}"\nsecret_key = "{SECRET}"\n'
    path = write_config(workdir, base_config(workdir, extra=extra))
    result = subprocess.run(
        [sys.executable, "-m", "alchemiser.cli.main", "run", "--config", str(path), "--mode", "live"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=workdir,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "live_confirm:" in result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert not (workdir / "var").exists()  # refused before touching the store

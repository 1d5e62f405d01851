"""Configuration holes found by trying to break it: echoed secrets, check-config passing what run rejects,
non-finite and absurd limits, listening on every interface; bad store files refused with a clear error."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from alchemiser.cli.main import main
from alchemiser.config import load_settings
from alchemiser.errors import ConfigError
from alchemiser.logging import Redactor
from tests.foundation.conftest import base_config, write_config

LEAK = "TYPOLEAKabcdefghijkl"


def _problems(overrides: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, overrides, secrets_dir=None)
    return caught.value.problems


def _run(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alchemiser.cli.main", "run", "--config", str(config)],
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_misspelled_secret_key_never_echoes_its_value(workdir: Path) -> None:
    problems = _problems({"control_tokn": LEAK, "alpaca": {"secret_kye": LEAK}})
    assert any(p.startswith("control_tokn: unknown setting") for p in problems), problems
    assert any(p.startswith("alpaca.secret_kye: unknown setting") for p in problems), problems
    assert LEAK not in "\n".join(problems)


def test_webhook_tokens_without_digits_are_redacted() -> None:
    url = "json://hooks.example.com/services/abcdefghijklmnop/ZYXWVUTSRQPONMLK?token=onlyletterssecret"
    settings = load_settings(None, {"notifications": {"urls": [url]}}, secrets_dir=None)
    redactor = Redactor(settings.secret_values())
    line = redactor.redact_text(
        "POST hooks.example.com/services/abcdefghijklmnop/ZYXWVUTSRQPONMLK token=onlyletterssecret"
    )
    for secret in ("abcdefghijklmnop", "ZYXWVUTSRQPONMLK", "onlyletterssecret"):
        assert secret not in line, line
    assert "services" in line  # a path word, not a secret


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"execution": {"step_wait_seconds": float("inf")}}, "execution.step_wait_seconds"),
        ({"supervisor": {"heartbeat_timeout_seconds": float("nan")}}, "supervisor.heartbeat_timeout_seconds"),
        ({"risk": {"max_turnover": float("inf")}}, "risk.max_turnover"),
        ({"risk": {"max_order_notional": "Infinity"}}, "risk.max_order_notional"),
        ({"risk": {"max_daily_orders": 1e20}}, "risk.max_daily_orders"),
        ({"risk": {"max_daily_notional": "1e20"}}, "risk.max_daily_notional"),
        ({"alpaca": {"timeout_seconds": float("inf")}}, "alpaca.timeout_seconds"),
        ({"execution": {"approval_timeout_seconds": 1e12}}, "execution.approval_timeout_seconds"),
    ],
)
def test_non_finite_and_absurd_limits_are_refused(workdir: Path, overrides: dict[str, object], key: str) -> None:
    problems = _problems(overrides)
    assert any(p.startswith(f"{key}:") for p in problems), problems


def test_inf_in_the_toml_file_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(workdir, base_config(workdir, extra="[execution]\nstep_wait_seconds = inf\n"))
    assert main(["check-config", "--config", str(config)]) == 2
    assert "execution.step_wait_seconds" in capsys.readouterr().err


def _parity_cases(workdir: Path) -> dict[str, tuple[str, str]]:
    """name → (config text, the problem both commands must name)."""
    broken = workdir / "strategies" / "broken.clj"
    broken.write_text('(defsymphony "broken" {} (weight-equal [(asset "SPY")')
    a_file = workdir / "not-a-folder"
    a_file.write_text("x")
    good = base_config(workdir)
    return {
        "unparseable strategy": (good.replace("strategies/a.clj", "strategies/broken.clj"), "strategies.0.file"),
        "store under a file": (
            good.replace(str(workdir / "var/store.sqlite"), str(a_file / "store.sqlite")),
            "store.path: cannot create",
        ),
        "missing sim.data": (base_config(workdir, extra=f'[sim]\ndata = "{workdir / "no-bars"}"\n'), "sim.data"),
    }


def test_check_config_runs_every_check_run_makes(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, (text, problem) in _parity_cases(workdir).items():
        config = write_config(workdir, text, name=f"{name.replace(' ', '-')}.toml")
        assert main(["check-config", "--config", str(config)]) == 2, name
        assert problem in capsys.readouterr().err, name
        ran = _run(config, workdir)
        assert ran.returncode == 2, (name, ran.returncode, ran.stdout[-2000:], ran.stderr[-2000:])
        assert problem in ran.stdout + ran.stderr, name
        assert "Traceback" not in ran.stdout + ran.stderr, name


def test_listening_on_every_interface_is_warned_about(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(
        workdir, base_config(workdir, extra='[http]\nhost = "0.0.0.0"\n').replace("[http]\nport = 0\n", "")
    )
    assert main(["check-config", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "warning: http.host: '0.0.0.0' listens on every interface" in err


@pytest.mark.parametrize("kind", ["corrupted", "foreign", "newer", "damaged"])
def test_bad_store_files_are_refused_clearly_and_left_untouched(
    workdir: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    store = workdir / "var" / "store.sqlite"
    store.parent.mkdir(parents=True)
    expected = {
        "corrupted": "is not a SQLite database",
        "foreign": "is a SQLite database of something else",
        "newer": "newer than this alchemiser knows",
        "damaged": "store.path:",
    }[kind]
    if kind == "corrupted":
        store.write_bytes(b"this is not a database at all" * 100)
    else:
        db = sqlite3.connect(store)
        if kind == "foreign":
            db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        else:
            db.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT, checksum TEXT, applied_at TEXT)"
            )
            db.execute("INSERT INTO schema_version VALUES (999, 'future', 'x', '2030-01-01')")
            db.execute("CREATE TABLE filler (x TEXT)")
            db.executemany("INSERT INTO filler VALUES (?)", [("y" * 500,) for _ in range(200)])
        db.commit()
        db.close()
        if kind == "damaged":  # a valid header, then garbage over the tables' pages
            data = bytearray(store.read_bytes())
            data[4096:] = b"\xff" * (len(data) - 4096)
            store.write_bytes(bytes(data))
    before = store.read_bytes()
    config = write_config(workdir, base_config(workdir))
    assert main(["check-config", "--config", str(config)]) == 2
    assert expected in capsys.readouterr().err
    ran = _run(config, workdir)
    assert ran.returncode in (1, 2), ran.returncode
    assert expected in ran.stdout + ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    assert store.read_bytes() == before  # never replaced by a silent new store

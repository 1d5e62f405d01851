"""Deployment files stay consistent with the code: compose parses, Dockerfile installs from the locks as `make`
does, the systemd unit uses notify + watchdog + hardening, the example config validates."""

from __future__ import annotations

import configparser
import re
import shutil
from pathlib import Path

import pytest
import yaml

from alchemiser.config import LIVE_CONFIRM_PHRASE, load_settings
from alchemiser.daemon.daemon import EXIT_CONFIG

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_parses_with_the_required_properties() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["alchemiser"]
    assert service["restart"] == "unless-stopped"
    assert all(port.startswith("127.0.0.1:") for port in service["ports"])
    assert any(v.startswith("alchemiser-data:") for v in service["volumes"])
    assert "alchemiser-data" in compose["volumes"]
    assert service["env_file"][0]["path"]
    assert "/healthz" in " ".join(service["healthcheck"]["test"])
    grace = int(service["stop_grace_period"].rstrip("s"))
    assert grace > 30  # longer than the default shutdown bound
    assert service["environment"]["ALCHEMISER_STORE__PATH"].startswith("/app/var/")


def test_dockerfile_matches_make_install() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) >= 2  # multi-stage
    assert "slim" in dockerfile
    # make installs the build lock + the full (dev) lock; the image installs the build lock + the runtime lock.
    for lock in ("requirements-build.lock", "requirements.lock"):
        assert f"--require-hashes -r {lock}" in makefile
    for lock in ("requirements-build.lock", "requirements-runtime.lock"):
        assert f"--require-hashes -r {lock}" in dockerfile
    assert re.search(r"^USER alchemiser$", dockerfile, re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "ALCHEMISER_STORE__PATH=/app/var/" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored and "*.env" in ignored


def _pins(lock: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", lock.read_text(), re.MULTILINE))


def test_runtime_lock_pins_the_same_versions_as_the_dev_lock() -> None:
    runtime, full = _pins(ROOT / "requirements-runtime.lock"), _pins(ROOT / "requirements.lock")
    assert {"numpy", "pandas", "httpx", "websockets", "uvicorn", "starlette"} <= runtime.keys()
    assert "pytest" not in runtime and "alpaca-py" not in runtime  # dev-only packages stay out of the image
    drift = {name: (version, full.get(name)) for name, version in runtime.items() if full.get(name) != version}
    assert not drift, f"runtime lock differs from requirements.lock: {drift}"


def test_systemd_unit() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((ROOT / "deploy/alchemiser.service").read_text())
    service = parser["Service"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert "LoadCredential" in service and "EnvironmentFile" in service
    assert "-HUP" in service["ExecReload"]
    assert int(service["TimeoutStopSec"]) > 30


def test_example_config_is_valid_and_matches_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    settings = load_settings(ROOT / "config/alchemiser.toml", secrets_dir=None)
    assert settings.mode == "sim"
    assert [str(s.file) for s in settings.strategies] == [
        "config/strategies/nuclear.clj",
        "config/strategies/tecl.clj",
        "config/strategies/klm.clj",
    ]
    assert LIVE_CONFIRM_PHRASE in (ROOT / "config/alchemiser.toml").read_text()


def test_readme_documents_the_commands_and_the_live_phrase() -> None:
    readme = (ROOT / "README.md").read_text()
    for needle in ("make run", "make test", LIVE_CONFIRM_PHRASE, "/healthz", "/readyz", "alchemiser kill"):
        assert needle in readme, needle
    assert EXIT_CONFIG == 2


def test_ci_entry_point() -> None:
    script = (ROOT / ".ci/run").read_text()
    assert "ALCHEMISER_REQUIRE_SHARED=1" in script and "make test" in script
    floor = float((ROOT / ".ci/coverage-floor").read_text().strip())
    assert 0 <= floor <= 100
    assert shutil.which("make") is None or "--cov-fail-under=$(COVERAGE_FLOOR)" in (ROOT / "Makefile").read_text()

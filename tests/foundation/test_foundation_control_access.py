"""The control client's pydantic-free reader agrees with the full settings on every source, and hands anything
unusual to the full validation (same errors, naming the setting, without secrets)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from alchemiser.config.control_access import (
    ControlAccess,
    NotPlain,
    load_control_access,
    read_plain,
    validated_control_access,
)
from alchemiser.config.locations import default_secrets_dir, resolve_config_path
from alchemiser.errors import ConfigError

TOKEN = "secret-token-0123456789abcdef"
OTHER_TOKEN = "other-token-0123456789abcdef"

FULL_TOML = (
    f'control_token = "{TOKEN}"\nmode = "sim"\n[http]\nhost = "0.0.0.0"\nport = 9100\n[store]\npath = "s/x.db"\n'
)


def _fast(config: Path | None) -> ControlAccess:
    return read_plain(resolve_config_path(config), os.environ, default_secrets_dir())


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty credentials directory (so the machine's /run/secrets never plays a part) and cwd without a config."""
    directory = tmp_path / "credentials"
    directory.mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(directory))
    monkeypatch.chdir(tmp_path)
    return directory


PLAIN_CASES: dict[str, tuple[str | None, dict[str, str], dict[str, str]]] = {
    # name: (TOML file, environment, secret files)
    "defaults, no file": (None, {}, {}),
    "file": (FULL_TOML, {}, {}),
    "file with only other tables": ('[risk]\nmax_turnover = 3.0\n[[strategies]]\nfile = "a.clj"\nweight = 1\n', {}, {}),
    "env over file": (
        FULL_TOML,
        {"ALCHEMISER_HTTP__PORT": "9200", "alchemiser_http__host": "::1", "ALCHEMISER_STORE__PATH": "/tmp/e.db"},
        {},
    ),
    "token from env": (FULL_TOML, {"ALCHEMISER_CONTROL_TOKEN": OTHER_TOKEN}, {}),
    "token from a secret file": (FULL_TOML, {}, {"control_token": OTHER_TOKEN + "\r\n"}),
    "token from a prefixed upper-case secret file": (None, {}, {"ALCHEMISER_CONTROL_TOKEN": OTHER_TOKEN + "\n"}),
    "env over secret file": ("", {"ALCHEMISER_CONTROL_TOKEN": TOKEN}, {"control_token": OTHER_TOKEN}),
    "other settings ignored": (
        FULL_TOML,
        {"ALCHEMISER_MODE": "paper", "ALCHEMISER_ALPACA__KEY_ID": "k"},
        {"alpaca__secret_key": "s", "unrelated": "x"},
    ),
    "port zero and top of range": ("[http]\nport = 0\n", {"ALCHEMISER_HTTP__PORT": "65535"}, {}),
}


def _arrange(
    case: tuple[str | None, dict[str, str], dict[str, str]], tmp: Path, secrets: Path, mp: pytest.MonkeyPatch
) -> Path | None:
    toml, environ, files = case
    for name, value in environ.items():
        mp.setenv(name, value)
    for name, content in files.items():
        (secrets / name).write_text(content)
    if toml is None:
        return None
    path = tmp / "alchemiser.toml"
    path.write_text(toml)
    return path


@pytest.mark.parametrize("name", list(PLAIN_CASES))
def test_the_fast_reader_and_the_full_settings_agree(
    name: str, tmp_path: Path, secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _arrange(PLAIN_CASES[name], tmp_path, secrets, monkeypatch)
    fast = _fast(config)  # raises NotPlain if the fast reader did not decide
    assert fast == validated_control_access(config)
    assert load_control_access(config) == fast


def test_the_agreement_covers_every_source(tmp_path: Path, secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cases above are not all defaults: each source really moves a value."""
    defaults = _fast(None)
    assert defaults == ControlAccess("127.0.0.1", 8787, Path("var/alchemiser.sqlite"), None)
    config = _arrange(PLAIN_CASES["env over file"], tmp_path, secrets, monkeypatch)
    assert _fast(config) == ControlAccess("::1", 9200, Path("/tmp/e.db"), TOKEN)
    (secrets / "control_token").write_text(OTHER_TOKEN + "\n")
    assert _fast(config).control_token == OTHER_TOKEN


def test_the_default_config_file_is_read(secrets: Path, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "alchemiser.toml").write_text(FULL_TOML)
    assert _fast(None) == validated_control_access(None) == ControlAccess("0.0.0.0", 9100, Path("s/x.db"), TOKEN)  # noqa: S104


def test_the_shipped_example_configuration_takes_the_fast_path(secrets: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "alchemiser.toml"
    assert _fast(example) == validated_control_access(example)


UNUSUAL_BUT_VALID: dict[str, tuple[str | None, dict[str, str], dict[str, str]]] = {
    "a JSON table in the environment": (None, {"ALCHEMISER_HTTP": '{"port": 9300}'}, {}),
    "another key of [http]": ('[http]\nport = 9301\nallowed_hosts = ["a.example.com"]\n', {}, {}),
    "a port in a secret file": (None, {}, {"http__port": "9302\n"}),
    "a port with spaces in the environment": (None, {"ALCHEMISER_HTTP__PORT": " 9303 "}, {}),
    "one key spelt twice in the environment": (
        None,
        {"ALCHEMISER_CONTROL_TOKEN": TOKEN, "alchemiser_control_token": TOKEN},
        {},
    ),
}


@pytest.mark.parametrize("name", list(UNUSUAL_BUT_VALID))
def test_unusual_sources_go_to_the_full_validation(
    name: str, tmp_path: Path, secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _arrange(UNUSUAL_BUT_VALID[name], tmp_path, secrets, monkeypatch)
    with pytest.raises(NotPlain):
        _fast(config)
    assert load_control_access(config) == validated_control_access(config)


BAD: dict[str, tuple[tuple[str | None, dict[str, str], dict[str, str]], str]] = {
    "port out of range in the file": (("[http]\nport = 70000\n", {}, {}), "http.port"),
    "port not a number in the environment": ((None, {"ALCHEMISER_HTTP__PORT": "eighty"}, {}), "http.port"),
    "negative port in the environment": ((None, {"ALCHEMISER_HTTP__PORT": "-1"}, {}), "http.port"),
    "host not a string": (("[http]\nhost = 1\n", {}, {}), "http.host"),
    "unknown key of [store]": (("[store]\npth = 'x'\n", {}, {}), "store.pth"),
    "bad allowed host": (("[http]\nallowed_hosts = ['http://x/']\n", {}, {}), "http.allowed_hosts"),
    "not TOML": (("[http\nport = 1\n", {}, {}), "not valid TOML"),
    "a token that is not a string": (("control_token = 12345678901234567890\n", {}, {}), "control_token"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_value_is_the_full_validations_error_naming_the_setting(
    name: str, tmp_path: Path, secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, setting = BAD[name]
    if "token" not in name:  # a token is configured: it must not leak into the error
        monkeypatch.setenv("ALCHEMISER_CONTROL_TOKEN", TOKEN)
    config = _arrange(case, tmp_path, secrets, monkeypatch)
    with pytest.raises(ConfigError) as fast_error:
        load_control_access(config)
    with pytest.raises(ConfigError) as full_error:
        validated_control_access(config)
    assert fast_error.value.problems == full_error.value.problems
    assert any(setting in problem for problem in fast_error.value.problems), fast_error.value.problems
    assert TOKEN not in str(fast_error.value) and "12345678901234567890" not in str(fast_error.value)


def test_a_missing_config_file_is_named(secrets: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--config: .*nope\.toml does not exist"):
        load_control_access(tmp_path / "nope.toml")


def test_the_token_stays_out_of_the_repr(secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_CONTROL_TOKEN", TOKEN)
    access = load_control_access(None)
    assert access.control_token == TOKEN and TOKEN not in repr(access)

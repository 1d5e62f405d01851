"""``alchemiser run --log-format/--log-level``: chosen on the command line, applied as configuration overrides."""

from __future__ import annotations

import pytest

from alchemiser.cli.main import build_parser
from alchemiser.cli.run import log_overrides


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], {}),
        (["--log-format", "console"], {"logging": {"format": "console"}}),
        (["--log-format", "json", "--log-level", "debug"], {"logging": {"format": "json", "level": "DEBUG"}}),
    ],
)
def test_run_log_options_become_configuration_overrides(argv: list[str], expected: dict[str, object]) -> None:
    args = build_parser().parse_args(["run", *argv])
    assert log_overrides(args) == expected


def test_run_refuses_an_unknown_log_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--log-format", "xml"])
    assert "invalid choice: 'xml'" in capsys.readouterr().err

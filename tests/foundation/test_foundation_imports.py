"""Start-up follows the import graph: help, control commands, configuration and the store stay light.

The control commands (``status``, ``kill``, ``resume``) run whole, configuration included, without pydantic.

Each check runs in a fresh interpreter and inspects ``sys.modules`` after the import or the parse.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from alchemiser.cli.common import EXIT_FAILED, EXIT_USAGE
from alchemiser.cli.main import COMMANDS, build_parser, overview_parser
from alchemiser.daemon.daemon import EXIT_CONFIG
from tests.foundation.conftest import SYMPHONY

HEAVY = (
    "numpy",
    "pandas",
    "alchemiser.sim",
    "alchemiser.adapters.alpaca",
    "httpx",
    "alchemiser.daemon",
    "alchemiser.web",
    "alchemiser.services",
    "alchemiser.trading",
)

# Pure formatting (stdlib only), shared by the dashboard and the human ``alchemiser status``.
LIGHT_EXCEPTIONS = ("alchemiser.services", "alchemiser.services.format")

PROBE = """
import json, sys
{setup}
heavy = {heavy!r}
light = {light!r}
print(json.dumps(sorted(
    m for m in sys.modules if (m in heavy or m.startswith(tuple(h + "." for h in heavy))) and m not in light
)))
"""


def heavy_modules_after(setup: str) -> list[str]:
    code = PROBE.format(setup=setup, heavy=HEAVY, light=LIGHT_EXCEPTIONS)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "setup",
    [
        "import alchemiser.config",
        "import alchemiser.store",
        "import alchemiser.store.database",
        "from alchemiser.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
        "from alchemiser.cli.main import build_parser\nbuild_parser('status').parse_args(['status'])",
        "from alchemiser.cli.main import build_parser\nbuild_parser('kill').parse_args(['kill', '--reason', 'x'])",
        "from alchemiser.cli.main import build_parser\nbuild_parser('check-config').parse_args(['check-config'])",
    ],
    ids=["config", "store", "store.database", "--help", "status", "kill", "check-config"],
)
def test_light_entry_points_import_no_numerics_sim_adapter_or_daemon(setup: str) -> None:
    assert heavy_modules_after(setup) == []


def test_the_probe_sees_heavy_imports() -> None:  # the check above must be able to fail
    loaded = heavy_modules_after("import alchemiser.trading.schedule")  # the exchange calendar: pandas
    assert "numpy" in loaded and "pandas" in loaded


def test_help_lists_every_command_without_importing_command_modules() -> None:
    code = (
        "import sys\nfrom alchemiser.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print([m for m in sys.modules if m.startswith('alchemiser.cli.') and m != 'alchemiser.cli.main'])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    for name, command in COMMANDS.items():
        assert name in proc.stdout
        assert command.summary.split()[0] in proc.stdout


def _summaries(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {choice.dest: choice.help for choice in action._choices_actions}


def test_the_static_summaries_are_what_each_command_module_registers() -> None:
    full = _summaries(build_parser())
    assert list(full) == list(COMMANDS)  # same commands, same order in --help
    assert _summaries(overview_parser()) == full


def test_the_cli_usage_exit_code_is_the_daemons_config_exit_code() -> None:
    assert EXIT_USAGE == EXIT_CONFIG == 2


CONTROL_CLIENT_NEVER = ("pydantic", "pydantic_settings", "httpx", "numpy", "pandas")

RUN_AND_LIST = """
import json, sys
from alchemiser.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
never = {never!r}
print(json.dumps([code, sorted(m for m in sys.modules if m.split(".")[0] in never)]))
"""


def _run_and_list(args: list[str], cwd: Path, never: tuple[str, ...] = CONTROL_CLIENT_NEVER) -> tuple[int, list[str]]:
    """Run ``alchemiser ARGS`` in a fresh interpreter: its exit code and which of the ``never`` packages it loaded."""
    code = RUN_AND_LIST.format(never=never)
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=True
    )
    exit_code, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    return exit_code, loaded


@pytest.mark.parametrize(
    "command", [["status"], ["status", "--json"], ["kill", "--reason", "x"], ["resume"], ["rebalance", "--wait", "1"]]
)
def test_control_commands_run_without_pydantic_httpx_or_numerics(command: list[str], tmp_path: Path) -> None:
    """The whole command, configuration included: the port is closed, so it ends 'cannot reach the daemon' (1)."""
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "alchemiser.toml"
    config.write_text(f'control_token = "{"t" * 20}"\n[http]\nport = {port}\n[store]\npath = "{tmp_path}/s.db"\n')
    assert _run_and_list([*command, "--config", str(config)], tmp_path) == (EXIT_FAILED, [])


def test_the_control_command_probe_sees_pydantic(tmp_path: Path) -> None:  # the check above must be able to fail
    config = tmp_path / "alchemiser.toml"
    config.write_text("[http]\nport = 70000\n")  # out of range: the full validation reports it
    exit_code, loaded = _run_and_list(["status", "--config", str(config)], tmp_path)
    assert exit_code == EXIT_USAGE and {"pydantic", "pydantic_settings"} <= set(loaded)


SIGNALS_NEVER = ("pandas", "pydantic", "pydantic_settings", "exchange_calendars", "rich", "httpx")


def test_signals_with_a_strategy_file_imports_neither_pandas_nor_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "bars").mkdir()
    rows = "".join(f"2024-01-{day:02d},1,1,1,1,{day},10\n" for day in range(2, 20))
    (tmp_path / "bars" / "SPY.csv").write_text("date,open,high,low,close,adj_close,volume\n" + rows)
    (tmp_path / "s.clj").write_text(SYMPHONY)
    args = ["signals", "--strategy", "s.clj", "--asof", "2024-01-19", "--data", "bars", "--format", "json"]
    assert _run_and_list(args, tmp_path, SIGNALS_NEVER) == (0, [])
    # the same check sees pydantic when the configuration is loaded (no --strategy)
    (tmp_path / "alchemiser.toml").write_text('[[strategies]]\nfile = "s.clj"\nweight = 1\n')
    configured = ["signals", "--config", "alchemiser.toml", "--asof", "2024-01-19", "--data", "bars"]
    assert "pydantic" in _run_and_list(configured, tmp_path, SIGNALS_NEVER)[1]

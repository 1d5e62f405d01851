"""The checks ``alchemiser run`` makes before it trades, as one function ``check-config`` runs too.

Settings validation (types, ranges, mode rules) happens when the settings load; :func:`preflight` adds what needs the
file system: every strategy file parses, the store location is usable and holds an alchemiser store this version can
run (not corrupted, not foreign, not from a newer version), a replayed ``sim.data`` folder exists. Warnings are
things that work but deserve a look (listening on every interface).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alchemiser.config import Settings
from alchemiser.config.sections import WILDCARD_HOSTS
from alchemiser.dsl import load_symphony
from alchemiser.errors import ConfigError, StrategyError
from alchemiser.store.database import known_schema_version
from alchemiser.store.file_check import store_file_problems

SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class Preflight:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def preflight(settings: Settings) -> Preflight:
    """Every check ``run`` makes before trading; ``problems`` stop the start, ``warnings`` are logged."""
    problems: list[str] = []
    for index, entry in enumerate(settings.strategies):
        try:
            load_symphony(entry.file)
        except StrategyError as exc:
            problems.append(f"strategies.{index}.file: {exc}")
    problems.extend(store_file_problems(settings.store.path, known_schema_version()))
    if settings.mode == "sim" and settings.sim.data != SYNTHETIC:
        folder = Path(settings.sim.data)
        if not folder.is_dir():
            problems.append(f"sim.data: {folder} is not a folder of bar CSVs (or use 'synthetic')")
        elif not any(folder.glob("*.csv")):
            problems.append(f"sim.data: {folder} holds no SYMBOL.csv files")
    warnings: list[str] = []
    if settings.http.host in WILDCARD_HOSTS:
        warnings.append(
            f"http.host: {settings.http.host!r} listens on every interface: anyone who can reach this machine can "
            "reach the daemon (prefer 127.0.0.1 behind a reverse proxy; list its name in http.allowed_hosts)"
        )
    return Preflight(problems, warnings)


def require_preflight(settings: Settings, log: Any) -> None:
    """:func:`preflight` for ``run``: log each warning, raise ``ConfigError`` listing the problems."""
    report = preflight(settings)
    for warning in report.warnings:
        log.warning("config.warning", warning=warning)
    if report.problems:
        raise ConfigError(report.problems)

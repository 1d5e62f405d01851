"""The sweep file (TOML): which symphonies, which numbers to vary, how to search. See ``config/sweeps/tecl.toml``.

``[sweep]`` holds the search (``method = "grid" | "random"``, ``samples``, ``seed``, ``objective``, ``start``,
``end``, ``capital``, ``blocks``, ``top``); each ``[[strategy]]`` a symphony file (relative to the sweep file) and
its capital weight; each ``[[param]]`` one varied number with exactly one target:

* ``at`` (one ``LINE:COL`` or a list, tied together) + ``field``: numbers inside a symphony
  (:mod:`alchemiser.research.sites`); ``strategy`` names the symphony (file stem) when there are several;
* ``weight = "STEM"``: that strategy's capital weight (weights are normalised to sum to 1 at every point);
* ``setting = "drift_band" | "min_trade" | "cash_buffer_pct"``: an execution setting (the drift band replaces
  every symphony's ``:rebalance-threshold``).

and its values: ``values = [...]``, ``range = [start, stop, step]`` (stop included), or, for random search only,
``low``/``high`` (uniform, rounded to 6 decimals; integers when both bounds are integers).
Every problem is reported at once as a ``ConfigError``.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from alchemiser.errors import ConfigError, StrategyError
from alchemiser.research.sites import list_sites, resolve

Number = int | float
Method = Literal["grid", "random"]
SETTINGS: tuple[str, ...] = ("drift_band", "min_trade", "cash_buffer_pct")
OBJECTIVES: tuple[str, ...] = ("sharpe", "sortino", "calmar", "cagr", "total_return")
MAX_GRID_VALUES = 10_000
DEFAULT_BLOCKS = 10
DEFAULT_TOP = 5


@dataclass(frozen=True)
class StrategyEntry:
    name: str
    path: Path
    text: str
    weight: Decimal


@dataclass(frozen=True)
class Param:
    """One varied number. ``kind`` is "site" (``offsets`` into ``strategy``'s text), "weight" or "setting"."""

    name: str
    kind: Literal["site", "weight", "setting"]
    strategy: int = 0
    offsets: tuple[int, ...] = ()
    setting: str = ""
    values: tuple[Number, ...] = ()
    low: Number | None = None
    high: Number | None = None


@dataclass(frozen=True)
class SweepSpec:
    name: str
    path: Path
    strategies: tuple[StrategyEntry, ...]
    params: tuple[Param, ...]
    method: Method = "grid"
    samples: int = 100
    seed: int = 0
    objective: str = "sharpe"
    start: dt.date | None = None
    end: dt.date | None = None
    capital: Decimal = Decimal(100_000)
    blocks: int = DEFAULT_BLOCKS
    top: int = DEFAULT_TOP


def load_spec(path: Path) -> SweepSpec:
    """Read and check a sweep file; ConfigError listing every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"cannot read sweep file {path}: {exc.strerror or exc}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc
    return parse_spec(raw, path)


def parse_spec(raw: dict[str, Any], path: Path) -> SweepSpec:
    problems: list[str] = []
    sweep = raw.get("sweep", {})
    if not isinstance(sweep, dict):
        raise ConfigError([f"{path}: [sweep] must be a table"])
    unknown = set(raw) - {"sweep", "strategy", "param"}
    problems.extend(f"{path}: unknown section {key!r}" for key in sorted(unknown))
    strategies = _strategies(raw.get("strategy"), path, problems)
    params = _params(raw.get("param"), strategies, path, problems)
    method = sweep.get("method", "grid")
    if method not in ("grid", "random"):
        problems.append(f"[sweep] method must be 'grid' or 'random', got {method!r}")
    objective = sweep.get("objective", "sharpe")
    if objective not in OBJECTIVES:
        problems.append(f"[sweep] objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    samples = _int(sweep, "samples", 100, 1, problems)
    seed = _int(sweep, "seed", 0, 0, problems)
    blocks = _int(sweep, "blocks", DEFAULT_BLOCKS, 2, problems)
    if blocks % 2:
        problems.append(f"[sweep] blocks must be even (CSCV splits them in halves), got {blocks}")
    top = _int(sweep, "top", DEFAULT_TOP, 1, problems)
    start, end = _date(sweep, "start", problems), _date(sweep, "end", problems)
    if start is not None and end is not None and end < start:
        problems.append(f"[sweep] end {end} is before start {start}")
    capital = sweep.get("capital", 100_000)
    if isinstance(capital, bool) or not isinstance(capital, int | float) or capital <= 0:
        problems.append(f"[sweep] capital must be a number > 0, got {capital!r}")
        capital = 100_000
    if method == "random" and not problems:
        for param in params:
            if param.values == () and param.low is None:
                problems.append(f"param {param.name!r}: random search needs values, range or low/high")
    elif method == "grid":
        problems.extend(
            f"param {p.name!r}: low/high is for random search; a grid needs values or range"
            for p in params
            if not p.values
        )
    if problems:
        raise ConfigError(problems)
    return SweepSpec(
        name=str(sweep.get("name", path.stem)),
        path=path,
        strategies=tuple(strategies),
        params=tuple(params),
        method=method,
        samples=samples,
        seed=seed,
        objective=objective,
        start=start,
        end=end,
        capital=Decimal(repr(capital)),
        blocks=blocks,
        top=top,
    )


def _int(table: dict[str, Any], key: str, default: int, low: int, problems: list[str]) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        problems.append(f"[sweep] {key} must be an integer ≥ {low}, got {value!r}")
        return default
    return value


def _date(table: dict[str, Any], key: str, problems: list[str]) -> dt.date | None:
    value = table.get(key)
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"[sweep] {key} is not a date (YYYY-MM-DD): {value!r}")
        return None


def _strategies(raw: Any, path: Path, problems: list[str]) -> list[StrategyEntry]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{path}: at least one [[strategy]] with a file is needed")
        return []
    out: list[StrategyEntry] = []
    for n, entry in enumerate(raw, start=1):
        file = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(file, str):
            problems.append(f"[[strategy]] #{n}: file must be a path string")
            continue
        full = Path(file) if Path(file).is_absolute() else path.parent / file
        weight = entry.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            problems.append(f"[[strategy]] #{n}: weight must be a number > 0, got {weight!r}")
            continue
        try:
            text = full.read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(f"[[strategy]] #{n}: cannot read {full}: {exc.strerror or exc}")
            continue
        if any(s.name == full.stem for s in out):
            problems.append(f"[[strategy]] #{n}: two strategies are named {full.stem!r} (file stems must differ)")
            continue
        out.append(StrategyEntry(full.stem, full, text, Decimal(repr(weight))))
    return out


def _values(
    entry: dict[str, Any], where: str, problems: list[str]
) -> tuple[tuple[Number, ...], Number | None, Number | None]:
    given = [k for k in ("values", "range", "low") if k in entry]
    if len(given) != 1:
        problems.append(f"{where}: give exactly one of values, range, low/high")
        return (), None, None
    if "values" in entry:
        values = entry["values"]
        if not isinstance(values, list) or not values or not all(_is_number(v) for v in values):
            problems.append(f"{where}: values must be a non-empty list of numbers")
            return (), None, None
        return tuple(dict.fromkeys(values)), None, None
    if "range" in entry:
        spec = entry["range"]
        if not isinstance(spec, list) or len(spec) != 3 or not all(_is_number(v) for v in spec) or spec[2] <= 0:
            problems.append(f"{where}: range must be [start, stop, step] with step > 0")
            return (), None, None
        start, stop, step = (Decimal(repr(v)) for v in spec)
        count = int((stop - start) / step) + 1
        if count < 1 or count > MAX_GRID_VALUES:
            problems.append(f"{where}: range gives {count} values (1 to {MAX_GRID_VALUES} allowed)")
            return (), None, None
        as_int = all(isinstance(v, int) for v in spec)
        return tuple(int(start + k * step) if as_int else float(start + k * step) for k in range(count)), None, None
    low, high = entry.get("low"), entry.get("high")
    if not (isinstance(low, int | float) and isinstance(high, int | float)) or not _is_number(low) or high <= low:
        problems.append(f"{where}: low/high must be numbers with high > low")
        return (), None, None
    return (), low, high


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _params(raw: Any, strategies: list[StrategyEntry], path: Path, problems: list[str]) -> list[Param]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{path}: at least one [[param]] is needed")
        return []
    names = {s.name: k for k, s in enumerate(strategies)}
    out: list[Param] = []
    for n, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            problems.append(f"[[param]] #{n}: a name is needed")
            continue
        where = f"param {entry['name']!r}"
        if any(p.name == entry["name"] for p in out):
            problems.append(f"{where}: defined twice")
            continue
        values, low, high = _values(entry, where, problems)
        targets = [k for k in ("at", "weight", "setting") if k in entry]
        if len(targets) != 1:
            problems.append(f"{where}: give exactly one target: at (+ field), weight or setting")
            continue
        base = Param(name=entry["name"], kind="site", values=values, low=low, high=high)
        if "setting" in entry:
            if entry["setting"] not in SETTINGS:
                problems.append(f"{where}: setting must be one of {', '.join(SETTINGS)}, got {entry['setting']!r}")
                continue
            out.append(_replace(base, kind="setting", setting=entry["setting"]))
            continue
        key = "weight" if "weight" in entry else "strategy"
        stem = entry.get(key, strategies[0].name if len(strategies) == 1 else None)
        if stem not in names:
            problems.append(f"{where}: {key} must name one of the strategies ({', '.join(names)}), got {stem!r}")
            continue
        if key == "weight":
            out.append(_replace(base, kind="weight", strategy=names[stem]))
            continue
        param = _site_param(base, entry, strategies[names[stem]], names[stem], where=where, problems=problems)
        if param is not None:
            out.append(param)
    return out


def _site_param(
    base: Param, entry: dict[str, Any], strategy: StrategyEntry, index: int, *, where: str, problems: list[str]
) -> Param | None:
    at = entry["at"]
    positions = [at] if isinstance(at, str) else at
    field_name = entry.get("field", "")
    if not isinstance(positions, list) or not positions or not all(isinstance(p, str) for p in positions):
        problems.append(f"{where}: at must be 'LINE:COL' or a list of them")
        return None
    if not isinstance(field_name, str):
        problems.append(f"{where}: field must be a string")
        return None
    try:
        sites = list_sites(strategy.text, str(strategy.path))
        offsets = tuple(resolve(sites, p, field_name, f"{where} in {strategy.path.name}").offset for p in positions)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None
    except StrategyError as exc:
        problems.append(f"{where}: {exc}")
        return None
    return _replace(base, strategy=index, offsets=offsets)


def _replace(param: Param, **changes: Any) -> Param:
    fields = {**param.__dict__, **changes}
    return Param(**fields)

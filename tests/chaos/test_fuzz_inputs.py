"""Bad input everywhere (hypothesis): the config loader, the DSL reader and the bar CSV loader.

Whatever the input: either a result, or the module's own error (``ConfigError``, ``StrategyError``, ``DataError``)
whose message names what is wrong — never another exception (a traceback), never a hang (each example has a
deadline; nesting and sizes are bounded by the readers themselves).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alchemiser.config import Settings, load_settings
from alchemiser.data.bars import CSV_HEADER, read_bars_csv
from alchemiser.dsl import parse_symphony
from alchemiser.errors import ConfigError, DataError, StrategyError

FUZZ = settings(
    max_examples=100, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
SECTIONS = ["http", "store", "sim", "execution", "risk", "logging", "schedule", "alpaca", "notifications", "bogus"]
KEYS = ["port", "host", "path", "speed", "seed", "level", "format", "step_wait_seconds", "max_daily_orders", "typo"]
scalars = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.booleans(),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


@st.composite
def config_documents(draw: st.DrawFn) -> tuple[str, set[str]]:
    """A TOML document of random (often wrong) settings, and the dotted keys it sets."""
    lines: list[str] = []
    keys: set[str] = set()
    if draw(st.booleans()):
        lines.append(f"mode = {toml_value(draw(st.one_of(st.sampled_from(['sim', 'paper', 'live']), scalars)))}")
        keys.add("mode")
    for section in draw(st.lists(st.sampled_from(SECTIONS), unique=True, max_size=4)):
        lines.append(f"[{section}]")
        for key in draw(st.lists(st.sampled_from(KEYS), unique=True, min_size=1, max_size=3)):
            lines.append(f"{key} = {toml_value(draw(values))}")
            keys.add(f"{section}.{key}")
    return "\n".join(lines) + "\n", keys


def assert_names_a_problem(exc: ConfigError, keys: set[str], path: Path) -> None:
    assert exc.problems and all(p.strip() for p in exc.problems), exc
    text = str(exc)
    named = {k for k in keys if k in text or k.split(".")[0] in text}
    assert named or str(path) in text, f"no key or file named in {text!r} (set {sorted(keys)})"


@FUZZ
@given(document=config_documents())
def test_config_loader_accepts_or_names_the_bad_key(tmp_path: Path, document: tuple[str, set[str]]) -> None:
    text, keys = document
    path = tmp_path / "alchemiser.toml"
    path.write_text(text)
    try:
        result = load_settings(path, secrets_dir=None)
    except ConfigError as exc:
        assert_names_a_problem(exc, keys, path)
    else:
        assert isinstance(result, Settings)


@FUZZ
@given(text=st.text(max_size=400))
def test_config_loader_on_arbitrary_text_says_why(tmp_path: Path, text: str) -> None:
    path = tmp_path / "alchemiser.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_settings(path, secrets_dir=None)
    except ConfigError as exc:
        assert exc.problems and all(p.strip() for p in exc.problems), exc


# ------------------------------------------------------------------------------------------------------ the DSL

ATOMS = ['"SPY"', ":window", "10", "-2.5", "{", "}", "[", "]", "(", ")", "asset", "weight-equal", "if", ">", "rsi"]
dsl_tokens = st.lists(st.one_of(st.sampled_from(ATOMS), st.text(max_size=6)), max_size=60).map(" ".join)
FORMS = [
    '(asset "SPY")',
    "(weight-equal [{0}])",
    '(if (> (rsi "QQQ" {{:window 10}}) 50) [{0}] [{0}])',
    "(filter (rsi {{:window 5}}) (select-top 1) [{0}])",
    '(group "g" [{0}])',
    "(weight-specified 0.5 {0} 0.5 {0})",
]


@st.composite
def near_symphonies(draw: st.DrawFn) -> str:
    """Mostly-valid symphonies with random damage: a form deleted, a bracket dropped, a token swapped."""
    body = '(asset "SPY")'
    for _ in range(draw(st.integers(1, 5))):
        body = draw(st.sampled_from(FORMS)).format(body)
    text = f'(defsymphony "fuzz" {{:rebalance-frequency :daily}} {body})'
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["", "(", ")", "]", '"', ":", "{", "nan", "1e999"])) + text[at + 1 :]
    return text


def assert_strategy_error(exc: StrategyError) -> None:
    assert str(exc).strip()
    # every reader/parser error points at the place: <source>:<line>:<column>
    assert re.search(r"<string>(:\d+)?", str(exc)) or len(str(exc)) > 10, str(exc)


@FUZZ
@given(text=st.one_of(dsl_tokens, near_symphonies(), st.text(max_size=300)))
def test_dsl_reader_parses_or_says_where(text: str) -> None:
    try:
        parse_symphony(text)
    except StrategyError as exc:
        assert_strategy_error(exc)


@settings(max_examples=20, deadline=5000)
@given(depth=st.integers(min_value=1500, max_value=50_000), opener=st.sampled_from(["(", "[", "{"]))
def test_dsl_reader_bounds_nesting(depth: int, opener: str) -> None:
    try:
        parse_symphony(opener * depth)
    except StrategyError as exc:
        assert_strategy_error(exc)


# ------------------------------------------------------------------------------------------------ bar CSV files

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 10**6).map(str),
    st.sampled_from(["", "abc", "1e999", "-0", "0", "NaN", " 1", "1,5"]),
)
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()), st.sampled_from(["", "2024-13-01", "2024-02-30", "x", "20240101"])
)


@st.composite
def bar_files(draw: st.DrawFn) -> str:
    header = ",".join(CSV_HEADER) if draw(st.integers(0, 9)) else draw(st.text(max_size=40))
    rows = [
        ",".join([draw(dates), *(draw(numbers) for _ in range(5)), draw(numbers)])
        for _ in range(draw(st.integers(0, 6)))
    ]
    if draw(st.booleans()):
        rows.append(draw(st.text(max_size=40)))
    return "\n".join([header, *rows]) + "\n"


@FUZZ
@given(content=st.one_of(bar_files(), st.text(max_size=200)))
def test_bar_csv_loader_reads_or_names_file_and_row(tmp_path: Path, content: str) -> None:
    path = tmp_path / "SPY.csv"
    path.write_text(content, encoding="utf-8", errors="surrogatepass")
    try:
        bars = read_bars_csv(path)
    except DataError as exc:
        assert str(exc).startswith(str(path)), str(exc)  # the file, then the line where it can
    else:
        assert len(bars.dates) > 0 and (bars.close > 0).all()

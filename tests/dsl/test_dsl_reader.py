"""Reader and parser: typed AST, clear errors with line and column, limits, fuzzing (never a crash or a hang)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alchemiser.dsl import load_symphony, parse_symphony, requirements
from alchemiser.dsl.ast import Asset, Filter, Group, If, Indicator, Literal, WeightEqual, WeightSpecified
from alchemiser.dsl.reader import MAX_DEPTH
from alchemiser.errors import StrategyError

SMALL = """; a comment
(defsymphony "Small" {:asset-class "EQUITIES", :rebalance-threshold 0.05}
  (weight-equal
    [(if (> (rsi "SPY" {:window 10}) 79.5)
         [(asset "UVXY" "ProShares")]
         [(asset "BRK/B" nil) (weight-specified 0.6 (asset "TLT") 0.4 (asset "BIL"))])
     (group "G" [(filter (moving-average-return {:window 90}) (select-top 2)
                         [(asset "A") (asset "B") (asset "A")])])]))
"""


def test_parses_to_typed_ast_with_options_and_positions() -> None:
    s = parse_symphony(SMALL, "small.clj")
    assert s.name == "Small"
    assert s.rebalance_threshold == 0.05
    assert s.options.asset_class == "EQUITIES"
    assert isinstance(s.root, WeightEqual)
    cond = s.root.children[0]
    assert isinstance(cond, If)
    assert isinstance(cond.condition.left, Indicator)
    assert cond.condition.left.symbol == "SPY"
    assert cond.condition.left.metric.param("window") == 10
    assert isinstance(cond.condition.right, Literal)
    assert cond.condition.right.value == Decimal("79.5")  # exact
    assert s.where(cond.offset) == "small.clj:4:6"
    assert cond.otherwise is not None
    assert isinstance(cond.otherwise[0], Asset) and cond.otherwise[0].symbol == "BRK.B"
    assert isinstance(cond.otherwise[1], WeightSpecified)
    group = s.root.children[1]
    assert isinstance(group, Group) and group.name == "G"
    filt = group.children[0]
    assert isinstance(filt, Filter) and filt.asset_mode
    assert [c.symbol for c in filt.candidates if isinstance(c, Asset)] == ["A", "B"]  # duplicates count once


def test_options_and_defaults() -> None:
    s = parse_symphony(
        '(defsymphony "x" {:rebalance-frequency "daily" :other 1} (weight-equal [(asset "A") (asset "B")]))'
    )
    assert s.options.rebalance_frequency == "daily" and s.options.extra == (("other", "number 1"),)
    ppo = parse_symphony('(defsymphony "p" {} (if (> (percentage-price-oscillator-signal "A") 0) [(asset "A")]))')
    assert isinstance(ppo.root, If) and isinstance(ppo.root.condition.left, Indicator)
    assert dict(ppo.root.condition.left.metric.params) == {"long-window": 26, "short-window": 12, "smooth-window": 9}
    assert (
        ppo.root.condition.left.label()
        == "percentage-price-oscillator-signal(A, long-window=26, short-window=12, smooth-window=9)"
    )


def test_identical_subtrees_are_shared() -> None:
    s = parse_symphony('(defsymphony "x" {} (weight-equal [(group "g" [(asset "A")]) (group "g" [(asset "A")])]))')
    assert isinstance(s.root, WeightEqual)
    assert s.root.children[0] is s.root.children[1]


def test_requirements_list_tickers_and_history() -> None:
    req = requirements(parse_symphony(SMALL))
    assert req.symbols == {"SPY", "UVXY", "BRK.B", "TLT", "BIL", "A", "B"}
    assert req.min_bars["SPY"] == 11
    assert req.min_bars["A"] == 91
    assert req.min_bars["UVXY"] == 0  # held only
    assert req.warmup_bars["SPY"] >= 110  # RSI needs warm-up history
    assert req.longest >= 110


def test_requirements_of_portfolio_filter_include_the_scoring_window() -> None:
    text = """(defsymphony "p" {} (filter (stdev-return {:window 5}) (select-top 1)
        [(group "a" [(if (> (rsi "X" {:window 10}) 50) [(asset "A")] [(asset "B")])]) (asset "C")]))"""
    req = requirements(parse_symphony(text))
    assert req.min_bars["X"] == 11 + 6
    assert req.min_bars["A"] == 6 and req.min_bars["C"] == 6


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('(defsymphony "x" {} (weight-equal [(asset "A")]', "'(' is never closed"),
        ('(defsymphony "x" {} (weight-equal [(asset "A")))', "does not match"),
        ('(defsymphony "x" {} (weight-equal [(asset "A")]))))', "unexpected ')'"),
        ('(defsymphony "x" {:a} (asset "A"))', "odd number"),
        ('(defsymphony "x" {} (asset "A)) ', "unterminated string"),
        ('(defsymphony "x" {} (and (asset "A")))', "unknown operator 'and'"),
        ('(defsymphony "x" {} (asset "A" 3))', "display name"),
        ('(defsymphony "x" {} (if (> (rsi "A") 1) [(asset "A")]))', "needs :window"),
        ('(defsymphony "x" {} (if (> (rsi "A" {:window 0}) 1) [(asset "A")]))', "positive integer"),
        ('(defsymphony "x" {} (if (> (rsi "A" {:window 2 :foo 1}) 1) [(asset "A")]))', "unknown parameter :foo"),
        ('(defsymphony "x" {} (if (> 1) [(asset "A")]))', "exactly 2 operands"),
        ('(defsymphony "x" {} (if (asset "A") [(asset "A")]))', "must be a comparison"),
        ('(defsymphony "x" {} (filter (rsi "A" {:window 2}) (select-top 1) [(asset "A")]))', "without a ticker"),
        ('(defsymphony "x" {} (filter (rsi {:window 2}) (select-top 0) [(asset "A")]))', "positive integer"),
        ('(defsymphony "x" {} (weight-specified 0.5 (asset "A") -1 (asset "B")))', "must be a number ≥ 0"),
        ('(defsymphony "x" {} (weight-specified 0.5 (asset "A") 0.5))', "weight/child pairs"),
        ('(defsymphony "x" {} (weight-equal []))', "no children"),
        ('(defsymphony "x" {} (asset "not a ticker!"))', "not a valid ticker"),
        ('(defsymphony "x" {} (asset "A") (asset "B"))', "takes 3 arguments"),
        ('(defsymphony "x" {:rebalance-threshold 2} (asset "A"))', ":rebalance-threshold"),
        ('(defsymphony "x" {} (asset "A")) (asset "B")', "exactly one top-level"),
        ('(weight-equal [(asset "A")])', "must be (defsymphony"),
        ("", "exactly one top-level"),
        ('(defsymphony "x" {} (asset "A" 1abc))', "invalid token '1abc'"),
        ('(defsymphony "x" {} (asset "A\\q"))', "unknown escape"),
        ('(defsymphony "x" {} (asset "A") #)', "invalid token '#'"),
        ('(defsymphony "x" {} ())', "empty form"),
        ('(defsymphony "x" {} ("asset" "A"))', "must start with an operator name"),
        ('(defsymphony "x" {"a" 1} (asset "A"))', "map keys must be keywords"),
        ('(defsymphony "x" {:a 1 :a 2} (asset "A"))', "duplicate map key :a"),
        ('(defsymphony "x" [] (asset "A"))', "options must be a map, got a list"),
        ('(defsymphony x {} (asset "A"))', "symphony name must be a string, got symbol x"),
        ('(defsymphony "x" {} (asset))', "takes 1 or 2 arguments"),
        ('(defsymphony "x" {} (group "g"))', "takes 2 arguments"),
        ('(defsymphony "x" {} (group "g" []))', "has no children"),
        ('(defsymphony "x" {} (weight-equal [(asset "A")] [(asset "B")]))', "takes 1 argument"),
        ('(defsymphony "x" {} (weight-specified 0 (asset "A")))', "weights sum to 0"),
        ('(defsymphony "x" {} (weight-specified 1 []))', "is empty"),
        ('(defsymphony "x" {} (weight-inverse-volatility 5))', "takes 2 arguments"),
        ('(defsymphony "x" {} (weight-inverse-volatility 5 []))', "has no children"),
        ('(defsymphony "x" {} (weight-inverse-volatility 1.5 [(asset "A")]))', "window must be a positive integer"),
        ('(defsymphony "x" {} (if (> 1 2)))', "takes 2 or 3 arguments"),
        ('(defsymphony "x" {} (if (> 1 2) [] [(asset "A")]))', "then-branch is empty"),
        ('(defsymphony "x" {} (if (> :k 2) [(asset "A")]))', "operand must be a number or an indicator"),
        ('(defsymphony "x" {} (filter (rsi {:window 2}) [(asset "A")] [(asset "B")]))', "selection must be"),
        ('(defsymphony "x" {} (filter (rsi {:window 2}) (select-top 1) []))', "has no candidates"),
        ('(defsymphony "x" {} (filter (rsi {:window 2})))', "takes 2 or 3 arguments"),
        ('(defsymphony "x" {} (filter (rsi {:window 2}) (select-top) [(asset "A")]))', "takes 1 argument"),
        ('(defsymphony "x" {} (filter (rsi {:window 200000}) [(asset "A")]))', "larger than the limit"),
        ('(defsymphony "x" {} (filter (rsi {:window 2} 3) [(asset "A")]))', "got an unexpected number 3"),
        ('(defsymphony "x" {} (filter (current-price) [(asset "A") nil]))', "got symbol nil"),
        ('(defsymphony "x" {} (weight-equal [(select-top 1)]))', "got (select-top ...)"),
        ('(defsymphony "x" {} (weight-equal [(> 1 2)]))', "got comparison"),
        ('(defsymphony "x" {} (weight-equal [{:a 1}]))', "got a map"),
        ('(defsymphony "x" {} (weight-equal [(rsi "A" {:window 2})]))', "got indicator (rsi ...)"),
        (
            '(defsymphony "x" {} (if (> (percentage-price-oscillator "A" {:short-window 9 :long-window 5}) 0) '
            '[(asset "A")]))',
            "short-window must be smaller",
        ),
        ('(defsymphony "x" {:rebalance-frequency 3} (asset "A"))', ":rebalance-frequency must be a keyword"),
        ('(defsymphony "x" {} (defsymphony "y" {} (asset "A")))', "must be a portfolio form"),
    ],
)
def test_bad_input_gets_clear_error_with_position(text: str, fragment: str) -> None:
    with pytest.raises(StrategyError) as info:
        parse_symphony(text, "bad.clj")
    message = str(info.value)
    assert fragment in message
    assert message.startswith("bad.clj")


def test_error_names_line_and_column() -> None:
    text = '(defsymphony "x" {}\n  (weight-equal\n    [(asset "A")\n     (nope "B")]))'
    with pytest.raises(StrategyError, match=r"^f\.clj:4:7: unknown operator 'nope'"):
        parse_symphony(text, "f.clj")


def _nested(depth: int) -> str:
    return '(defsymphony "deep" {} ' + '(group "g" [' * depth + '(asset "A")' + "])" * depth + ")"


def test_depth_400_parses_and_evaluates_without_recursion_limits() -> None:
    import numpy as np

    from alchemiser.data import PriceMatrix
    from alchemiser.dsl import evaluate, trace

    s = parse_symphony(_nested(600))
    d = np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]")
    prices = PriceMatrix.from_columns({"A": (d, [1.0, 2.0])})
    assert evaluate(s, prices).allocation_at("2024-01-03") == {"A": 1.0}
    t = trace(s, prices, "2024-01-03")
    assert len(t.steps) == 601  # 600 groups and the asset
    assert t.to_dict()["allocation"] == {"A": 1.0}


def test_depth_beyond_limit_is_a_clear_error() -> None:
    with pytest.raises(StrategyError, match="nesting deeper than the limit"):
        parse_symphony("[" * (MAX_DEPTH + 5))


def test_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.clj"
    big.write_text('(defsymphony "x" {} (asset "A"))' + " " * (10 * 1024 * 1024))
    with pytest.raises(StrategyError, match="larger than the limit of 10 MiB"):
        load_symphony(big)
    with pytest.raises(StrategyError, match="larger than the limit of 10 MiB"):
        parse_symphony(" " * (10 * 1024 * 1024 + 1))


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(StrategyError, match="cannot read symphony file"):
        load_symphony(tmp_path / "missing.clj")
    bad = tmp_path / "bin.clj"
    bad.write_bytes(b"\xff\xfe(")
    with pytest.raises(StrategyError, match="not valid UTF-8"):
        load_symphony(bad)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzz_random_bytes_never_crash(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        parse_symphony(text)
    except StrategyError as exc:
        assert str(exc)


_TOKENS = ["(defsymphony ", '"x" ', "{} ", "(asset ", '"A"', "(if ", "(> ", "(rsi ", "{:window 3}", "(weight-equal "]
_TOKENS += ["(filter ", "(select-top 1)", "(group ", "(weight-specified ", "0.5 ", "nil"]
_ALPHABET = st.sampled_from([*'()[]{}" :;,\n\\-.0123456789abcdefghijklmnopqrstuvwxyz>=<', *_TOKENS])


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=60))
def test_fuzz_token_soup_never_crashes(parts: list[str]) -> None:
    try:
        parse_symphony("".join(parts))
    except StrategyError as exc:
        assert str(exc)


def test_every_truncation_of_a_real_file_is_a_clear_error(reference_strategies_dir: Path) -> None:
    text = (reference_strategies_dir / "ftlt__holy_grail.clj").read_text()
    parse_symphony(text)
    for cut in range(0, len(text) - 3, 7):
        with pytest.raises(StrategyError):
            parse_symphony(text[:cut])


def test_every_reference_file_parses(reference_strategies_dir: Path) -> None:
    files = sorted(reference_strategies_dir.glob("*.clj"))
    assert len(files) >= 12
    for path in files:
        s = load_symphony(path)
        assert s.name
        assert requirements(s).symbols


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("(" * 1_000_000, "nesting deeper than the limit"),
        ('(defsymphony "x" {} (asset "' + "\\a" * 2_000_000, "unterminated string"),
        ('(defsymphony "x" {} ' + '(asset "A") ' * 50_000 + ")", "takes 3 arguments"),
        ("[" * 1999 + "]" * 1999, "must be (defsymphony"),
    ],
    ids=["deep-open", "long-unterminated-string", "many-forms", "deep-but-legal-nesting"],
)
def test_large_pathological_inputs_fail_fast_with_clear_errors(text: str, fragment: str) -> None:
    with pytest.raises(StrategyError, match=fragment.replace("(", r"\(")):
        parse_symphony(text)


@pytest.mark.parametrize(
    "number",
    ["9" * 100_000, "0." + "5" * 100_000, "1" + "0" * 400, "-" + "9" * 31],
)
def test_numbers_that_are_not_finite_or_absurdly_long_are_parse_errors(number: str) -> None:
    text = f'(defsymphony "w" {{}} (weight-specified {number} (asset "SPY") 0.5 (asset "TLT")))'
    with pytest.raises(StrategyError, match=r"^<string>:1:39: number .* (digits|not finite)"):
        parse_symphony(text)


def test_a_long_but_reasonable_number_still_parses() -> None:
    text = (
        '(defsymphony "w" {} (weight-specified 0.333333333333333333 (asset "SPY") 0.666666666666666667 (asset "TLT")))'
    )
    assert isinstance(parse_symphony(text).root, WeightSpecified | Group)

"""Sites (numbers addressed by explain's node positions), the sweep file and the points it gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from alchemiser.dsl import load_symphony, parse_symphony
from alchemiser.errors import ConfigError
from alchemiser.research.sites import apply_values, format_number, list_sites, normalise_at, resolve
from alchemiser.research.space import grid_size, points
from alchemiser.research.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
TECL = ROOT / "config" / "strategies" / "tecl.clj"


def test_sites_use_the_positions_explain_prints_and_every_occurrence_is_its_own_site() -> None:
    text = TECL.read_text(encoding="utf-8")
    sites = list_sites(text, str(TECL))
    tqqq = resolve(sites, "config/strategies/tecl.clj:13:8", "right", "t")  # FILE:LINE:COL as explain prints
    assert (tqqq.token, tqqq.position) == ("79", "14:38")
    assert "rsi" in tqqq.context and "TQQQ" in tqqq.context
    # the same test written twice (hash-consed into one AST node) is two sites
    first, second = resolve(sites, "23:16", "right", "t"), resolve(sites, "43:18", "right", "t")
    assert first.offset != second.offset and first.token == second.token == "81"
    assert resolve(sites, "14:38", "", "t") == tqqq  # a number addressed by its own position
    assert resolve(sites, "47:20", "select", "t").token == "1"
    assert resolve(sites, "9:4", "right.window", "t").token == "200"


def test_unknown_sites_name_what_is_there() -> None:
    sites = list_sites(TECL.read_text(encoding="utf-8"))
    with pytest.raises(ConfigError, match=r"fields there: left\.window, right"):
        resolve(sites, "13:8", "left", "param 'x'")
    with pytest.raises(ConfigError, match="no sweepable node starts there"):
        resolve(sites, "1:1", "right", "param 'x'")
    with pytest.raises(ConfigError, match="not LINE:COL"):
        normalise_at("line 3")


def test_applied_values_parse_and_leave_the_file_untouched() -> None:
    before = TECL.read_bytes()
    text = before.decode()
    sites = list_sites(text)
    site = resolve(sites, "13:8", "right", "t")
    window = resolve(sites, "9:4", "right.window", "t")
    changed = apply_values(text, {site.offset: "77.5", window.offset: "150"})
    symphony = parse_symphony(changed)
    assert "77.5" in changed and "{:window 150}" in changed
    assert symphony.root is not load_symphony(TECL).root
    assert TECL.read_bytes() == before
    assert format_number(80) == "80" and format_number(80.0) == "80" and format_number(0.05) == "0.05"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(f'[[strategy]]\nfile = "{TECL}"\n' + body, encoding="utf-8")
    return path


def test_the_example_sweep_file_loads_with_at_least_100_points() -> None:
    spec = load_spec(ROOT / "config" / "sweeps" / "tecl.toml")
    assert grid_size(spec) >= 100
    assert [p.kind for p in spec.params] == ["site", "site", "site", "setting"]
    assert len(spec.params[1].offsets) == 2  # two tied sites


def test_a_bad_sweep_file_lists_every_problem(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[sweep]
method = "grid"
blocks = 7
objective = "luck"
[[param]]
name = "a"
at = "13:8"
field = "left"
values = [1]
[[param]]
name = "b"
setting = "leverage"
values = [1]
[[param]]
name = "c"
at = "13:8"
field = "right"
values = [1]
range = [1, 2, 1]
[[param]]
name = "d"
weight = "nope"
low = 0
high = 1
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_spec(path)
    text = "\n".join(caught.value.problems)
    for expected in ("blocks must be even", "objective must be", "fields there", "setting must be", "exactly one of"):
        assert expected in text
    assert "weight must name one of the strategies" in text


def test_grid_and_random_points_are_stable_and_seeded(tmp_path: Path) -> None:
    body = """
[sweep]
method = "{method}"
samples = 8
seed = {seed}
[[param]]
name = "a"
at = "13:8"
field = "right"
range = [75, 83, 2]
[[param]]
name = "b"
setting = "drift_band"
low = 0.0
high = 0.1
"""
    grid = load_spec(_write(tmp_path, body.format(method="random", seed=1)))
    again = points(grid, "fp")
    assert [p.values for p in again] == [p.values for p in points(grid, "fp")]
    assert len(again) == 8 and len({p.key for p in again}) == 8
    other = points(load_spec(_write(tmp_path, body.format(method="random", seed=2))), "fp")
    assert [p.values for p in other] != [p.values for p in again]
    assert {p.key for p in points(grid, "other inputs")}.isdisjoint({p.key for p in again})
    with pytest.raises(ConfigError, match="a grid needs values or range"):
        load_spec(_write(tmp_path, body.format(method="grid", seed=1)))

"""Addressing the numbers of a symphony without editing its file: *sites*.

A site is one number token of the source text, named by the node that holds it and a field:

* ``at`` is the node's position ``LINE:COL`` exactly as ``alchemiser explain --format json`` prints it in a step's
  ``"at"`` (the opening parenthesis of ``(if ...``, ``(filter ...``, ``(weight-specified ...``, ...);
* ``field`` says which number of that node:

  ==========================  ===========================================================================
  node                        fields
  ==========================  ===========================================================================
  ``if``                      ``left`` / ``right`` (a literal operand), ``left.window`` / ``right.window``
                              (or any other indicator parameter: ``right.long-window``, ...)
  ``filter``                  ``window`` (or another metric parameter), ``select`` (the select-top/bottom count)
  ``weight-specified``        ``weight.0``, ``weight.1``, ... (the weights in source order)
  ``weight-inverse-volatility`` ``window``
  ``defsymphony``             ``rebalance-threshold``
  ==========================  ===========================================================================

``at`` may also point at a number itself (its own ``LINE:COL``), with no field. Every textual occurrence is its
own site even where the parser shares identical subtrees, so a parameter can tie several sites together.
``list_sites(text)`` enumerates them all (``alchemiser sweep --sites FILE`` prints them). A point is applied by
replacing the tokens in a copy of the text and parsing that copy: the file on disk is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from alchemiser.dsl.reader import Raw, RawKeyword, RawList, RawMap, RawNumber, RawSymbol, SourceMap, read_forms
from alchemiser.errors import ConfigError

_TOKEN = re.compile(r"[^\s()\[\]{},\"]+")
_POSITION = re.compile(r"(?:.*:)?(\d+):(\d+)\Z")


@dataclass(frozen=True, slots=True)
class Site:
    """One number of the source: its node position, field, character offset, token and what it belongs to."""

    at: str
    field: str
    position: str  # the number token's own LINE:COL
    offset: int
    token: str
    value: Decimal
    context: str


def _head(raw: RawList) -> str | None:
    return raw.items[0].name if raw.items and isinstance(raw.items[0], RawSymbol) else None


def _render(raw: Raw, depth: int = 0) -> str:
    """Compact source-like text of a form, nested lists cut after two levels."""
    if isinstance(raw, RawNumber):
        return str(raw.value)
    if isinstance(raw, RawKeyword):
        return f":{raw.name}"
    if isinstance(raw, RawSymbol):
        return raw.name
    if isinstance(raw, RawMap):
        return "{" + " ".join(f"{_render(k, depth)} {_render(v, depth)}" for k, v in raw.items) + "}"
    if isinstance(raw, RawList):
        if depth >= 2:
            return "(…)" if raw.bracket == "(" else "[…]"
        inner = " ".join(_render(item, depth + 1) for item in raw.items)
        return f"({inner})" if raw.bracket == "(" else f"[{inner}]"
    return f'"{raw.value}"'


def _describe(raw: RawList) -> str:
    """What a node is about: an if's condition, a filter's metric and selection, else its head."""
    head = _head(raw) or ""
    if head in ("if", "filter"):
        return f"({head} " + " ".join(_render(item) for item in raw.items[1 : 2 if head == "if" else 3]) + " …)"
    if head == "defsymphony" and len(raw.items) > 1:
        return f"(defsymphony {_render(raw.items[1])} …)"
    return f"({head} …)"


def _map_numbers(raw: RawList | RawMap, prefix: str) -> list[tuple[str, RawNumber]]:
    maps = [raw] if isinstance(raw, RawMap) else [item for item in raw.items if isinstance(item, RawMap)]
    out: list[tuple[str, RawNumber]] = []
    for mapping in maps:
        for key, value in mapping.items:
            if isinstance(key, RawKeyword) and isinstance(value, RawNumber):
                out.append((prefix + key.name, value))
    return out


def _numbers_of(node: RawList) -> list[tuple[str, RawNumber]]:
    """The (field, number) pairs a node owns directly."""
    head = _head(node)
    items = node.items
    if head == "if" and len(items) > 1 and isinstance(items[1], RawList):
        found: list[tuple[str, RawNumber]] = []
        for side, operand in zip(("left", "right"), items[1].items[1:3], strict=False):
            if isinstance(operand, RawNumber):
                found.append((side, operand))
            elif isinstance(operand, RawList):
                found.extend(_map_numbers(operand, f"{side}."))
        return found
    if head == "filter":
        found = []
        if len(items) > 1 and isinstance(items[1], RawList):
            found.extend(_map_numbers(items[1], ""))
        if len(items) > 2 and isinstance(items[2], RawList) and len(items[2].items) > 1:
            count = items[2].items[1]
            if isinstance(count, RawNumber):
                found.append(("select", count))
        return found
    if head == "weight-specified":
        weights = [item for item in items[1:] if isinstance(item, RawNumber)]
        return [(f"weight.{k}", number) for k, number in enumerate(weights)]
    if head == "weight-inverse-volatility":
        direct = [("window", item) for item in items[1:] if isinstance(item, RawNumber)]
        return direct[:1] + _map_numbers(node, "")
    if head == "defsymphony":
        return [(f, n) for f, n in _map_numbers(node, "") if f == "rebalance-threshold"]
    return []


def list_sites(text: str, source: str = "<string>") -> list[Site]:
    """Every addressable number of ``text`` in source order. StrategyError if the text does not read."""
    forms, source_map = read_forms(text, source)
    sites: list[Site] = []
    stack: list[Raw] = list(reversed(forms))
    while stack:
        raw = stack.pop()
        if isinstance(raw, RawMap):
            stack.extend(reversed([v for _, v in raw.items]))
            continue
        if not isinstance(raw, RawList):
            continue
        at = _position(source_map, raw.offset)
        for field_name, number in _numbers_of(raw):
            token = _token_at(text, number.offset)
            position = _position(source_map, number.offset)
            sites.append(Site(at, field_name, position, number.offset, token, number.value, _describe(raw)))
        stack.extend(reversed(raw.items))
    sites.sort(key=lambda s: s.offset)
    return sites


def _position(source_map: SourceMap, offset: int) -> str:
    line, col = source_map.line_col(offset)
    return f"{line}:{col}"


def _token_at(text: str, offset: int) -> str:
    match = _TOKEN.match(text, offset)
    return match.group(0) if match else ""


def normalise_at(at: str) -> str:
    """``LINE:COL`` from ``LINE:COL`` or ``FILE:LINE:COL`` (as explain prints it); ConfigError otherwise."""
    match = _POSITION.match(at.strip())
    if match is None:
        raise ConfigError([f"site position {at!r} is not LINE:COL (as `alchemiser explain --format json` prints)"])
    return f"{int(match.group(1))}:{int(match.group(2))}"


def resolve(sites: list[Site], at: str, field: str, where: str) -> Site:
    """The site at node position ``at`` with ``field`` (or the number at ``at`` when ``field`` is empty)."""
    position = normalise_at(at)
    for site in sites:
        if site.at == position and site.field == field:
            return site
    if not field:
        for site in sites:
            if site.position == position:
                return site
    candidates = [s.field for s in sites if s.at == position]
    hint = f"; fields there: {', '.join(candidates)}" if candidates else "; no sweepable node starts there"
    raise ConfigError([f"{where}: no number at {position} field {field or '(none)'!r}{hint}"])


def format_number(value: float | int | Decimal) -> str:
    """The token written for a swept value: integers without a decimal point, others in shortest form."""
    if isinstance(value, bool):
        raise ConfigError([f"a swept value must be a number, got {value!r}"])
    if isinstance(value, int):
        return str(value)
    number = Decimal(repr(value)) if isinstance(value, float) else value
    if number == number.to_integral_value() and abs(number) < 10**15:
        return str(int(number))
    return format(number.normalize(), "f")


def apply_values(text: str, values: Mapping[int, str]) -> str:
    """``text`` with the token at each offset replaced (offsets of the ORIGINAL text)."""
    out: list[str] = []
    cursor = 0
    for offset in sorted(values):
        token = _token_at(text, offset)
        out.append(text[cursor:offset])
        out.append(values[offset])
        cursor = offset + len(token)
    out.append(text[cursor:])
    return "".join(out)

"""The pieces every backtest HTML page shares: the stylesheet, number formats and a plain table."""

from __future__ import annotations

import html

from alchemiser.backtest.paging import PAGER_CSS

REPORT_CSS = (
    """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px;margin:8px 0}th,td{padding:3px 8px;border-bottom:1px solid #eee;
text-align:right}th:first-child,td:first-child{text-align:left}thead th{background:#f4f4f4}
.notes li{margin:3px 0}.muted{color:#777;font-size:12px}figure{margin:10px 0}svg{max-width:100%;height:auto}
.neg{color:#b03a2e}.pos{color:#1e8449}
"""
    + PAGER_CSS
)


def fmt_pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def fmt_num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

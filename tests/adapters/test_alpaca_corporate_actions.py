"""The adapter reads Alpaca's non-trade activities and corporate-action announcements (payloads shaped as Alpaca's
account-activities and announcements docs show them: strings for numbers, ``YYYY-MM-DD`` dates, ``::`` ids)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest
import respx

from alchemiser.adapters.alpaca.broker import AlpacaBroker
from alchemiser.adapters.alpaca.errors import MalformedResponseError
from alchemiser.adapters.alpaca.parsing import parse_announcements, parse_non_trade_activities
from alchemiser.broker.activities import ACTIVITY_TYPES, ActivityTreatment
from tests.adapters.alpaca_fakes import TRADING

# A 1:10 reverse split of 105 UVXY: 10.5 new shares, paid as 10 shares + cash in lieu for the half.
RECORDED_ACTIVITIES = [
    {
        "id": "20240411000000000::0a1b2c3d-0000-4000-8000-000000000001",
        "activity_type": "SSP",
        "date": "2024-04-11",
        "net_amount": "0",
        "description": "UVXY 1:10 reverse split",
        "symbol": "UVXY",
        "qty": "-105",
        "status": "executed",
    },
    {
        "id": "20240411000000000::0a1b2c3d-0000-4000-8000-000000000002",
        "activity_type": "SSP",
        "date": "2024-04-11",
        "net_amount": "14.85",
        "description": "UVXY 1:10 reverse split, cash in lieu",
        "symbol": "UVXY",
        "qty": "10",
        "status": "executed",
    },
    {
        "id": "20240405000000000::0a1b2c3d-0000-4000-8000-000000000003",
        "activity_type": "DIV",
        "date": "2024-04-05",
        "net_amount": "2.80",
        "description": "Cash DIV @ 0.28, Pos QTY: 10, Rec Date: 2024-04-01",
        "symbol": "TLT",
        "qty": "10",
        "per_share_amount": "0.28",
        "status": "executed",
    },
    {
        "id": "20240410000000000::0a1b2c3d-0000-4000-8000-000000000004",
        "activity_type": "NC",
        "date": "2024-04-10",
        "net_amount": "0",
        "symbol": "FB",
        "qty": "-3",
        "status": "correct",
    },
    {
        "id": "20240410000000000::0a1b2c3d-0000-4000-8000-000000000005",
        "activity_type": "NC",
        "date": "2024-04-10",
        "net_amount": "0",
        "symbol": "META",
        "qty": "3",
        "status": "correct",
    },
    {"id": "20240402000000000::x", "activity_type": "CSD", "date": "2024-04-02", "net_amount": "1000"},
    {"id": "20240403000000000::y", "activity_type": "FEE", "date": "2024-04-03T00:00:00Z", "net_amount": "-0.02"},
    {"id": "20240404000000000::z", "activity_type": "NEWTYPE", "date": "2024-04-04", "net_amount": "1"},
    {
        "activity_type": "FILL",
        "id": "20240404113406977::8efc7b9a-8b2b-4000-9955-d36e7db0df74",
        "cum_qty": "1",
        "leaves_qty": "0",
        "price": "1.63",
        "qty": "1",
        "side": "buy",
        "symbol": "LPCN",
        "transaction_time": "2024-04-04T15:34:06.977Z",
        "order_id": "904837e3-3b76-47ec-b432-046db621571b",
        "type": "fill",
    },
]

RECORDED_ANNOUNCEMENT = {
    "id": "be3c0e3c-8d4f-4b49-9b1f-8e9b11b8b222",
    "corporate_action_id": "F388942 0000000000",
    "ca_type": "split",
    "ca_sub_type": "reverse_split",
    "initiating_symbol": "UVXY",
    "initiating_original_cusip": "74347W114",
    "target_symbol": "UVXY",
    "target_original_cusip": "74347W114",
    "declaration_date": "2024-03-28",
    "ex_date": "2024-04-11",
    "record_date": "2024-04-11",
    "payable_date": "2024-04-11",
    "cash": "0",
    "old_rate": "10",
    "new_rate": "1",
}


def test_recorded_activities_parse_with_their_treatment() -> None:
    rows = parse_non_trade_activities(RECORDED_ACTIVITIES)
    assert [r.activity_type for r in rows] == ["SSP", "SSP", "DIV", "NC", "NC", "CSD", "FEE", "NEWTYPE"]  # no FILL
    split_in = rows[1]
    assert (
        split_in.qty == Decimal(10) and split_in.net_amount == Decimal("14.85") and split_in.date == date(2024, 4, 11)
    )
    assert rows[2].per_share_amount == Decimal("0.28")
    assert rows[6].date == date(2024, 4, 3)  # a full timestamp keeps its date
    assert [r.treatment for r in rows] == [
        ActivityTreatment.POSITION,
        ActivityTreatment.POSITION,
        ActivityTreatment.INCOME,
        ActivityTreatment.POSITION,
        ActivityTreatment.POSITION,
        ActivityTreatment.CAPITAL,
        ActivityTreatment.EXPENSE,
        ActivityTreatment.IGNORED,
    ]
    assert rows[0].ordinary and not rows[3].ordinary and not rows[7].ordinary
    assert rows[7].label == "unknown activity type NEWTYPE"


def test_every_documented_type_has_a_treatment() -> None:
    documented = "ACATC ACATS CSD CSR CSW DIV DIVCGL DIVCGS DIVNRA DIVROC DIVTXEX INT JNLC JNLS MA NC PTC REORG SSO SSP"
    assert set(documented.split()) <= set(ACTIVITY_TYPES)


def test_bad_activity_payloads_are_refused_by_name() -> None:
    with pytest.raises(MalformedResponseError, match="expected a JSON array"):
        parse_non_trade_activities({"activity_type": "DIV"})
    with pytest.raises(MalformedResponseError, match=r"account activities\[0\].*date"):
        parse_non_trade_activities([{"id": "1::a", "activity_type": "DIV", "date": "yesterday"}])


def test_recorded_announcement_parses() -> None:
    [a] = parse_announcements([RECORDED_ANNOUNCEMENT])
    assert a.ordinary and a.effective_date == date(2024, 4, 11)
    assert a.describe() == "UVXY: split/reverse_split 1:10 effective 2024-04-11"
    closing = parse_announcements([{**RECORDED_ANNOUNCEMENT, "ca_type": "merger", "ca_sub_type": "redemption"}])[0]
    assert not closing.ordinary


async def test_non_trade_activities_are_paged_and_asked_by_type(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    rows = [
        {
            "id": f"2024040{1 + i // 60}000000000::{i:04d}",
            "activity_type": "DIV",
            "date": "2024-04-01",
            "net_amount": "1",
        }
        for i in range(130)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("page_token")
        start = 0 if token is None else next(i for i, r in enumerate(rows) if r["id"] == token) + 1
        return httpx.Response(200, json=rows[start : start + int(request.url.params["page_size"])])

    route = alpaca_mock.get(f"{TRADING}/v2/account/activities").mock(side_effect=handler)
    got = await broker.list_non_trade_activities(after=date(2024, 4, 1))
    assert len(got) == 130 and route.call_count == 2
    params = route.calls[0].request.url.params
    assert params["after"] == "2024-03-31"  # Alpaca's ``after`` is exclusive
    assert "SSP" in params["activity_types"].split(",") and "FILL" not in params["activity_types"].split(",")


async def test_announcements_per_symbol_and_range_checked(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    route = alpaca_mock.get(f"{TRADING}/v2/corporate_actions/announcements").mock(
        return_value=httpx.Response(200, json=[RECORDED_ANNOUNCEMENT])
    )
    got = await broker.list_announcements(["UVXY", "SQQQ"], date(2024, 4, 1), date(2024, 5, 1))
    assert [a.id for a in got] == [RECORDED_ANNOUNCEMENT["id"]]  # the same row from two queries counts once
    assert {c.request.url.params["symbol"] for c in route.calls} == {"UVXY", "SQQQ"}
    assert route.calls[0].request.url.params["ca_types"] == "dividend,merger,spinoff,split"
    with pytest.raises(ValueError, match="at most 90 days"):
        await broker.list_announcements(["UVXY"], date(2024, 1, 1), date(2024, 5, 1))

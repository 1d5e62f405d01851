"""Read-only smoke check of an Alpaca (or simulated) endpoint set: account, clock, a quote, a few daily bars and,
optionally, a few seconds of the trade_updates stream. Never places or cancels an order.

    ALPACA_KEY_ID=... ALPACA_SECRET_KEY=... python -m alchemiser.adapters.alpaca.smoke [--stream-seconds 10]

URLs default to Alpaca paper; point them at ``alchemiser sim-exchange`` to check the simulator. Exit code 0 when
every read worked, 1 otherwise (the failing step and its typed error are printed; secrets never are).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import timedelta

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.adapters.alpaca.broker import AlpacaBroker, AlpacaEndpoints
from alchemiser.adapters.alpaca.constants import DATA_URL, STREAM_URL_PAPER, TRADING_URL_PAPER
from alchemiser.clock import RealClock
from alchemiser.errors import AlchemiserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alchemiser.adapters.alpaca.smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--trading-url", default=TRADING_URL_PAPER)
    parser.add_argument("--data-url", default=DATA_URL)
    parser.add_argument("--stream-url", default=STREAM_URL_PAPER)
    parser.add_argument("--feed", default="iex", choices=["iex", "sip"])
    parser.add_argument("--symbol", default="SPY")
    parser.add_argument("--stream-seconds", type=float, default=0.0)
    return parser


async def run(args: argparse.Namespace, credentials: AlpacaCredentials) -> int:
    clock = RealClock()
    broker = AlpacaBroker.create(
        credentials=credentials,
        clock=clock,
        endpoints=AlpacaEndpoints(args.trading_url, args.data_url, args.stream_url),
        data_feed=args.feed,
    )
    step = "account"
    try:
        account = await broker.get_account()
        print(f"account   {account.status} equity={account.equity} buying_power={account.buying_power}")
        step = "clock"
        market = await broker.get_clock()
        print(f"clock     open={market.is_open} next_open={market.next_open.isoformat()}")
        step = "quote"
        quotes = await broker.get_latest_quotes([args.symbol])
        quote = quotes.get(args.symbol.upper())
        shown = f"bid={quote.bid_price} ask={quote.ask_price}" if quote else "none"
        print(f"quote     {args.symbol.upper()} {shown}")
        step = "bars"
        today = clock.now().date()
        bars = await broker.get_daily_bars([args.symbol], today - timedelta(days=10), today)
        closes = ", ".join(f"{b.session_date}:{b.c:g}" for b in bars[args.symbol.upper()][-5:])
        print(f"bars      {closes or 'none'}")
        if args.stream_seconds > 0:
            step = "stream"
            stream = broker.trade_updates()
            stream.start()
            try:
                await asyncio.sleep(args.stream_seconds)
            finally:
                await stream.stop()
            if stream.failure is not None:
                raise stream.failure
            print(f"stream    connections={stream.connections} events_pending={stream.pending()}")
    except AlchemiserError as exc:
        print(f"FAILED at {step}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        await broker.aclose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    key = os.environ.get("ALPACA_KEY_ID", "")
    secret = os.environ.get("ALPACA_SECRET_KEY", "")
    try:
        credentials = AlpacaCredentials.of(key, secret)
    except AlchemiserError as exc:
        print(f"{exc} (set ALPACA_KEY_ID and ALPACA_SECRET_KEY)", file=sys.stderr)
        return 2
    return asyncio.run(run(args, credentials))


if __name__ == "__main__":
    sys.exit(main())

"""``alchemiser sim-exchange``: run the simulated exchange standalone (Alpaca's protocol on one loopback port).

Crash and chaos tests keep this process alive while a daemon pointed at it is killed and restarted. On start it
prints one line ``sim-exchange listening on <base_url> port=<port>`` (port 0 picks a free port) and then serves
until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from alchemiser.broker.models import NEW_YORK
from alchemiser.clock import AcceleratedClock, Clock, RealClock
from alchemiser.errors import AlchemiserError, ConfigError
from alchemiser.sim import ExchangeConfig
from alchemiser.sim.build import SYNTHETIC, SimOptions, build_sim, csv_last_session
from alchemiser.sim.corporate_events import load_events_csv
from alchemiser.sim.faults import FaultConfig
from alchemiser.sim.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, SimExchangeServer

ENV_FAULT_TOKEN = "ALCHEMISER_SIM_FAULT_TOKEN"  # noqa: S105 - an environment variable name


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sim-exchange",
        help="run the simulated exchange (Alpaca REST + trade_updates on one port)",
        description=__doc__,
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--data", default=SYNTHETIC, help="'synthetic' (default) or a folder of SYMBOL.csv bars")
    parser.add_argument(
        "--speed",
        type=float,
        default=None,
        help="clock acceleration (default 1 = real time), from --start's open (or --start-time), else from now",
    )
    parser.add_argument(
        "--always-open", action="store_true", help="a session that never closes, at real time (chaos tests)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the market, fills and faults")
    parser.add_argument(
        "--start",
        default=None,
        help="first simulated session YYYY-MM-DD (default: today for synthetic, the data's last session for CSVs)",
    )
    parser.add_argument(
        "--start-time",
        default=None,
        help="simulated start instant: RFC 3339, or 'HH:MM' New York time on --start (default: now / the open)",
    )
    parser.add_argument("--key-id", default=DEFAULT_KEY_ID, help="API key id clients must send")
    parser.add_argument("--secret", default=DEFAULT_SECRET_KEY, help="API secret clients must send")
    parser.add_argument("--cash", default="100000", help="starting cash (default 100000)")
    parser.add_argument("--partial-fill-rate", type=float, default=0.10, help="share of partial fills (0.10)")
    parser.add_argument("--spread-bps", type=float, default=2.0, help="quoted spread in bps (2)")
    parser.add_argument("--slippage-bps", default="1", help="market-order slippage in bps (1)")
    parser.add_argument("--history-years", type=int, default=5, help="synthetic history before --start (5)")
    parser.add_argument(
        "--reject-off-hours",
        action="store_true",
        help="refuse orders while the market is closed (default: queue day orders for the next open, as Alpaca does)",
    )
    parser.add_argument(
        "--corporate-actions", type=Path, default=None, help="CSV of splits, dividends, halts, closings, renames"
    )
    parser.add_argument(
        "--faults-file", type=Path, default=None, help="JSON FaultConfig to start with (off by default)"
    )
    parser.set_defaults(func=run)


def _options(args: argparse.Namespace, start: date | None) -> SimOptions:
    try:
        cash = Decimal(args.cash)
        slippage = Decimal(args.slippage_bps)
    except InvalidOperation as err:
        raise ConfigError([f"--cash / --slippage-bps must be numbers: {err}"]) from err
    try:
        config = ExchangeConfig(
            initial_cash=cash,
            slippage_bps=slippage,
            partial_fill_rate=args.partial_fill_rate,
            closed_market="reject" if args.reject_off_hours else "queue",
            seed=args.seed,
        )
    except ValueError as err:
        raise ConfigError([str(err)]) from err
    events = load_events_csv(args.corporate_actions) if args.corporate_actions is not None else ()
    return SimOptions(
        corporate_events=events,
        data=args.data,
        seed=args.seed,
        start=start,
        history_years=args.history_years,
        always_open=args.always_open,
        spread_bps=args.spread_bps,
        exchange=config,
    )


def _start_instant(args: argparse.Namespace, start: date | None) -> datetime | None:
    raw = args.start_time
    if raw is None:
        return None
    try:
        if len(raw) == 5 and raw[2] == ":":
            if start is None:
                raise ConfigError(["--start-time HH:MM needs --start"])
            wall = time(int(raw[:2]), int(raw[3:]))
            return datetime.combine(start, wall, NEW_YORK).astimezone(UTC)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as err:
        raise ConfigError([f"--start-time {raw!r}: {err}"]) from err
    if moment.tzinfo is None:
        raise ConfigError([f"--start-time {raw!r} needs a UTC offset"])
    return moment.astimezone(UTC)


def _build_clock(args: argparse.Namespace, start: date | None) -> Clock:
    if args.speed is not None and args.speed <= 0:
        raise ConfigError([f"--speed must be > 0, got {args.speed}"])
    instant = _start_instant(args, start)
    if args.always_open or (instant is None and start is None and args.speed in (None, 1.0)):
        return RealClock()
    if instant is None:
        # A start session without a time begins at its open; no start at all accelerates from now.
        instant = (
            datetime.combine(start, time(9, 30), NEW_YORK).astimezone(UTC) if start is not None else datetime.now(UTC)
        )
    return AcceleratedClock(instant, speed=args.speed or 1.0)


def _resolve_start(args: argparse.Namespace) -> date | None:
    try:
        start = date.fromisoformat(args.start) if args.start else None
    except ValueError as err:
        raise ConfigError([f"--start {args.start!r}: {err}"]) from err
    if start is None and str(args.data) != SYNTHETIC and not args.always_open:
        folder = Path(args.data)
        if not folder.is_dir():
            raise ConfigError([f"--data {folder} is not a folder of bar CSVs (or use 'synthetic')"])
        start = csv_last_session(folder)  # replay the data's last common session, from its open
    return start


async def _serve(args: argparse.Namespace, start: date | None) -> int:
    clock = _build_clock(args, start)
    now = clock.now()
    parts = build_sim(_options(args, start), now=now)
    faults = None
    if args.faults_file is not None:
        try:
            faults = FaultConfig.model_validate_json(args.faults_file.read_text())
        except (OSError, ValueError) as err:
            raise ConfigError([f"--faults-file {args.faults_file}: {err}"]) from err
    server = SimExchangeServer(
        parts.exchange,
        clock=clock,
        host=args.host,
        port=args.port,
        key_id=args.key_id,
        secret_key=args.secret,
        faults=faults,
        fault_seed=args.seed,
        fault_token=os.environ.get(ENV_FAULT_TOKEN) or None,
    )
    await server.start()
    print(f"sim-exchange listening on {server.base_url} port={server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve(args, _resolve_start(args)))
    except ConfigError as err:
        print(f"alchemiser sim-exchange: {err}", file=sys.stderr)
        return 2
    except AlchemiserError as err:
        print(f"alchemiser sim-exchange: {err}", file=sys.stderr)
        return 1

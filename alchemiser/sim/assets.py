"""The simulated exchange's asset book: one ``Asset`` per market symbol, with stable ids."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from alchemiser.broker.enums import AssetClass, AssetStatus
from alchemiser.broker.models import Asset
from alchemiser.errors import NotFoundError

_NAMESPACE = uuid.UUID("6c1f3b8e-2f2a-4b8e-9d7c-5a4e3f2b1c0d")

# Symbols that trade as single stocks rather than ETFs (listing exchange differs).
STOCK_EXCHANGES: dict[str, str] = {"BWXT": "NYSE", "EXC": "NASDAQ", "LEU": "NYSE", "OKLO": "NYSE", "SMR": "NYSE"}
NASDAQ_ETFS = frozenset({"QQQ", "TQQQ", "SQQQ", "PSQ", "QQQE", "SOXX", "FNGU", "FNGS", "SVIX"})
# Alpaca does not offer fractional trading in every ETF; these two exercise the "not fractionable" path.
DEFAULT_NON_FRACTIONABLE = frozenset({"FNGU", "SVIX"})


def asset_id(symbol: str) -> str:
    """A stable UUID for a symbol (the same across runs and processes)."""
    return str(uuid.uuid5(_NAMESPACE, symbol.upper()))


class AssetBook:
    """Assets keyed by symbol and by id."""

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        non_fractionable: Iterable[str] = DEFAULT_NON_FRACTIONABLE,
        non_tradable: Iterable[str] = (),
    ) -> None:
        no_frac = {s.upper() for s in non_fractionable}
        no_trade = {s.upper() for s in non_tradable}
        self._by_symbol: dict[str, Asset] = {}
        self._by_id: dict[str, Asset] = {}
        for raw in symbols:
            symbol = raw.upper()
            exchange = STOCK_EXCHANGES.get(symbol, "NASDAQ" if symbol in NASDAQ_ETFS else "ARCA")
            asset = Asset.model_validate(
                {
                    "id": asset_id(symbol),
                    "symbol": symbol,
                    "class": AssetClass.US_EQUITY.value,
                    "exchange": exchange,
                    "name": f"{symbol} (simulated)",
                    "status": AssetStatus.ACTIVE.value,
                    "tradable": symbol not in no_trade,
                    "marginable": True,
                    "shortable": False,
                    "easy_to_borrow": False,
                    "fractionable": symbol not in no_frac,
                    "attributes": [],
                }
            )
            self._by_symbol[symbol] = asset
            self._by_id[asset.id] = asset

    def get(self, symbol_or_id: str) -> Asset:
        """Raises ``NotFoundError`` (404, like Alpaca) for an unknown symbol or id."""
        asset = self._by_symbol.get(symbol_or_id.upper()) or self._by_id.get(symbol_or_id.lower())
        if asset is None:
            raise NotFoundError(f"asset not found: {symbol_or_id}", status_code=404, code=40410000)
        return asset

    def update(self, symbol: str, **changes: object) -> Asset:
        """Change an asset's facts (a halt, a fund closing): the same id, new ``tradable``/``status``/…"""
        asset = self.get(symbol).model_copy(update=changes)
        self._by_symbol[asset.symbol] = asset
        self._by_id[asset.id] = asset
        return asset

    def rename(self, old: str, new: str) -> Asset:
        """A symbol change: the asset (same id) answers to ``new``; ``old`` stays known, inactive and not tradable."""
        asset = self.get(old)
        renamed = asset.model_copy(update={"symbol": new.upper(), "name": f"{new.upper()} (simulated)"})
        self._by_symbol[renamed.symbol] = renamed
        self._by_id[renamed.id] = renamed
        self._by_symbol[asset.symbol] = asset.model_copy(update={"tradable": False, "status": AssetStatus.INACTIVE})
        return renamed

    def find(self, symbol: str) -> Asset | None:
        return self._by_symbol.get(symbol.upper())

    def all(self) -> list[Asset]:
        return list(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

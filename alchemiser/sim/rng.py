"""The exchange's one seeded random source: ids, partial fills and after-accept rejects all draw from it, in order.

Sharing one generator is what makes a seeded run repeat exactly; every part of the exchange that draws is handed
this object (never a generator of its own).
"""

from __future__ import annotations

import random

_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # version nibble and variant bits
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


class SimRandom(random.Random):
    """``random.Random`` (simulation, not security) that also makes version-4 UUID strings."""

    def uuid4(self) -> str:
        """A version-4 UUID string from the seeded bits (same text as ``uuid.UUID(int=..., version=4)``)."""
        bits = (self.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

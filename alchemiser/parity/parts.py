"""The causes a gap is split into, in the order every surface shows them (kept apart so readers stay light)."""

PARTS = ("signal", "execution", "fees", "timing", "rounding", "unexplained")

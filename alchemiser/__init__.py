"""alchemiser: a self-hosted trading daemon for symphony strategies."""

__version__ = "0.1.0"

"""Venue adapters: each subpackage implements ``alchemiser.broker.Broker`` for one venue."""

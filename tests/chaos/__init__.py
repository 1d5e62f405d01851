"""Crash-point chaos: a real daemon SIGKILLed at named crash points and random moments, restarted, invariants checked.

``python -m tests.chaos`` (``make chaos``) runs ≥ 100 randomised points; ``test_chaos.py`` runs a fixed set in
``make test``. See ``harness.py``.
"""

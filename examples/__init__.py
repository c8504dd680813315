"""Runnable examples that go with the tutorial (not part of the services)."""

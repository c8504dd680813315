"""Waits of the Jaeger and Prometheus clients on a fake clock: they poll with time.monotonic and time.sleep."""

from __future__ import annotations

import time

import pytest

from tests.support.fake_clock import FakeClock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """time.monotonic and time.sleep for the module under test: sleeping moves the clock, nothing waits."""
    fake = FakeClock()
    monkeypatch.setattr(time, "monotonic", fake.monotonic)
    monkeypatch.setattr(time, "sleep", fake.sleep)
    return fake

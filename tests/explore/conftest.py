"""A Jaeger API over the test's OTLP sink, for the CLI tests that need no stack: traceproof's own fake Jaeger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_jaeger import FakeJaeger
from tests.support.otlp_sink import OtlpSink


@pytest.fixture(scope="session")
def fake_jaeger(sink: OtlpSink) -> Iterator[FakeJaeger]:
    jaeger = FakeJaeger(sink.store.all).start()
    yield jaeger
    jaeger.stop()

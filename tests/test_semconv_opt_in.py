"""OTEL_SEMCONV_STABILITY_OPT_IN: the user's choice is honoured, and the stable conventions are always on."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.instrumentation._semconv import (
    _OpenTelemetrySemanticConventionStability,
    _report_new,
    _report_old,
    _StabilityMode,
)

from shoptrace.telemetry import semconv_opt_in
from tests.conftest import Spawn
from traceproof.traces import Traces


def modes(opt_in: str) -> tuple[_StabilityMode, _StabilityMode]:
    """(HTTP, database) modes, as the instrumentations read this value of the variable."""
    entries = [entry.strip() for entry in opt_in.split(",")]
    read = _OpenTelemetrySemanticConventionStability._filter_mode
    return (
        read(entries, _StabilityMode.HTTP, _StabilityMode.HTTP_DUP),
        read(entries, _StabilityMode.DATABASE, _StabilityMode.DATABASE_DUP),
    )


@pytest.mark.parametrize("unset", [None, "", " , "])
def test_unset_opts_in_to_the_stable_http_and_database_conventions_only(unset: str | None) -> None:
    assert semconv_opt_in(unset) == "http,database"
    assert modes(semconv_opt_in(unset)) == (_StabilityMode.HTTP, _StabilityMode.DATABASE)


def test_a_user_who_chose_dup_keeps_it() -> None:
    assert semconv_opt_in("http/dup") == "http/dup,database"
    assert semconv_opt_in("http/dup,database/dup") == "http/dup,database/dup"
    http, database = modes(semconv_opt_in("http/dup"))
    assert http is _StabilityMode.HTTP_DUP and _report_old(http) and _report_new(http)
    assert database is _StabilityMode.DATABASE


@pytest.mark.parametrize(
    ("user_value", "kept"),
    [
        ("database", "database,http"),
        ("gen_ai_latest_experimental", "gen_ai_latest_experimental,http,database"),
        (" database/dup , gen_ai_latest_experimental", "database/dup,gen_ai_latest_experimental,http"),
        ("http", "http,database"),
    ],
)
def test_a_users_other_choices_are_kept_and_the_kits_are_added(user_value: str, kept: str) -> None:
    assert semconv_opt_in(user_value) == kept
    assert all(_report_new(mode) for mode in modes(kept))


def test_a_service_started_with_http_dup_emits_the_old_http_attributes_beside_the_stable_ones(
    spawn: Spawn, traces: Traces
) -> None:
    service = spawn("inventory", OTEL_SEMCONV_STABILITY_OPT_IN="http/dup", OTEL_SERVICE_NAME="inventory-dup")
    response = httpx.get(f"{service.url}/stock/item-123", timeout=10)
    assert response.status_code == 200
    trace = traces.get(response, until=lambda t: bool(t.find(kind="server")))
    server = trace.one(service="inventory-dup", kind="server")
    assert server.attributes["http.request.method"] == "GET" and server.attributes["http.method"] == "GET"
    assert server.attributes["http.response.status_code"] == 200 and server.attributes["http.status_code"] == 200

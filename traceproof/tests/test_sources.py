"""The sources as a deployment meets them: Jaeger 1.x, a path prefix, credentials, a private CA, the Collector's file, the budget.

Each way it can go wrong is one sentence (a SourceError), never a traceback,
and never shows a header's value.
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from builder import Window, ns
from fake_jaeger import otlp_json
from traceproof import JaegerClient, JaegerError, JaegerSource, MemorySource, OtlpFileSource, SourceError, WindowTooLarge
from traceproof.sources import parse_headers

SECRET = "Bearer s3cr3t-t0ken"


V1_TRACE = "0af7651916cd43dd8448eb211c80319c"


def _v1_tag(key: str, value: object) -> dict[str, object]:
    kind = (
        "bool"
        if isinstance(value, bool)
        else "int64"
        if isinstance(value, int)
        else "float64"
        if isinstance(value, float)
        else "string"
    )
    return {"key": key, "type": kind, "value": value}


def _v1_span(span_id: str, name: str, start_us: int, duration_us: int, process: str, **more: object) -> dict[str, object]:
    return {
        "traceID": V1_TRACE,
        "spanID": span_id,
        "operationName": name,
        "startTime": start_us,
        "duration": duration_us,
        "processID": process,
        "references": [],
        "logs": [],
        **more,
    }


def _v1_answer() -> dict[str, object]:
    """One trace as Jaeger 1.x's /api/traces answers it: a SERVER span failing with an exception under a CLIENT span."""
    client = _v1_span(
        "b7ad6b7169203331",
        "GET",
        1_700_000_000_000_000,
        20_000,
        "p1",
        tags=[_v1_tag("span.kind", "client"), _v1_tag("otel.scope.name", "httpx"), _v1_tag("http.response.status_code", 500)],
    )
    server = _v1_span(
        "00f067aa0ba902b7",
        "GET /stock",
        1_700_000_000_002_000,
        15_000,
        "p2",
        references=[
            {"refType": "CHILD_OF", "traceID": V1_TRACE, "spanID": "b7ad6b7169203331"},
            {"refType": "FOLLOWS_FROM", "traceID": "11111111111111111111111111111111", "spanID": "2222222222222222"},
        ],
        tags=[
            _v1_tag("span.kind", "server"),
            _v1_tag("otel.status_code", "ERROR"),
            _v1_tag("otel.status_description", "boom"),
            _v1_tag("error", True),
            _v1_tag("retry.ratio", 0.5),
        ],
        logs=[
            {
                "timestamp": 1_700_000_000_010_000,
                "fields": [
                    _v1_tag("event", "exception"),
                    _v1_tag("exception.type", "builtins.RuntimeError"),
                    _v1_tag("exception.message", "boom"),
                ],
            }
        ],
    )
    processes = {
        "p1": {"serviceName": "edge", "tags": [_v1_tag("host.name", "a")]},
        "p2": {"serviceName": "stock", "tags": []},
    }
    return {"data": [{"traceID": V1_TRACE, "processes": processes, "spans": [client, server]}]}


def v1_jaeger(request: httpx.Request) -> httpx.Response:
    """A Jaeger 1.x: no /api/v3 at all."""
    if request.url.path == "/api/services":
        return httpx.Response(200, json={"data": ["edge", "stock"], "total": 2})
    if request.url.path.startswith("/api/traces"):
        return httpx.Response(200, json=_v1_answer())
    return httpx.Response(404, text="404 page not found")


def test_a_jaeger_1_is_found_out_and_read_into_the_same_spans() -> None:
    with JaegerClient("http://jaeger.test:16686", transport=httpx.MockTransport(v1_jaeger)) as client:
        spans = {s.name: s for s in client.trace("0af7651916cd43dd8448eb211c80319c")}
        assert client.api == "v1"
        assert client.services() == ["edge", "stock"]
    client_span, server = spans["GET"], spans["GET /stock"]
    assert (client_span.kind, client_span.service, client_span.scope) == ("client", "edge", "httpx")
    assert client_span.attributes == {"http.response.status_code": 500}
    assert (server.kind, server.service, server.parent_id) == ("server", "stock", client_span.span_id)
    assert (server.status, server.status_message) == ("error", "boom")
    assert server.error == ("RuntimeError", "boom")
    assert server.attributes == {"retry.ratio": 0.5}
    assert server.links == [("11111111111111111111111111111111", "2222222222222222")]
    assert (server.start_ns, server.end_ns) == (1_700_000_000_002_000_000, 1_700_000_000_017_000_000)


def test_a_jaeger_1_window_is_searched_in_microseconds() -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return v1_jaeger(request)

    with JaegerClient("http://jaeger.test:16686", transport=httpx.MockTransport(handler)) as client:
        window = JaegerSource(client).window(1_700_000_000_000_000_500, 1_700_000_000_100_000_500)
    assert list(window.traces) == ["0af7651916cd43dd8448eb211c80319c"]
    search = [r for r in asked if r.url.path == "/api/traces"][0]
    assert (search.url.params["start"], search.url.params["end"]) == ("1700000000000000", "1700000000100001")


def test_a_path_prefix_is_kept_and_every_request_carries_the_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/jaeger/api/v3/services":
            return httpx.Response(200, json={"services": ["edge"]})
        return httpx.Response(404)

    headers = parse_headers(["Authorization: " + SECRET], environ={"TRACEPROOF_HEADERS": "X-Org=shop%20one"})
    with JaegerClient("https://example.test/jaeger/", transport=httpx.MockTransport(handler), headers=headers) as client:
        assert client.services() == ["edge"]
    assert {r.url.path for r in seen} == {"/jaeger/api/v3/services"}
    assert all(r.headers["authorization"] == SECRET and r.headers["x-org"] == "shop one" for r in seen)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (httpx.Response(401, text="no"), "refused the request (401): give the credentials"),
        (httpx.Response(403, text="no"), "refused the request (403)"),
        (httpx.Response(200, html="<html>Grafana</html>"), "answers neither Jaeger's query API v3"),
        (httpx.Response(200, json=["not", "jaeger"]), "answers neither Jaeger's query API v3"),
    ],
)
def test_what_is_not_a_jaeger_or_refuses_is_one_sentence_that_shows_no_header(answer: httpx.Response, said: str) -> None:
    with (
        JaegerClient(
            "http://grafana.test", transport=httpx.MockTransport(lambda r: answer), headers={"Authorization": SECRET}
        ) as c,
        pytest.raises(JaegerError, match=re.escape(said)) as error,
    ):
        c.services()
    assert SECRET not in str(error.value) and "s3cr3t" not in str(error.value)


def test_a_header_that_is_not_name_and_value_is_refused_without_showing_it() -> None:
    with pytest.raises(SourceError) as error:
        parse_headers([SECRET])
    assert "s3cr3t" not in str(error.value)
    with pytest.raises(SourceError, match="TRACEPROOF_HEADERS"):
        parse_headers([], environ={"TRACEPROOF_HEADERS": "just-a-token"})


# -- TLS with a private CA: a real handshake on loopback ------------------------------


@pytest.fixture(scope="module")
def tls_jaeger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A Jaeger-shaped HTTPS server on 127.0.0.1 whose certificate a private CA signed, and that CA's PEM file."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make the private CA (Debian: apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    run = lambda *args: subprocess.run([openssl, *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    (folder / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-out",
        cert,
        "-days",
        "2",
        "-extfile",
        folder / "ext",
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.dumps({"services": ["edge"]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", ca
    server.shutdown()
    server.server_close()


def test_tls_from_a_private_ca_is_refused_with_what_to_do_and_trusted_with_ca_file(tls_jaeger: tuple[str, Path]) -> None:
    url, ca = tls_jaeger
    with (
        JaegerClient(url) as client,
        pytest.raises(JaegerError, match="refused TLS: its certificate is not trusted.*--jaeger-ca-file"),
    ):
        client.services()
    with JaegerClient(url, ca_file=ca) as client:
        assert client.services() == ["edge"]


def test_a_ca_file_that_is_not_pem_is_said(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(SourceError, match="cannot be read as PEM"):
        JaegerClient("https://jaeger.test", ca_file=tmp_path / "ca.pem")


# -- the Collector's file exporter --------------------------------------------------------


def _lines(w: Window) -> list[str]:
    """The window's spans as the file exporter writes them: one TracesData a line, a trace's services apart."""
    return [json.dumps(otlp_json([span])["result"]) for span in w.spans]


def test_the_collectors_file_is_read_by_trace_and_by_window_and_a_folder_with_its_rotations(tmp_path: Path) -> None:
    w = Window()
    first, second, late = w.order(0), w.order(1000, stock_call="not_propagated"), w.order(90_000)
    lines = _lines(w)
    (tmp_path / "traces-2026-12-06T10-00-00.000.jsonl").write_text("\n".join(lines[:5]) + "\n")
    (tmp_path / "traces.jsonl").write_text("\n".join(lines[5:]) + "\n")
    source = OtlpFileSource(tmp_path)

    assert {s.span_id for s in source.trace(first.trace_id)} == {s.span_id for s in w.traces()[first.trace_id]}
    window = source.window(ns(0), ns(60_000))
    assert set(window.traces) == {first.trace_id, second.trace_id} | {s.trace_id for s in w.spans if s.service == "inventory"} - {
        late.trace_id
    }
    assert window.services == ["checkout", "inventory"]
    only_inventory = source.window(ns(0), ns(60_000), services=["inventory"])
    assert first.trace_id in only_inventory.traces and second.trace_id not in only_inventory.traces
    assert source.link(first.trace_id) is None


def test_a_line_being_written_is_waited_for_and_any_other_bad_line_is_named(tmp_path: Path) -> None:
    w = Window()
    order = w.order(0)
    lines = _lines(w)
    path = tmp_path / "traces.jsonl"
    path.write_text("\n".join(lines) + "\n" + lines[0][: len(lines[0]) // 2])  # the exporter is mid-line
    assert len(OtlpFileSource(path).trace(order.trace_id)) == len(lines)

    path.write_text(lines[0] + "\nnot json at all\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(SourceError, match=r"traces.jsonl line 2 is not OTLP JSON .*format: json"):
        OtlpFileSource(path).window(ns(0), ns(1000))
    for wrong in (
        '{"resourceMetrics": []}',
        '{"resourceSpans": [1]}',
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "x"}]}]}]}',
    ):
        path.write_text(wrong + "\n")
        with pytest.raises(SourceError, match="line 1 is not OTLP JSON"):
            OtlpFileSource(path).window(ns(0), ns(1000))
    with pytest.raises(SourceError, match="neither a file nor a folder"):
        OtlpFileSource(tmp_path / "missing").window(ns(0), ns(1000))


def test_a_window_over_the_memory_budget_is_said_not_read_on(tmp_path: Path) -> None:
    w = Window()
    for i in range(10):
        w.order(i * 1000)
    (tmp_path / "traces.jsonl").write_text("\n".join(_lines(w)) + "\n")
    with pytest.raises(WindowTooLarge, match="more than 20 spans, the memory budget"):
        OtlpFileSource(tmp_path, max_spans=20).window(ns(0), ns(60_000))
    with pytest.raises(WindowTooLarge):
        MemorySource(lambda: w.spans, max_spans=20).window(ns(0), ns(60_000))
    assert len(MemorySource(lambda: w.spans).window(ns(0), ns(60_000)).traces) == 10

"""The rules that keep the README's walkthrough true (tests/support/walkthrough.py), on small cases."""

from __future__ import annotations

import re

from tests.support.processes import ROOT
from tests.support.walkthrough import RUN_BY_CI, IdMap, shape, steps

README = """
## Walkthrough

```console
$ curl -si localhost:8080/checkout -d '{"sku": "fault-crash"}'
HTTP/1.1 502 Bad Gateway
...
{"error":"inventory_failed","trace_id":"0af7651916cd43dd8448eb211c80319c"}
$ make trace ID=0af7651916cd43dd8448eb211c80319c
server POST /checkout   checkout  +0.0 ms   9.1 ms  ERROR  ████████
```

## Next
```console
$ not part of it
```
"""


def test_console_blocks_of_the_section_become_commands_with_their_output() -> None:
    found = steps(README)
    assert [s.command for s in found] == [
        """curl -si localhost:8080/checkout -d '{"sku": "fault-crash"}'""",
        "make trace ID=0af7651916cd43dd8448eb211c80319c",
    ]
    assert found[0].documented[0] == "HTTP/1.1 502 Bad Gateway" and len(found[1].documented) == 1


def test_ids_shown_in_output_are_replaced_by_the_real_ones_in_later_commands() -> None:
    ids = IdMap()
    curl, trace = steps(README)
    real = (
        "HTTP/1.1 502 Bad Gateway\ncontent-type: application/json\n\n"
        '{"error":"inventory_failed","trace_id":"1234567890abcdef1234567890abcdef"}'
    )
    assert ids.compare(curl.documented, real) == []
    assert ids.apply(trace.command) == "make trace ID=1234567890abcdef1234567890abcdef"
    assert (
        ids.apply("curl -H 'traceparent: 00-ffffffffffffffffffffffffffffffff-...'")
        == "curl -H 'traceparent: 00-ffffffffffffffffffffffffffffffff-...'"
    )


def test_status_lines_must_match_exactly_and_the_rest_by_shape() -> None:
    curl, trace = steps(README)
    assert IdMap().compare(
        curl.documented, 'HTTP/1.1 500 Internal Server Error\n{"error":"inventory_failed","trace_id":"' + "a" * 32 + '"}'
    ) == ["HTTP/1.1 502 Bad Gateway"]
    assert (
        IdMap().compare(curl.documented, 'HTTP/1.1 502 Bad Gateway\n{"error":"internal_error","trace_id":"' + "a" * 32 + '"}')
        != []
    )
    # Timings and bars differ from run to run; names, services and statuses do not.
    assert IdMap().compare(trace.documented, "server POST /checkout      checkout   +0.0 ms   12,031.7 ms  ERROR   ██▍") == []
    assert IdMap().compare(trace.documented, "server POST /checkout      checkout   +0.0 ms   12.7 ms  UNSET   ██▍") != []
    assert shape("...") is None
    # "..." inside a line stands for any text.
    assert (
        IdMap().compare(
            ['{"error":"inventory_unavailable","message":"inventory unreachable: ...","trace_id":"..."}'],
            '{"error":"inventory_unavailable","message":"inventory unreachable: All connection attempts failed","trace_id":"'
            + "b" * 32
            + '"}',
        )
        == []
    )
    assert (
        IdMap().compare(
            ['{"error":"inventory_unavailable","message":"inventory unreachable: ..."}'], '{"error":"inventory_timeout"}'
        )
        != []
    )


def test_the_readme_walkthrough_parses_and_make_trace_uses_ids_shown_before_it() -> None:
    walkthrough = steps((ROOT / "README.md").read_text())
    assert len(walkthrough) >= 10
    shown: set[str] = set()
    for step in walkthrough:
        for trace_id in re.findall(r"ID=([0-9a-f]{32})", step.command):
            assert trace_id in shown, f"{step.command!r} uses an id no earlier output showed"
        shown.update(re.findall(r"\b[0-9a-f]{32}\b", "\n".join(step.documented)))
    assert {s.command for s in walkthrough} & RUN_BY_CI == RUN_BY_CI

"""The rules that keep the walkthroughs true (tests/support/walkthrough.py), on small cases and on the real pages.

The walkthroughs are the README's quick start and docs/walkthrough.md; the
e2e suite runs them against the stack, and this checks, without a stack, that
they parse as the rules say and that each page's ``make trace ID=`` uses an
id its own earlier output showed.
"""

from __future__ import annotations

import re

import pytest

from tests.support.processes import ROOT
from tests.support.walkthrough import RUN_BY_CI, WALKTHROUGHS, IdMap, Walkthrough, shape, steps

PAGE = """
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
    found = steps(PAGE, "Walkthrough")
    assert [s.command for s in found] == [
        """curl -si localhost:8080/checkout -d '{"sku": "fault-crash"}'""",
        "make trace ID=0af7651916cd43dd8448eb211c80319c",
    ]
    assert found[0].documented[0] == "HTTP/1.1 502 Bad Gateway" and len(found[1].documented) == 1


def test_without_a_section_every_console_block_of_the_page_counts() -> None:
    assert [s.command for s in steps(PAGE)][-1] == "not part of it"
    with pytest.raises(ValueError, match="no section '## Quick start'"):
        steps(PAGE, "Quick start")


def test_ids_shown_in_output_are_replaced_by_the_real_ones_in_later_commands() -> None:
    ids = IdMap()
    curl, trace = steps(PAGE, "Walkthrough")
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
    curl, trace = steps(PAGE, "Walkthrough")
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


@pytest.mark.parametrize("walkthrough", WALKTHROUGHS, ids=lambda w: w.page)
def test_each_walkthrough_parses_and_make_trace_uses_ids_its_own_page_showed_before(walkthrough: Walkthrough) -> None:
    story = walkthrough.read(ROOT)
    assert story, f"{walkthrough.page} has no console commands"
    shown: set[str] = set()
    for step in story:
        for trace_id in re.findall(r"ID=([0-9a-f]{32})", step.command):
            assert trace_id in shown, f"{walkthrough.page}: {step.command!r} uses an id no earlier output of the page showed"
        shown.update(re.findall(r"\b[0-9a-f]{32}\b", "\n".join(step.documented)))


def test_the_quick_start_ends_at_a_crash_in_make_trace_and_the_full_walkthrough_tells_the_rest() -> None:
    quick_start, full = (walkthrough.read(ROOT) for walkthrough in WALKTHROUGHS)
    assert any("fault-crash" in step.command for step in quick_start)
    assert quick_start[-1].command.startswith("make trace ID="), "the README's quick start must end at the trace in the terminal"
    assert len(full) >= 10
    assert {s.command for s in quick_start + full} & RUN_BY_CI == RUN_BY_CI

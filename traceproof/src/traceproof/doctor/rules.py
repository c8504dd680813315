"""The rules that tell a broken context from a trace that rightly begins, each from evidence in the window.

A broken context leaves two traces that each look whole. What joins them back
is that they meet in time and place, and each rule asks for both:

- ``lost_parent``: a span names a parent its trace does not hold. Code cannot
  do that (a parent id is that of a span that was started); a pipeline that
  loses spans, or has not delivered them yet, can.
- ``not_propagated``: a CLIENT span with no child and, begun inside its time, a
  root SERVER span in another trace with the same method and path, from the
  caller's address (it may end after the CLIENT span: a caller that gave up).
  When connected calls show where the caller calls from, a root from anywhere
  else is not its; when they show nothing, the match rests on time, method and
  path, and the evidence says the caller was not checked.
  For messages: a PRODUCER span with no child and, after it, a root CONSUMER
  span of the same destination (``messaging.destination.name``).
- ``no_client_span``: a root SERVER span from an address where connected calls
  show service A calling from, that came while A was serving a request whose
  trace has no CLIENT span for it.
- ``context_lost``: a root span that is neither SERVER nor CONSUMER, that
  began while its own service was serving a request in another trace.

What makes a root a real entry point instead:

- A root SERVER span from an address no connected call names (a person, a load
  balancer, a health probe, another system), or with no caller address at all.
- A root SERVER span from A's address while A was serving no request: something
  else on A's host (a script, a cron job). Its route is then known to be
  called from that address from outside A's requests, and roots of that route
  from there that did come during a request are doubts, not breaks, unless
  the window tells them apart (one host for everything, the laptop case):
  their user agent never calls while A is idle; or so many of them come
  while A is serving that calls from outside, landing at random, would do so
  with a chance under :data:`BY_CHANCE` (A's requests take a share of the
  time, and a caller without a CLIENT span calls only during them).
- A root of another kind whose name (in its service) also begins a trace while
  the service serves no request: a batch job, a schedule, start-up work.
- A root with links: a trace begun on purpose, pointing at where it came from.
- Not a root, but where a trace rightly begins here: a SERVER span whose
  parent is missing, from an address no connected call names (a caller that
  sends ``traceparent`` and exports elsewhere, or nowhere).
- A root CONSUMER span that no childless PRODUCER span matches.

Spans that arrive late but with their parent (a background task that outlives
the reply) are connected, and no rule looks at them.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from traceproof.doctor.addresses import AddressBook
from traceproof.doctor.calls import Request, caller_address, destination, endpoint, request, route, user_agent
from traceproof.doctor.findings import Break, BreakKind, Doubt, EntryPoint, Side
from traceproof.doctor.index import CALL_KINDS, ENTRY_KINDS, SpanKey, TraceIndex, key
from traceproof.spans import Span
from traceproof.text import plural

#: Why a root from an address no connected call shows is an entry point (the address itself is kept apart).
OUTSIDE = "from an address no connected call names"
#: How unlikely calls from outside must be to land inside the caller's requests as often as a route's roots did,
#: before those roots are named as the caller's breaks rather than doubts: one window in a million.
BY_CHANCE = 1e-6


@dataclass(frozen=True)
class Facts:
    """What the whole window shows: the index, the address book, and who does carry context to whom."""

    index: TraceIndex
    book: AddressBook
    #: (caller, callee) pairs seen connected.
    edges: frozenset[tuple[str, str]]
    #: Services whose calls were seen continued in another service.
    senders: frozenset[str]
    #: Services seen continuing a call from another service.
    readers: frozenset[str]
    #: How far apart two hosts' clocks may be, in ns.
    skew_ns: int = 0

    @classmethod
    def of(cls, index: TraceIndex, skew_ns: int = 0) -> Facts:
        calls = list(index.remote_calls())
        return cls(
            index=index,
            book=AddressBook.learn(calls),
            edges=frozenset((call.service, callee.service) for call, callee in calls),
            senders=frozenset(call.service for call, _ in calls),
            readers=frozenset(callee.service for _, callee in calls),
            skew_ns=skew_ns,
        )

    def side(self, caller: str, callee: str) -> Side:
        """Which end of a call that lost its context the rest of the window points at."""
        if (caller, callee) in self.edges:
            return Side.SOME_CALLS
        sends, reads = caller in self.senders, callee in self.readers
        if sends and reads:
            return Side.BETWEEN
        if sends:
            return Side.CALLEE
        if reads:
            return Side.CALLER
        return Side.UNKNOWN


class _ByStart:
    """Spans sorted by start, to list those that began within a stretch of time."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.starts: list[int] = []

    def add(self, span: Span) -> None:
        """Spans must come in order of start (the index's roots do)."""
        self.spans.append(span)
        self.starts.append(span.start_ns)

    def starting(self, from_ns: int, to_ns: int | None = None) -> Iterator[Span]:
        for i in range(bisect_left(self.starts, from_ns), len(self.spans)):
            if to_ns is not None and self.starts[i] > to_ns:
                return
            yield self.spans[i]


def _names(services: Sequence[str] | set[str]) -> str:
    return " or ".join(sorted(services))


# -- lost_parent ----------------------------------------------------------------


def lost_parents(facts: Facts) -> tuple[list[Break], list[EntryPoint]]:
    """One per trace and service whose spans name a parent the trace does not hold; and the requests that came with one.

    A SERVER span whose parent is missing, from an address no connected call
    names, continues a trace begun outside (a person's ``traceparent``, an
    upstream system that does not export here): an entry point. From a known
    service's address, or with no address to go by, the parent was lost.
    """
    groups: dict[tuple[str, str], list[Span]] = {}
    entries: list[EntryPoint] = []
    for span in facts.index.orphans:
        if (why := _continued_from_outside(facts, span)) is not None:
            entries.append(EntryPoint(span.service, why, span.trace_id, caller_address(span)))
            continue
        groups.setdefault((span.trace_id, span.service), []).append(span)
    found = []
    for (trace_id, service), spans in groups.items():
        first = min(spans, key=lambda s: s.start_ns)
        parents = {s.parent_id for s in spans}
        evidence = (
            f"{plural(len(spans), 'span')} of {service} name {plural(len(parents), 'parent')} that their trace does not hold"
        )
        found.append(Break(BreakKind.LOST_PARENT, service, None, None, trace_id, first.span_id, None, evidence))
    return sorted(found, key=lambda o: o.trace_id), entries


def _continued_from_outside(facts: Facts, span: Span) -> str | None:
    """Why a span without its parent rightly begins its service's part of a trace, or None when it does not."""
    if span.kind != "server" or not facts.book.callers:
        return None  # only a request says where it came from; with no connected call, nothing is known
    address = caller_address(span)
    if address is None or facts.book.services_at(address):
        return None
    return f"{OUTSIDE}, carrying the context of a trace begun there"


# -- not_propagated ---------------------------------------------------------------


def not_propagated(facts: Facts) -> tuple[list[Break], set[SpanKey]]:
    """Calls with no child, each joined to the root that continued it in a trace of its own; and those roots."""
    index = facts.index
    servers: dict[Request, _ByStart] = {}
    consumers: dict[str, _ByStart] = {}
    for root in index.roots:
        if root.links:
            continue
        if root.kind == "server" and (asked := request(root)) is not None:
            servers.setdefault(asked, _ByStart()).add(root)
        elif root.kind == "consumer" and (queue := destination(root)) is not None:
            consumers.setdefault(queue, _ByStart()).add(root)
    calls = sorted(
        (s for s in index.spans() if s.kind in CALL_KINDS and not index.children(s) and not index.linked_to(s)),
        key=lambda s: s.start_ns,
    )
    taken: set[SpanKey] = set()
    found = []
    for call in calls:
        match = (
            _request_match(facts, call, servers, taken)
            if call.kind == "client"
            else _message_match(facts, call, consumers, taken)
        )
        if match is None:
            continue
        root, evidence = match
        taken.add(key(root))
        side = facts.side(call.service, root.service)
        service, peer = (root.service, call.service) if side is Side.CALLEE else (call.service, root.service)
        found.append(
            Break(
                BreakKind.NOT_PROPAGATED,
                service,
                peer,
                (call.service, root.service),
                root.trace_id,
                root.span_id,
                call.trace_id,
                evidence,
                side,
                message=call.kind == "producer",
            )
        )
    return found, taken


def _request_match(facts: Facts, call: Span, servers: dict[Request, _ByStart], taken: set[SpanKey]) -> tuple[Span, str] | None:
    """The root SERVER span that served this CLIENT span's request in a trace of its own, if one did."""
    asked = request(call)
    candidates = servers.get(asked) if asked is not None else None
    if asked is None or candidates is None:
        return None
    skew = facts.skew_ns
    known = facts.book.addresses_of(call.service)
    called = endpoint(call)
    answering = facts.book.answering(called) if called is not None else set()
    best: tuple[tuple[bool, bool, int], Span, str | None] | None = None
    for root in candidates.starting(call.start_ns - skew, call.end_ns + skew):
        if key(root) in taken or root.trace_id == call.trace_id:
            continue
        if answering and root.service not in answering:
            continue  # the client called an address where another service answers
        address = caller_address(root)
        confirmed = address is not None and address in known
        if known and address is not None and not confirmed:
            continue  # from an address that is not the caller's
        rank = (not confirmed, root.end_ns > call.end_ns + skew, root.start_ns - call.start_ns)
        if best is None or rank < best[0]:
            best = (rank, root, address)
    if best is None:
        return None
    _, root, address = best
    evidence = f"{call.service}'s CLIENT span {asked} has no child; {root.service} began a new trace for {asked} during it"
    if address is not None and address in known:
        evidence += f", from {address}, where {call.service} calls from"
    elif address is None:
        evidence += f" ({root.service}'s span records no caller address, so the caller was not checked)"
    else:
        evidence += f", from {address} (no connected call shows where {call.service} calls from, so the caller was not checked)"
    return root, evidence


def _message_match(facts: Facts, call: Span, consumers: dict[str, _ByStart], taken: set[SpanKey]) -> tuple[Span, str] | None:
    """The first root CONSUMER span of this PRODUCER span's destination after it, not yet matched."""
    queue = destination(call)
    candidates = consumers.get(queue) if queue is not None else None
    if candidates is None:
        return None
    for root in candidates.starting(call.start_ns - facts.skew_ns):
        if key(root) not in taken and root.trace_id != call.trace_id:
            evidence = (
                f"{call.service}'s PRODUCER span to {queue} has no child; "
                f"{root.service} consumed from {queue} after it, in a new trace"
            )
            return root, evidence
    return None


# -- no_client_span, and the roots of requests ---------------------------------------


def roots_of_requests(facts: Facts, taken: set[SpanKey]) -> tuple[list[Break], list[EntryPoint], list[Doubt]]:
    """Root SERVER and CONSUMER spans no call matched: a call made outside the instrumentation, an entry point, or a doubt."""
    index, book = facts.index, facts.book
    found: list[Break] = []
    entries: list[EntryPoint] = []
    doubts: list[Doubt] = []
    #: (service, route, address) called while the callers there served nothing: the user agents that did.
    called_from_outside: dict[tuple[str, str | None, str], set[str | None]] = {}
    suspects: list[tuple[Span, str, set[str], dict[str, list[Span]]]] = []
    for root in index.roots:
        if root.kind not in ENTRY_KINDS or key(root) in taken:
            continue
        if root.links:
            entries.append(EntryPoint(root.service, "begun on purpose, with a link to where it came from", root.trace_id))
            continue
        if root.kind == "consumer":
            entries.append(
                EntryPoint(
                    root.service, "a message with no context, and no PRODUCER span without a child to match", root.trace_id
                )
            )
            continue
        address = caller_address(root)
        if address is None:
            entries.append(EntryPoint(root.service, "no caller address recorded", root.trace_id))
            continue
        callers = book.services_at(address) - {root.service}
        if not callers:
            entries.append(EntryPoint(root.service, OUTSIDE, root.trace_id, address))
            continue
        serving = {
            caller: requests
            for caller in sorted(callers)
            if (requests := index.requests(caller).in_progress(root.start_ns, root.end_ns, root.trace_id, facts.skew_ns))
        }
        if not serving:
            called_from_outside.setdefault((root.service, route(root), address), set()).add(user_agent(root))
            why = f"from {address}, where {_names(callers)} calls from, while {_names(callers)} served no request"
            entries.append(EntryPoint(root.service, why, root.trace_id))
            continue
        suspects.append((root, address, callers, serving))

    beyond_chance = _beyond_chance(facts, suspects, called_from_outside)
    for root, address, callers, serving in suspects:
        served = route(root) or "requests"
        place = (root.service, route(root), address)
        agents = called_from_outside.get(place)
        told_apart = ""
        if agents is not None:
            agent = user_agent(root)
            if agent is not None and agent not in agents:
                told_apart = f"; {agent} never called it while {_names(callers)} served nothing"
            elif len(serving) == 1 and (chance := beyond_chance.get((*place, next(iter(serving))))) is not None:
                told_apart = f"; {chance}"
            else:
                why = (
                    f"{served} from {address} came while {_names(set(serving))} was serving, but also while "
                    f"{_names(callers)} served nothing: something else at {address} calls it too"
                )
                doubts.append(Doubt(root.service, why, root.trace_id))
                continue
        if len(serving) > 1:
            why = f"{served} from {address}, where {' and '.join(serving)} call from, while each was serving a request"
            doubts.append(Doubt(root.service, why, root.trace_id))
            continue
        ((caller, requests),) = serving.items()
        if _has_client_span_for(facts, root, caller, requests):
            why = f"{served} from {address} came while {caller} was serving a request that has a CLIENT span for it"
            doubts.append(Doubt(root.service, why, root.trace_id))
            continue
        evidence = (
            f"{root.service}'s root SERVER span {request(root)} came from {address}, where {caller} calls from "
            f"({plural(book.calls_from(address, caller), 'connected call')}), while {caller} was serving a request "
            f"with no CLIENT span for it{told_apart}"
        )
        found.append(
            Break(
                BreakKind.NO_CLIENT_SPAN,
                caller,
                root.service,
                (caller, root.service),
                root.trace_id,
                root.span_id,
                requests[0].trace_id,
                evidence,
            )
        )
    return found, entries, doubts


def _busy_share(facts: Facts, caller: str, first: int, last: int) -> float:
    """The share of ``[first, last]`` (the window's spans' extent) during which ``caller`` was serving a request."""
    busy, reach = 0, first
    for served in sorted(facts.index.requests(caller).spans(), key=lambda s: s.start_ns):
        start, end = max(served.start_ns, reach), min(served.end_ns, last)
        if end > start:
            busy += end - start
            reach = end
    return busy / (last - first) if last > first else 1.0


def _tail(n: int, k: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the chance that k or more of n calls land in a share p of the time."""
    if k <= 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_terms = (
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p)
        for i in range(k, n + 1)
    )
    return min(1.0, sum(math.exp(t) for t in log_terms))


def _beyond_chance(
    facts: Facts,
    suspects: list[tuple[Span, str, set[str], dict[str, list[Span]]]],
    called_from_outside: dict[tuple[str, str | None, str], set[str | None]],
) -> dict[tuple[str, str | None, str, str], str]:
    """Evidence, by (service, route, address, caller), where a route's roots came in the caller's requests too often for chance.

    Calls from outside the caller come whenever they come: if the route had
    ``n`` roots from the address and the caller was serving for a share ``p``
    of the window, about ``n * p`` of them land inside its requests. When far
    more do, so that chance would do it less than :data:`BY_CHANCE` of the
    time, those are the caller's own calls, made without a CLIENT span. Only
    roots whose user agent also called from outside are counted, as only they
    could be mistaken.
    """
    inside: dict[tuple[str, str | None, str, str], int] = {}
    for root, address, _, serving in suspects:
        place = (root.service, route(root), address)
        agents = called_from_outside.get(place)
        if agents is None or len(serving) != 1 or (user_agent(root) is not None and user_agent(root) not in agents):
            continue
        group = (*place, next(iter(serving)))
        inside[group] = inside.get(group, 0) + 1
    outside: dict[tuple[str, str | None, str], int] = {}
    for root in facts.index.roots:
        place = (root.service, route(root), caller_address(root) or "")
        agents = called_from_outside.get(place)
        if root.kind == "server" and agents is not None and (user_agent(root) is None or user_agent(root) in agents):
            outside[place] = outside.get(place, 0) + 1
    found: dict[tuple[str, str | None, str, str], str] = {}
    if not inside:
        return found
    spans = [s for trace in facts.index.traces.values() for s in trace]
    first, last = min(s.start_ns for s in spans), max(s.end_ns for s in spans)
    for group, k in inside.items():
        service, served, address, caller = group
        n = outside[(service, served, address)]  # every such root of the route from there, inside a request or not
        share = _busy_share(facts, caller, first, last)
        chance = _tail(n, k, share)
        if chance < BY_CHANCE:
            found[group] = (
                f"{k} of the {n} roots of {served or 'requests'} from {address} came while {caller} was serving, "
                f"which it did {share:.0%} of the time: calls from outside would do that with a chance of {chance:.0e}"
            )
    return found


def _has_client_span_for(facts: Facts, root: Span, caller: str, requests: list[Span]) -> bool:
    """Whether one of the caller's requests in progress holds a CLIENT span that may have made this request.

    Same method and path, in progress when the root began, to an address where
    no other service is seen answering.
    """
    asked, skew = request(root), facts.skew_ns

    def may_have_made_it(span: Span) -> bool:
        called = endpoint(span)
        answering = facts.book.answering(called) if called is not None else set()
        return (
            span.kind == "client"
            and span.service == caller
            and request(span) == asked
            and span.start_ns <= root.start_ns + skew
            and span.end_ns >= root.start_ns - skew
            and (not answering or root.service in answering)
        )

    return any(may_have_made_it(span) for trace_id in {r.trace_id for r in requests} for span in facts.index.traces[trace_id])


# -- context_lost, and the roots of other work ------------------------------------------


def roots_of_work(facts: Facts) -> tuple[list[Break], list[EntryPoint]]:
    """Root spans that are neither SERVER nor CONSUMER: work that lost its request's context, or a job of its own."""
    index = facts.index
    found: list[Break] = []
    entries: list[EntryPoint] = []
    idle_names: set[tuple[str, str, str]] = set()
    suspects: list[tuple[Span, list[Span]]] = []
    for root in index.roots:
        if root.kind in ENTRY_KINDS:
            continue
        if root.links:
            entries.append(EntryPoint(root.service, "begun on purpose, with a link to where it came from", root.trace_id))
            continue
        serving = index.requests(root.service).in_progress(root.start_ns, root.start_ns, root.trace_id, facts.skew_ns)
        if not serving:
            idle_names.add((root.service, root.kind, root.name))
            why = f"'{root.name}' began while {root.service} served no request: a job or start-up work"
            entries.append(EntryPoint(root.service, why, root.trace_id))
            continue
        suspects.append((root, serving))

    for root, serving in suspects:
        if (root.service, root.kind, root.name) in idle_names:
            why = f"'{root.name}' also begins while {root.service} serves no request: a job, not lost context"
            entries.append(EntryPoint(root.service, why, root.trace_id))
            continue
        callee = None
        if root.kind in CALL_KINDS:
            callee = next((c.service for c in index.children(root) if c.service != root.service), None)
        in_progress = f" ({len(serving)} were in progress)" if len(serving) > 1 else ""
        evidence = (
            f"root {root.kind} span '{root.name}' of {root.service} began while {root.service} was serving "
            f"a request in another trace{in_progress}, and never begins a trace while it serves none"
        )
        found.append(
            Break(
                BreakKind.CONTEXT_LOST,
                root.service,
                callee,
                (root.service, callee) if callee else None,
                root.trace_id,
                root.span_id,
                serving[0].trace_id,
                evidence,
            )
        )
    return found, entries

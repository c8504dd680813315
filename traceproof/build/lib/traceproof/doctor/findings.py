"""What the doctor can say about a span: a break of one of four kinds, an entry point, or a doubt."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """The four ways a trace breaks, by the words the report and its JSON use."""

    #: A span's parent never reached Jaeger: the pipeline lost it, the code did not.
    LOST_PARENT = "lost_parent"
    #: A call with a CLIENT (PRODUCER) span reached the other service without its context.
    NOT_PROPAGATED = "not_propagated"
    #: A call made with a client the instrumentation does not know: no CLIENT span, no context.
    NO_CLIENT_SPAN = "no_client_span"
    #: Work inside a request started without the request's context.
    CONTEXT_LOST = "context_lost"


class Side(StrEnum):
    """For a call that lost its context, which end the evidence points at."""

    NONE = ""
    #: The same two services do connect on other calls: a code path in the caller.
    SOME_CALLS = "some_calls"
    #: The callee reads context from others; the caller never sends any.
    CALLER = "caller"
    #: The caller's context joins other services; the callee never reads any.
    CALLEE = "callee"
    #: Both ends work with others: something between them drops the context.
    BETWEEN = "between"
    #: Neither end is seen working with anyone else.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Occurrence:
    """One break: the span that shows it, the piece of trace it is in, and the trace it broke from."""

    kind: Kind
    #: The service where the fix belongs.
    service: str
    #: The other service of the call, where there is one.
    peer: str | None
    #: (caller, callee) of the call that broke, where it was a call between services.
    edge: tuple[str, str] | None
    #: The piece that broke off (or, for a lost parent, the trace missing it).
    trace_id: str
    span_id: str
    #: The trace it belongs to: the request that was being served (or that made the call).
    split_from: str | None
    #: What the doctor saw, in one sentence.
    evidence: str
    side: Side = Side.NONE
    #: Whether the call was a message (PRODUCER to CONSUMER) rather than a request.
    message: bool = False

    @property
    def request_trace(self) -> str:
        """The trace of the request this break belongs to: the one that was split, or the one it happened in."""
        return self.split_from or self.trace_id


@dataclass(frozen=True)
class EntryPoint:
    """A root span that is where a trace rightly begins, and why the doctor takes it so."""

    service: str
    why: str
    trace_id: str
    #: The caller's address, where the reason is that nobody is known by it: outside callers are many.
    address: str | None = None


@dataclass(frozen=True)
class Doubt:
    """A root span that may be a break, where the evidence cannot say; ``why`` names what is missing."""

    service: str
    why: str
    trace_id: str

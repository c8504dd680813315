"""What the doctor can say about a span: a break (of one of four :class:`BreakKind`), an entry point, or a doubt."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BreakKind(StrEnum):
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
class Break:
    """One break: the span that shows it, the piece of trace it is in, and the trace it broke from."""

    kind: BreakKind
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

    @property
    def advice(self) -> tuple[str, str]:
        """(likely cause, fix), one sentence each, in the words of the services involved."""
        from traceproof.doctor.advice import cause_and_fix  # advice's sentences are looked up by this module's kinds

        caller, callee = self.edge or (self.service, None)
        return cause_and_fix(self.kind, self.side, self.message, caller, callee)


@dataclass(frozen=True)
class RootSpan:
    """A root span the doctor does not take as a break: its service, why, and its trace."""

    service: str
    why: str
    trace_id: str

    @property
    def reason(self) -> tuple[str, str]:
        """(service, why): what the report groups such roots by."""
        return self.service, self.why


@dataclass(frozen=True)
class EntryPoint(RootSpan):
    """A root span that is where a trace rightly begins, and why the doctor takes it so."""

    #: The caller's address, where the reason is that nobody is known by it: outside callers are many.
    address: str | None = None


@dataclass(frozen=True)
class Doubt(RootSpan):
    """A root span that may be a break, where the evidence cannot say; ``why`` names what is missing."""

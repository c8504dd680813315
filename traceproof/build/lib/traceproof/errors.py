"""What can go wrong while reading traces, whatever the source: each error is one sentence a person can act on.

The CLI turns any :class:`SourceError` into that sentence and exit status 2;
the plugin into a failed test that says it. None of them carries a request
header, so a token given with ``--jaeger-header`` is never printed.
"""


class SourceError(Exception):
    """The source cannot answer: unreachable, refused, not what it was said to be, or too much to hold."""


class TraceNotFound(SourceError):
    """The source holds no span of that trace (yet)."""


class WindowTooLarge(SourceError):
    """The window holds more spans than the memory budget allows (``max_spans``)."""

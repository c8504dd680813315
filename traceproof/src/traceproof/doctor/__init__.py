"""The doctor: finds where traces broke across services, names the edge and the cause, and says the fix.

It reads a window of traces (:mod:`traceproof.window`), indexes it
(:mod:`~traceproof.doctor.index`), learns which address is whose from the calls
that did connect (:mod:`~traceproof.doctor.addresses`), applies the rules
(:mod:`~traceproof.doctor.rules`, where the evidence for each kind is written
down) and reports (:mod:`~traceproof.doctor.report`); :func:`diagnose` is the
judgement alone, on any spans.
"""

from traceproof.doctor.diagnosis import Diagnosis, diagnose
from traceproof.doctor.findings import BreakKind

__all__ = ["Diagnosis", "BreakKind", "diagnose"]

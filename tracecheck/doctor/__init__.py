"""The doctor: finds where traces broke across services, names the edge and the cause, and says the fix.

It reads a window of traces (:mod:`tracecheck.window`), indexes it
(:mod:`~tracecheck.doctor.index`), learns which address is whose from the calls
that did connect (:mod:`~tracecheck.doctor.addresses`), applies the rules
(:mod:`~tracecheck.doctor.rules`, where the evidence for each kind is written
down) and reports (:mod:`~tracecheck.doctor.report`); :func:`diagnose` is the
judgement alone, on any spans.
"""

from tracecheck.doctor.diagnosis import Diagnosis, diagnose
from tracecheck.doctor.findings import Kind

__all__ = ["Diagnosis", "Kind", "diagnose"]
